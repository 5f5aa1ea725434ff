-- A checkpoint counts the prefix's listed ports too (`scan --resume`): a resumed run adds the
-- prefix's counts by state to its own, and a resumed host group whose discovery found another
-- set of live hosts drops its hosts' counts and starts over, which needs them per host.
ALTER TABLE checkpoint_extraports ADD COLUMN listed BIGINT NOT NULL DEFAULT 0;
-- The seed of the walk's order (a scan without --seed picks one at random): a resumed run
-- walks in the same order. The 64 bits as a signed integer.
ALTER TABLE run_checkpoints ADD COLUMN walk_seed BIGINT;
