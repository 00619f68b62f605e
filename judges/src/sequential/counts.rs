//! Errors out of requests: an anytime-valid test of the canary's error-rate ratio
//! r = rate(canary) / rate(baseline) (Lindon & Malek's multinomial test).
//!
//! Errors of both arms arrive as Poisson processes with intensities proportional to each
//! arm's traffic share ρᵢ and an unknown common load λ(t). Given an error, its arm is a coin
//! with P(canary) = p(r, ρ) = ρ_B·r / (ρ_A + ρ_B·r): λ(t) cancels, only the counts matter. The
//! shares are read from each scrape's request counts, so traffic that shifts between arms
//! (or a missing scrape) does not bias the test.
//!
//! The e-process against a null ratio r₀ is a mixture of likelihood ratios
//! M(r₀) = ∫ Π_batches L_b(r) / L_b(r₀) π(dr) over a grid of log r. The prior π is the one
//! Lindon & Malek's Dirichlet(k·ρ) prior induces on r (so with constant shares M(1) is
//! their Dirichlet-multinomial Bayes factor up to the grid), restricted to r > r₀ for "the
//! canary is worse than r₀" and to r < r₀ for "the canary is better than r₀". Each is a
//! nonnegative supermartingale under its null, so by Ville's inequality crossing 1/α ever
//! has probability ≤ α. A baseline without errors does not hide a canary that errors:
//! every canary error multiplies M by about p(r)/p(r₀) > 1.
//!
//! Cost: O(grid) per batch with errors (nothing for error-free batches); memory O(grid).

/// Grid of log r: from r = e^−12 (far below any real ratio, so small shares keep their
/// prior mass) to r = e^9 (8,000× more errors), 0.05 apart.
const LOG_R_MIN: f64 = -12.0;
const LOG_R_MAX: f64 = 9.0;
const GRID: usize = 421;

/// Lindon & Malek's default prior concentration k (Dirichlet α₀ = k·ρ).
pub const DEFAULT_PRIOR_K: f64 = 100.0;

/// Streaming state of the rate-ratio test.
#[derive(Debug, Clone)]
pub struct RateRatioTest {
    log_r: Vec<f64>,
    r: Vec<f64>,
    /// ln prior weight of each grid point (unnormalised).
    log_prior: Vec<f64>,
    /// Σ over batches of e_B·ln r − E·ln(ρ_A + ρ_B·r): the log-likelihood of each grid
    /// point up to terms that cancel in every ratio.
    log_lik: Vec<f64>,
    /// Null ratios followed exactly (not only on the grid), with their log-likelihoods.
    tracked: Vec<(f64, f64)>,
    /// Prior components: (weight, Dirichlet concentration k).
    prior: Vec<(f64, f64)>,
    prior_set: bool,
    pub errors: [f64; 2],
    pub requests: [f64; 2],
    /// Σ over errors of the probability that the error is the canary's under "no change"
    /// (its batch's canary share): the mean of the fixed-sample test at the horizon.
    null_canary_errors: f64,
}

/// Arms, by index.
pub const BASELINE: usize = 0;
pub const CANARY: usize = 1;

impl RateRatioTest {
    /// A test that will be asked about the null ratios `nulls` (e.g. 1 + tolerance), with
    /// the single Dirichlet prior of concentration `prior_k`.
    pub fn new(nulls: &[f64], prior_k: f64) -> Self {
        Self::with_prior(nulls, &[(1.0, prior_k)])
    }

