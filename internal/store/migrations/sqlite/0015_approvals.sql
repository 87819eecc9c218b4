-- Tool approvals: a tool call an agent's answer made that its tool policy holds for a
-- person's decision. The call is stored by its canonical arguments (sorted keys, numbers as
-- written) and their SHA-256; an approval names the arguments that may run (the same, or an
-- approver's edit) by their hash, and the agent executes only with that hash.
--
-- Times are UTC text in the fixed-width format of 0001, so text order is time order.
CREATE TABLE tool_approvals (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    tool           TEXT NOT NULL,
    call_id        TEXT NOT NULL,
    arguments      TEXT NOT NULL, -- canonical JSON
    arguments_hash TEXT NOT NULL, -- SHA-256 of arguments, hex
    rule           TEXT NOT NULL, -- the policy rule that asked
    rule_reason    TEXT NOT NULL,
    rule_spec      TEXT NOT NULL DEFAULT '', -- the rule as JSON: an edit is checked against it
    requester      TEXT NOT NULL, -- who asked: the gateway key or API key
    on_behalf_of   TEXT NOT NULL DEFAULT '', -- the end user the agent acted for, if told
    route          TEXT NOT NULL DEFAULT '',
    trace_id       TEXT NOT NULL DEFAULT '',
    scope          TEXT NOT NULL DEFAULT 'once',
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    decision       TEXT NOT NULL DEFAULT '' CHECK (decision IN ('', 'approve', 'edit', 'reject')),
    approver       TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    approved_arguments      TEXT NOT NULL DEFAULT '',
    approved_arguments_hash TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL DEFAULT '' CHECK (outcome IN ('', 'executed', 'failed')),
    outcome_detail TEXT NOT NULL DEFAULT '',
    expires_at     TEXT NOT NULL,
    decided_at     TEXT,
    outcome_at     TEXT,
    created_at     TEXT NOT NULL
) STRICT;

CREATE INDEX tool_approvals_by_project ON tool_approvals (project_id, id);
CREATE INDEX tool_approvals_pending ON tool_approvals (status, expires_at) WHERE status = 'pending';
