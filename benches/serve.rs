//! `canaryd serve` against its targets, end to end: the release binary, a real Prometheus
//! (2.42, `/usr/bin/prometheus`), HTTP on loopback. Plain `fn main` (harness = false).
//!
//! 1. Judging throughput: 100 gauge metrics × 20 APIs (`route`) × 2 versions, one hour at
//!    10 s, backfilled into a fresh TSDB with `promtool`; one retrospective analysis over the
//!    hour (2,000 metric pairs, Mann–Whitney) from POST until GET says it is no longer
//!    running. Median of 3; the split into judging (the daemon's
//!    `canaryd_judge_duration_seconds`) and the rest, and the 200 range queries timed
//!    directly against Prometheus with the collector's concurrency.
//! 2. Start to `/readyz`: spawn with an empty data directory, poll every 2 ms. Median of 5.
//! 3. RSS (`VmRSS` of `/proc/<pid>/status`): idle after start, then with 100 live analyses
//!    (6 pairs each, interval 10 s) against a Prometheus scraping two simulated versions
//!    every second, once every analysis has judged an interval (and again after two).
//! 4. `GET /api/v1/analyses/{id}` latency from an open-loop client: one request every 2 ms
//!    whatever the answers (500/s) for 10 s; latency counts from the scheduled send time.
//!    On a small retrospective analysis (6 pairs; quiet, then with the 100 live analyses
//!    running), on a finished live analysis of 6 pairs with 60 judged intervals (the summary
//!    view lists every interval), and on the 2,000-pair analysis of 1.
//! 5. Web UI: `GET /ui/analyses/{id}` of a 100-pair analysis (5 metrics × 20 APIs), 100 times
//!    one after the other; and the self-contained report (`/ui/analyses/{id}/report.html`,
//!    every chart inline) of the 100- and the 2,000-pair analyses.
//!
//! 6. Hostile load (docs/security.md), default limits: 16 clients at once each sending
//!    `POST /api/v1/judge` with a body just under the default 1 MiB limit (500 metrics, the
//!    `max_metrics_per_config` default, each with a pair), retrying a 503 `overloaded` after
//!    50 ms until answered 200; RSS sampled every 10 ms and `VmHWM` (the kernel's peak), then
//!    RSS 2 s after the last answer. And 3,000 connections that send part of their headers
//!    and never finish (10 s header timeout), with the default `max_connections` (1,024
//!    held, the rest closed at once) and raised to 4,000 (all held): RSS before and while
//!    held, and how long until each is closed. Then (6c) the 16 calls sent once each under
//!    `http.request_timeout_s = 1`: the daemon's CPU after the last answer (a caller that
//!    gave up cancels its computation) and the peak RSS.
//!
//! Run: `cargo bench --bench serve` (or `scripts/bench-serve.sh`); about 90 s once built.
//! Progress goes to stderr, the summary (Markdown) to stdout. `CANARYD_BIN` overrides the
//! daemon binary. Under `cargo test --benches` (no `--bench` argument) it does nothing.

#[path = "support/serve_daemon.rs"]
mod daemon;
#[path = "support/serve_hostile.rs"]
mod hostile;
#[path = "support/serve_load.rs"]
mod load;
#[path = "../tests/it/support/prometheus.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod prometheus;
#[path = "support/report.rs"]
mod report;
#[path = "../tests/it/support/target.rs"]
#[allow(dead_code, unused_imports)]
mod target;

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use serde_json::{Value, json};

use prometheus::{Prometheus, backfill};
use report::{Mem, Summary, answer, daemon_bin, iso_s, median, mem, now_s, percentile};
use target::{Behaviour, Target};

use daemon::*;
use hostile::*;
use load::*;

const METRICS: usize = 100;
const ROUTES: usize = 20;
const POINTS: i64 = 360;
const STEP_S: i64 = 10;
const JUDGE_RUNS: usize = 3;
const READY_RUNS: usize = 5;
const LIVE_ANALYSES: usize = 100;
const GET_RATE: f64 = 500.0;
const GET_FOR: Duration = Duration::from_secs(10);
/// Requests the load client keeps in flight at most; beyond, a scheduled request is
/// counted as not sent (the daemon is saturated).
const MAX_IN_FLIGHT: usize = 256;
/// The collector's default `prometheus.max_concurrent`.
const COLLECTOR_CONCURRENCY: usize = 8;
const SMALL_APIS: [&str; 3] = ["/checkout", "/search", "/login"];

