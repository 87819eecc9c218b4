-- Tool approvals: a tool call an agent's answer made that its tool policy holds for a
-- person's decision. The call is stored by its canonical arguments (sorted keys, numbers as
-- written) and their SHA-256; an approval names the arguments that may run (the same, or an
-- approver's edit) by their hash, and the agent executes only with that hash.
CREATE TABLE tool_approvals (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id     text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    tool           text NOT NULL,
    call_id        text NOT NULL,
    arguments      text NOT NULL, -- canonical JSON
    arguments_hash text NOT NULL, -- SHA-256 of arguments, hex
    rule           text NOT NULL, -- the policy rule that asked
    rule_reason    text NOT NULL,
    rule_spec      text NOT NULL DEFAULT '', -- the rule as JSON: an edit is checked against it
    requester      text NOT NULL, -- who asked: the gateway key or API key
    on_behalf_of   text NOT NULL DEFAULT '', -- the end user the agent acted for, if told
    route          text NOT NULL DEFAULT '',
    trace_id       text NOT NULL DEFAULT '',
    scope          text NOT NULL DEFAULT 'once',
    status         text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    decision       text NOT NULL DEFAULT '' CHECK (decision IN ('', 'approve', 'edit', 'reject')),
    approver       text NOT NULL DEFAULT '',
    reason         text NOT NULL DEFAULT '',
    approved_arguments      text NOT NULL DEFAULT '',
    approved_arguments_hash text NOT NULL DEFAULT '',
    outcome        text NOT NULL DEFAULT '' CHECK (outcome IN ('', 'executed', 'failed')),
    outcome_detail text NOT NULL DEFAULT '',
    expires_at     timestamptz NOT NULL,
    decided_at     timestamptz,
    outcome_at     timestamptz,
    created_at     timestamptz NOT NULL
);

CREATE INDEX tool_approvals_by_project ON tool_approvals (project_id, id);
CREATE INDEX tool_approvals_pending ON tool_approvals (status, expires_at) WHERE status = 'pending';
