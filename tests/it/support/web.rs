//! A tiny HTTP service for traffic tests: one version of an app that answers every request
//! with a fixed body (e.g. `yellow` for the baseline, `purple` for the canary), so a test can
//! tell from the answers where a load balancer sent them.
//!
//! [`Web::start`] serves on `127.0.0.1:0` in-process. Its [`Behaviour`] can change while it
//! runs ([`Web::set`]): a share of answers that are `500` and a delay before each answer.
//! Failures are spread deterministically: after `n` requests exactly `⌊n · error_rate⌋` have
//! failed, so tests need no tolerance for them.

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

struct Service {
    body: String,
    behaviour: Behaviour,
    ok: u64,
    errors: u64,
}

/// A running service; it stops when this is dropped.
pub struct Web {
    addr: SocketAddr,
    state: Arc<Mutex<Service>>,
    server: tokio::task::JoinHandle<()>,
}

impl Web {
    /// Serve `body` (status 200, `text/plain`) on every path.
    pub async fn start(body: &str) -> Web {
        let state = Arc::new(Mutex::new(Service {
            body: body.to_string(),
            behaviour: Behaviour::default(),
            ok: 0,
            errors: 0,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the web service");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let app = axum::Router::new()
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
    if fail {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{body} failed"))
    } else {
        (StatusCode::OK, body)
    }
}
