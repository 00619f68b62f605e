//! The sequential judge: one per analysis, its α split over the pairs it judges; it starts
//! a state per pair ([`SequentialJudge::start`]) and judges a whole pair at once as one
//! batch when used as a plain [`Judge`].

use super::*;

/// The sequential judge for one analysis.
#[derive(Debug, Clone)]
pub struct SequentialJudge {
    pub(super) config: SequentialConfig,
    /// α of one metric pair.
    pub(super) pair_alpha: f64,
    /// Batches the analysis is expected to see (the restart grid spans them).
    pub(super) horizon: Option<usize>,
}

impl SequentialJudge {
    /// A judge whose pairs each get the whole α (a single pair).
    pub fn new(config: SequentialConfig) -> Self {
        let pair_alpha = config.alpha;
        SequentialJudge {
            config,
            pair_alpha,
            horizon: None,
        }
    }

    /// The number of batches (scrapes) the analysis is expected to see: the restarts that
    /// watch for a late regression are spread over them. Without it
    /// [`restart::DEFAULT_HORIZON_BATCHES`] (30 minutes of 10-s scrapes). It must not
    /// depend on the data: every look of one analysis must use the same grid.
    pub fn with_horizon(mut self, batches: usize) -> Self {
        self.horizon = Some(batches.max(1));
        self
    }

    /// Where the count test's restarts begin.
    pub fn grid(&self) -> RestartGrid {
        RestartGrid::new(
            self.horizon.unwrap_or(restart::DEFAULT_HORIZON_BATCHES),
            self.config.restarts,
        )
    }

    /// Where the distribution test's restarts begin.
    pub fn distribution_grid(&self) -> RestartGrid {
        RestartGrid::new(
            self.horizon.unwrap_or(restart::DEFAULT_HORIZON_BATCHES),
            self.config.distribution_restarts,
        )
    }

    /// Split α across the `pairs` metric pairs an analysis judges sequentially
    /// (Bonferroni: valid for e-processes and confidence sequences alike).
    pub fn with_pairs(mut self, pairs: usize) -> Self {
        self.pair_alpha = self.config.alpha / pairs.max(1) as f64;
        self
    }

    pub fn config(&self) -> &SequentialConfig {
        &self.config
    }

    pub fn pair_alpha(&self) -> f64 {
        self.pair_alpha
    }

    /// A fresh state for one metric pair.
    pub fn start(&self, options: &MetricOptions) -> SequentialState {
        self.start_on(options, self.grid(), self.distribution_grid())
    }

    pub(super) fn start_on(
        &self,
        options: &MetricOptions,
        grid: RestartGrid,
        distribution_grid: RestartGrid,
    ) -> SequentialState {
        SequentialState {
            grid,
            distribution_grid,
            later_means: Vec::new(),
            shown_mean: None,
            onset: None,
            onset_after_s: None,
            test: None,
            alpha: self.pair_alpha,
            config: self.config.clone(),
            options: *options,
            decided: None,
            samples: [0.0; 2],
            elapsed_s: None,
            batches: 0,
            decided_at: None,
            decided_after_s: None,
            fail_higher: options.direction != Direction::Decrease,
            p_value: 1.0,
            max_log_e: [f64::NEG_INFINITY; 2],
            significant: [false; 2],
            within: false,
            horizon_look: false,
            horizon: self.horizon.unwrap_or(restart::DEFAULT_HORIZON_BATCHES),
            last_bounds: Vec::new(),
            last_shares: Vec::new(),
            error: None,
            horizon_p: None,
        }
    }
}

impl Judge for SequentialJudge {
    fn kind(&self) -> JudgeKind {
        JudgeKind::Sequential
    }

    /// One-shot use (files, `/judge`): the whole pair is one batch; an undecided test
    /// is inconclusive.
    fn judge(&self, options: &MetricOptions, pair: &MetricPair) -> Judgement {
        if let Some(problem) = pair.problem() {
            return Judgement::bare(
                Classification::Error,
                format!("the data is not a valid sample: {problem}"),
            );
        }
        let missing = match (pair.baseline.is_empty(), pair.canary.is_empty()) {
            (true, true) => Some("baseline and canary"),
            (true, false) => Some("baseline"),
            (false, true) => Some("canary"),
            (false, false) => None,
        };
        if let Some(which) = missing {
            return no_data(options, which);
        }
        // One batch: no later change point to watch.
        let mut state = self.start_on(options, RestartGrid::single(), RestartGrid::single());
        state.update(pair);
        state.finish();
        if state.error.is_none() && state.samples.iter().any(|n| *n <= 0.0) {
            let which = match (state.samples[0] <= 0.0, state.samples[1] <= 0.0) {
                (true, true) => "baseline and canary",
                (true, false) => "baseline",
                _ => "canary",
            };
            return no_data(options, which);
        }
        let mut j = with_summaries(state.judgement(), options, pair);
        j.critical = options.critical && j.classification.is_failure();
        j
    }
}
