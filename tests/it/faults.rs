//! The fault suite: a real `canaryd serve` against a Prometheus of our own that misbehaves —
//! answers hugely, answers counters that cannot be true, or never answers — and a store that
//! fails (the runner's own tests: `pipeline::runner::tests::a_store_outage_never_strands_an_execution`
//! and `…::a_program_no_longer_allowed_fails_its_step_and_rolls_back`). Every case ends in a
//! state an operator can act on, named, with nothing judged from garbage.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::daemon::Daemon;

/// How the fake Prometheus answers a `query_range` whose query contains a word.
#[derive(Clone, Copy)]
enum Answer {
    /// 100 MB of well-formed JSON, streamed without a length.
    Huge,
    /// Errors that rise 10 per step while their total rises 1.
    Garbage,
    /// Accept the connection, read the request, never answer.
    Silent,
}

/// Start the fake Prometheus; its URL.
async fn fake_prometheus() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the request: headers, then the form body by its length.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body_start = loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..body_start]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < body_start + length {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[body_start..]).to_string();
                let answer = if body.contains("huge") {
                    Answer::Huge
                } else if body.contains("silent") {
                    Answer::Silent
                } else {
                    Answer::Garbage
                };
                let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
                match answer {
                    Answer::Silent => tokio::time::sleep(Duration::from_secs(3600)).await,
                    Answer::Huge => {
                        let _ = sock.write_all(ok.as_bytes()).await;
                        let _ = sock
                            .write_all(
                                br#"{"status":"success","data":{"resultType":"matrix","result":["#,
                            )
                            .await;
                        let one = br#"{"metric":{"pod":"p"},"values":[[1700000000,"1"]]},"#;
                        let block: Vec<u8> = one
                            .iter()
                            .copied()
                            .cycle()
                            .take(one.len() * 20_000)
                            .collect();
                        let mut sent = 0usize;
                        while sent < 100_000_000 {
                            if sock.write_all(&block).await.is_err() {
                                return;
                            }
                            sent += block.len();
                        }
                    }
                    Answer::Garbage => {
                        // Counters at 10 s steps: errors +10 a step, total +1 a step.
                        let series = |rate: f64| {
                            let points: Vec<String> = (0..8)
                                .map(|k| {
                                    format!("[{},\"{}\"]", 1_700_000_000 + 10 * k, rate * k as f64)
                                })
                                .collect();
                            format!(
                                r#"{{"metric":{{"v":"x"}},"values":[{}]}}"#,
                                points.join(",")
                            )
                        };
                        let rate = if body.contains("errors") { 10.0 } else { 1.0 };
                        let json = format!(
                            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#,
                            series(rate)
                        );
                        let _ = sock.write_all(ok.as_bytes()).await;
                        let _ = sock.write_all(json.as_bytes()).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn config(name: &str, query: &str) -> String {
    format!("name = \"{name}\"\n[[metrics]]\nname = \"m\"\ncritical = true\n{query}\n")
}

/// Start a retrospective analysis of the last ten minutes with `config_name`; its id.
async fn start(d: &Daemon, config_name: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (s, b) = d
        .post(
            "/api/v1/analyses",
            &json!({"config": config_name, "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
                    "window": {"mode": "retrospective", "start": now - 600.0, "end": now - 60.0, "step": "10s"}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_str().expect("an id").to_string()
}

async fn judge(d: &Daemon, config_name: &str) -> Value {
    d.wait_final(&start(d, config_name).await, Duration::from_secs(60))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_faults_end_actionable_and_never_judged() {
    let dir = tempfile::tempdir().unwrap();
    let prom = fake_prometheus().await;
    let d = Daemon::start(dir.path(), &prom, "[limits]\nmax_concurrent_judge = 4\n").await;
    let idle = d.rss_kib();
    for (name, query) in [
        (
            "huge",
            "[metrics.query]\nkind = \"promql\"\ntemplate = 'huge{v=\"${scope}\"}'",
        ),
        (
            "garbage",
            "[metrics.query]\nkind = \"ratio\"\nerrors = 'errors{v=\"${scope}\"}'\ntotal = 'total{v=\"${scope}\"}'",
        ),
    ] {
        let (s, b) = d
            .post_text("/api/v1/configs", "application/toml", &config(name, query))
            .await;
        assert_eq!(s, 201, "{b}");
    }

    // Hugely: refused at the bound while it arrives; no verdict; memory stays bounded.
    let huge = judge(&d, "huge").await;
    assert_eq!(huge["status"], "error", "{huge}");
    assert!(
        huge["error"]
            .as_str()
            .unwrap_or("")
            .contains("max_answer_bytes"),
        "{huge}"
    );
    assert!(huge["verdict"].is_null(), "{huge}");
    let rss = d.rss_kib();
    eprintln!("faults: 100 MB answer refused; daemon RSS {idle} KiB idle, {rss} KiB after");
    assert!(
        rss < idle + 64 * 1024,
        "RSS {rss} KiB after a 100 MB answer (idle {idle})"
    );

    // Garbage: errors above their total are never judged: the critical pair is an error
    // naming the queries, and the analysis holds (inconclusive), never a pass.
    let garbage = judge(&d, "garbage").await;
    assert_eq!(garbage["status"], "succeeded", "{garbage}");
    assert_ne!(garbage["verdict"], "pass", "{garbage}");
    let m = &garbage["report"]["metrics"][0];
    assert_eq!(m["classification"], "error", "{m}");
    let reason = m["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("errors exceed its total") && reason.contains("errors{"),
        "{reason}"
    );
}

/// Not at all: a Prometheus that never answers is an outage — the analysis holds, then
/// ends in error without a verdict (never a pass, never a rollback by itself).
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_prometheus_is_an_outage_never_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let prom = fake_prometheus().await;
    let d = Daemon::start(dir.path(), &prom, "").await;
    let (s, b) = d
        .post_text(
            "/api/v1/configs",
            "application/toml",
            &config(
                "silent",
                "[metrics.query]\nkind = \"promql\"\ntemplate = 'silent{v=\"${scope}\"}'",
            ),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = start(&d, "silent").await;
    // Held (running) while the queries time out and retry: no verdict.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, held) = d.get(&format!("/api/v1/analyses/{id}")).await;
    assert_eq!(held["status"], "running", "{held}");
    assert!(held["verdict"].is_null(), "{held}");
    // Past the grace period (30 s in the test daemon): an error naming the outage, still
    // no verdict.
    let done = d.wait_final(&id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "error", "{done}");
    assert!(done["verdict"].is_null(), "{done}");
    assert!(
        done["error"].as_str().unwrap_or("").contains("unavailable"),
        "{done}"
    );
}
