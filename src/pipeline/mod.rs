//! Pipelines: declarative promotion of a canary through traffic stages, gated on analyses,
//! smoke tests, people and time windows, with automatic rollback.
//!
//! [`spec`] reads and validates pipeline specs (strategies expand into stages), [`window`]
//! decides when stages may run, and [`state`] is the pure state machine of an execution.
//! The runner — the only code that moves traffic — performs the state machine's actions
//! through a [`crate::routers::TrafficRouter`], storing every transition first.

pub mod notify;
pub mod runner;
pub mod smoke;
pub mod spec;
pub mod state;
pub mod timeline;
pub mod window;
