#!/usr/bin/env python3
"""The zoo benchmark: `portent scan --detect` and `nmap -sV` side by side on real servers.

Every server of crates/cli/tests/zoo/ (the ones the zoo test starts) runs in a network
namespace of its own, on its usual port(s) and on a random high port redirected to each (an
nftables `redirect` in the namespace's output hook), exactly as crates/cli/tests/zoo.rs does.
In each namespace both tools scan the same ports of 127.0.0.1 (nmap as a peer: its data files
are never read by portent or by this script; only its XML output is parsed). Per server: wall
time of each tool (median of RUNS), what each named on each port, and portent's own detection
time (`elapsed_ms` of its JSON) of the slowest usual port and of the slowest random port
(the median over RUNS, and the maximum).

    bench/zoo.py [RUNS]            # root; default 1 run per tool per server
    ZOO=nginx,redis bench/zoo.py   # only those servers
    NMAP=none bench/zoo.py         # portent only (nmap -sV takes 15 minutes on the zoo)
    ZOO_RANDOM_ONLY=1 bench/zoo.py # only the random ports (the registry cannot help there)

Prints a Markdown table (identification per port, times per server and in total). Every
process started here is stopped by its process group; every namespace is deleted.
"""
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "crates/cli/tests/zoo")
PORTENT = os.environ.get("PORTENT", os.path.join(ROOT, "target/release/portent"))
NMAP = os.environ.get("NMAP", "nmap")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
# Only the random ports: a service on an unknown port alone (issue 16's 150 ms goal).
RANDOM_ONLY = os.environ.get("ZOO_RANDOM_ONLY") == "1"


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def connects(ns, port):
    return subprocess.run(
        ["ip", "netns", "exec", ns, "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"],
        stderr=subprocess.DEVNULL,
    ).returncode == 0


def start(name, conf, ns, high, work):
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    rules = "table ip zoo {\n chain out {\n  type nat hook output priority -100; policy accept;\n"
    for p, h in zip(conf["port"], high):
        rules += f"  ip daddr 127.0.0.1 tcp dport {h} redirect to :{p['port']}\n"
    rules += " }\n}\n"
    path = os.path.join(work, "zoo.nft")
    with open(path, "w") as f:
        f.write(rules)
    sh("ip", "netns", "exec", ns, "nft", "-f", path)
    wdir = os.path.join(work, "work")
    os.mkdir(wdir)
    log = open(os.path.join(work, "server.log"), "w")
    env = dict(os.environ, ZOO_DIR=wdir, ZOO_SRC=os.path.join(ZOO, name))
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "setsid", "bash", "-eu", os.path.join(ZOO, name, "start.sh")],
        cwd=wdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
    )
    deadline = time.time() + conf.get("ready_secs", 20)
    for p in conf["port"]:
        while not connects(ns, p["port"]):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{name} did not listen on {p['port']}")
            time.sleep(0.1)
    return proc


def stop(proc, ns):
    if proc is not None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def timed(cmd):
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0, out.stdout


def detect_ms(json_bytes):
    """port -> detection elapsed_ms from portent's JSON (the median run's is not kept: the
    last run's)."""
    import json
    try:
        doc = json.loads(json_bytes)
    except ValueError:
        return {}
    out = {}
    for host in doc.get("hosts", []):
        for p in host.get("ports", []):
            d = p.get("detection") or {}
            if "elapsed_ms" in d:
                out[p["port"]] = d["elapsed_ms"]
    return out


def ms_text(runs):
    """The median of the runs' detection times, and their maximum when RUNS > 1 (the first run
    comes right after the server started listening, which some servers are not done with)."""
    if not runs:
        return "-"
    med = statistics.median_low(runs)
    return str(med) if len(runs) == 1 else f"{med} (max {max(runs)})"


def services(xml_bytes):
    """port -> "name product version (extrainfo)" from nmap-format XML."""
    out = {}
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError:
        return out
    for port in root.iter("port"):
        state = port.find("state")
        svc = port.find("service")
        if state is None or state.get("state") != "open":
            continue
        text = "(nothing)"
        if svc is not None:
            name = svc.get("name", "")
            if svc.get("tunnel") == "ssl":
                name = "ssl/" + name
            parts = [name, svc.get("product", ""), svc.get("version", "")]
            text = " ".join(p for p in parts if p)
            if svc.get("method") == "table":
                text += " (port table)"
        out[int(port.get("portid"))] = text
    return out


