//! The command line, as clap sees it. Nothing here does work: `main` turns these raw flags into
//! calls on the library crates, so the libraries never see clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  portent 797                 what port 797 is, and why an open one matters
  portent port ldap           the port page for a service name
  portent 20-25               a range of ports, one line each (also tcp/80, 80:tcp)
  portent search netinfo      ranked search of names, descriptions and notes
  portent listening           what listens here, who owns it, and what the registry says
  portent listening --ghosts  only listeners on ports the registry does not provide for
  portent listening --dynamic only listeners in the dynamic range 49152-65535
  portent listening -tlnp :22 ss habits: -t -u -4 -6, -l -n -p accepted, sport = :22
  portent registry info       which registry data is in use, and counts
  portent registry export     every port and protocol as JSON Lines
  portent scan 192.0.2.7      which of its 65,535 TCP ports are open, each explained
  portent check host.example 797   Test-NetConnection: can I reach this port from here?
  portent serve               the same knowledge as web pages on http://127.0.0.1:7970
  portent config              every setting, and the config file, variable or flag it came from

Exit status: 0 when the answer was found, 1 when nothing was found, 2 on errors
(bad input, unreadable files, an invalid config file), 130 when Ctrl-C stopped a scan or
check's detection (what was found so far is printed).

Tables and pages fit the terminal: stdout's width on a terminal, else $COLUMNS, else 100.";

