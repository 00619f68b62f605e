//! Traffic routers against real things: HAProxy's runtime API in front of two tiny services
//! (`yellow` baseline, `purple` canary), webhooks to an in-process receiver that checks the
//! signature, and commands run through `sh -c`.
//!
//! Traffic shares through HAProxy are checked on counts of sequential requests. Weighted
//! round-robin is deterministic: HAProxy spreads each server's turns evenly over a cycle of
//! Σ weights picks (85 + 255 = 340 for 25 %), so after any number of picks a server's count is
//! within a couple of picks of its exact share, whatever the history. The ±3 % bound on
//! 1,000 requests (±30 picks) therefore holds with a wide margin and cannot flake; it is not
//! a statistical tolerance.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use canaryd::routers::{
    CommandConfig, Group, HaproxyConfig, RouteContext, RouterConfig, Split, TrafficRouter,
    WebhookConfig,
};
use canaryd::secret::Secret;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::support::haproxy::{BACKEND, Haproxy, require_haproxy};
use crate::support::web::Web;

fn ctx() -> RouteContext {
    RouteContext {
        target: "checkout".into(),
        execution: "exec-1".into(),
        stage: "stage-2".into(),
    }
}

fn haproxy_router(socket: String, baseline: &[&str], canary: &[&str]) -> Box<dyn TrafficRouter> {
    RouterConfig::Haproxy(HaproxyConfig {
        socket,
        backend: BACKEND.into(),
        baseline_servers: baseline.iter().map(|s| s.to_string()).collect(),
        canary_servers: canary.iter().map(|s| s.to_string()).collect(),
        timeout_s: 2.0,
    })
    .build()
    .expect("a valid HAProxy router config")
}

/// A yellow baseline, a purple canary and HAProxy in front (all traffic on the baseline).
async fn colours() -> (Web, Web, Haproxy) {
    let yellow = Web::start("yellow").await;
    let purple = Web::start("purple").await;
    let proxy = Haproxy::start_pair(yellow.addr(), purple.addr()).await;
    (yellow, purple, proxy)
}

async fn current(router: &dyn TrafficRouter) -> f64 {
    router
        .current()
        .await
        .expect("current() works")
        .expect("HAProxy can tell")
        .canary_percent
}

fn share(tally: &BTreeMap<String, usize>, body: &str) -> f64 {
    let total: usize = tally.values().sum();
    100.0 * *tally.get(body).unwrap_or(&0) as f64 / total as f64
}

fn only(body: &str, n: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([(body.to_string(), n)])
}

#[tokio::test]
async fn haproxy_25_percent_over_the_unix_socket_reads_back_and_routes_a_quarter() {
    require_haproxy!();
    let (_y, _p, proxy) = colours().await;
    let router = haproxy_router(proxy.unix_socket(), &["baseline"], &["canary"]);
    assert_eq!(router.kind(), "haproxy");
    assert_eq!(current(router.as_ref()).await, 0.0);

    let out = router.set(Split::canary(25.0), &ctx()).await.unwrap();
    assert!(out.detail.contains("canary 25%"), "{}", out.detail);
    assert!((current(router.as_ref()).await - 25.0).abs() < 0.05);
    let tally = proxy.tally(1000).await;
    assert_eq!(tally.values().sum::<usize>(), 1000, "{tally:?}");
    let purple = share(&tally, "purple");
    assert!((purple - 25.0).abs() <= 3.0, "{purple}% purple: {tally:?}");
}

#[tokio::test]
async fn haproxy_0_and_100_percent_over_the_tcp_socket_send_everything_to_one_group() {
    require_haproxy!();
    let (_y, _p, proxy) = colours().await;
    let router = haproxy_router(proxy.tcp_socket(), &["baseline"], &["canary"]);
    router.set(Split::canary(100.0), &ctx()).await.unwrap();
    assert_eq!(current(router.as_ref()).await, 100.0);
    assert_eq!(proxy.tally(100).await, only("purple", 100));
    router.set(Split::canary(0.0), &ctx()).await.unwrap();
    assert_eq!(current(router.as_ref()).await, 0.0);
    assert_eq!(proxy.tally(100).await, only("yellow", 100));
    router.set(Split::canary(50.0), &ctx()).await.unwrap();
    assert_eq!(current(router.as_ref()).await, 50.0);
    let tally = proxy.tally(200).await;
    assert!((share(&tally, "purple") - 50.0).abs() <= 3.0, "{tally:?}");
}