def main():
    # Stopped by a signal (also when started in the background, where SIGINT is ignored):
    # raise, so that every server and namespace is still cleaned up by the `finally` blocks.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        sys.exit("bench/zoo.py needs root (ip netns, nft)")
    if "PORTENT_PREBUILT" not in os.environ:
        sh("cargo", "build", "--release", "-q", "-p", "portent", cwd=ROOT)
    only = [z for z in os.environ.get("ZOO", "").split(",") if z]
    names = sorted(d for d in os.listdir(ZOO) if os.path.isdir(os.path.join(ZOO, d)))
    names = [n for n in names if not only or n in only]
    rows, totals = [], {"portent": 0.0, "nmap": 0.0}
    # (server, on a random port) -> the slowest port's detection time in ms, from the JSON,
    # one per run.
    slowest = {}
    times = []
    for i, name in enumerate(names):
        with open(os.path.join(ZOO, name, "server.toml"), "rb") as f:
            conf = tomllib.load(f)
        ns = f"pzb{i}-{os.getpid()}"
        high = random.sample(range(30000, 60000), len(conf["port"]))
        ports = ([] if RANDOM_ONLY else [p["port"] for p in conf["port"]]) + high
        plist = ",".join(map(str, ports))
        proc = None
        with tempfile.TemporaryDirectory() as work:
            try:
                proc = start(name, conf, ns, high, work)
                inns = ["ip", "netns", "exec", ns]
                pt, nt = [], []
                for _ in range(RUNS):
                    xml_path = os.path.join(work, "portent.xml")
                    t, p_json = timed(inns + [PORTENT, "scan", "127.0.0.1", "-p", plist,
                                              "--detect", "--no-save", "--json",
                                              "-oX", xml_path])
                    pt.append(t)
                    with open(xml_path, "rb") as f:
                        p_xml = f.read()
                    run_max = {}
                    for port, ms in detect_ms(p_json).items():
                        run_max[port in high] = max(run_max.get(port in high, 0), ms)
                    for rand, ms in run_max.items():
                        slowest.setdefault((name, rand), []).append(ms)
                    if NMAP == "none":
                        t, n_xml = 0.0, b""
                    else:
                        t, n_xml = timed(inns + [NMAP, "-sV", "-n", "-Pn", "-p", plist,
                                                 "127.0.0.1", "-oX", "-"])
                    nt.append(t)
                pm, nm = statistics.median(pt), statistics.median(nt)
                totals["portent"] += pm
                totals["nmap"] += nm
                times.append((name, pm, nm))
                ps, nsv = services(p_xml), services(n_xml)
                for port in ports:
                    label = str(port) if port not in high else f"high ({conf['port'][high.index(port)]['port']})"
                    rows.append((name, label, nsv.get(port, "(not open)"), ps.get(port, "(not open)")))
            except Exception as e:  # a server that cannot start is reported, not hidden
                rows.append((name, "-", f"error: {e}", ""))
            finally:
                stop(proc, ns)
    nmap = "no nmap" if NMAP == "none" else subprocess.run(
        [NMAP, "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
    print(f"RUNS={RUNS}, portent {PORTENT}, {nmap}\n")
    print("| server | port | nmap -sV | portent --detect |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(x.replace("|", "\\|") for x in r) + " |")
    print("\n| server | portent s | nmap -sV s | ratio | portent detection ms, usual / random port (median, max of RUNS) |"
          "\n|---|---|---|---|---|")
    for name, pm, nm in times:
        usual, rand = (ms_text(slowest.get((name, r))) for r in (False, True))
        ratio = f"{nm / pm:.0f}x" if nm > 0 else "-"
        print(f"| {name} | {pm:.3f} | {nm:.2f} | {ratio} | {usual} / {rand} |")
    p, n = totals["portent"], totals["nmap"]
    if p > 0 and n > 0:
        print(f"| **total** | **{p:.2f}** | **{n:.1f}** | **{n / p:.0f}x** | |")
    elif p > 0:
        print(f"| **total** | **{p:.2f}** | - | - | |")


if __name__ == "__main__":
    main()