    /// Like [`RateRatioTest::new`] with a mixture of Dirichlet priors `(weight, k)`: a
    /// mixture of e-processes is an e-process, so a broad component (small k) can catch
    /// large changes (a crash loop) fast while a concentrated one (k = 100) keeps the power
    /// for small changes, at the price of at most ln(1/weight) of evidence.
    pub fn with_prior(nulls: &[f64], prior: &[(f64, f64)]) -> Self {
        let log_r: Vec<f64> = (0..GRID)
            .map(|k| LOG_R_MIN + (LOG_R_MAX - LOG_R_MIN) * k as f64 / (GRID - 1) as f64)
            .collect();
        let r = log_r.iter().map(|l| l.exp()).collect();
        RateRatioTest {
            log_r,
            r,
            log_prior: vec![0.0; GRID],
            log_lik: vec![0.0; GRID],
            tracked: nulls.iter().map(|&r0| (r0, 0.0)).collect(),
            prior: prior.to_vec(),
            prior_set: false,
            errors: [0.0; 2],
            requests: [0.0; 2],
            null_canary_errors: 0.0,
        }
    }

    /// The prior on r induced by p ~ Beta(k·ρ_B, k·ρ_A): density of ln r ∝ p^(kρ_B)·(1−p)^(kρ_A),
    /// each component normalised on the grid before the components are mixed.
    fn set_prior(&mut self, share_b: f64) {
        let mut mixed = vec![f64::NEG_INFINITY; GRID];
        for &(weight, k) in &self.prior {
            let (a, b) = (k * share_b, k * (1.0 - share_b));
            let dens: Vec<f64> = self
                .log_r
                .iter()
                .map(|&lr| {
                    // ln p and ln(1 − p) for p = ρ_B r / (ρ_A + ρ_B r), computed stably.
                    let denom = ln_add((1.0 - share_b).ln(), share_b.ln() + lr);
                    a * (share_b.ln() + lr - denom) + b * ((1.0 - share_b).ln() - denom)
                })
                .collect();
            let norm = dens
                .iter()
                .fold(f64::NEG_INFINITY, |acc, d| ln_add(acc, *d));
            for (m, d) in mixed.iter_mut().zip(&dens) {
                *m = ln_add(*m, weight.ln() + d - norm);
            }
        }
        self.log_prior = mixed;
        self.prior_set = true;
    }

    /// Add one scrape interval: requests and errors per arm (`[baseline, canary]`).
    /// Intervals without requests on an arm use the shares seen so far. Returns whether
    /// the e-values changed (they do only when errors arrive, or the prior is set).
    pub fn update(&mut self, requests: [f64; 2], errors: [f64; 2]) -> bool {
        let (req, err) = (requests.map(|v| v.max(0.0)), errors.map(|v| v.max(0.0)));
        self.requests[0] += req[0];
        self.requests[1] += req[1];
        self.errors[0] += err[0];
        self.errors[1] += err[1];
        let share_b = if req[0] > 0.0 && req[1] > 0.0 {
            req[1] / (req[0] + req[1])
        } else if self.requests[0] > 0.0 && self.requests[1] > 0.0 {
            self.requests[1] / (self.requests[0] + self.requests[1])
        } else {
            return false; // no exposure on one arm yet: nothing can be learned
        };
        let mut changed = false;
        if !self.prior_set {
            self.set_prior(share_b);
            changed = true;
        }
        let total = err[0] + err[1];
        if total == 0.0 {
            return changed;
        }
        self.null_canary_errors += total * share_b;
        let (ln_a, ln_b) = ((1.0 - share_b).ln(), share_b.ln());
        for k in 0..GRID {
            self.log_lik[k] += err[1] * self.log_r[k] - total * ln_add(ln_a, ln_b + self.log_r[k]);
        }
        for (r0, ll) in self.tracked.iter_mut() {
            let lr = r0.ln();
            *ll += err[1] * lr - total * ln_add(ln_a, ln_b + lr);
        }
        true
    }

    fn null_log_lik(&self, r0: f64) -> f64 {
        match self.tracked.iter().find(|(r, _)| *r == r0) {
            Some((_, ll)) => *ll,
            None => {
                // Interpolate on the grid (used for confidence sequences only).
                let pos = (r0.ln() - LOG_R_MIN) / (LOG_R_MAX - LOG_R_MIN) * (GRID - 1) as f64;
                let k = (pos.floor().max(0.0) as usize).min(GRID - 2);
                let f = (pos - k as f64).clamp(0.0, 1.0);
                self.log_lik[k] * (1.0 - f) + self.log_lik[k + 1] * f
            }
        }
    }

