//! The judge family's configuration: one closed, serde-tagged enum over the judge kinds
//! (`kind = "band"` …), validated and built into a [`Judge`]. It sits above the kinds (it
//! names each of them) and the trait they implement below them.

use serde::{Deserialize, Serialize};

use crate::judge::{FieldError, Judge, JudgeKind};
use crate::kinds::band::{BandConfig, BandJudge};
use crate::kinds::mann_whitney::{MannWhitneyConfig, MannWhitneyJudge};
use crate::kinds::threshold::{ThresholdConfig, ThresholdJudge};
use crate::options::MetricOptions;
use crate::sequential::{SequentialConfig, SequentialJudge};

/// A judge's configuration: which kind, with that kind's options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JudgeConfig {
    MannWhitney(MannWhitneyConfig),
    Threshold(ThresholdConfig),
    Sequential(SequentialConfig),
    Band(BandConfig),
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig::MannWhitney(MannWhitneyConfig::default())
    }
}

impl JudgeConfig {
    pub fn kind(&self) -> JudgeKind {
        match self {
            JudgeConfig::MannWhitney(_) => JudgeKind::MannWhitney,
            JudgeConfig::Threshold(_) => JudgeKind::Threshold,
            JudgeConfig::Sequential(_) => JudgeKind::Sequential,
            JudgeConfig::Band(_) => JudgeKind::Band,
        }
    }

    /// Check the options against each other and against the metric's options.
    pub fn validate(&self, options: &MetricOptions) -> Vec<FieldError> {
        match self {
            JudgeConfig::MannWhitney(c) => c.validate(),
            JudgeConfig::Threshold(c) => c.validate(options),
            JudgeConfig::Sequential(c) => c.validate(),
            JudgeConfig::Band(c) => c.validate(),
        }
    }

    /// Build the judge. Call [`JudgeConfig::validate`] first; an invalid config still
    /// builds, and its judge answers `error` where the options make no sense.
    pub fn build(&self) -> Box<dyn Judge> {
        self.build_for_pairs(1)
    }

    /// Build the judge for an analysis that judges `pairs` metric pairs with it: judges
    /// with an analysis-wide error budget (sequential, band) split it among them.
    pub fn build_for_pairs(&self, pairs: usize) -> Box<dyn Judge> {
        match self {
            JudgeConfig::MannWhitney(c) => Box::new(MannWhitneyJudge::new(c.clone())),
            JudgeConfig::Threshold(c) => Box::new(ThresholdJudge::new(c.clone())),
            JudgeConfig::Sequential(c) => {
                Box::new(SequentialJudge::new(c.clone()).with_pairs(pairs))
            }
            JudgeConfig::Band(c) => Box::new(BandJudge::new(c.clone()).with_pairs(pairs)),
        }
    }

    /// The streaming form of the judge, for judges that decide as data arrives: a
    /// [`SequentialJudge`] whose [`SequentialJudge::start`] gives a state fed one scrape at
    /// a time (split over `pairs` like [`JudgeConfig::build_for_pairs`]); `None` for the
    /// judges that judge a whole window at once.
    pub fn streaming(&self, pairs: usize) -> Option<SequentialJudge> {
        match self {
            JudgeConfig::Sequential(c) => Some(SequentialJudge::new(c.clone()).with_pairs(pairs)),
            JudgeConfig::MannWhitney(_) | JudgeConfig::Threshold(_) | JudgeConfig::Band(_) => None,
        }
    }
}
