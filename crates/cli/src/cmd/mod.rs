//! One module per subcommand.

pub mod check;
pub mod config;
pub mod detect;
pub mod listening;
pub mod memory;
pub mod port;
pub mod registry;
pub mod save;
pub mod scan;
mod scan_grep;
mod scan_xml;
pub mod search;
pub mod serve;