    /// ln M(r₀) for alternatives above r₀ (`above = true`) or below it.
    pub fn log_e_value(&self, r0: f64, above: bool) -> f64 {
        self.log_mixture(r0, |r| if above { r > r0 } else { r < r0 })
    }

    /// ln M(r₀) with the whole prior (both sides): with constant shares and r₀ = 1 this
    /// is the Dirichlet-multinomial Bayes factor.
    pub fn log_e_value_full(&self, r0: f64) -> f64 {
        self.log_mixture(r0, |_| true)
    }

    fn log_mixture(&self, r0: f64, include: impl Fn(f64) -> bool) -> f64 {
        if !self.prior_set {
            return 0.0;
        }
        let null = self.null_log_lik(r0);
        let mut num = f64::NEG_INFINITY;
        let mut den = f64::NEG_INFINITY;
        for k in 0..GRID {
            if include(self.r[k]) {
                num = ln_add(num, self.log_prior[k] + self.log_lik[k] - null);
                den = ln_add(den, self.log_prior[k]);
            }
        }
        if den == f64::NEG_INFINITY {
            0.0
        } else {
            num - den
        }
    }

    /// Anytime-valid p-value of "ratio ≤ r₀" (or "≥ r₀" when `above` is false) from the
    /// current e-value; keep the running minimum across updates for the sequence's p-value.
    pub fn p_value(&self, r0: f64, above: bool) -> f64 {
        (-self.log_e_value(r0, above)).exp().min(1.0)
    }

    /// Confidence sequence for r at level 1 − 2α (α on each side): the grid values no
    /// one-sided test rejects.
    pub fn confidence_interval(&self, alpha: f64) -> (f64, f64) {
        let threshold = (1.0 / alpha).ln();
        let lower = self
            .r
            .iter()
            .copied()
            .find(|&r0| self.log_e_value(r0, true) < threshold)
            .unwrap_or(f64::INFINITY);
        let upper = self
            .r
            .iter()
            .rev()
            .copied()
            .find(|&r0| self.log_e_value(r0, false) < threshold)
            .unwrap_or(0.0);
        (lower.min(upper), upper.max(lower))
    }

    /// Fixed-sample p-value of "no change" (r ≤ 1; r ≥ 1 when `above` is false) from all
    /// errors so far, for one look at a horizon fixed in advance.
    ///
    /// Given the errors, each is the canary's with probability p_b (its batch's canary
    /// share) under r = 1, independently (Poisson thinning), and with a smaller one under
    /// r < 1; the canary's count X is Poisson-binomial with mean Σ p_b = n·p̄. Hoeffding
    /// (1956, Theorem 4): for x ≥ n·p̄ + 1, P(X ≥ x) ≤ P(Binomial(n, p̄) ≥ x), so the
    /// binomial tail I_p̄(x, n − x + 1) is a valid p-value; nearer the mean it is 1 (no
    /// evidence claimed). The lower tail is the same bound on the baseline's count.
    pub fn horizon_p_value(&self, above: bool) -> f64 {
        let n = self.errors[0] + self.errors[1];
        if n <= 0.0 {
            return 1.0;
        }
        let p_canary = (self.null_canary_errors / n).clamp(0.0, 1.0);
        // The arm whose excess is tested, and its null probability per error.
        let (x, p) = if above {
            (self.errors[CANARY], p_canary)
        } else {
            (self.errors[BASELINE], 1.0 - p_canary)
        };
        if x < n * p + 1.0 || p <= 0.0 {
            return 1.0;
        }
        if p >= 1.0 {
            return 1.0;
        }
        // P(Binomial(n, p) ≥ x) = I_p(x, n − x + 1), also for non-integer counts.
        statrs::function::beta::checked_beta_reg(x, n - x + 1.0, p)
            .map_or(1.0, |v| v.clamp(0.0, 1.0))
    }

