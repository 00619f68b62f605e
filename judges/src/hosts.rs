//! Hosts as the unit: judging a canary fleet against a baseline fleet when hosts differ
//! from one another.
//!
//! Real fleets differ host to host by 5–15% (hardware, neighbours, caches, JIT state). A
//! test that takes requests as the replicates sees millions of them and calls that spread
//! "significant"; and one broken canary host among healthy ones barely moves the pooled
//! numbers. Here each host is summarised on its own and **hosts are the replicates**.
//!
//! Per host h of an arm, from everything it served so far (cumulative):
//! - latency: θ_h = ln q_p(h), the log of its p-quantile from its own histogram, with the
//!   sampling variance v_h of that estimate (Woodruff's interval: the log-quantiles at
//!   ranks n·p ∓ 1.96·√(n·p·(1−p)), half their distance over 1.96, squared);
//! - errors: its error and request counts.
//!
//! **Arm-level decision** (is the canary fleet worse?), per latency quantile: the two-sample
//! t statistic on the hosts' θ — Δ = mean(canary) − mean(baseline), the variance pooled
//! within arms (s², df = k_b + k_c − 2, so the spread includes each host's sampling noise),
//! SE = s·√(1/k_b + 1/k_c). For errors: the canary's share of all errors given the requests,
//! an exact conditional binomial test with counts divided by the hosts' overdispersion φ
//! (Pearson X² within arms over its df, at least 1: a quasi-Poisson model). Fail when the
//! difference is significant and the estimate lies beyond the band, as the sequential
//! judge does; pass when the one-sided confidence bound lies inside the band; otherwise
//! continue, and at the horizon inconclusive — with the reason "host-to-host spread ±9%
//! exceeds the ±5% band: add hosts or widen the band" when the hosts could never resolve
//! the band.
//!
//! **Host-level rule** (is one canary host broken?): canary host j against the other hosts'
//! spread — its θ_j against the baseline mean with the variance s² (pooled within arms from
//! the baseline hosts and the *other* canary hosts) + the excess sampling noise of host j
//! over the pooled hosts' mean + s²/k_b, referred to Student's t with that df: a
//! prediction interval. Errors: host j's errors against the baseline's rate (conditional
//! binomial, counts divided by φ of the baseline and the other canary hosts). A host
//! beyond the critical value **fails the analysis with the host named**.
//!
//! **Guarantee.** If under "no change" the hosts' summaries are independent draws of one
//! normal distribution (latency: host effects normal, each host's quantile estimate close
//! to normal, and hosts in both arms serving similar traffic, or the excess-noise term
//! covers the difference), each test at each look is exact at its level; errors are exact
//! for Poisson counts and conservative for overdispersion estimated at or below the
//! truth. The levels are split by Bonferroni — over the metrics (the caller's `pairs`),
//! between the arm-level and the host-level rule (half each), over the quantiles, over the
//! canary hosts (host rule) and over the looks of a fixed schedule ([`schedule`]) — so
//! P(any false failure) ≤ α. Looks are not every scrape: a fleet's host spread is fixed,
//! so looking more often buys little but costs α. Latency looks at 1, 2, 3 and 5 minutes,
//! then every 5 (9 looks in 30 minutes); error counts every minute. The fleet test and the
//! error tests spend equally over their looks; the host rule spends ⅔ of its α on the four
//! looks of the first 5 minutes and ⅓ on the later ones ([`front_loaded`]; the shares sum
//! to 1, a weighted Bonferroni): once a host's quantile has a few minutes of requests
//! behind it, its sampling noise is below the host spread, so later looks add little
//! evidence about a host broken from the start — they remain for hosts that break later,
//! at a larger critical value. A fleet-wide shift of a tail quantile, by contrast, gathers
//! evidence with every request, so the fleet test keeps its equal shares.
//!
//! **What hosts can resolve.** The smallest fleet-wide shift the arm test can tell apart
//! is about t·s·√(1/k_b + 1/k_c): with 3 hosts per arm and 10% host spread, t(4 df, at
//! 0.1% one-sided) ≈ 7.2 gives ±59% — a ±5% band cannot be resolved; with 10 hosts per
//! arm and 5% spread, ≈ ±9%. The host rule needs a broken host to stand t·s·√(1 + 1/k_b)
//! above the fleet: with 5 hosts per arm and 5% spread, about 1.6×.

