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
//!
//! **Regressions that start later** ([`RateRatioTest::with_onsets`]): the "no change"
//! e-process is also restarted on a [`RestartGrid`] and the restarts mixed (see
//! [`super::restart`]). With Lⱼ(θ) the log-likelihood at start j and ΔL = L(θ) − L(1),
//! Σⱼ wⱼ M⁽ʲ⁾_t = Σ_θ π̃(θ) e^{ΔL_t(θ)} · Σⱼ wⱼ e^{−ΔLⱼ(θ)}: the inner sum S(θ) grows by one
//! term per start, so the mixture over change points costs O(grid) per batch like the
//! single test; the per-start rows (for "since when") are kept in a starts × grid array.

/// Grid of log r: from r = e^−12 (far below any real ratio, so small shares keep their
/// prior mass) to r = e^9 (8,000× more errors), 0.05 apart.
const LOG_R_MIN: f64 = -12.0;
const LOG_R_MAX: f64 = 9.0;
const GRID: usize = 421;

use ndarray::{Array2, ArrayView1};
use statrs::distribution::{Binomial, DiscreteCDF};

use super::restart::RestartGrid;

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
    /// Batches with errors, in order — the fixed-sample equivalence test at the horizon
    /// needs the canary's expected share of the errors under any ratio, not only r = 1,
    /// and for any later stretch of the run.
    error_batches: Vec<ErrorBatch>,
    /// Batches seen (calls of [`RateRatioTest::update`]).
    batches: usize,
    /// The "no change" e-process restarted at change points, when enabled.
    onsets: Option<Onsets>,
}

/// One batch's errors, for the fixed-sample equivalence tests.
#[derive(Debug, Clone, Copy)]
struct ErrorBatch {
    /// The batch's index (0-based).
    batch: usize,
    /// Errors of both arms.
    total: f64,
    /// The canary's errors.
    canary: f64,
    /// The canary's share of the batch's requests.
    share: f64,
}

/// The restarts of the "no change" (r = 1) e-process.
#[derive(Debug, Clone)]
struct Onsets {
    grid: RestartGrid,
    /// Batches seen (the grid is in batches).
    batches: usize,
    /// Starts begun so far.
    started: usize,
    /// ln Σ_started wⱼ·exp(−ΔLⱼ(θ)) per grid point.
    log_s: Vec<f64>,
    /// ΔLⱼ(θ) = Lⱼ(θ) − Lⱼ(1) at each start (rows: starts, columns: grid points).
    at_start: Array2<f64>,
    /// Errors and requests per arm when each start began: [e_B, e_C, n_B, n_C].
    totals: Array2<f64>,
}

