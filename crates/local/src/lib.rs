//! This machine's view of ports: what the kernel allows (privileged and ephemeral ranges),
//! which sockets listen and which processes own them, and what the registry says about each.

#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod listening;
pub mod meaning;
