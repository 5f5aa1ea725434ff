//! One module per subcommand.

pub mod listening;
pub mod port;
pub mod registry;
pub mod search;
pub mod serve;
