//! Pipelines through `canaryd serve`, end to end: the release binary as a child process
//! (`serve --listen 127.0.0.1:0`, the port read from its `canaryd listening` log line), HTTP
//! on loopback. Plain `fn main` (harness = false). Three phases (`--phases`, default all):
//!
//! - `scale`: N executions (default 1,000) of one pipeline on one daemon, all starting at the
//!   same moment (`not_before`), each moving a webhook router (signed POSTs to an in-process
//!   sink) through traffic 1 → 5 → 25 → 50 → 100 % with a wait between steps, then
//!   `disable_baseline`. The daemon's `VmRSS` is sampled every 100 ms (and `VmHWM` read at
//!   the end). The sink records every POST: its `X-Canaryd-Delivery` id (one per router call,
//!   the same for its retries), signature and body. Afterwards every execution must show
//!   exactly the six steps, in order, each by one delivery; retries of a delivery are counted
//!   apart. Target: every execution succeeds, no missed or doubled step, RSS ≤ 200 MiB.
//! - `restart`: the same, but the daemon is killed with SIGKILL in the middle of a burst of
//!   steps (when half of the executions have delivered their third step) and restarted on the
//!   same data directory. Every execution must still complete. A step sent again right after
//!   the restart (the same step, an absolute weight, so idempotent) is counted as re-sent; a
//!   step out of order or an earlier step repeated after a later one counts as doubled.
//! - `rollback`: a real HAProxy (2.6, `/usr/sbin/haproxy`, admin socket) in front of two
//!   tiny services, and a real Prometheus (`/usr/bin/prometheus`) scraping two simulated
//!   versions every second; v2 fails 20 % of its requests. A pipeline sets 25 % through the
//!   HAProxy router, then runs a sequential-errors analysis; its fail verdict rolls back.
//!   Measured per run: from the analysis' finish (its `updated` time) to the first
//!   `get weight app/canary` over the admin socket that reads 0 (polled every 5 ms), split at
//!   the execution's `rollback` event. R runs (default 5), min / median / max.
//!   Target: ≤ 1 s.
//!
//! Run: `cargo bench --bench pipelines [-- FLAGS]` (or `scripts/bench-pipelines.sh [FLAGS]`).
//! Flags (default in brackets; each may also be given as `CANARYD_BENCH_<FLAG>`, e.g.
//! `CANARYD_BENCH_EXECUTIONS=200`; flags win):
//!
//! - `--executions N` [1000], `--wait S` [2]: executions, seconds between traffic steps;
//! - `--start-in S` [3]: they start together S s after the first trigger (0: when triggered);
//! - `--sink-fail-every K` [0 = never]: the sink answers 503 to the first attempt of every
//!   K-th delivery, so the webhook router's retries are exercised;
//! - `--rounds K` [1]: the scale phase K times on the same daemon, so memory that a round
//!   leaves behind shows as growth;
//! - `--rss-limit-mib M` [200];
//! - `--runs R` [5], `--analysis-step S` [1]: rollback runs, the analysis' step;
//! - `--phases LIST` [scale,restart,rollback].
//!
//! Progress goes to stderr, the summary (Markdown) to stdout. `CANARYD_BIN` overrides the
//! daemon binary. Exits 1 when an execution did not succeed, a step was missed or doubled, or
//! the RSS limit was exceeded. Under `cargo test --benches` (no `--bench`) it does nothing.

#[path = "support/pipeline_daemon.rs"]
mod daemon;
#[path = "../tests/it/support/haproxy.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod haproxy;
#[path = "../tests/it/support/prometheus.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod prometheus;
#[path = "support/report.rs"]
#[allow(dead_code)]
mod report;
#[path = "support/pipeline_rollback.rs"]
mod rollback;
#[path = "support/pipeline_sink.rs"]
mod sink;
#[path = "../tests/it/support/target.rs"]
#[allow(dead_code, unused_imports)]
mod target;
#[path = "../tests/it/support/web.rs"]
#[allow(dead_code)]
mod web;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use haproxy::Haproxy;
use prometheus::Prometheus;
use report::{Mem, Summary, answer, daemon_bin, iso_s, mem, now_s, percentile};
use target::{Behaviour, SEQUENTIAL_ERRORS, Target};
use web::Web;

use daemon::*;
use rollback::*;
use sink::*;

