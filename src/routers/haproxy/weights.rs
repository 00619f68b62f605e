//! Per-server weights for a split: the arithmetic of [`HaproxyRouter`](super::HaproxyRouter).
//!
//! With `balance roundrobin` a server gets `weight / Σ weights` of the requests (`static-rr`
//! refuses weight changes other than to 0 and 100 %; other algorithms weigh less exactly).
//! Every server of a group gets the same weight, `w_b` for the `n_b` baseline servers and
//! `w_c` for the `n_c` canary servers, so the canary gets
//!
//! ```text
//! share(w_b, w_c) = n_c·w_c / (n_c·w_c + n_b·w_b)
//! ```
//!
//! For a share `p` strictly between 0 and 100 % the ideal weights are proportional to
//! `w_c = p·K/n_c`, `w_b = (100 − p)·K/n_b`. HAProxy weights are integers in 0–256, so
//! [`GroupWeights::for_split`] tries every scale `K` that puts one group's weight at each of
//! 1…256, rounds the other group's weight both ways (kept within 1…256: a group that is asked
//! for some traffic never gets weight 0), and keeps the pair whose share is nearest to `p`
//! (ties: the larger weights). 0 % is exactly `w_c = 0, w_b = 256`; 100 % is
//! `w_c = 256, w_b = 0`.
//!
//! Rounding error (the unit tests check these bounds, and that the search finds the best
//! pair of all 256 × 256):
//! - the smallest non-zero canary share is one weight unit against a full-weight baseline,
//!   `n_c / (n_c + 256·n_b)`: 0.39 % with one server per group, 0.098 % with 4 baseline
//!   servers and 1 canary. A smaller request (e.g. 0.1 % with one server each) gets that
//!   smallest share: a canary asked for traffic always gets some. The same holds for the
//!   baseline near 100 % (the largest share short of 100 is 99.61 % with one server each,
//!   96.2 % with 1 baseline server and 10 canaries);
//! - between those two, the share is within 0.05 percentage points of the request (0.0501
//!   at worst with 10 servers against 1). The widest gaps between reachable shares are
//!   around 50 % (255:256 gives 49.90 %, next to 50 %). Common stages are exact: with one
//!   server each 1 % is 2:198, 5 % 13:247, 25 % 85:255, 50 % 256:256.
//!
//! [`TrafficRouter::current`](crate::routers::TrafficRouter::current) reads the weights back
//! and returns the share they give, so it returns the *achieved* share (25 for 25 %,
//! 0.389 = 1/257 for 0.1 %), not the requested one; compare with a tolerance of 0.05 points,
//! or with [`GroupWeights::for_split`] and [`GroupWeights::canary_percent`].

use serde::Serialize;

/// The largest weight HAProxy accepts.
pub const MAX_WEIGHT: u32 = 256;

/// The weight of every server of each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GroupWeights {
    pub baseline: u32,
    pub canary: u32,
}

impl GroupWeights {
    /// The weights nearest to `canary_percent` (clamped to 0–100) for groups of `n_baseline`
    /// and `n_canary` servers (both at least 1); see the module documentation.
    pub fn for_split(canary_percent: f64, n_baseline: usize, n_canary: usize) -> GroupWeights {
        let full = GroupWeights {
            baseline: MAX_WEIGHT,
            canary: 0,
        };
        if canary_percent.is_nan() || canary_percent <= 0.0 {
            return full;
        }
        if canary_percent >= 100.0 {
            return GroupWeights {
                baseline: 0,
                canary: MAX_WEIGHT,
            };
        }
        let (nb, nc) = (n_baseline.max(1) as f64, n_canary.max(1) as f64);
        let t = canary_percent / 100.0;
        // The ideal canary weight for a baseline weight, and the other way round.
        let canary_for = |wb: f64| t * nb * wb / ((1.0 - t) * nc);
        let baseline_for = |wc: f64| (1.0 - t) * nc * wc / (t * nb);
        let clamp = |w: f64| w.clamp(1.0, f64::from(MAX_WEIGHT)) as u32;
        let mut best: Option<(f64, GroupWeights)> = None;
        let mut consider = |g: GroupWeights| {
            let Some(share) = g.canary_percent(n_baseline, n_canary) else {
                return;
            };
            let err = (share - canary_percent).abs();
            let better = best.is_none_or(|(e, b)| {
                err < e - 1e-12
                    || (err <= e + 1e-12 && g.baseline + g.canary > b.baseline + b.canary)
            });
            if better {
                best = Some((err, g));
            }
        };
        for w in 1..=MAX_WEIGHT {
            let wf = f64::from(w);
            for c in [canary_for(wf).floor(), canary_for(wf).ceil()] {
                consider(GroupWeights {
                    baseline: w,
                    canary: clamp(c),
                });
            }
            for b in [baseline_for(wf).floor(), baseline_for(wf).ceil()] {
                consider(GroupWeights {
                    baseline: clamp(b),
                    canary: w,
                });
            }
        }
        best.map_or(full, |(_, g)| g)
    }

