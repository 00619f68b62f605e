//! Reusable support for tests that talk to real services: a real Prometheus server
//! ([`prometheus`]) scraping simulated service versions of our own ([`target`]).

// Each test uses only some helpers; the rest would warn as dead code.
#![allow(dead_code)]

pub mod browser;
pub mod daemon;
pub mod haproxy;
pub mod load;
pub mod prometheus;
pub mod target;
pub mod web;
