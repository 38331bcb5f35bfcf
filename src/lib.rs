//! Telegate: an SMPP/SIP telecom gateway daemon.
//!
//! This library holds the daemon's logic so that tests can start a whole
//! gateway in-process; `src/main.rs` only parses the command line.
//!
//! A submit_sm's path: [`smpp`] (ESME session: bind, window, throttle) →
//! [`gateway`] (data path) → [`routing`] (prefix table) → [`smpp`]
//! (carrier binds) → back with the gateway's id from [`ids`]; its receipt
//! finds the ESME again through [`dlr`].

pub mod admin;
pub mod auth;
pub mod cdr;
mod clock;
pub mod config;
pub mod demo;
pub mod dlr;
pub mod filter;
pub mod gateway;
mod hash;
pub mod ids;
pub mod logging;
pub mod metrics;
pub mod name;
pub mod notify;
pub mod routing;
pub mod sim;
pub mod smpp;

/// The SMPP codec the daemon is built on.
pub use telegate_smpp as smpp_codec;

/// The version string shown by `telegate --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
