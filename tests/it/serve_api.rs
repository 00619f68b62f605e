//! `canaryd serve` API behaviour that needs no metric source: configs, validation, errors,
//! auth, limits, the synchronous judge, OpenAPI, `/metrics` and the Kayenta config calls.

use serde_json::{Value, json};

use crate::support::daemon::Daemon;

/// Nobody listens here: analyses that reach Prometheus see an outage.
const NO_PROMETHEUS: &str = "http://127.0.0.1:9";

pub const WEB_TOML: &str = r#"
name = "shop-web"
applications = ["shop"]

[thresholds]
pass = 90
marginal = 50

[[metrics]]
name = "latency"
groups = ["latency"]
direction = "increase"
critical = true
judge = { kind = "threshold", aggregate = "p90", max_ratio = 1.5 }
[metrics.query]
kind = "histogram"
base = "http_request_duration_seconds"
filter = 'version="${scope}"'
split_by = ["route"]

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
split_by = ["route"]
"#;

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn configs_are_validated_stored_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;

    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["name"], "shop-web");
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!((s, error_code(&b)), (409, "conflict"), "{b}");

    // A bad config names the field and the line.
    let bad = WEB_TOML.replace("aggregate = \"p90\"", "aggregate = \"p900\"");
    let (s, b) = d
        .put_text("/api/v1/configs/shop-web", "application/toml", &bad)
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(fields(&b), ["metrics[0].judge"], "{b}");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("p900") && message.contains("line 14"),
        "{b}"
    );
    let unsafe_split =
        WEB_TOML.replace("split_by = [\"route\"]\n\n", "split_by = [\"ro ute\"]\n\n");
    let (s, b) = d
        .post_text(
            "/api/v1/configs",
            "application/toml",
            &unsafe_split.replace("shop-web", "x"),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(fields(&b), ["metrics[0].query.split_by[0]"], "{b}");

    let (s, b) = d.get("/api/v1/configs/shop-web").await;
    assert_eq!(s, 200);
    assert_eq!(b["format"], "toml");
    assert!(
        b["config"]
            .as_str()
            .unwrap()
            .contains("http_request_duration_seconds")
    );
    let (s, b) = d.get("/api/v1/configs?application=shop").await;
    assert_eq!((s, b["items"].as_array().unwrap().len()), (200, 1), "{b}");
    let (_, b) = d.get("/api/v1/configs?application=other").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 0);

    let (s, _) = d.delete("/api/v1/configs/shop-web").await;
    assert_eq!(s, 204);
    let (s, b) = d.get("/api/v1/configs/shop-web").await;
    assert_eq!((s, error_code(&b)), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread")]
async fn analysis_requests_are_checked_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let (s, _) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!(s, 201);
    let window = json!({"mode": "retrospective", "start": "2026-11-26T10:00:00Z", "end": "2026-11-26T11:00:00Z", "step": "10s"});

    let (s, b) = d.post("/api/v1/analyses", &json!({
        "config": "shop-web", "baseline": {"scope": "v1"}, "canary": {"scop": "v2"}, "window": window,
    })).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(fields(&b), ["canary.scop"]);

    let (s, b) = d.post("/api/v1/analyses", &json!({
        "config": "nope", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "window": window,
    })).await;
    assert_eq!((s, fields(&b)), (422, vec!["config".to_string()]), "{b}");

    // `${scope}` sits in a string literal of the filter: quotes are escaped, so this is
    // accepted; a control character cannot be made safe.
    let (s, b) = d.post("/api/v1/analyses", &json!({
        "config": "shop-web", "baseline": {"scope": "v1"}, "canary": {"scope": "v2\u{7}"}, "window": window,
    })).await;
    assert_eq!(s, 422, "{b}");
    assert!(fields(&b).iter().all(|f| f == "canary"), "{b}");

    let (s, b) = d.post("/api/v1/analyses", &json!({
        "config": "shop-web", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
        "window": {"mode": "retrospective", "start": "2026-11-26T11:00:00Z", "end": "2026-11-26T10:00:00Z"},
    })).await;
    assert_eq!(
        (s, fields(&b)),
        (422, vec!["window.end".to_string()]),
        "{b}"
    );

    let (s, b) = d
        .post(
            "/api/v1/analyses",
            &json!({
                "config": "shop-web", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
                "window": {"mode": "live", "interval": "soon", "max_duration": "1h"},
            }),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(fields(&b), ["window.interval"], "{b}");

    let (s, b) = d.get("/api/v1/analyses?status=done").await;
    assert_eq!((s, fields(&b)), (422, vec!["status".to_string()]), "{b}");
    let (s, b) = d.get("/api/v1/analyses/nope").await;
    assert_eq!((s, error_code(&b)), (404, "not_found"));
    let (s, b) = d
        .post_text("/api/v1/analyses", "application/json", "{not json")
        .await;
    assert_eq!((s, error_code(&b)), (400, "bad_json"), "{b}");

    // A valid request against an unreachable Prometheus: accepted, then an error without
    // a verdict — never a pass.
    let (s, b) = d.post("/api/v1/analyses", &json!({
        "config": "shop-web", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "window": window,
    })).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    let (_, list) = d
        .get("/api/v1/analyses?application=shop&status=running")
        .await;
    assert!(list["total"].as_u64().unwrap() <= 1);
    // Cancel it: the store says cancelled and the verdict stays empty.
    let (s, c) = d
        .post(&format!("/api/v1/analyses/{id}/cancel"), &json!({}))
        .await;
    if s == 200 {
        assert_eq!(c["status"], "cancelled");
    } else {
        assert_eq!((s, error_code(&c)), (409, "already_final"), "{c}");
    }
    let a = d.wait_final(&id, std::time::Duration::from_secs(60)).await;
    assert!(a["verdict"].is_null(), "{a}");
    assert!(a["status"] == "cancelled" || a["status"] == "error", "{a}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_limits_and_the_error_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[http]
body_limit_bytes = 4096

[[tokens]]
name = "dashboards"
role = "read"
token = "read-token-0123456789"

[[tokens]]
name = "ci"
role = "write"
token = "write-token-0123456789"
"#;
    let mut d = Daemon::start(dir.path(), NO_PROMETHEUS, extra).await;
    let (s, _) = d.get("/healthz").await;
    assert_eq!(s, 200);
    let (s, b) = d.get("/api/v1/configs").await;
    assert_eq!((s, error_code(&b)), (401, "unauthorized"), "{b}");
    d.with_token(Some("read-token-0123456789"));
    let (s, _) = d.get("/api/v1/configs").await;
    assert_eq!(s, 200);
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!((s, error_code(&b)), (403, "forbidden"), "{b}");
    d.with_token(Some("wrong-token-0123456789"));
    let (s, _) = d.get("/api/v1/configs").await;
    assert_eq!(s, 401);
    let (s, _) = d.get("/canaryConfig").await;
    assert_eq!(s, 401, "the Kayenta dialect is guarded too");
    d.with_token(Some("write-token-0123456789"));
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!(s, 201, "{b}");
    let big = format!("{WEB_TOML}\n# {}\n", "x".repeat(8192));
    let (s, b) = d
        .post_text("/api/v1/configs", "application/toml", &big)
        .await;
    assert_eq!((s, error_code(&b)), (413, "body_too_large"), "{b}");
    let (s, b) = d.post_text("/api/v1/configs", "text/csv", "a,b").await;
    assert_eq!((s, error_code(&b)), (415, "unsupported_media_type"), "{b}");
    let (s, b) = d.delete("/api/v1/judge").await;
    assert_eq!((s, error_code(&b)), (405, "method_not_allowed"), "{b}");
    // Secrets never leak into logs.
    assert!(!d.log_tail().contains("write-token-0123456789"));
}

#[tokio::test(flavor = "multi_thread")]
async fn judge_openapi_metrics_and_kayenta_configs() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;

    // Synchronous judge of inline data, the same JSON as `analyze --format json`.
    let config = json!({
        "name": "inline", "thresholds": {"pass": 90, "marginal": 50},
        "metrics": [
            {"name": "latency", "direction": "increase", "judge": {"kind": "mann_whitney"}},
            {"name": "errors", "events": "e", "total": "t", "direction": "increase",
             "judge": {"kind": "threshold", "aggregate": "rate", "max_increase": 0.01}}
        ]
    });
    let base: Vec<f64> = (0..200).map(|i| 100.0 + (i % 17) as f64).collect();
    let slow: Vec<f64> = base.iter().map(|v| v * 2.0).collect();
    let (s, r) = d.post("/api/v1/judge", &json!({
        "config": config,
        "pairs": [
            {"metric": "latency", "labels": {"route": "/a"}, "baseline": base, "canary": slow},
            {"metric": "errors", "baseline": {"events": [0, 1], "totals": [100, 100]},
             "canary": {"events": [0, 1], "totals": [100, 100]}}
        ]
    })).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["schema"], "canaryd.analysis.v1");
    assert_eq!(r["metrics"][0]["classification"], "high", "{r}");
    assert_eq!(r["metrics"][1]["classification"], "pass", "{r}");
    let (s, r) = d
        .post(
            "/api/v1/judge",
            &json!({"config": config, "pairs": [
        {"metric": "nope", "baseline": [1], "canary": [2]}]}),
        )
        .await;
    assert_eq!(
        (s, fields(&r)),
        (422, vec!["pairs[0].metric".to_string()]),
        "{r}"
    );
    // A critical metric the request gave no data for holds a healthy canary (canaryd's
    // rules, the default); Kayenta's rules, asked for, fail it.
    let mut critical = config.clone();
    critical["metrics"][1]["critical"] = json!(true);
    let only_latency = json!([{"metric": "latency", "baseline": base, "canary": base}]);
    let (s, r) = d
        .post(
            "/api/v1/judge",
            &json!({"config": critical, "pairs": only_latency}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["verdict"].as_str(), r["scoring"].as_str()),
        (Some("inconclusive"), Some("canaryd")),
        "{r}"
    );
    assert_eq!(r["holds"][0]["kind"], "critical_no_data", "{r}");
    assert_eq!(r["holds"][0]["subject"], "errors", "{r}");
    let (s, r) = d
        .post(
            "/api/v1/judge",
            &json!({"config": critical, "pairs": only_latency, "scoring": "kayenta"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["verdict"].as_str(), r["score"].as_f64()),
        (Some("fail"), Some(0.0)),
        "{r}"
    );

    let (s, doc) = d.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/analyses/{id}"]["get"].is_object());

    let (s, text) = d.get_text("/metrics").await;
    assert_eq!(s, 200);
    for family in [
        "canaryd_http_request_duration_seconds",
        "canaryd_judge_duration_seconds",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }

    // Kayenta's config calls, with account parameters it must ignore.
    let kayenta = json!({
        "name": "kayenta-web", "applications": ["shop"],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [{"name": "latency", "groups": ["latency"], "scopeName": "default",
            "query": {"type": "prometheus", "customInlineTemplate": "PromQL:histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{version=\"${scope}\"}[10s])))"},
            "analysisConfigurations": {"canary": {"direction": "increase"}}}],
        "classifier": {"groupWeights": {"latency": 100}, "scoreThresholds": {"pass": 90, "marginal": 50}}
    });
    let (s, b) = d
        .post("/canaryConfig?configurationAccountName=acct", &kayenta)
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["canaryConfigId"].as_str().unwrap().to_string();
    let (s, list) = d
        .get("/canaryConfig?application=shop&configurationAccountName=acct&foo=bar")
        .await;
    assert_eq!(s, 200);
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "kayenta-web")
        .expect("listed");
    assert_eq!(entry["id"], id.as_str());
    assert!(
        entry["updatedTimestampIso"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let (s, c) = d.get(&format!("/canaryConfig/{id}")).await;
    assert_eq!((s, c["name"].as_str()), (200, Some("kayenta-web")));
    let (s, j) = d.get("/judges").await;
    assert_eq!(s, 200);
    assert_eq!(j[0]["name"], "NetflixACAJudge-v1.0");
    let (s, h) = d.get("/health").await;
    assert_eq!((s, h["status"].as_str()), (200, Some("UP")));
    let (s, b) = d
        .post(&format!("/canary/{id}"), &json!({"scopes": {}}))
        .await;
    assert_eq!(
        (s, fields(&b)),
        (422, vec!["thresholds".to_string()]),
        "{b}"
    );
    let (s, _) = d.delete(&format!("/canaryConfig/{id}")).await;
    assert_eq!(s, 204);

    // `POST /canary` with the config inline. Prometheus is unreachable: the execution stays
    // incomplete, with no result and no score — an outage never passes.
    let scope = |s: &str| json!({"scope": s, "start": "2026-11-26T10:00:00Z", "end": "2026-11-26T10:30:00Z", "step": 60});
    let (s, b) = d.post("/canary?application=shop&metricsAccountName=prom", &json!({
        "canaryConfig": kayenta,
        "executionRequest": {"scopes": {"default": {"controlScope": scope("v1"), "experimentScope": scope("v2")}},
                             "thresholds": {"pass": 90, "marginal": 50}}
    })).await;
    assert_eq!(s, 200, "{b}");
    let execution = b["canaryExecutionId"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (s, st) = d.get(&format!("/canary/{execution}")).await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(
        (st["complete"].as_bool(), st["status"].as_str()),
        (Some(false), Some("running")),
        "{st}"
    );
    assert!(st["result"].is_null(), "{st}");
    assert_eq!(st["startTimeIso"], "2026-11-26T10:00:00.000Z");
    let (s, b) = d.get("/canary/unknown-id").await;
    assert_eq!((s, error_code(&b)), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_beyond_max_in_flight_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[http]\nmax_in_flight = 1\nbody_limit_bytes = 33554432\n";
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, extra).await;
    // A judge of 300,000 values per side keeps the one slot busy for a while.
    let base: Vec<f64> = (0..300_000).map(|i| (i % 1000) as f64).collect();
    let canary: Vec<f64> = base.iter().map(|v| v + 0.5).collect();
    let body = json!({
        "config": {"name": "big", "metrics": [{"name": "latency", "judge": {"kind": "mann_whitney"}}]},
        "pairs": [{"metric": "latency", "baseline": base, "canary": canary}]
    });
    let slow = {
        let url = format!("{}/api/v1/judge", d.url);
        tokio::spawn(async move {
            // It may itself meet the slot taken by a probe below: then it tries again.
            loop {
                let status = reqwest::Client::new()
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                if status.as_ref().is_ok_and(|s| *s == 503) {
                    continue;
                }
                return status;
            }
        })
    };
    // While it runs, another request is refused with 503 and Retry-After.
    let started = std::time::Instant::now();
    let mut refused = None;
    while refused.is_none() && !slow.is_finished() {
        let r = reqwest::get(format!("{}/api/v1/configs", d.url))
            .await
            .unwrap();
        if r.status() == 503 {
            let retry = r.headers().get("retry-after").cloned();
            let b: Value = r.json().await.unwrap();
            refused = Some((retry, b));
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let (retry, b) = refused.expect("a request was refused while the slot was busy");
    assert_eq!(error_code(&b), "overloaded", "{b}");
    assert_eq!(retry.unwrap(), "1");
    assert_eq!(slow.await.unwrap().unwrap(), 200);
    let (s, _) = d.get("/api/v1/configs").await;
    assert_eq!(s, 200, "admitted again once the slot is free");
    // The refusals are counted where an operator looks.
    let (s, text) = d.get_text("/metrics").await;
    assert_eq!(s, 200);
    assert!(
        text.lines().any(
            |l| l.starts_with("canaryd_http_request_duration_seconds_count")
                && l.contains("route=\"/api/v1/configs\"")
                && l.contains("status=\"503\"")
        ),
        "{text}"
    );
}
