-- The gateway's trace log: one row per call a client made through the gateway (and one per
-- shadow call beside it). Lists read traces only; the bodies, which can be large, live in
-- trace_bodies and are read one record at a time.

CREATE TABLE traces (
    id         text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key        text NOT NULL,
    endpoint   text NOT NULL,
    route      text NOT NULL,
    provider   text NOT NULL,
    model      text NOT NULL,
    attempts   text NOT NULL, -- JSON: []store.Attempt
    fallbacks  integer NOT NULL,
    stream     boolean NOT NULL,
    cached     boolean NOT NULL,
    canary     boolean NOT NULL,
    shadow_of  text, -- the live call's id; NULL for a live call
    status     integer NOT NULL,
    error_code text NOT NULL,
    blocked    text NOT NULL,
    started_at timestamptz NOT NULL,
    latency_ms double precision NOT NULL,
    ttft_ms    double precision,
    tokens_in  bigint NOT NULL,
    tokens_out bigint NOT NULL,
    cost_usd   double precision NOT NULL
);

-- The list (newest first, keyset on started_at, id) and its filters by route and key; the
-- retention job deletes by project and age through traces_list. Each index costs every
-- insert: add one only for a query that needs it.
CREATE INDEX traces_list ON traces (project_id, started_at DESC, id DESC);
CREATE INDEX traces_by_route ON traces (project_id, route, started_at DESC, id DESC);
CREATE INDEX traces_by_key ON traces (project_id, key, started_at DESC, id DESC);
-- A live call's shadows.
CREATE INDEX traces_shadows ON traces (shadow_of) WHERE shadow_of IS NOT NULL;

-- Large values: PostgreSQL compresses and moves them out of line (TOAST) on its own.
CREATE TABLE trace_bodies (
    trace_id text PRIMARY KEY REFERENCES traces (id) ON DELETE CASCADE,
    request  text NOT NULL,
    response text NOT NULL
);
