//! `canaryd pipeline` end to end: the real binary against a real `canaryd serve` — specs
//! applied and refused, executions started, followed, judged, rolled back, and every
//! refusal with its exit code (75 state, 66 unknown, 69 unreachable, 77 token, 78 spec).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::daemon::Daemon;
use crate::{assert_no_panic, outcome};

/// No Prometheus is needed: the pipelines here have no analysis stage.
const NO_PROMETHEUS: &str = "http://127.0.0.1:9";

/// `canaryd pipeline <args>` with `env` only (a developer's CANARYD_URL or CANARYD_TOKEN
/// must not leak into the test).
fn pipeline_env(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_canaryd"))
        .arg("pipeline")
        .args(args)
        .env_remove("CANARYD_URL")
        .env_remove("CANARYD_TOKEN")
        .envs(env.iter().copied())
        .output()
        .expect("the canaryd binary runs");
    let o = outcome(&out);
    assert_no_panic(&o.2);
    o
}

/// `canaryd pipeline <args> --server <daemon>`.
fn pipeline(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["--server", d.url.as_str()]);
    pipeline_env(&[], &all)
}

/// A pipeline whose command router appends `<event> <percent>` to `log`.
fn spec(name: &str, log: &Path, stages: &str) -> String {
    format!(
        r#"
name = "{name}"

[[targets]]
name = "eu"
router = {{ kind = "command", command = ["sh", "-c", "echo \"$CANARYD_EVENT $CANARYD_CANARY_PERCENT\" >> {}"] }}
{stages}"#,
        log.display()
    )
}

const JUDGED: &str = r#"
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
"#;

const UNJUDGED: &str = r#"
[[stages]]
kind = "traffic"
percent = 5

[[stages]]
kind = "traffic"
percent = 100
"#;

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