/// The traffic steps of the scale pipeline, then `disable_baseline`.
const STEPS: [f64; 5] = [1.0, 5.0, 25.0, 50.0, 100.0];
/// The webhook router's HMAC key.
const SECRET: &str = "bench";
/// Trigger requests in flight at once (the daemon's `http.max_in_flight` is 256).
const TRIGGER_CONCURRENCY: usize = 32;
const APIS: [&str; 3] = ["/checkout", "/search", "/login"];

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if !raw.iter().any(|a| a == "--bench") {
        eprintln!(
            "pipelines bench: run it with `cargo bench --bench pipelines`; nothing to do in test mode"
        );
        return ExitCode::SUCCESS;
    }
    let args = match Args::parse(&raw) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipelines bench: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let mut summary = Summary::default();
    let ok = runtime.block_on(async {
        let mut ok = true;
        if args.phase("scale") {
            ok &= scale(&args, &mut summary, false).await;
        }
        if args.phase("restart") {
            ok &= scale(&args, &mut summary, true).await;
        }
        if args.phase("rollback") {
            rollback(&args, &mut summary).await;
        }
        ok
    });
    println!("\n## canaryd pipelines — measured vs target\n");
    println!("{}", summary.markdown());
    println!(
        "\nbinary: {} · {} cores · bench wall time {:.0} s · {}",
        daemon_bin().display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        started.elapsed().as_secs_f64(),
        if ok { "PASS" } else { "FAIL" }
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------------------
// Flags.

struct Args {
    executions: usize,
    wait_s: f64,
    start_in_s: f64,
    sink_fail_every: u64,
    runs: usize,
    rounds: usize,
    analysis_step_s: f64,
    rss_limit_mib: f64,
    phases: Vec<String>,
}

impl Args {
    /// `Ok(None)`: a cargo bench filter that does not match this bench.
    fn parse(raw: &[String]) -> Result<Option<Args>, String> {
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        let names = [
            "executions",
            "wait",
            "start-in",
            "sink-fail-every",
            "runs",
            "rounds",
            "analysis-step",
            "rss-limit-mib",
            "phases",
        ];
        for name in names {
            let env = format!("CANARYD_BENCH_{}", name.replace('-', "_").to_uppercase());
            if let Ok(v) = std::env::var(env) {
                values.insert(name, v);
            }
        }
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if a == "--bench" {
                continue;
            }
            let Some(flag) = a.strip_prefix("--") else {
                if !"pipelines".contains(a.as_str()) {
                    eprintln!("pipelines bench: filtered out by `{a}`");
                    return Ok(None);
                }
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            let Some(&name) = names.iter().find(|n| **n == name) else {
                return Err(format!(
                    "unknown flag `{a}`; flags: --{}",
                    names.join(", --")
                ));
            };
            let value = match inline {
                Some(v) => v,
                None => it.next().cloned().ok_or(format!("`{a}` needs a value"))?,
            };
            values.insert(name, value);
        }
        fn num<T: std::str::FromStr>(
            values: &BTreeMap<&str, String>,
            name: &str,
            default: T,
        ) -> Result<T, String> {
            values.get(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("--{name}: `{v}` is not a number"))
            })
        }
        let phases: Vec<String> = values
            .get("phases")
            .map_or("scale,restart,rollback", String::as_str)
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if let Some(p) = phases
            .iter()
            .find(|p| !["scale", "restart", "rollback"].contains(&p.as_str()))
        {
            return Err(format!(
                "--phases: unknown phase `{p}` (scale, restart, rollback)"
            ));
        }
        let args = Args {
            executions: num(&values, "executions", 1000)?,
            wait_s: num(&values, "wait", 2.0)?,
            start_in_s: num(&values, "start-in", 3.0)?,
            sink_fail_every: num(&values, "sink-fail-every", 0)?,
            runs: num(&values, "runs", 5)?,
            rounds: num(&values, "rounds", 1)?,
            analysis_step_s: num(&values, "analysis-step", 1.0)?,
            rss_limit_mib: num(&values, "rss-limit-mib", 200.0)?,
            phases,
        };
        if args.executions == 0 || args.runs == 0 || args.rounds == 0 {
            return Err("--executions, --runs and --rounds must be at least 1".into());
        }
        Ok(Some(args))
    }

    fn phase(&self, name: &str) -> bool {
        self.phases.iter().any(|p| p == name)
    }
}

// ---------------------------------------------------------------------------------------
// scale / restart: N executions through a webhook router to a local sink.

/// The six steps every execution must deliver, in order.
fn expected_steps() -> Vec<String> {
    let mut out: Vec<String> = STEPS.iter().map(|p| format!("set_split {p}")).collect();
    out.push("set_enabled baseline false".into());
    out
}

