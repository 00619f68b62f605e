//! Latency with hosts as the unit: each host's quantile from its own histogram (with its
//! sampling variance), the fleet comparison per quantile, the host rule, and the pass side
//! on a later stretch.

use super::*;

/// ln of the quantile at rank `r` (0 < r ≤ n) of a histogram, interpolated geometrically
/// within its bucket.
pub(super) fn log_quantile_at_rank(bounds: &[f64], counts: &[f64], r: f64) -> f64 {
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
pub(super) fn host_log_quantile(bounds: &[f64], counts: &[f64], p: f64) -> Option<(f64, f64, f64)> {
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
pub(super) struct Obs {
    pub(super) host: usize,
    /// ln of the host's quantile.
    pub(super) theta: f64,
    /// Sampling variance of `theta`.
    pub(super) v: f64,
}

pub(super) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sum of squared deviations from the mean.
pub(super) fn ss(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum()
}

/// One-sided upper critical value of Student's t with `df` degrees of freedom at level `a`.
pub fn t_critical(df: f64, a: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::INFINITY, |t| t.inverse_cdf(1.0 - a))
}

pub(super) fn pct(log_ratio: f64) -> String {
    format!("{}%", num((log_ratio.exp() - 1.0) * 100.0))
}

/// A look's α for the latency tests, before the half-and-half split between them: the
/// fleet test's (an equal share of the looks) and the host rule's (the schedule's share).
#[derive(Debug, Clone, Copy)]
pub(super) struct Levels {
    pub(super) fleet: f64,
    pub(super) host: f64,
}

/// Per compared quantile and arm: the hosts with enough requests, summarised.
pub(super) fn per_quantile(
    cfg: &HostsConfig,
    bounds: &[f64],
    hist: &[Array2<f64>; 2],
) -> Vec<[Vec<Obs>; 2]> {
    cfg.quantiles
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
        .collect()
}

/// The fleet comparison of one quantile: the canary hosts' mean log-quantile minus the
/// baseline hosts', its standard error from the spread pooled within arms, and its df;
/// `None` with fewer than 3 hosts in all or an arm without any.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fleet {
    pub(super) d: f64,
    pub(super) se: f64,
    pub(super) df: f64,
    pub(super) spread: f64,
}

pub(super) fn fleet(base: &[Obs], canary: &[Obs]) -> Option<Fleet> {
    let (kb, kc) = (base.len(), canary.len());
    if kb + kc < 3 || kb == 0 || kc == 0 {
        return None;
    }
    let tb: Vec<f64> = base.iter().map(|x| x.theta).collect();
    let tc: Vec<f64> = canary.iter().map(|x| x.theta).collect();
    let df = (kb + kc - 2) as f64;
    let s2 = (ss(&tb) + ss(&tc)) / df;
    Some(Fleet {
        d: mean(&tc) - mean(&tb),
        se: (s2 * (1.0 / kb as f64 + 1.0 / kc as f64)).sqrt(),
        df,
        spread: s2.sqrt(),
    })
}

/// The pass side on a later stretch of latency data (the horizon's pass level):
/// `Ok(true)` when every quantile's upper bound lies inside its pass band, `Err(reason)`
/// when one does not or a quantile has too few hosts with data.
pub(super) fn latency_stretch(
    cfg: &HostsConfig,
    bounds: &[f64],
    hist: &[Array2<f64>; 2],
) -> Result<bool, String> {
    let per_q = per_quantile(cfg, bounds, hist);
    let mut outside = Vec::new();
    for (i, (p, [base, canary])) in cfg.quantiles.iter().zip(&per_q).enumerate() {
        let Some(f) = fleet(base, canary) else {
            outside.push(format!(
                "p{}: {} baseline and {} canary hosts with enough requests",
                num(p * 100.0),
                base.len(),
                canary.len()
            ));
            continue;
        };
        let band = (1.0 + cfg.pass_band(i)).ln();
        let c = t_critical(f.df, cfg.pass.alpha);
        if f.d + c * f.se > band {
            outside.push(format!(
                "p{}: canary hosts {}, upper bound {} (pass band +{})",
                num(p * 100.0),
                pct(f.d),
                pct(f.d + c * f.se),
                pct(band)
            ));
        }
    }
    if outside.is_empty() {
        Ok(true)
    } else {
        Err(outside.join("; "))
    }
}

