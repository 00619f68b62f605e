//! Benchmarks of the issue's performance targets.
//!
//! - `mann_whitney/{100,1000,10000,100000}`: `MannWhitney::new` + `test(0.98, R)` (sort,
//!   estimate, interval, p-value) on unsorted lognormal latency-like data per side, the
//!   canary shifted ×1.1. `scripts/bench-vs-r.sh` compares these with R's `wilcox.test`.
//! - `analyze/1000_pairs_x_1000_values`: `analyze_files` end to end (read both CSVs, group,
//!   judge, score) on 1,000 label sets × 1,000 values per file, the same shape of data as
//!   `scripts/gen_bench_data.py` writes for `scripts/bench-analyze.sh`.
//!
//! - `report/2000_pairs/{details,html}`: the HTML report of 2,000 metric pairs (1,000 APIs ×
//!   a Mann–Whitney and a sequential latency metric, 1,000 timestamped values per arm over
//!   30 minutes): `details` derives the chart data from the collected pairs (ECDFs, series,
//!   the sequential judges' confidence sequences), `html` renders the self-contained page
//!   with every chart inline. Their sum is what `canaryd analyze --report` adds to judging.
//!
//! Run: `cargo bench --bench judges` (or `-- mann_whitney`, `-- analyze`, `-- report`).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use canary_judges::mann_whitney::{EstimateMode, MannWhitney};
use canaryd::cli::analyze::{AnalyzeArgs, analyze_files};
use canaryd::report::OutputFormat;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};

/// A tiny deterministic generator: xorshift64* with Box–Muller normals.
struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        // Never zero: xorshift would stay at 0.
        Rng {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1): 53 random bits, never 0.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let t = std::f64::consts::TAU * self.uniform();
        self.spare = Some(r * t.sin());
        r * t.cos()
    }

    /// Latency-like: lognormal with median `median` ms and log-sd `sigma`.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
}

/// Median latency (ms) and log-sd of the generated data.
const MEDIAN: f64 = 100.0;
const SIGMA: f64 = 0.5;
/// The canary's slowdown.
const CANARY_FACTOR: f64 = 1.1;

fn arms(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let baseline = (0..n).map(|_| rng.lognormal(MEDIAN, SIGMA)).collect();
    let canary = (0..n)
        .map(|_| CANARY_FACTOR * rng.lognormal(MEDIAN, SIGMA))
        .collect();
    (canary, baseline)
}

fn mann_whitney(c: &mut Criterion) {
    let mut group = c.benchmark_group("mann_whitney");
    for &n in &[100usize, 1_000, 10_000, 100_000] {
        let (canary, baseline) = arms(n, 42 + n as u64);
        if n >= 100_000 {
            // ~50 ms an iteration: flat sampling, 20 samples of equal iteration counts.
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(20);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(6));
        } else if n >= 10_000 {
            group.sampling_mode(SamplingMode::Auto);
            group.sample_size(30);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(4));
        } else {
            group.sampling_mode(SamplingMode::Auto);
            group.sample_size(100);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(3));
        }
        group.bench_with_input(
            BenchmarkId::from_parameter(n),
            &(canary, baseline),
            |b, (canary, baseline)| {
                b.iter(|| {
                    let mw = MannWhitney::new(black_box(canary), black_box(baseline))
                        .expect("finite, non-empty arms");
                    black_box(mw.test(0.98, EstimateMode::R).expect("not all tied"))
                })
            },
        );
    }
    group.finish();
}

/// Label sets and values per label set and file of the `analyze` benchmark.
const PAIRS: usize = 1_000;
const VALUES: usize = 1_000;

/// One long-format CSV: `api,metric,value`, `PAIRS` APIs × `VALUES` latencies, rows
/// interleaved by API like a scrape of every API at each step.
fn write_csv(path: &Path, seed: u64, factor: f64) {
    let mut rng = Rng::new(seed);
    let mut s = String::with_capacity(PAIRS * VALUES * 28);
    s.push_str("api,metric,value\n");
    for _ in 0..VALUES {
        for api in 0..PAIRS {
            let v = factor * rng.lognormal(MEDIAN, SIGMA);
            writeln!(s, "/api/{api},latency_ms,{v:.3}").expect("writing to a String");
        }
    }
    std::fs::write(path, s).expect("write bench CSV");
}

