//! Error counts with hosts as the unit: the canary's share of all errors with the hosts'
//! overdispersion, the host rule, the fleet test and its bound, and the pass side on a
//! later stretch.

use super::*;

/// The upper confidence bound at level `level` of the canary's error-rate ratio from its
/// share `x` of `m` errors (both divided by the dispersion), `base_per_canary` baseline
/// requests per canary request: Clopper–Pearson on the share, then the odds.
pub(super) fn upper_rate_ratio(x: f64, m: f64, base_per_canary: f64, level: f64) -> f64 {
    let upper_pi =
        Beta::new(x + 1.0, (m - x).max(0.0) + 1e-9).map_or(1.0, |b| b.inverse_cdf(1.0 - level));
    if upper_pi >= 1.0 {
        f64::INFINITY
    } else {
        upper_pi / (1.0 - upper_pi) * base_per_canary
    }
}

/// Per arm, each host's (requests, errors).
pub(super) fn host_counts(counts: &[Array2<f64>; 2]) -> [Vec<(f64, f64)>; 2] {
    [BASELINE, CANARY].map(|arm| {
        counts[arm]
            .axis_iter(Axis(0))
            .map(|r| (r[0], r[1]))
            .collect()
    })
}

/// (requests, errors) summed over hosts.
pub(super) fn totals(v: &[(f64, f64)]) -> (f64, f64) {
    v.iter().fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1))
}

/// The pass side on a later stretch of error counts (see [`latency_stretch`]): testable
/// when a canary without change (its share of the errors at its 99th percentile) would
/// bring the bound inside the band.
pub(super) fn counts_stretch(cfg: &HostsConfig, counts: &[Array2<f64>; 2]) -> Result<bool, String> {
    let [base, canary] = host_counts(counts);
    let ((nb, eb), (nc, ec)) = (totals(&base), totals(&canary));
    if nb <= 0.0 || nc <= 0.0 {
        return Ok(false);
    }
    let pi0 = nc / (nc + nb);
    let band = 1.0 + cfg.pass_band(0);
    // Whether the stretch counts depends on its number of errors only (not on the
    // dispersion, which a few hosts estimate loosely: a stretch left out because of a
    // high estimate would let a late regression through).
    let all = ec + eb;
    let x99 = (all * pi0 + STRETCH_Z * (all * pi0 * (1.0 - pi0)).sqrt()).min(all);
    if upper_rate_ratio(x99, all, nb / nc, cfg.pass.alpha) > band {
        return Ok(false);
    }
    let (phi, _) = dispersion(&[base, canary]);
    let (x, m) = (ec / phi, (ec + eb) / phi);
    let upper = upper_rate_ratio(x, m, nb / nc, cfg.pass.alpha);
    if upper <= band {
        Ok(true)
    } else {
        Err(format!(
            "error-rate ratio {}, upper bound {} (pass band {}×)",
            num(if eb > 0.0 {
                (ec / nc) / (eb / nb)
            } else {
                f64::INFINITY
            }),
            num(upper),
            num(band)
        ))
    }
}

/// P(X ≥ x) for X ~ Binomial(m, π), continuous in x and m (regularised incomplete beta).
pub(super) fn binomial_upper_tail(x: f64, m: f64, pi: f64) -> f64 {
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
pub(super) fn pearson(groups: &[Vec<(f64, f64)>]) -> (f64, usize) {
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
pub(super) fn dispersion(groups: &[Vec<(f64, f64)>]) -> (f64, usize) {
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
pub(super) fn studentize(p: f64, df: usize) -> f64 {
    if df == 0 || p <= 0.0 || p >= 1.0 {
        return p;
    }
    let z = statrs::distribution::Normal::standard().inverse_cdf(1.0 - p);
    StudentsT::new(0.0, 1.0, df as f64).map_or(p, |t| 1.0 - t.cdf(z))
}

pub(super) fn judge_counts(
    cfg: &HostsConfig,
    names: &[Vec<String>; 2],
    counts: &[Array2<f64>; 2],
    level: f64,
    horizon: bool,
) -> Judged {
    let [base, canary] = host_counts(counts);
    let mut last = [&base, &canary].map(|v| {
        v.iter()
            .map(|&(n, e)| HostSummary {
                value: if n > 0.0 { e / n } else { f64::NAN },
                requests: n,
                beyond: false,
            })
            .collect::<Vec<_>>()
    });
    let (nb, nc) = (totals(&base).0, totals(&canary).0);
    if nb <= 0.0 || nc <= 0.0 {
        let outcome = if horizon {
            HostOutcome::Inconclusive {
                reason: "no requests in one arm: nothing to judge".into(),
            }
        } else {
            HostOutcome::Continue
        };
        return (outcome, last, Vec::new());
    }
    let band = 1.0 + cfg.tolerance;

    let (named, reasons) = count_host_rule(names, &base, &canary, level, band, &mut last);
    if !named.is_empty() {
        return (
            HostOutcome::Fail {
                hosts: named,
                reason: reasons.join("; "),
            },
            last,
            Vec::new(),
        );
    }

    let (outcome, bounds) = count_fleet(cfg, &base, &canary, level, band, horizon);
    (outcome, last, bounds)
}

/// The host rule: each canary host's errors against the baseline's rate (dispersion from
/// the other hosts), Bonferroni over the canary hosts with requests; the hosts beyond,
/// marked in `last`, and why.
fn count_host_rule(
    names: &[Vec<String>; 2],
    base: &[(f64, f64)],
    canary: &[(f64, f64)],
    level: f64,
    band: f64,
    last: &mut [Vec<HostSummary>; 2],
) -> (Vec<usize>, Vec<String>) {
    let (nb, eb) = totals(base);
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
            let (phi, df) = dispersion(&[base.to_vec(), others]);
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
    (named, reasons)
}

/// The fleet: the canary's share of all errors, counts divided by the hosts' dispersion;
/// its fail side at half of `level`, its pass side against the error rate's pass band.
fn count_fleet(
    cfg: &HostsConfig,
    base: &[(f64, f64)],
    canary: &[(f64, f64)],
    level: f64,
    band: f64,
    horizon: bool,
) -> (HostOutcome, Vec<HostBound>) {
    let ((nb, eb), (nc, ec)) = (totals(base), totals(canary));
    let a = level / 2.0;
    let mut bounds = Vec::new();
    let (phi, df) = dispersion(&[base.to_vec(), canary.to_vec()]);
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
        // Upper confidence bound of the canary's share π at the pass level, then of the
        // rate ratio, against the pass band.
        let pass_level = cfg.pass_level(a, horizon);
        let pass_band = 1.0 + cfg.pass_band(0);
        let upper_ratio = upper_rate_ratio(x, m, nb / nc, pass_level.unwrap_or(a));
        bounds.push(HostBound {
            quantity: "error rate".into(),
            upper: upper_ratio,
            pass: pass_band,
        });
        if pass_level.is_some() && upper_ratio <= pass_band {
            HostOutcome::Pass {
                reason: format!(
                    "the canary hosts' error rate is at most {}× the baseline hosts' (pass band {}×): rules out > {}× error rate",
                    num(upper_ratio),
                    num(pass_band),
                    num(upper_ratio)
                ),
            }
        } else if horizon {
            HostOutcome::Inconclusive {
                reason: format!(
                    "error-rate ratio {} with upper bound {} (pass band {}×): not enough errors to decide",
                    num(ratio),
                    num(upper_ratio),
                    num(pass_band)
                ),
            }
        } else {
            HostOutcome::Continue
        }
    };
    (outcome, bounds)
}
