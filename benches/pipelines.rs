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

#[path = "../tests/it/support/haproxy.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod haproxy;
#[path = "../tests/it/support/prometheus.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod prometheus;
#[path = "support/report.rs"]
#[allow(dead_code)]
mod report;
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

// ---------------------------------------------------------------------------------------
// The webhook sink.

/// One POST the sink received.
struct Hit {
    at: f64,
    delivery: String,
    /// 1 for the first POST of this delivery id.
    attempt: u32,
    execution: String,
    /// `set_split 25`, `set_enabled baseline false`, …
    step: String,
    body: String,
    signed: bool,
    /// Answered 503 on purpose (`--sink-fail-every`).
    refused: bool,
}

#[derive(Default)]
struct SinkLog {
    hits: Vec<Hit>,
    attempts: HashMap<String, u32>,
    fail_every: u64,
}

/// An in-process HTTP server that records every webhook POST; stops when dropped.
struct Sink {
    url: String,
    log: Arc<Mutex<SinkLog>>,
    server: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start(fail_every: u64) -> Sink {
        let log = Arc::new(Mutex::new(SinkLog {
            fail_every,
            ..SinkLog::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let addr = listener.local_addr().expect("the sink's address");
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(log.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the sink runs");
        });
        Sink {
            url: format!("http://{addr}/hook"),
            log,
            server,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkLog> {
        lock(&self.log)
    }

    /// Distinct delivery ids so far.
    fn deliveries(&self) -> usize {
        self.lock().attempts.len()
    }

    fn hits(&self) -> Vec<Hit> {
        std::mem::take(&mut self.lock().hits)
    }

    /// When the first POST after `t` arrived, waiting up to `timeout` for it.
    async fn wait_first_after(&self, t: f64, timeout: Duration) -> Option<f64> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(h) = self.lock().hits.iter().find(|h| h.at > t) {
                return Some(h.at);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(log: &Mutex<SinkLog>) -> std::sync::MutexGuard<'_, SinkLog> {
    log.lock().expect("no panic while the sink log is held")
}

async fn hook(
    State(log): State<Arc<Mutex<SinkLog>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = now_s();
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let delivery = header("x-canaryd-delivery");
    let signed = header("x-canaryd-timestamp")
        .parse::<u64>()
        .is_ok_and(|ts| {
            canaryd::routers::webhook::signature(SECRET, ts, &body) == header("x-canaryd-signature")
        });
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let step = match v["event"].as_str() {
        Some("set_split") => match v["canary_percent"].as_f64() {
            Some(p) => format!("set_split {p}"),
            None => format!("set_split {}", v["canary_percent"]),
        },
        Some("set_enabled") => format!(
            "set_enabled {} {}",
            v["group"].as_str().unwrap_or("?"),
            v["enabled"]
        ),
        other => format!("{other:?}"),
    };
    let mut log = lock(&log);
    let ordinal = log.attempts.len() as u64 + 1;
    let attempt = {
        let a = log.attempts.entry(delivery.clone()).or_insert(0);
        *a += 1;
        *a
    };
    let refused = log.fail_every > 0 && attempt == 1 && ordinal.is_multiple_of(log.fail_every);
    log.hits.push(Hit {
        at,
        delivery,
        attempt,
        execution: v["execution"].as_str().unwrap_or("").to_string(),
        step,
        body: String::from_utf8_lossy(&body).into_owned(),
        signed,
        refused,
    });
    if refused {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

// ---------------------------------------------------------------------------------------
// Checking the sink's record.

#[derive(Default)]
struct Check {
    attempts: usize,
    deliveries: usize,
    /// POSTs that repeated a delivery id.
    retries: usize,
    refused: usize,
    missed: usize,
    doubled: usize,
    resent: usize,
    out_of_order: usize,
    unexpected: usize,
    stray: usize,
    bad_signatures: usize,
    body_mismatch: usize,
    examples: Vec<String>,
}

impl Check {
    fn clean(&self, restart: bool) -> bool {
        let resent = if restart { 0 } else { self.resent };
        self.missed
            + self.doubled
            + resent
            + self.out_of_order
            + self.unexpected
            + self.stray
            + self.bad_signatures
            + self.body_mismatch
            == 0
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} POSTs, {} distinct deliveries, {} retries, {} answered 503 on purpose; missed {}, \
             doubled {}, re-sent {}, out of order {}, unexpected steps {}, for unknown executions {}, bad \
             signatures {}, bodies differing between attempts {}",
            self.attempts,
            self.deliveries,
            self.retries,
            self.refused,
            self.missed,
            self.doubled,
            self.resent,
            self.out_of_order,
            self.unexpected,
            self.stray,
            self.bad_signatures,
            self.body_mismatch
        )
    }
}

/// Every execution's distinct deliveries, in order of first arrival, must be exactly the
/// expected steps. With `restart`, a step delivered again right after itself (a new delivery
/// id for the same step: the restarted daemon redid its pending action) is "re-sent"; any
/// other repetition is "doubled". Without, every repetition is doubled.
fn check(hits: &[Hit], executions: &[(String, f64)], restart: bool) -> Check {
    let expected = expected_steps();
    let mut c = Check {
        attempts: hits.len(),
        ..Check::default()
    };
    // execution → delivery → (first arrival, step, body)
    let mut by_exec: HashMap<&str, HashMap<&str, (f64, &str, &str)>> = HashMap::new();
    for h in hits {
        c.refused += usize::from(h.refused);
        c.bad_signatures += usize::from(!h.signed);
        let d = by_exec
            .entry(&h.execution)
            .or_default()
            .entry(&h.delivery)
            .or_insert((h.at, &h.step, &h.body));
        if d.2 != h.body {
            c.body_mismatch += 1;
        }
        d.0 = d.0.min(h.at);
        c.retries += usize::from(h.attempt > 1);
    }
    c.deliveries = by_exec.values().map(HashMap::len).sum();
    let known: std::collections::HashSet<&str> =
        executions.iter().map(|(id, _)| id.as_str()).collect();
    c.stray = by_exec.keys().filter(|e| !known.contains(*e)).count();
    for (id, _) in executions {
        let mut seq: Vec<(f64, &str)> = by_exec
            .get(id.as_str())
            .map(|m| m.values().map(|(at, step, _)| (*at, *step)).collect())
            .unwrap_or_default();
        seq.sort_by(|a, b| a.0.total_cmp(&b.0));
        let steps: Vec<&str> = seq.iter().map(|(_, s)| *s).collect();
        let consecutive = steps.windows(2).filter(|w| w[0] == w[1]).count();
        let mut firsts: Vec<&str> = Vec::new();
        for s in &steps {
            if !firsts.contains(s) {
                firsts.push(s);
            }
        }
        let repeated = steps.len() - firsts.len();
        let missed = expected
            .iter()
            .filter(|e| !firsts.contains(&e.as_str()))
            .count();
        let unexpected = firsts
            .iter()
            .filter(|s| !expected.iter().any(|e| e == *s))
            .count();
        let order: Vec<usize> = firsts
            .iter()
            .filter_map(|s| expected.iter().position(|e| e == s))
            .collect();
        let out_of_order = order.windows(2).any(|w| w[0] > w[1]);
        let (doubled, resent) = if restart {
            (repeated - consecutive, consecutive)
        } else {
            (repeated, consecutive)
        };
        c.missed += missed;
        c.unexpected += unexpected;
        c.doubled += doubled;
        c.resent += resent;
        c.out_of_order += usize::from(out_of_order);
        let bad = missed + unexpected + doubled + usize::from(out_of_order) > 0;
        if (bad || (resent > 0 && !restart)) && c.examples.len() < 5 {
            c.examples.push(format!("execution {id}: {steps:?}"));
        }
    }
    c
}

/// Latencies seen at the sink.
struct Timing {
    /// Seconds from an execution's start (its `not_before`, or its trigger answer when
    /// later) to its first step's first arrival, sorted.
    start_lag: Vec<f64>,
    /// Seconds between consecutive steps beyond the configured wait, sorted.
    overhead: Vec<f64>,
    /// Most executions between their first and last step at one moment.
    max_overlap: usize,
}

impl Timing {
    fn of(hits: &[Hit], executions: &[(String, f64)], start_at: Option<f64>, wait: f64) -> Timing {
        let mut first: HashMap<(&str, &str), f64> = HashMap::new();
        for h in hits {
            let t = first.entry((&h.execution, &h.step)).or_insert(h.at);
            *t = t.min(h.at);
        }
        let steps = expected_steps();
        let (mut start_lag, mut overhead, mut spans) = (Vec::new(), Vec::new(), Vec::new());
        for (id, triggered) in executions {
            let at: Vec<Option<f64>> = steps
                .iter()
                .map(|s| first.get(&(id.as_str(), s.as_str())).copied())
                .collect();
            if let Some(t) = at[0] {
                start_lag.push(t - start_at.map_or(*triggered, |s| s.max(*triggered)));
            }
            for (k, w) in at.windows(2).enumerate() {
                if let [Some(a), Some(b)] = w {
                    let planned = if k + 1 < STEPS.len() { wait } else { 0.0 };
                    overhead.push(b - a - planned);
                }
            }
            if let (Some(Some(a)), Some(Some(b))) = (at.first(), at.last()) {
                spans.push((*a, *b));
            }
        }
        start_lag.sort_by(f64::total_cmp);
        overhead.sort_by(f64::total_cmp);
        let mut edges: Vec<(f64, i64)> = spans
            .iter()
            .flat_map(|(a, b)| [(*a, 1), (*b, -1)])
            .collect();
        edges.sort_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)));
        let (mut now, mut max_overlap) = (0i64, 0i64);
        for (_, d) in edges {
            now += d;
            max_overlap = max_overlap.max(now);
        }
        Timing {
            start_lag,
            overhead,
            max_overlap: max_overlap as usize,
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |v: &[f64], q: f64| percentile(v, q) * 1000.0;
        write!(
            f,
            "start → first step p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; each next step beyond \
             its wait p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            ms(&self.start_lag, 0.5),
            ms(&self.start_lag, 0.99),
            ms(&self.start_lag, 1.0),
            ms(&self.overhead, 0.5),
            ms(&self.overhead, 0.99),
            ms(&self.overhead, 1.0)
        )
    }
}

// ---------------------------------------------------------------------------------------
// rollback: fail verdict → canary weight 0 at a real HAProxy.

fn haproxy_pipeline(socket: &str, step_s: f64) -> String {
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
async fn haproxy_cmd(socket: &Path, line: &str) -> std::io::Result<String> {
    let mut s = tokio::net::UnixStream::connect(socket).await?;
    s.write_all(format!("{line}\n").as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// The canary server's current weight (`get weight` answers `85 (initial 0)`).
async fn canary_weight(socket: &Path) -> Option<u32> {
    let line = format!("get weight {}/canary", haproxy::BACKEND);
    let answer = haproxy_cmd(socket, &line).await.ok()?;
    answer.split_whitespace().next()?.parse().ok()
}

struct RollbackRun {
    /// Analysis created → finished with a fail verdict, s.
    detect: f64,
    /// Analysis finished → the execution's `rollback` event, s.
    to_event: f64,
    /// `rollback` event → weight 0 read over the admin socket, s.
    to_weight: f64,
}

async fn rollback(args: &Args, summary: &mut Summary) {
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

// ---------------------------------------------------------------------------------------
// The daemon process.

/// `canaryd serve --listen 127.0.0.1:0` on a data directory; killed on drop.
struct Daemon {
    child: Option<Child>,
    dir: PathBuf,
    prometheus: String,
    url: String,
    http: reqwest::Client,
}

impl Daemon {
    async fn start(dir: &Path, prometheus: &str) -> Daemon {
        let mut d = Daemon {
            child: None,
            dir: dir.to_path_buf(),
            prometheus: prometheus.to_string(),
            url: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        };
        d.launch().await;
        d
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("canaryd.log")
    }

    /// Spawn on the data directory, learn the port from the log, wait until `/readyz`
    /// answers 200; the time that took.
    async fn launch(&mut self) -> Duration {
        let log_path = self.log_path();
        let offset = std::fs::metadata(&log_path).map_or(0, |m| m.len());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("the daemon log");
        let spawned = Instant::now();
        let child = Command::new(daemon_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--prometheus", &self.prometheus])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", daemon_bin().display()));
        self.child = Some(child);
        loop {
            if let Some(addr) = listening_addr(&log_path, offset) {
                self.url = format!("http://{addr}");
                if let Ok(r) = self.http.get(format!("{}/readyz", self.url)).send().await
                    && r.status().is_success()
                {
                    return spawned.elapsed();
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("canaryd exited with {status}:\n{}", self.log_tail());
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(60),
                "not ready in 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGKILL: no shutdown, no cleanup.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn mem(&self) -> Mem {
        mem(self.pid()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.http.get(format!("{}{path}", self.url))).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        answer(self.http.post(format!("{}{path}", self.url)).json(body)).await
    }

    async fn post_toml(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/toml")
            .body(body.to_string());
        answer(r).await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `addr=…` of the first `canaryd listening` line after byte `offset` of the log.
fn listening_addr(log: &Path, offset: u64) -> Option<String> {
    let mut f = std::fs::File::open(log).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut text = String::new();
    f.read_to_string(&mut text).ok()?;
    let line = text.lines().find(|l| l.contains("canaryd listening"))?;
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))?;
    Some(addr.to_string())
}

/// Samples `VmRSS` of the process `pid` names (it may change: a restart) every 100 ms.
struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(f64, u64)>>,
}

impl Sampler {
    fn start(pid: Arc<AtomicU32>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !halt.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Some(m) = mem(pid.load(Ordering::Relaxed)) {
                    out.push((now_s(), m.rss_kib));
                }
            }
            out
        });
        Sampler { stop, task }
    }

    /// `(unix seconds, RSS KiB)` of every sample.
    async fn stop(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the sampler task")
    }
}
