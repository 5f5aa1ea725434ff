-- One schema for SQLite and PostgreSQL: only types and statements both accept (TEXT, BIGINT,
-- composite primary keys, plain indexes). Times are Unix milliseconds (UTC).

-- A scan, check or listening snapshot.
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT,
    -- 1: every probe asked for was made; 0: interrupted, still running or killed.
    complete BIGINT NOT NULL,
    -- Targets as asked (JSON array of strings) and ports as asked ("1-1024,8080").
    targets TEXT NOT NULL,
    ports TEXT NOT NULL,
    options TEXT NOT NULL,
    -- The machine that ran it (its host name).
    host_identifier TEXT NOT NULL,
    open_count BIGINT NOT NULL,
    closed_count BIGINT NOT NULL,
    filtered_count BIGINT NOT NULL,
    hosts_up BIGINT NOT NULL,
    -- The command's --json document, so the run can be shown again as it was.
    document TEXT
);
CREATE INDEX runs_by_time ON runs (started_ms);

-- Every host a run covered, with how it was found (up, assumed, down).
CREATE TABLE run_hosts (
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    hostname TEXT,
    status TEXT NOT NULL,
    PRIMARY KEY (run_id, host)
);
CREATE INDEX run_hosts_by_host ON run_hosts (host);

-- Listed port results: open ports (every state with --all), with what was detected there.
CREATE TABLE ports (
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    protocol TEXT NOT NULL,
    port BIGINT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    service TEXT,
    product TEXT,
    version TEXT,
    cert_sha256 TEXT,
    cert_not_after_ms BIGINT,
    banner_sha256 TEXT,
    PRIMARY KEY (run_id, host, protocol, port)
);
CREATE INDEX ports_by_host ON ports (host, port);

-- Ports not listed, as counts (nmap's extraports): a full-range scan is not 65,535 rows.
CREATE TABLE extraports (
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    protocol TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (run_id, host, protocol, state, reason)
);

-- Listening sockets of a snapshot. A socket's identity is (protocol, address, port,
-- executable, user): a restarted daemon with a new PID is the same socket.
CREATE TABLE sockets (
    run_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    address TEXT NOT NULL,
    port BIGINT NOT NULL,
    executable TEXT NOT NULL,
    user_name TEXT NOT NULL,
    pid BIGINT,
    process TEXT,
    PRIMARY KEY (run_id, protocol, address, port, executable, user_name)
);
