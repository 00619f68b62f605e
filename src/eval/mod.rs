//! The evaluation harness: every judge, side by side, on thousands of simulated deploys,
//! deciding after every scrape (continuous monitoring) — measured honestly: false
//! rollbacks where nothing changed (with a Clopper–Pearson bound), time to detection and
//! the bad requests served before rollback where something did.
//!
//! Runs are independent and seeded from (base seed, scenario, run index), so the numbers
//! are the same for the same seed whatever the thread count; every judge sees the very
//! same simulated deploy.

pub mod incidents;
pub mod monitors;
pub mod oracle;
mod table;

use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF};

use self::monitors::{Decision, MonitorSettings};
use crate::sim::generate::simulate;
use crate::sim::scenario::Scenario;
use crate::sim::{BASELINE, CANARY, SimRun};

pub use table::markdown;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub runs: usize,
    pub seed: u64,
    /// Monitor names (see [`monitors::MONITORS`]).
    pub judges: Vec<String>,
    pub settings: MonitorSettings,
}

/// One run's outcome under one judge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOutcome {
    pub decision: Decision,
    /// The decision came before the regression's onset (a false alarm, not a detection).
    pub before_onset: bool,
    /// Seconds from the start to the decision (the horizon when undecided).
    pub decided_s: f64,
    /// Seconds from the start to the regression's onset (0 without one, or from the start).
    pub onset_s: f64,
    /// Where the judge estimated the change began, seconds from the start, when it says.
    pub estimated_onset_s: Option<f64>,
    /// Canary requests served from the regression's onset (or the start) to the decision.
    pub canary_requests: f64,
    /// Canary requests served from the start to the decision.
    pub canary_requests_total: f64,
    /// Baseline requests over the same span.
    pub baseline_requests: f64,
    /// Canary bad requests (errors, or slower than the baseline's p99) beyond what the
    /// baseline's rate would give, from onset to the decision.
    pub excess_bad: f64,
    /// A detection of a regression on some canary hosts only: whether the judge named
    /// hosts and only bad ones (`None` when it does not apply or the judge names none).
    pub named_right: Option<bool>,
    /// Where the scenario's true ratios are known: whether the judge "ruled out" a
    /// ratio the canary really has (some reported bound below the truth). `None` when the
    /// truth is not known or the judge reports no bounds.
    pub false_ruled_out: Option<bool>,
}

