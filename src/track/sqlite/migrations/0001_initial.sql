-- The first schema of the labbook store. Times are seconds since the Unix epoch; JSON columns hold
-- JSON text. A NaN bound to a REAL column reads back as NULL (SQLite's rule), so the nullable
-- value columns below treat NULL as NaN or as "none".

CREATE TABLE entities (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE projects (
  id INTEGER PRIMARY KEY,
  entity_id INTEGER NOT NULL REFERENCES entities (id),
  name TEXT NOT NULL,
  UNIQUE (entity_id, name)
);

CREATE TABLE runs (
  id TEXT NOT NULL PRIMARY KEY,  -- 8 characters of [0-9a-z]
  project_id INTEGER NOT NULL REFERENCES projects (id),
  name TEXT NOT NULL,
  run_group TEXT NOT NULL,
  tags TEXT NOT NULL,  -- JSON array of strings
  notes TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'failed', 'crashed')),
  config TEXT NOT NULL,   -- JSON object
  summary TEXT NOT NULL,  -- JSON object
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  git_commit TEXT NOT NULL,
  start_time REAL NOT NULL,
  heartbeat_time REAL NOT NULL,
  end_time REAL NOT NULL,
  exit_code INTEGER  -- NULL: none yet
);
CREATE INDEX runs_by_project_start ON runs (project_id, start_time);

-- One row per (run, key), with what HistoryKeys reports, kept up to date by every write.
CREATE TABLE history_keys (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_step INTEGER NOT NULL,
  last_step INTEGER NOT NULL,
  last_value REAL,  -- NULL: NaN
  finite_min REAL,  -- NULL: no finite value
  finite_max REAL,
  UNIQUE (run_id, key)
);

-- A key's points in chunks of at most 512 points with disjoint step ranges. The statistics let a
-- downsampling read stand for a whole chunk by its extremes without reading its points: min_* is
-- the earliest point with the smallest non-NaN value, max_* the earliest with the largest (all
-- NULL when every value is NaN). Clustered by (key, first step) so a key's chunks are read in
-- order from a few pages.
CREATE TABLE history_chunks (
  key_id INTEGER NOT NULL REFERENCES history_keys (id) ON DELETE CASCADE,
  first_step INTEGER NOT NULL,
  last_step INTEGER NOT NULL,
  count INTEGER NOT NULL,
  min_value REAL,
  min_step INTEGER,
  min_wall_time REAL,
  max_value REAL,
  max_step INTEGER,
  max_wall_time REAL,
  finite_min REAL,
  finite_max REAL,
  points_id INTEGER NOT NULL,  -- history_points.id
  PRIMARY KEY (key_id, first_step)
) WITHOUT ROWID;

-- The points of one chunk, apart from its statistics so that scanning statistics never pages
-- through points. `data`: little-endian, `count` steps (int64), then `count` values (float64),
-- then `count` wall times (float64), in step order; the steps are left out when they are evenly
-- spaced (first_step, last_step and count give them back).
CREATE TABLE history_points (
  id INTEGER PRIMARY KEY,
  data BLOB NOT NULL
);

CREATE TRIGGER history_chunks_free_points AFTER DELETE ON history_chunks
BEGIN
  DELETE FROM history_points WHERE id = OLD.points_id;
END;

-- Artifacts belong to a project; an artifact name has one type.
CREATE TABLE artifacts (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects (id),
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  UNIQUE (project_id, name)
);

CREATE TABLE artifact_versions (
  id INTEGER PRIMARY KEY,
  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
  version INTEGER NOT NULL,
  digest TEXT NOT NULL,
  metadata TEXT NOT NULL,  -- JSON object
  producer_run TEXT REFERENCES runs (id) ON DELETE SET NULL,
  created_time REAL NOT NULL,
  UNIQUE (artifact_id, version)
);
CREATE INDEX artifact_versions_by_producer ON artifact_versions (producer_run);

-- A version's files; their contents are the blobs "<db>.blobs/<sha256[0:2]>/<sha256>".
CREATE TABLE artifact_files (
  version_id INTEGER NOT NULL REFERENCES artifact_versions (id),
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (version_id, path)
) WITHOUT ROWID;
CREATE INDEX artifact_files_by_sha256 ON artifact_files (sha256);

-- The user's aliases ("latest" is not stored: it always names the newest version).
CREATE TABLE artifact_aliases (
  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
  alias TEXT NOT NULL,
  version_id INTEGER NOT NULL REFERENCES artifact_versions (id),
  PRIMARY KEY (artifact_id, alias)
) WITHOUT ROWID;
CREATE INDEX artifact_aliases_by_version ON artifact_aliases (version_id);

-- Lineage: the versions a run used (the versions it produced name it in producer_run).
CREATE TABLE artifact_usage (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  version_id INTEGER NOT NULL REFERENCES artifact_versions (id),
  PRIMARY KEY (run_id, version_id)
) WITHOUT ROWID;
CREATE INDEX artifact_usage_by_version ON artifact_usage (version_id);