use ndarray::{Array2, Axis};
use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF, StudentsT};
use statrs::function::beta::beta_reg;

use crate::format::num;

/// Baseline and canary, by index.
pub const BASELINE: usize = 0;
pub const CANARY: usize = 1;

/// z of the Woodruff interval used for a host quantile's sampling variance.
const WOODRUFF_Z: f64 = 1.96;

/// Fewest requests a host needs before its latency quantile is used.
pub const MIN_HOST_REQUESTS: f64 = 20.0;

/// Fewest requests expected beyond a host's quantile (n·min(p, 1 − p)) before it is used:
/// below that the estimate is far from normal (a p99 of 50 requests is their maximum) and
/// the t reference does not hold.
pub const MIN_TAIL_REQUESTS: f64 = 10.0;

/// A look schedule over `horizon` batches with a minute (or any unit) of `every` batches:
/// batch counts (1-based, ascending) at which a test looks, the last at the horizon.
/// `sparse`: at 1, 2, 3 and 5 units, then every 5 (a 30-minute analysis looks 9 times) —
/// for latency quantiles over few hosts, where each look costs a larger t; otherwise at
/// every unit (30 looks) — for error counts, tested exactly, where a broken host's counts
/// are extreme and a look costs little.
pub fn schedule(horizon: usize, every: usize, sparse: bool) -> Vec<usize> {
    let top = horizon.max(1);
    let every = every.max(1);
    let mut v: Vec<usize> = if sparse {
        [1, 2, 3, 5]
            .into_iter()
            .map(|k| k * every)
            .chain((2..).map(|k| k * 5 * every).take_while(|&b| b < top))
            .collect()
    } else {
        (1..).map(|k| k * every).take_while(|&b| b < top).collect()
    };
    v.retain(|&b| b < top);
    v.push(top);
    v
}

/// Settings of a host-level analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct HostsConfig {
    /// False-alarm budget of this metric pair (the caller's share of the analysis' α).
    pub alpha: f64,
    /// The deviation band (0.05: the canary may be 5% worse).
    pub tolerance: f64,
    /// Latency quantiles compared host by host (the first is the host rule's).
    pub quantiles: Vec<f64>,
    /// Batch counts at which the test looks ([`schedule`]). Data that ends before the
    /// last look gets one more look at its end, on the next look's share.
    pub looks: Vec<usize>,
    /// The host rule's share of α at each look, in the order of `looks` (summing to at
    /// most 1; [`front_loaded`]). Empty: α / (number of looks) at every look. The fleet
    /// test and the error-count tests always spend equally over the looks: a fleet-wide
    /// shift of a tail quantile gathers evidence with every request, while a broken host
    /// stands out of a host spread that more requests do not shrink.
    pub spend: Vec<f64>,
}

/// Share of α spent by the looks of the first [`EARLY_UNITS`] units (minutes) of a sparse
/// schedule.
pub const EARLY_SHARE: f64 = 2.0 / 3.0;

/// The looks that count as early: those at or before this many units (minutes).
pub const EARLY_UNITS: usize = 5;

/// Shares of α for the looks of a sparse [`schedule`] with a unit of `every` batches: the
/// looks at or before [`EARLY_UNITS`] units share [`EARLY_SHARE`] equally, the later ones
/// the rest equally (a group without looks leaves its share to the other). The shares sum
/// to 1.
pub fn front_loaded(looks: &[usize], every: usize) -> Vec<f64> {
    let limit = EARLY_UNITS * every.max(1);
    let early = looks.iter().filter(|&&b| b <= limit).count();
    let late = looks.len() - early;
    let (early_share, late_share) = match (early, late) {
        (0, _) => (0.0, 1.0),
        (_, 0) => (1.0, 0.0),
        _ => (EARLY_SHARE, 1.0 - EARLY_SHARE),
    };
    looks
        .iter()
        .map(|&b| {
            if b <= limit {
                early_share / early as f64
            } else {
                late_share / late as f64
            }
        })
        .collect()
}

