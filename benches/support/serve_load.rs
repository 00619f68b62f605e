//! An open-loop GET client at a fixed rate: the latency of every request from its scheduled
//! send time.

use super::*;

pub(super) struct Load {
    /// Milliseconds from each request's scheduled send time to its whole answer, sorted.
    pub(super) latencies: Vec<f64>,
    pub(super) scheduled: usize,
    /// Not sent: `MAX_IN_FLIGHT` requests were already waiting.
    pub(super) skipped: usize,
    pub(super) errors: usize,
    pub(super) elapsed: Duration,
}

impl Load {
    pub(super) fn p(&self, q: f64) -> f64 {
        percentile(&self.latencies, q)
    }

    pub(super) fn healthy(&self) -> bool {
        self.skipped == 0 && self.errors == 0
    }

    pub(super) fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub(super) fn short(&self) -> String {
        let mut s = format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; {:.0}/s achieved",
            self.p(0.5),
            self.p(0.99),
            self.p(1.0),
            self.rate()
        );
        if !self.healthy() {
            let _ = write!(s, "; {} not sent, {} errors", self.skipped, self.errors);
        }
        s
    }
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} scheduled, {} answered 200 in {:.2} s ({:.0}/s), {} not sent, {} errors; \
             p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.scheduled,
            self.latencies.len(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.skipped,
            self.errors,
            self.p(0.5),
            self.p(0.9),
            self.p(0.99),
            self.p(0.999),
            self.p(1.0)
        )
    }
}

/// GET `url` at `rate` per second for `duration`, each request sent at its scheduled time
/// whether or not earlier ones have answered.
pub(super) async fn fixed_rate(url: &str, rate: f64, duration: Duration) -> Load {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let _ = http
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status());
    let period = Duration::from_secs_f64(1.0 / rate);
    let n = (rate * duration.as_secs_f64()).round() as usize;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let begin = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(n);
    let mut skipped = 0;
    for i in 0..n {
        let due = begin + period.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
            skipped += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (http, url, in_flight) = (http.clone(), url.to_string(), in_flight.clone());
        tasks.push(tokio::spawn(async move {
            let ok = match http.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            let ms = due.elapsed().as_secs_f64() * 1000.0;
            in_flight.fetch_sub(1, Ordering::Relaxed);
            ok.then_some(ms)
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok(Some(ms)) => latencies.push(ms),
            _ => errors += 1,
        }
    }
    let elapsed = begin.elapsed();
    latencies.sort_by(f64::total_cmp);
    Load {
        latencies,
        scheduled: n,
        skipped,
        errors,
        elapsed,
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers.
