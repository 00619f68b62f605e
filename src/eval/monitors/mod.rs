//! The judges the evaluation harness compares, each watching a simulated deploy scrape by
//! scrape the way it is used in production:
//!
//! - `sequential`: canaryd's anytime-valid judge on the latency histogram and the error
//!   counts, deciding after every scrape (α split over the two metrics).
//! - `mann_whitney_intervals`: Kayenta's judge run at the end of every analysis interval
//!   (5 minutes by default) on all per-scrape data so far; the canary fails as soon as an
//!   interval scores at or below the marginal threshold (Kayenta's multi-interval mode).
//! - `mann_whitney_once`: the same judge once, at the horizon.
//! - `threshold`: Flagger-style checks every 60 s on the last interval: canary error rate
//!   at most 1% and canary p99 at most 1.2× the baseline's; two failed checks roll back.
//! - `band`: what a team with recording rules has — per-interval p50, p90, p99 (from the
//!   histogram) and error rate, one point per `aggregate_s` (5 minutes) and arm — judged
//!   once at the horizon by canaryd's `band` judge (α split over the four series, `combine
//!   = auto`: any series judged worse fails).
//! - `hosts`: hosts as the unit ([`canary_judges::hosts`]): each host's latency quantiles and
//!   error counts, the canary hosts against the baseline hosts' own spread (a fleet test)
//!   and each canary host against the rest (a host rule that names the host), at the looks
//!   of its schedule (α split over latency and errors).

use std::collections::BTreeMap;

use canary_judges::hosts::{HostOutcome, HostTest, HostsConfig};
use canary_judges::sequential::Outcome;
use canary_judges::sequential::rank::RankShift;
use canary_judges::{
    BandConfig, BandJudge, Combine, Direction, Judge, MannWhitneyConfig, MannWhitneyJudge,
    MetricOptions, MetricPair, RuledOut, Sample, ScoreInput, ScoringRules, SequentialConfig,
    SequentialJudge, SequentialState, Thresholds, Verdict, score, score_with,
};

use crate::sim::aggregates::{Aggregator, HostAggregator};
use crate::sim::{ArmStep, BASELINE, CANARY, SimRun, SimStep};

mod band;
mod hosts;
mod intervals;
mod sequential;

pub use band::{BandHostsMonitor, BandMonitor};
pub use hosts::HostsMonitor;
pub use intervals::{KayentaMonitor, RankMonitor, ThresholdMonitor};
pub use sequential::SequentialMonitor;

pub use crate::sim::aggregates::histogram_quantile;

/// A monitor's decision about a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Roll back.
    Fail,
    /// Promote.
    Pass,
    /// No decision by the horizon.
    Inconclusive,
}

/// Settings shared by the monitors of one scenario.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    /// Seconds of data ignored after the start (the analysis' warm-up).
    pub warmup_s: f64,
    /// Sequential judge: deviation band for latency quantiles.
    pub tolerance: f64,
    /// Sequential judge: deviation band for the error-rate ratio.
    pub error_tolerance: f64,
    /// Sequential judge: quantiles compared, and those with fixed-quantile sequences.
    pub quantiles: Vec<f64>,
    pub fixed_quantiles: Vec<f64>,
    /// False-alarm budget of the sequential judge (whole analysis).
    pub alpha: f64,
    /// Kayenta analysis interval, seconds.
    pub mw_interval_s: f64,
    /// `band`: seconds per aggregate point.
    pub aggregate_s: f64,
    /// Scrapes the deploy lasts (the sequential judge's restarts span them).
    pub horizon_batches: usize,
    /// Sequential judge: pass bands (`p50`, `p99`, `rate`, …; see
    /// [`SequentialConfig::pass_bands`]).
    pub pass_bands: std::collections::BTreeMap<String, f64>,
    /// Sequential judge: read latency as a classic histogram with these finite bounds
    /// (ms; +∞ added) instead of the simulator's fine buckets.
    pub buckets_ms: Option<Vec<f64>>,
    /// Sequential judge: [`SequentialConfig::pass_from`].
    pub pass_from: f64,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        let seq = SequentialConfig::default();
        MonitorSettings {
            warmup_s: 0.0,
            tolerance: 0.05,
            error_tolerance: 0.5,
            quantiles: seq.quantiles,
            fixed_quantiles: seq.fixed_quantiles,
            alpha: 0.01,
            mw_interval_s: 300.0,
            aggregate_s: 300.0,
            horizon_batches: canary_judges::sequential::restart::DEFAULT_HORIZON_BATCHES,
            pass_bands: seq.pass_bands,
            buckets_ms: None,
            pass_from: seq.pass_from,
        }
    }
}

/// Something that watches a deploy scrape by scrape.
pub trait Monitor {
    /// Observe one successful scrape (after warm-up); `Some` once decided.
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision>;
    /// The decision at the horizon, if none came earlier.
    fn finish(&mut self) -> Decision;
    /// Seconds from the start at which the monitor estimates a change it failed on began
    /// (only judges that estimate one).
    fn estimated_onset_s(&self) -> Option<f64> {
        None
    }
    /// The canary hosts (0-based) a failure named, for judges that name hosts.
    fn named_hosts(&self) -> Option<Vec<usize>> {
        None
    }
    /// What the judge says it ruled out when it stopped (sequential judges).
    fn ruled_out(&self) -> Vec<RuledOut> {
        Vec::new()
    }
}

