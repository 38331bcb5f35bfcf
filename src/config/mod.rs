//! Configuration: TOML schema, loading and validation.

mod schema;
pub mod units;

pub use schema::*;
pub use units::{ByteSize, Duration, Secret};

impl Config {
    /// Parses a config (without validation; placeholder until the loader lands).
    pub fn from_toml(s: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(s)
    }
}