    /// The canary's share (percent) with these weights, or `None` when all weights are 0.
    pub fn canary_percent(&self, n_baseline: usize, n_canary: usize) -> Option<f64> {
        let c = n_canary as f64 * f64::from(self.canary);
        let b = n_baseline as f64 * f64::from(self.baseline);
        (c + b > 0.0).then(|| 100.0 * c / (c + b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worst |share − p| for p in `[from, to]` by steps of 0.02, checking the weights' range.
    fn max_error(nb: usize, nc: usize, from: f64, to: f64) -> f64 {
        let mut worst: f64 = 0.0;
        let mut p = from;
        while p <= to + 1e-9 {
            let g = GroupWeights::for_split(p, nb, nc);
            assert!(g.baseline <= MAX_WEIGHT && g.canary <= MAX_WEIGHT);
            assert!(g.baseline >= 1 && g.canary >= 1, "{p}: {g:?}");
            let share = g.canary_percent(nb, nc).expect("some weight");
            worst = worst.max((share - p).abs());
            p += 0.02;
        }
        worst
    }

    #[test]
    fn weights_hit_the_documented_accuracy() {
        for (nb, nc) in [(1, 1), (1, 2), (2, 1), (2, 3), (4, 1), (1, 4), (1, 10)] {
            let (nbf, ncf) = (nb as f64, nc as f64);
            let lowest = 100.0 * ncf / (ncf + 256.0 * nbf);
            let highest = 100.0 * 256.0 * ncf / (256.0 * ncf + nbf);
            let e = max_error(nb, nc, lowest, highest);
            assert!(e <= 0.0502, "{nb} baseline, {nc} canary servers: {e}");
            // Exactly: half the widest gap between reachable shares.
            let mut reachable: Vec<f64> = (1..=MAX_WEIGHT)
                .flat_map(|baseline| {
                    (1..=MAX_WEIGHT).map(move |canary| GroupWeights { baseline, canary })
                })
                .filter_map(|g| g.canary_percent(nb, nc))
                .collect();
            reachable.sort_by(f64::total_cmp);
            let widest = reachable
                .windows(2)
                .map(|w| w[1] - w[0])
                .fold(0.0, f64::max);
            assert!(widest / 2.0 <= 0.0502, "{nb}:{nc}: {}", widest / 2.0);
            let g = GroupWeights::for_split(lowest / 2.0, nb, nc);
            assert_eq!(g.canary_percent(nb, nc), Some(lowest));
        }
    }

    #[test]
    fn the_search_finds_the_best_of_all_weight_pairs() {
        for (nb, nc) in [(1, 1), (3, 2)] {
            for i in 1..40 {
                let p = f64::from(i) * 2.5 - 0.37;
                let share = |g: GroupWeights| g.canary_percent(nb, nc).expect("some weight");
                let found = (share(GroupWeights::for_split(p, nb, nc)) - p).abs();
                let best = (1..=MAX_WEIGHT)
                    .flat_map(|baseline| {
                        (1..=MAX_WEIGHT).map(move |canary| GroupWeights { baseline, canary })
                    })
                    .map(|g| (share(g) - p).abs())
                    .min_by(f64::total_cmp)
                    .expect("pairs");
                assert!(found <= best + 1e-12, "{p}: {found} > {best}");
            }
        }
    }

    #[test]
    fn exact_splits_and_the_ends() {
        let g = |p, nb, nc| GroupWeights::for_split(p, nb, nc);
        let w = |baseline, canary| GroupWeights { baseline, canary };
        assert_eq!(g(0.0, 1, 1), w(256, 0));
        assert_eq!(g(100.0, 3, 2), w(0, 256));
        assert_eq!(g(25.0, 1, 1), w(255, 85));
        assert_eq!(g(50.0, 2, 2), w(256, 256));
        assert_eq!(g(1.0, 1, 1), w(198, 2));
        assert_eq!(g(5.0, 1, 1), w(247, 13));
        // Below the smallest non-zero share, the canary still gets some traffic.
        assert_eq!(g(0.1, 1, 1), w(256, 1));
        assert_eq!(g(99.95, 1, 1), w(1, 256));
        assert_eq!(g(25.0, 3, 1).canary_percent(3, 1), Some(25.0));
        assert_eq!(w(0, 0).canary_percent(1, 1), None);
    }
}
