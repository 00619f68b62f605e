//! A tiny HTTP service for traffic tests: one version of an app that answers every request
//! with a fixed body (e.g. `yellow` for the baseline, `purple` for the canary), so a test can
//! tell from the answers where a load balancer sent them.
//!
//! [`Web::start`] serves on `127.0.0.1:0` in-process. Its [`Behaviour`] can change while it
//! runs ([`Web::set`]): a share of answers that are `500` and a delay before each answer.
//! Failures are spread deterministically: after `n` requests exactly `⌊n · error_rate⌋` have
//! failed, so tests need no tolerance for them.
//!
//! `GET /metrics` (not counted as traffic) shows what it served in Prometheus text, labelled
//! with its version: `http_requests_total{version, code}` (`200` and `500`) and the histogram
//! `http_request_duration_seconds{version}` of the time each answer took (delay included).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;

/// How the service answers from now on.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Behaviour {
    /// Share of requests answered `500` (0–1).
    pub error_rate: f64,
    /// Wait before each answer.
    pub delay: Duration,
}

/// Upper bounds (`le`) of the latency histogram, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

struct Service {
    version: String,
    body: String,
    behaviour: Behaviour,
    ok: u64,
    errors: u64,
    /// Answers per bucket of [`BUCKETS`] (not cumulative), and above the last.
    buckets: [u64; BUCKETS.len() + 1],
    latency_sum: f64,
}

/// A running service; it stops when this is dropped.
pub struct Web {
    addr: SocketAddr,
    state: Arc<Mutex<Service>>,
    server: tokio::task::JoinHandle<()>,
}

impl Web {
    /// Serve `body` (status 200, `text/plain`) on every path; metrics say `version="<body>"`.
    pub async fn start(body: &str) -> Web {
        Self::start_version(body, body).await
    }

    /// Serve `body` on every path but `/metrics`, whose series say `version`.
    pub async fn start_version(version: &str, body: &str) -> Web {
        let state = Arc::new(Mutex::new(Service {
            version: version.to_string(),
            body: body.to_string(),
            behaviour: Behaviour::default(),
            ok: 0,
            errors: 0,
            buckets: [0; BUCKETS.len() + 1],
            latency_sum: 0.0,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the web service");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let app = axum::Router::new()
            .route("/metrics", axum::routing::get(metrics))
            .fallback(answer)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the web service runs");
        });
        Web {
            addr,
            state,
            server,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer with `behaviour` from now on.
    pub fn set(&self, behaviour: Behaviour) {
        lock(&self.state).behaviour = behaviour;
    }

    /// Requests answered so far: `(ok, errors)`.
    pub fn served(&self) -> (u64, u64) {
        let s = lock(&self.state);
        (s.ok, s.errors)
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(state: &Mutex<Service>) -> std::sync::MutexGuard<'_, Service> {
    state
        .lock()
        .expect("no panic while the service lock is held")
}

async fn answer(State(state): State<Arc<Mutex<Service>>>) -> (StatusCode, String) {
    let started = std::time::Instant::now();
    let (fail, delay, body) = {
        let mut s = lock(&state);
        let n = s.ok + s.errors + 1;
        let fail = (n as f64 * s.behaviour.error_rate).floor() as u64 > s.errors;
        if fail {
            s.errors += 1;
        } else {
            s.ok += 1;
        }
        (fail, s.behaviour.delay, s.body.clone())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    {
        let took = started.elapsed().as_secs_f64();
        let mut s = lock(&state);
        let i = BUCKETS
            .iter()
            .position(|&le| took <= le)
            .unwrap_or(BUCKETS.len());
        s.buckets[i] += 1;
        s.latency_sum += took;
    }
    if fail {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{body} failed"))
    } else {
        (StatusCode::OK, body)
    }
}

async fn metrics(State(state): State<Arc<Mutex<Service>>>) -> String {
    use std::fmt::Write as _;
    let s = lock(&state);
    let v = &s.version;
    let mut out = String::new();
    let _ = writeln!(out, "# TYPE http_requests_total counter");
    let _ = writeln!(
        out,
        "http_requests_total{{version=\"{v}\",code=\"200\"}} {}",
        s.ok
    );
    let _ = writeln!(
        out,
        "http_requests_total{{version=\"{v}\",code=\"500\"}} {}",
        s.errors
    );
    let _ = writeln!(out, "# TYPE http_request_duration_seconds histogram");
    let mut cumulative = 0;
    for (le, n) in BUCKETS.iter().zip(&s.buckets) {
        cumulative += n;
        let _ = writeln!(
            out,
            "http_request_duration_seconds_bucket{{version=\"{v}\",le=\"{le}\"}} {cumulative}"
        );
    }
    let count = cumulative + s.buckets[BUCKETS.len()];
    let _ = writeln!(
        out,
        "http_request_duration_seconds_bucket{{version=\"{v}\",le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "http_request_duration_seconds_sum{{version=\"{v}\"}} {}",
        s.latency_sum
    );
    let _ = writeln!(
        out,
        "http_request_duration_seconds_count{{version=\"{v}\"}} {count}"
    );
    out
}
