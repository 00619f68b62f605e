//! One file per judge kind.

pub mod band;
pub mod mann_whitney;
pub mod threshold;

/// The one number format (see [`mod@crate::format`]).
pub use crate::format::num;
