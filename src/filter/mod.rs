//! The inline spam and abuse filter (issue 5), built up in parts: each
//! submodule is a self-contained building block with its own tests; the
//! pipeline stage that combines them into a verdict comes on top.

pub mod classifier;
pub mod normalize;
pub mod reassembly;
pub mod rules;
pub mod sender;
pub mod urls;
pub mod velocity;
