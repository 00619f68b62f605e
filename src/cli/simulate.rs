//! `canaryd simulate`: run a scenario ([`crate::sim`]) with a seed and write what a deploy
//! would have left behind — access logs, Prometheus scrapes, per-arm metric files for
//! `analyze`/`replay` — plus the ground truth (`label`).

mod files;

use std::path::{Path, PathBuf};

pub use self::files::TableFormat;
use self::files::{Cell, Clock, ColType, Table};
use super::{CliError, exit};
use crate::sim::generate::{HostScrape, RequestRecord, SimSink, simulate_with};
use crate::sim::scenario::{Scenario, ScenarioError};
use crate::sim::{BASELINE, CANARY, SimRun, SimStep};

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Simulate a canary deploy from a scenario file (datasets/scenarios/*.toml).

Writes into DIR: requests.csv (one row per request: timestamp, arm, host, latency_ms,
error), prometheus.csv (what scrapes return: timestamp, arm, host, metric, le, value, with
cumulative counters, counter resets and missing scrapes), baseline.csv and canary.csv (the
long format of `canaryd analyze`: per-request latency_ms rows and per-scrape requests and
errors increments per host), label (good or bad: the ground truth), scenario.toml and
run.toml (the seed). The same scenario and seed always give the same files.

With --aggregates SECONDS it also writes baseline-aggregates.csv and canary-aggregates.csv:
only what recording rules or CloudWatch keep — per interval, latency_p50_ms,
latency_p90_ms, latency_p99_ms, error_rate and the requests behind them — for
datasets/aggregates/canary.toml (the band judge); and baseline-host-aggregates.csv and
canary-host-aggregates.csv, the same per host (a `host` column), for
datasets/aggregates/canary-hosts.toml (the band judge with hosts as the unit)."
)]
pub struct SimulateArgs {
    /// Scenario file (TOML).
    #[arg(long, short = 's', value_name = "FILE")]
    pub scenario: PathBuf,
    /// Seed of the random generator.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the tables (requests, prometheus, baseline, canary).
    #[arg(long, short = 'f', value_enum, default_value = "csv")]
    pub format: TableFormat,
    /// Overwrite output files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Also write per-interval aggregates of this many seconds (baseline-aggregates and
    /// canary-aggregates: p50/p90/p99 latency, error rate, requests per interval; the
    /// same per host in baseline-host-aggregates and canary-host-aggregates).
    #[arg(long, value_name = "SECONDS")]
    pub aggregates: Option<f64>,
}

const ARMS: [&str; 2] = ["baseline", "canary"];

fn scenario_error(e: ScenarioError) -> CliError {
    if e.is_missing() {
        return CliError::new(exit::NO_INPUT, e.to_string());
    }
    match e.issues() {
        [] => CliError::new(exit::CONFIG, e.to_string()),
        [one] => CliError::new(exit::CONFIG, format!("invalid scenario: {one}")),
        many => {
            let mut s = format!("invalid scenario ({} problems):", many.len());
            for issue in many {
                s.push_str("\n  ");
                s.push_str(&issue.to_string());
            }
            CliError::new(exit::CONFIG, s)
        }
    }
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::new(
        exit::INTERNAL,
        format!("cannot write {}: {e}", path.display()),
    )
}

pub fn run(args: SimulateArgs) -> Result<u8, CliError> {
    let file = args.scenario.display().to_string();
    let text = std::fs::read_to_string(&args.scenario).map_err(|source| {
        scenario_error(ScenarioError::Read {
            file: file.clone(),
            source,
        })
    })?;
    let scenario = Scenario::parse(&text, &file).map_err(scenario_error)?;

    let ext = args.format.extension();
    let path = |name: &str| args.out.join(name);
    let tables = ["requests", "prometheus", ARMS[0], ARMS[1]].map(|n| path(&format!("{n}.{ext}")));
    let others = ["label", "scenario.toml", "run.toml"].map(path);
    if let Some(a) = args.aggregates
        && !(a.is_finite() && a > 0.0)
    {
        return Err(CliError::new(
            exit::USAGE,
            format!("--aggregates must be a positive number of seconds, got {a}"),
        ));
    }
    let aggregate_tables: Vec<PathBuf> = match args.aggregates {
        Some(_) => ["aggregates", "host-aggregates"]
            .iter()
            .flat_map(|kind| ARMS.iter().map(move |a| (a, kind)))
            .map(|(a, kind)| path(&format!("{a}-{kind}.{ext}")))
            .collect(),
        None => Vec::new(),
    };
    if !args.force {
        let existing: Vec<String> = tables
            .iter()
            .chain(&others)
            .chain(&aggregate_tables)
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(CliError::new(
                exit::USAGE,
                format!(
                    "output files exist: {}; use --force to overwrite them",
                    existing.join(", ")
                ),
            ));
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|e| write_error(&args.out, e))?;
    eprintln!(
        "canaryd: simulating `{}` with seed {} into {}",
        scenario.name,
        args.seed,
        args.out.display()
    );

    let mut writer = Writer::new(&scenario, &tables, args.format)?;
    let sim = simulate_with(&scenario, args.seed, true, &mut writer);
    if let Some((path, e)) = writer.error.take() {
        return Err(write_error(&path, e));
    }
    if let Some(every_s) = args.aggregates {
        write_aggregates(
            &sim,
            every_s,
            &aggregate_tables,
            args.format,
            &mut writer.clock,
        )?;
    }
    let stats = writer.stats;
    for t in writer.tables {
        t.finish()
            .map_err(|e| CliError::new(exit::INTERNAL, format!("cannot write {e}")))?;
    }
    let label = if sim.truth.regression { "bad" } else { "good" };
    let run_toml = format!(
        "# `canaryd simulate` run: the same scenario and seed give the same files.\nscenario = \"{}\"\nseed = {}\nformat = \"{ext}\"\ncanaryd = \"{}\"\n",
        scenario.name,
        args.seed,
        env!("CARGO_PKG_VERSION")
    );
    for (p, content) in others.iter().zip([format!("{label}\n"), text, run_toml]) {
        std::fs::write(p, content).map_err(|e| write_error(p, e))?;
    }
    print!("{}", summary(&scenario, args.seed, &sim, &stats));
    Ok(exit::PASS)
}

/// The per-interval aggregates of a run, one long-format table per arm (`timestamp`,
/// `metric`, `value`), then one per arm with a `host` column (`timestamp`, `host`,
/// `metric`, `value`): `paths` holds the four, in that order.
fn write_aggregates(
    sim: &SimRun,
    every_s: f64,
    paths: &[PathBuf],
    format: TableFormat,
    clock: &mut Clock,
) -> Result<(), CliError> {
    use crate::sim::aggregates::{Aggregator, HostAggregator, IntervalPoint};
    let pooled: &[(&'static str, ColType)] = &[
        ("timestamp", ColType::Str),
        ("metric", ColType::Str),
        ("value", ColType::F64),
    ];
    let per_host: &[(&'static str, ColType)] = &[
        ("timestamp", ColType::Str),
        ("host", ColType::Str),
        ("metric", ColType::Str),
        ("value", ColType::F64),
    ];
    let mut tables = Vec::with_capacity(4);
    for (i, p) in paths.iter().enumerate() {
        let cols = if i < 2 { pooled } else { per_host };
        tables.push(Table::create(p, format, cols).map_err(|e| write_error(p, e))?);
    }
    // One point's rows (with its host, for the host tables) into table `t`.
    let mut write = |t: usize, p: &IntervalPoint, host: Option<&str>, clock: &mut Clock| {
        let ts = clock.format(p.end_s).to_string();
        for (metric, v) in [
            ("latency_p50_ms", p.p50),
            ("latency_p90_ms", p.p90),
            ("latency_p99_ms", p.p99),
            ("error_rate", p.error_rate),
            ("requests", p.requests),
        ] {
            if !v.is_finite() {
                continue;
            }
            let r = match host {
                Some(h) => tables[t].row(&[
                    Cell::Str(&ts),
                    Cell::Str(h),
                    Cell::Str(metric),
                    Cell::F64(v),
                ]),
                None => tables[t].row(&[Cell::Str(&ts), Cell::Str(metric), Cell::F64(v)]),
            };
            r.map_err(|e| write_error(&paths[t], e))?;
        }
        Ok::<(), CliError>(())
    };
    let mut aggregator = Aggregator::new(every_s);
    let mut hosts = HostAggregator::new(every_s);
    for step in &sim.steps {
        if let Some(closed) = aggregator.observe(step, sim.step_s, &sim.buckets_ms) {
            for (arm, point) in closed.iter().enumerate() {
                if let Some(p) = point {
                    write(arm, p, None, clock)?;
                }
            }
        }
        if let Some(closed) = hosts.observe(step, sim.step_s, &sim.buckets_ms) {
            for (arm, points) in closed.iter().enumerate() {
                for (h, point) in points.iter().enumerate() {
                    if let Some(p) = point {
                        write(2 + arm, p, Some(&format!("h{h}")), clock)?;
                    }
                }
            }
        }
    }
    for t in tables {
        t.finish()
            .map_err(|e| CliError::new(exit::INTERNAL, format!("cannot write {e}")))?;
    }
    Ok(())
}

/// Counts of what really happened (the scrapes may have lost some).
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    requests: [u64; 2],
    errors: [u64; 2],
    resets: [u64; 2],
}

fn summary(scenario: &Scenario, seed: u64, sim: &SimRun, stats: &Stats) -> String {
    let missing = sim.steps.iter().filter(|s| !s.scraped).count();
    let scraped = |arm: usize, f: fn(&crate::sim::ArmStep) -> f64| -> f64 {
        sim.steps.iter().map(|s| f(&s.arms[arm])).sum()
    };
    let mut s = format!(
        "scenario `{}`, seed {seed}: {} steps of {} s, {missing} missing scrapes\n",
        scenario.name,
        sim.steps.len(),
        sim.step_s
    );
    s.push_str(&format!(
        "{:<9} {:>10} {:>8} {:>17} {:>15} {:>7}\n",
        "arm", "requests", "errors", "scraped requests", "scraped errors", "resets"
    ));
    for arm in [BASELINE, CANARY] {
        s.push_str(&format!(
            "{:<9} {:>10} {:>8} {:>17} {:>15} {:>7}\n",
            ARMS[arm],
            stats.requests[arm],
            stats.errors[arm],
            scraped(arm, |a| a.requests),
            scraped(arm, |a| a.errors),
            stats.resets[arm]
        ));
    }
    let t = &sim.truth;
    if t.regression {
        s.push_str(&format!("label: bad (regression from {} s)\n", t.onset_s));
    } else {
        s.push_str("label: good (no regression)\n");
    }
    s
}

/// Writes the tables as the simulation reports hosts, requests and steps.
struct Writer {
    /// requests, prometheus, baseline, canary.
    tables: Vec<Table>,
    clock: Clock,
    le: Vec<String>,
    hosts: [Vec<String>; 2],
    /// (arm, host, requests, errors) increments of the current step's scrapes, written
    /// after the step's requests so the arm files stay in time order.
    pending: Vec<(usize, usize, f64, f64)>,
    stats: Stats,
    error: Option<(PathBuf, std::io::Error)>,
}

const REQUESTS: usize = 0;
const PROMETHEUS: usize = 1;
const ARM_TABLE: [usize; 2] = [2, 3];

impl Writer {
    fn new(
        scenario: &Scenario,
        paths: &[PathBuf; 4],
        format: TableFormat,
    ) -> Result<Self, CliError> {
        use ColType::{F64, Int, Str};
        let columns: [&[(&'static str, ColType)]; 4] = [
            &[
                ("timestamp", Str),
                ("arm", Str),
                ("host", Str),
                ("latency_ms", F64),
                ("error", Int),
            ],
            &[
                ("timestamp", Str),
                ("arm", Str),
                ("host", Str),
                ("metric", Str),
                ("le", Str),
                ("value", F64),
            ],
            &[
                ("timestamp", Str),
                ("host", Str),
                ("metric", Str),
                ("value", F64),
            ],
            &[
                ("timestamp", Str),
                ("host", Str),
                ("metric", Str),
                ("value", F64),
            ],
        ];
        let mut tables = Vec::with_capacity(4);
        for (p, cols) in paths.iter().zip(columns) {
            tables.push(Table::create(p, format, cols).map_err(|e| write_error(p, e))?);
        }
        let le = crate::sim::generate::bucket_bounds_ms()
            .iter()
            .map(|b| {
                if b.is_finite() {
                    b.to_string()
                } else {
                    "+Inf".to_string()
                }
            })
            .collect();
        Ok(Writer {
            tables,
            clock: Clock::default(),
            le,
            hosts: [BASELINE, CANARY].map(|arm| {
                (0..scenario.traffic.hosts_of(arm))
                    .map(|h| format!("h{h}"))
                    .collect()
            }),
            pending: Vec::new(),
            stats: Stats::default(),
            error: None,
        })
    }

    fn check(&mut self, table: usize, r: std::io::Result<()>) {
        if let (Err(e), None) = (r, &self.error) {
            self.error = Some((self.tables[table].path.clone(), e));
        }
    }
}

impl SimSink for Writer {
    fn request(&mut self, r: &RequestRecord) {
        self.stats.requests[r.arm] += 1;
        self.stats.errors[r.arm] += u64::from(r.error);
        if self.error.is_some() {
            return;
        }
        let ts = self.clock.format(r.t_s);
        let host = self.hosts[r.arm][r.host].as_str();
        let res = self.tables[REQUESTS].row(&[
            Cell::Str(ts),
            Cell::Str(ARMS[r.arm]),
            Cell::Str(host),
            Cell::F64(r.latency_ms),
            Cell::Int(i64::from(r.error)),
        ]);
        let table = ARM_TABLE[r.arm];
        let res2 = self.tables[table].row(&[
            Cell::Str(ts),
            Cell::Str(host),
            Cell::Str("latency_ms"),
            Cell::F64(r.latency_ms),
        ]);
        self.check(REQUESTS, res);
        self.check(table, res2);
    }

    fn scrape(&mut self, s: &HostScrape<'_>) {
        self.pending
            .push((s.arm, s.host, s.requests_increase, s.errors_increase));
        if self.error.is_some() {
            return;
        }
        let ts = self.clock.format(s.t_s);
        let (arm, host) = (ARMS[s.arm], self.hosts[s.arm][s.host].as_str());
        let t = &mut self.tables[PROMETHEUS];
        let mut row = |metric: &str, le: &str, v: f64| {
            t.row(&[
                Cell::Str(ts),
                Cell::Str(arm),
                Cell::Str(host),
                Cell::Str(metric),
                Cell::Str(le),
                Cell::F64(v),
            ])
        };
        let mut res = row("http_requests_total", "", s.requests_total)
            .and_then(|_| row("http_errors_total", "", s.errors_total));
        for (le, v) in self.le.iter().zip(s.buckets_le) {
            res = res.and_then(|_| row("http_request_duration_ms_bucket", le, *v));
        }
        let count = s.buckets_le.last().copied().unwrap_or(0.0);
        let res = res
            .and_then(|_| row("http_request_duration_ms_sum", "", s.latency_sum_ms))
            .and_then(|_| row("http_request_duration_ms_count", "", count));
        self.check(PROMETHEUS, res);
    }

    fn reset(&mut self, arm: usize, _host: usize, _t_s: f64) {
        self.stats.resets[arm] += 1;
    }

    fn step(&mut self, step: &SimStep) {
        let pending = std::mem::take(&mut self.pending);
        for &(arm, host, requests, errors) in &pending {
            if self.error.is_some() {
                break;
            }
            let table = ARM_TABLE[arm];
            let ts = self.clock.format(step.t_s);
            let h = self.hosts[arm][host].as_str();
            let t = &mut self.tables[table];
            let res = t
                .row(&[
                    Cell::Str(ts),
                    Cell::Str(h),
                    Cell::Str("requests"),
                    Cell::F64(requests),
                ])
                .and_then(|_| {
                    t.row(&[
                        Cell::Str(ts),
                        Cell::Str(h),
                        Cell::Str("errors"),
                        Cell::F64(errors),
                    ])
                });
            self.check(table, res);
        }
        self.pending = pending;
        self.pending.clear();
    }
}
