//! canaryd's sequential judge watching a deploy scrape by scrape.

use super::*;

/// canaryd's sequential judge on latency (histogram) and errors (counts).
pub struct SequentialMonitor {
    latency: SequentialState,
    errors: SequentialState,
    /// The start of every batch observed, seconds.
    batch_starts: Vec<f64>,
    /// Classic buckets to read latency in: their bounds (ms, +∞ last), and for each fine
    /// bucket of the simulator the coarse one holding it (built at the first scrape).
    coarse: Option<(Vec<f64>, Vec<usize>)>,
    coarse_bounds: Option<Vec<f64>>,
}

impl SequentialMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        let latency = SequentialConfig {
            alpha: s.alpha,
            tolerance: s.tolerance,
            quantiles: s.quantiles.clone(),
            fixed_quantiles: s.fixed_quantiles.clone(),
            pass_bands: s.pass_bands.clone(),
            pass_from: s.pass_from,
            ..SequentialConfig::default()
        };
        let errors = SequentialConfig {
            alpha: s.alpha,
            tolerance: s.error_tolerance,
            pass_bands: s.pass_bands.clone(),
            pass_from: s.pass_from,
            ..SequentialConfig::default()
        };
        // Two metric pairs share the analysis' α.
        SequentialMonitor {
            latency: SequentialJudge::new(latency)
                .with_pairs(2)
                .with_horizon(s.horizon_batches)
                .start(&increase()),
            errors: SequentialJudge::new(errors)
                .with_pairs(2)
                .with_horizon(s.horizon_batches)
                .start(&increase()),
            batch_starts: Vec::new(),
            coarse: None,
            coarse_bounds: s.buckets_ms.clone(),
        }
    }
}

/// Sum fine bucket counts into classic buckets `wanted` (finite bounds; +∞ is added):
/// their bounds and the arms' counts. `cache` keeps the bounds and, per fine bucket, the
/// coarse one holding it.
pub(super) fn rebucket<'a>(
    cache: &'a mut Option<(Vec<f64>, Vec<usize>)>,
    wanted: &[f64],
    fine_bounds: &[f64],
    fine: [&[f64]; 2],
) -> (&'a [f64], [Vec<f64>; 2]) {
    let (bounds, map) = cache.get_or_insert_with(|| {
        let mut bounds: Vec<f64> = wanted.iter().copied().filter(|b| b.is_finite()).collect();
        bounds.push(f64::INFINITY);
        // A fine bucket (upper bound u) lies in the first coarse bucket whose bound is ≥ u.
        let map = fine_bounds
            .iter()
            .map(|u| bounds.partition_point(|b| b < u).min(bounds.len() - 1))
            .collect();
        (bounds, map)
    });
    let counts = fine.map(|counts| {
        let mut out = vec![0.0; bounds.len()];
        for (c, &j) in counts.iter().zip(map.iter()) {
            out[j] += c;
        }
        out
    });
    (bounds, counts)
}

impl Monitor for SequentialMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        let [b, c] = &step.arms;
        self.batch_starts.push(step.t_s - run.step_s);
        let lat = match &self.coarse_bounds {
            Some(wanted) => {
                let (bounds, [bc, cc]) = rebucket(
                    &mut self.coarse,
                    wanted,
                    &run.buckets_ms,
                    [&b.latency_buckets, &c.latency_buckets],
                );
                self.latency.update_histograms(bounds, &bc, &cc)
            }
            None => self.latency.update_histograms(
                &run.buckets_ms,
                &b.latency_buckets,
                &c.latency_buckets,
            ),
        };
        let err = self
            .errors
            .update_counts([b.requests, c.requests], [b.errors, c.errors]);
        match (lat, err) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Some(Decision::Fail),
            (Outcome::Pass, Outcome::Pass) => Some(Decision::Pass),
            _ => None,
        }
    }

    /// The horizon: each pair closes (the count test's fixed-sample look, the
    /// equivalence tests of the pass bands); promoted only when both pairs pass.
    fn finish(&mut self) -> Decision {
        match (self.latency.finish(), self.errors.finish()) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Decision::Fail,
            (Outcome::Pass, Outcome::Pass) => Decision::Pass,
            _ => Decision::Inconclusive,
        }
    }

    fn ruled_out(&self) -> Vec<RuledOut> {
        [&self.latency, &self.errors]
            .iter()
            .filter_map(|s| s.judgement().judged)
            .flat_map(|j| j.ruled_out)
            .collect()
    }

    fn estimated_onset_s(&self) -> Option<f64> {
        // The onset of the pair that failed (errors first: they decide first when both do).
        let failed = |s: &SequentialState| s.outcome() == Outcome::Fail;
        let onset = if failed(&self.errors) {
            self.errors.onset
        } else if failed(&self.latency) {
            self.latency.onset
        } else {
            None
        };
        onset.and_then(|b| self.batch_starts.get(b).copied())
    }
}
