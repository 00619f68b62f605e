//! The rollback benchmark: a fail verdict through a real HAProxy, and how long until the
//! canary's weight is 0.

use super::*;

pub(super) fn haproxy_pipeline(socket: &str, step_s: f64) -> String {
    format!(
        r#"name = "bench-haproxy"

[[targets]]
name = "lb"
router = {{ kind = "haproxy", socket = "{socket}", backend = "{backend}", baseline_servers = ["baseline"], canary_servers = ["canary"] }}

[[stages]]
kind = "traffic"
percent = 25

[[stages]]
kind = "analysis"
config = "errors-sequential"
duration = "60s"
interval = "2s"
step = {step_s}
"#,
        backend = haproxy::BACKEND
    )
}

/// One HAProxy runtime-API command over the unix admin socket; the answer.
pub(super) async fn haproxy_cmd(socket: &Path, line: &str) -> std::io::Result<String> {
    let mut s = tokio::net::UnixStream::connect(socket).await?;
    s.write_all(format!("{line}\n").as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// The canary server's current weight (`get weight` answers `85 (initial 0)`).
pub(super) async fn canary_weight(socket: &Path) -> Option<u32> {
    let line = format!("get weight {}/canary", haproxy::BACKEND);
    let answer = haproxy_cmd(socket, &line).await.ok()?;
    answer.split_whitespace().next()?.parse().ok()
}

pub(super) struct RollbackRun {
    /// Analysis created → finished with a fail verdict, s.
    pub(super) detect: f64,
    /// Analysis finished → the execution's `rollback` event, s.
    pub(super) to_event: f64,
    /// `rollback` event → weight 0 read over the admin socket, s.
    pub(super) to_weight: f64,
}

pub(super) async fn rollback(args: &Args, summary: &mut Summary) {
    if !Prometheus::available() || !Haproxy::available() {
        summary.row(
            "a1. Fail verdict → canary weight 0 at HAProxy",
            "skipped: prometheus or haproxy not installed".into(),
            "≤ 1 s",
            None,
        );
        return;
    }
    let v1 = Target::start("v1", &APIS, Behaviour::default()).await;
    let v2 = Target::start(
        "v2",
        &APIS,
        Behaviour {
            error_rate: 0.2,
            ..Behaviour::default()
        },
    )
    .await;
    let prom = Prometheus::start(&[("v1", v1.addr()), ("v2", v2.addr())], 1).await;
    let (yellow, purple) = (Web::start("yellow").await, Web::start("purple").await);
    let lb = Haproxy::start_pair(yellow.addr(), purple.addr()).await;
    let socket = lb.unix_socket();
    let socket_path = PathBuf::from(socket.trim_start_matches("unix:"));
    prom.wait_for_samples(
        "http_requests_total",
        4 * APIS.len(),
        Duration::from_secs(30),
    )
    .await;
    let dir = tempfile::tempdir().expect("a daemon dir");
    let d = Daemon::start(dir.path(), &prom.url()).await;
    eprintln!(
        "[rollback] prometheus {}, haproxy {socket}, daemon {}",
        prom.url(),
        d.url
    );
    let (s, b) = d.post_toml("/api/v1/configs", SEQUENTIAL_ERRORS).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = d
        .post_toml(
            "/api/v1/pipelines",
            &haproxy_pipeline(&socket, args.analysis_step_s),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    let mut runs = Vec::new();
    for run in 1..=args.runs {
        for (server, weight) in [("baseline", 256), ("canary", 0)] {
            let line = format!("set weight {}/{server} {weight}", haproxy::BACKEND);
            haproxy_cmd(&socket_path, &line)
                .await
                .expect("reset the weights");
        }
        let (s, e) = d
            .post(
                "/api/v1/pipelines/bench-haproxy/executions",
                &json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": "bench"}),
            )
            .await;
        assert_eq!(s, 201, "{e}");
        let id = e["id"].as_str().expect("an execution id").to_string();
        let started = Instant::now();
        let analysis = loop {
            let (_, e) = d.get(&format!("/api/v1/executions/{id}")).await;
            let phase = &e["state"]["phase"];
            if phase["phase"] == "analysing"
                && let Some(a) = phase["analysis"].as_str()
            {
                break a.to_string();
            }
            assert!(
                e["status"] == "running" && started.elapsed() < Duration::from_secs(60),
                "execution {id} did not reach its analysis: {e}\n{}",
                d.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let at_analysis = canary_weight(&socket_path).await;
        let zero_at = loop {
            if canary_weight(&socket_path).await == Some(0) {
                break now_s();
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "run {run}: the canary weight never reached 0:\n{}",
                d.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let exec = loop {
            let (_, e) = d.get(&format!("/api/v1/executions/{id}")).await;
            if e["status"] != "running" {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (_, a) = d.get(&format!("/api/v1/analyses/{analysis}")).await;
        let (_, events) = d.get(&format!("/api/v1/executions/{id}/events")).await;
        let event_at = |kind: &str| {
            events["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["kind"] == kind)
                .and_then(|e| e["at"].as_str())
                .map(iso_s)
        };
        assert_eq!(exec["status"], "rolled_back", "{exec}");
        assert_eq!(a["verdict"], "fail", "{a}");
        let finished = iso_s(a["updated"].as_str().expect("updated"));
        let created = iso_s(a["created"].as_str().expect("created"));
        let rollback_at = event_at("rollback").expect("a rollback event");
        let r = RollbackRun {
            detect: finished - created,
            to_event: rollback_at - finished,
            to_weight: zero_at - rollback_at,
        };
        eprintln!(
            "[rollback] run {run}: canary weight {at_analysis:?} during the analysis; analysis \
             {} judged {} interval(s), fail after {:.2} s; finished → rollback event {:.0} ms, \
             → weight 0 {:.0} ms; total {:.0} ms",
            a["id"],
            a["judged_intervals"],
            r.detect,
            r.to_event * 1000.0,
            r.to_weight * 1000.0,
            (r.to_event + r.to_weight) * 1000.0
        );
        runs.push(r);
    }
    let stats = |f: fn(&RollbackRun) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let ms = |v: &[f64]| {
        format!(
            "median {:.0} ms (min {:.0}, max {:.0})",
            percentile(v, 0.5) * 1000.0,
            percentile(v, 0.0) * 1000.0,
            percentile(v, 1.0) * 1000.0
        )
    };
    let total = stats(|r| r.to_event + r.to_weight);
    let list = total
        .iter()
        .map(|t| format!("{:.0}", t * 1000.0))
        .collect::<Vec<_>>()
        .join(", ");
    summary.row(
        &format!(
            "a1. Fail verdict → canary weight 0 at HAProxy (admin socket polled every 5 ms), {} runs",
            args.runs
        ),
        format!("{}; runs (sorted) {list} ms", ms(&total)),
        "≤ 1 s",
        Some(percentile(&total, 1.0) <= 1.0),
    );
    summary.row(
        "a2. … analysis finished → `rollback` event stored",
        ms(&stats(|r| r.to_event)),
        "—",
        None,
    );
    summary.row(
        "a3. … `rollback` event → weight 0 read at HAProxy",
        ms(&stats(|r| r.to_weight)),
        "—",
        None,
    );
    let detect = stats(|r| r.detect);
    summary.row(
        &format!(
            "a4. Analysis start → fail verdict (sequential errors judge, v2 at 20 % errors, \
             scrape 1 s, interval 2 s, step {} s)",
            args.analysis_step_s
        ),
        format!(
            "median {:.1} s (min {:.1}, max {:.1})",
            percentile(&detect, 0.5),
            percentile(&detect, 0.0),
            percentile(&detect, 1.0)
        ),
        "—",
        None,
    );
}
