-- Approval webhook delivery: a decision (or an expiry) is sent to the webhook of `plumb
-- serve --approval-webhook`, whoever made it: the API, the UI, the expiry sweep, or the CLI,
-- which runs in another process on the same store. webhook_due says a decision waits to be
-- sent, from when (NULL: nothing to send, or sent); a server claims it by moving it a lease
-- ahead and counting the try, and clears it once the webhook took it.
--
-- The approvals decided before this migration are not sent.
ALTER TABLE tool_approvals ADD COLUMN webhook_due timestamptz;
ALTER TABLE tool_approvals ADD COLUMN webhook_tries integer NOT NULL DEFAULT 0;

CREATE INDEX tool_approvals_webhook_due ON tool_approvals (webhook_due) WHERE webhook_due IS NOT NULL;
