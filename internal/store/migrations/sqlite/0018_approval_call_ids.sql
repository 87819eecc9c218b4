-- A tool call is held once: POST /approvals and the gateway look up the project's approval
-- of a call id before storing another (a retry gets the same approval; the same id with
-- other arguments is refused). Not unique: stores made before this may hold one call id
-- twice, and an expired approval's call may be held again.
CREATE INDEX tool_approvals_by_call ON tool_approvals (project_id, call_id);