/// What is on this port? The IANA registry, curated notes on unofficial and historical uses,
/// and what they mean, in one fast tool.
#[derive(Debug, Parser)]
#[command(
    name = "portent",
    version,
    about,
    long_about = None,
    after_help = AFTER_HELP,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// When to use colour: auto (when writing to a terminal), always or never. NO_COLOR is
    /// honoured in auto mode.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything known about a port: registry status, range, notes, why it matters, how to
    /// check it (also: `portent 797`).
    #[command(visible_alias = "p")]
    Port(PortArgs),
    /// Search service names, descriptions and notes, best matches first.
    #[command(visible_alias = "s")]
    Search(SearchArgs),
    /// What is listening on this machine: every listening TCP and bound UDP socket, its
    /// owners, and the registry's view of its port (also: `portent listening 797`).
    #[command(visible_alias = "l")]
    Listening(ListeningArgs),
    /// Serve the port encyclopedia in a browser: a page per port, the port grid, live
    /// listeners and a JSON API (docs/web.md).
    Serve(ServeArgs),
    /// The embedded IANA registry: information, export, updates.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Scan hosts for open TCP ports (all 65,535 by default), unprivileged, each open port
    /// explained by the registry.
    Scan(ScanArgs),
    /// Can this machine reach HOST on PORT? Resolved addresses, the source address and
    /// interface used, and the TCP result with RTT (exit 0 when open).
    Check(CheckArgs),
    /// Stored runs, newest first (`portent history`), or the life of each port seen open on a
    /// host (`portent history HOST [PORT]`): first and last seen open, closed, reopened,
    /// changed.
    History(HistoryArgs),
    /// What changed between two stored runs: new, closed, changed and reopened ports (with no
    /// runs given, the last two complete scans over the same targets); `--listening` compares
    /// listening snapshots. Exit 0 no changes, 1 changes, 2 error (as ndiff).
    Diff(DiffArgs),
    /// The fleet: every host that saved listening snapshots into the store (`--host-id`), its
    /// newest snapshot's listeners, ghosts and exposed listeners, and what changed since its
    /// snapshot before (the /fleet page of `portent serve`). Exit 0 hosts listed, 1 none.
    Fleet(FleetArgs),
    /// A stored run again: `--json` prints the document the original command printed.
    Show(ShowArgs),
    /// Scan targets (or take a listening snapshot) again and again, save each round, and print
    /// each change the moment it is seen (`--jsonl`: osquery's differential-log lines).
    /// Ctrl-C ends it.
    Watch(WatchArgs),
    /// The effective configuration: every config file key, its value, and where the value
    /// came from (default, a file and line, an environment variable, a flag), and which files
    /// were read (docs/config.md).
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to generate for.
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff), generated from this command line definition: portent's own,
    /// or a command's (`portent man scan`, `portent man registry update`).
    Man {
        /// The command whose page to print; none for portent's own page.
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
        /// Write every page (portent.1, portent-scan.1, portent-registry-update.1, ...) into
        /// this directory instead of printing one.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
#[command(after_help = "\
Layers, each above the ones before: the defaults, /etc/portent/config.toml
($PORTENT_CONFIG_SYSTEM), $XDG_CONFIG_HOME/portent/config.toml or
~/.config/portent/config.toml ($PORTENT_CONFIG), the environment (PORTENT_STORE,
PORTENT_HOST_ID, PORTENT_DATA_DIR), then flags. /dev/null in either variable means no such file. A missing
file is fine; an invalid one stops every command with its file, line and column.")]
pub struct ConfigArgs {
    /// Print JSON: {"files": [...], "settings": [...]} (docs/config.md).
    #[arg(long, conflicts_with = "check")]
    pub json: bool,
    /// Only check the files: say which were read and exit 0, or give the first error and
    /// exit 2.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// A port number (797), a port and protocol (797/tcp, tcp/797 or 797:tcp), a range of at
    /// most 1024 ports (20-25, 20-25/udp: one line per port), or a service name (ldap).
    #[arg(value_name = "PORT|NAME", allow_hyphen_values = true)]
    pub query: String,
    /// Print JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Flags: ghost = the registry neither assigns the port for this protocol nor sets it aside for
private use, it is below 49152, and portent knows no common use of it (red in the system
range); exposed = bound to a wildcard or non-loopback address; ephemeral = inside this host's
ephemeral range; dual-stack = a [::] socket that also serves IPv4; dynamic = in 49152-65535,
which RFC 6335 leaves for dynamic and private use (never a ghost).

Without root, sockets of other users are still listed, but their owners are not readable;
portent says so. Sockets in other network namespaces (containers) are not in view: use
--netns.

ss, lsof and netstat habits work: `portent listening -tulpn`, `-tlnp`, `-4`, `:22`,
`sport = :22`, `'( sport = :22 )'`. -l, -n and -p change nothing: only listening sockets are
shown, addresses are never resolved, and owners are always shown.")]
pub struct ListeningArgs {
    /// Only this port (same as --port): a number (797), with a protocol (53/udp), or a
    /// service name (ssh: every port the registry gives it). ss forms work too: `:22`,
    /// `sport = :22` (also `==`, `eq` or nothing for `=`), in parentheses or not.
    #[arg(value_name = "PORT|NAME", conflicts_with = "port", num_args = 0..)]
    pub port_arg: Vec<String>,
    /// Only this port: as PORT|NAME above.
    #[arg(long, value_name = "PORT|NAME")]
    pub port: Option<String>,
    /// Only TCP (listening sockets); with --udp, both.
    #[arg(short, long)]
    pub tcp: bool,
    /// Only UDP (bound, unconnected sockets); with --tcp, both.
    #[arg(short, long)]
    pub udp: bool,
    /// Only IPv4 sockets; with -6, both.
    #[arg(short = '4', long = "ipv4")]
    pub ipv4: bool,
    /// Only IPv6 sockets (a dual-stack [::] socket is one); with -4, both.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Listening sockets: accepted as in ss; they are all portent lists.
    #[arg(short = 'l')]
    pub listening: bool,
    /// Numeric: accepted as in ss and netstat; portent never resolves names.
    #[arg(short = 'n', long)]
    pub numeric: bool,
    /// Show owning processes: accepted as in ss and netstat; they are always shown.
    #[arg(short = 'p', long)]
    pub processes: bool,
    /// Only ghosts: ports the registry does not provide for on the protocol, below 49152,
    /// with no common use known to portent.
    #[arg(long)]
    pub ghosts: bool,
    /// Only sockets in the dynamic range (49152-65535).
    #[arg(long)]
    pub dynamic: bool,
    /// Only sockets reachable from the network (wildcard or non-loopback address).
    #[arg(long)]
    pub exposed: bool,
    /// Only sockets this process holds.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Only sockets held by a process whose name contains NAME (case-insensitive).
    #[arg(long, value_name = "NAME")]
    pub process: Option<String>,
    /// Look inside a network namespace: a name from `ip netns` (/run/netns/NAME) or a path
    /// such as /proc/PID/ns/net. Needs root (CAP_SYS_ADMIN).
    #[arg(long, value_name = "NAME|PATH")]
    pub netns: Option<String>,
    /// Show whole command lines instead of cutting them to fit.
    #[arg(short, long)]
    pub wide: bool,
    /// Print JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub save: SaveArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen: ADDRESS:PORT, [IPv6]:PORT, localhost:PORT, or a port alone (on
    /// 127.0.0.1).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7970", value_parser = listen_addr)]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback address: the pages show this machine's processes and command
    /// lines to anyone who can reach it.
    #[arg(long)]
    pub public: bool,
    /// Also answer requests addressed to this host name (or address), e.g. a LAN name or a
    /// reverse proxy's; repeatable. Without it only localhost, loopback addresses and the
    /// listen address (any address of the machine for 0.0.0.0 or ::) are answered, which
    /// keeps other web sites from reading the pages through DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<portent_web::AllowedHost>,
    /// The store the /hosts pages read (as for scan and listening).
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to look for; every word must match.
    #[arg(value_name = "TEXT", required = true, num_args = 1..)]
    pub text: Vec<String>,
    /// Show at most this many results (1 or more).
    #[arg(short = 'n', long, default_value_t = portent_registry::DEFAULT_SEARCH_LIMIT)]
    pub limit: usize,
    /// Print JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Which registry data is in use, its date and counts.
    Info {
        /// Print JSON (schema: docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Print one JSON object per port and protocol (65,536 ports x tcp, udp, sctp, dccp) as
    /// JSON Lines.
    Export,
    /// Validate a newer IANA registry CSV and use it from now on (stored in the data
    /// directory; a rejected file changes nothing).
    Update {
        /// The CSV file as published by IANA (service-names-port-numbers.csv).
        #[arg(long, value_name = "FILE.csv")]
        file: PathBuf,
    },
    /// Forget an updated registry and go back to the data built into portent.
    Reset,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Targets: 192.0.2.7  2001:db8::7  host.example (every address it resolves to)  192.0.2.0/24
  192.0.2.1-20  192.0.2.1-192.0.2.9  2001:db8::1-ff, as separate words or comma lists.
Ports: -p 22,80,1000-2000  -p-  -p -1023  -p ssh,http,797  --ports system,unassigned
  (classes of one kind unite, kinds intersect: unassigned system ports).
nmap's habits work too: -sT -sU -sV -Pn -p- -iL FILE --excludefile FILE -F --top-ports N
  -T2..-T5 --max-rate N --max-retries N --open -oX/-oN/-oG FILE (- for stdout) -oA BASE;
  -n, -v and --reason are accepted (portent never resolves addresses and always gives reasons).
  Targets may be nmap octet patterns: 10.0.0-3.1-254, 10.0.0.*.

Exit status: 0 when the scan completed, whatever it found (as nmap: scripts run with set -e),
2 on errors, 130 when interrupted (the results so far are printed; during --detect, the
detections completed are kept and the other open ports are marked interrupted). `check` is
the command whose status says whether a port is open.")]
pub struct ScanArgs {
    /// Addresses, host names, CIDR blocks, ranges or comma lists of them.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Read targets from a file (one or more per line, # comments; - for stdin). Also -iL.
    #[arg(long = "input-list", value_name = "FILE")]
    pub input_list: Vec<PathBuf>,
    /// Leave these targets out (same syntax as targets).
    #[arg(long, value_name = "TARGETS")]
    pub exclude: Vec<String>,
    /// Leave out the targets listed in a file. Also --excludefile.
    #[arg(
        long = "exclude-file",
        visible_alias = "excludefile",
        value_name = "FILE"
    )]
    pub exclude_file: Vec<PathBuf>,
    /// Scan more than 65,536 addresses.
    #[arg(long)]
    pub yes: bool,
    /// Ports: numbers, ranges (1-1023, -1023, 60000-), - for all, service names (ssh). T: and
    /// U: prefixes split the list by protocol as nmap's do (U:53,161,T:22,80), and a /udp or
    /// /tcp suffix names one item's protocol (22,53/udp). Default: all 65,535 TCP ports, and
    /// with --udp the UDP ports portent has payloads for.
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORTS",
        allow_hyphen_values = true
    )]
    pub port: Option<String>,
    /// Registry-aware port classes: system, user, dynamic, assigned, reserved, unassigned.
    #[arg(long, value_name = "CLASSES")]
    pub ports: Option<String>,
    /// Ports to leave out.
    #[arg(
        long = "exclude-ports",
        value_name = "PORTS",
        allow_hyphen_values = true
    )]
    pub exclude_ports: Option<String>,
    /// Scan TCP ports (the default; with --udp, scan both). Also -sT. With `watch
    /// --listening`: TCP sockets only.
    #[arg(long)]
    pub tcp: bool,
    /// Scan TCP ports with SYN probes on raw sockets instead of connect(): half-open, replies
    /// checked against a keyed SYN cookie, the kernel's reset closes each. Needs root or
    /// CAP_NET_RAW (Linux; IPv4 and IPv6 targets); no host discovery (every target is scanned). Also
    /// -sS.
    #[arg(long)]
    pub syn: bool,
    /// Scan UDP ports: every payload portent has for a port is sent at once (docs/detection.md),
    /// a reply is `open`, ICMP port unreachable `closed`, silence `open|filtered`. Without -p,
    /// the UDP ports are the ones portent has payloads for (listed in docs/detection.md).
    /// Also -sU. With `watch --listening`: UDP sockets only.
    #[arg(long)]
    pub udp: bool,
    /// UDP: wait out each host's ICMP rate limit (Linux sends about one port unreachable a
    /// second) so that every silent port is told closed or open|filtered. Exact, and slow:
    /// about a second per closed port on such hosts.
    #[arg(long = "udp-closed")]
    pub udp_closed: bool,
    /// At most this many connection attempts per second. Also --max-rate.
    #[arg(long, visible_alias = "max-rate", value_name = "N")]
    pub rate: Option<u32>,
    /// nmap's floor on the send rate: accepted, and has no effect (portent's pacing follows
    /// the replies, with no floor to raise; a note on stderr says so).
    #[arg(long = "min-rate", value_name = "N")]
    pub min_rate: Option<u32>,
    /// A fixed timeout per attempt (500ms, 2s; a bare number is seconds, as in nmap) instead
    /// of one derived from round trips.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Attempts after the first for a port that stays silent (default 1). Also --max-retries.
    #[arg(long, visible_alias = "max-retries", value_name = "N")]
    pub retries: Option<u8>,
    /// nmap's timing templates, mapped to portent's pacing: 2 (polite) is --rate 2 and no
    /// parallel drivers; 3 and 4 are portent's default (it adapts to round trips already); 5
    /// (insane) is --retries 0. 0 and 1 (paranoid, sneaky: minutes or seconds between probes
    /// to slip past intrusion detection) are refused with a sentence: use --rate 1. Explicit
    /// --rate, --retries and --threads win over the template.
    #[arg(short = 'T', value_name = "0-5", value_parser = timing_template)]
    pub timing: Option<u8>,
    /// Threads driving connection attempts, 1-64 (default: one per CPU, at most 4, and no more
    /// than one per 1,024 port results).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub threads: Option<usize>,
    /// Scan every address, without first checking which hosts answer.
    #[arg(long = "no-ping", visible_alias = "Pn")]
    pub no_ping: bool,
    /// List every port result, closed and filtered included (by default closed and
    /// filtered ports are counted, and listed only when at most 25 ports are scanned).
    #[arg(long, conflicts_with = "open")]
    pub all: bool,
    /// List only open ports in every output form, as nmap's --open (even when 25 ports or
    /// fewer are scanned); closed, filtered and open|filtered ports are counted, not listed.
    #[arg(long)]
    pub open: bool,
    /// nmap's --reason: accepted; portent always shows why a port has its state.
    #[arg(long)]
    pub reason: bool,
    /// nmap's verbosity: accepted (-v, -vv); portent's table already says what it found.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// nmap's "no DNS resolution": accepted; portent never looks up names for addresses.
    #[arg(short = 'n')]
    pub no_dns: bool,
    /// nmap's "always resolve": refused with a sentence (portent does no reverse lookups).
    #[arg(short = 'R', hide = true)]
    pub reverse_dns: bool,
    /// nmap's per-host time limit: refused with a sentence (not built yet).
    #[arg(long = "host-timeout", value_name = "DURATION", hide = true)]
    pub host_timeout: Option<String>,
    /// The N ports most worth a first look, in portent's own ranking (not nmap's): ports by
    /// how often published internet-wide surveys found them open
    /// (crates/registry/data/knowledge/top-ports.toml), then ports portent's notes know a common use for, then
    /// the registry's assigned ports.
    #[arg(long = "top-ports", value_name = "N", value_parser = at_least_one, conflicts_with_all = ["port", "ports"])]
    pub top_ports: Option<usize>,
    /// Fast: the 100 ports most often found open (--top-ports 100).
    #[arg(short = 'F', conflicts_with_all = ["port", "ports", "top_ports"])]
    pub fast: bool,
    /// nmap scan types other than -sT, -sS, -sU and -sV (-sA...): refused with a sentence.
    #[arg(long = "nmap-scan-type", value_name = "X", hide = true)]
    pub nmap_scan_type: Option<String>,
    /// Print one JSON document at the end (schema: docs/json.md).
    #[arg(long, group = "format")]
    pub json: bool,
    /// Print JSON Lines, one object per port result as it is found.
    #[arg(long, group = "format")]
    pub jsonl: bool,
    /// Print CSV, one row per port result as it is found.
    #[arg(long, group = "format")]
    pub csv: bool,
    /// Also write nmap-compatible XML to FILE (ndiff and nmap XML importers read it); - for
    /// stdout (instead of the table). Also -oX.
    #[arg(long = "xml-out", value_name = "FILE")]
    pub xml_out: Option<PathBuf>,
    /// Also write the table, without colours, to FILE (- for stdout), with nmap's comment
    /// lines around it. Also -oN.
    #[arg(long = "normal-out", value_name = "FILE")]
    pub normal_out: Option<PathBuf>,
    /// Also write nmap's grepable format to FILE (- for stdout): a Host line per host with
    /// its status and its ports, line for line as nmap -oG. Also -oG.
    #[arg(long = "grepable-out", value_name = "FILE")]
    pub grepable_out: Option<PathBuf>,
    /// Write the table, XML and grepable forms to BASE.nmap, BASE.xml and BASE.gnmap. Also -oA.
    #[arg(long = "all-out", value_name = "BASE", conflicts_with_all = ["xml_out", "normal_out", "grepable_out"])]
    pub all_out: Option<PathBuf>,
    /// No progress bar and no notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// The seed of the scan order and, with --shard, of the partition: every shard of one scan
    /// needs the same seed. Without it the order is random and the partition's seed a fixed
    /// one, so shards agree.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Scan only shard K of N (1-based) of the whole address x port space, in a keyed order:
    /// the N shards together are exactly the unsharded scan, none twice, for any N. Every
    /// shard needs the same targets, ports and --seed. Without it, the shard comes from a
    /// Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, with --shards). TCP only (docs/scale.md).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// The number of shards for a Kubernetes Indexed Job (its completions), whose pods get
    /// only their index in JOB_COMPLETION_INDEX. Also PORTENT_SHARDS.
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<u64>,
    /// Save into the run named NAME, shared by every shard of one scan (each shard with the
    /// same NAME, targets, ports and --seed): the store merges them into one run, idempotently
    /// (a shard run twice changes nothing), and `portent show NAME` says which shards are
    /// missing. A shard of another plan or shard count is refused before it scans. Without
    /// --shard, the scan is the only shard of its run. TCP only (docs/scale.md).
    #[arg(long, value_name = "NAME", conflicts_with = "no_save")]
    pub scan_name: Option<String>,
    /// Continue the named run (--scan-name) from its last checkpoint instead of starting
    /// over: a scan or shard interrupted by Ctrl-C, kill or a lost node scans only what it
    /// had not finished. Same targets, ports, --seed and shard (another plan is refused before
    /// anything is sent); with no checkpoint it starts at the beginning, and a shard already
    /// complete is scanned again whole (a retry: its stored rows do not change). TCP only;
    /// a SYN scan (-sS) checkpoints after each 524,288 probes (docs/scale.md).
    #[arg(long, requires = "scan_name")]
    pub resume: bool,
    /// How often a named run records how far it got (a checkpoint, for --resume): ports and
    /// the point in one transaction.
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub checkpoint_every: String,
    /// Identify what speaks on every open port: banner, probes, TLS, ONC RPC (docs/detection.md).
    /// Also -sV.
    #[arg(long)]
    pub detect: bool,
    #[command(flatten)]
    pub detection: DetectArgs,
    /// Ports detected at the same time.
    #[arg(
        long = "detect-concurrency",
        value_name = "N",
        default_value_t = 64,
        value_parser = at_least_one
    )]
    pub detect_concurrency: usize,
    #[command(flatten)]
    pub save: SaveArgs,
}

