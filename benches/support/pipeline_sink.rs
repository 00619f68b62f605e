//! The webhook sink the scale benchmark's router calls: every hit recorded, and the check
//! that no step was missed or doubled.

use super::*;

/// One POST the sink received.
pub(super) struct Hit {
    pub(super) at: f64,
    pub(super) delivery: String,
    /// 1 for the first POST of this delivery id.
    pub(super) attempt: u32,
    pub(super) execution: String,
    /// `set_split 25`, `set_enabled baseline false`, …
    pub(super) step: String,
    pub(super) body: String,
    pub(super) signed: bool,
    /// Answered 503 on purpose (`--sink-fail-every`).
    pub(super) refused: bool,
}

#[derive(Default)]
pub(super) struct SinkLog {
    pub(super) hits: Vec<Hit>,
    pub(super) attempts: HashMap<String, u32>,
    pub(super) fail_every: u64,
}

/// An in-process HTTP server that records every webhook POST; stops when dropped.
pub(super) struct Sink {
    pub(super) url: String,
    pub(super) log: Arc<Mutex<SinkLog>>,
    pub(super) server: tokio::task::JoinHandle<()>,
}

impl Sink {
    pub(super) async fn start(fail_every: u64) -> Sink {
        let log = Arc::new(Mutex::new(SinkLog {
            fail_every,
            ..SinkLog::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let addr = listener.local_addr().expect("the sink's address");
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(log.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the sink runs");
        });
        Sink {
            url: format!("http://{addr}/hook"),
            log,
            server,
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, SinkLog> {
        lock(&self.log)
    }

    /// Distinct delivery ids so far.
    pub(super) fn deliveries(&self) -> usize {
        self.lock().attempts.len()
    }

    pub(super) fn hits(&self) -> Vec<Hit> {
        std::mem::take(&mut self.lock().hits)
    }

    /// When the first POST after `t` arrived, waiting up to `timeout` for it.
    pub(super) async fn wait_first_after(&self, t: f64, timeout: Duration) -> Option<f64> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(h) = self.lock().hits.iter().find(|h| h.at > t) {
                return Some(h.at);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub(super) fn lock(log: &Mutex<SinkLog>) -> std::sync::MutexGuard<'_, SinkLog> {
    log.lock().expect("no panic while the sink log is held")
}

pub(super) async fn hook(
    State(log): State<Arc<Mutex<SinkLog>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = now_s();
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let delivery = header("x-canaryd-delivery");
    let signed = header("x-canaryd-timestamp")
        .parse::<u64>()
        .is_ok_and(|ts| {
            canaryd::routers::webhook::signature(SECRET, ts, &body) == header("x-canaryd-signature")
        });
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let step = match v["event"].as_str() {
        Some("set_split") => match v["canary_percent"].as_f64() {
            Some(p) => format!("set_split {p}"),
            None => format!("set_split {}", v["canary_percent"]),
        },
        Some("set_enabled") => format!(
            "set_enabled {} {}",
            v["group"].as_str().unwrap_or("?"),
            v["enabled"]
        ),
        other => format!("{other:?}"),
    };
    let mut log = lock(&log);
    let ordinal = log.attempts.len() as u64 + 1;
    let attempt = {
        let a = log.attempts.entry(delivery.clone()).or_insert(0);
        *a += 1;
        *a
    };
    let refused = log.fail_every > 0 && attempt == 1 && ordinal.is_multiple_of(log.fail_every);
    log.hits.push(Hit {
        at,
        delivery,
        attempt,
        execution: v["execution"].as_str().unwrap_or("").to_string(),
        step,
        body: String::from_utf8_lossy(&body).into_owned(),
        signed,
        refused,
    });
    if refused {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

// ---------------------------------------------------------------------------------------
// Checking the sink's record.

#[derive(Default)]
pub(super) struct Check {
    pub(super) attempts: usize,
    pub(super) deliveries: usize,
    /// POSTs that repeated a delivery id.
    pub(super) retries: usize,
    pub(super) refused: usize,
    pub(super) missed: usize,
    pub(super) doubled: usize,
    pub(super) resent: usize,
    pub(super) out_of_order: usize,
    pub(super) unexpected: usize,
    pub(super) stray: usize,
    pub(super) bad_signatures: usize,
    pub(super) body_mismatch: usize,
    pub(super) examples: Vec<String>,
}

impl Check {
    pub(super) fn clean(&self, restart: bool) -> bool {
        let resent = if restart { 0 } else { self.resent };
        self.missed
            + self.doubled
            + resent
            + self.out_of_order
            + self.unexpected
            + self.stray
            + self.bad_signatures
            + self.body_mismatch
            == 0
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} POSTs, {} distinct deliveries, {} retries, {} answered 503 on purpose; missed {}, \
             doubled {}, re-sent {}, out of order {}, unexpected steps {}, for unknown executions {}, bad \
             signatures {}, bodies differing between attempts {}",
            self.attempts,
            self.deliveries,
            self.retries,
            self.refused,
            self.missed,
            self.doubled,
            self.resent,
            self.out_of_order,
            self.unexpected,
            self.stray,
            self.bad_signatures,
            self.body_mismatch
        )
    }
}

/// Every execution's distinct deliveries, in order of first arrival, must be exactly the
/// expected steps. With `restart`, a step delivered again right after itself (a new delivery
/// id for the same step: the restarted daemon redid its pending action) is "re-sent"; any
/// other repetition is "doubled". Without, every repetition is doubled.
pub(super) fn check(hits: &[Hit], executions: &[(String, f64)], restart: bool) -> Check {
    let expected = expected_steps();
    let mut c = Check {
        attempts: hits.len(),
        ..Check::default()
    };
    // execution → delivery → (first arrival, step, body)
    let mut by_exec: HashMap<&str, HashMap<&str, (f64, &str, &str)>> = HashMap::new();
    for h in hits {
        c.refused += usize::from(h.refused);
        c.bad_signatures += usize::from(!h.signed);
        let d = by_exec
            .entry(&h.execution)
            .or_default()
            .entry(&h.delivery)
            .or_insert((h.at, &h.step, &h.body));
        if d.2 != h.body {
            c.body_mismatch += 1;
        }
        d.0 = d.0.min(h.at);
        c.retries += usize::from(h.attempt > 1);
    }
    c.deliveries = by_exec.values().map(HashMap::len).sum();
    let known: std::collections::HashSet<&str> =
        executions.iter().map(|(id, _)| id.as_str()).collect();
    c.stray = by_exec.keys().filter(|e| !known.contains(*e)).count();
    for (id, _) in executions {
        let mut seq: Vec<(f64, &str)> = by_exec
            .get(id.as_str())
            .map(|m| m.values().map(|(at, step, _)| (*at, *step)).collect())
            .unwrap_or_default();
        seq.sort_by(|a, b| a.0.total_cmp(&b.0));
        let steps: Vec<&str> = seq.iter().map(|(_, s)| *s).collect();
        let consecutive = steps.windows(2).filter(|w| w[0] == w[1]).count();
        let mut firsts: Vec<&str> = Vec::new();
        for s in &steps {
            if !firsts.contains(s) {
                firsts.push(s);
            }
        }
        let repeated = steps.len() - firsts.len();
        let missed = expected
            .iter()
            .filter(|e| !firsts.contains(&e.as_str()))
            .count();
        let unexpected = firsts
            .iter()
            .filter(|s| !expected.iter().any(|e| e == *s))
            .count();
        let order: Vec<usize> = firsts
            .iter()
            .filter_map(|s| expected.iter().position(|e| e == s))
            .collect();
        let out_of_order = order.windows(2).any(|w| w[0] > w[1]);
        let (doubled, resent) = if restart {
            (repeated - consecutive, consecutive)
        } else {
            (repeated, consecutive)
        };
        c.missed += missed;
        c.unexpected += unexpected;
        c.doubled += doubled;
        c.resent += resent;
        c.out_of_order += usize::from(out_of_order);
        let bad = missed + unexpected + doubled + usize::from(out_of_order) > 0;
        if (bad || (resent > 0 && !restart)) && c.examples.len() < 5 {
            c.examples.push(format!("execution {id}: {steps:?}"));
        }
    }
    c
}

/// Latencies seen at the sink.
pub(super) struct Timing {
    /// Seconds from an execution's start (its `not_before`, or its trigger answer when
    /// later) to its first step's first arrival, sorted.
    pub(super) start_lag: Vec<f64>,
    /// Seconds between consecutive steps beyond the configured wait, sorted.
    pub(super) overhead: Vec<f64>,
    /// Most executions between their first and last step at one moment.
    pub(super) max_overlap: usize,
}

impl Timing {
    pub(super) fn of(
        hits: &[Hit],
        executions: &[(String, f64)],
        start_at: Option<f64>,
        wait: f64,
    ) -> Timing {
        let mut first: HashMap<(&str, &str), f64> = HashMap::new();
        for h in hits {
            let t = first.entry((&h.execution, &h.step)).or_insert(h.at);
            *t = t.min(h.at);
        }
        let steps = expected_steps();
        let (mut start_lag, mut overhead, mut spans) = (Vec::new(), Vec::new(), Vec::new());
        for (id, triggered) in executions {
            let at: Vec<Option<f64>> = steps
                .iter()
                .map(|s| first.get(&(id.as_str(), s.as_str())).copied())
                .collect();
            if let Some(t) = at[0] {
                start_lag.push(t - start_at.map_or(*triggered, |s| s.max(*triggered)));
            }
            for (k, w) in at.windows(2).enumerate() {
                if let [Some(a), Some(b)] = w {
                    let planned = if k + 1 < STEPS.len() { wait } else { 0.0 };
                    overhead.push(b - a - planned);
                }
            }
            if let (Some(Some(a)), Some(Some(b))) = (at.first(), at.last()) {
                spans.push((*a, *b));
            }
        }
        start_lag.sort_by(f64::total_cmp);
        overhead.sort_by(f64::total_cmp);
        let mut edges: Vec<(f64, i64)> = spans
            .iter()
            .flat_map(|(a, b)| [(*a, 1), (*b, -1)])
            .collect();
        edges.sort_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)));
        let (mut now, mut max_overlap) = (0i64, 0i64);
        for (_, d) in edges {
            now += d;
            max_overlap = max_overlap.max(now);
        }
        Timing {
            start_lag,
            overhead,
            max_overlap: max_overlap as usize,
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |v: &[f64], q: f64| percentile(v, q) * 1000.0;
        write!(
            f,
            "start → first step p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; each next step beyond \
             its wait p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            ms(&self.start_lag, 0.5),
            ms(&self.start_lag, 0.99),
            ms(&self.start_lag, 1.0),
            ms(&self.overhead, 0.5),
            ms(&self.overhead, 0.99),
            ms(&self.overhead, 1.0)
        )
    }
}