fn webhook_pipeline(name: &str, url: &str, wait_s: f64) -> String {
    let mut t = format!(
        "name = \"{name}\"\n\n[[targets]]\nname = \"sink\"\n\
         router = {{ kind = \"webhook\", url = \"{url}\", secret = \"{SECRET}\" }}\n"
    );
    for (i, p) in STEPS.iter().enumerate() {
        if i > 0 {
            let _ = write!(t, "\n[[stages]]\nkind = \"wait\"\nduration = {wait_s}\n");
        }
        let _ = write!(t, "\n[[stages]]\nkind = \"traffic\"\npercent = {p}\n");
    }
    t.push_str("\n[[stages]]\nkind = \"disable_baseline\"\n");
    t
}

/// What one round of the scale phase measured.
struct Round {
    n: usize,
    succeeded: usize,
    timed_out: bool,
    /// First trigger → the last execution's `updated`, s.
    wall_s: f64,
    trigger_s: f64,
    check: Check,
    timing: Timing,
    idle: Mem,
    /// Highest of the 100 ms samples and the final `VmHWM`, KiB.
    peak_kib: u64,
    sampled_kib: u64,
    samples: usize,
    end: Mem,
    /// 2 s after every execution ended.
    after: Mem,
    restart_note: String,
}

async fn scale(args: &Args, summary: &mut Summary, restart: bool) -> bool {
    let (tag, row) = if restart {
        ("restart", "c")
    } else {
        ("scale", "b")
    };
    let n = args.executions;
    let sink = Sink::start(args.sink_fail_every).await;
    let dir = tempfile::tempdir().expect("a daemon dir");
    // No analysis stage: the Prometheus URL is never used.
    let mut d = Daemon::start(dir.path(), "http://127.0.0.1:9").await;
    let name = "bench-webhook";
    let (s, b) = d
        .post_toml(
            "/api/v1/pipelines",
            &webhook_pipeline(name, &sink.url, args.wait_s),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!("[{tag}] daemon at {}, idle: {}", d.url, d.mem());
    let rounds = if restart { 1 } else { args.rounds };
    let mut all = Vec::new();
    for k in 1..=rounds {
        let r = round(args, &mut d, &sink, name, restart, tag).await;
        if rounds > 1 {
            eprintln!(
                "[{tag}] round {k}/{rounds}: {}/{n} succeeded, clean {}, peak {:.1} MiB, \
                 2 s after {:.1} MiB",
                r.succeeded,
                r.check.clean(restart),
                r.peak_kib as f64 / 1024.0,
                r.after.rss_kib as f64 / 1024.0
            );
        }
        all.push(r);
    }
    let ok = |r: &Round| r.succeeded == r.n && !r.timed_out;
    let all_ok = all.iter().all(ok);
    let steps_ok = all.iter().all(|r| r.check.clean(restart));
    let peak_kib = all.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    let peak_mib = peak_kib as f64 / 1024.0;
    let rss_ok = peak_mib <= args.rss_limit_mib;
    let r = &all[0];

    let what = if restart {
        format!(
            "{row}1. {n} executions, SIGKILL in the middle of the 25 % burst, restart on the \
             same data dir"
        )
    } else {
        format!(
            "{row}1. {n} concurrent executions, webhook router → local sink, 1→5→25→50→100 % \
             + disable baseline, waits {} s",
            args.wait_s
        )
    };
    summary.row(
        &what,
        format!(
            "{}/{n} succeeded{}; wall {:.1} s (first trigger → last update; triggering \
             took {:.1} s); {} active at once{}",
            r.succeeded,
            if r.timed_out { " (timed out)" } else { "" },
            r.wall_s,
            r.trigger_s,
            r.timing.max_overlap,
            if restart {
                format!("; {}", r.restart_note)
            } else {
                String::new()
            }
        ),
        "all succeed",
        Some(ok(r)),
    );
    let c = &r.check;
    summary.row(
        &format!("{row}2. … steps at the sink (distinct delivery ids)"),
        format!(
            "{} of {} delivered; missed {}, doubled {}, out of order {}, unexpected {}{}; \
             {} attempts, {} retries ({} answered 503 on purpose); bad signatures {}, bodies \
             differing between attempts {}",
            c.deliveries,
            6 * n,
            c.missed,
            c.doubled,
            c.out_of_order,
            c.unexpected,
            if restart {
                format!("; re-sent after the restart (same step again) {}", c.resent)
            } else {
                String::new()
            },
            c.attempts,
            c.retries,
            c.refused,
            c.bad_signatures,
            c.body_mismatch
        ),
        "0 missed, 0 doubled",
        Some(r.check.clean(restart)),
    );
    summary.row(
        &format!("{row}3. … daemon RSS"),
        format!(
            "idle before triggering {:.1} MiB; peak {:.1} MiB (max of {} samples every 100 ms \
             {:.1}, VmHWM {:.1}{}); {:.1} MiB 2 s after all finished, {} threads",
            r.idle.rss_kib as f64 / 1024.0,
            r.peak_kib as f64 / 1024.0,
            r.samples,
            r.sampled_kib as f64 / 1024.0,
            r.end.hwm_kib as f64 / 1024.0,
            if restart {
                " of the restarted process"
            } else {
                ""
            },
            r.after.rss_kib as f64 / 1024.0,
            r.after.threads
        ),
        &format!("≤ {} MiB", args.rss_limit_mib),
        Some(r.peak_kib as f64 / 1024.0 <= args.rss_limit_mib),
    );
    summary.row(
        &format!("{row}4. … step timing at the sink"),
        r.timing.to_string(),
        "—",
        None,
    );
    if all.len() > 1 {
        let list = |f: fn(&Round) -> f64| {
            all.iter()
                .map(|r| format!("{:.0}", f(r)))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        summary.row(
            &format!("{row}5. … {} rounds of {n} on the same daemon", all.len()),
            format!(
                "{} of {} rounds all succeeded and clean; RSS peak per round {} MiB; \
                 2 s after each round {} MiB",
                all.iter()
                    .filter(|r| ok(r) && r.check.clean(restart))
                    .count(),
                all.len(),
                list(|r| r.peak_kib as f64 / 1024.0),
                list(|r| r.after.rss_kib as f64 / 1024.0)
            ),
            &format!("≤ {} MiB", args.rss_limit_mib),
            Some(rss_ok),
        );
    }
    all_ok && steps_ok && rss_ok
}

/// Trigger `args.executions` executions, (with `restart`: kill and restart the daemon at
/// half the steps), wait until none runs, check the sink's record.
async fn round(
    args: &Args,
    d: &mut Daemon,
    sink: &Sink,
    name: &str,
    restart: bool,
    tag: &str,
) -> Round {
    let n = args.executions;
    let idle = d.mem();
    let pid = Arc::new(AtomicU32::new(d.pid()));
    let sampler = Sampler::start(pid.clone());
    let base = sink.deliveries();
    let t0 = now_s();
    let start_at = (args.start_in_s > 0.0).then_some(t0 + args.start_in_s);
    let triggered = trigger_all(d, name, n, start_at).await;
    let trigger_s = now_s() - t0;
    eprintln!(
        "[{tag}] {n} executions triggered in {trigger_s:.2} s{}",
        start_at.map_or(String::new(), |_| format!(
            "; they start together at +{:.1} s",
            args.start_in_s
        ))
    );

    let mut restart_note = String::new();
    if restart {
        // Mid-burst: the executions start together, so each step comes as a burst of n
        // deliveries; kill when half of them have delivered their third step.
        let half = base + 2 * n + n / 2;
        let deadline = Instant::now() + Duration::from_secs(300);
        while sink.deliveries() < half {
            assert!(
                Instant::now() < deadline,
                "only {} of {half} steps reached the sink in 300 s:\n{}",
                sink.deliveries() - base,
                d.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let before = d.mem();
        let delivered = sink.deliveries() - base;
        d.kill9();
        let killed_at = now_s();
        let ready = d.launch().await;
        pid.store(d.pid(), Ordering::Relaxed);
        let first_after = sink
            .wait_first_after(killed_at, Duration::from_secs(60))
            .await;
        restart_note = format!(
            "SIGKILL after {delivered} of {} steps ({before} just before); spawn → ready \
             (resuming the unfinished executions) {:.0} ms; first step after the kill {}",
            6 * n,
            ready.as_secs_f64() * 1000.0,
            first_after.map_or("none".to_string(), |t| format!(
                "{:.0} ms after the kill",
                (t - killed_at) * 1000.0
            ))
        );
        eprintln!("[{tag}] {restart_note}");
    }

    let done = wait_all(d, name, &triggered, Duration::from_secs(600)).await;
    let end = d.mem();
    let samples = sampler.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = d.mem();
    let hits = sink.hits();
    let check = check(&hits, &triggered, restart);
    let timing = Timing::of(&hits, &triggered, start_at, args.wait_s);
    let sampled_kib = samples.iter().map(|(_, k)| *k).max().unwrap_or(0);
    let succeeded = done.statuses.get("succeeded").copied().unwrap_or(0);
    eprintln!(
        "[{tag}] finished: {:?}{}; wall {:.2} s from the first trigger to the last execution's \
         update; most running at once (API list): {}; active at once (sink): {}",
        done.statuses,
        if done.timed_out { " (TIMED OUT)" } else { "" },
        done.last_updated - t0,
        done.max_running,
        timing.max_overlap
    );
    eprintln!("[{tag}] sink: {check}");
    for e in &check.examples {
        eprintln!("[{tag}]   {e}");
    }
    eprintln!("[{tag}] timing: {timing}");
    eprintln!(
        "[{tag}] RSS: idle {:.1} MiB, peak sample {:.1} MiB ({} samples every 100 ms), \
         VmHWM {:.1} MiB, at the end {:.1} MiB, 2 s later {after}",
        idle.rss_kib as f64 / 1024.0,
        sampled_kib as f64 / 1024.0,
        samples.len(),
        end.hwm_kib as f64 / 1024.0,
        end.rss_kib as f64 / 1024.0,
    );
    Round {
        n,
        succeeded,
        timed_out: done.timed_out,
        wall_s: done.last_updated - t0,
        trigger_s,
        check,
        timing,
        idle,
        peak_kib: sampled_kib.max(end.hwm_kib),
        sampled_kib,
        samples: samples.len(),
        end,
        after,
        restart_note,
    }
}

/// Trigger `n` executions, `TRIGGER_CONCURRENCY` at a time; `(id, answered at)` in order.
async fn trigger_all(
    d: &Daemon,
    pipeline: &str,
    n: usize,
    start_at: Option<f64>,
) -> Vec<(String, f64)> {
    let permits = Arc::new(tokio::sync::Semaphore::new(TRIGGER_CONCURRENCY));
    let mut body = json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": "bench"});
    if let Some(t) = start_at {
        body["not_before"] = json!(t);
    }
    let path = format!("/api/v1/pipelines/{pipeline}/executions");
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (http, url, body, permits) = (
            d.http.clone(),
            format!("{}{path}", d.url),
            body.clone(),
            permits.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire().await.expect("open semaphore");
            for attempt in 0.. {
                let (s, b) = answer(http.post(&url).json(&body)).await;
                match s {
                    201 => {
                        let id = b["id"].as_str().expect("an execution id").to_string();
                        return (id, now_s());
                    }
                    503 if attempt < 50 => tokio::time::sleep(Duration::from_millis(100)).await,
                    _ => panic!("trigger: HTTP {s}: {b}"),
                }
            }
            unreachable!("the loop returns or panics")
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("a trigger task"));
    }
    out
}

struct Done {
    statuses: BTreeMap<String, usize>,
    /// Latest `updated` of any execution, unix seconds.
    last_updated: f64,
    max_running: usize,
    timed_out: bool,
}

/// Poll the execution list every 500 ms until none of the executions `ids` runs.
async fn wait_all(d: &Daemon, pipeline: &str, ids: &[(String, f64)], timeout: Duration) -> Done {
    let ids: std::collections::HashSet<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    let started = Instant::now();
    let mut max_running = 0;
    let mut last_print = Instant::now();
    loop {
        let mut items = Vec::new();
        let mut offset = 0;
        loop {
            let (s, b) = d
                .get(&format!(
                    "/api/v1/executions?pipeline={pipeline}&limit=1000&offset={offset}"
                ))
                .await;
            assert_eq!(s, 200, "{b}");
            let page = b["items"].as_array().cloned().unwrap_or_default();
            offset += page.len();
            let total = b["total"].as_u64().unwrap_or(0) as usize;
            let empty = page.is_empty();
            items.extend(
                page.into_iter()
                    .filter(|e| e["id"].as_str().is_some_and(|id| ids.contains(id))),
            );
            if empty || offset >= total {
                break;
            }
        }
        let mut statuses = BTreeMap::new();
        for e in &items {
            *statuses
                .entry(e["status"].as_str().unwrap_or("?").to_string())
                .or_insert(0) += 1;
        }
        let running = statuses.get("running").copied().unwrap_or(0)
            + statuses.get("paused").copied().unwrap_or(0);
        max_running = max_running.max(running);
        let timed_out = started.elapsed() > timeout;
        if (items.len() >= ids.len() && running == 0) || timed_out {
            let last_updated = items
                .iter()
                .filter_map(|e| e["updated"].as_str())
                .map(iso_s)
                .fold(0.0, f64::max);
            return Done {
                statuses,
                last_updated,
                max_running,
                timed_out,
            };
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!("  … {statuses:?}, {}", d.mem());
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
