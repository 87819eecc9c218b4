-- The gateway's trace log: one row per call a client made through the gateway (and one per
-- shadow call beside it). Lists read traces only; the bodies, which can be large, live in
-- trace_bodies and are read one record at a time.
--
-- Times are UTC text in the fixed-width format of 0001, so text order is time order.

-- The table is clustered on the list's order (WITHOUT ROWID, keyed by project, start and id):
-- a page of the list and the traffic sums over a period read consecutive rows, never one
-- lookup per record.
CREATE TABLE traces (
    id         TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    route      TEXT NOT NULL,
    provider   TEXT NOT NULL,
    model      TEXT NOT NULL,
    attempts   TEXT NOT NULL, -- JSON: []store.Attempt
    fallbacks  INTEGER NOT NULL,
    stream     INTEGER NOT NULL, -- 0 or 1
    cached     INTEGER NOT NULL,
    canary     INTEGER NOT NULL,
    shadow_of  TEXT, -- the live call's id; NULL for a live call
    status     INTEGER NOT NULL,
    error_code TEXT NOT NULL,
    blocked    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    ttft_ms    REAL,
    tokens_in  INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cost_usd   REAL NOT NULL,
    PRIMARY KEY (project_id, started_at, id)
) STRICT, WITHOUT ROWID;

-- The list's filters by route and key (the list itself, newest first with a keyset on
-- started_at and id, and the retention job, which deletes by project and age, read the
-- table's own order). Each index costs every insert: add one only for a query that needs it.
CREATE INDEX traces_by_route ON traces (project_id, route, started_at, id);
CREATE INDEX traces_by_key ON traces (project_id, key, started_at, id);
-- A live call's shadows.
CREATE INDEX traces_shadows ON traces (shadow_of) WHERE shadow_of IS NOT NULL;

CREATE TABLE trace_bodies (
    trace_id TEXT PRIMARY KEY REFERENCES traces (id) ON DELETE CASCADE,
    request  TEXT NOT NULL,
    response TEXT NOT NULL
) STRICT;
