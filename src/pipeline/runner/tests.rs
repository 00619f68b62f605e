use std::time::Instant;

use super::*;
use crate::analysis::live::RunnerSettings as AnalysisSettings;
use crate::collectors::prometheus::{PrometheusCollector, PrometheusConfig};
use crate::store::SqliteStore;
use crate::telemetry::Telemetry;
use crate::time::{now_ms, now_s};

fn runner(store: &Arc<dyn Store>) -> Arc<PipelineRunner> {
    runner_with(store, Arc::new(SystemClock))
}

fn runner_with(store: &Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<PipelineRunner> {
    let collector = PrometheusCollector::new(PrometheusConfig {
        url: "http://127.0.0.1:9".into(),
        ..Default::default()
    })
    .unwrap();
    let analyses = AnalysisRunner::new(
        store.clone(),
        Arc::new(collector),
        Arc::new(Telemetry::new()),
        AnalysisSettings::default(),
    );
    PipelineRunner::new(
        store.clone(),
        analyses,
        RunnerSettings {
            clock,
            router_attempts: 2,
            router_backoff: Duration::from_millis(10),
            analysis_poll: Duration::from_millis(50),
            allowed_commands: vec!["sh".into()],
        },
    )
}

fn spec(log: &std::path::Path) -> String {
    format!(
        r#"
name = "web"

[[targets]]
name = "eu"
router = {{ kind = "command", command = ["sh", "-c", "echo \"$CANARYD_EVENT $CANARYD_CANARY_PERCENT\" >> {}"] }}

[[stages]]
kind = "traffic"
percent = 10

[[stages]]
kind = "manual_judgment"
message = "look at the dashboards"
timeout = "1h"

[[stages]]
kind = "traffic"
percent = 100

[[stages]]
kind = "disable_baseline"
"#,
        log.display()
    )
}

fn trigger() -> Trigger {
    Trigger {
        baseline: Scope {
            scope: "v1".into(),
            ..Default::default()
        },
        canary: Scope {
            scope: "v2".into(),
            ..Default::default()
        },
        by: Some("ci".into()),
        not_before: None,
    }
}

/// Poll the stored execution until `done` holds.
async fn wait_for(
    store: &Arc<dyn Store>,
    id: &str,
    done: impl Fn(&ExecutionRecord) -> bool,
) -> ExecutionRecord {
    let started = Instant::now();
    loop {
        let rec = store.get_execution(id).unwrap().unwrap();
        if done(&rec) {
            return rec;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still waiting: {rec:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn awaiting(rec: &ExecutionRecord) -> bool {
    rec.state["phase"]["phase"] == "awaiting_judgment"
}

fn lines(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_execution_survives_a_restart_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    store.put_pipeline("web", &spec(&log), now_ms()).unwrap();
    let first = runner(&store);
    let exec = first.start_execution("web", trigger()).await.unwrap();
    wait_for(&store, &exec.id, awaiting).await;
    assert_eq!(lines(&log), ["set_split 10"]);

    // The daemon dies while the judgment is awaited; a new one resumes without applying
    // the 10% step again.
    first.abort_all();
    let second = runner(&store);
    assert_eq!(second.resume_all().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(lines(&log), ["set_split 10"]);
    let tick = second.submit(&exec.id, Event::Tick { now: now_s() }).await;
    assert!(tick.is_ok(), "a tick is always accepted");
    second
        .submit(
            &exec.id,
            Event::Judgment {
                now: now_s(),
                approve: true,
                by: "alice".into(),
                comment: "dashboards look fine".into(),
            },
        )
        .await
        .unwrap();
    let done = wait_for(&store, &exec.id, |r| r.status != "running").await;
    assert_eq!(done.status, "succeeded", "{done:?}");
    let applied = lines(&log);
    assert_eq!(
        applied[..2],
        ["set_split 10", "set_split 100"],
        "{applied:?}"
    );
    assert!(applied[2].starts_with("set_enabled"), "{applied:?}");
    assert_eq!(applied.len(), 3, "{applied:?}");
    let events = store.execution_events(&exec.id, None).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"approved"), "{kinds:?}");
    assert!(kinds.contains(&"completed"), "{kinds:?}");
    let approved = events.iter().find(|e| e.kind == "approved").unwrap();
    assert!(
        approved.detail["detail"]
            .as_str()
            .unwrap()
            .contains("alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_judgment_rolls_back_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    store.put_pipeline("web", &spec(&log), now_ms()).unwrap();
    let r = runner(&store);
    let exec = r.start_execution("web", trigger()).await.unwrap();
    wait_for(&store, &exec.id, awaiting).await;
    let refused = r
        .submit(
            &exec.id,
            Event::Resume {
                now: now_s(),
                by: "bob".into(),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(SubmitError::Refused(ref why)) if why.contains("not paused")),
        "{refused:?}"
    );
    r.submit(
        &exec.id,
        Event::Judgment {
            now: now_s(),
            approve: false,
            by: "bob".into(),
            comment: "error budget burning".into(),
        },
    )
    .await
    .unwrap();
    let done = wait_for(&store, &exec.id, |r| r.status != "running").await;
    assert_eq!(done.status, "rolled_back");
    assert_eq!(lines(&log), ["set_split 10", "set_split 0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judgment_deadline_fires_even_after_an_early_tick() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let body = spec(&log).replace("timeout = \"1h\"", "timeout = \"1s\"");
    store.put_pipeline("web", &body, now_ms()).unwrap();
    let r = runner(&store);
    let exec = r.start_execution("web", trigger()).await.unwrap();
    wait_for(&store, &exec.id, awaiting).await;
    r.submit(&exec.id, Event::Tick { now: now_s() })
        .await
        .unwrap();
    let done = wait_for(&store, &exec.id, |r| r.status != "running").await;
    assert_eq!(
        done.status, "rolled_back",
        "nobody judged: the deadline rolls back"
    );
    assert_eq!(lines(&log), ["set_split 10", "set_split 0"]);
}

/// A notification sink: every POST's event header, signature check and JSON body.
struct Sink {
    url: String,
    got: Arc<Mutex<Vec<(String, bool, serde_json::Value)>>>,
}

async fn sink(status: u16, secret: &'static str) -> Sink {
    use axum::http::{HeaderMap, StatusCode};
    let got: Arc<Mutex<Vec<(String, bool, serde_json::Value)>>> = Arc::default();
    let record = got.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let record = record.clone();
        async move {
            let h = |k: &str| {
                headers
                    .get(k)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let ts: u64 = h("x-canaryd-timestamp").parse().unwrap_or(0);
            let signed =
                h("x-canaryd-signature") == crate::routers::webhook::signature(secret, ts, &body);
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            record
                .lock()
                .unwrap()
                .push((h("x-canaryd-event"), signed, json));
            StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Sink { url, got }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_arrive_signed_in_order_and_a_failing_url_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let all = sink(200, "s3cret").await;
    let some = sink(200, "other").await;
    let broken = sink(500, "x").await;
    let body = format!(
        r#"{}
[[notifications]]
url = "{}"
secret = "s3cret"

[[notifications]]
url = "{}"
secret = "other"
events = ["judgment_needed", "completed"]

[[notifications]]
url = "{}"
secret = "x"
retries = 1
backoff_ms = 10
"#,
        spec(&log),
        all.url,
        some.url,
        broken.url
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    store.put_pipeline("web", &body, now_ms()).unwrap();
    let r = runner(&store);
    let exec = r.start_execution("web", trigger()).await.unwrap();
    wait_for(&store, &exec.id, awaiting).await;
    r.submit(
        &exec.id,
        Event::Judgment {
            now: now_s(),
            approve: false,
            by: "bob".into(),
            comment: "latency".into(),
        },
    )
    .await
    .unwrap();
    let done = wait_for(&store, &exec.id, |r| r.status != "running").await;
    assert_eq!(done.status, "rolled_back");

    let started = Instant::now();
    let kinds = |s: &Sink| -> Vec<String> {
        s.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, b)| b["kind"].as_str().unwrap_or("?").to_string())
            .collect()
    };
    while kinds(&all).last().map(String::as_str) != Some("completed") || kinds(&some).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?} {:?}",
            kinds(&all),
            kinds(&some)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        kinds(&all),
        [
            "stage_started",
            "stage_finished",
            "stage_started",
            "judgment_needed",
            "rollback",
            "completed"
        ]
    );
    assert_eq!(kinds(&some), ["judgment_needed", "completed"]);
    let got = all.got.lock().unwrap().clone();
    for (event, signed, _) in &got {
        assert_eq!(event, "notification");
        assert!(signed, "every notification is signed with its URL's secret");
    }
    let last = &got.last().unwrap().2;
    assert_eq!(last["status"], "rolled_back", "{last}");
    assert_eq!(last["pipeline"], "web");
    assert_eq!(last["execution"], exec.id.as_str());
    assert_eq!(last["split"]["eu"], 0.0, "{last}");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("rejected by bob"),
        "{last}"
    );
    let judgment = &got[3].2;
    assert_eq!(judgment["message"], "look at the dashboards");
    assert_eq!(judgment["split"]["eu"], 10.0);
    // The failing URL was tried (and retried) without holding up the execution.
    assert!(broken.got.lock().unwrap().len() >= 2);
}

#[test]
fn a_fail_from_missing_data_alone_is_no_verdict() {
    let report = |classes: &[(&str, bool)]| {
        Some(
            serde_json::json!({"metrics": classes.iter().map(|(c, muted)| {
            serde_json::json!({"classification": c, "muted": muted})
        }).collect::<Vec<_>>()}),
        )
    };
    let ok = AnalysisStatus::Succeeded;
    assert_eq!(
        outcome_of(
            ok,
            Some("fail"),
            &report(&[("high", false), ("nodata", false)])
        ),
        AnalysisOutcome::Fail
    );
    assert_eq!(
        outcome_of(
            ok,
            Some("fail"),
            &report(&[("nodata", false), ("nodata", false)])
        ),
        AnalysisOutcome::NoVerdict
    );
    assert_eq!(
        outcome_of(
            ok,
            Some("fail"),
            &report(&[("low", true), ("nodata", false)])
        ),
        AnalysisOutcome::NoVerdict,
        "a muted metric decides nothing"
    );
    assert_eq!(
        outcome_of(ok, Some("pass"), &report(&[("pass", false)])),
        AnalysisOutcome::Pass
    );
    assert_eq!(
        outcome_of(AnalysisStatus::Error, None, &None),
        AnalysisOutcome::NoVerdict
    );
}

#[test]
fn an_inconclusive_held_by_missing_data_is_no_verdict_and_undecided_is_inconclusive() {
    let held = |kinds: &[&str]| {
        Some(serde_json::json!({
            "metrics": [{"classification": "pass", "muted": false}],
            "holds": kinds.iter().map(|k| serde_json::json!({"kind": k, "subject": "", "message": ""}))
                .collect::<Vec<_>>(),
        }))
    };
    let ok = AnalysisStatus::Succeeded;
    assert_eq!(
        outcome_of(
            ok,
            Some("inconclusive"),
            &held(&["critical_no_data", "group_not_judged"])
        ),
        AnalysisOutcome::NoVerdict,
        "missing data holds and is retried until the deadline"
    );
    assert_eq!(
        outcome_of(ok, Some("inconclusive"), &held(&["undecided"])),
        AnalysisOutcome::Inconclusive,
        "an undecided sequential judge is the stage's on_inconclusive"
    );
    assert_eq!(
        outcome_of(
            ok,
            Some("inconclusive"),
            &held(&["critical_no_data", "undecided"])
        ),
        AnalysisOutcome::Inconclusive
    );
    assert_eq!(
        outcome_of(ok, Some("marginal"), &held(&[])),
        AnalysisOutcome::Marginal
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_execution_on_a_busy_target_is_refused_or_queued() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let web = spec(&log);
    store.put_pipeline("web", &web, now_ms()).unwrap();
    // Another pipeline driving the very same router command.
    store
        .put_pipeline(
            "web-again",
            &web.replace("name = \"web\"", "name = \"web-again\""),
            now_ms(),
        )
        .unwrap();
    let queued = format!(
        "on_conflict = \"queue\"\n{}",
        web.replace("name = \"web\"", "name = \"web-queued\"")
    );
    store.put_pipeline("web-queued", &queued, now_ms()).unwrap();
    let r = runner(&store);
    let first = r.start_execution("web", trigger()).await.unwrap();
    wait_for(&store, &first.id, awaiting).await;

    for other in ["web", "web-again"] {
        match r.start_execution(other, trigger()).await {
            Err(StartError::Conflict {
                execution, target, ..
            }) => {
                assert_eq!(execution, first.id);
                assert_eq!(target, "eu");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(lines(&log), ["set_split 10"], "nothing moved");

    // A queuing pipeline starts, but waits with traffic untouched and says why.
    let second = r.start_execution("web-queued", trigger()).await.unwrap();
    let waiting = wait_for(&store, &second.id, |_| {
        store
            .execution_events(&second.id, None)
            .unwrap()
            .iter()
            .any(|e| e.kind == "queued")
    })
    .await;
    assert_eq!(waiting.status, "running");
    let events = store.execution_events(&second.id, None).unwrap();
    let queued = events.iter().find(|e| e.kind == "queued").unwrap();
    assert_eq!(queued.detail["behind"], first.id.as_str());
    let refused = r
        .submit(
            &second.id,
            Event::Rollback {
                now: now_s(),
                by: "bob".into(),
                reason: "no".into(),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(SubmitError::Refused(ref why)) if why.contains("queued behind")),
        "a queued execution moves nothing, not even a rollback: {refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(lines(&log), ["set_split 10"]);

    // The first ends (rejected): the queued one runs.
    r.submit(
        &first.id,
        Event::Judgment {
            now: now_s(),
            approve: false,
            by: "bob".into(),
            comment: "no".into(),
        },
    )
    .await
    .unwrap();
    wait_for(&store, &first.id, |r| r.status == "rolled_back").await;
    wait_for(&store, &second.id, awaiting).await;
    assert_eq!(
        lines(&log),
        ["set_split 10", "set_split 0", "set_split 10"],
        "one execution at a time"
    );
}

#[test]
fn an_analysis_is_explained_by_its_worse_pairs_numbers_and_holds() {
    let report = serde_json::json!({
        "verdict": "fail", "score": 0.0,
        "metrics": [
            {"metric": "latency", "labels": {"route": "/checkout"}, "classification": "high",
             "muted": false, "reason": "canary p90 …", "unit": "s",
             "judged": {"quantity": "p90", "baseline": 0.0887, "canary": 0.2828, "checks": [
                 {"name": "p90", "value": 0.2828, "interval": null, "interval_kind": null,
                  "max": 5.0, "min": null, "failed": false},
                 {"name": "ratio", "value": 3.1901, "interval": null, "interval_kind": null,
                  "max": 1.5, "min": null, "failed": true}]}},
            {"metric": "latency", "labels": {"route": "/search"}, "classification": "pass",
             "muted": false, "reason": "", "judged": null},
            {"metric": "errors", "labels": {}, "classification": "nodata", "muted": false,
             "reason": "no `errors` rows", "judged": null}
        ],
        "holds": [{"kind": "critical_no_data", "subject": "errors",
                   "message": "critical metric `errors` has no data"}]
    });
    let text = explain(&report).unwrap();
    assert!(text.starts_with("verdict FAIL, score 0"), "{text}");
    assert!(
        text.contains(
            "worse: latency{route=\"/checkout\"} HIGH (p90 0.0887 → 0.2828 s; ratio 3.19 (worse if > 1.5) ✗)"
        ),
        "the worse pair with its judged numbers and only its failed check: {text}"
    );
    assert!(
        !text.contains("/search"),
        "passing pairs are not named: {text}"
    );
    assert!(
        text.contains("held: critical metric `errors` has no data"),
        "{text}"
    );
    // One line to glance at, then one line per worse pair.
    assert_eq!(
        text.lines().next(),
        Some("verdict FAIL, score 0 (1 worse)"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("worse: latency{route=\"/checkout\"} HIGH")),
        "{text}"
    );
    assert_eq!(explain(&serde_json::json!({"nope": 1})), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_event_during_a_slow_router_step_is_queued_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    // The router takes 2 s per call: the execution reads events only between steps.
    let body = spec(&log).replace("\"sh\", \"-c\", \"echo", "\"sh\", \"-c\", \"sleep 2; echo");
    store.put_pipeline("web", &body, now_ms()).unwrap();
    let r = runner(&store);
    let exec = r.start_execution("web", trigger()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    let pause = Event::Pause {
        now: now_s(),
        by: "alice".into(),
    };
    let answer = r
        .submit_within(&exec.id, pause, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(answer, Submitted::Queued);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "the caller was held"
    );
    // The queued pause applies once the step ends.
    let paused = wait_for(&store, &exec.id, |r| r.status == "paused").await;
    assert_eq!(lines(&log), ["set_split 10"]);
    // An event that applies at once is answered as applied.
    let resume = Event::Resume {
        now: now_s(),
        by: "alice".into(),
    };
    assert_eq!(
        r.submit_within(&paused.id, resume, Duration::from_secs(5))
            .await
            .unwrap(),
        Submitted::Applied
    );
    // One the state machine refuses is still refused within the wait.
    let again = Event::Resume {
        now: now_s(),
        by: "alice".into(),
    };
    let refused = r
        .submit_within(&paused.id, again, Duration::from_secs(5))
        .await;
    assert!(
        matches!(refused, Err(SubmitError::Refused(ref why)) if why.contains("not paused")),
        "{refused:?}"
    );
}

/// The store refuses writes (a full disk) while an execution holds 10% and a person
/// approves: the task is not stranded — the approval waits in line, the execution stays
/// running and reachable, and once the store is back the approval applies and the
/// execution completes, every router step once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_never_strands_an_execution() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let sqlite = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    store.put_pipeline("web", &spec(&log), now_ms()).unwrap();
    let r = runner(&store);
    let exec = r.start_execution("web", trigger()).await.unwrap();
    wait_for(&store, &exec.id, awaiting).await;

    sqlite.refuse_writes(true).unwrap();
    let approve = Event::Judgment {
        now: now_s(),
        approve: true,
        by: "alice".into(),
        comment: "looks fine".into(),
    };
    let answer = r
        .submit_within(&exec.id, approve, Duration::from_millis(1500))
        .await;
    assert!(
        matches!(answer, Ok(Submitted::Queued)),
        "the approval waits for the store: {answer:?}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Still running here and reachable: an operator can still act.
    let tick = r
        .submit_within(
            &exec.id,
            Event::Tick { now: now_s() },
            Duration::from_millis(50),
        )
        .await;
    assert!(tick.is_ok(), "the task is alive: {tick:?}");
    assert_eq!(
        store.get_execution(&exec.id).unwrap().unwrap().status,
        "running"
    );
    assert_eq!(
        lines(&log),
        ["set_split 10"],
        "nothing moved while the store was down"
    );

    sqlite.refuse_writes(false).unwrap();
    let done = wait_for(&store, &exec.id, |e| e.status != "running").await;
    assert_eq!(done.status, "succeeded", "{done:?}");
    assert_eq!(
        lines(&log),
        ["set_split 10", "set_split 100", "set_enabled"],
        "every step once"
    );
    // The outage is on record once the store takes writes again.
    let events = store.execution_events(&exec.id, None).unwrap();
    let recovered = events
        .iter()
        .find(|e| e.kind == "store recovered")
        .unwrap_or_else(|| panic!("no store recovered event: {events:?}"));
    assert!(
        recovered.detail["detail"]
            .as_str()
            .is_some_and(|d| d.contains("attempts; last:")),
        "{recovered:?}"
    );
}

/// A daemon restarted with a shorter `[commands] allow`: the smoke test whose program is
/// no longer allowed is not run, fails, and the execution rolls back — nothing is left
/// holding traffic with no way to act.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_no_longer_allowed_fails_its_step_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let body = format!(
        r#"
name = "smoked"

[[targets]]
name = "eu"
router = {{ kind = "command", command = ["sh", "-c", "echo \"$CANARYD_EVENT $CANARYD_CANARY_PERCENT\" >> {}"] }}

[[stages]]
kind = "traffic"
percent = 10

[[stages]]
kind = "manual_judgment"
message = "before the smoke test"
timeout = "1h"

[[stages]]
kind = "smoke_test"
command = ["true"]
retries = 1

[[stages]]
kind = "traffic"
percent = 100
"#,
        log.display()
    );
    store.put_pipeline("smoked", &body, now_ms()).unwrap();
    let mut settings_allow = runner(&store);
    // The first daemon allows both programs.
    Arc::get_mut(&mut settings_allow)
        .expect("sole owner")
        .settings
        .allowed_commands = vec!["sh".into(), "true".into()];
    let exec = settings_allow
        .start_execution("smoked", trigger())
        .await
        .unwrap();
    wait_for(&store, &exec.id, awaiting).await;
    settings_allow.abort_all();

    // The next one allows only the router's `sh`.
    let second = runner(&store);
    assert_eq!(second.resume_all().await.unwrap(), 1);
    second
        .submit(
            &exec.id,
            Event::Judgment {
                now: now_s(),
                approve: true,
                by: "alice".into(),
                comment: String::new(),
            },
        )
        .await
        .unwrap();
    let done = wait_for(&store, &exec.id, |e| e.status != "running").await;
    assert_eq!(done.status, "rolled_back", "{done:?}");
    assert_eq!(lines(&log), ["set_split 10", "set_split 0"]);
    let events = store.execution_events(&exec.id, None).unwrap();
    assert!(
        events.iter().any(|e| e.detail["detail"]
            .as_str()
            .is_some_and(|d| d.contains("program `true` may not run"))),
        "the refusal is recorded: {events:?}"
    );
}

/// The runner's clock, not the system's, stamps what an execution records: a test clock
/// standing at a known time gives exactly that time on the execution and every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_is_stamped_by_the_runners_clock() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    store.put_pipeline("web", &spec(&log), now_ms()).unwrap();
    let t = 1_800_000_000.0;
    let clock = Arc::new(crate::time::TestClock::at(t));
    let r = runner_with(&store, clock.clone());
    let exec = r.start_execution("web", trigger()).await.unwrap();
    assert_eq!(exec.created_ms, 1_800_000_000_000);
    let rec = wait_for(&store, &exec.id, awaiting).await;
    assert_eq!(rec.updated_ms, 1_800_000_000_000);
    let events = store.execution_events(&exec.id, None).unwrap();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.at_ms == 1_800_000_000_000),
        "{events:?}"
    );
    // Moved on, the clock stamps the next transition at its new time.
    clock.advance(90.0);
    r.submit(
        &exec.id,
        Event::Judgment {
            now: clock.now_s(),
            approve: true,
            by: "alice".into(),
            comment: String::new(),
        },
    )
    .await
    .unwrap();
    let last = store.execution_events(&exec.id, None).unwrap();
    assert!(
        last.iter().any(|e| e.at_ms == 1_800_000_090_000),
        "{last:?}"
    );
    r.abort_all();
}
