//! `scan --shard K/N --scan-name NAME`: the shards of one scan merged into one stored run, end
//! to end with the real binary against listeners in a network namespace (its own loopback),
//! on the default SQLite store and on a real PostgreSQL server (started as the store's tests
//! do). Shards run one by one, two at once, and one twice; the merged run must equal an
//! unsharded scan port for port (state and reason), a retry must change no row, a shard of
//! another plan must be refused before it scans, and `show NAME` must name the missing shard
//! before it runs. Needs root (ip netns), python3 and the PostgreSQL server binaries; fails
//! loudly without them (CI runs as root).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use portent_store::{PortRow, Store};
use serde_json::Value;

#[path = "../../store/tests/common/pg.rs"]
mod pg;

static COUNTER: AtomicU32 = AtomicU32::new(0);

struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let out = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "0",
            "these tests need root for ip netns (CI runs as root)"
        );
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("ptsm-{}-{n}", std::process::id());
        assert!(
            Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .unwrap()
                .success()
        );
        let ns = Netns { name };
        assert!(
            Command::new("ip")
                .args(["-n", &ns.name, "link", "set", "lo", "up"])
                .status()
                .unwrap()
                .success()
        );
        ns
    }

    /// TCP listeners on 127.0.0.1 at `ports` in the namespace, each closing its clients.
    /// Killed when dropped.
    fn serve(&self, ports: &[u16]) -> Server {
        let script = format!(
            "import socket,select\n\
             ls=[]\n\
             for p in {ports:?}:\n\
             \x20   s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             \x20   s.bind(('127.0.0.1', p)); s.listen(64); ls.append(s)\n\
             print('ready', flush=True)\n\
             while True:\n\
             \x20   r,_,_=select.select(ls,[],[])\n\
             \x20   for s in r:\n\
             \x20       c,_=s.accept(); c.close()\n"
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready");
        Server(child)
    }

    fn command(&self, data: &std::path::Path, store: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_portent")])
            .args(args)
            .args(["--store", store])
            .env("PORTENT_DATA_DIR", data)
            .env_remove("PORTENT_STORE")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX");
        c
    }

    fn portent(&self, data: &std::path::Path, store: &str, args: &[&str]) -> Output {
        self.command(data, store, args).output().unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ok(o: &Output) -> &Output {
    assert!(
        o.status.success(),
        "{:?}: {}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&ok(o).stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// 22 ports (every one listed, closed ones too), four of them open.
const PORTS: &str = "20-30,790-800";
const OPEN: [u16; 4] = [21, 25, 795, 800];

fn shard_args<'a>(k: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "scan",
        "127.0.0.1",
        "-p",
        PORTS,
        "--seed",
        "11",
        "--shard",
        k,
        "--scan-name",
        "nightly",
        "-q",
    ];
    a.extend_from_slice(extra);
    a
}

/// (host, protocol, port, state, reason) of a stored port.
type Keyed = (String, String, u16, String, String);

/// Each of a run's stored ports, keyed.
fn keyed(rows: &[PortRow]) -> Vec<Keyed> {
    rows.iter()
        .map(|p| {
            (
                p.host.clone(),
                p.protocol.clone(),
                p.port,
                p.state.clone(),
                p.reason.clone(),
            )
        })
        .collect()
}

/// Everything stored about the run `name` (its hosts, ports, counts of unlisted ports and
/// totals) as JSON, to compare before and after; all but when its last shard finished, which
/// a retry moves.
fn stored(s: &mut Store, name: &str) -> String {
    let mut run = s.resolve(name).unwrap();
    run.finished_ms = None;
    serde_json::to_string(&s.data(run).unwrap()).unwrap()
}

fn scenario(store: &str) {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let _server = ns.serve(&OPEN);

    // The reference: the same scan, unsharded, saved as a plain run.
    ok(&ns.portent(
        data.path(),
        store,
        &["scan", "127.0.0.1", "-p", PORTS, "--seed", "11", "-q"],
    ));
    let mut s = Store::open(store).unwrap();
    let plain = s.resolve("last").unwrap();
    let want = keyed(&s.ports(&plain.id).unwrap());
    assert_eq!(want.len(), 22);
    assert_eq!(
        want.iter()
            .filter(|p| p.3 == "open")
            .map(|p| p.2)
            .collect::<Vec<_>>(),
        OPEN
    );

    // Shard 1, then 3 and 4 at the same moment.
    ok(&ns.portent(data.path(), store, &shard_args("1/4", &[])));
    let shown = json(&ns.portent(data.path(), store, &["show", "nightly", "--json"]));
    assert_eq!(
        shown["shards"]["missing"],
        serde_json::json!(["2/4", "3/4", "4/4"])
    );
    let a = ns
        .command(data.path(), store, &shard_args("3/4", &[]))
        .spawn()
        .unwrap();
    let b = ns
        .command(data.path(), store, &shard_args("4/4", &[]))
        .spawn()
        .unwrap();
    for c in [a, b] {
        assert!(c.wait_with_output().unwrap().status.success());
    }

    // Before the last shard: show says which one is missing, in both forms.
    let o = ok(&ns.portent(data.path(), store, &["show", "nightly"])).clone();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("3 of 4 shards done; missing: 2/4"), "{text}");
    let shown = json(&ns.portent(data.path(), store, &["show", "nightly", "--json"]));
    assert_eq!(shown["shards"]["done"], 3);
    assert_eq!(shown["shards"]["count"], 4);
    assert_eq!(shown["shards"]["missing"], serde_json::json!(["2/4"]));
    assert_eq!(shown["run"]["complete"], false);
    let history = json(&ns.portent(data.path(), store, &["history", "--json"]));
    let named: Vec<&Value> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["shards"]["name"] == "nightly")
        .collect();
    assert_eq!(named.len(), 1, "{history}");
    assert_eq!(named[0]["shards"]["missing"], serde_json::json!(["2/4"]));
    // diff: the part is said in the text and in --json, and no port is called closed.
    let o = ns.portent(data.path(), store, &["diff", &plain.id, "nightly"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("(nightly) is part of its scan: 3 of 4 shards done; missing: 2/4"),
        "{text}"
    );
    let o = ns.portent(
        data.path(),
        store,
        &["diff", "--json", &plain.id, "nightly"],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["to_shards"]["missing"], serde_json::json!(["2/4"]));
    assert!(v.get("from_shards").is_none());
    assert!(
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["change"] != "closed"),
        "{v}"
    );

    // A shard of another plan (other ports), or of another shard count: refused, exit 2,
    // before anything is scanned or written.
    let before = stored(&mut s, "nightly");
    let mut other = shard_args("2/4", &[]);
    other[3] = "20-31";
    let o = ns.portent(data.path(), store, &other);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is another scan") && err.contains("nothing scanned"),
        "{err}"
    );
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = ns.portent(data.path(), store, &shard_args("2/5", &[]));
    assert_eq!(o.status.code(), Some(2));
    let after = stored(&mut s, "nightly");
    assert_eq!(before, after);

    // The last shard: the merged run is the unsharded scan, port for port.
    ok(&ns.portent(data.path(), store, &shard_args("2/4", &[])));
    let merged = s.resolve("nightly").unwrap();
    assert!(merged.complete);
    assert_eq!(keyed(&s.ports(&merged.id).unwrap()), want);
    assert_eq!(merged.counts.open, plain.counts.open);
    assert_eq!(merged.counts.closed, plain.counts.closed);
    let o = ok(&ns.portent(data.path(), store, &["show", "nightly"])).clone();
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 of 4 shards done"));
    let shown = json(&ns.portent(data.path(), store, &["show", "nightly", "--json"]));
    assert_eq!(shown["shards"]["missing"], serde_json::json!([]));
    assert_eq!(shown["run"]["complete"], true);

    // A shard run again (a scheduler's retry) changes no row.
    let before = stored(&mut s, "nightly");
    ok(&ns.portent(data.path(), store, &shard_args("3/4", &[])));
    let after = stored(&mut s, "nightly");
    assert_eq!(before, after);
    assert_eq!(s.runs(None, 100).unwrap().len(), 2);

    // Without --shard, a named scan is the only shard of its run.
    ok(&ns.portent(
        data.path(),
        store,
        &[
            "scan",
            "127.0.0.1",
            "-p",
            PORTS,
            "--scan-name",
            "whole",
            "-q",
        ],
    ));
    let whole = s.resolve("whole").unwrap();
    assert!(whole.complete);
    assert_eq!(keyed(&s.ports(&whole.id).unwrap()), want);
    assert_eq!(
        s.shards(&whole.id).unwrap().unwrap().summary(),
        "1 of 1 shard done"
    );
}