impl Default for HostsConfig {
    fn default() -> Self {
        let looks = schedule(180, 6, true);
        HostsConfig {
            alpha: 0.01,
            tolerance: 0.05,
            quantiles: vec![0.5, 0.9, 0.99],
            spend: front_loaded(&looks, 6),
            looks,
        }
    }
}

/// Where a host-level analysis stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum HostOutcome {
    /// Not decided yet.
    Continue,
    /// The canary fleet is worse, or canary hosts are broken (`hosts`, canary host indices;
    /// empty when only the fleet as a whole is worse).
    Fail { hosts: Vec<usize>, reason: String },
    /// The canary fleet is proven inside the band.
    Pass { reason: String },
    /// The horizon came without a decision.
    Inconclusive { reason: String },
}

impl HostOutcome {
    /// True once decided (fail, pass or inconclusive).
    pub fn is_decided(&self) -> bool {
        !matches!(self, HostOutcome::Continue)
    }
}

/// What is kept per host.
#[derive(Debug, Clone)]
enum Data {
    /// Cumulative latency histograms, one row per host (bucket counts, not cumulative in
    /// `le`), with the buckets' upper bounds.
    Latency {
        bounds: Vec<f64>,
        hist: [Array2<f64>; 2],
    },
    /// Cumulative (requests, errors), one row per host.
    Counts { counts: [Array2<f64>; 2] },
}

/// The streaming host-level analysis of one metric pair.
#[derive(Debug, Clone)]
pub struct HostTest {
    config: HostsConfig,
    data: Data,
    batches: usize,
    /// Looks taken so far (an index into `config.looks`).
    looks: usize,
    /// Whether the last batch was looked at.
    looked: bool,
    outcome: HostOutcome,
    /// Host names per arm, for reasons (default: their indices).
    names: [Vec<String>; 2],
    /// The last look's per-host summaries, for reports: `[arm][host]`.
    pub last: [Vec<HostSummary>; 2],
}

/// One host's summary at a look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSummary {
    /// Latency: exp(θ), the host's quantile (the host rule's); errors: its error rate.
    pub value: f64,
    /// Requests it served so far.
    pub requests: f64,
    /// Whether the host rule found it beyond the others (canary hosts only).
    pub beyond: bool,
}

impl HostTest {
    /// A latency test on histograms with these upper bounds (ascending, the last may be ∞),
    /// `hosts` per arm.
    pub fn latency(config: HostsConfig, bounds: &[f64], hosts: [usize; 2]) -> Self {
        let n = bounds.len();
        Self::new(
            config,
            Data::Latency {
                bounds: bounds.to_vec(),
                hist: hosts.map(|k| Array2::zeros((k, n))),
            },
        )
    }

    /// An error-count test, `hosts` per arm.
    pub fn counts(config: HostsConfig, hosts: [usize; 2]) -> Self {
        Self::new(
            config,
            Data::Counts {
                counts: hosts.map(|k| Array2::zeros((k, 2))),
            },
        )
    }

    fn new(config: HostsConfig, data: Data) -> Self {
        let hosts = match &data {
            Data::Latency { hist, .. } => [hist[0].nrows(), hist[1].nrows()],
            Data::Counts { counts } => [counts[0].nrows(), counts[1].nrows()],
        };
        HostTest {
            names: hosts.map(|k| (0..k).map(|h| h.to_string()).collect()),
            config,
            data,
            batches: 0,
            looks: 0,
            looked: false,
            outcome: HostOutcome::Continue,
            last: [Vec::new(), Vec::new()],
        }
    }

    /// Name the hosts in reasons (`names[arm][host]`; missing names stay indices).
    pub fn with_names(mut self, names: [Vec<String>; 2]) -> Self {
        for arm in [BASELINE, CANARY] {
            for (slot, name) in self.names[arm].iter_mut().zip(&names[arm]) {
                slot.clone_from(name);
            }
        }
        self
    }

    /// The decision so far.
    pub fn outcome(&self) -> &HostOutcome {
        &self.outcome
    }

