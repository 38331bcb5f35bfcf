//! SMPP sessions: the ESME-facing server and the carrier-facing client
//! binds, over TCP or TLS.

pub mod carrier;
pub(crate) mod io;
pub(crate) mod seqmap;
pub(crate) mod server;
pub(crate) mod throttle;
pub(crate) mod tls;

pub use carrier::BindState;
