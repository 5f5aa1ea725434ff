//! One module per subcommand.

pub mod port;
pub mod registry;
pub mod search;