    /// Add one host's latency bucket increments `(bucket index, count)`.
    pub fn add_latency(&mut self, arm: usize, host: usize, buckets: &[(u32, f64)]) {
        if let Data::Latency { hist, .. } = &mut self.data {
            let mut row = hist[arm].row_mut(host);
            for &(i, c) in buckets {
                if let Some(slot) = row.get_mut(i as usize) {
                    *slot += c;
                }
            }
        }
    }

    /// Add one host's request and error increments.
    pub fn add_counts(&mut self, arm: usize, host: usize, requests: f64, errors: f64) {
        if let Data::Counts { counts } = &mut self.data {
            counts[arm][[host, 0]] += requests;
            counts[arm][[host, 1]] += errors;
        }
    }

    /// The end of a batch: decide when it is a look. A failure stands; a pass holds until
    /// a later look finds otherwise (a regression that begins later still fails: every
    /// look has its own share of α).
    pub fn end_batch(&mut self) -> &HostOutcome {
        self.batches += 1;
        self.looked = false;
        if self.config.looks.get(self.looks) == Some(&self.batches) {
            self.look(false);
        }
        &self.outcome
    }

    /// The end of the data: a last look (on the next look's share, unless the last batch
    /// was a look or every look is spent), and what is still undecided becomes
    /// inconclusive, with the reason.
    pub fn finish(&mut self) -> &HostOutcome {
        if matches!(
            self.outcome,
            HostOutcome::Fail { .. } | HostOutcome::Inconclusive { .. }
        ) {
            return &self.outcome;
        }
        if self.looked {
            // Judge the last look again as the horizon: the same test at the same level.
            self.looks -= 1;
            self.look(true);
        } else if self.looks < self.config.looks.len() {
            self.look(true);
        } else if matches!(self.outcome, HostOutcome::Continue) {
            self.outcome = HostOutcome::Inconclusive {
                reason: "every look of the schedule was spent without a decision".into(),
            };
        }
        &self.outcome
    }

    /// Looks taken so far.
    pub fn looks(&self) -> usize {
        self.looks
    }

    /// The share of α of look `k` (0-based): its entry of `spend`, or an equal share.
    fn share(&self, k: usize) -> f64 {
        let n = self.config.looks.len().max(1);
        match self.config.spend.get(k.min(n - 1)) {
            Some(&w) if self.config.spend.len() == self.config.looks.len() => w,
            _ => 1.0 / n as f64,
        }
    }

    /// Looks in the schedule.
    pub fn planned_looks(&self) -> usize {
        self.config.looks.len()
    }

    fn look(&mut self, horizon: bool) {
        if matches!(
            self.outcome,
            HostOutcome::Fail { .. } | HostOutcome::Inconclusive { .. }
        ) {
            return;
        }
        self.looks += 1;
        self.looked = true;
        // The host rule spends by the schedule's shares, the fleet test equally over the
        // looks (see `spend`).
        let level = self.config.alpha * self.share(self.looks - 1);
        let equal = self.config.alpha / self.config.looks.len().max(1) as f64;
        let (out, last) = match &self.data {
            Data::Latency { bounds, hist } => judge_latency(
                &self.config,
                &self.names,
                bounds,
                hist,
                Levels {
                    fleet: equal,
                    host: level,
                },
                horizon,
            ),
            Data::Counts { counts } => {
                judge_counts(&self.config, &self.names, counts, level, horizon)
            }
        };
        self.outcome = out;
        self.last = last;
    }
}

/// ln of the quantile at rank `r` (0 < r ≤ n) of a histogram, interpolated geometrically
/// within its bucket.
fn log_quantile_at_rank(bounds: &[f64], counts: &[f64], r: f64) -> f64 {
    let mut cum = 0.0;
    for (k, (&b, &c)) in bounds.iter().zip(counts).enumerate() {
        if c > 0.0 && cum + c >= r {
            let lower = if k == 0 { b / 2.0 } else { bounds[k - 1] };
            if !b.is_finite() {
                return lower.ln();
            }
            let f = ((r - cum) / c).clamp(0.0, 1.0);
            return lower.ln() + f * (b.ln() - lower.ln());
        }
        cum += c;
    }
    bounds
        .iter()
        .rev()
        .find(|b| b.is_finite())
        .map_or(0.0, |b| b.ln())
}

