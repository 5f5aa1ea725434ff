-- Checkpoints of a scan in progress (`scan --resume`, docs/scale.md): how far its walk got
-- (every pair before the point is final) and, for that prefix, the counts of unlisted ports.
-- The prefix's listed ports are in `ports`, written in the same transaction as the point, so
-- a process killed between two checkpoints leaves the last one whole. `shard_index` is
-- 1-based, 1 for an unsharded scan.
CREATE TABLE run_checkpoints (
    run_id TEXT NOT NULL,
    shard_index BIGINT NOT NULL,
    -- The plan digest (seed, addresses, ports) the walk belongs to.
    plan TEXT NOT NULL,
    walk_group BIGINT NOT NULL,
    walk_position BIGINT NOT NULL,
    walk_live BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (run_id, shard_index)
);

CREATE TABLE checkpoint_extraports (
    run_id TEXT NOT NULL,
    shard_index BIGINT NOT NULL,
    host TEXT NOT NULL,
    protocol TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (run_id, shard_index, host, protocol, state, reason)
);
