//! Delivery receipts: the durable map from carrier message ids to gateway
//! ids ([`store`]), rewriting receipts for the ESME ([`rewrite`]), and the
//! receipts held while an account has no receiver bind ([`held`]).

pub mod held;
pub(crate) mod late;
pub mod rewrite;
pub mod store;

pub use held::HeldQueues;
pub use store::{DlrStore, LogOptions, LogStore, Mapping, MemoryStore, MsgId, StoreStats};
