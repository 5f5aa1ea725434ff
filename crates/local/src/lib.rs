//! This machine's view of ports: what the kernel allows (privileged and ephemeral ranges) and,
//! in time, which sockets listen and which processes own them.

pub mod host;
