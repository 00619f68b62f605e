//! A simulated service version that a real Prometheus can scrape.
//!
//! [`Target`] is an in-process axum server on `127.0.0.1:0` serving Prometheus text metrics at
//! `/metrics` for ONE version of a service. Nothing runs between scrapes: every scrape first
//! advances the simulated traffic by the real time elapsed since the previous one (Poisson
//! request counts, `Binomial(n, error_rate)` errors, lognormal latencies), then renders
//!
//! - `http_requests_total{version, route, code}` (code `"200"` and `"500"`), and
//! - `http_request_duration_seconds{version, route}` as a histogram ([`BUCKETS`]).
//!
//! Counters only grow. The RNG is a ChaCha seeded from the version string, so runs repeat up
//! to timing. [`TargetHandle::set`] changes an API's [`Behaviour`] while the server runs.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, LogNormal, Poisson};

/// A canary config over these metrics: one critical error-ratio metric per API, judged by the
/// anytime-valid sequential judge (stops early on a fail).
pub const SEQUENTIAL_ERRORS: &str = r#"
name = "errors-sequential"
applications = ["shop"]

[[metrics]]
name = "errors"
direction = "increase"
critical = true
judge = { kind = "sequential", alpha = 0.01, tolerance = 0.5 }
[metrics.query]
kind = "ratio"
errors = 'http_requests_total{version="${scope}", code="500"}'
total = 'http_requests_total{version="${scope}"}'
split_by = ["route"]
"#;

/// Upper bounds (`le`) of the latency histogram, in seconds; `+Inf` comes after them.
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0,
];

/// Median latency of an API at `latency_factor = 1`, unless set otherwise.
pub const DEFAULT_MEDIAN_S: f64 = 0.05;

/// Shape (σ of the log) of every latency distribution: p99 ≈ 3.2 × median.
pub const LATENCY_SIGMA: f64 = 0.5;

/// Above this many requests in one step, latencies are drawn per bucket by binomial splitting
/// instead of one draw per request.
const PER_REQUEST_MAX: u64 = 4096;

/// How one API of the version behaves from now on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Mean request rate (requests per second).
    pub requests_per_s: f64,
    /// Multiplies the API's median latency.
    pub latency_factor: f64,
    /// Probability that a request answers 500.
    pub error_rate: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            requests_per_s: 50.0,
            latency_factor: 1.0,
            error_rate: 0.001,
        }
    }
}

/// A running simulated version; the server stops when this is dropped.
pub struct Target {
    addr: SocketAddr,
    handle: TargetHandle,
    server: tokio::task::JoinHandle<()>,
}

/// A cloneable handle that changes a [`Target`]'s behaviour at runtime.
#[derive(Clone)]
pub struct TargetHandle(Arc<Mutex<Sim>>);

impl Target {
    /// Serve `/metrics` for `version` with the given `apis` (the `route` label), all starting
    /// with `behaviour` and a median latency of [`DEFAULT_MEDIAN_S`].
    pub async fn start(version: &str, apis: &[&str], behaviour: Behaviour) -> Target {
        Self::start_instance(version, 0, apis, behaviour).await
    }

