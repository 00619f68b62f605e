//! Pure statistics for canaryd.
//!
//! This crate decides whether a canary is worse than its baseline. It holds the judges
//! (Kayenta-parity Mann–Whitney, thresholds), the preprocessing they share (NaN strategy,
//! IQR outlier removal), the effect sizes, and the scoring that turns per-metric
//! classifications into weighted group scores and a verdict.
//!
//! It is pure on purpose: no I/O, no clock, no async runtime and no unseeded randomness.
//! Every function is deterministic for its input, so the daemon, the CLI, replays and the
//! evaluation harness all get the same answer for the same data. Collectors (files,
//! Prometheus) live in the `canaryd` crate and hand data to this crate as [`MetricPair`]s.
//!
//! Map of the crate:
//! - [`sample`]: the data a judge sees ([`Sample`], [`MetricPair`]) and descriptive [`Summary`] stats.
//! - [`options`]: per-metric options shared by every judge (direction, NaN strategy, outliers,
//!   effect-size gates, critical, must-have-data).
//! - [`preprocess`]: NaN handling and outlier removal; [`stats`]: percentiles and moments.
//! - [`mann_whitney`]: the rank-sum test, Hodges–Lehmann shift and its confidence interval,
//!   reproducing R's `wilcox.test(conf.int = TRUE, exact = FALSE, correct = TRUE)`;
//!   [`zeroin`]: R's Brent–Dekker root finder, which that reproduction depends on.
//! - [`effect`]: mean ratio and CLES.
//! - [`judge`]: the [`Judge`] trait, the closed [`JudgeConfig`] enum of kinds and [`kinds`].
//! - [`sequential`]: anytime-valid tests that may decide after every scrape.
//! - [`scoring`]: group scores, the total score and the [`Verdict`].
//! - [`mod@format`]: the one number format every output prints judged numbers with.

pub mod config;
pub mod effect;
pub mod format;
pub mod hosts;
pub mod judge;
pub mod judgement;
pub mod kinds;
pub mod mann_whitney;
pub mod options;
pub mod preprocess;
pub mod rounding;
pub mod sample;
pub mod scoring;
pub mod sequential;
pub mod stats;
pub mod zeroin;

pub use config::JudgeConfig;
pub use format::num as format_number;
pub use format::{p_value as format_p_value, percent as format_percent};
pub use judge::{JUDGE_KINDS, Judge, JudgeKind, JudgeKindInfo};
pub use judgement::{
    AggregateDetail, Check, Classification, Compare, EffectSize, Judged, Judgement, RuledOut,
};
pub use kinds::band::{BandConfig, BandHostRow, BandHosts, BandJudge};
pub use kinds::mann_whitney::{MannWhitneyConfig, MannWhitneyJudge};
pub use kinds::threshold::{Aggregate, ThresholdConfig, ThresholdJudge};
pub use options::{
    Direction, EffectSizeConfig, EffectSizeMeasure, MetricOptions, NanStrategy, Outliers,
};
pub use sample::{MetricPair, Sample, Summary};
pub use scoring::{
    Combine, GroupScore, Hold, HoldKind, ScoreInput, Scorecard, ScoringRules, Thresholds, Verdict,
    score, score_with,
};
pub use sequential::{Outcome, SequentialConfig, SequentialJudge, SequentialState};
