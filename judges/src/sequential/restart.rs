//! Regressions that start mid-analysis: e-processes restarted on a grid of change points
//! and mixed (an e-detector with a finite-horizon guarantee).
//!
//! Let M⁽ʲ⁾ be an e-process (a nonnegative supermartingale with M⁽ʲ⁾ = 1 up to its start
//! sⱼ) started at batch sⱼ of a grid s₀ = 0 < s₁ < … < s_{K−1}, and wⱼ ≥ 0 weights with
//! Σ wⱼ = 1. Under "no regression at any time" every M⁽ʲ⁾ is a supermartingale in the
//! analysis' own filtration, so the mixture
//!
//! > R_t = Σⱼ wⱼ M⁽ʲ⁾_t      (an unstarted M⁽ʲ⁾ counts 1)
//!
//! is one too, with R₀ = 1, and Ville's inequality gives P(∃t: R_t ≥ 1/α) ≤ α: the false
//! alarm rate of the whole analysis, at any stopping time, however long it runs. A
//! regression starting at τ is seen by the starts just before and after τ as if it were
//! present from their start, at the price of ln(1/w) = ln K nats of evidence (R sums the
//! neighbouring starts, which usually earns part of it back) and of the pre-onset data
//! the start just before τ carries.
//!
//! [`RestartGrid`] spreads K starts evenly over the expected horizon H (in batches), so a
//! regression is caught about as fast from any onset inside it; after the last start no
//! new ones begin (the guarantee holds regardless, later onsets are found by the last
//! starts, more slowly). The start at 0 — a regression present from the beginning, the
//! t = 0 test of old — keeps half the weight, so it pays ln 2 nats for the detector; the
//! other K − 1 starts share the other half (ln 2(K − 1) nats each).

/// Where restarts begin: start k at batch k·`every` for k < `count`; start 0 weighs ½,
/// the others ½/(`count` − 1) each (a single start weighs 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartGrid {
    pub every: usize,
    pub count: usize,
}

/// Horizon assumed when the caller does not know how many batches an analysis will see:
/// 30 minutes of 10-second scrapes.
pub const DEFAULT_HORIZON_BATCHES: usize = 180;

impl RestartGrid {
    /// `restarts` starts spread evenly over `horizon` batches (at most one per batch).
    pub fn new(horizon: usize, restarts: usize) -> Self {
        let horizon = horizon.max(1);
        let restarts = restarts.clamp(1, horizon);
        let every = horizon.div_ceil(restarts);
        RestartGrid {
            every,
            count: horizon.div_ceil(every),
        }
    }

    /// No restarts: the e-process of "no change" from the first batch only.
    pub fn single() -> Self {
        RestartGrid { every: 1, count: 1 }
    }

    /// The start that begins before batch `batch` (0-based), if one does.
    pub fn start_at(&self, batch: usize) -> Option<usize> {
        (batch.is_multiple_of(self.every) && batch / self.every < self.count)
            .then_some(batch / self.every)
    }

    /// The batch start `k` begins before.
    pub fn batch_of(&self, k: usize) -> usize {
        k * self.every
    }

    /// ln of start `k`'s weight.
    pub fn log_weight(&self, k: usize) -> f64 {
        if self.count <= 1 {
            0.0
        } else if k == 0 {
            -std::f64::consts::LN_2
        } else {
            -std::f64::consts::LN_2 - ((self.count - 1) as f64).ln()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_covers_the_horizon_evenly() {
        let g = RestartGrid::new(180, 48);
        assert_eq!(
            g,
            RestartGrid {
                every: 4,
                count: 45
            }
        );
        assert_eq!(g.start_at(0), Some(0));
        assert_eq!(g.start_at(4), Some(1));
        assert_eq!(g.start_at(5), None);
        assert_eq!(g.start_at(176), Some(44));
        assert_eq!(g.start_at(180), None, "no start past the horizon");
        assert_eq!(
            RestartGrid::new(10, 48),
            RestartGrid {
                every: 1,
                count: 10
            }
        );
        assert_eq!(RestartGrid::new(0, 0), RestartGrid::single());
        let total: f64 = (0..g.count).map(|k| g.log_weight(k).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
}