const SMALL_TOML: &str = r#"
name = "shop-small"
applications = ["shop"]

[[metrics]]
name = "latency"
direction = "increase"
[metrics.query]
kind = "histogram"
base = "http_request_duration_seconds"
filter = 'version="${scope}"'
split_by = ["route"]

[[metrics]]
name = "errors"
direction = "increase"
[metrics.query]
kind = "ratio"
errors = 'http_requests_total{version="${scope}", code="500"}'
total = 'http_requests_total{version="${scope}"}'
split_by = ["route"]
"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!(
            "serve bench: run it with `cargo bench --bench serve`; nothing to do in test mode"
        );
        return;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-'))
        && !"serve".contains(filter.as_str())
    {
        eprintln!("serve bench: filtered out by `{filter}`");
        return;
    }
    assert!(Prometheus::available(), "prometheus/promtool not installed");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let mut summary = Summary::default();
    runtime.block_on(async {
        judging_and_big_get(&mut summary).await;
        start_to_ready(&mut summary);
        live_rss_and_small_get(&mut summary).await;
        hostile_judge_burst(&mut summary).await;
        judge_burst_under_timeout(&mut summary).await;
        slow_clients(&mut summary, Held::Default).await;
        slow_clients(&mut summary, Held::All).await;
    });
    println!("\n## canaryd serve — measured vs target\n");
    println!("{}", summary.markdown());
    println!(
        "\nbinary: {} · {} cores · bench wall time {:.0} s",
        daemon_bin().display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// 1 + 4 (big): judging throughput, GET latency on the 2,000-pair analysis.

async fn judging_and_big_get(summary: &mut Summary) {
    let end = (now_s() as i64 / STEP_S) * STEP_S - 300;
    let start = end - (POINTS - 1) * STEP_S;
    let t = Instant::now();
    let text = openmetrics(end);
    let generated = t.elapsed();
    let storage = tempfile::tempdir().expect("a TSDB dir");
    let t = Instant::now();
    tokio::task::block_in_place(|| backfill(&text, storage.path()));
    eprintln!(
        "[1] {:.0} MB of OpenMetrics ({} series × {POINTS} points) in {:.1} s; promtool backfill {:.1} s",
        text.len() as f64 / 1e6,
        2 * METRICS * ROUTES,
        generated.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    drop(text);
    let prom = Prometheus::start_with_storage(storage.path(), &[], 15).await;
    let series = prom
        .query("count(last_over_time(bench_metric_000[1h]))")
        .await;
    eprintln!(
        "[1] prometheus up at {}: {} series of bench_metric_000",
        prom.url(),
        series
            .first()
            .map_or(Value::Null, |s| s["value"][1].clone())
    );

    let d = Daemon::start(&prom.url()).await;
    let (s, b) = d.post_toml("/api/v1/configs", &big_config()).await;
    assert_eq!(s, 201, "{b}");
    let request = json!({
        "config": "bench-100", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
        "window": {"mode": "retrospective", "start": start, "end": end, "step": "10s"},
    });
    let mut runs = Vec::new();
    let mut last_id = String::new();
    for run in 0..JUDGE_RUNS {
        let before = d.telemetry().await;
        let t = Instant::now();
        let (s, b) = d.post("/api/v1/analyses", &request).await;
        assert_eq!(s, 201, "{b}");
        let id = b["id"].as_str().expect("an id").to_string();
        let done = d
            .wait_final(&id, Duration::from_millis(10), Duration::from_secs(120))
            .await;
        let client = t.elapsed();
        let after = d.telemetry().await;
        assert_eq!(done["status"], "succeeded", "{}", d.log_tail());
        let metrics = done["report"]["metrics"].as_array().map_or(0, Vec::len);
        assert_eq!(metrics, METRICS * ROUTES, "metric pairs in the report");
        let server = iso_s(done["updated"].as_str().expect("a time"))
            - iso_s(done["created"].as_str().expect("a time"));
        let judge = after.judge_sum - before.judge_sum;
        let queries = after.query_count - before.query_count;
        let query_sum = after.query_sum - before.query_sum;
        eprintln!(
            "[1] run {}: {:.3} s (client, POST→final GET), {:.3} s in the daemon (created→updated): \
             judging {:.3} s, the rest (queries, parsing, store) {:.3} s; {queries:.0} queries \
             summing {query_sum:.2} s; verdict {} score {}; {}",
            run + 1,
            client.as_secs_f64(),
            server,
            judge,
            server - judge,
            done["verdict"],
            done["score"],
            classes(&done["report"]),
        );
        runs.push(JudgeRun {
            client: client.as_secs_f64(),
            server,
            judge,
        });
        last_id = id;
    }
    let direct = direct_queries(&prom.url(), start, end).await;
    let rss_after = d.mem();
    long_live_get(&d, start, end, summary).await;

    let path = format!("/api/v1/analyses/{last_id}");
    let size = d.get_bytes(&path).await;
    let serial = d.serial_gets(&path, 20).await;
    eprintln!(
        "[4] 2,000-pair analysis, one GET at a time: median {:.1} ms, max {:.1} ms",
        percentile(&serial, 0.5),
        percentile(&serial, 1.0)
    );
    eprintln!(
        "[4] GET latency on the 2,000-pair analysis ({:.0} KB per answer), {GET_RATE}/s for {GET_FOR:?}",
        size as f64 / 1024.0
    );
    let big = fixed_rate(&format!("{}{path}", d.url), GET_RATE, GET_FOR).await;
    eprintln!("[4] {big}");
    let rss_loaded = d.mem();
    eprintln!("[4] after that load: {rss_loaded}");

    pages(&d, &last_id, start, end, summary).await;

    let median = |f: fn(&JudgeRun) -> f64| median(runs.iter().map(f).collect());
    let list = runs
        .iter()
        .map(|r| format!("{:.2}", r.client))
        .collect::<Vec<_>>()
        .join(", ");
    let wall = median(|r| r.client);
    summary.row(
        "1. Judge 100 metrics × 20 APIs (2,000 pairs), 1 h @ 10 s, real Prometheus",
        format!("{wall:.2} s median (runs {list} s)"),
        "≤ 5 s",
        Some(wall <= 5.0),
    );
    summary.row(
        "1a. … of which judging+scoring (daemon's judge histogram)",
        format!(
            "{:.2} s; collect+store {:.2} s (daemon-side total {:.2} s)",
            median(|r| r.judge),
            median(|r| r.server - r.judge),
            median(|r| r.server)
        ),
        "—",
        None,
    );
    summary.row(
        "1b. … the 200 range queries alone, direct to Prometheus (8 at a time)",
        format!("{direct:.2} s median of 3"),
        "—",
        None,
    );
    summary.row(
        "3c. RSS after judging the 2,000 pairs (3 runs)",
        rss_after.to_string(),
        "—",
        None,
    );
    summary.row(
        &format!(
            "4c. GET analysis, 2,000 pairs ({:.0} KB) @ {GET_RATE}/s",
            size as f64 / 1024.0
        ),
        format!(
            "{}; one at a time: {:.0} ms median",
            big.short(),
            percentile(&serial, 0.5)
        ),
        "(p99 ≤ 10 ms is for typical analyses)",
        None,
    );
}

/// The web UI's analysis page of a 100-pair analysis (5 metrics × 20 APIs), one GET at a
/// time; and the self-contained report (every chart inline) of the 100- and the 2,000-pair
/// analyses, rendered by the daemon.
async fn pages(d: &Daemon, big_id: &str, start: i64, end: i64, summary: &mut Summary) {
    let (s, b) = d
        .post_toml("/api/v1/configs", &config_of(5, "bench-5"))
        .await;
    assert_eq!(s, 201, "{b}");
    let request = json!({
        "config": "bench-5", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
        "window": {"mode": "retrospective", "start": start, "end": end, "step": "10s"},
    });
    let (s, b) = d.post("/api/v1/analyses", &request).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().expect("an id").to_string();
    let done = d
        .wait_final(&id, Duration::from_millis(10), Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "succeeded", "{}", d.log_tail());
    let pairs = done["report"]["metrics"].as_array().map_or(0, Vec::len);
    assert_eq!(pairs, 100, "pairs of the page's analysis");
    let page = format!("/ui/analyses/{id}");
    let size = d.get_bytes(&page).await;
    let serial = d.serial_gets(&page, 100).await;
    eprintln!(
        "[5] analysis page, 100 pairs ({:.0} KB): median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        size as f64 / 1024.0,
        percentile(&serial, 0.5),
        percentile(&serial, 0.99),
        percentile(&serial, 1.0)
    );
    summary.row(
        "5a. Web UI analysis page, 100 pairs, one GET at a time (100 GETs)",
        format!(
            "median {:.1} ms, p99 {:.1} ms ({:.0} KB; failing pairs' charts inline, the others loaded lazily)",
            percentile(&serial, 0.5),
            percentile(&serial, 0.99),
            size as f64 / 1024.0
        ),
        "≤ 50 ms",
        Some(percentile(&serial, 0.99) <= 50.0),
    );
    for (label, aid, n) in [("100", id.as_str(), 10), ("2,000", big_id, 3)] {
        let path = format!("/ui/analyses/{aid}/report.html");
        let size = d.get_bytes(&path).await;
        let serial = d.serial_gets(&path, n).await;
        eprintln!(
            "[5] self-contained report, {label} pairs ({:.1} MB): median {:.0} ms",
            size as f64 / 1e6,
            percentile(&serial, 0.5)
        );
        let target = if label == "2,000" { "≤ 2 s" } else { "—" };
        summary.row(
            &format!("5b. Self-contained HTML report served, {label} pairs, every chart inline"),
            format!(
                "median {:.0} ms of {n} ({:.1} MB)",
                percentile(&serial, 0.5),
                size as f64 / 1e6
            ),
            target,
            (label == "2,000").then(|| percentile(&serial, 0.5) <= 2000.0),
        );
    }
}

/// A finished live analysis of 6 pairs with 60 judged intervals (the hour of data, judged
/// every minute; it catches up at once because the hour is past), and GET latency on it:
/// the summary view lists every interval.
async fn long_live_get(d: &Daemon, start: i64, end: i64, summary: &mut Summary) {
    let mut config = String::from("name = \"bench-small\"\napplications = [\"bench\"]\n");
    for m in 0..3 {
        let _ = write!(
            config,
            "\n[[metrics]]\nname = \"m{m:03}\"\n[metrics.query]\nkind = \"promql\"\n\
             template = 'bench_metric_{m:03}{{version=\"${{scope}}\", route=~\"/api/r0[01]\"}}'\n\
             split_by = [\"route\"]\n"
        );
    }
    let (s, b) = d.post_toml("/api/v1/configs", &config).await;
    assert_eq!(s, 201, "{b}");
    let t = Instant::now();
    let (s, b) = d
        .post(
            "/api/v1/analyses",
            &json!({
                "config": "bench-small", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
                "window": {"mode": "live", "start": start, "interval": "60s",
                           "max_duration": end - start, "step": "10s"},
            }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().expect("an id").to_string();
    let done = d
        .wait_final(&id, Duration::from_millis(50), Duration::from_secs(120))
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let intervals = done["intervals"].as_array().map_or(0, Vec::len);
    let pairs = done["report"]["metrics"].as_array().map_or(0, Vec::len);
    let path = format!("/api/v1/analyses/{id}");
    let size = d.get_bytes(&path).await;
    let serial = d.serial_gets(&path, 50).await;
    eprintln!(
        "[4] live analysis, {pairs} pairs, {intervals} intervals judged in {:.1} s ({}); \
         {size} B per answer; one GET at a time: median {:.2} ms, max {:.2} ms; {GET_RATE}/s for {GET_FOR:?}",
        t.elapsed().as_secs_f64(),
        classes(&done["report"]),
        percentile(&serial, 0.5),
        percentile(&serial, 1.0)
    );
    let load = fixed_rate(&format!("{}{path}", d.url), GET_RATE, GET_FOR).await;
    eprintln!("[4] {load}");
    summary.row(
        &format!(
            "4b. GET finished live analysis, {pairs} pairs × {intervals} intervals ({size} B) @ {GET_RATE}/s"
        ),
        format!(
            "{}; one at a time: {:.2} ms median",
            load.short(),
            percentile(&serial, 0.5)
        ),
        "p99 ≤ 10 ms",
        Some(load.p(0.99) <= 10.0 && load.healthy()),
    );
}

struct JudgeRun {
    client: f64,
    server: f64,
    judge: f64,
}

/// One hour of gauges: `bench_metric_NNN{version, route}`, lognormal noise around a
/// per-metric level; the canary is 30% higher on one API in twenty.
fn openmetrics(end: i64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5e7e);
    let mut out = String::with_capacity(100 << 20);
    for m in 0..METRICS {
        let name = format!("bench_metric_{m:03}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for version in ["v1", "v2"] {
            for r in 0..ROUTES {
                let shifted = version == "v2" && (m + r) % 20 == 7;
                let level = (10.0 + m as f64).ln() + if shifted { 0.3_f64.ln_1p() } else { 0.0 };
                let noise = LogNormal::new(level, 0.25).expect("a valid lognormal");
                for k in 0..POINTS {
                    let t = end - (POINTS - 1 - k) * STEP_S;
                    let v = noise.sample(&mut rng);
                    let _ = writeln!(
                        out,
                        "{name}{{version=\"{version}\",route=\"/api/r{r:02}\"}} {v:.4} {t}"
                    );
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn big_config() -> String {
    config_of(METRICS, "bench-100")
}

/// A config of the first `metrics` bench metrics, split by route (20 pairs per metric).
fn config_of(metrics: usize, name: &str) -> String {
    let mut t = format!("name = \"{name}\"\napplications = [\"bench\"]\n");
    for m in 0..metrics {
        let _ = write!(
            t,
            "\n[[metrics]]\nname = \"m{m:03}\"\n[metrics.query]\nkind = \"promql\"\n\
             template = 'bench_metric_{m:03}{{version=\"${{scope}}\"}}'\nsplit_by = [\"route\"]\n"
        );
    }
    t
}

/// Counts of each classification in a report.
fn classes(report: &Value) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for m in report["metrics"].as_array().into_iter().flatten() {
        let c = m["classification"].as_str().unwrap_or("?").to_string();
        *counts.entry(c).or_default() += 1;
    }
    counts
        .iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The daemon's 200 range queries (both versions of 100 metrics), `COLLECTOR_CONCURRENCY`
/// at a time, answers parsed; median wall time of 3.
async fn direct_queries(prom: &str, start: i64, end: i64) -> f64 {
    let http = reqwest::Client::new();
    let url = format!("{prom}/api/v1/query_range");
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let permits = Arc::new(tokio::sync::Semaphore::new(COLLECTOR_CONCURRENCY));
        let mut tasks = Vec::new();
        for m in 0..METRICS {
            for v in ["v1", "v2"] {
                let (http, url, permits) = (http.clone(), url.clone(), permits.clone());
                let query = format!("bench_metric_{m:03}{{version=\"{v}\"}}");
                tasks.push(tokio::spawn(async move {
                    let _p = permits.acquire().await.expect("open semaphore");
                    let form = [
                        ("query", query),
                        ("start", start.to_string()),
                        ("end", end.to_string()),
                        ("step", STEP_S.to_string()),
                    ];
                    let body: Value = http
                        .post(&url)
                        .form(&form)
                        .send()
                        .await
                        .expect("Prometheus answers")
                        .json()
                        .await
                        .expect("JSON");
                    body["data"]["result"].as_array().map_or(0, Vec::len)
                }));
            }
        }
        let mut series = 0;
        for task in tasks {
            series += task.await.expect("query task");
        }
        assert_eq!(series, 2 * METRICS * ROUTES, "series from Prometheus");
        times.push(t.elapsed().as_secs_f64());
    }
    eprintln!(
        "[1] 200 range queries direct to Prometheus, {COLLECTOR_CONCURRENCY} at a time: {} s",
        times
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    median(times)
}

// ---------------------------------------------------------------------------------------
// 2: start to /readyz.

fn start_to_ready(summary: &mut Summary) {
    let mut times = Vec::new();
    for _ in 0..READY_RUNS {
        let mut d = Daemon::spawn("http://127.0.0.1:9");
        let ready = poll_ready(&mut d, Duration::from_millis(2));
        times.push(ready.as_secs_f64() * 1000.0);
    }
    eprintln!(
        "[2] spawn → first 200 from /readyz (ms): {}",
        times
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let list = times
        .iter()
        .map(|t| format!("{t:.0}"))
        .collect::<Vec<_>>()
        .join(", ");
    summary.row(
        "2. Spawn → first 200 from /readyz, empty data dir (poll 2 ms)",
        format!("{:.0} ms median (runs {list} ms)", median(times)),
        "none given",
        None,
    );
}

/// Time from spawn until `/readyz` answers 200, polling every `every` with plain TCP.
fn poll_ready(d: &mut Daemon, every: Duration) -> Duration {
    let deadline = d.spawned + Duration::from_secs(15);
    loop {
        let tick = Instant::now();
        if http_status(d.addr, "/readyz") == Some(200) {
            return d.spawned.elapsed();
        }
        if let Ok(Some(status)) = d.child.try_wait() {
            panic!("canaryd exited with {status}:\n{}", d.log_tail());
        }
        assert!(
            Instant::now() < deadline,
            "not ready in 15 s:\n{}",
            d.log_tail()
        );
        std::thread::sleep(every.saturating_sub(tick.elapsed()));
    }
}

/// The status of a `GET path` over a fresh connection; `None` when nothing answers.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// 3 + 4 (small): RSS idle and with 100 live analyses; GET latency on a 6-pair analysis.

async fn live_rss_and_small_get(summary: &mut Summary) {
    let v1 = Target::start("v1", &SMALL_APIS, Behaviour::default()).await;
    let v2 = Target::start("v2", &SMALL_APIS, Behaviour::default()).await;
    let prom = Prometheus::start(&[("v1", v1.addr()), ("v2", v2.addr())], 1).await;
    let d = Daemon::start(&prom.url()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = d.mem();
    eprintln!("[3] idle after start: {idle}");
    summary.row(
        "3a. RSS idle after start",
        idle.to_string(),
        "≤ 40 MiB",
        Some(idle.rss_kib <= 40 * 1024),
    );

    prom.wait_for_samples("http_requests_total", 12, Duration::from_secs(30))
        .await;
    let first = now_s();
    let (s, b) = d.post_toml("/api/v1/configs", SMALL_TOML).await;
    assert_eq!(s, 201, "{b}");
    tokio::time::sleep(Duration::from_secs_f64((first + 14.0 - now_s()).max(0.0))).await;
    let (s, b) = d
        .post(
            "/api/v1/analyses",
            &json!({
                "config": "shop-small", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
                "window": {"mode": "retrospective", "start": now_s() - 13.0, "end": now_s() - 1.0, "step": "2s"},
            }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let small_id = b["id"].as_str().expect("an id").to_string();
    let small = d
        .wait_final(
            &small_id,
            Duration::from_millis(50),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(small["status"], "succeeded", "{small}");
    let pairs = small["report"]["metrics"].as_array().map_or(0, Vec::len);
    let path = format!("/api/v1/analyses/{small_id}");
    let size = d.get_bytes(&path).await;
    eprintln!(
        "[4] small analysis: {pairs} pairs ({}), verdict {}, {size} B per answer; {GET_RATE}/s for {GET_FOR:?}",
        classes(&small["report"]),
        small["verdict"]
    );
    let url = format!("{}{path}", d.url);
    let quiet = fixed_rate(&url, GET_RATE, GET_FOR).await;
    eprintln!("[4] quiet: {quiet}");
    summary.row(
        &format!("4. GET analysis, {pairs} pairs ({size} B) @ {GET_RATE}/s, 10 s, idle daemon"),
        quiet.short(),
        "p99 ≤ 10 ms",
        Some(quiet.p(0.99) <= 10.0 && quiet.healthy()),
    );

    let live = json!({
        "config": "shop-small", "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
        "window": {"mode": "live", "interval": "10s", "max_duration": "10m", "step": "2s", "lag": "2s"},
    });
    let t = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..LIVE_ANALYSES {
        let (s, b) = d.post("/api/v1/analyses", &live).await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["id"].as_str().expect("an id").to_string());
    }
    eprintln!(
        "[3] {LIVE_ANALYSES} live analyses created in {:.2} s; {} right after",
        t.elapsed().as_secs_f64(),
        d.mem()
    );
    d.wait_judged(&ids, 1, Duration::from_secs(60)).await;
    let one = d.mem();
    eprintln!(
        "[3] every live analysis judged ≥ 1 interval after {:.1} s: {one}",
        t.elapsed().as_secs_f64()
    );
    let loaded = fixed_rate(&url, GET_RATE, GET_FOR).await;
    eprintln!("[4] with {LIVE_ANALYSES} live analyses running: {loaded}");
    d.wait_judged(&ids, 2, Duration::from_secs(60)).await;
    let two = d.mem();
    eprintln!(
        "[3] every live analysis judged ≥ 2 intervals after {:.1} s: {two}",
        t.elapsed().as_secs_f64()
    );
    let telemetry = d.telemetry().await;
    eprintln!(
        "[3] daemon telemetry: {:.0} queries summing {:.1} s, judging {:.2} s in all",
        telemetry.query_count, telemetry.query_sum, telemetry.judge_sum
    );
    let worst = one.rss_kib.max(two.rss_kib);
    summary.row(
        "3b. RSS with 100 live analyses (6 pairs each), after 1 / 2 judged intervals each",
        format!("{one} / {two}"),
        "≤ 100 MiB",
        Some(worst <= 100 * 1024),
    );
    summary.row(
        "4a. GET same small analysis @ 500/s while the 100 live analyses run",
        loaded.short(),
        "p99 ≤ 10 ms",
        Some(loaded.p(0.99) <= 10.0 && loaded.healthy()),
    );
}