    /// [`Target::start`] for one of several instances of `version`: instance `k` draws
    /// its own random numbers (instance 0 is the one `start` runs).
    pub async fn start_instance(
        version: &str,
        k: u64,
        apis: &[&str],
        behaviour: Behaviour,
    ) -> Target {
        let mut sim = Sim::new(version, apis, behaviour);
        if k > 0 {
            sim.rng = ChaCha8Rng::seed_from_u64(
                fnv1a(version.as_bytes()) ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
        }
        let handle = TargetHandle(Arc::new(Mutex::new(sim)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the target");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let app = axum::Router::new()
            .route("/metrics", get(metrics))
            .with_state(handle.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the target server runs");
        });
        Target {
            addr,
            handle,
            server,
        }
    }

    /// Where Prometheus should scrape (`/metrics` on this address).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle for changing behaviour from elsewhere.
    pub fn handle(&self) -> TargetHandle {
        self.handle.clone()
    }

    /// Shortcut for [`TargetHandle::set`].
    pub fn set(&self, api: &str, behaviour: Behaviour) {
        self.handle.set(api, behaviour);
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TargetHandle {
    /// From now on, `api` behaves as `behaviour` (traffic until now keeps the old one).
    /// Panics if the target has no such API.
    pub fn set(&self, api: &str, behaviour: Behaviour) {
        self.with_api(api, |a| a.behaviour = behaviour);
    }

    /// From now on, every API behaves as `behaviour`.
    pub fn set_all(&self, behaviour: Behaviour) {
        let mut sim = self.lock();
        sim.advance(Instant::now());
        for a in &mut sim.apis {
            a.behaviour = behaviour;
        }
    }

    /// From now on, `api`'s median latency (before `latency_factor`) is `median`.
    pub fn set_median_latency(&self, api: &str, median: Duration) {
        self.with_api(api, |a| a.median_s = median.as_secs_f64());
    }

    /// Requests `api` has answered so far, as `(ok, errors)`, as of the last scrape.
    pub fn served(&self, api: &str) -> (u64, u64) {
        let sim = self.lock();
        let a = sim.api(api);
        (a.ok, a.errors)
    }

    fn with_api(&self, api: &str, f: impl FnOnce(&mut Api)) {
        let mut sim = self.lock();
        sim.advance(Instant::now());
        let i = sim.index(api);
        f(&mut sim.apis[i]);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sim> {
        self.0
            .lock()
            .expect("no panic while the simulation lock is held")
    }
}

async fn metrics(State(handle): State<TargetHandle>) -> impl IntoResponse {
    let body = {
        let mut sim = handle.lock();
        sim.advance(Instant::now());
        sim.render()
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// The simulated state of one version.
struct Sim {
    version: String,
    apis: Vec<Api>,
    rng: ChaCha8Rng,
    last: Instant,
}

/// Cumulative counters of one API.
struct Api {
    route: String,
    behaviour: Behaviour,
    median_s: f64,
    ok: u64,
    errors: u64,
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: [u64; BUCKETS.len() + 1],
    sum_s: f64,
}

impl Sim {
    fn new(version: &str, apis: &[&str], behaviour: Behaviour) -> Sim {
        let apis = apis
            .iter()
            .map(|r| Api {
                route: (*r).to_owned(),
                behaviour,
                median_s: DEFAULT_MEDIAN_S,
                ok: 0,
                errors: 0,
                buckets: [0; BUCKETS.len() + 1],
                sum_s: 0.0,
            })
            .collect();
        Sim {
            version: version.to_owned(),
            apis,
            rng: ChaCha8Rng::seed_from_u64(fnv1a(version.as_bytes())),
            last: Instant::now(),
        }
    }

    fn index(&self, api: &str) -> usize {
        self.apis
            .iter()
            .position(|a| a.route == api)
            .unwrap_or_else(|| panic!("target {} has no API {api:?}", self.version))
    }

    fn api(&self, api: &str) -> &Api {
        &self.apis[self.index(api)]
    }

    /// Simulate the traffic between the previous step and `now`.
    fn advance(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        for api in &mut self.apis {
            api.step(dt, &mut self.rng);
        }
    }

    fn render(&self) -> String {
        let v = escape(&self.version);
        let mut out = String::new();
        out.push_str("# HELP http_requests_total Requests answered, by status code.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for a in &self.apis {
            let r = escape(&a.route);
            for (code, n) in [("200", a.ok), ("500", a.errors)] {
                let _ = writeln!(
                    out,
                    "http_requests_total{{version=\"{v}\",route=\"{r}\",code=\"{code}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        let name = "http_request_duration_seconds";
        for a in &self.apis {
            let labels = format!("version=\"{v}\",route=\"{}\"", escape(&a.route));
            let mut cumulative = 0;
            for (i, n) in a.buckets.iter().enumerate() {
                cumulative += n;
                let le = BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), f64::to_string);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", a.sum_s);
            let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
        }
        out
    }
}

impl Api {
    /// Add `dt` seconds of traffic.
    fn step(&mut self, dt: f64, rng: &mut ChaCha8Rng) {
        let b = self.behaviour;
        let lambda = b.requests_per_s * dt;
        if !lambda.is_finite() || lambda <= 0.0 {
            return;
        }
        let n = Poisson::new(lambda)
            .expect("a positive finite rate is a valid Poisson mean")
            .sample(rng) as u64;
        if n == 0 {
            return;
        }
        let p_err = b.error_rate.clamp(0.0, 1.0);
        let errors = Binomial::new(n, p_err)
            .expect("p is clamped to [0, 1]")
            .sample(rng);
        self.errors += errors;
        self.ok += n - errors;

        let mu = (self.median_s * b.latency_factor).ln();
        if n <= PER_REQUEST_MAX {
            let d = LogNormal::new(mu, LATENCY_SIGMA).expect("σ > 0 and μ is finite");
            for _ in 0..n {
                let x = d.sample(rng);
                self.buckets[BUCKETS.partition_point(|&le| le < x)] += 1;
                self.sum_s += x;
            }
        } else {
            self.split(n, mu, rng);
        }
    }

    /// Place `n` lognormal(μ, σ) latencies into buckets by sequential binomial splitting;
    /// the sum adds each bucket's count times the distribution's mean within the bucket.
    fn split(&mut self, n: u64, mu: f64, rng: &mut ChaCha8Rng) {
        let s = LATENCY_SIGMA;
        let z = |x: f64| (x.ln() - mu) / s;
        let mean = (mu + s * s / 2.0).exp();
        let mut remaining = n;
        let mut mass_left = 1.0;
        let mut lower = 0.0_f64;
        for i in 0..=BUCKETS.len() {
            let upper = BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            let (cdf_lo, cdf_hi) = (phi(z(lower)), phi(z(upper)));
            let p = (cdf_hi - cdf_lo).max(0.0);
            let c = if i == BUCKETS.len() || mass_left <= 0.0 {
                remaining
            } else {
                let q = (p / mass_left).clamp(0.0, 1.0);
                Binomial::new(remaining, q)
                    .expect("q is clamped to [0, 1]")
                    .sample(rng)
            };
            if c > 0 && p > 0.0 {
                // E[X; lower < X <= upper] = e^(μ+σ²/2) (Φ(z(upper) - σ) - Φ(z(lower) - σ))
                let partial = mean * (phi(z(upper) - s) - phi(z(lower) - s));
                self.sum_s += c as f64 * partial / p;
            }
            self.buckets[i] += c;
            remaining -= c;
            mass_left -= p;
            lower = upper;
        }
    }
}

/// The standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Escape a label value for the text exposition format.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A stable seed from the version name (FNV-1a), so v1 and v2 draw different traffic.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_matches_per_request_draws() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut big = Api {
            route: "/x".into(),
            behaviour: Behaviour::default(),
            median_s: DEFAULT_MEDIAN_S,
            ok: 0,
            errors: 0,
            buckets: [0; BUCKETS.len() + 1],
            sum_s: 0.0,
        };
        let n = 1_000_000;
        big.split(n, DEFAULT_MEDIAN_S.ln(), &mut rng);
        assert_eq!(big.buckets.iter().sum::<u64>(), n);
        // Median on the 0.05 bound: half the requests at or below it.
        let below: u64 = big.buckets[..4].iter().sum();
        assert!((below as f64 / n as f64 - 0.5).abs() < 0.005, "{below}");
        let mean = big.sum_s / n as f64;
        let expected = (DEFAULT_MEDIAN_S.ln() + LATENCY_SIGMA.powi(2) / 2.0).exp();
        assert!((mean / expected - 1.0).abs() < 0.01, "{mean} vs {expected}");
    }
}
