//! A load generator for traffic tests: GETs a URL at a steady rate and counts the answers
//! by body (`"yellow"`, `"purple"`) or status (`"HTTP 500"`, `"HTTP 503"`, `"network"`).
//!
//! Requests start on a fixed schedule (`per_second`), each in its own task, at most
//! `max_in_flight` at once; a request that would exceed that is counted as `"skipped"`
//! instead of piling up. [`Load::take`] returns the counts since the last take, so a test can
//! look at what one phase of a deploy served.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// A running load generator; it stops when dropped.
pub struct Load {
    counts: Counts,
    ticker: tokio::task::JoinHandle<()>,
}

impl Load {
    /// GET `url` `per_second` times a second.
    pub fn start(url: &str, per_second: f64, max_in_flight: usize) -> Load {
        let counts: Counts = Arc::default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("build an HTTP client");
        let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
        let (url, record) = (url.to_string(), counts.clone());
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    bump(&record, "skipped");
                    continue;
                };
                let (http, url, record) = (http.clone(), url.clone(), record.clone());
                tokio::spawn(async move {
                    let key = match http.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            r.text().await.unwrap_or_default().trim().to_string()
                        }
                        Ok(r) => format!("HTTP {}", r.status().as_u16()),
                        Err(_) => "network".to_string(),
                    };
                    bump(&record, &key);
                    drop(slot);
                });
            }
        });
        Load { counts, ticker }
    }

    /// Answers since the last call, by body or status.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().expect("no panic holding the counts"))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

fn bump(counts: &Counts, key: &str) {
    *counts
        .lock()
        .expect("no panic holding the counts")
        .entry(key.to_string())
        .or_insert(0) += 1;
}