/// A host's log-quantile at level p and its sampling variance, or `None` with too few
/// requests.
fn host_log_quantile(bounds: &[f64], counts: &[f64], p: f64) -> Option<(f64, f64, f64)> {
    let n: f64 = counts.iter().sum();
    if n < MIN_HOST_REQUESTS || n * p.min(1.0 - p) < MIN_TAIL_REQUESTS {
        return None;
    }
    let half = WOODRUFF_Z * (n * p * (1.0 - p)).sqrt();
    let clamp = |r: f64| r.clamp(0.5, n);
    let theta = log_quantile_at_rank(bounds, counts, clamp(n * p));
    let lo = log_quantile_at_rank(bounds, counts, clamp(n * p - half));
    let hi = log_quantile_at_rank(bounds, counts, clamp(n * p + half));
    let v = ((hi - lo) / (2.0 * WOODRUFF_Z)).powi(2);
    Some((theta, v, n))
}

/// One host's summary at one quantile.
#[derive(Debug, Clone, Copy)]
struct Obs {
    host: usize,
    /// ln of the host's quantile.
    theta: f64,
    /// Sampling variance of `theta`.
    v: f64,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sum of squared deviations from the mean.
fn ss(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum()
}

/// One-sided upper critical value of Student's t with `df` degrees of freedom at level `a`.
pub fn t_critical(df: f64, a: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::INFINITY, |t| t.inverse_cdf(1.0 - a))
}

fn pct(log_ratio: f64) -> String {
    format!("{}%", num((log_ratio.exp() - 1.0) * 100.0))
}

type Judged = (HostOutcome, [Vec<HostSummary>; 2]);

/// A look's α for the latency tests, before the half-and-half split between them: the
/// fleet test's (an equal share of the looks) and the host rule's (the schedule's share).
#[derive(Debug, Clone, Copy)]
struct Levels {
    fleet: f64,
    host: f64,
}