#[tokio::test]
async fn haproxy_the_same_split_twice_changes_nothing_more() {
    require_haproxy!();
    let (_y, _p, proxy) = colours().await;
    let router = haproxy_router(proxy.unix_socket(), &["baseline"], &["canary"]);
    let first = router.set(Split::canary(5.0), &ctx()).await.unwrap();
    assert!(first.detail.contains("changed"), "{}", first.detail);
    let read = current(router.as_ref()).await;
    let second = router.set(Split::canary(5.0), &ctx()).await.unwrap();
    assert!(second.detail.ends_with("unchanged"), "{}", second.detail);
    assert_eq!(current(router.as_ref()).await, read);
    assert!((read - 5.0).abs() < 0.05, "{read}");
}

#[tokio::test]
async fn haproxy_maintenance_takes_a_group_out_and_keeps_the_weights() {
    require_haproxy!();
    let (_y, _p, proxy) = colours().await;
    let router = haproxy_router(proxy.tcp_socket(), &["baseline"], &["canary"]);
    router.set(Split::canary(25.0), &ctx()).await.unwrap();
    let out = router
        .set_enabled(Group::Baseline, false, &ctx())
        .await
        .unwrap();
    assert!(out.detail.contains("maint"), "{}", out.detail);
    // Twice is the same as once.
    router
        .set_enabled(Group::Baseline, false, &ctx())
        .await
        .unwrap();
    assert_eq!(proxy.tally(50).await, only("purple", 50));
    // current() reports weights, which maintenance leaves alone.
    assert_eq!(current(router.as_ref()).await, 25.0);
    router
        .set_enabled(Group::Baseline, true, &ctx())
        .await
        .unwrap();
    let tally = proxy.tally(200).await;
    assert!((share(&tally, "purple") - 25.0).abs() <= 3.0, "{tally:?}");
}

#[tokio::test]
async fn haproxy_several_servers_per_group_share_by_group() {
    require_haproxy!();
    let (yellow, purple) = (Web::start("yellow").await, Web::start("purple").await);
    let proxy = Haproxy::start(&[
        ("b1", yellow.addr(), 256),
        ("b2", yellow.addr(), 256),
        ("b3", yellow.addr(), 256),
        ("c1", purple.addr(), 0),
    ])
    .await;
    let router = haproxy_router(proxy.unix_socket(), &["b1", "b2", "b3"], &["c1"]);
    router.set(Split::canary(10.0), &ctx()).await.unwrap();
    assert!((current(router.as_ref()).await - 10.0).abs() < 0.05);
    let tally = proxy.tally(1000).await;
    assert!((share(&tally, "purple") - 10.0).abs() <= 3.0, "{tally:?}");
}

#[tokio::test]
async fn haproxy_an_unknown_server_is_an_error_naming_it_and_nothing_changes() {
    require_haproxy!();
    let (_y, _p, proxy) = colours().await;
    let router = haproxy_router(proxy.unix_socket(), &["baseline"], &["canary", "canary-2"]);
    let e = router.set(Split::canary(50.0), &ctx()).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(
        e.message.contains("canary-2") && e.message.contains("No such server"),
        "{e}"
    );
    let e = router.current().await.unwrap_err();
    assert!(e.message.contains("canary-2"), "{e}");
    let e = router
        .set_enabled(Group::Canary, false, &ctx())
        .await
        .unwrap_err();
    assert!(e.message.contains("canary-2"), "{e}");
    // The weights and states did not move.
    assert_eq!(proxy.tally(20).await, only("yellow", 20));
    let good = haproxy_router(proxy.unix_socket(), &["baseline"], &["canary"]);
    assert_eq!(current(good.as_ref()).await, 0.0);
}

#[tokio::test]
async fn haproxy_unreachable_socket_is_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("unix:{}", dir.path().join("nope.sock").display());
    let router = haproxy_router(missing, &["baseline"], &["canary"]);
    let e = router.set(Split::canary(5.0), &ctx()).await.unwrap_err();
    assert!(e.retryable && e.message.contains("cannot connect"), "{e}");
    let refused = format!("tcp:127.0.0.1:{}", closed_port());
    let router = haproxy_router(refused, &["baseline"], &["canary"]);
    assert!(router.current().await.unwrap_err().retryable);
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

// ---- webhook ------------------------------------------------------------------------------