/// The true canary / baseline ratios of a scenario, per quantity the sequential judge
/// reports (`p50`, `p90`, `p99`, `error rate`), where the simulator makes them exact:
/// every change acts from the start on every host, with no host spread or AR(1) levels
/// (a latency multiplier commutes with the diurnal factor both arms share). Empty
/// otherwise.
pub fn true_ratios(scenario: &Scenario) -> Vec<(&'static str, f64)> {
    use crate::sim::scenario::ChangeKind;
    let clean = scenario.traffic.host_sigma == 0.0
        && scenario.latency.ar_phi == 0.0
        && scenario.latency.ar_sigma == 0.0
        && scenario
            .changes
            .iter()
            .all(|c| c.onset_s <= 0.0 && c.duration_s.is_none() && c.hosts_affected.is_none());
    if !clean {
        return Vec::new();
    }
    let mut latency = [("p50", 0.5, 1.0), ("p90", 0.9, 1.0), ("p99", 0.99, 1.0)];
    let mut errors = 1.0;
    for c in &scenario.changes {
        match c.kind {
            ChangeKind::LatencyShift => latency.iter_mut().for_each(|q| q.2 *= c.factor),
            ChangeKind::TailShift {
                quantile,
                ramp_from,
            } => {
                for q in &mut latency {
                    if q.1 >= quantile {
                        q.2 *= c.factor;
                    } else if q.1 > ramp_from {
                        return Vec::new(); // on the ramp: not exact
                    }
                }
            }
            ChangeKind::MedianShift { quantile } => {
                for q in &mut latency {
                    if q.1 <= 0.5 {
                        q.2 *= c.factor;
                    } else if q.1 < quantile {
                        return Vec::new();
                    }
                }
            }
            ChangeKind::ErrorRate => errors *= c.factor,
            ChangeKind::CrashLoop | ChangeKind::WarmupSpike => return Vec::new(),
        }
    }
    let mut out: Vec<(&'static str, f64)> = latency.iter().map(|q| (q.0, q.2)).collect();
    if scenario.errors.rate > 0.0 {
        out.push(("error rate", errors));
    }
    out
}

/// Whether any reported bound excludes the true ratio: "rules out > u" with truth > u,
/// or "< l" with truth < l.
fn falsely_ruled_out(reported: &[canary_judges::RuledOut], truth: &[(&str, f64)]) -> Option<bool> {
    let mut judged = false;
    let mut false_claim = false;
    for r in reported {
        let Some((_, t)) = truth.iter().find(|(q, _)| *q == r.quantity) else {
            continue;
        };
        judged = true;
        let tol = 1e-9 * t.abs().max(1.0);
        false_claim |= r.upper.is_some_and(|u| *t > u + tol);
        false_claim |= r.lower.is_some_and(|l| *t < l - tol);
    }
    judged.then_some(false_claim)
}

/// Summary of one scenario × judge.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub scenario: String,
    pub judge: String,
    pub runs: usize,
    /// Whether the scenario holds a real regression.
    pub regression: bool,
    pub fail_rate: f64,
    pub pass_rate: f64,
    pub inconclusive_rate: f64,
    /// No-change scenarios: the fail rate and its one-sided 95% Clopper–Pearson upper bound.
    pub false_rollback: Option<[f64; 2]>,
    /// Regression scenarios: runs that failed before the regression began (false alarms).
    pub fail_before_onset: Option<f64>,
    /// Regression scenarios: median and p90 canary requests from onset to rollback.
    pub detection_requests: Option<[f64; 2]>,
    /// Regression scenarios: median and p90 seconds from onset to rollback.
    pub detection_seconds: Option<[f64; 2]>,
    /// Regression scenarios: median of the onset the judge estimated (seconds from the
    /// start), over the rollbacks that estimated one.
    pub estimated_onset_s: Option<f64>,
    /// Median excess bad requests served before rollback (runs that rolled back).
    pub excess_bad_median: Option<f64>,
    /// Passed runs: median seconds to promotion.
    pub promotion_seconds: Option<f64>,
    /// Passed runs: median canary requests to promotion.
    pub promotion_requests: Option<f64>,
    /// Regressions on some canary hosts only, judges that name hosts: the share of
    /// detections that named the bad hosts and only them.
    pub host_named: Option<f64>,
    /// Regression scenarios: the share of all runs rolled back within 5 minutes of the
    /// onset (and not before it).
    pub within_5min: Option<f64>,
    /// Runs whose true ratios are known and whose judge reported bounds, and of them
    /// those where a bound excluded the truth (a false "rules out").
    pub ruled_out_checked: usize,
    pub false_ruled_out: usize,
    /// The fixed-sample oracle of the scenario (regressions with one change on every host;
    /// see [`oracle`]).
    pub oracle: Option<oracle::Oracle>,
    /// No-change scenarios: the most a level-α test of the error-rate pass band could
    /// promote ([`oracle::error_pass_ceiling`]).
    pub error_pass_ceiling: Option<f64>,
}

/// Results of one evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub seed: u64,
    pub runs: usize,
    pub alpha: f64,
    pub tolerance: f64,
    pub error_tolerance: f64,
    /// The sequential judge's pass bands.
    pub pass_bands: std::collections::BTreeMap<String, f64>,
    pub cells: Vec<Cell>,
}