fn judge_latency(
    cfg: &HostsConfig,
    names: &[Vec<String>; 2],
    bounds: &[f64],
    hist: &[Array2<f64>; 2],
    levels: Levels,
    horizon: bool,
) -> Judged {
    let band = (1.0 + cfg.tolerance).ln();
    // Half the budget to the fleet test (split over quantiles), half to the host rule.
    let arm_level = levels.fleet / 2.0 / cfg.quantiles.len().max(1) as f64;
    let host_level_total = levels.host / 2.0;
    // Per quantile and arm: the hosts with enough requests.
    let per_q: Vec<[Vec<Obs>; 2]> = cfg
        .quantiles
        .iter()
        .map(|&p| {
            [BASELINE, CANARY].map(|arm| {
                hist[arm]
                    .axis_iter(Axis(0))
                    .enumerate()
                    .filter_map(|(h, row)| {
                        let counts = row.to_vec();
                        host_log_quantile(bounds, &counts, p).map(|(theta, v, _)| Obs {
                            host: h,
                            theta,
                            v,
                        })
                    })
                    .collect()
            })
        })
        .collect();
    let mut last = [BASELINE, CANARY].map(|arm| {
        (0..hist[arm].nrows())
            .map(|h| HostSummary {
                value: f64::NAN,
                requests: hist[arm].row(h).sum(),
                beyond: false,
            })
            .collect::<Vec<_>>()
    });
    if let Some(first) = per_q.first() {
        for arm in [BASELINE, CANARY] {
            for o in &first[arm] {
                last[arm][o.host].value = o.theta.exp();
            }
        }
    }

    // Host rule on the first quantile.
    let mut named = Vec::new();
    let mut host_reasons = Vec::new();
    if let Some([base, canary]) = per_q.first()
        && base.len() >= 2
        && !canary.is_empty()
    {
        let a = host_level_total / canary.len() as f64;
        let theta_b: Vec<f64> = base.iter().map(|x| x.theta).collect();
        let mb = mean(&theta_b);
        for (
            j,
            &Obs {
                host: h,
                theta: tj,
                v: vj,
            },
        ) in canary.iter().enumerate()
        {
            let others: Vec<f64> = canary
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != j)
                .map(|(_, x)| x.theta)
                .collect();
            let df = (base.len() - 1) + others.len().saturating_sub(1);
            let pooled_ss = ss(&theta_b) + if others.len() >= 2 { ss(&others) } else { 0.0 };
            let s2 = pooled_ss / df as f64;
            let pooled_v: Vec<f64> = base
                .iter()
                .chain(
                    canary
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != j)
                        .map(|x| x.1),
                )
                .map(|x| x.v)
                .collect();
            let excess = (vj - mean(&pooled_v)).max(0.0);
            let var = s2 + excess + s2 / base.len() as f64;
            let z = (tj - mb) / var.sqrt();
            let c = t_critical(df as f64, a);
            if z > c && tj - mb > band {
                last[CANARY][h].beyond = true;
                named.push(h);
                host_reasons.push(format!(
                    "canary host {}'s p{} {} is {} above the baseline hosts' {} (t = {} > {} with {} baseline hosts, {df} df)",
                    names[CANARY][h],
                    num(cfg.quantiles[0] * 100.0),
                    num(tj.exp()),
                    pct(tj - mb),
                    num(mb.exp()),
                    num(z),
                    num(c),
                    base.len()
                ));
            }
        }
    }
    if !named.is_empty() {
        return (
            HostOutcome::Fail {
                hosts: named,
                reason: host_reasons.join("; "),
            },
            last,
        );
    }

    // Fleet test per quantile.
    let mut fleet_fail = Vec::new();
    let mut passes = 0;
    let mut unresolvable = None;
    let mut waiting = Vec::new();
    for (p, [base, canary]) in cfg.quantiles.iter().zip(&per_q) {
        let (kb, kc) = (base.len(), canary.len());
        if kb + kc < 3 || kb == 0 || kc == 0 {
            waiting.push(format!(
                "p{}: {kb} baseline and {kc} canary hosts with data (at least 3 in all, one per arm, are needed to judge hosts as the unit)",
                num(p * 100.0)
            ));
            continue;
        }
        let tb: Vec<f64> = base.iter().map(|x| x.theta).collect();
        let tc: Vec<f64> = canary.iter().map(|x| x.theta).collect();
        let df = (kb + kc - 2) as f64;
        let s2 = (ss(&tb) + ss(&tc)) / df;
        let se = (s2 * (1.0 / kb as f64 + 1.0 / kc as f64)).sqrt();
        let d = mean(&tc) - mean(&tb);
        let c = t_critical(df, arm_level);
        let label = format!("p{}", num(p * 100.0));
        if d - c * se > 0.0 && d > band {
            fleet_fail.push(format!(
                "{label}: the canary hosts are {} slower than the baseline hosts (confidence bound {} > 0, band +{}; {kb} + {kc} hosts, spread ±{})",
                pct(d),
                pct(d - c * se),
                pct(band),
                pct(s2.sqrt())
            ));
        } else if d + c * se <= band {
            passes += 1;
        } else {
            if c * se > band {
                unresolvable = Some(format!(
                    "host-to-host spread ±{} ({kb} + {kc} hosts) exceeds the +{} band at {label}: these hosts can only tell shifts beyond ±{}; add hosts or widen the band",
                    pct(s2.sqrt()),
                    pct(band),
                    pct(c * se)
                ));
            }
            waiting.push(format!(
                "{label}: canary hosts {} vs baseline hosts, upper bound {} (band +{})",
                pct(d),
                pct(d + c * se),
                pct(band)
            ));
        }
    }
    let outcome = if !fleet_fail.is_empty() {
        HostOutcome::Fail {
            hosts: Vec::new(),
            reason: fleet_fail.join("; "),
        }
    } else if passes == cfg.quantiles.len() && passes > 0 {
        HostOutcome::Pass {
            reason: "every compared quantile of the canary hosts is within the band of the baseline hosts (hosts as the unit)".into(),
        }
    } else if horizon {
        HostOutcome::Inconclusive {
            reason: unresolvable.unwrap_or_else(|| waiting.join("; ")),
        }
    } else {
        HostOutcome::Continue
    };
    (outcome, last)
}

/// P(X ≥ x) for X ~ Binomial(m, π), continuous in x and m (regularised incomplete beta).
fn binomial_upper_tail(x: f64, m: f64, pi: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x > m {
        return 0.0;
    }
    beta_reg(x, m - x + 1.0, pi)
}

