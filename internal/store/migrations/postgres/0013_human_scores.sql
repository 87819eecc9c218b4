-- Human scores: the consensus human verdict of each run result a human eval panel (a queue
-- over the run's results with a "verdict" field) labelled, stored beside the run's
-- automatic scores. One row per panel queue item that has a consensus; written whenever an
-- annotation or adjudication changes that item's consensus (internal/queue), deleted when
-- it no longer has one. position is the result's idx in its run.

CREATE TABLE human_scores (
    queue_id    text NOT NULL,
    item_id     bigint NOT NULL,
    run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position    bigint NOT NULL,
    verdict     text NOT NULL,
    passed      boolean NOT NULL,
    adjudicated boolean NOT NULL,
    labels      integer NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (queue_id, item_id),
    FOREIGN KEY (queue_id, item_id) REFERENCES queue_items (queue_id, id) ON DELETE CASCADE
);

CREATE INDEX human_scores_by_run ON human_scores (run_id, position);
