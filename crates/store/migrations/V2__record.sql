-- The run as its command's pipeline recorded it (JSON), so `portent show` can render it again
-- in every form the command has (table, JSON, JSON Lines, CSV, nmap XML). Kept beside
-- `document` (the --json output exactly as printed), which older runs have alone.
ALTER TABLE runs ADD COLUMN record TEXT;