    /// The ratio of observed error rates (errors per request), canary / baseline.
    pub fn observed_ratio(&self) -> f64 {
        let rate = |i: usize| {
            if self.requests[i] > 0.0 {
                self.errors[i] / self.requests[i]
            } else {
                f64::NAN
            }
        };
        let (a, b) = (rate(BASELINE), rate(CANARY));
        if a == 0.0 {
            if b == 0.0 { 1.0 } else { f64::INFINITY }
        } else {
            b / a
        }
    }
}

/// ln(e^a + e^b) without overflow.
pub(crate) fn ln_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// ln B(α) − … : the closed-form two-arm Dirichlet-multinomial log Bayes factor of
/// Lindon & Malek with constant shares ρ and concentration k:
/// ln BF = ln B(kρ + N) − ln B(kρ) − Σ Nᵢ ln ρᵢ, B the multivariate Beta function.
pub fn dirichlet_multinomial_log_bf(shares: [f64; 2], k: f64, counts: [f64; 2]) -> f64 {
    let ln_beta = |a: [f64; 2]| ln_gamma(a[0]) + ln_gamma(a[1]) - ln_gamma(a[0] + a[1]);
    let prior = [k * shares[0], k * shares[1]];
    let post = [prior[0] + counts[0], prior[1] + counts[1]];
    ln_beta(post) - ln_beta(prior) - counts[0] * shares[0].ln() - counts[1] * shares[1].ln()
}

fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_rates_do_not_reject_and_canary_errors_do() {
        let mut t = RateRatioTest::new(&[1.0], DEFAULT_PRIOR_K);
        for _ in 0..100 {
            t.update([950.0, 50.0], [1.0, 0.0]);
        }
        assert!(t.log_e_value(1.0, true) < (100.0f64).ln());
        // Zero baseline errors, then a canary erroring: rejected within a few errors.
        let mut z = RateRatioTest::new(&[1.0], DEFAULT_PRIOR_K);
        z.update([950.0, 50.0], [0.0, 0.0]);
        let mut needed = 0;
        while z.log_e_value(1.0, true) < (100.0f64).ln() {
            z.update([95.0, 5.0], [0.0, 1.0]);
            needed += 1;
            assert!(needed < 50, "a canary that errors must be caught");
        }
        assert!(needed <= 15, "needed {needed} canary errors");
        assert_eq!(z.observed_ratio(), f64::INFINITY);
    }

    #[test]
    fn grid_mixture_matches_the_dirichlet_multinomial_closed_form() {
        // With constant shares and r₀ = 1 over the whole grid, the mixture is the
        // Dirichlet-multinomial Bayes factor (up to the grid's quadrature).
        for (share, na, nb) in [
            (0.05, 10.0, 3.0),
            (0.5, 40.0, 70.0),
            (0.25, 0.0, 12.0),
            (0.05, 30.0, 0.0),
        ] {
            let mut t = RateRatioTest::new(&[1.0], DEFAULT_PRIOR_K);
            t.update([1.0 - share, share], [na, nb]);
            let grid = t.log_e_value_full(1.0);
            let exact =
                dirichlet_multinomial_log_bf([1.0 - share, share], DEFAULT_PRIOR_K, [na, nb]);
            assert!(
                (grid - exact).abs() < 1e-3,
                "share {share} counts {na},{nb}: grid {grid} exact {exact}"
            );
        }
    }

    #[test]
    fn confidence_interval_covers_the_observed_ratio() {
        let mut t = RateRatioTest::new(&[1.0], DEFAULT_PRIOR_K);
        for _ in 0..200 {
            t.update([900.0, 100.0], [2.0, 0.6]);
        }
        let (lo, hi) = t.confidence_interval(0.01);
        let r = t.observed_ratio();
        assert!(lo < r && r < hi, "{lo} < {r} < {hi}");
        assert!(lo > 1.0 && hi < 6.0, "{lo}..{hi}");
    }
}