const SECRET: &str = "s3cret-key";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    body: Value,
    raw: Bytes,
    delivery: String,
    signature_ok: bool,
    timestamp: u64,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
    /// Statuses to answer, in order; the last one repeats.
    script: Arc<Vec<u16>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    raw: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let timestamp = header("x-canaryd-timestamp");
    // Recompute the signature independently: HMAC-SHA256 of "<timestamp>.<body>".
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&raw);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let got = header("x-canaryd-signature");
    let mut all = r.got.lock().unwrap();
    all.push(Delivery {
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.clone(),
        delivery: header("x-canaryd-delivery"),
        signature_ok: got == format!("sha256={expected}") && !header("x-canaryd-event").is_empty(),
        timestamp: timestamp.parse().unwrap_or(0),
    });
    let status = r.script[(all.len() - 1).min(r.script.len() - 1)];
    let status = StatusCode::from_u16(status).unwrap();
    (status, format!("receiver says {}", status.as_u16()))
}

/// A receiver answering `script` and a router posting to it.
async fn webhook(script: &[u16], retries: u32) -> (Receiver, Box<dyn TrafficRouter>) {
    let receiver = Receiver {
        got: Arc::default(),
        script: Arc::new(script.to_vec()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let router = RouterConfig::Webhook(WebhookConfig {
        url: format!("http://{addr}/hook"),
        secret: Secret::new(SECRET),
        retries,
        backoff_ms: 10,
        timeout_s: 2.0,
    })
    .build()
    .unwrap();
    (receiver, router)
}

fn deliveries(r: &Receiver) -> Vec<Delivery> {
    r.got.lock().unwrap().clone()
}

#[tokio::test]
async fn webhook_posts_signed_json_and_cannot_read_back() {
    let (receiver, router) = webhook(&[200], 3).await;
    let out = router.set(Split::canary(12.5), &ctx()).await.unwrap();
    assert!(
        out.detail.starts_with("HTTP 200 OK: receiver says 200"),
        "{}",
        out.detail
    );
    router
        .set_enabled(Group::Canary, false, &ctx())
        .await
        .unwrap();
    let got = deliveries(&receiver);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|d| d.signature_ok), "{got:?}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(got.iter().all(|d| now.abs_diff(d.timestamp) < 60));
    assert_ne!(got[0].delivery, got[1].delivery);
    assert_eq!(
        got[0].body,
        serde_json::json!({"event": "set_split", "target": "checkout", "execution": "exec-1",
            "stage": "stage-2", "canary_percent": 12.5, "baseline_percent": 87.5})
    );
    assert_eq!(
        got[1].body,
        serde_json::json!({"event": "set_enabled", "target": "checkout", "execution": "exec-1",
            "stage": "stage-2", "group": "canary", "enabled": false})
    );
    assert_eq!(router.current().await.unwrap(), None);
}

#[tokio::test]
async fn webhook_retries_503_with_the_same_body_and_delivery() {
    let (receiver, router) = webhook(&[503, 503, 200], 3).await;
    let out = router.set(Split::canary(5.0), &ctx()).await.unwrap();
    assert!(out.detail.contains("attempt 3"), "{}", out.detail);
    let got = deliveries(&receiver);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|d| d.signature_ok && d.raw == got[0].raw));
    assert!(got.iter().all(|d| d.delivery == got[0].delivery));
}

#[tokio::test]
async fn webhook_gives_up_after_the_retries_retryably() {
    let (receiver, router) = webhook(&[429, 502], 2).await;
    let e = router.set(Split::canary(5.0), &ctx()).await.unwrap_err();
    assert!(
        e.retryable && e.message.contains("502") && e.message.contains("3 attempts"),
        "{e}"
    );
    assert_eq!(deliveries(&receiver).len(), 3);
}

#[tokio::test]
async fn webhook_fails_at_once_on_400() {
    let (receiver, router) = webhook(&[400, 200], 3).await;
    let e = router.set(Split::canary(5.0), &ctx()).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(
        e.message.contains("400") && e.message.contains("receiver says 400"),
        "{e}"
    );
    assert_eq!(deliveries(&receiver).len(), 1);
}

#[tokio::test]
async fn webhook_unreachable_is_retried_then_retryable() {
    let router = RouterConfig::Webhook(WebhookConfig {
        url: format!("http://127.0.0.1:{}/hook", closed_port()),
        secret: Secret::new(SECRET),
        retries: 1,
        backoff_ms: 10,
        timeout_s: 1.0,
    })
    .build()
    .unwrap();
    let e = router.set(Split::canary(5.0), &ctx()).await.unwrap_err();
    assert!(e.retryable && e.message.contains("2 attempts"), "{e}");
}

// ---- command ------------------------------------------------------------------------------

fn command_router(
    script: &str,
    read: Option<&str>,
    timeout_s: f64,
    retry: bool,
) -> Box<dyn TrafficRouter> {
    let sh = |s: &str| vec!["sh".to_string(), "-c".to_string(), s.to_string()];
    RouterConfig::Command(CommandConfig {
        command: sh(script),
        read_command: read.map(sh),
        timeout_s,
        retry_on_failure: retry,
    })
    .build()
    .unwrap()
}