#[test]
fn shards_of_one_scan_merge_into_one_named_run() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&format!(
        "sqlite:{}",
        dir.path().join("store.sqlite").display()
    ));
    let server = pg::TestPg::start();
    scenario(&server.database("portent_merge"));
}

#[test]
fn a_store_that_fails_never_loses_the_output() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let _server = ns.serve(&OPEN);
    let o = ns.portent(
        data.path(),
        "postgresql://nobody@%2Fnonexistent-portent-dir/x",
        &shard_args("1/4", &["--json"]),
    );
    let v = json(&o);
    assert!(v.is_object());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("will not be saved"), "{err}");
    // UDP is not split, so a named UDP scan is refused, not saved as something else.
    let o = ns.portent(
        data.path(),
        &format!("sqlite:{}", data.path().join("s.sqlite").display()),
        &["scan", "127.0.0.1", "-sU", "-p", "U:53", "--scan-name", "u"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("TCP scans only"));
}

/// Ports open in the resume tests: spread over the whole range, so kills land between them.
const WIDE_OPEN: [u16; 6] = [21, 795, 8080, 31337, 50000, 65535];

/// A full-range scan, slow enough (a rate ceiling) that kills land inside it, checkpointed
/// every 50 ms. No --seed: the walk's random seed must come back from the checkpoint.
fn wide_args<'a>(name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "scan",
        "127.0.0.1",
        "-p-",
        "--rate",
        "12000",
        "--scan-name",
        name,
        "--checkpoint-every",
        "50ms",
    ];
    a.extend_from_slice(extra);
    a
}

