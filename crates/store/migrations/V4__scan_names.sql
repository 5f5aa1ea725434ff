-- Named runs: every shard of one sharded scan (`scan --shard K/N --scan-name NAME`) writes
-- into one run, found by its name. A run's name is unique (NULL for unnamed runs, which both
-- databases let repeat), so shards starting at once on several machines agree on one run.
ALTER TABLE runs ADD COLUMN name TEXT;
-- The plan digest (seed, addresses, ports) and the shard count every shard must share.
ALTER TABLE runs ADD COLUMN plan TEXT;
ALTER TABLE runs ADD COLUMN shard_count BIGINT;
CREATE UNIQUE INDEX runs_by_name ON runs (name);

-- The shards of a named run: which have started and which are done, with their totals (the
-- run's totals are their sums). `shard_index` is 1-based, as `--shard K/N` writes it.
CREATE TABLE run_shards (
    run_id TEXT NOT NULL,
    shard_index BIGINT NOT NULL,
    shard_count BIGINT NOT NULL,
    plan TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT,
    -- 1: the shard's scan went to its end.
    complete BIGINT NOT NULL,
    host_identifier TEXT NOT NULL,
    -- Hosts the shard saw up (or assumed) and port results it listed.
    host_count BIGINT NOT NULL,
    port_count BIGINT NOT NULL,
    open_count BIGINT NOT NULL,
    closed_count BIGINT NOT NULL,
    filtered_count BIGINT NOT NULL,
    open_filtered_count BIGINT NOT NULL,
    PRIMARY KEY (run_id, shard_index)
);

-- Counts of unlisted ports per shard; the run's `extraports` are their sums, so a shard run
-- twice replaces its own counts instead of adding them again.
CREATE TABLE shard_extraports (
    run_id TEXT NOT NULL,
    shard_index BIGINT NOT NULL,
    host TEXT NOT NULL,
    protocol TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (run_id, shard_index, host, protocol, state, reason)
);
