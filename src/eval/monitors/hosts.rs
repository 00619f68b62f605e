//! Hosts as the unit: the fleet test and the host rule on latency and errors.

use super::*;

/// Hosts as the unit: the fleet test and the host rule on latency and errors.
pub struct HostsMonitor {
    settings: MonitorSettings,
    /// Built at the first scrape, when the hosts are known.
    tests: Option<[HostTest; 2]>,
    named: Vec<usize>,
}

impl HostsMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        HostsMonitor {
            settings: s.clone(),
            tests: None,
            named: Vec::new(),
        }
    }

    fn build(&self, run: &SimRun, step: &SimStep) -> [HostTest; 2] {
        let s = &self.settings;
        let hosts = [BASELINE, CANARY].map(|arm| step.arms[arm].hosts.len());
        // Latency and errors share the analysis' α.
        // A look every minute of data.
        let every = (60.0 / run.step_s).ceil().max(1.0) as usize;
        // The sequential judge's settings (its pass bands per quantile, and `rate`), one
        // per test: errors have their own band.
        let seq = |tolerance: f64| SequentialConfig {
            alpha: s.alpha,
            tolerance,
            quantiles: s.quantiles.clone(),
            pass_bands: s.pass_bands.clone(),
            pass_from: s.pass_from,
            ..SequentialConfig::default()
        };
        let planned = s.horizon_batches;
        [
            HostTest::latency(
                HostsConfig::from_sequential(
                    &seq(s.tolerance),
                    s.alpha / 2.0,
                    false,
                    planned,
                    every,
                ),
                &run.buckets_ms,
                hosts,
            ),
            HostTest::counts(
                HostsConfig::from_sequential(
                    &seq(s.error_tolerance),
                    s.alpha / 2.0,
                    true,
                    planned,
                    every,
                ),
                hosts,
            ),
        ]
    }
}

impl HostsMonitor {
    /// Fail when either test fails (naming hosts), pass when both pass, inconclusive when
    /// both are decided otherwise.
    fn decide(&mut self, outcomes: &[HostOutcome; 2]) -> Option<Decision> {
        if let Some(hosts) = outcomes.iter().find_map(|o| match o {
            HostOutcome::Fail { hosts, .. } => Some(hosts),
            _ => None,
        }) {
            self.named = hosts.clone();
            return Some(Decision::Fail);
        }
        let all = |f: fn(&HostOutcome) -> bool| outcomes.iter().all(f);
        if all(|o| matches!(o, HostOutcome::Pass { .. })) {
            return Some(Decision::Pass);
        }
        if all(HostOutcome::is_decided) {
            return Some(Decision::Inconclusive);
        }
        None
    }
}

impl Monitor for HostsMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        if self.tests.is_none() {
            self.tests = Some(self.build(run, step));
        }
        let [latency, errors] = self.tests.as_mut()?;
        for arm in [BASELINE, CANARY] {
            for (h, host) in step.arms[arm].hosts.iter().enumerate() {
                latency.add_latency(arm, h, &host.buckets);
                errors.add_counts(arm, h, host.requests, host.errors);
            }
        }
        let outcomes = [latency.end_batch().clone(), errors.end_batch().clone()];
        self.decide(&outcomes)
    }

    fn finish(&mut self) -> Decision {
        // The horizon: passes that wait for it are decided here, once.
        let Some([latency, errors]) = self.tests.as_mut() else {
            return Decision::Inconclusive;
        };
        let outcomes = [latency.finish().clone(), errors.finish().clone()];
        self.decide(&outcomes).unwrap_or(Decision::Inconclusive)
    }

    fn named_hosts(&self) -> Option<Vec<usize>> {
        Some(self.named.clone())
    }

    /// The fleets' bounds at the last look: per quantile and for the error rate.
    fn ruled_out(&self) -> Vec<RuledOut> {
        self.tests
            .iter()
            .flatten()
            .flat_map(|t| t.bounds.iter())
            .map(|b| RuledOut {
                quantity: b.quantity.clone(),
                upper: Some(b.upper),
                lower: None,
                pass: b.pass,
                more: None,
                more_s: None,
            })
            .collect()
    }
}
