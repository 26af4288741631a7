-- The first PostgreSQL schema of the labbook store, the SQLite schema's tables with PostgreSQL's
-- types. Times are seconds since the Unix epoch; JSON columns hold JSON text (as in SQLite, so
-- both stores write and read the same bytes). double precision keeps NaN and infinities, so no
-- column needs NULL to stand for NaN. Names, keys, paths and ids sort by byte (COLLATE "C"), as
-- in SQLite, whatever collation the database was created with.

CREATE TABLE entities (
  id bigserial PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE
);

CREATE TABLE projects (
  id bigserial PRIMARY KEY,
  entity_id bigint NOT NULL REFERENCES entities (id),
  name text COLLATE "C" NOT NULL,
  UNIQUE (entity_id, name)
);

CREATE TABLE runs (
  id text COLLATE "C" NOT NULL PRIMARY KEY,  -- 8 characters of [0-9a-z]
  created bigserial NOT NULL,  -- creation order: ListRuns' tie-break among equal starts
  project_id bigint NOT NULL REFERENCES projects (id),
  name text NOT NULL,
  run_group text NOT NULL,
  tags text NOT NULL,  -- JSON array of strings
  notes text NOT NULL,
  state text NOT NULL CHECK (state IN ('running', 'finished', 'failed', 'crashed')),
  config text NOT NULL,   -- JSON object
  summary text NOT NULL,  -- JSON object
  host text NOT NULL,
  pid bigint NOT NULL,
  git_commit text NOT NULL,
  start_time double precision NOT NULL,
  heartbeat_time double precision NOT NULL,
  end_time double precision NOT NULL,
  exit_code integer  -- NULL: none yet
);
CREATE INDEX runs_by_project_start ON runs (project_id, start_time);
CREATE INDEX runs_by_start ON runs (start_time DESC, created DESC);

-- One row per (run, key), with what HistoryKeys reports, kept up to date by every write. A
-- writer locks its key's row (SELECT ... FOR UPDATE) before touching the key's chunks, so
-- concurrent writers of one key take turns and lose no point.
CREATE TABLE history_keys (
  id bigserial PRIMARY KEY,
  run_id text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key text COLLATE "C" NOT NULL,
  count bigint NOT NULL,
  first_step bigint NOT NULL,
  last_step bigint NOT NULL,
  last_value double precision NOT NULL,
  finite_min double precision NOT NULL,  -- NaN: no finite value
  finite_max double precision NOT NULL,
  UNIQUE (run_id, key)
);

-- A key's points in chunks of at most 512 points with disjoint step ranges
-- (track/history/history_chunk.hpp). The statistics let a downsampling read stand for a whole
-- chunk by its extremes without reading its points: min_* is the earliest point with the
-- smallest non-NaN value, max_* the earliest with the largest (all NULL when every value is NaN).
-- `data`: little-endian, `count` steps (int64), then `count` values (float64), then `count` wall
-- times (float64), in step order; the steps are left out when evenly spaced. A full chunk's
-- data (8 to 12 KiB) is kept out of line by TOAST, so scanning statistics never reads points;
-- EXTERNAL skips compressing bytes that do not compress.
CREATE TABLE history_chunks (
  key_id bigint NOT NULL REFERENCES history_keys (id) ON DELETE CASCADE,
  first_step bigint NOT NULL,
  last_step bigint NOT NULL,
  count bigint NOT NULL,
  min_value double precision,
  min_step bigint,
  min_wall_time double precision,
  max_value double precision,
  max_step bigint,
  max_wall_time double precision,
  finite_min double precision NOT NULL,
  finite_max double precision NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (key_id, first_step)
);
ALTER TABLE history_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Artifact file contents, once per sha256, inside the database so that every client of the
-- server sees them: `blobs` says what is complete, `blob_chunks` holds the bytes in pieces of
-- 1 MiB (piece 0 first). A blob row and its pieces are committed together.
CREATE TABLE blobs (
  sha256 text COLLATE "C" NOT NULL PRIMARY KEY,  -- 64 lower-case hex digits
  size bigint NOT NULL,
  pieces integer NOT NULL,
  created_time double precision NOT NULL
);

CREATE TABLE blob_chunks (
  sha256 text COLLATE "C" NOT NULL REFERENCES blobs (sha256) ON DELETE CASCADE,
  piece integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (sha256, piece)
);
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Artifacts belong to a project; an artifact name has one type.
CREATE TABLE artifacts (
  id bigserial PRIMARY KEY,
  project_id bigint NOT NULL REFERENCES projects (id),
  name text COLLATE "C" NOT NULL,
  type text NOT NULL,
  UNIQUE (project_id, name)
);

CREATE TABLE artifact_versions (
  id bigserial PRIMARY KEY,
  artifact_id bigint NOT NULL REFERENCES artifacts (id),
  version integer NOT NULL,
  digest text NOT NULL,
  metadata text NOT NULL,  -- JSON object
  producer_run text COLLATE "C" REFERENCES runs (id) ON DELETE SET NULL,
  created_time double precision NOT NULL,
  UNIQUE (artifact_id, version)
);
CREATE INDEX artifact_versions_by_producer ON artifact_versions (producer_run);

CREATE TABLE artifact_files (
  version_id bigint NOT NULL REFERENCES artifact_versions (id),
  path text COLLATE "C" NOT NULL,
  sha256 text COLLATE "C" NOT NULL REFERENCES blobs (sha256),
  size bigint NOT NULL,
  PRIMARY KEY (version_id, path)
);
CREATE INDEX artifact_files_by_sha256 ON artifact_files (sha256);

-- The user's aliases ("latest" is not stored: it always names the newest version).
CREATE TABLE artifact_aliases (
  artifact_id bigint NOT NULL REFERENCES artifacts (id),
  alias text COLLATE "C" NOT NULL,
  version_id bigint NOT NULL REFERENCES artifact_versions (id),
  PRIMARY KEY (artifact_id, alias)
);
CREATE INDEX artifact_aliases_by_version ON artifact_aliases (version_id);

-- Lineage: the versions a run used (the versions it produced name it in producer_run).
CREATE TABLE artifact_usage (
  run_id text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  version_id bigint NOT NULL REFERENCES artifact_versions (id),
  PRIMARY KEY (run_id, version_id)
);
CREATE INDEX artifact_usage_by_version ON artifact_usage (version_id);
