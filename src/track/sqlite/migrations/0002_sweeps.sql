-- Hyperparameter sweeps (src/sweep): the sweeps, their trials, and the metric values trials
-- reported at hyperband's brackets. A trial's run is a row of `runs` once the trial has started;
-- trials refer to it by id only, so deleting a run leaves the sweep's record whole.

CREATE TABLE sweeps (
  id TEXT NOT NULL PRIMARY KEY,  -- 8 characters of [0-9a-z]
  entity TEXT NOT NULL,
  project TEXT NOT NULL,
  spec TEXT NOT NULL,         -- JSON: the sweep file as parsed (SweepSpec::ToJson)
  base_name TEXT NOT NULL,    -- the base training config's file name
  base_config TEXT NOT NULL,  -- that file's text, so agents on other hosts run the same base
  state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'stopped', 'finished')),
  created_time REAL NOT NULL
);
CREATE INDEX sweeps_by_project ON sweeps (entity, project, created_time);

CREATE TABLE sweep_trials (
  sweep_id TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  number INTEGER NOT NULL,  -- 1, 2, ... in the order first claimed
  params TEXT NOT NULL,     -- JSON object: parameter path to value
  grid_index INTEGER,       -- grid sweeps: the point
  state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'failed', 'stopped')),
  agent TEXT NOT NULL,      -- the agent holding (or that last held) the trial
  attempts INTEGER NOT NULL,
  lease_until REAL NOT NULL,  -- a running trial whose lease has passed goes back to the queue
  run_id TEXT NOT NULL,       -- '' until the trial's run starts
  claimed_time REAL NOT NULL,
  ended_time REAL,
  metric REAL,               -- the metric's final value; NULL when none was logged
  reason TEXT NOT NULL,      -- why it failed or was stopped
  PRIMARY KEY (sweep_id, number)
);
-- The store's own guard that no grid point is ever claimed twice.
CREATE UNIQUE INDEX sweep_trials_by_grid_point ON sweep_trials (sweep_id, grid_index)
  WHERE grid_index IS NOT NULL;

CREATE TABLE sweep_progress (
  sweep_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  iteration INTEGER NOT NULL,
  value REAL,  -- NULL: NaN
  reported_time REAL NOT NULL,
  PRIMARY KEY (sweep_id, number, iteration),
  FOREIGN KEY (sweep_id, number) REFERENCES sweep_trials (sweep_id, number) ON DELETE CASCADE
);
