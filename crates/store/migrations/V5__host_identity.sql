-- Host identity: which machine a run describes, for the fleet view (`portent listening
-- --store postgres://...` on many hosts). `host_identifier` stays the host name as the run saw
-- it; `host_id` is the key the fleet groups by: the host name and the start of
-- /etc/machine-id (`web-1@3f2a9c1e0b7d`), or what `--host-id` / PORTENT_HOST_ID / the
-- `host_id` config key set. Two hosts with one host name stay apart by their machine ids.
ALTER TABLE runs ADD COLUMN host_id TEXT;
-- The whole /etc/machine-id when it could be read (NULL otherwise).
ALTER TABLE runs ADD COLUMN machine_id TEXT;
-- Runs saved before: their host name was all the identity they had.
UPDATE runs SET host_id = host_identifier;
CREATE INDEX runs_by_host_id ON runs (host_id, kind, started_ms);
