//! The [`Judge`] trait, the judge kinds' names, and the preprocessing and no-data rules
//! every kind shares. The closed enum of kinds, [`crate::config::JudgeConfig`], sits
//! above the kinds; this module sits below them.
//!
//! Adding a kind means: a config struct and a judge in [`crate::kinds`], a variant of
//! `JudgeConfig`, an entry in [`JUDGE_KINDS`], and a run of the conformance harness
//! (`judges/tests/judges/conformance.rs`) over it.

use serde::{Deserialize, Serialize};

use crate::judgement::{Classification, Judgement};
use crate::options::{MetricOptions, NanStrategy};
use crate::preprocess::preprocess;
use crate::sample::{MetricPair, Summary};

/// A statistical judge: classifies one metric pair. Implementations are deterministic
/// and never panic on any input (empty, NaN, constant, single values).
pub trait Judge: Send + Sync + std::fmt::Debug {
    /// Which kind this is.
    fn kind(&self) -> JudgeKind;

    /// Classify `pair` under the metric's `options`.
    fn judge(&self, options: &MetricOptions, pair: &MetricPair) -> Judgement;

    /// Convenience: judge two plain value samples.
    fn judge_values(&self, options: &MetricOptions, baseline: &[f64], canary: &[f64]) -> Judgement {
        self.judge(
            options,
            &MetricPair::from_values(baseline.to_vec(), canary.to_vec()),
        )
    }
}

/// The kinds of judge, as named in configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeKind {
    MannWhitney,
    Threshold,
    Sequential,
    Band,
}

impl JudgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JudgeKind::MannWhitney => "mann_whitney",
            JudgeKind::Threshold => "threshold",
            JudgeKind::Sequential => "sequential",
            JudgeKind::Band => "band",
        }
    }
}

/// A line of documentation per judge kind (shown by `--help` and the API).
#[derive(Debug, Clone, Copy)]
pub struct JudgeKindInfo {
    pub kind: JudgeKind,
    pub name: &'static str,
    pub summary: &'static str,
}

/// Every judge kind canaryd knows.
pub const JUDGE_KINDS: &[JudgeKindInfo] = &[
    JudgeKindInfo {
        kind: JudgeKind::MannWhitney,
        name: "mann_whitney",
        summary: "Kayenta's NetflixACAJudge: Mann-Whitney shift with a 98% interval and a 25% tolerance band",
    },
    JudgeKindInfo {
        kind: JudgeKind::Threshold,
        name: "threshold",
        summary: "bounds on the canary's aggregate (mean, median, pNN, max, min, sum, rate), absolute or relative to the baseline",
    },
    JudgeKindInfo {
        kind: JudgeKind::Sequential,
        name: "sequential",
        summary: "anytime-valid tests (error-rate e-process, CDF bands, quantile and mean sequences) that may decide after every scrape",
    },
    JudgeKindInfo {
        kind: JudgeKind::Band,
        name: "band",
        summary: "short per-interval series (p99 per 5 minutes, availability): k of n canary intervals beyond the baseline's robust band, calibrated for the number of series",
    },
];

/// A configuration problem, naming the field relative to the judge's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Both arms after the NaN strategy and outlier removal, sorted, with their summaries.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub baseline: Vec<f64>,
    pub canary: Vec<f64>,
    pub baseline_summary: Summary,
    pub canary_summary: Summary,
}

impl Prepared {
    /// Preprocess both arms of `pair` under `options`.
    pub fn new(options: &MetricOptions, pair: &MetricPair) -> Self {
        let baseline = preprocess(
            &pair.baseline.values(),
            options.nan_strategy,
            options.outliers,
        );
        let canary = preprocess(
            &pair.canary.values(),
            options.nan_strategy,
            options.outliers,
        );
        Prepared {
            baseline_summary: Summary::of_sorted(&baseline),
            canary_summary: Summary::of_sorted(&canary),
            baseline,
            canary,
        }
    }

    /// A judgement carrying these summaries.
    pub fn judgement(
        &self,
        classification: Classification,
        reason: impl Into<String>,
    ) -> Judgement {
        let mut j = Judgement::bare(classification, reason);
        j.baseline = self.baseline_summary;
        j.canary = self.canary_summary;
        j
    }

    /// Kayenta's rule for an arm without data (after preprocessing):
    /// with the `remove` NaN strategy a critical metric is `nodata` marked critical, a
    /// must-have-data metric is `nodata_fail`, any other is `nodata`; with `replace` it
    /// passes (Kayenta parity; canaryd's default strategy is `remove`).
    pub fn no_data(&self, options: &MetricOptions, which: &str) -> Judgement {
        match options.nan_strategy {
            NanStrategy::Remove => {
                let reason = format!("no data for the {which} after removing NaN and outliers");
                if options.critical {
                    let mut j = self.judgement(Classification::Nodata, reason);
                    j.critical = true;
                    j
                } else if options.must_have_data {
                    self.judgement(
                        Classification::NodataFail,
                        format!("{reason}; the metric must have data"),
                    )
                } else {
                    self.judgement(Classification::Nodata, reason)
                }
            }
            NanStrategy::Replace => self.judgement(
                Classification::Pass,
                format!("no data for the {which}; nan_strategy = replace passes it (Kayenta rule)"),
            ),
        }
    }

    /// Which arms are empty, as words, or `None` when both have data.
    pub fn missing_arms(&self) -> Option<&'static str> {
        match (self.baseline.is_empty(), self.canary.is_empty()) {
            (true, true) => Some("baseline and canary"),
            (true, false) => Some("baseline"),
            (false, true) => Some("canary"),
            (false, false) => None,
        }
    }
}