/// Service detection settings shared by `scan --detect` and `check`.
#[derive(Debug, Clone, Args)]
pub struct DetectArgs {
    /// Longest detection of one port, all probes included.
    #[arg(long = "detect-timeout", value_name = "DURATION", default_value = "5s")]
    pub detect_timeout: String,
    /// Extra signature files (crates/probe/data/signatures/README.md format), tried before the built-in set.
    #[arg(long = "signatures", value_name = "FILE")]
    pub signatures: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// One host name or address, or HOST:PORT and [IPv6]:PORT in one word (for a block or
    /// range, use scan).
    #[arg(value_name = "HOST")]
    pub host: String,
    /// A port number or a service name (ssh), over TCP; 53/udp (or U:53) checks UDP: every
    /// payload portent has for the port, a reply is open, ICMP port unreachable closed,
    /// silence open|filtered (exit 1, said as inconclusive).
    #[arg(value_name = "PORT")]
    pub port: Option<String>,
    /// How long to wait for an answer per attempt.
    #[arg(long, value_name = "DURATION", default_value = "3s")]
    pub timeout: String,
    /// Attempts after the first when there is no answer.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u8,
    /// Print JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Only test the connection; do not identify the service.
    #[arg(long = "no-detect")]
    pub no_detect: bool,
    #[command(flatten)]
    pub detection: DetectArgs,
    #[command(flatten)]
    pub save: SaveArgs,
}