/// Kill points in milliseconds, from a seed printed so a failure can be run again
/// (xorshift64*).
fn kill_after(seed: u64, n: usize, from_ms: u64, to_ms: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            from_ms + x.wrapping_mul(0x2545_f491_4f6c_dd1d) % (to_ms - from_ms)
        })
        .collect()
}

/// The rows that must match an uninterrupted scan: ports (state, reason), the counts of the
/// rest, and the totals.
fn result_of(s: &mut Store, name: &str) -> (Vec<Keyed>, String) {
    let run = s.resolve(name).unwrap();
    let data = s.data(run.clone()).unwrap();
    let c = run.counts;
    (
        keyed(&s.ports(&run.id).unwrap()),
        format!(
            "{:?} open {} closed {} filtered {} complete {}",
            data.extra, c.open, c.closed, c.filtered, run.complete
        ),
    )
}

/// Runs `args` in the namespace and ends it after `ms` with `signal`; returns its output.
fn interrupted(
    ns: &Netns,
    data: &std::path::Path,
    store: &str,
    args: &[&str],
    ms: u64,
    signal: nix::sys::signal::Signal,
) -> Output {
    interrupt(ns.command(data, store, args), ms, signal)
}

/// Starts `command` and ends it after `ms` with `signal`; returns its output.
fn interrupt(mut command: Command, ms: u64, signal: nix::sys::signal::Signal) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(ms));
    // `ip netns exec` runs the program in its own process: this PID is portent's.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, signal);
    child.wait_with_output().unwrap()
}

/// How far the stored checkpoint of `name`'s shard got (results before it), if there is one.
fn checkpoint_done(s: &mut Store, name: &str, shard: u64) -> Option<u64> {
    let run = s.resolve(name).ok()?;
    let c = s.checkpoint(&run.id, shard).unwrap()?;
    Some(c.counts.iter().map(|r| r.listed + r.unlisted).sum())
}

/// Runs the uninterrupted scan `args` (named as its `--scan-name`) and returns its stored
/// result, checked: nothing on stderr, the open ports are WIDE_OPEN, every other one of
/// `total` pairs closed, the run complete.
fn reference(
    ns: &Netns,
    data: &std::path::Path,
    store: &str,
    s: &mut Store,
    args: &[&str],
    total: u64,
) -> (Vec<Keyed>, String) {
    let o = ok(&ns.portent(data, store, args)).clone();
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let name = args[args.iter().position(|a| *a == "--scan-name").unwrap() + 1];
    let want = result_of(s, name);
    assert_eq!(
        want.0.iter().map(|p| p.2).collect::<Vec<_>>(),
        WIDE_OPEN,
        "{want:?}"
    );
    let closed = total - WIDE_OPEN.len() as u64;
    assert!(
        want.1.contains(&format!("closed {closed}")) && want.1.contains("complete true"),
        "{want:?}"
    );
    want
}

