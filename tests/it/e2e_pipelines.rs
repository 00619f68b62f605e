//! End to end, with real parts: a real HAProxy in front of two services of our own (v1
//! answers "yellow", v2 "purple"), a real Prometheus scraping both every second, a load
//! generator sending traffic through HAProxy, and the `canaryd` daemon running pipelines
//! whose router is HAProxy's runtime API:
//!
//! - a healthy v2 goes 1 → 5 → 25 → 50 → 100 %, each step gated on an analysis, and the old
//!   group ends out of service;
//! - a v2 failing 5 % of requests is rolled back to 0 % automatically, right after the
//!   analysis interval that saw it;
//! - a manual judgment waits (across a `kill -9` of the daemon, with the split unchanged),
//!   then proceeds on approve and rolls back on reject.
//!
//! Traffic shares are read two ways: the weights HAProxy reports, and what the load
//! generator was answered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use canaryd::routers::{HaproxyConfig, RouterConfig, TrafficRouter};
use serde_json::{Value, json};

use crate::support::daemon::Daemon;
use crate::support::haproxy::{BACKEND, Haproxy, require_haproxy};
use crate::support::load::Load;
use crate::support::prometheus::{Prometheus, require_prometheus};
use crate::support::web::{Behaviour, Web};

/// Requests per second through HAProxy: 1 % of it is 2 requests a second on the canary.
const LOAD_PER_S: f64 = 200.0;

const CONFIG: &str = r#"
name = "web-e2e"
applications = ["web"]

[thresholds]
pass = 90
marginal = 50

[[metrics]]
name = "errors"
groups = ["errors"]
direction = "increase"
critical = true
judge = { kind = "threshold", aggregate = "rate", max_increase = 0.01 }
[metrics.query]
kind = "ratio"
errors = 'http_requests_total{version="${scope}", code="500"}'
total = 'http_requests_total{version="${scope}"}'

[[metrics]]
name = "latency"
groups = ["latency"]
direction = "increase"
judge = { kind = "threshold", aggregate = "p90", max_increase = 0.05 }
[metrics.query]
kind = "histogram"
base = "http_request_duration_seconds"
filter = 'version="${scope}"'
"#;

/// v1 and v2 behind HAProxy (all traffic on v1), load through it, and a daemon.
struct Stack {
    v2: Web,
    proxy: Haproxy,
    load: Load,
    daemon: Daemon,
    _v1: Web,
    _prometheus: Option<Prometheus>,
    _dir: tempfile::TempDir,
}

impl Stack {
    /// With `prometheus`, a real Prometheus scrapes both versions every second and the
    /// daemon reads it (and knows the canary config `web-e2e`).
    async fn start(prometheus: bool) -> Stack {
        let v1 = Web::start_version("v1", "yellow").await;
        let v2 = Web::start_version("v2", "purple").await;
        let proxy = Haproxy::start_pair(v1.addr(), v2.addr()).await;
        let prom = if prometheus {
            Some(Prometheus::start(&[("v1", v1.addr()), ("v2", v2.addr())], 1).await)
        } else {
            None
        };
        let dir = tempfile::tempdir().unwrap();
        let prom_url = prom
            .as_ref()
            .map_or("http://127.0.0.1:9".to_string(), Prometheus::url);
        let daemon = Daemon::start(dir.path(), &prom_url, "").await;
        if let Some(p) = &prom {
            p.wait_for_samples("http_requests_total", 4, Duration::from_secs(30))
                .await;
            // The services have been running a while before a deploy: a few scrapes in.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let (s, b) = daemon
                .post_text("/api/v1/configs", "application/toml", CONFIG)
                .await;
            assert_eq!(s, 201, "{b}");
        }
        let load = Load::start(&proxy.frontend_url(), LOAD_PER_S, 64);
        Stack {
            v2,
            proxy,
            load,
            daemon,
            _v1: v1,
            _prometheus: prom,
            _dir: dir,
        }
    }