const CONFIG: &str = r#"name = "bench"

[[metrics]]
name = "latency"
series = "latency_ms"
direction = "increase"
judge = { kind = "mann_whitney" }
"#;

/// The `analyze` inputs in a temporary directory (removed on drop), and the arguments
/// that read them.
fn analyze_setup() -> (tempfile::TempDir, AnalyzeArgs) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let config = dir.path().join("canary.toml");
    let baseline = dir.path().join("baseline.csv");
    let canary = dir.path().join("canary.csv");
    std::fs::write(&config, CONFIG).expect("write config");
    write_csv(&baseline, 1, 1.0);
    write_csv(&canary, 2, CANARY_FACTOR);
    let args = AnalyzeArgs {
        config,
        baseline: Some(baseline),
        canary: Some(canary),
        pairs: None,
        format: OutputFormat::Json,
        pass: None,
        marginal: None,
        scoring: None,
        report: None,
        charts: None,
    };
    // Check the setup once: every label set becomes a judged pair.
    let (report, _) = analyze_files(&args).expect("analyze the bench data");
    assert_eq!(report.metrics.len(), PAIRS);
    (dir, args)
}

fn analyze(c: &mut Criterion) {
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(10));
    // Set up lazily: criterion calls the closure only when the filter selects this
    // benchmark (and then more than once), so `-- mann_whitney` skips writing 55 MB.
    let mut setup = None;
    group.bench_function(format!("{PAIRS}_pairs_x_{VALUES}_values"), |b| {
        let (_, args) = setup.get_or_insert_with(analyze_setup);
        b.iter(|| black_box(analyze_files(black_box(&*args)).expect("analyze")))
    });
    group.finish();
}

/// Sequential distribution test fed one scrape at a time: histogram batches of 1,000
/// observations per arm over the simulator's buckets (native-histogram schema 7, 2,554
/// buckets), with the decision evaluated after every batch — the per-scrape cost of live
/// judging. Throughput is reported in observations (both arms) per second.
fn sequential(c: &mut Criterion) {
    use canary_judges::sequential::SequentialConfig;
    use canary_judges::{Direction, MetricOptions, MetricPair, Sample, SequentialJudge};
    let bounds = canaryd::sim::generate::bucket_bounds_ms();
    let per_batch = 1_000usize;
    let batches = 200usize;
    let mut rng = Rng::new(11);
    let make = |rng: &mut Rng, median: f64| {
        let mut counts = vec![0.0; bounds.len()];
        for _ in 0..per_batch {
            let v = median * (rng.normal()).exp();
            let j = bounds.partition_point(|b| *b < v).min(bounds.len() - 1);
            counts[j] += 1.0;
        }
        counts
    };
    let data: Vec<MetricPair> = (0..batches)
        .map(|_| MetricPair {
            baseline: Sample::Histogram {
                bounds: bounds.clone(),
                counts: make(&mut rng, 100.0),
            },
            canary: Sample::Histogram {
                bounds: bounds.clone(),
                counts: make(&mut rng, 100.0),
            },
        })
        .collect();
    // Tolerance 0 keeps an A/A test undecided, so every batch does the full work.
    let judge = SequentialJudge::new(SequentialConfig {
        alpha: 0.01,
        tolerance: 0.0,
        ..SequentialConfig::default()
    });
    let options = MetricOptions {
        direction: Direction::Increase,
        ..MetricOptions::default()
    };
    let mut check = judge.start(&options);
    for batch in &data {
        check.update(batch);
    }
    assert_eq!(
        check.outcome(),
        canary_judges::Outcome::Continue,
        "the benchmark must measure undecided updates"
    );
    let mut group = c.benchmark_group("sequential");
    group.throughput(criterion::Throughput::Elements(
        (2 * per_batch * batches) as u64,
    ));
    group.bench_function("histogram_batches", |b| {
        b.iter(|| {
            let mut state = judge.start(&options);
            for batch in &data {
                black_box(state.update(batch));
            }
            black_box(state.samples)
        })
    });
    group.finish();
}