pub(super) fn judge_latency(
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
    let per_q = per_quantile(cfg, bounds, hist);
    let mut last = host_summaries(hist, &per_q);
    let (named, host_reasons) = host_rule(cfg, names, &per_q, band, host_level_total, &mut last);
    if !named.is_empty() {
        return (
            HostOutcome::Fail {
                hosts: named,
                reason: host_reasons.join("; "),
            },
            last,
            Vec::new(),
        );
    }
    let (outcome, bounds) = fleet_tests(cfg, &per_q, band, arm_level, horizon);
    (outcome, last, bounds)
}

/// Every host's requests, and its first quantile where it has enough of them.
fn host_summaries(hist: &[Array2<f64>; 2], per_q: &[[Vec<Obs>; 2]]) -> [Vec<HostSummary>; 2] {
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

    last
}

/// The host rule on the first quantile: each canary host against the baseline hosts,
/// Bonferroni over the canary hosts; the hosts beyond, marked in `last`, and why.
fn host_rule(
    cfg: &HostsConfig,
    names: &[Vec<String>; 2],
    per_q: &[[Vec<Obs>; 2]],
    band: f64,
    host_level_total: f64,
    last: &mut [Vec<HostSummary>; 2],
) -> (Vec<usize>, Vec<String>) {
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
    (named, host_reasons)
}

/// The fleet test per quantile: the canary hosts against the baseline hosts (Welch), its
/// fail side at `arm_level`, its pass side against each quantile's pass band.
fn fleet_tests(
    cfg: &HostsConfig,
    per_q: &[[Vec<Obs>; 2]],
    band: f64,
    arm_level: f64,
    horizon: bool,
) -> (HostOutcome, Vec<HostBound>) {
    let mut fleet_fail = Vec::new();
    let mut passes = 0;
    let mut bounds = Vec::new();
    let mut ruled_out = Vec::new();
    let mut unresolvable = None;
    let mut waiting = Vec::new();
    let pass_level = cfg.pass_level(arm_level, horizon);
    for (i, (p, [base, canary])) in cfg.quantiles.iter().zip(per_q).enumerate() {
        let (kb, kc) = (base.len(), canary.len());
        let Some(Fleet { d, se, df, spread }) = fleet(base, canary) else {
            waiting.push(format!(
                "p{}: {kb} baseline and {kc} canary hosts with data (at least 3 in all, one per arm, are needed to judge hosts as the unit)",
                num(p * 100.0)
            ));
            continue;
        };
        let c = t_critical(df, arm_level);
        let label = format!("p{}", num(p * 100.0));
        let pass_band = (1.0 + cfg.pass_band(i)).ln();
        let cp = t_critical(df, pass_level.unwrap_or(arm_level));
        bounds.push(HostBound {
            quantity: label.clone(),
            upper: (d + cp * se).exp(),
            pass: pass_band.exp(),
        });
        if d - c * se > 0.0 && d > band {
            fleet_fail.push(format!(
                "{label}: the canary hosts are {} slower than the baseline hosts (confidence bound {} > 0, band +{}; {kb} + {kc} hosts, spread ±{})",
                pct(d),
                pct(d - c * se),
                pct(band),
                pct(spread)
            ));
        } else {
            // The pass side: the upper bound at the pass level inside this quantile's
            // pass band (at a look where no pass may be decided, the fail level's bound
            // is what the reason shows).
            let upper = d + cp * se;
            if pass_level.is_some() && upper <= pass_band {
                passes += 1;
                ruled_out.push(format!("{label} > {}", pct(upper)));
                continue;
            }
            if cp * se > pass_band {
                unresolvable = Some(format!(
                    "host-to-host spread ±{} ({kb} + {kc} hosts) exceeds the +{} pass band at {label}: these hosts can only tell shifts beyond ±{}; add hosts or widen the band",
                    pct(spread),
                    pct(pass_band),
                    pct(cp * se)
                ));
            }
            waiting.push(format!(
                "{label}: canary hosts {} vs baseline hosts, upper bound {} (pass band +{})",
                pct(d),
                pct(upper),
                pct(pass_band)
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
            reason: format!(
                "every compared quantile of the canary hosts is within its pass band of the baseline hosts (hosts as the unit); rules out {}",
                ruled_out.join(", ")
            ),
        }
    } else if horizon {
        HostOutcome::Inconclusive {
            reason: unresolvable.unwrap_or_else(|| waiting.join("; ")),
        }
    } else {
        HostOutcome::Continue
    };
    (outcome, bounds)
}
