-- Gateway review queues: a queue whose items are the cases a guard policy's review step
-- held in the gateway (source_kind 'gateway'). Such a queue is made on the first case and
-- grows as cases come; its items' source_id is their own id.
ALTER TABLE queues DROP CONSTRAINT queues_source_kind_check;
ALTER TABLE queues ADD CONSTRAINT queues_source_kind_check CHECK (source_kind IN ('dataset', 'run', 'gateway'));
