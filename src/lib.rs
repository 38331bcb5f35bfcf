//! Telegate: an SMPP/SIP telecom gateway daemon.
//!
//! This library holds the daemon's logic so that tests can start a whole
//! gateway in-process; `src/main.rs` only parses the command line.

pub mod config;
pub mod routing;

/// The SMPP codec the daemon is built on.
pub use telegate_smpp as smpp_codec;

/// The version string shown by `telegate --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
