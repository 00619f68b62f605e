//! Judges of per-scrape aggregates: Kayenta's Mann–Whitney (per interval and once), the
//! sequential rank test under study, and Flagger-style thresholds.

use super::*;

#[derive(Default)]
pub(super) struct IntervalSeries {
    latency: [Vec<f64>; 2],
    error_rate: [Vec<f64>; 2],
}

impl IntervalSeries {
    fn push(&mut self, step: &SimStep) {
        for arm in [BASELINE, CANARY] {
            let a = &step.arms[arm];
            if a.requests > 0.0 {
                self.latency[arm].push(a.latency_sum_ms / a.requests);
                self.error_rate[arm].push(a.errors / a.requests);
            }
        }
    }

    /// Kayenta's score for the data so far: two metrics in two equally weighted groups.
    fn score(&self, judge: &MannWhitneyJudge) -> f64 {
        let lat = judge.judge_values(&increase(), &self.latency[BASELINE], &self.latency[CANARY]);
        let err = judge.judge_values(
            &increase(),
            &self.error_rate[BASELINE],
            &self.error_rate[CANARY],
        );
        let (g1, g2) = (vec!["latency".to_string()], vec!["errors".to_string()]);
        let inputs = [
            ScoreInput {
                name: "latency",
                metric: "latency",
                groups: &g1,
                muted: false,
                critical: false,
                judgement: &lat,
            },
            ScoreInput {
                name: "errors",
                metric: "errors",
                groups: &g2,
                muted: false,
                critical: false,
                judgement: &err,
            },
        ];
        score(
            &inputs,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta,
        )
        .score
    }
}

/// Kayenta's NetflixACAJudge, at every interval or once at the horizon.
pub struct KayentaMonitor {
    judge: MannWhitneyJudge,
    series: IntervalSeries,
    every_interval: bool,
    interval_s: f64,
    next_check_s: f64,
    started_s: Option<f64>,
}

impl KayentaMonitor {
    pub fn new(s: &MonitorSettings, every_interval: bool) -> Self {
        KayentaMonitor {
            judge: MannWhitneyJudge::new(MannWhitneyConfig::default()),
            series: IntervalSeries::default(),
            every_interval,
            interval_s: s.mw_interval_s,
            next_check_s: f64::INFINITY,
            started_s: None,
        }
    }
}

impl Monitor for KayentaMonitor {
    fn observe(&mut self, _run: &SimRun, step: &SimStep) -> Option<Decision> {
        let start = *self.started_s.get_or_insert(step.t_s);
        if self.next_check_s.is_infinite() {
            self.next_check_s = start + self.interval_s;
        }
        self.series.push(step);
        if self.every_interval && step.t_s >= self.next_check_s - 1e-9 {
            self.next_check_s += self.interval_s;
            if self.series.score(&self.judge) <= Thresholds::default().marginal {
                return Some(Decision::Fail);
            }
        }
        None
    }

    fn finish(&mut self) -> Decision {
        match Verdict::of(self.series.score(&self.judge), Thresholds::default()) {
            Verdict::Pass => Decision::Pass,
            Verdict::Marginal | Verdict::Inconclusive => Decision::Inconclusive,
            Verdict::Fail => Decision::Fail,
        }
    }
}

/// The sequential rank test for shifts on latency alone (`sequential::rank`; issue 31's
/// first step): every scrape's canary and baseline histograms; it fails when the e-value
/// has reached 1/α (the whole analysis' α: it is the only test) **and**, as the
/// sequential judge asks of its own tests, some compared quantile of everything seen so
/// far is beyond the latency band. It never passes.
pub struct RankMonitor {
    test: RankShift,
    quantiles: Vec<f64>,
    tolerance: f64,
    /// Cumulative histograms, baseline and canary.
    seen: [Vec<f64>; 2],
}

impl RankMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        RankMonitor {
            test: RankShift::new(s.alpha),
            quantiles: s.quantiles.clone(),
            tolerance: s.tolerance,
            seen: [Vec::new(), Vec::new()],
        }
    }
}

impl Monitor for RankMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        let [b, c] = &step.arms;
        self.test
            .add_histograms(&c.latency_buckets, &b.latency_buckets);
        for (seen, arm) in self.seen.iter_mut().zip([b, c]) {
            seen.resize(arm.latency_buckets.len(), 0.0);
            seen.iter_mut()
                .zip(&arm.latency_buckets)
                .for_each(|(s, x)| *s += x);
        }
        if !self.test.rejects() {
            return None;
        }
        let beyond = self.quantiles.iter().any(|&q| {
            let qb = histogram_quantile(&run.buckets_ms, &self.seen[BASELINE], q);
            let qc = histogram_quantile(&run.buckets_ms, &self.seen[CANARY], q);
            qb > 0.0 && qc > (1.0 + self.tolerance) * qb
        });
        beyond.then_some(Decision::Fail)
    }

    fn finish(&mut self) -> Decision {
        Decision::Inconclusive
    }
}

/// Flagger-style checks on the last 60 s.
#[derive(Default)]
pub struct ThresholdMonitor {
    window: Vec<[ArmStep; 2]>,
    window_start_s: Option<f64>,
    failed_checks: u32,
}

/// Flagger's defaults: one failed check is allowed, the second rolls back.
pub(super) const THRESHOLD_CHECK_S: f64 = 60.0;
pub(super) const THRESHOLD_FAILED_CHECKS: u32 = 2;
pub(super) const THRESHOLD_MAX_ERROR_RATE: f64 = 0.01;
pub(super) const THRESHOLD_MAX_P99_RATIO: f64 = 1.2;

impl Monitor for ThresholdMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        let start = *self.window_start_s.get_or_insert(step.t_s - run.step_s);
        self.window.push(step.arms.clone());
        if step.t_s - start < THRESHOLD_CHECK_S - 1e-9 {
            return None;
        }
        let n = run.buckets_ms.len();
        let mut sums = [(0.0, 0.0, vec![0.0; n]), (0.0, 0.0, vec![0.0; n])];
        for arms in &self.window {
            for arm in [BASELINE, CANARY] {
                let a = &arms[arm];
                sums[arm].0 += a.requests;
                sums[arm].1 += a.errors;
                for (s, c) in sums[arm].2.iter_mut().zip(&a.latency_buckets) {
                    *s += c;
                }
            }
        }
        self.window.clear();
        self.window_start_s = Some(step.t_s);
        let (c_req, c_err, c_hist) = &sums[CANARY];
        let error_rate = if *c_req > 0.0 { c_err / c_req } else { 0.0 };
        let p99_c = histogram_quantile(&run.buckets_ms, c_hist, 0.99);
        let p99_b = histogram_quantile(&run.buckets_ms, &sums[BASELINE].2, 0.99);
        let latency_bad =
            p99_c.is_finite() && p99_b.is_finite() && p99_c > THRESHOLD_MAX_P99_RATIO * p99_b;
        if error_rate > THRESHOLD_MAX_ERROR_RATE || latency_bad {
            self.failed_checks += 1;
            if self.failed_checks >= THRESHOLD_FAILED_CHECKS {
                return Some(Decision::Fail);
            }
        }
        None
    }

    fn finish(&mut self) -> Decision {
        Decision::Pass
    }
}