    fn router(&self) -> Box<dyn TrafficRouter> {
        RouterConfig::Haproxy(self.router_config())
            .build()
            .expect("a valid HAProxy router")
    }

    fn router_config(&self) -> HaproxyConfig {
        HaproxyConfig {
            socket: self.proxy.unix_socket(),
            backend: BACKEND.into(),
            baseline_servers: vec!["baseline".into()],
            canary_servers: vec!["canary".into()],
            timeout_s: 2.0,
        }
    }

    /// The `[[targets]]` table of a pipeline routed by this HAProxy.
    fn target_toml(&self) -> String {
        format!(
            r#"[[targets]]
name = "local"
router = {{ kind = "haproxy", socket = "{}", backend = "{BACKEND}", baseline_servers = ["baseline"], canary_servers = ["canary"] }}
"#,
            self.proxy.unix_socket()
        )
    }

    /// The canary share HAProxy's weights give now.
    async fn weight_share(&self) -> f64 {
        self.router()
            .current()
            .await
            .expect("HAProxy answers")
            .expect("HAProxy reports its split")
            .canary_percent
    }

    async fn store_pipeline(&self, body: &str) {
        let (s, b) = self
            .daemon
            .post_text("/api/v1/pipelines", "application/toml", body)
            .await;
        assert_eq!(s, 201, "{b}");
    }

    async fn trigger(&self, pipeline: &str) -> String {
        let (s, e) = self
            .daemon
            .post(
                &format!("/api/v1/pipelines/{pipeline}/executions"),
                &json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": "e2e"}),
            )
            .await;
        assert_eq!(s, 201, "{e}");
        e["id"].as_str().unwrap().to_string()
    }