fn resume_scenario(store: &str, seed: u64) {
    use nix::sys::signal::Signal;
    println!("kill seed {seed} on {store}");
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let _server = ns.serve(&WIDE_OPEN);
    let mut s = Store::open(store).unwrap();

    // The reference: the same scan, never interrupted.
    let want = reference(
        &ns,
        data.path(),
        store,
        &mut s,
        &wide_args("whole", &["-q"]),
        65_535,
    );

    // kill -9 twice at seeded points, then resumed to the end: the stored run equals the
    // reference, each port once (the totals add up to 65,535).
    // The scan takes about 5.5 s (65,535 ports at 12,000 a second): the first kill within
    // 1.8 s, the second within 1.5 s of the resume, so both land inside it.
    let kills = [
        kill_after(seed, 1, 300, 1800)[0],
        kill_after(seed ^ 0x7777, 1, 200, 1500)[0],
    ];
    let mut midway = 0;
    for (i, ms) in kills.iter().enumerate() {
        let extra: &[&str] = if i == 0 { &["-q"] } else { &["-q", "--resume"] };
        let o = interrupted(
            &ns,
            data.path(),
            store,
            &wide_args("big", extra),
            *ms,
            Signal::SIGKILL,
        );
        assert_eq!(o.status.code(), None, "killed by the signal: {o:?}");
        if let Some(done) = checkpoint_done(&mut s, "big", 1) {
            assert!(done <= 65_535);
            midway += usize::from(done > 0);
        }
    }
    let o = ok(&ns.portent(
        data.path(),
        store,
        &wide_args("big", &["--resume", "--json"]),
    ))
    .clone();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = &v["totals"];
    let scanned = t["open"].as_u64().unwrap() + t["closed"].as_u64().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    match v.get("resumed") {
        Some(r) => {
            // The pairs before the checkpoint were not scanned again, none after it skipped.
            assert_eq!(r["done"].as_u64().unwrap() + scanned, 65_535, "{v}");
            assert!(err.contains("resuming big from its checkpoint"), "{err}");
        }
        None => assert_eq!(scanned, 65_535, "no checkpoint: a whole scan"),
    }
    assert_eq!(result_of(&mut s, "big"), want);
    assert!(
        midway >= 1,
        "no kill fell after a checkpoint (kills {kills:?})"
    );

    // Resumed again when complete: scanned again from the start (a retry: its whole output,
    // no `resumed`), and the stored run is unchanged.
    let o = ok(&ns.portent(
        data.path(),
        store,
        &wide_args("big", &["--resume", "--json"]),
    ))
    .clone();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("resumed").is_none(), "{v}");
    assert_eq!(
        v["totals"]["open"].as_u64().unwrap() + v["totals"]["closed"].as_u64().unwrap(),
        65_535
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("is complete: nothing to resume"));
    assert_eq!(result_of(&mut s, "big"), want);

    // Ctrl-C (SIGINT): the run ends as interrupted (130), then resumes to the same result.
    let ms = kill_after(seed ^ 0x5151, 1, 500, 3000)[0];
    let o = interrupted(
        &ns,
        data.path(),
        store,
        &wide_args("int", &["-q"]),
        ms,
        Signal::SIGINT,
    );
    assert_eq!(o.status.code(), Some(130), "{o:?}");
    assert!(!s.resolve("int").unwrap().complete);
    ok(&ns.portent(data.path(), store, &wide_args("int", &["-q", "--resume"])));
    assert_eq!(result_of(&mut s, "int"), want);

    // A shard killed and resumed: the two shards merge into the reference.
    let ms = kill_after(seed ^ 0xa5a5, 1, 300, 1500)[0];
    ok(&ns.portent(
        data.path(),
        store,
        &wide_args("halves", &["-q", "--shard", "1/2"]),
    ));
    interrupted(
        &ns,
        data.path(),
        store,
        &wide_args("halves", &["-q", "--shard", "2/2"]),
        ms,
        Signal::SIGKILL,
    );
    ok(&ns.portent(
        data.path(),
        store,
        &wide_args("halves", &["-q", "--shard", "2/2", "--resume"]),
    ));
    assert_eq!(result_of(&mut s, "halves"), want);

    // The Kubernetes contract, as a kubelet runs an Indexed Job's pods (no cluster runs here):
    // three processes with JOB_COMPLETION_INDEX 0, 1, 2 and PORTENT_SHARDS=3, the manifest's
    // --scan-name and --resume; index 1 killed part way and started again with the same
    // environment, as the Job controller restarts a failed pod. The merged run is the scan.
    let pod = |index: &str| {
        let mut c = ns.command(data.path(), store, &wide_args("kube", &["-q", "--resume"]));
        c.env("JOB_COMPLETION_INDEX", index)
            .env("PORTENT_SHARDS", "3");
        c
    };
    for index in ["0", "2"] {
        let o = pod(index).output().unwrap();
        ok(&o);
    }
    interrupt(
        pod("1"),
        kill_after(seed ^ 0x3c3c, 1, 300, 1500)[0],
        Signal::SIGKILL,
    );
    let shown = json(&ns.portent(data.path(), store, &["show", "kube", "--json"]));
    assert_eq!(shown["shards"]["missing"], serde_json::json!(["2/3"]));
    ok(&pod("1").output().unwrap());
    assert_eq!(result_of(&mut s, "kube"), want);

    // Another plan (other ports) is refused before anything is sent: exit 2.
    let mut other = wide_args("big", &["-q", "--resume"]);
    other[2] = "-p1-60000";
    let o = ns.portent(data.path(), store, &other);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing scanned"));
    assert_eq!(result_of(&mut s, "big"), want);
}