#[tokio::test]
async fn command_gets_the_call_in_its_environment_and_keeps_its_output() {
    let router = command_router(
        r#"echo "$CANARYD_EVENT c=$CANARYD_CANARY_PERCENT b=$CANARYD_BASELINE_PERCENT $CANARYD_TARGET $CANARYD_EXECUTION $CANARYD_STAGE g=$CANARYD_GROUP e=$CANARYD_ENABLED"; echo oops >&2"#,
        None,
        5.0,
        false,
    );
    let out = router.set(Split::canary(12.5), &ctx()).await.unwrap();
    assert_eq!(
        out.detail,
        "set_split c=12.5 b=87.5 checkout exec-1 stage-2 g= e=\noops\n"
    );
    let out = router
        .set_enabled(Group::Baseline, true, &ctx())
        .await
        .unwrap();
    assert_eq!(
        out.detail,
        "set_enabled c= b= checkout exec-1 stage-2 g=baseline e=true\noops\n"
    );
    assert_eq!(router.current().await.unwrap(), None);
}

#[tokio::test]
async fn command_read_command_reads_back_what_command_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("split");
    let router = command_router(
        &format!("echo \"$CANARYD_CANARY_PERCENT%\" > {}", state.display()),
        Some(&format!("cat {} 2>/dev/null || true", state.display())),
        5.0,
        false,
    );
    assert_eq!(
        router.current().await.unwrap(),
        None,
        "empty output: cannot tell"
    );
    router.set(Split::canary(25.0), &ctx()).await.unwrap();
    router.set(Split::canary(25.0), &ctx()).await.unwrap();
    assert_eq!(router.current().await.unwrap(), Some(Split::canary(25.0)));
    let bad = command_router("true", Some("echo lots; echo warn >&2"), 5.0, false);
    let e = bad.current().await.unwrap_err();
    assert!(!e.retryable && e.message.contains("lots"), "{e}");
}

#[tokio::test]
async fn command_failure_carries_the_output_tail_and_retryability_by_config() {
    let script = "echo first; i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; echo boom >&2; exit 3";
    let e = command_router(script, None, 5.0, false)
        .set(Split::canary(5.0), &ctx())
        .await
        .unwrap_err();
    assert!(!e.retryable);
    assert!(e.message.contains("exited with status 3"), "{e}");
    assert!(
        e.message.ends_with("line 2999\nboom") && !e.message.contains("\nfirst"),
        "{e}"
    );
    assert!(e.message.len() < 3000, "{}", e.message.len());
    let e = command_router("exit 1", None, 5.0, true)
        .set(Split::canary(5.0), &ctx())
        .await
        .unwrap_err();
    assert!(e.retryable, "{e}");
    let e = RouterConfig::Command(CommandConfig {
        command: vec!["/nonexistent/route-traffic".into()],
        read_command: None,
        timeout_s: 5.0,
        retry_on_failure: true,
    })
    .build()
    .unwrap()
    .set(Split::canary(5.0), &ctx())
    .await
    .unwrap_err();
    assert!(
        !e.retryable && e.message.contains("/nonexistent/route-traffic"),
        "{e}"
    );
}

#[tokio::test]
async fn command_output_is_truncated_to_16_kib() {
    let router = command_router(
        "head -c 100000 /dev/zero | tr '\\0' x; echo; echo end",
        None,
        5.0,
        false,
    );
    let out = router.set(Split::canary(5.0), &ctx()).await.unwrap();
    assert!(out.detail.starts_with("[… "), "{}", &out.detail[..40]);
    assert!(out.detail.ends_with("x\nend\n"));
    assert!(out.detail.len() <= 16 * 1024 + 40, "{}", out.detail.len());
}

#[tokio::test]
async fn command_timeout_kills_the_whole_process_group() {
    let started = Instant::now();
    let router = command_router("echo waiting; sleep 30; echo never", None, 0.3, false);
    let e = router.set(Split::canary(5.0), &ctx()).await.unwrap_err();
    assert!(
        e.retryable && e.message.contains("timed out") && e.message.contains("waiting"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A background child that keeps the output open is killed a second after the exit.
    let started = Instant::now();
    let router = command_router("sleep 30 & echo $!", None, 10.0, false);
    let out = router.set(Split::canary(5.0), &ctx()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        out.detail
            .contains("killed processes still holding the output"),
        "{}",
        out.detail
    );
    let pid = out.detail.lines().next().unwrap().trim();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Gone, or a zombie waiting for a parent that does not reap.
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "sleep still runs: {stat}"
    );
}