    async fn wait(&self, id: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (s, e) = self.daemon.get(&format!("/api/v1/executions/{id}")).await;
            assert_eq!(s, 200, "{e}");
            if done(&e) {
                return e;
            }
            if started.elapsed() > within {
                let (_, events) = self
                    .daemon
                    .get(&format!("/api/v1/executions/{id}/events"))
                    .await;
                let analysis = match e["state"]["phase"]["analysis"].as_str() {
                    Some(a) => self.daemon.get(&format!("/api/v1/analyses/{a}")).await.1,
                    None => Value::Null,
                };
                panic!(
                    "execution not there within {within:?}: {e}\nevents: {events}\n\
                     analysis: {analysis}\n\
                     load since the last look: {:?}; v2 served (ok, errors): {:?}\n{}",
                    self.load.take(),
                    self.v2.served(),
                    self.daemon.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        let (s, ev) = self
            .daemon
            .get(&format!("/api/v1/executions/{id}/events"))
            .await;
        assert_eq!(s, 200, "{ev}");
        ev["items"].as_array().unwrap().clone()
    }

    /// What the load generator was answered over the next `d`.
    async fn served_over(&self, d: Duration) -> BTreeMap<String, u64> {
        self.load.take();
        tokio::time::sleep(d).await;
        self.load.take()
    }
}

fn millis(iso: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso.as_str().expect("a time"))
        .expect("RFC 3339")
        .timestamp_millis()
}

/// The canary percent of each "traffic set" event, in order.
fn traffic_steps(events: &[Value]) -> Vec<f64> {
    events
        .iter()
        .filter(|e| e["kind"] == "traffic set")
        .map(|e| e["detail"]["split"][0].as_f64().expect("a split"))
        .collect()
}

fn count(served: &BTreeMap<String, u64>, key: &str) -> u64 {
    served.get(key).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_canary_goes_from_1_to_100_percent_and_the_old_group_ends_disabled() {
    require_haproxy!();
    require_prometheus!();
    let st = Stack::start(true).await;
    st.store_pipeline(&format!(
        r#"name = "healthy"
{}
[strategy]
kind = "canary"
steps = [1, 5, 25, 50, 100]
analysis = {{ config = "web-e2e", duration = "4s", interval = "4s", step = "2s" }}
"#,
        st.target_toml()
    ))
    .await;
    let id = st.trigger("healthy").await;

    // At 25 % both colours answer, in about that share.
    let at_25 = st
        .wait(&id, Duration::from_secs(60), |e| {
            e["state"]["split"][0] == 25.0 || e["status"] != "running"
        })
        .await;
    assert_eq!(at_25["status"], "running", "{at_25}");
    let served = st.served_over(Duration::from_millis(1500)).await;
    let (yellow, purple) = (count(&served, "yellow"), count(&served, "purple"));
    let share = purple as f64 / (yellow + purple) as f64;
    assert!(
        (0.15..=0.35).contains(&share),
        "25 % step served {served:?}"
    );

    let done = st
        .wait(&id, Duration::from_secs(90), |e| e["status"] != "running")
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let events = st.events(&id).await;
    assert_eq!(traffic_steps(&events), [1.0, 5.0, 25.0, 50.0, 100.0]);
    let passes = events
        .iter()
        .filter(|e| e["kind"] == "analysis")
        .map(|e| e["detail"]["detail"].as_str().unwrap_or(""))
        .collect::<Vec<_>>();
    assert_eq!(
        passes.len(),
        4,
        "one analysis per step below 100 %: {passes:?}"
    );
    assert!(
        passes.iter().all(|p| p.starts_with("Pass")),
        "every gate passed on its verdict: {passes:?}"
    );
    assert!(events.iter().any(|e| e["kind"] == "baseline disabled"));

    // HAProxy: weights at 100 % and the old group in maintenance — only purple answers.
    assert_eq!(st.weight_share().await, 100.0);
    let served = st.served_over(Duration::from_secs(1)).await;
    assert_eq!(count(&served, "yellow"), 0, "{served:?}");
    assert!(count(&served, "purple") > 50, "{served:?}");
    assert_eq!(
        served.keys().filter(|k| *k != "purple").count(),
        0,
        "nothing but purple: {served:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_failing_5_percent_of_requests_is_rolled_back_right_after_its_interval() {
    require_haproxy!();
    require_prometheus!();
    let st = Stack::start(true).await;
    st.v2.set(Behaviour {
        error_rate: 0.05,
        ..Behaviour::default()
    });
    st.store_pipeline(&format!(
        r#"name = "bad"
{}
[strategy]
kind = "canary"
steps = [5, 25, 50, 100]
analysis = {{ config = "web-e2e", duration = "60s", interval = "2s", step = "2s" }}
"#,
        st.target_toml()
    ))
    .await;
    let id = st.trigger("bad").await;
    let done = st
        .wait(&id, Duration::from_secs(45), |e| e["status"] != "running")
        .await;
    assert_eq!(done["status"], "rolled_back", "{done}");
    assert_eq!(done["state"]["split"][0], 0.0, "{done}");
    let events = st.events(&id).await;
    assert_eq!(
        traffic_steps(&events),
        [5.0],
        "never promoted past 5 %: {events:?}"
    );

    // The analysis failed on an interval well before its 60 s, and the rollback to 0 %
    // followed within one interval (2 s) of that verdict.
    let started = events
        .iter()
        .find(|e| e["kind"] == "analysis started")
        .expect("an analysis ran");
    let analysis_id = started["detail"]["detail"].as_str().unwrap();
    let (s, a) = st
        .daemon
        .get(&format!("/api/v1/analyses/{analysis_id}"))
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["verdict"], "fail", "{a}");
    let classes: Vec<(&str, &str)> = a["report"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["metric"].as_str().unwrap(),
                m["classification"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(classes.contains(&("errors", "high")), "{classes:?}: {a}");
    let rolled_back = events
        .iter()
        .find(|e| e["kind"] == "rolled back")
        .expect("a rolled back event");
    let verdict_to_zero = millis(&rolled_back["at"]) - millis(&a["updated"]);
    assert!(
        (0..2000).contains(&verdict_to_zero),
        "fail verdict → 0 % took {verdict_to_zero} ms"
    );
    let judged = millis(&a["updated"]) - millis(&started["at"]);
    eprintln!(
        "5% errors: failed after {judged} ms of analysis; fail verdict → 0 % in {verdict_to_zero} ms"
    );
    assert!(judged < 30_000, "detected after {judged} ms of analysis");

    // HAProxy sends nothing to the canary any more.
    assert_eq!(st.weight_share().await, 0.0);
    let served = st.served_over(Duration::from_secs(1)).await;
    assert_eq!(
        count(&served, "purple") + count(&served, "HTTP 500"),
        0,
        "{served:?}"
    );
    assert!(count(&served, "yellow") > 50, "{served:?}");
}

/// A sequential latency judge over the services' Prometheus histogram.
const SEQUENTIAL_CONFIG: &str = r#"
name = "web-seq"
applications = ["web"]

[[metrics]]
name = "latency"
groups = ["latency"]
direction = "increase"
judge = { kind = "sequential" }
[metrics.query]
kind = "histogram"
base = "http_request_duration_seconds"
filter = 'version="${scope}"'
"#;

/// A live sequential decision ends the analysis at once, also without `fail_fast`, and the
/// pipeline acts on it: the time from the end of the deciding scrape step to the router's
/// 0 % is measured (a live analysis reads a step one interval plus one step after it ends).
#[tokio::test(flavor = "multi_thread")]
async fn a_sequential_decision_stops_the_analysis_and_rolls_back_at_once() {
    require_haproxy!();
    require_prometheus!();
    let st = Stack::start(true).await;
    let (s, b) = st
        .daemon
        .post_text("/api/v1/configs", "application/toml", SEQUENTIAL_CONFIG)
        .await;
    assert_eq!(s, 201, "{b}");
    st.v2.set(Behaviour {
        delay: Duration::from_millis(30),
        ..Behaviour::default()
    });
    st.store_pipeline(&format!(
        r#"name = "slow"
{}
[strategy]
kind = "canary"
steps = [5, 25, 50, 100]
analysis = {{ config = "web-seq", duration = "120s", interval = "2s", step = "2s", fail_fast = false }}
"#,
        st.target_toml()
    ))
    .await;
    let id = st.trigger("slow").await;
    let done = st
        .wait(&id, Duration::from_secs(90), |e| e["status"] != "running")
        .await;
    assert_eq!(done["status"], "rolled_back", "{done}");
    let events = st.events(&id).await;
    assert_eq!(traffic_steps(&events), [5.0], "{events:?}");
    let started = events
        .iter()
        .find(|e| e["kind"] == "analysis started")
        .expect("an analysis ran");
    let analysis_id = started["detail"]["detail"].as_str().unwrap();
    let (s, a) = st
        .daemon
        .get(&format!("/api/v1/analyses/{analysis_id}"))
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["verdict"], "fail", "{a}");
    let latency = &a["report"]["metrics"][0];
    assert_eq!(latency["classification"], "high", "{a}");
    // The decision is a moment in the data, named by the reason and the report alike.
    let decided_at = latency["decided_at"]
        .as_f64()
        .unwrap_or_else(|| panic!("a decision time: {latency}"));
    let analysis_start = millis(&started["at"]) as f64 / 1000.0;
    assert!(
        latency["reason"]
            .as_str()
            .is_some_and(|r| r.contains("s after the start (batch")),
        "{latency}"
    );
    // A failed check names what decided it.
    let checks = latency["judged"]["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["failed"] == true), "{latency}");
    // Far before the 120 s window: the analysis ended at its decision.
    let judged_ms = millis(&a["updated"]) - millis(&started["at"]);
    assert!(judged_ms < 40_000, "the analysis ran {judged_ms} ms");
    let rolled_back = events
        .iter()
        .find(|e| e["kind"] == "rolled back")
        .expect("a rolled back event");
    let scrape_to_router = millis(&rolled_back["at"]) as f64 / 1000.0 - decided_at;
    eprintln!(
        "sequential latency (+30 ms): decided {:.1} s after the analysis started; end of the deciding step → router 0 %: {scrape_to_router:.2} s; analysis ran {judged_ms} ms",
        decided_at - analysis_start
    );
    // One interval (2 s) plus the read lag of one step (2 s) plus judging and the router.
    assert!(
        scrape_to_router < 6.0,
        "the deciding step ended {scrape_to_router:.2} s before the rollback"
    );
    assert_eq!(st.weight_share().await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_judgment_survives_kill_9_then_approve_promotes_and_reject_rolls_back() {
    require_haproxy!();
    let mut st = Stack::start(false).await;
    st.store_pipeline(&format!(
        r#"name = "judged"
{}
[[stages]]
kind = "traffic"
percent = 25

[[stages]]
kind = "manual_judgment"
message = "look at the dashboards"
approvers = ["alice"]
timeout = "10m"

[[stages]]
kind = "traffic"
percent = 100
"#,
        st.target_toml()
    ))
    .await;
    let awaiting = |e: &Value| e["state"]["phase"]["phase"] == "awaiting_judgment";

    let id = st.trigger("judged").await;
    st.wait(&id, Duration::from_secs(20), awaiting).await;
    assert_eq!(st.weight_share().await, 25.0);

    // The daemon dies mid-pipeline; HAProxy keeps routing; the restarted daemon resumes
    // in the same state with the same split, and applies nothing again.
    st.daemon.kill9();
    let served = st.served_over(Duration::from_millis(1500)).await;
    let purple = count(&served, "purple") as f64 / served.values().sum::<u64>() as f64;
    assert!((0.15..=0.35).contains(&purple), "{served:?}");
    st.daemon.restart().await;
    let e = st.wait(&id, Duration::from_secs(20), awaiting).await;
    assert_eq!(e["state"]["split"][0], 25.0, "{e}");
    assert_eq!(st.weight_share().await, 25.0);
    let judge = |decision: &str, by: &str| json!({"decision": decision, "by": by, "comment": "checked the dashboards"});
    let path = format!("/api/v1/executions/{id}/judgment");
    let (s, b) = st.daemon.post(&path, &judge("approve", "mallory")).await;
    assert_eq!(s, 409, "only alice may judge: {b}");
    let (s, b) = st.daemon.post(&path, &judge("approve", "alice")).await;
    assert_eq!(s, 200, "{b}");
    let done = st
        .wait(&id, Duration::from_secs(20), |e| e["status"] != "running")
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(st.weight_share().await, 100.0);
    let events = st.events(&id).await;
    assert_eq!(traffic_steps(&events), [25.0, 100.0], "each step once");
    let served = st.served_over(Duration::from_secs(1)).await;
    assert_eq!(count(&served, "yellow"), 0, "{served:?}");

    // A second execution: rejected → back to 0 %.
    let id = st.trigger("judged").await;
    st.wait(&id, Duration::from_secs(20), awaiting).await;
    assert_eq!(st.weight_share().await, 25.0);
    let path = format!("/api/v1/executions/{id}/judgment");
    let (s, b) = st.daemon.post(&path, &judge("reject", "alice")).await;
    assert_eq!(s, 200, "{b}");
    let done = st
        .wait(&id, Duration::from_secs(20), |e| e["status"] != "running")
        .await;
    assert_eq!(done["status"], "rolled_back", "{done}");
    assert_eq!(st.weight_share().await, 0.0);
    let served = st.served_over(Duration::from_secs(1)).await;
    assert_eq!(count(&served, "purple"), 0, "{served:?}");
    let rejected = st
        .events(&id)
        .await
        .into_iter()
        .find(|e| e["kind"] == "rejected")
        .expect("the rejection is in the log");
    assert!(
        rejected["detail"]["detail"]
            .as_str()
            .unwrap()
            .contains("alice"),
        "{rejected}"
    );
}