/// `pipeline status ID` until its text contains `needle`.
fn status_until(d: &Daemon, id: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let (code, out, err) = pipeline(d, &["status", id]);
        assert_eq!(code, 0, "{err}");
        if out.contains(needle) {
            return out;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "`{needle}` never shown:\n{out}\n{}",
            d.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start(d: &Daemon, name: &str) -> String {
    let (code, out, err) = pipeline(
        d,
        &[
            "run",
            name,
            "--baseline",
            "v1",
            "--canary",
            "v2",
            "--by",
            "ci",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    assert_eq!(id.len(), 36, "the id alone on stdout: {out:?}");
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_run_judge_and_every_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let file = dir.path().join("web.toml");
    let file_arg = file.to_str().unwrap();

    std::fs::write(&file, spec("web", &log, JUDGED)).unwrap();
    let (code, out, err) = pipeline(&d, &["apply", file_arg]);
    assert_eq!(
        (code, out.trim()),
        (0, "pipeline `web` created: version 1"),
        "{err}"
    );
    let (code, out, err) = pipeline(&d, &["apply", file_arg]);
    assert_eq!(
        (code, out.trim()),
        (0, "pipeline `web` updated: version 2"),
        "{err}"
    );

    // Every problem is listed with its field; nothing is stored.
    let bad = dir.path().join("bad.toml");
    let two_problems = spec("web", &log, JUDGED)
        .replace("percent = 5\n", "percent = 500\n")
        .replace("percent = 100\n", "percent = -1\n");
    std::fs::write(&bad, two_problems).unwrap();
    let (code, out, err) = pipeline(&d, &["apply", bad.to_str().unwrap()]);
    assert_eq!(code, 78, "{out}{err}");
    assert!(
        err.contains("bad.toml: the daemon refused the pipeline spec"),
        "{err}"
    );
    assert!(err.contains("\n  stages[0].percent: "), "{err}");
    assert!(err.contains("\n  stages[2].percent: "), "{err}");
    let (_, v) = d.get("/api/v1/pipelines/web").await;
    assert_eq!(v["version"], 2, "a refused spec stores nothing: {v}");
    let (code, _, err) = pipeline(&d, &["apply", "/nonexistent/web.toml"]);
    assert_eq!(code, 66, "{err}");
    assert!(err.contains("file not found"), "{err}");

    let id = start(&d, "web");
    let shown = status_until(&d, &id, "awaiting_judgment");
    for needle in [
        "pipeline   web (version 2)",
        "status     running",
        "target     eu (1 of 1)",
        "manual_judgment (2 of 3)",
        "split      eu 5%",
        "baseline v1, canary v2, by ci",
        "traffic set",
        "canary 5%",
    ] {
        assert!(shown.contains(needle), "`{needle}` missing:\n{shown}");
    }

    // Refused by the state machine: exit 75, the daemon's reason, nothing changes.
    let (code, _, err) = pipeline(&d, &["approve", &id, "--by", "mallory"]);
    assert_eq!(code, 75, "{err}");
    assert!(
        err.contains("mallory may not judge this stage (approvers: alice)"),
        "{err}"
    );
    let (code, _, err) = pipeline(&d, &["resume", &id, "--by", "alice"]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("not paused"), "{err}");
    assert_eq!(lines(&log), ["set_split 5"]);

    let (code, _, err) = pipeline(&d, &["pause", &id, "--by", "bob"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pipeline(&d, &["resume", &id, "--by", "bob"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = pipeline(
        &d,
        &["approve", &id, "--by", "alice", "--comment", "looks good"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("approved: execution {id}")),
        "{out}"
    );
    let shown = status_until(&d, &id, "status     succeeded");
    for needle in [
        "by alice: looks good",
        "split      eu 100%",
        "paused",
        "resumed",
    ] {
        assert!(shown.contains(needle), "`{needle}` missing:\n{shown}");
    }
    assert_eq!(lines(&log), ["set_split 5", "set_split 100"]);

    let (code, out, err) = pipeline(&d, &["status", &id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("status --json is JSON");
    assert_eq!(v["status"], "succeeded");
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "approved"),
        "{v}"
    );

    // A second execution, rejected: rolled back to 0%.
    let second = start(&d, "web");
    status_until(&d, &second, "awaiting_judgment");
    let (code, _, err) = pipeline(&d, &["reject", &second, "--by", "alice", "--comment", "no"]);
    assert_eq!(code, 0, "{err}");
    let shown = status_until(&d, &second, "status     rolled_back");
    assert!(shown.contains("rejected by alice: no"), "{shown}");
    assert_eq!(lines(&log).last().map(String::as_str), Some("set_split 0"));

    // Finished executions refuse a rollback.
    let (code, _, err) = pipeline(&d, &["rollback", &id, "--by", "bob", "--reason", "late"]);
    assert_eq!(code, 75, "{err}");
    assert!(err.starts_with("canaryd: refused: "), "{err}");

    let (code, out, err) = pipeline(&d, &["status", "--pipeline", "web"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id) && out.contains(&second), "{out}");
    assert!(
        out.contains("succeeded") && out.contains("rolled_back"),
        "{out}"
    );
    let (code, out, _) = pipeline(&d, &["status", "--pipeline", "other"]);
    assert_eq!((code, out.trim()), (0, "no executions"));

    let (code, _, err) = pipeline(&d, &["status", "no-such-id"]);
    assert_eq!(code, 66, "{err}");
    assert!(err.contains("no execution `no-such-id`"), "{err}");
    let (code, _, err) = pipeline(&d, &["run", "nope", "--baseline", "a", "--canary", "b"]);
    assert_eq!(code, 66, "{err}");
    assert!(err.contains("no pipeline `nope`"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_follows_the_execution_and_its_outcome_is_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("router.log");
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let smoke_fails = r#"
[[stages]]
kind = "traffic"
percent = 5

[[stages]]
kind = "smoke_test"
command = ["false"]
retries = 0
"#;
    let failing_router = format!(
        "name = \"broken\"\n[[targets]]\nname = \"eu\"\n\
         router = {{ kind = \"command\", command = [\"false\"] }}\n{UNJUDGED}"
    );
    for (name, text) in [
        ("quick", spec("quick", &log, UNJUDGED)),
        ("smoke", spec("smoke", &log, smoke_fails)),
        ("broken", failing_router),
    ] {
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = pipeline(&d, &["apply", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
    }

    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["run", name, "--baseline", "v1", "--canary", "v2", "--wait"];
        args.extend(extra);
        pipeline(&d, &args)
    };
    let (code, out, err) = run("quick", &[]);
    assert_eq!(code, 0, "{out}{err}");
    let text: Vec<&str> = out.lines().collect();
    let id = text[0];
    assert_eq!(id.len(), 36, "{out}");
    assert!(
        out.contains("eu / traffic 5%  traffic set: canary 5%"),
        "{out}"
    );
    assert!(out.contains("traffic set: canary 100%"), "{out}");
    assert_eq!(
        text.last(),
        Some(&format!("execution {id} succeeded").as_str())
    );
    assert_eq!(lines(&log), ["set_split 5", "set_split 100"]);

    let (code, out, err) = run("smoke", &[]);
    assert_eq!(code, 1, "rolled back: {out}{err}");
    assert!(out.contains("rolled_back: the smoke test failed"), "{out}");

    // --json: the final execution on stdout, the events on stderr.
    let (code, out, err) = run("broken", &["--json"]);
    assert_eq!(code, 3, "failed: {out}{err}");
    let v: Value = serde_json::from_str(&out).expect("the final execution as JSON");
    assert_eq!(v["status"], "failed", "{v}");
    assert!(err.contains("the router failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_sent_and_refusals_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[[tokens]]
name = "dashboards"
role = "read"
token = "read-token-0123456789"

[[tokens]]
name = "ci"
role = "write"
token = "write-token-0123456789"
"#;
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, extra).await;
    let file = dir.path().join("web.toml");
    std::fs::write(&file, spec("web", &dir.path().join("log"), UNJUDGED)).unwrap();
    let file = file.to_str().unwrap();
    let url = d.url.as_str();

    let (code, _, err) = pipeline_env(&[("CANARYD_URL", url)], &["status"]);
    assert_eq!(code, 77, "{err}");
    assert!(err.contains("--token or set CANARYD_TOKEN"), "{err}");
    let read = [
        ("CANARYD_URL", url),
        ("CANARYD_TOKEN", "read-token-0123456789"),
    ];
    let (code, _, err) = pipeline_env(&read, &["apply", file]);
    assert_eq!(code, 77, "{err}");
    assert!(err.contains("may read but not write"), "{err}");
    let (code, _, err) = pipeline_env(&read, &["apply", file, "--token", "write-token-0123456789"]);
    assert_eq!(code, 0, "the flag wins over the environment: {err}");
    let (code, out, err) = pipeline_env(&read, &["status"]);
    assert_eq!((code, out.trim()), (0, "no executions"), "{err}");
}

#[test]
fn an_unreachable_daemon_is_named_and_exits_69() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = pipeline_env(&[("CANARYD_URL", &url)], &["status"]);
    assert_eq!(code, 69, "{out}{err}");
    assert!(
        err.starts_with(&format!("canaryd: cannot reach the daemon at {url}: ")),
        "{err}"
    );
    let (code, _, err) = pipeline_env(
        &[],
        &["approve", "x", "--by", "a", "--server", "ftp://example.com"],
    );
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("is not an http(s) URL"), "{err}");
}
