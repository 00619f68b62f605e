//! Integration tests of canary-judges: one binary, one module per area.

mod band;
mod conformance;
mod hosts;
mod onsets;
mod oracle;
mod rules;
mod sequential_fixtures;
mod short_counts;