const REPORT_CONFIG: &str = r#"name = "report-bench"

[[metrics]]
name = "latency"
direction = "increase"
judge = { kind = "mann_whitney" }

[[metrics]]
name = "latency_seq"
direction = "increase"
judge = { kind = "sequential", alpha = 0.01, tolerance = 0.05 }
"#;

/// 2,000 judged pairs with timestamps, their report and their chart data.
fn report_setup() -> (
    canaryd::config::CanaryConfig,
    Vec<canaryd::collectors::CollectedPair>,
    canaryd::analysis::AnalysisReport,
) {
    use canary_judges::{MetricPair, Sample};
    use canaryd::collectors::CollectedPair;
    let config = canaryd::config::CanaryConfig::parse(
        REPORT_CONFIG,
        canaryd::config::source::Format::Toml,
        "report-bench.toml",
    )
    .expect("the bench config");
    let mut rng = Rng::new(5);
    let t0 = 1.8e9;
    let mut pairs = Vec::with_capacity(2 * REPORT_APIS);
    for metric in 0..2 {
        for api in 0..REPORT_APIS {
            // Every 20th API is slower in the canary, so the report has failures to show.
            let factor = if api % 20 == 0 { 1.3 } else { 1.0 };
            let arm = |rng: &mut Rng, f: f64| -> (Vec<f64>, Vec<f64>) {
                (0..VALUES)
                    .map(|i| {
                        (
                            f * rng.lognormal(MEDIAN, SIGMA),
                            t0 + 1800.0 * i as f64 / VALUES as f64,
                        )
                    })
                    .unzip()
            };
            let (b, bt) = arm(&mut rng, 1.0);
            let (c, ct) = arm(&mut rng, factor);
            pairs.push(CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric,
                labels: [("api".to_string(), format!("/api/{api}"))].into(),
                pair: MetricPair {
                    baseline: Sample::Values(b),
                    canary: Sample::Values(c),
                },
                query: format!("latency_ms{{api=\"/api/{api}\"}}"),
                note: None,
                times: [bt, ct],
            });
        }
    }
    let report = canaryd::analysis::analyze(&config, &pairs, None);
    (config, pairs, report)
}

const REPORT_APIS: usize = 1_000;

fn report(c: &mut Criterion) {
    use canaryd::analysis::timeline::{analyze_from, details, infer_step, start_time};
    use canaryd::report::html::{ReportMeta, ReportView, report_page};
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(10));
    let mut setup = None;
    let mut get = || {
        setup
            .get_or_insert_with(|| {
                let (config, pairs, report) = report_setup();
                let t0 = start_time(&pairs).expect("timestamps");
                let step = infer_step(&pairs).expect("a step");
                let timed = analyze_from(&config, &pairs, None, t0, step, true);
                let d = details(&config, &pairs, &timed.traces);
                let view = ReportView::of(&report);
                let html = report_page(&view, &d, &ReportMeta::default());
                eprintln!(
                    "report bench: {} pairs, {} failing, page {:.1} MB, {} inline charts",
                    report.metrics.len(),
                    report
                        .metrics
                        .iter()
                        .filter(|m| m.classification.is_failure())
                        .count(),
                    html.len() as f64 / 1e6,
                    html.matches("<svg").count()
                );
                (config, pairs, t0, step, d, view)
            })
            .clone()
    };
    // Chart data comes from the judging itself (the traces a sequential replay records).
    group.bench_function(
        format!("{}_pairs/judged_with_details", 2 * REPORT_APIS),
        |b| {
            let (config, pairs, t0, step, ..) = get();
            b.iter(|| {
                let timed = analyze_from(&config, &pairs, None, t0, step, true);
                black_box(details(&config, &pairs, &timed.traces))
            })
        },
    );
    group.bench_function(format!("{}_pairs/html", 2 * REPORT_APIS), |b| {
        let (.., d, view) = get();
        b.iter(|| black_box(report_page(&view, &d, &ReportMeta::default())))
    });
    group.finish();
}

criterion_group!(benches, mann_whitney, analyze, sequential, report);
criterion_main!(benches);
