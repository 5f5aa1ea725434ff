//! The command line, as clap sees it. Nothing here does work: `main` turns these raw flags into
//! calls on the library crates, so the libraries never see clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  portent 797                 what port 797 is, and why an open one matters
  portent port ldap           the port page for a service name
  portent search netinfo      ranked search of names, descriptions and notes
  portent listening           what listens here, who owns it, and what the registry says
  portent listening --ghosts  only listeners on ports the registry does not assign
  portent registry info       which registry data is in use, and counts
  portent registry export     every port and protocol as JSON Lines

Exit status: 0 when the answer was found, 1 when nothing was found, 2 on errors
(bad input, unreadable files).";

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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to generate for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from this command line definition.
    Man,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// A port number (797), a port and protocol (797/tcp), or a service name (ldap).
    #[arg(value_name = "PORT|NAME", allow_hyphen_values = true)]
    pub query: String,
    /// Print JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Flags: ghost = the registry does not assign the port for this protocol (red in the system
range); exposed = bound to a wildcard or non-loopback address; ephemeral = inside this host's
ephemeral range; dual-stack = a [::] socket that also serves IPv4.

Without root, sockets of other users are still listed, but their owners are not readable;
portent says so. Sockets in other network namespaces (containers) are not in view: use
--netns.")]
pub struct ListeningArgs {
    /// Only this port (same as --port).
    #[arg(value_name = "PORT", conflicts_with = "port")]
    pub port_arg: Option<u16>,
    /// Only this port.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Only TCP (listening sockets).
    #[arg(long, conflicts_with = "udp")]
    pub tcp: bool,
    /// Only UDP (bound, unconnected sockets).
    #[arg(long)]
    pub udp: bool,
    /// Only ghosts: ports the registry does not assign for the protocol.
    #[arg(long)]
    pub ghosts: bool,
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
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7970")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback address: the pages show this machine's processes and command
    /// lines to anyone who can reach it.
    #[arg(long)]
    pub public: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to look for; every word must match.
    #[arg(value_name = "TEXT", required = true, num_args = 1..)]
    pub text: Vec<String>,
    /// Show at most this many results.
    #[arg(short = 'n', long, default_value_t = 25)]
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