/// Where the evidence of a change comes from: the start whose e-process weighs most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onset {
    /// The batch the start began before (0-based).
    pub batch: usize,
    /// ln(wⱼ·M⁽ʲ⁾): this start's share of the mixture's evidence.
    pub log_e_value: f64,
    /// The observed error-rate ratio since the start.
    pub ratio: f64,
    /// Errors per request since the start, per arm (NaN without requests).
    pub rates: [f64; 2],
    /// Errors since the start, per arm.
    pub errors: [f64; 2],
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
            error_batches: Vec::new(),
            batches: 0,
            onsets: None,
        }
    }

    /// Also restart the "no change" e-process on `grid` (see
    /// [`RateRatioTest::log_e_value_any_onset`]). Call before the first update.
    pub fn with_onsets(mut self, grid: RestartGrid) -> Self {
        if !self.tracked.iter().any(|(r, _)| *r == 1.0) {
            self.tracked.push((1.0, 0.0));
        }
        self.onsets = Some(Onsets {
            grid,
            batches: 0,
            started: 0,
            log_s: vec![f64::NEG_INFINITY; GRID],
            at_start: Array2::zeros((grid.count, GRID)),
            totals: Array2::zeros((grid.count, 4)),
        });
        self
    }

    /// Begin the restart due before this batch, if any.
    fn begin_batch(&mut self) {
        let null = self.null_log_lik(1.0);
        let totals = [
            self.errors[0],
            self.errors[1],
            self.requests[0],
            self.requests[1],
        ];
        let Some(o) = self.onsets.as_mut() else {
            return;
        };
        if let Some(k) = o.grid.start_at(o.batches) {
            let lw = o.grid.log_weight(k);
            let mut row = o.at_start.row_mut(k);
            for (j, (d, s)) in row.iter_mut().zip(o.log_s.iter_mut()).enumerate() {
                *d = self.log_lik[j] - null;
                *s = ln_add(*s, lw - *d);
            }
            o.totals.row_mut(k).assign(&ArrayView1::from(&totals));
            o.started = k + 1;
        }
        o.batches += 1;
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
        self.begin_batch();
        let batch = self.batches;
        self.batches += 1;
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
        self.error_batches.push(ErrorBatch {
            batch,
            total,
            canary: err[1],
            share: share_b,
        });
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

    /// ln R: the "no change" e-process mixed over change points (alternatives above 1
    /// when `above`, else below) — by Ville's inequality R crosses 1/α with probability
    /// ≤ α when the ratio is on the null side at every time. Without onsets, ln M(1).
    pub fn log_e_value_any_onset(&self, above: bool) -> f64 {
        let Some(o) = &self.onsets else {
            return self.log_e_value(1.0, above);
        };
        if !self.prior_set {
            return 0.0;
        }
        let null = self.null_log_lik(1.0);
        let mut num = f64::NEG_INFINITY;
        let mut den = f64::NEG_INFINITY;
        for k in 0..GRID {
            if (self.r[k] > 1.0) == above && self.r[k] != 1.0 {
                num = ln_add(num, self.log_prior[k] + self.log_lik[k] - null + o.log_s[k]);
                den = ln_add(den, self.log_prior[k]);
            }
        }
        let started = if den == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            num - den
        };
        // Starts not begun yet are still worth their weight (their e-process is 1).
        let unstarted: f64 = (o.started..o.grid.count)
            .map(|k| o.grid.log_weight(k).exp())
            .sum();
        if unstarted > 0.0 {
            ln_add(started, unstarted.ln())
        } else {
            started
        }
    }

    /// Each begun start's ln(wⱼ·M⁽ʲ⁾) (alternatives above 1 when `above`) and the error-rate
    /// ratio since it; summed (as e-values) they give [`RateRatioTest::log_e_value_any_onset`]
    /// less the unstarted weight. Empty without onsets.
    pub fn onsets(&self, above: bool) -> Vec<Onset> {
        let Some(o) = &self.onsets else {
            return Vec::new();
        };
        let null = self.null_log_lik(1.0);
        let side: Vec<usize> = (0..GRID)
            .filter(|&k| (self.r[k] > 1.0) == above && self.r[k] != 1.0)
            .collect();
        let den = side
            .iter()
            .fold(f64::NEG_INFINITY, |acc, &k| ln_add(acc, self.log_prior[k]));
        (0..o.started)
            .map(|j| {
                let row = o.at_start.row(j);
                let log_e = if self.prior_set {
                    side.iter().fold(f64::NEG_INFINITY, |acc, &k| {
                        ln_add(acc, self.log_prior[k] + self.log_lik[k] - null - row[k])
                    }) - den
                } else {
                    0.0
                };
                let t = o.totals.row(j);
                let errors = [self.errors[0] - t[0], self.errors[1] - t[1]];
                let rate = |e: f64, n: f64| if n > 0.0 { e / n } else { f64::NAN };
                let (b, c) = (
                    rate(errors[0], self.requests[0] - t[2]),
                    rate(errors[1], self.requests[1] - t[3]),
                );
                let ratio = if b == 0.0 {
                    if c == 0.0 { 1.0 } else { f64::INFINITY }
                } else {
                    c / b
                };
                Onset {
                    batch: o.grid.batch_of(j),
                    log_e_value: o.grid.log_weight(j) + log_e,
                    ratio,
                    rates: [b, c],
                    errors,
                }
            })
            .collect()
    }

    /// The start carrying the most evidence (alternatives above 1 when `above`).
    pub fn best_onset(&self, above: bool) -> Option<Onset> {
        self.onsets(above)
            .into_iter()
            .max_by(|a, b| a.log_e_value.total_cmp(&b.log_e_value))
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
        // Σ over errors of the probability that the error is the canary's under "no
        // change" (its batch's canary share): the mean of the test.
        let p_canary = (Self::expected_canary(&self.error_batches, 1.0) / n).clamp(0.0, 1.0);
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

    /// The batches with errors from batch `from` on.
    fn since(&self, from: usize) -> &[ErrorBatch] {
        let i = self.error_batches.partition_point(|b| b.batch < from);
        &self.error_batches[i..]
    }

    /// The canary's expected errors among `batches`' if its error rate were `r` times the
    /// baseline's: Σ_b E_b·p_b(r).
    fn expected_canary(batches: &[ErrorBatch], r: f64) -> f64 {
        batches
            .iter()
            .map(|b| b.total * r * b.share / (r * b.share + 1.0 - b.share))
            .sum()
    }

    /// Errors of both arms, the canary's errors, and the canary's expected share of them
    /// if its error rate were `r` times the baseline's — Σ_b E_b·p_b(r) / Σ_b E_b with
    /// p_b(r) = r·s_b / (r·s_b + 1 − s_b) — over `batches`.
    fn shares(batches: &[ErrorBatch], r: f64) -> (f64, f64, f64) {
        let n: f64 = batches.iter().map(|b| b.total).sum();
        let x: f64 = batches.iter().map(|b| b.canary).sum();
        let expected = Self::expected_canary(batches, r);
        let p = if n > 0.0 {
            (expected / n).clamp(0.0, 1.0)
        } else {
            f64::NAN
        };
        (n, x, p)
    }

    /// Fixed-sample p-value, for one look at a horizon fixed in advance, of "the canary's
    /// rate ratio is at least `r0`" (`below = true`: evidence is few canary errors) or "at
    /// most `r0`" (`below = false`): the equivalence test of a pass band. Given each batch's
    /// errors, the canary's count is Poisson-binomial, stochastically increasing in the
    /// ratio; Hoeffding's bound (as in [`RateRatioTest::horizon_p_value`]) by the binomial
    /// with the mean share p̄(r0) makes the tail valid for x ≤ n·p̄ − 1 (x ≥ n·p̄ + 1 on the
    /// other side); nearer the mean it is 1.
    pub fn equivalence_p_value(&self, r0: f64, below: bool) -> f64 {
        self.equivalence_p_value_since(0, r0, below)
    }

    /// [`RateRatioTest::equivalence_p_value`] of the batches from `from` on: the ratio
    /// over that later stretch of the run.
    pub fn equivalence_p_value_since(&self, from: usize, r0: f64, below: bool) -> f64 {
        let (n, x, p) = Self::shares(self.since(from), r0);
        if n <= 0.0 || !(p > 0.0 && p < 1.0) {
            // No errors at all: nothing tells the rates apart.
            return 1.0;
        }
        if below {
            if x > n * p - 1.0 {
                return 1.0;
            }
            // P(Bin(n, p) ≤ x) = 1 − I_p(x + 1, n − x).
            statrs::function::beta::checked_beta_reg(x + 1.0, n - x, p)
                .map_or(1.0, |v| (1.0 - v).clamp(0.0, 1.0))
        } else {
            if x < n * p + 1.0 {
                return 1.0;
            }
            statrs::function::beta::checked_beta_reg(x, n - x + 1.0, p)
                .map_or(1.0, |v| v.clamp(0.0, 1.0))
        }
    }

    /// Whether the errors from batch `from` on are enough to prove the ratio on the good
    /// side of `r0` at level `alpha` with probability ≥ `power` if nothing changed. It
    /// reads only the batches' error totals and request shares — what the equivalence
    /// test conditions on — so choosing the stretches to test by it keeps that test's
    /// level.
    pub fn equivalence_testable_since(
        &self,
        from: usize,
        r0: f64,
        below: bool,
        alpha: f64,
        power: f64,
    ) -> bool {
        let batches = self.since(from);
        let (n, _, p0) = Self::shares(batches, r0);
        let (_, _, p1) = Self::shares(batches, 1.0);
        let n = n.round();
        if n < 1.0 || !(p0 > 0.0 && p0 < 1.0 && p1 > 0.0 && p1 < 1.0) {
            return false;
        }
        let (Ok(at_band), Ok(unchanged)) =
            (Binomial::new(p0, n as u64), Binomial::new(p1, n as u64))
        else {
            return false;
        };
        if below {
            // The largest count the test rejects at: P(Bin(n, p0) ≤ c) ≤ α.
            let m = at_band.inverse_cdf(alpha);
            if m == 0 {
                return false;
            }
            unchanged.cdf(m - 1) >= power
        } else {
            let c = at_band.inverse_cdf(1.0 - alpha) + 1;
            1.0 - unchanged.cdf(c - 1) >= power
        }
    }

    /// Both one-look bounds at `alpha` each: (lower, upper) ([`Self::fixed_sample_bound`]).
    pub fn fixed_sample_interval(&self, alpha: f64) -> (f64, f64) {
        (
            self.fixed_sample_bound(alpha, false),
            self.fixed_sample_bound(alpha, true),
        )
    }

    /// The fixed-sample bound on the rate ratio at level `alpha` from one look: the
    /// smallest r0 whose "at least r0" is rejected (`upper = true`), or the largest
    /// whose "at most r0" is (`false`); ±∞ / 0 when none is.
    pub fn fixed_sample_bound(&self, alpha: f64, upper: bool) -> f64 {
        let (lo, hi) = (LOG_R_MIN, LOG_R_MAX);
        let rejected = |l: f64| self.equivalence_p_value(l.exp(), upper) <= alpha;
        let edge = if upper { hi } else { lo };
        if !rejected(edge) {
            return if upper { f64::INFINITY } else { 0.0 };
        }
        // Rejection is monotone in r0: bisect for its boundary on the log scale.
        let (mut a, mut b) = if upper { (lo, hi) } else { (hi, lo) };
        if rejected(a) {
            return a.exp();
        }
        for _ in 0..60 {
            let m = 0.5 * (a + b);
            if rejected(m) {
                b = m;
            } else {
                a = m;
            }
        }
        b.exp()
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

    /// Brute force: one fresh test per start fed the batches from its start on, mixed
    /// with the grid's weights — the mixture the running sums must reproduce.
    fn brute_force(batches: &[([f64; 2], [f64; 2])], grid: RestartGrid, above: bool) -> f64 {
        let mut total = f64::NEG_INFINITY;
        for k in 0..grid.count {
            let s = grid.batch_of(k);
            let log_e = if s >= batches.len() {
                0.0 // not begun: worth its weight
            } else {
                let mut t = RateRatioTest::new(&[1.0], DEFAULT_PRIOR_K);
                // The same prior as the running test (shares of the first batch).
                t.set_prior(batches[0].0[1] / (batches[0].0[0] + batches[0].0[1]));
                for (req, err) in &batches[s..] {
                    t.update(*req, *err);
                }
                t.log_e_value(1.0, above)
            };
            total = ln_add(total, grid.log_weight(k) + log_e);
        }
        total
    }

    #[test]
    fn the_onset_mixture_equals_the_mixture_of_restarted_tests() {
        let grid = RestartGrid::new(12, 4);
        let mut t = RateRatioTest::new(&[1.0, 2.0], DEFAULT_PRIOR_K).with_onsets(grid);
        let mut batches = Vec::new();
        // Equal rates for 5 batches, then the canary errs 4× as often; shares move.
        for b in 0..12 {
            let req = [700.0 + 10.0 * b as f64, 300.0 - 10.0 * b as f64];
            let err = if b < 5 {
                [7.0, 3.0]
            } else {
                [7.0, 12.0 - b as f64 * 0.5]
            };
            t.update(req, err);
            batches.push((req, err));
            for above in [true, false] {
                let fast = t.log_e_value_any_onset(above);
                let slow = brute_force(&batches, grid, above);
                assert!(
                    (fast - slow).abs() < 1e-9,
                    "batch {b} above {above}: running {fast} brute force {slow}"
                );
                let parts = t
                    .onsets(above)
                    .iter()
                    .fold(f64::NEG_INFINITY, |acc, o| ln_add(acc, o.log_e_value));
                assert!(parts <= fast + 1e-12);
            }
        }
        let best = t.best_onset(true).expect("begun");
        // The change came before batch 5: the starts around it (3 and 6) carry it.
        assert!(matches!(best.batch, 3 | 6), "{best:?}");
        assert!(best.ratio > 2.5, "{best:?}");
    }

    /// A small deterministic generator for simulation tests.
    struct Lcg(u64);
    impl Lcg {
        fn uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn poisson(&mut self, mean: f64) -> f64 {
            let (l, mut k, mut p) = ((-mean).exp(), 0.0, 1.0);
            loop {
                p *= self.uniform();
                if p <= l {
                    return k;
                }
                k += 1.0;
            }
        }
    }

    #[test]
    fn a_late_change_is_caught_and_no_change_rarely_alarms() {
        let threshold = (1.0f64 / 0.01).ln();
        let grid = RestartGrid::new(180, 48);
        // 400 runs without a change: the mixture crosses 1/α in few of them (α = 1%;
        // Ville's bound, usually far below it).
        let mut rng = Lcg(7);
        let mut alarms = 0;
        for _ in 0..400 {
            let mut t = RateRatioTest::new(&[1.0], DEFAULT_PRIOR_K).with_onsets(grid);
            for _ in 0..180 {
                let err = [rng.poisson(2.5), rng.poisson(2.5)];
                t.update([500.0, 500.0], err);
                if t.log_e_value_any_onset(true) >= threshold {
                    alarms += 1;
                    break;
                }
            }
        }
        assert!(alarms <= 8, "{alarms} of 400 null runs alarmed");
        // 0.5% → 2% errors from batch 60 (minute 10 of 10-s scrapes at 100 rps): caught,
        // and within about as long as the same change from batch 0.
        let delay = |onset: usize, rng: &mut Lcg| {
            let mut t = RateRatioTest::new(&[1.0], DEFAULT_PRIOR_K).with_onsets(grid);
            for b in 0..180 {
                let canary = if b >= onset { 10.0 } else { 2.5 };
                t.update([500.0, 500.0], [rng.poisson(2.5), rng.poisson(canary)]);
                if t.log_e_value_any_onset(true) >= threshold {
                    return Some(b + 1 - onset);
                }
            }
            None
        };
        let mut at0: Vec<usize> = (0..51).filter_map(|_| delay(0, &mut rng)).collect();
        let mut late: Vec<usize> = (0..51).filter_map(|_| delay(60, &mut rng)).collect();
        assert_eq!((at0.len(), late.len()), (51, 51), "every change is caught");
        at0.sort_unstable();
        late.sort_unstable();
        assert!(
            late[25] as f64 <= 1.5 * at0[25] as f64,
            "median delay from onset {} batches, from the start {}",
            late[25],
            at0[25]
        );
    }
}
