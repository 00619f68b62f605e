//! `canaryd serve` against a real Prometheus scraping simulated service versions of our own
//! every second: per-API verdicts, a healthy canary, empty queries, the Kayenta dialect as
//! Argo Rollouts drives it, a sequential judge stopping early, a Prometheus outage in the
//! middle of a live analysis, and a daemon killed with SIGKILL and restarted.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::serve_api::WEB_TOML;
use crate::support::daemon::Daemon;
use crate::support::prometheus::{Prometheus, require_prometheus};
use crate::support::target::{Behaviour, SEQUENTIAL_ERRORS, Target};

const APIS: [&str; 3] = ["/checkout", "/search", "/login"];

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Per-metric classifications of a report: (metric, route) → classification.
fn classes(report: &Value) -> Vec<(String, String, String)> {
    report["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| {
            (
                m["metric"].as_str().unwrap_or("").to_string(),
                m["labels"]["route"].as_str().unwrap_or("").to_string(),
                m["classification"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A Kayenta-dialect execution's status once complete.
async fn kayenta_status(d: &Daemon, execution: &str) -> Value {
    let started = Instant::now();
    loop {
        let (s, st) = d.get(&format!("/canary/{execution}")).await;
        assert_eq!(s, 200, "{st}");
        if st["complete"] == true {
            return st;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Start a Kayenta-dialect execution of `config_id` and wait for its status.
async fn kayenta_execution(
    d: &Daemon,
    config_id: &str,
    control: Value,
    experiment: Value,
) -> Value {
    let body = json!({"scopes": {"default": {"controlScope": control, "experimentScope": experiment}},
                      "thresholds": {"pass": 90, "marginal": 50}});
    let path = format!(
        "/canary/{config_id}?application=shop&metricsAccountName=prom&storageAccountName=storage&configurationAccountName=storage"
    );
    let (s, b) = d.post(&path, &body).await;
    assert_eq!(s, 200, "{b}");
    kayenta_status(d, b["canaryExecutionId"].as_str().expect("execution id")).await
}

fn retrospective(config: &str, baseline: &str, canary: &str, start: f64, end: f64) -> Value {
    json!({
        "config": config, "application": "shop",
        "baseline": {"scope": baseline}, "canary": {"scope": canary},
        "window": {"mode": "retrospective", "start": start, "end": end, "step": "2s"},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn per_api_verdicts_nodata_kayenta_and_early_stop_from_real_prometheus() {
    require_prometheus!();
    let v1 = Target::start("v1", &APIS, Behaviour::default()).await;
    let v2 = Target::start("v2", &APIS, Behaviour::default()).await;
    v2.set(
        "/checkout",
        Behaviour {
            latency_factor: 3.0,
            error_rate: 0.05,
            ..Behaviour::default()
        },
    );
    let v3 = Target::start("v3", &APIS, Behaviour::default()).await;
    let prom = Prometheus::start(
        &[("v1", v1.addr()), ("v2", v2.addr()), ("v3", v3.addr())],
        1,
    )
    .await;
    prom.wait_for_samples("http_requests_total", 18, Duration::from_secs(30))
        .await;
    let first = now();

    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &prom.url(), "").await;
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", SEQUENTIAL_ERRORS)
        .await;
    assert_eq!(s, 201, "{b}");

    // A live analysis with a sequential judge: v2's /checkout errors at 5% against 0.1%
    // must stop it early with a fail, long before its 2 minutes.
    let (s, live) = d
        .post("/api/v1/analyses", &json!({
            "config": "errors-sequential", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
            "window": {"mode": "live", "interval": "2s", "max_duration": "2m", "step": "2s", "lag": "1s"},
        }))
        .await;
    assert_eq!(s, 201, "{live}");

    // 14 s of data, then judge the last 12 s.
    let wait = (first + 14.0 - now()).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    let (start, end) = (now() - 13.0, now() - 1.0);

    let mut ids = Vec::new();
    for (canary, config) in [("v2", "shop-web"), ("v3", "shop-web"), ("v9", "shop-web")] {
        let (s, b) = d
            .post(
                "/api/v1/analyses",
                &retrospective(config, "v1", canary, start, end),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["id"].as_str().unwrap().to_string());
    }

    // One API regressed: its latency and errors are high, the others pass, verdict fail.
    let bad = d.wait_final(&ids[0], Duration::from_secs(30)).await;
    assert_eq!(bad["status"], "succeeded", "{bad}");
    assert_eq!(bad["verdict"], "fail", "{bad}");
    let report = &bad["report"];
    for (metric, route, class) in classes(report) {
        let want = if route == "/checkout" { "high" } else { "pass" };
        assert_eq!(class, want, "{metric}{{route={route}}}: {report}");
    }
    assert_eq!(classes(report).len(), 6, "3 APIs × 2 metrics: {report}");
    let queries = bad["queries"].as_array().unwrap();
    assert!(
        queries.iter().any(|q| q
            .as_str()
            .unwrap()
            .contains("http_request_duration_seconds_bucket{version=\"v2\"}")),
        "{queries:?}"
    );
    assert_eq!(bad["intervals"].as_array().unwrap().len(), 1);
    // Its page charts the failing latency histogram over time (each step's mean), inline.
    let (s, page) = d.get_text(&format!("/ui/analyses/{}", ids[0])).await;
    assert_eq!(s, 200);
    // A lazily loaded chart is a standalone SVG file: one namespace declaration.
    let (s, svg) = d
        .get_text(&format!(
            "/ui/analyses/{}/charts/0/distribution.svg",
            ids[0]
        ))
        .await;
    assert_eq!(s, 200, "{svg}");
    assert!(
        svg.starts_with("<svg") && svg.matches("xmlns=").count() == 1,
        "{svg:.200}"
    );
    for chart in ["distribution", "over time"] {
        assert!(
            page.contains(&format!(
                "latency{{route=&quot;/checkout&quot;}} — {chart}\""
            )),
            "the failing latency pair has its {chart} chart"
        );
    }

    // A healthy canary passes.
    let good = d.wait_final(&ids[1], Duration::from_secs(30)).await;
    assert_eq!(
        (good["status"].as_str(), good["verdict"].as_str()),
        (Some("succeeded"), Some("pass")),
        "{good}"
    );

    // A scope without series: nodata whose reason quotes the query; never a pass.
    let none = d.wait_final(&ids[2], Duration::from_secs(30)).await;
    assert_ne!(none["verdict"], "pass", "{none}");
    for m in none["report"]["metrics"].as_array().unwrap() {
        assert_eq!(m["classification"], "nodata", "{m}");
        let reason = m["reason"].as_str().unwrap();
        assert!(
            reason.contains("version=\"v9\""),
            "the reason names the query: {reason}"
        );
    }

    // The Kayenta dialect, driven the way Argo Rollouts' provider drives it.
    let kayenta = json!({
        "name": "shop-kayenta", "applications": ["shop"],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [{
            "name": "p90-latency", "groups": ["latency"], "scopeName": "default",
            "query": {"type": "prometheus", "customInlineTemplate":
                "PromQL:histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{version=\"${scope}\"}[4s])))"},
            "analysisConfigurations": {"canary": {"direction": "increase",
                "effectSize": {"allowedIncrease": 1.5}}}
        }],
        "classifier": {"groupWeights": {"latency": 100}, "scoreThresholds": {"pass": 90, "marginal": 50}}
    });
    let (s, b) = d
        .post("/canaryConfig?configurationAccountName=storage", &kayenta)
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, list) = d
        .get("/canaryConfig?application=shop&configurationAccountName=storage")
        .await;
    assert_eq!(s, 200);
    let config_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "shop-kayenta")
        .and_then(|c| c["id"].as_str())
        .expect("the config is listed by application")
        .to_string();
    let iso = |t: f64| {
        chrono::DateTime::from_timestamp(t as i64, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let scope = |s: &str| json!({"scope": s, "location": "", "start": iso(start), "end": iso(end), "step": 2});
    let (s, b) = d
        .post(
            &format!("/canary/{config_id}?application=shop&metricsAccountName=prom&storageAccountName=storage&configurationAccountName=storage"),
            &json!({"scopes": {"default": {"controlScope": scope("v1"), "experimentScope": scope("v3")}},
                    "thresholds": {"pass": 90, "marginal": 50}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let execution = b["canaryExecutionId"].as_str().unwrap().to_string();
    let status = kayenta_status(&d, &execution).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let score = status["result"]["judgeResult"]["score"]["score"]
        .as_f64()
        .unwrap_or_else(|| panic!("no result.judgeResult.score.score: {status}"));
    assert!(score >= 90.0, "healthy canary scores {score}: {status}");
    assert_eq!(status["scoring"], "canaryd", "canaryd's rules by default");

    // A canary scope without series: canaryd's rules hold it (Kayenta "Marginal", capped at
    // the marginal threshold, never "Pass") and the answer says why.
    let held = kayenta_execution(&d, &config_id, scope("v1"), scope("v9")).await;
    let judged = &held["result"]["judgeResult"]["score"];
    assert_eq!(judged["classification"], "Marginal", "{held}");
    assert!(judged["score"].as_f64().expect("score") <= 50.0, "{held}");
    assert!(
        !held["holds"].as_array().expect("holds").is_empty(),
        "{held}"
    );
    // A daemon set to Kayenta's rules scores the same execution as Kayenta does: all
    // nodata → 0, Fail.
    let kdir = tempfile::tempdir().unwrap();
    let kd = Daemon::start(
        kdir.path(),
        &prom.url(),
        "[kayenta]\nscoring = \"kayenta\"\n",
    )
    .await;
    let (s, b) = kd
        .post("/canaryConfig?configurationAccountName=storage", &kayenta)
        .await;
    assert_eq!(s, 200, "{b}");
    let k_config = b["canaryConfigId"].as_str().expect("config id").to_string();
    let k = kayenta_execution(&kd, &k_config, scope("v1"), scope("v9")).await;
    assert_eq!(k["scoring"], "kayenta", "{k}");
    assert_eq!(
        (
            k["result"]["judgeResult"]["score"]["classification"].as_str(),
            k["result"]["judgeResult"]["score"]["score"].as_f64()
        ),
        (Some("Fail"), Some(0.0)),
        "{k}"
    );
    // A misspelt field is accepted, as Kayenta accepts it, and named in the answer.
    let mut typo = kayenta.clone();
    typo["name"] = json!("shop-kayenta-typo");
    let m = typo["metrics"][0].as_object_mut().unwrap();
    let options = m.remove("analysisConfigurations").unwrap();
    m.insert("analysisConfiguration".into(), options);
    let (s, b) = d
        .post("/canaryConfig?configurationAccountName=storage", &typo)
        .await;
    assert_eq!(s, 200, "{b}");
    let w = b["warnings"].as_array().expect("warnings");
    assert!(
        w.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("analysisConfiguration") && w.contains("did you mean"))),
        "{b}"
    );

    // The live sequential analysis stopped early with a fail.
    let id = live["id"].as_str().unwrap();
    let l = d.wait_final(id, Duration::from_secs(60)).await;
    assert_eq!(
        (l["status"].as_str(), l["verdict"].as_str()),
        (Some("succeeded"), Some("fail")),
        "{l}"
    );
    let judged = l["judged_intervals"].as_u64().unwrap();
    let planned = l["planned_intervals"].as_u64().unwrap();
    assert!(
        judged < planned,
        "stopped early: {judged} of {planned} intervals"
    );
    let checkout = l["report"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["labels"]["route"] == "/checkout")
        .expect("a /checkout pair");
    assert_eq!(checkout["classification"], "high", "{checkout}");

    // Its page charts the confidence sequence of the failing pair, inline, with the decision.
    let (s, page) = d.get_text(&format!("/ui/analyses/{id}")).await;
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("errors{route=&quot;/checkout&quot;} — confidence sequence"),
        "the sequential pair's confidence sequence is on the page"
    );
    let (s, report) = d
        .get_text(&format!("/api/v1/analyses/{id}/report.html"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        // Each chart names itself in its aria-label.
        report.matches("— confidence sequence\"").count(),
        3,
        "one confidence sequence per API in the self-contained report"
    );
}

/// Hosts as the unit against a real Prometheus: three baseline and three canary instances
/// of one API, one canary instance 3× slower. With `unit_label = "instance"` the collector
/// keeps the label Prometheus gives each scrape target, the pairs are merged per route,
/// and the slow instance fails the analysis by its address.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_instance_is_named_from_real_prometheus() {
    require_prometheus!();
    let api = ["/checkout"];
    let mut targets = Vec::new();
    for k in 0..3u64 {
        targets.push((
            "v1",
            Target::start_instance("v1", k + 1, &api, Behaviour::default()).await,
        ));
    }
    for k in 0..3u64 {
        let b = Behaviour {
            latency_factor: if k == 0 { 3.0 } else { 1.0 },
            ..Behaviour::default()
        };
        targets.push(("v2", Target::start_instance("v2", k + 1, &api, b).await));
    }
    let slow = targets[3].1.addr().to_string();
    let scrape: Vec<(&str, std::net::SocketAddr)> =
        targets.iter().map(|(v, t)| (*v, t.addr())).collect();
    let prom = Prometheus::start(&scrape, 1).await;
    prom.wait_for_samples("http_requests_total", 12, Duration::from_secs(30))
        .await;
    let first = now();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &prom.url(), "").await;
    let config = r#"
name = "shop-hosts"
applications = ["shop"]
unit_label = "instance"
judge = { kind = "sequential", alpha = 0.01, tolerance = 0.2 }

[[metrics]]
name = "latency"
direction = "increase"
[metrics.query]
kind = "histogram"
base = "http_request_duration_seconds"
filter = 'version="${scope}"'
split_by = ["route"]
"#;
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", config)
        .await;
    assert_eq!(s, 201, "{b}");
    let wait = (first + 14.0 - now()).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    let (start, end) = (now() - 13.0, now() - 1.0);
    let (s, b) = d
        .post(
            "/api/v1/analyses",
            &retrospective("shop-hosts", "v1", "v2", start, end),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let done = d
        .wait_final(b["id"].as_str().expect("id"), Duration::from_secs(30))
        .await;
    assert_eq!(done["verdict"], "fail", "{done}");
    let metrics = done["report"]["metrics"].as_array().expect("metrics");
    assert_eq!(metrics.len(), 1, "one pair per route, hosts merged: {done}");
    let m = &metrics[0];
    assert_eq!(m["labels"], json!({"route": "/checkout"}), "{m}");
    assert_eq!(m["hosts"]["label"], "instance");
    assert_eq!(m["hosts"]["named"], json!([slow]), "{m}");
    assert_eq!(m["hosts"]["baseline"].as_array().map(Vec::len), Some(3));
    let reason = m["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(&format!("canary host {slow}")), "{reason}");
    let queries = done["queries"].to_string();
    assert!(
        queries.contains("http_request_duration_seconds_bucket"),
        "{queries}"
    );
    drop(targets);
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_outage_holds_and_a_killed_daemon_resumes() {
    require_prometheus!();
    let v1 = Target::start("v1", &APIS, Behaviour::default()).await;
    let v3 = Target::start("v3", &APIS, Behaviour::default()).await;
    let mut prom = Prometheus::start(&[("v1", v1.addr()), ("v3", v3.addr())], 1).await;
    prom.wait_for_samples("http_requests_total", 12, Duration::from_secs(30))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(dir.path(), &prom.url(), "").await;
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, a) = d
        .post("/api/v1/analyses", &json!({
            "config": "shop-web", "baseline": {"scope": "v1"}, "canary": {"scope": "v3"},
            "window": {"mode": "live", "start": now() - 4.0, "interval": "3s", "max_duration": "40s",
                       "step": "2s", "lag": "1s"},
        }))
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/analyses/{id}");

    // Let an interval be judged, then take Prometheus away.
    let started = Instant::now();
    loop {
        let (_, a) = d.get(&path).await;
        if a["intervals"].as_array().is_some_and(|i| !i.is_empty()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no interval judged: {a}\n{}",
            d.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    prom.stop();
    let started = Instant::now();
    let during = loop {
        let (_, a) = d.get(&path).await;
        let outage = a["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["outcome"] == "outage");
        if outage {
            break a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no outage recorded: {a}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        during["status"], "running",
        "an outage never ends the analysis: {during}"
    );
    assert!(
        during["verdict"].is_null(),
        "an outage never passes: {during}"
    );
    let outage = during["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["outcome"] == "outage")
        .unwrap();
    assert!(
        outage["error"].as_str().unwrap().contains("unavailable"),
        "{outage}"
    );
    // An outage interval is read, not judged.
    let judged = during["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "judged")
        .count();
    assert_eq!(during["judged_intervals"], judged, "{during}");
    assert!(
        during["read_intervals"].as_u64().unwrap() > judged as u64,
        "{during}"
    );

    // Prometheus comes back; then the daemon is killed and restarted mid-analysis.
    prom.restart().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    d.kill9();
    tokio::time::sleep(Duration::from_secs(4)).await;
    d.restart().await;

    let done = d.wait_final(&id, Duration::from_secs(90)).await;
    assert_eq!(
        (done["status"].as_str(), done["verdict"].as_str()),
        (Some("succeeded"), Some("pass")),
        "{done}\n{}",
        d.log_tail()
    );
    let intervals = done["intervals"].as_array().unwrap();
    let indices: Vec<u64> = intervals
        .iter()
        .map(|i| i["index"].as_u64().unwrap())
        .collect();
    let unique: BTreeSet<u64> = indices.iter().copied().collect();
    assert_eq!(
        unique.len(),
        indices.len(),
        "an interval judged twice: {indices:?}"
    );
    let planned = done["planned_intervals"].as_u64().unwrap();
    assert_eq!(
        indices,
        (0..planned).collect::<Vec<_>>(),
        "every interval, once, in order"
    );
    let judged_after = intervals
        .iter()
        .skip_while(|i| i["outcome"] != "outage")
        .any(|i| i["outcome"] == "judged");
    assert!(
        judged_after,
        "judging resumed after the outage: {intervals:?}"
    );
}
