//! Pipelines through `canaryd serve`: a versioned spec, an execution moving traffic through
//! a command router, a manual judgment over the API, the event log, and refusals.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::daemon::Daemon;

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
message = "check the dashboards"
approvers = ["alice"]
timeout = "1h"

[[stages]]
kind = "traffic"
percent = 100
"#,
        log.display()
    )
}

async fn wait_execution(d: &Daemon, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (s, e) = d.get(&format!("/api/v1/executions/{id}")).await;
        assert_eq!(s, 200, "{e}");
        if done(&e) {
            return e;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{e}\n{}",
            d.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_execution_moves_traffic_waits_for_a_person_and_logs_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let mut d = Daemon::start(dir.path(), "http://127.0.0.1:9", "").await;

    let bad = spec(&log).replace("percent = 5", "percent = 500");
    let (s, b) = d
        .post_text("/api/v1/pipelines", "application/toml", &bad)
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["error"]["details"]["fields"][0]["field"]
            .as_str()
            .unwrap()
            .contains("stages[0].percent"),
        "{b}"
    );

    let (s, b) = d
        .post_text("/api/v1/pipelines", "application/toml", &spec(&log))
        .await;
    assert_eq!((s, b["version"].as_i64()), (201, Some(1)), "{b}");
    let (s, b) = d
        .put_text("/api/v1/pipelines/web", "application/toml", &spec(&log))
        .await;
    assert_eq!((s, b["version"].as_i64()), (200, Some(2)), "{b}");

    let (s, e) = d
        .post(
            "/api/v1/pipelines/web/executions",
            &json!({
                "baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": "ci"
            }),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["version"], 2);
    let id = e["id"].as_str().unwrap().to_string();
    let awaiting = |e: &Value| e["state"]["phase"]["phase"] == "awaiting_judgment";
    wait_execution(&d, &id, awaiting).await;
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), "set_split 5");

    // A second execution on the same router target is refused, naming the running one.
    let (s, b) = d
        .post(
            "/api/v1/pipelines/web/executions",
            &json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v3"}, "by": "ci"}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("target_busy")),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["execution"], id.as_str(), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains(&id), "{b}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), "set_split 5");

    // Killed while waiting for a person: the restarted daemon waits again, same split.
    d.kill9();
    d.restart().await;
    let e = wait_execution(&d, &id, awaiting).await;
    assert_eq!(e["state"]["split"][0], 5.0);
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), "set_split 5");

    let judge = |by: &str| json!({"decision": "approve", "by": by, "comment": "looks good"});
    let (s, b) = d
        .post(
            &format!("/api/v1/executions/{id}/judgment"),
            &judge("mallory"),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("not_applicable")),
        "{b}"
    );
    let (s, b) = d
        .post(
            &format!("/api/v1/executions/{id}/resume"),
            &json!({"by": "alice"}),
        )
        .await;
    assert_eq!(s, 409, "not paused: {b}");
    let (s, b) = d
        .post(
            &format!("/api/v1/executions/{id}/judgment"),
            &judge("alice"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let done = wait_execution(&d, &id, |e| e["status"] != "running").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(lines, ["set_split 5", "set_split 100"]);

    let (s, ev) = d.get(&format!("/api/v1/executions/{id}/events")).await;
    assert_eq!(s, 200);
    let kinds: Vec<&str> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["stage started", "traffic set", "approved", "completed"] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    let approved = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "approved")
        .unwrap();
    assert!(
        approved["detail"]["detail"]
            .as_str()
            .unwrap()
            .contains("alice"),
        "{approved}"
    );
    let (s, list) = d.get("/api/v1/executions?pipeline=web").await;
    assert_eq!((s, list["total"].as_u64()), (200, Some(1)));
    let (s, _) = d.get("/api/v1/pipelines/web?version=1").await;
    assert_eq!(s, 200);
    let (s, b) = d
        .post(
            "/api/v1/pipelines/nope/executions",
            &json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{b}"
    );
}