/// Where runs are remembered.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The store: sqlite:PATH, a file path, or postgres://USER@HOST/DB. Default: PORTENT_STORE,
    /// else `store` in a config file, else store.sqlite in the data directory
    /// (PORTENT_DATA_DIR).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// Saving a run (scan, check, listening).
#[derive(Debug, Clone, Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Do not remember this run (by default every run is saved to the store, after its output;
    /// a store that cannot be written is a warning, never a failed run).
    #[arg(long)]
    pub no_save: bool,
    /// The host identity saved with the run, which the fleet view groups by (default:
    /// PORTENT_HOST_ID, else `host_id` in a config file, else the host name and the first 12
    /// digits of an app-specific id derived from /etc/machine-id: `web-1@3f2a9c1e0b7d`).
    #[arg(long = "host-id", value_name = "ID", value_parser = host_id)]
    pub host_id: Option<String>,
}

/// A `--host-id`: printable, no spaces or slashes, at most 255 bytes.
pub(crate) fn host_id(s: &str) -> Result<String, String> {
    crate::cmd::save::check_host_id(s).map(str::to_owned)
}

#[derive(Debug, Args)]
#[command(after_help = "\
RUN references: a run id (20261204-181512-3f2a), a unique prefix of one (20261204-18), last
(the newest run), last~N (the N-th before it) or a scan's name (scan --scan-name). A named scan
merged from shards says how many of its shards are done and which are missing.")]
pub struct HistoryArgs {
    /// A host (address) whose ports to follow across runs.
    pub host: Option<String>,
    /// Only this port of HOST.
    #[arg(requires = "host")]
    pub port: Option<u16>,
    /// Only runs of this kind: scan, check or listening.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only runs saved by this host (fleet): its host id, host name or a unique prefix of its
    /// id (`--host-id` of the saving command).
    #[arg(long, value_name = "HOST", conflicts_with = "host")]
    pub machine: Option<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Print JSON: {"hosts": [...], "totals": {...}}, as /api/fleet (docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
RUN references: a run id, a unique prefix of one, last, last~N or a scan's name (scan
--scan-name). A port is only called closed when the later run was complete and asked for it:
an interrupted run, or a named scan with shards missing, never turns ports it may not have
probed into closures.")]
pub struct DiffArgs {
    /// Two runs, older first; none for the last two complete runs over the same targets.
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Compare listening snapshots: a socket is (protocol, address, port, executable, user),
    /// so a daemon restarted with a new PID is no change.
    #[arg(long)]
    pub listening: bool,
    /// Compare this host's listening snapshots (implies --listening): its host id, host name
    /// or a unique prefix of its id. Without RUNs, its newest two whole snapshots of one
    /// namespace; last and last~N count its snapshots only.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Print JSON: {"from", "to", "changes": [...]} (docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// An allow-list (TOML, docs/json.md): open ports or sockets outside it are reported as
    /// unexpected, even when they were there last time.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  portent show last                 the newest run, as its command printed it
  portent show last~1 --json        the run before it, as its --json document
  portent show 20261204 --csv       a scan by a unique prefix of its id, as CSV
  portent show last -oX last.xml    a scan as nmap XML (ndiff reads it)
  portent show nightly              a scan merged from its shards (scan --scan-name nightly),
                                    with the shards done and missing

Scans and checks are shown in their command's forms; listening snapshots, runs that never
finished (killed) and scans merged from shards are shown as the store keeps them.")]
pub struct ShowArgs {
    /// The run: an id, a unique prefix, last, last~N or a scan's name (--scan-name).
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Print the run's JSON document, as the original command printed it.
    #[arg(long, conflicts_with_all = ["jsonl", "csv"])]
    pub json: bool,
    /// Print a scan as JSON Lines, as `scan --jsonl` does (schema: docs/json.md).
    #[arg(long, conflicts_with = "csv")]
    pub jsonl: bool,
    /// Print a scan as CSV, as `scan --csv` does.
    #[arg(long)]
    pub csv: bool,
    /// Write a scan as nmap XML to FILE (`-` for stdout, alone), as `scan -oX` does. Also -oX.
    #[arg(long, value_name = "FILE")]
    pub xml_out: Option<PathBuf>,
    /// Write a scan in nmap's grepable format to FILE (`-` for stdout, alone), as `scan -oG`
    /// does. Also -oG.
    #[arg(long, value_name = "FILE")]
    pub grepable_out: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  portent watch 192.0.2.7 -p 1-1024 --every 10m  print ports that open, close or change
  portent watch --listening --every 30s          print listeners that start or stop
  portent watch --listening --jsonl --count 10   ten rounds of osquery-style change lines

Each round is saved to the store (--no-save skips it); the first round compares with the
newest stored complete run over the same targets (or namespace), when there is one.")]
pub struct WatchArgs {
    /// Watch this machine's listening sockets instead of scanning targets.
    #[arg(long, conflicts_with = "targets")]
    pub listening: bool,
    /// Time between rounds: 10m for scans and 30s for --listening by default; 500ms, 2s...
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Stop after this many rounds.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// With --listening: inside this network namespace (a name under /run/netns, or a path).
    #[arg(long, value_name = "NAME|PATH", requires = "listening")]
    pub netns: Option<String>,
    /// An allow-list (TOML, docs/json.md; for --listening the host is "local"): what is open
    /// outside it is reported as unexpected in the first round.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// The scan to repeat: the targets and options of `portent scan` (--jsonl prints one
    /// JSON object per change, --no-save and --store as for scan).
    #[command(flatten)]
    pub scan: ScanArgs,
}

/// `serve --listen`: a port alone is on loopback, `localhost` is 127.0.0.1 (not whatever the
/// resolver lists first), other names are resolved.
fn listen_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
    let s = s.trim();
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err("give ADDRESS:PORT, [IPv6]:PORT, localhost:PORT or a port (7970)".into());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{port}' is not a port number (1-65535)"))?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{host}': {e}"))?
        .next()
        .ok_or_else(|| format!("'{host}' has no addresses"))
}

/// nmap's -T: a number 0-5 or the template's name.
fn timing_template(s: &str) -> Result<u8, String> {
    const NAMES: [&str; 6] = [
        "paranoid",
        "sneaky",
        "polite",
        "normal",
        "aggressive",
        "insane",
    ];
    match s.parse::<u8>() {
        Ok(n) if n <= 5 => Ok(n),
        _ => NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as u8)
            .ok_or_else(|| format!("a timing template is 0-5 or one of {}", NAMES.join(", "))),
    }
}

/// A count that must be at least 1 (`--threads`, `--detect-concurrency`): 0 is refused with
/// a reason rather than quietly raised to 1.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (0 would do no work at all)".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
