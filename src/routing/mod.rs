//! Routing: destination normalisation, the prefix table that picks a
//! submit's carriers, and the MO table that picks the account a mobile
//! originated message goes to.
//!
//! Everything here is built once per configuration (at start and on
//! reload, off to the side) and then only read; the per-message calls
//! ([`normalize`], [`RoutingTable::lookup`], [`Route::candidates`],
//! [`MoTable::lookup`]) allocate nothing.

mod country;
mod mo;
mod normalize;
mod table;

pub use country::country_code;
pub use mo::MoTable;
pub use normalize::{normalize, MAX_DIGITS};
pub use table::{Candidates, Route, RoutingTable, MAX_ROUTE_CARRIERS};

/// Index of a carrier in `Config::carriers`.
pub type CarrierIdx = u16;

/// Index of an account in `Config::accounts`.
pub type AccountIdx = u16;
