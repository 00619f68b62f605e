//! Hostile probes against a real `canaryd serve`: a web page driving a no-token daemon
//! (text/plain posts, foreign origins, DNS rebinding, forged UI forms), specs that would run
//! programs the daemon does not allow, and an open daemon on a public address.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{canaryd, outcome};
use crate::support::daemon::Daemon;

const NO_PROMETHEUS: &str = "http://127.0.0.1:9";

fn spec(log: &std::path::Path) -> String {
    format!(
        r#"
name = "web"

[[targets]]
name = "eu"
router = {{ kind = "command", command = ["sh", "-c", "echo \"$CANARYD_EVENT $CANARYD_CANARY_PERCENT\" >> {}"] }}

[[stages]]
kind = "traffic"
percent = 5

[[stages]]
kind = "manual_judgment"
message = "look"

[[stages]]
kind = "traffic"
percent = 100
"#,
        log.display()
    )
}

/// Two months from now, RFC 3339.
fn far_ahead() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 61 * 86_400;
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("")
}

/// A raw request with chosen headers, as a browser page (or a rebinding name) would send it.
async fn send(
    d: &Daemon,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", d.url))
        .body(body.to_string());
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.expect("the daemon answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_page_cannot_drive_a_daemon_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let body = spec(&log);

    // A "simple" cross-site request (no CORS preflight): text/plain, a form, or no type.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let (s, b) = send(
            &d,
            reqwest::Method::POST,
            "/api/v1/pipelines",
            &[("content-type", ct)],
            &body,
        )
        .await;
        assert_eq!(s, 415, "{ct}: {b}");
        assert!(b.contains("unsupported_media_type"), "{b}");
    }
    // A page elsewhere, even with the right content type (it would need a preflight, but
    // the Origin alone is refused).
    let (s, b) = send(
        &d,
        reqwest::Method::POST,
        "/api/v1/pipelines",
        &[
            ("content-type", "application/toml"),
            ("origin", "https://evil.example"),
        ],
        &body,
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert!(b.contains("cross_origin"), "{b}");
    // DNS rebinding: the daemon's own address under a foreign name.
    let (s, b) = send(
        &d,
        reqwest::Method::GET,
        "/api/v1/pipelines",
        &[("host", "evil.example")],
        "",
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert!(b.contains("host_not_allowed"), "{b}");
    assert!(!log.exists(), "no command ran");

    // The daemon's own page (same origin) and API clients (no Origin) still work.
    let own = d.url.clone();
    let (s, b) = send(
        &d,
        reqwest::Method::POST,
        "/api/v1/pipelines",
        &[("content-type", "application/toml"), ("origin", &own)],
        &body,
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, e) = d
        .post(
            "/api/v1/pipelines/web/executions",
            &serde_json::json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": "ci"}),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    let id = e["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let (_, e) = d.get(&format!("/api/v1/executions/{id}")).await;
        if e["state"]["phase"]["phase"] == "awaiting_judgment" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A forged UI form (the probe: `decision=approve&by=mallory`) without the page's CSRF
    // value changes nothing, even with no tokens configured.
    let path = format!("/ui/executions/{id}/judgment");
    for form in [
        "decision=approve&by=mallory",
        "decision=approve&by=mallory&csrf=",
    ] {
        let (s, b) = send(
            &d,
            reqwest::Method::POST,
            &path,
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        )
        .await;
        assert_eq!(s, 403, "{form}: {b}");
    }
    let (s, b) = send(
        &d,
        reqwest::Method::POST,
        &path,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", "https://evil.example"),
        ],
        "decision=approve&by=mallory",
    )
    .await;
    assert_eq!(s, 403, "{b}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, e) = d.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(e["state"]["split"][0], 5.0, "traffic stayed at 5%: {e}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().trim(),
        "set_split 5",
        "only the execution's own step ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spec_alone_never_runs_a_program_the_daemon_does_not_allow() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    // This daemon allows one program, not `sh`.
    let d = Daemon::start(
        dir.path(),
        NO_PROMETHEUS,
        "[commands]\nallow = [\"/usr/local/bin/route-traffic\"]\n",
    )
    .await;
    let (s, b) = d
        .post_text("/api/v1/pipelines", "application/toml", &spec(&log))
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_field"), "{b}");
    let fields: Vec<&str> = b["error"]["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["targets[0].router.command"], "{b}");
    assert!(b.to_string().contains("`sh` may not run"), "{b}");
    // A smoke test's command is held to the same list.
    let smoke = "name = \"smoke\"\n[[targets]]\nname = \"eu\"\nrouter = { kind = \"webhook\", url = \"http://127.0.0.1:9/\", secret = \"0123456789abcdef0123\" }\n\n[[stages]]\nkind = \"smoke_test\"\ncommand = [\"curl\", \"-f\", \"http://127.0.0.1:9/\"]\n";
    let (s, b) = d
        .post_text("/api/v1/pipelines", "application/toml", smoke)
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(b.to_string().contains("stages[0].command"), "{b}");
    assert!(!log.exists());
}

#[test]
fn an_open_daemon_refuses_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("canaryd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"0.0.0.0:0\"\ndata_dir = \"{}\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let (code, _, err) = outcome(&canaryd([
        "serve".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]));
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("no API tokens are configured") && err.contains("loopback"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_in_a_stored_spec_are_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[[tokens]]\nname = \"ci\"\nrole = \"write\"\ntoken = \"write-token-0123456789\"\n\n[[tokens]]\nname = \"dash\"\nrole = \"read\"\ntoken = \"read-token-0123456789\"\n";
    let mut d = Daemon::start(dir.path(), NO_PROMETHEUS, extra).await;
    d.with_token(Some("write-token-0123456789"));
    let secret = "hmac-key-do-not-leak-0123";
    let text = format!(
        "{}\n[[notifications]]\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"{secret}\"\n",
        spec(&dir.path().join("log"))
    );
    let (s, b) = d
        .post_text("/api/v1/pipelines", "application/toml", &text)
        .await;
    assert_eq!(s, 201, "{b}");
    for token in ["read-token-0123456789", "write-token-0123456789"] {
        d.with_token(Some(token));
        let (s, b) = d.get("/api/v1/pipelines/web").await;
        assert_eq!(s, 200, "{b}");
        let shown = b["spec"].as_str().expect("the spec");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("secret = \"***\""), "{shown}");
        assert!(
            shown.contains("manual_judgment"),
            "the rest is shown: {shown}"
        );
        let (s, page) = d.get_text("/ui/pipelines/web").await;
        assert!(!page.contains(secret), "{s}: the UI page leaks it");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_times_and_durations_are_refused_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let config = "name = \"c\"\n[[metrics]]\nname = \"m\"\n[metrics.query]\nkind = \"promql\"\ntemplate = 'up{v=\"${scope}\"}'\n";
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", config)
        .await;
    assert_eq!(s, 201, "{b}");
    let live = |extra: Value| {
        let mut w = serde_json::json!({"mode": "live", "interval": "10s", "max_duration": "1m"});
        for (k, v) in extra.as_object().unwrap() {
            w[k] = v.clone();
        }
        serde_json::json!({"config": "c", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "window": w})
    };
    for (probe, window) in [
        ("lag 1e20", serde_json::json!({"lag": 1e20})),
        ("lag 1e12", serde_json::json!({"lag": 1e12})),
        ("start 1e20", serde_json::json!({"start": 1e20})),
        (
            "start in year 9999",
            serde_json::json!({"start": "9999-01-01T00:00:00Z"}),
        ),
        (
            "start in two months",
            serde_json::json!({"start": far_ahead()}),
        ),
        ("interval -1", serde_json::json!({"interval": -1})),
    ] {
        let (s, b) = d.post("/api/v1/analyses", &live(window)).await;
        assert!(
            (400..500).contains(&s),
            "{probe}: refused with a 4xx, got {s}: {b}"
        );
    }
    // The daemon is still healthy and nothing is left running.
    let (s, list) = d.get("/api/v1/analyses").await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");

    let (s, b) = d
        .post_text(
            "/api/v1/pipelines",
            "application/toml",
            &spec(&dir.path().join("log")),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    for not_before in [
        serde_json::json!(1e20),
        serde_json::json!("9999-01-01T00:00:00Z"),
    ] {
        let (s, b) = d
            .post(
                "/api/v1/pipelines/web/executions",
                &serde_json::json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
                                    "by": "ci", "not_before": not_before}),
            )
            .await;
        assert!((400..500).contains(&s), "not_before {not_before}: {s} {b}");
    }
    let (s, b) = d
        .post_text(
            "/api/v1/pipelines",
            "application/toml",
            &spec(&dir.path().join("log"))
                .replace("message = \"look\"", "message = \"look\"\ntimeout = 1e20"),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, _) = d.get("/readyz").await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_samples_are_refused_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let config = serde_json::json!({
        "name": "inline",
        "metrics": [
            {"name": "latency", "judge": {"kind": "mann_whitney"}},
            {"name": "errors", "events": "e", "total": "t",
             "judge": {"kind": "threshold", "aggregate": "rate", "max": 0.5}}
        ]
    });
    for (pair, field) in [
        (
            serde_json::json!({"metric": "latency",
                "baseline": {"bounds": [0.5, 0.1, 1.0], "counts": [1, 2, 3]},
                "canary": {"bounds": [0.1, 0.5, 1.0], "counts": [1, 2, 3]}}),
            "pairs[0].baseline",
        ),
        (
            serde_json::json!({"metric": "latency",
                "baseline": {"bounds": [0.1, 0.5, 1.0], "counts": [1, 2, 3]},
                "canary": {"bounds": [0.1, 0.5, 1.0], "counts": [1, -2, 3]}}),
            "pairs[0].canary",
        ),
        (
            serde_json::json!({"metric": "errors",
                "baseline": {"events": [9], "totals": [3]},
                "canary": {"events": [0], "totals": [3]}}),
            "pairs[0].baseline",
        ),
        // Per-request values on one side, event counts on the other: not one quantity.
        (
            serde_json::json!({"metric": "errors",
                "baseline": [0.1, 0.2, 0.3],
                "canary": {"events": [1, 2], "totals": [3, 3]}}),
            "pairs[0]",
        ),
    ] {
        let (s, b) = d
            .post(
                "/api/v1/judge",
                &serde_json::json!({"config": config, "pairs": [pair]}),
            )
            .await;
        assert_eq!((s, code(&b)), (422, "invalid_field"), "{b}");
        assert_eq!(b["error"]["details"]["fields"][0]["field"], field, "{b}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_queries_and_bodies_get_clear_answers_not_500() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    // A name with NUL is refused, not stored and then answered with 500.
    let (s, b) = d
        .post(
            "/api/v1/configs",
            &serde_json::json!({"name": "web\u{0}x", "metrics": [{"name": "m"}]}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_field"), "{b}");
    // A name that needs encoding in a URL gets an encoded Location.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/configs", d.url))
        .header("content-type", "application/json")
        .body(r#"{"name": "shop web/eu", "metrics": [{"name": "m"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "/api/v1/configs/shop%20web%2Feu"
    );
    // Query-string errors and duplicates come back in the error envelope.
    for q in ["limit=abc", "limit=1&limit=2", "colour=red"] {
        let r = reqwest::get(format!("{}/api/v1/executions?{q}", d.url))
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{q}"
        );
        let b: Value = r.json().await.unwrap();
        assert_eq!(code(&b), "bad_query", "{q}: {b}");
    }
    // A CRLF in the sign-in page's `next` is not a 500 (nor a header).
    let r = reqwest::get(format!(
        "{}/ui/login?next=/ui/x%0d%0aSet-Cookie:%20a=b",
        d.url
    ))
    .await
    .unwrap();
    assert!(r.status().as_u16() < 500, "{}", r.status());
    assert!(
        r.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("a=b"))
    );
    // An execution must name what it compares and who acts.
    let (s, b) = d
        .post_text(
            "/api/v1/pipelines",
            "application/toml",
            &spec(&dir.path().join("log")),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    for (body, field) in [
        (
            serde_json::json!({"baseline": {"scope": ""}, "canary": {"scope": ""}, "by": "ci"}),
            "baseline.scope",
        ),
        (
            serde_json::json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v1"}, "by": "ci"}),
            "canary",
        ),
        (
            serde_json::json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": ""}),
            "by",
        ),
    ] {
        let (s, b) = d.post("/api/v1/pipelines/web/executions", &body).await;
        assert_eq!(s, 422, "{body}: {b}");
        assert_eq!(b["error"]["details"]["fields"][0]["field"], field, "{b}");
    }
    assert!(!dir.path().join("log").exists(), "no router ran");
    let (s, b) = d
        .post(
            "/api/v1/executions/none/rollback",
            &serde_json::json!({"by": null}),
        )
        .await;
    assert!((400..500).contains(&s) && b["error"].is_object(), "{s} {b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_dropped_within_the_header_timeout_and_cost_little() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        dir.path(),
        NO_PROMETHEUS,
        "[http]\nheader_timeout_s = 2\nmax_connections = 4000\n",
    )
    .await;
    let addr = d.url.trim_start_matches("http://").to_string();
    let before = d.rss_kib();
    const CLIENTS: usize = 3000;
    let mut conns = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        // Headers that never end.
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        conns.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = d.rss_kib();
    // The daemon still answers others meanwhile — on a new connection each time: the
    // header timeout also closes an idle keep-alive connection, and a pooled one reused
    // just as the daemon closes it fails the request (a client-side race, not the
    // daemon's: it was seen once in CI).
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let healthz = format!("{}/healthz", d.url);
    let s = fresh.get(&healthz).send().await.expect("healthz").status();
    assert_eq!(s, 200);
    // Every slow client is dropped once the header timeout has passed.
    let started = Instant::now();
    let mut closed = 0;
    for mut c in conns {
        let mut buf = [0u8; 512];
        let left = Duration::from_secs(6).saturating_sub(started.elapsed());
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    let took = started.elapsed();
    eprintln!(
        "{CLIENTS} slow clients: RSS {before} KiB before, {during} KiB while held (+{} KiB), all dropped after {:.1} s",
        during.saturating_sub(before),
        took.as_secs_f64()
    );
    assert_eq!(closed, CLIENTS, "every slow client was dropped");
    // A regression guard for this (debug) build, whose futures are larger than a release
    // build's; the target (≤ 30 MiB for 3,000, release) is measured outside the tests.
    assert!(
        during.saturating_sub(before) <= 40 * 1024,
        "{CLIENTS} slow clients cost {} KiB",
        during.saturating_sub(before)
    );
    let s = fresh.get(&healthz).send().await.expect("healthz").status();
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_request_cannot_make_the_daemon_do_unbounded_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        dir.path(),
        NO_PROMETHEUS,
        "[http]\nbody_limit_bytes = 33554432\n\n[limits]\nmax_metrics_per_config = 50\nmax_queries_per_read = 60\n",
    )
    .await;
    // The probe: a config of thousands of metrics, judged with no pairs.
    let many: Vec<Value> = (0..5000)
        .map(|i| serde_json::json!({"name": format!("m{i}")}))
        .collect();
    let config = serde_json::json!({"name": "big", "metrics": many});
    let (s, b) = d
        .post(
            "/api/v1/judge",
            &serde_json::json!({"config": config, "pairs": []}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_field"), "{b}");
    assert!(b.to_string().contains("max_metrics_per_config"), "{b}");
    let (s, b) = d.post("/api/v1/configs", &config).await;
    assert_eq!(s, 422, "{b}");
    // Within the metric limit but over the query limit: 40 metrics × 2 sides = 80 > 60.
    let mut wide = String::from("name = \"wide\"\n");
    for i in 0..40 {
        wide.push_str(&format!(
            "[[metrics]]\nname = \"m{i}\"\n[metrics.query]\nkind = \"promql\"\ntemplate = 'up{{v=\"${{scope}}\"}}'\n"
        ));
    }
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", &wide)
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(b.to_string().contains("max_queries_per_read"), "{b}");
    // A config within both is taken.
    let (s, b) = d
        .post(
            "/api/v1/configs",
            &serde_json::json!({"name": "ok", "metrics": [{"name": "m"}]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_ui_forms_are_pages_not_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        dir.path(),
        NO_PROMETHEUS,
        "[http]\nbody_limit_bytes = 1024\n\n[[tokens]]\nname = \"ci\"\nrole = \"write\"\ntoken = \"write-token-0123456789\"\n",
    )
    .await;
    let huge = format!("token={}", "x".repeat(4096));
    let r = reqwest::Client::new()
        .post(format!("{}/ui/login", d.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        r.headers()
    );
    let r = reqwest::Client::new()
        .post(format!("{}/ui/login", d.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("next=/ui")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn judge_calls_beyond_the_cap_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        dir.path(),
        NO_PROMETHEUS,
        "[http]\nbody_limit_bytes = 33554432\n\n[limits]\nmax_concurrent_judge = 1\n",
    )
    .await;
    // A judge of 300,000 values per side keeps the one judge slot busy for a while.
    let base: Vec<f64> = (0..300_000).map(|i| (i % 1000) as f64).collect();
    let canary: Vec<f64> = base.iter().map(|v| v + 0.5).collect();
    let config = serde_json::json!({"name": "big", "metrics": [{"name": "latency", "judge": {"kind": "mann_whitney"}}]});
    let heavy = serde_json::json!({"config": config,
        "pairs": [{"metric": "latency", "baseline": base, "canary": canary}]});
    let small = serde_json::json!({"config": config,
        "pairs": [{"metric": "latency", "baseline": [1.0, 2.0], "canary": [1.0, 2.0]}]});
    let url = format!("{}/api/v1/judge", d.url);
    let slow = {
        let url = url.clone();
        tokio::spawn(async move {
            loop {
                let r = reqwest::Client::new().post(&url).json(&heavy).send().await;
                match r.map(|r| r.status().as_u16()) {
                    Ok(503) => continue,
                    other => return other,
                }
            }
        })
    };
    let started = Instant::now();
    let mut refused = None;
    while refused.is_none() && !slow.is_finished() {
        let r = reqwest::Client::new()
            .post(&url)
            .json(&small)
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            refused = Some(r.json::<Value>().await.unwrap());
        }
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let b = refused.expect("a judge call was refused while the slot was busy");
    assert_eq!(code(&b), "overloaded", "{b}");
    assert!(b.to_string().contains("max_concurrent_judge"), "{b}");
    assert_eq!(slow.await.unwrap().unwrap(), 200);
    // The slot is free again.
    let (s, _) = d.post("/api/v1/judge", &small).await;
    assert_eq!(s, 200);
}

/// A second `canaryd serve` on the same data dir is refused before it can resume (and
/// double) the first one's executions; it names the daemon holding the dir.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_one_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let config = dir.path().join("canaryd.toml");
    let started = Instant::now();
    let (code, _, err) = outcome(&canaryd([
        "serve".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]));
    assert_eq!(code, 75, "{err}");
    assert!(
        err.contains("another canaryd serve (pid ") && err.contains("uses the data dir"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The same store named as a URL (`--store sqlite:DIR`, no config file) is the same
    // store, and refused the same way; a store URL of an unknown kind is a usage error.
    let url = format!("sqlite:{}", dir.path().join("data").display());
    let (code, _, err) = outcome(&canaryd([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--store",
        url.as_str(),
    ]));
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("uses the data dir"), "{err}");
    let (code, _, err) = outcome(&canaryd([
        "serve",
        "--store",
        "postgres://canaryd@127.0.0.1/canaryd",
    ]));
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("unknown store scheme `postgres`"), "{err}");
}

/// Names that could pass for another on a screen — a Cyrillic `е`, a zero-width space, a
/// right-to-left override, fullwidth letters — are refused where configs and pipelines
/// are created, naming the field.
#[tokio::test(flavor = "multi_thread")]
async fn look_alike_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    for name in [
        "w\u{0435}b",
        "web\u{200B}",
        "\u{202E}bew",
        "\u{FF57}\u{FF45}\u{FF42}",
    ] {
        let config = format!(
            "name = \"{name}\"\n[[metrics]]\nname = \"m\"\n[metrics.query]\nkind = \"promql\"\ntemplate = 'up{{v=\"${{scope}}\"}}'\n"
        );
        let (s, b) = d
            .post_text("/api/v1/configs", "application/toml", &config)
            .await;
        assert_eq!(s, 422, "{name:?}: {b}");
        assert!(b.to_string().contains("\"name\""), "{name:?}: {b}");
        let spec = format!(
            "name = \"{name}\"\n[[targets]]\nname = \"eu\"\nrouter = {{ kind = \"webhook\", url = \"http://127.0.0.1:9/w\", secret = \"s\" }}\n[[stages]]\nkind = \"traffic\"\npercent = 5\n"
        );
        let (s, b) = d
            .post_text("/api/v1/pipelines", "application/toml", &spec)
            .await;
        assert_eq!(s, 422, "{name:?}: {b}");
    }
}