/// A well-mixed 64-bit seed from parts (SplitMix64 finaliser).
pub fn mix_seed(parts: &[u64]) -> u64 {
    let mut z: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        z = z.wrapping_add(*p).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

fn name_hash(name: &str) -> u64 {
    // FNV-1a: stable across runs and platforms (std's hasher is randomised).
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Per successful scrape and arm: requests and "bad" requests (errors, or slower than the
/// baseline's nominal p99), computed once per run and shared by every judge.
pub struct RunTotals {
    steps: Vec<[[f64; 2]; 2]>,
    base_bad_rate: f64,
}

impl RunTotals {
    pub fn of(run: &SimRun) -> Self {
        let bad_from = run
            .buckets_ms
            .partition_point(|b| *b <= run.truth.bad_latency_ms);
        let steps: Vec<[[f64; 2]; 2]> = run
            .steps
            .iter()
            .map(|step| {
                [BASELINE, CANARY].map(|arm| {
                    let a = &step.arms[arm];
                    let slow: f64 = a
                        .latency_buckets
                        .get(bad_from..)
                        .map_or(0.0, |b| b.iter().sum());
                    [a.requests, a.errors + slow]
                })
            })
            .collect();
        let (req, bad) = steps.iter().fold((0.0, 0.0), |acc, s| {
            (acc.0 + s[BASELINE][0], acc.1 + s[BASELINE][1])
        });
        RunTotals {
            steps,
            base_bad_rate: if req > 0.0 { bad / req } else { 0.0 },
        }
    }
}

/// Watch one run with one monitor.
pub fn watch(
    run: &SimRun,
    totals: &RunTotals,
    monitor: &mut dyn monitors::Monitor,
    warmup_s: f64,
    truth: &[(&str, f64)],
) -> RunOutcome {
    let onset = if run.truth.regression {
        run.truth.onset_s
    } else {
        0.0
    };
    let mut decided: Option<(Decision, f64)> = None;
    let mut req = [0.0, 0.0];
    let mut bad = [0.0, 0.0];
    let mut canary_total = 0.0;
    for (step, t) in run.steps.iter().zip(&totals.steps) {
        if !step.scraped {
            continue;
        }
        canary_total += t[CANARY][0];
        if step.t_s > onset {
            for arm in [BASELINE, CANARY] {
                req[arm] += t[arm][0];
                bad[arm] += t[arm][1];
            }
        }
        if step.t_s <= warmup_s {
            continue;
        }
        if let Some(d) = monitor.observe(run, step) {
            decided = Some((d, step.t_s));
            break;
        }
    }
    let (decision, decided_s) = match decided {
        Some(d) => d,
        None => (monitor.finish(), run.steps.last().map_or(0.0, |s| s.t_s)),
    };
    RunOutcome {
        decision,
        before_onset: run.truth.regression && decided_s <= onset,
        decided_s,
        onset_s: onset,
        estimated_onset_s: (decision == Decision::Fail)
            .then(|| monitor.estimated_onset_s())
            .flatten(),
        canary_requests: req[CANARY],
        canary_requests_total: canary_total,
        baseline_requests: req[BASELINE],
        excess_bad: (bad[CANARY] - totals.base_bad_rate * req[CANARY]).max(0.0),
        named_right: match (run.truth.bad_hosts, monitor.named_hosts()) {
            (Some(bad), Some(named))
                if decision == Decision::Fail && !(run.truth.regression && decided_s <= onset) =>
            {
                Some(!named.is_empty() && named.iter().all(|&h| h < bad))
            }
            _ => None,
        },
        false_ruled_out: falsely_ruled_out(&monitor.ruled_out(), truth),
    }
}

/// Evaluate every judge on every scenario; `progress` is called after each run.
pub fn evaluate(
    scenarios: &[Scenario],
    options: &EvalOptions,
    progress: &(dyn Fn() + Sync),
) -> EvalReport {
    let jobs: Vec<(usize, usize)> = (0..scenarios.len())
        .flat_map(|s| (0..options.runs).map(move |r| (s, r)))
        .collect();
    let outcomes: Vec<Vec<RunOutcome>> = jobs
        .par_iter()
        .map(|&(s, r)| {
            let scenario = &scenarios[s];
            let seed = mix_seed(&[options.seed, name_hash(&scenario.name), r as u64]);
            let run = simulate(scenario, seed, false);
            let totals = RunTotals::of(&run);
            let settings = settings_for(scenario, &options.settings);
            let truth = true_ratios(scenario);
            let out = options
                .judges
                .iter()
                .map(|name| {
                    let mut m = monitors::build(name, &settings)
                        .expect("judge names are checked before evaluating");
                    watch(&run, &totals, m.as_mut(), settings.warmup_s, &truth)
                })
                .collect();
            progress();
            out
        })
        .collect();
    let mut cells = Vec::new();
    for (s, scenario) in scenarios.iter().enumerate() {
        let oracle = oracle::oracle(scenario, options.settings.alpha);
        let rate_band = settings_for(scenario, &options.settings)
            .pass_bands
            .get("rate")
            .copied()
            .unwrap_or(options.settings.error_tolerance);
        let ceiling = oracle::error_pass_ceiling(scenario, options.settings.alpha, 1.0 + rate_band);
        for (j, judge) in options.judges.iter().enumerate() {
            let runs: Vec<RunOutcome> = (0..options.runs)
                .map(|r| outcomes[s * options.runs + r][j])
                .collect();
            let regression = simulate_truth(scenario);
            let mut cell = summarise(&scenario.name, judge, regression, &runs);
            cell.oracle = oracle;
            cell.error_pass_ceiling = ceiling;
            cells.push(cell);
        }
    }
    EvalReport {
        seed: options.seed,
        runs: options.runs,
        alpha: options.settings.alpha,
        tolerance: options.settings.tolerance,
        error_tolerance: options.settings.error_tolerance,
        pass_bands: options.settings.pass_bands.clone(),
        cells,
    }
}

/// Per-scenario evaluation settings: the scenario's warm-up, when it sets one.
fn settings_for(scenario: &Scenario, base: &MonitorSettings) -> MonitorSettings {
    let e = &scenario.evaluation;
    MonitorSettings {
        warmup_s: scenario.warmup_s().unwrap_or(base.warmup_s),
        tolerance: e.latency_tolerance.unwrap_or(base.tolerance),
        error_tolerance: e.error_tolerance.unwrap_or(base.error_tolerance),
        aggregate_s: e.aggregate_s.unwrap_or(base.aggregate_s),
        buckets_ms: e.buckets_ms.clone().or_else(|| base.buckets_ms.clone()),
        pass_from: e.pass_from.unwrap_or(base.pass_from),
        horizon_batches: (scenario.duration_s / scenario.step_s).round().max(1.0) as usize,
        quantiles: e
            .quantiles
            .clone()
            .unwrap_or_else(|| base.quantiles.clone()),
        fixed_quantiles: e
            .fixed_quantiles
            .clone()
            .unwrap_or_else(|| base.fixed_quantiles.clone()),
        ..base.clone()
    }
}

fn simulate_truth(scenario: &Scenario) -> bool {
    scenario.is_regression()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    canary_judges::stats::percentile_sorted(sorted, q)
}

/// One-sided 95% Clopper–Pearson upper bound of a proportion x / n.
pub fn clopper_pearson_upper(x: usize, n: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if x >= n {
        return 1.0;
    }
    Beta::new((x + 1) as f64, (n - x) as f64)
        .map(|b| b.inverse_cdf(0.95))
        .unwrap_or(1.0)
}

fn summarise(scenario: &str, judge: &str, regression: bool, runs: &[RunOutcome]) -> Cell {
    let n = runs.len();
    let count = |d: Decision| runs.iter().filter(|r| r.decision == d).count();
    let (fails, passes, inconclusive) = (
        count(Decision::Fail),
        count(Decision::Pass),
        count(Decision::Inconclusive),
    );
    let rate = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    // A rollback before the regression began is a false alarm, not a detection.
    let failed: Vec<&RunOutcome> = runs
        .iter()
        .filter(|r| r.decision == Decision::Fail && !r.before_onset)
        .collect();
    let early = runs
        .iter()
        .filter(|r| r.decision == Decision::Fail && r.before_onset)
        .count();
    let sorted = |f: &dyn Fn(&RunOutcome) -> f64, set: &[&RunOutcome]| {
        let mut v: Vec<f64> = set.iter().map(|r| f(r)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let pair = |v: Vec<f64>| (!v.is_empty()).then(|| [quantile(&v, 0.5), quantile(&v, 0.9)]);
    let passed: Vec<&RunOutcome> = runs
        .iter()
        .filter(|r| r.decision == Decision::Pass)
        .collect();
    Cell {
        scenario: scenario.to_string(),
        judge: judge.to_string(),
        runs: n,
        regression,
        fail_rate: rate(fails),
        pass_rate: rate(passes),
        inconclusive_rate: rate(inconclusive),
        false_rollback: (!regression).then(|| [rate(fails), clopper_pearson_upper(fails, n)]),
        fail_before_onset: regression.then(|| rate(early)),
        detection_requests: if regression {
            pair(sorted(&|r| r.canary_requests, &failed))
        } else {
            None
        },
        detection_seconds: if regression {
            pair(sorted(&|r| r.decided_s - r.onset_s, &failed))
        } else {
            None
        },
        estimated_onset_s: {
            let estimated: Vec<&RunOutcome> = failed
                .iter()
                .copied()
                .filter(|r| r.estimated_onset_s.is_some())
                .collect();
            (regression && !estimated.is_empty()).then(|| {
                quantile(
                    &sorted(&|r| r.estimated_onset_s.unwrap_or(0.0), &estimated),
                    0.5,
                )
            })
        },
        excess_bad_median: (regression && !failed.is_empty())
            .then(|| quantile(&sorted(&|r| r.excess_bad, &failed), 0.5)),
        promotion_seconds: (!passed.is_empty())
            .then(|| quantile(&sorted(&|r| r.decided_s, &passed), 0.5)),
        // A pass is counted from the start (a regression's onset does not matter to it).
        promotion_requests: (!passed.is_empty())
            .then(|| quantile(&sorted(&|r| r.canary_requests_total, &passed), 0.5)),
        within_5min: regression.then(|| {
            rate(
                failed
                    .iter()
                    .filter(|r| r.decided_s - r.onset_s <= 300.0)
                    .count(),
            )
        }),
        ruled_out_checked: runs.iter().filter(|r| r.false_ruled_out.is_some()).count(),
        false_ruled_out: runs
            .iter()
            .filter(|r| r.false_ruled_out == Some(true))
            .count(),
        oracle: None,
        error_pass_ceiling: None,
        host_named: {
            let judged: Vec<bool> = failed.iter().filter_map(|r| r.named_right).collect();
            (!judged.is_empty())
                .then(|| judged.iter().filter(|&&b| b).count() as f64 / judged.len() as f64)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::ChangeKind;

    #[test]
    fn clopper_pearson_known_values() {
        // 0 of 2000: 1 − 0.05^(1/2000) ≈ 0.001497.
        assert!((clopper_pearson_upper(0, 2000) - 0.001_497).abs() < 2e-6);
        assert_eq!(clopper_pearson_upper(5, 5), 1.0);
        let ub = clopper_pearson_upper(20, 2000);
        assert!(ub > 0.01 && ub < 0.0145, "{ub}");
    }

    fn outcome(decision: Decision, decided_s: f64, onset_s: f64, requests: f64) -> RunOutcome {
        RunOutcome {
            decision,
            before_onset: decided_s <= onset_s && onset_s > 0.0,
            decided_s,
            onset_s,
            estimated_onset_s: None,
            canary_requests: requests,
            canary_requests_total: requests * 2.0,
            baseline_requests: requests,
            excess_bad: 0.0,
            named_right: None,
            false_ruled_out: None,
        }
    }

    /// The summary counts detections within 5 minutes of the onset over all runs (not
    /// before it), and promotions in requests from the start.
    #[test]
    fn a_cell_counts_quick_detections_and_promotion_requests() {
        let runs = [
            outcome(Decision::Fail, 700.0, 600.0, 10.0),
            outcome(Decision::Fail, 1000.0, 600.0, 10.0),
            outcome(Decision::Fail, 500.0, 600.0, 10.0),
            outcome(Decision::Inconclusive, 1800.0, 600.0, 10.0),
        ];
        let c = summarise("s", "j", true, &runs);
        assert_eq!(c.within_5min, Some(0.25));
        assert_eq!(c.fail_before_onset, Some(0.25));
        let calm = [
            outcome(Decision::Pass, 300.0, 0.0, 100.0),
            outcome(Decision::Pass, 500.0, 0.0, 300.0),
            outcome(Decision::Inconclusive, 1800.0, 0.0, 900.0),
        ];
        let c = summarise("s", "j", false, &calm);
        assert_eq!(c.promotion_requests, Some(400.0));
        assert_eq!(c.within_5min, None);
    }

    /// The report names every regression scenario a judge promoted, with the worst share
    /// and its upper bound, and says so when none was.
    #[test]
    fn promoted_regressions_are_named_under_the_table() {
        let promoted = [
            outcome(Decision::Pass, 1800.0, 600.0, 10.0),
            outcome(Decision::Fail, 700.0, 600.0, 10.0),
            outcome(Decision::Fail, 700.0, 600.0, 10.0),
            outcome(Decision::Fail, 700.0, 600.0, 10.0),
        ];
        let caught = [outcome(Decision::Fail, 700.0, 600.0, 10.0)];
        let calm = [outcome(Decision::Pass, 1800.0, 0.0, 10.0)];
        let report = EvalReport {
            seed: 1,
            runs: 4,
            alpha: 0.01,
            tolerance: 0.05,
            error_tolerance: 1.0,
            pass_bands: Default::default(),
            cells: vec![
                summarise("late-errors", "sequential", true, &promoted),
                summarise("crash", "sequential", true, &caught),
                summarise("calm", "sequential", false, &calm),
                summarise("crash", "threshold", true, &caught),
            ],
        };
        let md = markdown(&report);
        assert!(
            md.contains("Promoted regressions, sequential: 1 of 2 regression scenarios: late-errors 25.00% (largest share 25.00%"),
            "{md}"
        );
        assert!(
            md.contains(
                "Promoted regressions, threshold: 0 of 1 regression scenarios (largest share 0.00%"
            ),
            "{md}"
        );
        assert!(
            !md.contains("fixed-sample oracle"),
            "no oracle, no section: {md}"
        );
    }

    /// Cells with an oracle and detections get a row against it: the median canary
    /// requests to detection over the oracle's.
    #[test]
    fn detections_are_read_against_the_oracle() {
        let caught = [
            outcome(Decision::Fail, 700.0, 600.0, 100.0),
            outcome(Decision::Fail, 700.0, 600.0, 300.0),
            outcome(Decision::Fail, 700.0, 600.0, 500.0),
        ];
        let mut cell = summarise("crash", "sequential", true, &caught);
        cell.oracle = Some(oracle::Oracle {
            canary_requests: 150.0,
            test: "proportions",
        });
        let report = EvalReport {
            seed: 1,
            runs: 3,
            alpha: 0.01,
            tolerance: 0.05,
            error_tolerance: 0.5,
            pass_bands: Default::default(),
            cells: vec![cell],
        };
        let md = markdown(&report);
        assert!(
            md.contains("| crash | sequential | 150 (proportions) | 300 | 2× |"),
            "{md}"
        );
    }

    /// Truths are known only where the simulator makes them exact, and a bound below the
    /// truth is a false "rules out".
    #[test]
    fn true_ratios_and_false_claims() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/scenarios/");
        let load = |name: &str| {
            Scenario::load(std::path::Path::new(&format!("{dir}{name}.toml"))).expect("shipped")
        };
        assert_eq!(
            true_ratios(&load("latency-plus-10")),
            vec![
                ("p50", 1.1),
                ("p90", 1.1),
                ("p99", 1.1),
                ("error rate", 1.0)
            ]
        );
        assert_eq!(
            true_ratios(&load("errors-x2-at-0min")),
            vec![
                ("p50", 1.0),
                ("p90", 1.0),
                ("p99", 1.0),
                ("error rate", 2.0)
            ]
        );
        assert!(true_ratios(&load("errors-x2-at-10min")).is_empty(), "onset");
        assert!(
            true_ratios(&load("nochange-hosts")).is_empty(),
            "host spread"
        );
        let bound = |q: &str, upper: f64| canary_judges::RuledOut {
            quantity: q.into(),
            upper: Some(upper),
            lower: None,
            pass: 1.05,
            more: None,
            more_s: None,
        };
        let truth = [("p50", 1.1), ("error rate", 2.0)];
        assert_eq!(falsely_ruled_out(&[bound("p50", 1.05)], &truth), Some(true));
        assert_eq!(
            falsely_ruled_out(&[bound("p50", 1.2), bound("error rate", 2.5)], &truth),
            Some(false)
        );
        assert_eq!(falsely_ruled_out(&[bound("p99", 1.0)], &truth), None);
    }

    #[test]
    fn seeds_are_stable_and_distinct() {
        assert_eq!(mix_seed(&[1, 2, 3]), mix_seed(&[1, 2, 3]));
        assert_ne!(mix_seed(&[1, 2, 3]), mix_seed(&[1, 2, 4]));
        // FNV-1a of "a", as published.
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// A regression scenario whose error rate rises no further than the fail band is not a
    /// regression to the judge it is measured with: its fail rate would be a coin toss.
    #[test]
    fn every_shipped_error_regression_lies_beyond_the_error_band() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/scenarios");
        let default_band = MonitorSettings::default().error_tolerance;
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("datasets/scenarios exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let band = s.evaluation.error_tolerance.unwrap_or(default_band);
            for c in &s.changes {
                if c.kind == ChangeKind::ErrorRate && c.is_regression(s.errors.rate) {
                    assert!(
                        c.factor > 1.0 + band,
                        "{}: error rate ×{} is not beyond the +{}% band it is judged with",
                        s.name,
                        c.factor,
                        band * 100.0
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            checked >= 8,
            "only {checked} error-rate regressions checked"
        );
    }
}
