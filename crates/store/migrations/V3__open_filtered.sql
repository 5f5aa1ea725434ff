-- UDP scans leave ports `open|filtered` (no answer: a service that ignored the payloads, or a
-- firewall). Counted apart from `filtered` so a run's totals say what the scan said.
ALTER TABLE runs ADD COLUMN open_filtered_count BIGINT NOT NULL DEFAULT 0;
