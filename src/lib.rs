//! canaryd: statistical canary analysis with deploy integration.
//!
//! Data flows one way: [`collectors`] read baseline and canary observations into metric
//! pairs (per metric and label set), [`analysis`] judges every pair with the pure
//! statistics of the `canary-judges` crate and scores the results into a verdict, and
//! [`report`] renders the verdict with every number behind it. [`config`] reads and
//! validates canary configs (canaryd's own TOML/JSON/YAML and Kayenta's JSON), and [`cli`]
//! is the command line on top of all of it.

pub mod analysis;
pub mod api;
pub mod cli;
pub mod collectors;
pub mod config;
pub mod eval;
pub mod pipeline;
pub mod replay;
pub mod report;
pub mod routers;
pub mod secret;
pub mod sim;
pub mod store;
pub mod suggest;
pub mod telemetry;
pub mod text;
pub mod time;

pub use canary_judges as judges;