/// The monitor kinds, by name (the `--judges` list).
pub const MONITORS: &[&str] = &[
    "sequential",
    "mann_whitney_intervals",
    "mann_whitney_once",
    "threshold",
    "band",
    "band_hosts",
    "hosts",
];

/// Judges under study, selected by name only (not in the default `--judges` list, so
/// the full table keeps its judges and its time).
pub const STUDY_MONITORS: &[&str] = &["rank"];

/// Build a monitor by name.
pub fn build(name: &str, settings: &MonitorSettings) -> Option<Box<dyn Monitor>> {
    Some(match name {
        "rank" => Box::new(RankMonitor::new(settings)),
        "sequential" => Box::new(SequentialMonitor::new(settings)),
        "mann_whitney_intervals" => Box::new(KayentaMonitor::new(settings, true)),
        "mann_whitney_once" => Box::new(KayentaMonitor::new(settings, false)),
        "threshold" => Box::new(ThresholdMonitor::default()),
        "band" => Box::new(BandMonitor::new(settings)),
        "band_hosts" => Box::new(BandHostsMonitor::new(settings)),
        "hosts" => Box::new(HostsMonitor::new(settings)),
        _ => return None,
    })
}

fn increase() -> MetricOptions {
    MetricOptions {
        direction: Direction::Increase,
        ..MetricOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let bounds = [1.0, 2.0, 4.0, f64::INFINITY];
        let counts = [10.0, 10.0, 0.0, 0.0];
        assert_eq!(histogram_quantile(&bounds, &counts, 0.5), 1.0);
        assert_eq!(histogram_quantile(&bounds, &counts, 0.75), 1.5);
        assert!(histogram_quantile(&bounds, &[0.0; 4], 0.5).is_nan());
        assert_eq!(
            histogram_quantile(&bounds, &[0.0, 0.0, 0.0, 5.0], 0.99),
            4.0
        );
    }

    /// The hosts monitor on simulated deploys: one crash-looping canary host among three
    /// is failed and named; the same fleet without the change is not failed.
    #[test]
    fn the_hosts_monitor_names_a_broken_host() {
        use crate::eval::{RunTotals, watch};
        use crate::sim::generate::simulate;
        use crate::sim::scenario::Scenario;
        let text = |change: &str| {
            format!(
                "name = \"t\"\nduration_s = 600\n[traffic]\nhosts = 3\nhost_sigma = 0.1\n{change}"
            )
        };
        let settings = MonitorSettings {
            horizon_batches: 60,
            ..MonitorSettings::default()
        };
        let bad = Scenario::parse(
            &text("[[changes]]\nkind = \"crash_loop\"\nhosts_affected = 1\n"),
            "t.toml",
        )
        .expect("valid");
        let good = Scenario::parse(&text(""), "t.toml").expect("valid");
        for seed in 0..5 {
            let run = simulate(&bad, seed, false);
            let mut m = HostsMonitor::new(&settings);
            let out = watch(&run, &RunTotals::of(&run), &mut m, 0.0, &[]);
            assert_eq!(out.decision, Decision::Fail);
            assert_eq!(m.named_hosts(), Some(vec![0]));
            assert_eq!(out.named_right, Some(true));
            let run = simulate(&good, seed, false);
            let mut m = HostsMonitor::new(&settings);
            let out = watch(&run, &RunTotals::of(&run), &mut m, 0.0, &[]);
            assert_ne!(out.decision, Decision::Fail, "seed {seed}");
        }
    }

    /// The rank judge under study fails a +20% latency shift, and not the same deploy
    /// without it; it is selectable by name but not in the default list.
    #[test]
    fn the_rank_monitor_fails_a_shift_only() {
        use crate::eval::{RunTotals, watch};
        use crate::sim::generate::simulate;
        use crate::sim::scenario::Scenario;
        let text = |change: &str| format!("name = \"t\"\nduration_s = 600\n{change}");
        let settings = MonitorSettings {
            horizon_batches: 60,
            ..MonitorSettings::default()
        };
        let bad = Scenario::parse(
            &text("[[changes]]\nkind = \"latency_shift\"\nfactor = 1.2\n"),
            "t.toml",
        )
        .expect("valid");
        let good = Scenario::parse(&text(""), "t.toml").expect("valid");
        for seed in 0..5 {
            let run = simulate(&bad, seed, false);
            let mut m = build("rank", &settings).expect("a study judge");
            let out = watch(&run, &RunTotals::of(&run), m.as_mut(), 0.0, &[]);
            assert_eq!(out.decision, Decision::Fail, "seed {seed}");
            let run = simulate(&good, seed, false);
            let mut m = build("rank", &settings).expect("a study judge");
            let out = watch(&run, &RunTotals::of(&run), m.as_mut(), 0.0, &[]);
            assert_eq!(out.decision, Decision::Inconclusive, "seed {seed}");
        }
        assert!(!MONITORS.contains(&"rank") && STUDY_MONITORS.contains(&"rank"));
    }
}