#[test]
fn an_interrupted_scan_resumes_from_its_checkpoint_and_loses_nothing() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let dir = tempfile::tempdir().unwrap();
    resume_scenario(
        &format!("sqlite:{}", dir.path().join("store.sqlite").display()),
        seed,
    );
    let server = pg::TestPg::start();
    resume_scenario(&server.database("portent_resume"), seed.rotate_left(17));
}

/// The SYN scan (`-sS`) resumes from its checkpoints, which come after each chunk of its walk
/// (524,288 probes): nine hosts' full range (589,815 probes) is a chunk and a part. Killed
/// after the first checkpoint is stored, then resumed: the run equals an uninterrupted SYN
/// scan's, and the resumed process scanned only the second chunk.
fn syn_resume_scenario(store: &str) {
    use nix::sys::signal::Signal;
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let _server = ns.serve(&WIDE_OPEN);
    let mut s = Store::open(store).unwrap();
    // 200,000 a second: about 2.6 s to the first checkpoint and 0.3 s after it, time enough
    // to see the checkpoint stored and kill the scan before its end.
    let args = |name: &'static str, extra: &[&'static str]| -> Vec<&'static str> {
        let mut a = vec![
            "scan",
            "127.0.0.1-9",
            "-p-",
            "-sS",
            "--rate",
            "200000",
            "--scan-name",
            name,
            "--checkpoint-every",
            "50ms",
        ];
        a.extend_from_slice(extra);
        a
    };
    let total: u64 = 9 * 65_535;
    let want = reference(
        &ns,
        data.path(),
        store,
        &mut s,
        &args("syn-whole", &["-q"]),
        total,
    );

    let mut child = ns
        .command(data.path(), store, &args("syn-big", &["-q"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let done = loop {
        if let Some(done) = checkpoint_done(&mut s, "syn-big", 1).filter(|d| *d > 0) {
            break done;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(30),
            "no checkpoint stored within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, Signal::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed before its end: {status:?}");
    assert_eq!(
        done, 524_288,
        "the first checkpoint is the first chunk's end"
    );
    assert!(!s.resolve("syn-big").unwrap().complete);

    let o = ok(&ns.portent(
        data.path(),
        store,
        &args("syn-big", &["--resume", "--json"]),
    ))
    .clone();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = &v["totals"];
    let scanned = t["open"].as_u64().unwrap() + t["closed"].as_u64().unwrap();
    assert_eq!(v["resumed"]["done"].as_u64(), Some(done), "{v}");
    assert_eq!(scanned, total - done, "only the second chunk was scanned");
    assert!(String::from_utf8_lossy(&o.stderr).contains("resuming syn-big from its checkpoint"));
    assert_eq!(result_of(&mut s, "syn-big"), want);

    // A connect scan does not continue a SYN scan's run: another plan, refused (exit 2).
    let mut connect = args("syn-big", &["-q", "--resume"]);
    connect.retain(|a| *a != "-sS");
    let o = ns.portent(data.path(), store, &connect);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing scanned"));
    assert_eq!(result_of(&mut s, "syn-big"), want);
}

#[test]
fn an_interrupted_syn_scan_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    syn_resume_scenario(&format!(
        "sqlite:{}",
        dir.path().join("store.sqlite").display()
    ));
    let server = pg::TestPg::start();
    syn_resume_scenario(&server.database("portent_syn_resume"));
}

#[test]
fn resume_needs_a_named_tcp_scan() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", data.path().join("s.sqlite").display());
    // Without --scan-name: clap's usage error.
    let o = ns.portent(
        data.path(),
        &store,
        &["scan", "127.0.0.1", "-p", "22", "--resume"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--scan-name"));
}