/// Pearson overdispersion of hosts' error counts around their arm's rate, summed over
/// groups: (X², df).
fn pearson(groups: &[Vec<(f64, f64)>]) -> (f64, usize) {
    let mut x2 = 0.0;
    let mut df = 0;
    for g in groups {
        if g.len() < 2 {
            continue;
        }
        let (n, e) = g.iter().fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
        if n <= 0.0 || e <= 0.0 {
            df += g.len() - 1;
            continue;
        }
        let p = e / n;
        for &(nh, eh) in g {
            let expected = nh * p;
            if expected > 0.0 {
                x2 += (eh - expected).powi(2) / (expected * (1.0 - p).max(1e-12));
            }
        }
        df += g.len() - 1;
    }
    (x2, df)
}

/// The hosts' overdispersion φ (at least 1: Poisson) and the df it was estimated with.
fn dispersion(groups: &[Vec<(f64, f64)>]) -> (f64, usize) {
    let (x2, df) = pearson(groups);
    let phi = if df == 0 {
        1.0
    } else {
        (x2 / df as f64).max(1.0)
    };
    (phi, df)
}

/// A one-sided p-value computed with an estimated dispersion, referred to Student's t
/// with the estimate's df instead of the normal (quasi-likelihood practice: the estimate
/// is uncertain, most so from few hosts or few errors). Without an estimate (df 0) the
/// p-value stands as computed (Poisson).
fn studentize(p: f64, df: usize) -> f64 {
    if df == 0 || p <= 0.0 || p >= 1.0 {
        return p;
    }
    let z = statrs::distribution::Normal::standard().inverse_cdf(1.0 - p);
    StudentsT::new(0.0, 1.0, df as f64).map_or(p, |t| 1.0 - t.cdf(z))
}

fn judge_counts(
    cfg: &HostsConfig,
    names: &[Vec<String>; 2],
    counts: &[Array2<f64>; 2],
    level: f64,
    horizon: bool,
) -> Judged {
    let rows = |arm: usize| -> Vec<(f64, f64)> {
        counts[arm]
            .axis_iter(Axis(0))
            .map(|r| (r[0], r[1]))
            .collect()
    };
    let (base, canary) = (rows(BASELINE), rows(CANARY));
    let rate = |v: &[(f64, f64)]| {
        let (n, e) = v.iter().fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
        (n, e)
    };
    let mut last = [&base, &canary].map(|v| {
        v.iter()
            .map(|&(n, e)| HostSummary {
                value: if n > 0.0 { e / n } else { f64::NAN },
                requests: n,
                beyond: false,
            })
            .collect::<Vec<_>>()
    });
    let (nb, eb) = rate(&base);
    let (nc, ec) = rate(&canary);
    if nb <= 0.0 || nc <= 0.0 {
        let outcome = if horizon {
            HostOutcome::Inconclusive {
                reason: "no requests in one arm: nothing to judge".into(),
            }
        } else {
            HostOutcome::Continue
        };
        return (outcome, last);
    }
    let band = 1.0 + cfg.tolerance;

    // Host rule: each canary host against the baseline's rate.
    let active: Vec<usize> = (0..canary.len()).filter(|&h| canary[h].0 > 0.0).collect();
    let mut named = Vec::new();
    let mut reasons = Vec::new();
    if !active.is_empty() {
        let a = level / 2.0 / active.len() as f64;
        for &j in &active {
            let others: Vec<(f64, f64)> = active
                .iter()
                .filter(|&&i| i != j)
                .map(|&i| canary[i])
                .collect();
            let (phi, df) = dispersion(&[base.clone(), others]);
            let (nj, ej) = canary[j];
            let pi0 = nj / (nj + nb);
            let p = studentize(binomial_upper_tail(ej / phi, (ej + eb) / phi, pi0), df);
            let ratio = if eb > 0.0 {
                (ej / nj) / (eb / nb)
            } else {
                f64::INFINITY
            };
            if p < a && ratio > band {
                last[CANARY][j].beyond = true;
                named.push(j);
                reasons.push(format!(
                    "canary host {} fails {} of its requests against the baseline's {} ({} of {}; p = {} < {}, dispersion {})",
                    names[CANARY][j],
                    crate::format::percent(ej / nj),
                    crate::format::percent(eb / nb),
                    num(ej),
                    num(nj),
                    crate::format::p_value(Some(p)),
                    crate::format::p_value(Some(a)),
                    num(phi)
                ));
            }
        }
    }
    if !named.is_empty() {
        return (
            HostOutcome::Fail {
                hosts: named,
                reason: reasons.join("; "),
            },
            last,
        );
    }

    // Fleet: the canary's share of all errors, counts divided by the hosts' dispersion.
    let a = level / 2.0;
    let (phi, df) = dispersion(&[base.clone(), canary.clone()]);
    let pi0 = nc / (nc + nb);
    let (x, m) = (ec / phi, (ec + eb) / phi);
    let p = studentize(binomial_upper_tail(x, m, pi0), df);
    let ratio = if eb > 0.0 {
        (ec / nc) / (eb / nb)
    } else {
        f64::INFINITY
    };
    let outcome = if p < a && ratio > band {
        HostOutcome::Fail {
            hosts: Vec::new(),
            reason: format!(
                "the canary hosts fail {} of requests against the baseline hosts' {} (ratio {}, band {}; p = {}, dispersion {})",
                crate::format::percent(ec / nc),
                crate::format::percent(eb / nb),
                num(ratio),
                num(band),
                crate::format::p_value(Some(p)),
                num(phi)
            ),
        }
    } else {
        // Upper confidence bound of the canary's share π, then of the rate ratio.
        let upper_pi =
            Beta::new(x + 1.0, (m - x).max(0.0) + 1e-9).map_or(1.0, |b| b.inverse_cdf(1.0 - a));
        let upper_ratio = if upper_pi >= 1.0 {
            f64::INFINITY
        } else {
            upper_pi / (1.0 - upper_pi) * (nb / nc)
        };
        if upper_ratio <= band {
            HostOutcome::Pass {
                reason: format!(
                    "the canary hosts' error rate is at most {}× the baseline hosts' (band {})",
                    num(upper_ratio),
                    num(band)
                ),
            }
        } else if horizon {
            HostOutcome::Inconclusive {
                reason: format!(
                    "error-rate ratio {} with upper bound {} (band {}): not enough errors to decide",
                    num(ratio),
                    num(upper_ratio),
                    num(band)
                ),
            }
        } else {
            HostOutcome::Continue
        }
    };
    (outcome, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_look_early_then_regularly() {
        assert_eq!(
            schedule(180, 6, true),
            vec![6, 12, 18, 30, 60, 90, 120, 150, 180]
        );
        assert_eq!(schedule(180, 6, false).len(), 30);
        assert_eq!(schedule(1, 6, true), vec![1]);
        assert_eq!(schedule(20, 6, true), vec![6, 12, 18, 20]);
    }

    #[test]
    fn t_critical_matches_tables() {
        // Student's t, one-sided 0.1%, 7 df: 4.785; 0.5%, 4 df: 4.604.
        assert!((t_critical(7.0, 0.001) - 4.785).abs() < 2e-3);
        assert!((t_critical(4.0, 0.005) - 4.604).abs() < 2e-3);
    }

    #[test]
    fn binomial_tail_matches_a_direct_sum() {
        // P(X ≥ 3), X ~ Bin(10, 0.2) = 1 − P(X ≤ 2) = 0.32220047.
        assert!((binomial_upper_tail(3.0, 10.0, 0.2) - 0.322_200_473_6).abs() < 1e-6);
        assert_eq!(binomial_upper_tail(0.0, 10.0, 0.2), 1.0);
    }

    #[test]
    fn a_histogram_quantile_lands_in_its_bucket() {
        let bounds = [1.0, 2.0, 4.0, f64::INFINITY];
        let counts = [10.0, 10.0, 10.0, 0.0];
        let q = log_quantile_at_rank(&bounds, &counts, 15.0).exp();
        assert!((1.0..=2.0).contains(&q), "{q}");
        assert!((q - 2f64.sqrt()).abs() < 1e-9, "geometric midpoint: {q}");
    }
}
