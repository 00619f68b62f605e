//! `band` with hosts as the unit (`unit_label`): per-interval aggregates kept per host.
//!
//! When the arms are different machines, the arms' pooled aggregates differ by which hosts
//! each drew (real fleets differ 5–15% host to host), in every interval — no band of the
//! baseline's intervals can tell that from a regression. With the aggregates per host,
//! the host is the observation:
//!
//! 1. **Each host's summary**: the median of its intervals (after the log with `log`), or
//!    for shares of requests (`proportion`, event counts) its pooled share
//!    Σ share·requests / Σ requests. Intervals of fewer than `min_requests` requests are
//!    dropped first; a host left without intervals is left out (the reason counts it).
//! 2. **The host rule** (one broken host among healthy ones, the averaged graph that hides
//!    it): each canary host against every other host of both arms — their mean and
//!    standard deviation, raised to the interval band's floors (for shares, the binomial
//!    spread of a host's usual requests) and widened by max(1, √(R / r)) for a canary host
//!    of r requests against baseline hosts of typically R. Under "no change" with normal
//!    host summaries, (y − mean) / (sd·√(1 + 1/(N − 1))) is Student's t with N − 2 degrees
//!    of freedom (N hosts in all); a host fails the pair when it is beyond the t quantile
//!    at its share of α split over the canary hosts (Bonferroni) and beyond every baseline
//!    host. The other canary hosts count towards the spread: with 3 hosts per arm a band
//!    of 3 baseline hosts alone is too uncertain to ever name a host twice as slow, 5
//!    hosts are not. A fleet-wide regression widens the spread, which only makes the rule
//!    more cautious; the fleet test below is for that. Needs 2 baseline hosts and 4 in all.
//! 3. **The fleet test** (every canary host worse, none standing out): Welch's t on the
//!    host summaries, canary against baseline (Satterthwaite's degrees of freedom); with
//!    one host in an arm, Student's t with the other arm's spread (N − 2 degrees of
//!    freedom, the canary's widening applied). Each arm's variance is raised to the
//!    square of the band's floor, so hosts that happened to agree (three hosts with no
//!    error) do not make a narrow test. Under "no change" with normal host summaries (log
//!    latency), its false-alarm rate is its share of α (Welch's approximation).
//!
//! α: the pair's α (halved per side for `either`) is split equally between the fleet test
//! and the host rule (Bonferroni); when the host counts allow only one of them, it gets
//! all. The choice depends on the host counts only, never on the data, so the bound holds.
//! With 3 hosts per arm the fleet test has 2–4 degrees of freedom: only a change several
//! times the hosts' own spread is told from placement, and the reason gives the numbers.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::{BandJudge, Proportion, binomial_floor, num, robust_z};
use crate::effect::mean_ratio;
use crate::hosts::t_critical;
use crate::judgement::{Check, Classification, Judged, Judgement};
use crate::options::MetricOptions;
use crate::sample::Sample;
use crate::stats::{mean, percentile_sorted, sample_std};

/// Baseline hosts the host rule needs (and 4 hosts in all: 2 degrees of freedom).
pub const MIN_BASELINE_HOSTS: usize = 2;
/// One host's row of a host-level band judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct BandHostRow {
    pub host: String,
    /// The host's summary in the data's unit (median interval, or pooled share); `None`
    /// when it had no usable interval.
    pub value: Option<f64>,
    /// Requests behind it (NaN when the data has no counts).
    pub requests: f64,
    /// Beyond the baseline hosts' band (canary hosts only).
    pub beyond: bool,
}

/// A host-level band judgement: the judgement, every host's row (baseline, canary) and the
/// canary hosts the host rule found beyond the baseline hosts.
#[derive(Debug, Clone)]
pub struct BandHosts {
    pub judgement: Judgement,
    pub rows: [Vec<BandHostRow>; 2],
    pub named: Vec<String>,
}

/// A host's summary on the judged scale and its requests.
struct HostValue {
    y: f64,
    requests: f64,
}

/// The fleet test's one-sided p-value that the canary hosts' mean exceeds the baseline's
/// (values signed so that "worse" is larger), and its degrees of freedom: Welch's t when
/// both arms have 2 hosts or more, else Student's t with the larger arm's spread. Each
/// arm's variance is at least `floor`²; `widen2` multiplies the canary's variance (mean
/// squared widening of its hosts) when its spread is borrowed from the baseline.
fn fleet_p(baseline: &[f64], canary: &[f64], floor: f64, widen2: f64) -> (f64, f64) {
    let (nb, nk) = (baseline.len() as f64, canary.len() as f64);
    let (mb, mk) = (mean(baseline), mean(canary));
    let var = |v: &[f64], m: f64| {
        if v.len() < 2 {
            f64::NAN
        } else {
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
        }
    };
    let f2 = floor * floor;
    let (vb, vk) = (var(baseline, mb), var(canary, mk));
    let (se2, df) = if baseline.len() >= 2 && canary.len() >= 2 {
        let (ab, ak) = (vb.max(f2) / nb, vk.max(f2) / nk);
        let df = (ab + ak).powi(2) / (ab * ab / (nb - 1.0) + ak * ak / (nk - 1.0));
        (ab + ak, df)
    } else {
        // One host in an arm: the other arm's spread serves both.
        let (v, df) = if baseline.len() >= 2 {
            (vb, nb - 1.0)
        } else {
            (vk, nk - 1.0)
        };
        let v = v.max(f2);
        (v / nb + v * widen2 / nk, df)
    };
    let diff = mk - mb;
    let p = if se2 > 0.0 {
        StudentsT::new(0.0, 1.0, df.max(1.0)).map_or(1.0, |t| 1.0 - t.cdf(diff / se2.sqrt()))
    } else if diff > 0.0 {
        0.0
    } else {
        1.0
    };
    (p, df)
}

/// [`t_critical`] (Student's t, `df` degrees of freedom, upper tail `a`), memoised for the
/// process: the inverse CDF is found numerically, and an analysis asks for few values.
fn t_quantile(df: usize, a: f64) -> f64 {
    static CACHE: OnceLock<Mutex<HashMap<(usize, u64), f64>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (df, a.to_bits());
    if let Some(t) = cache.lock().ok().and_then(|m| m.get(&key).copied()) {
        return t;
    }
    let t = t_critical(df as f64, a);
    if let Ok(mut m) = cache.lock() {
        m.insert(key, t);
    }
    t
}

/// What both sides' tests need: the hosts with data, each test's α, the floors.
struct Frame<'a> {
    b: Vec<&'a HostValue>,
    k: Vec<&'a HostValue>,
    p_fleet: f64,
    p_rule: f64,
    shares: bool,
    /// The binomial spread of a baseline host's usual requests (shares only).
    sampling_floor: f64,
    /// The usual requests of a baseline host, for the widening and the share floor.
    usual_requests: Option<f64>,
}

impl<'a> Frame<'a> {
    fn new(
        b: Vec<&'a HostValue>,
        k: Vec<&'a HostValue>,
        p_fleet: f64,
        p_rule: f64,
        shares: bool,
        unit: f64,
    ) -> Self {
        let mut b_requests: Vec<f64> = b
            .iter()
            .map(|v| v.requests)
            .filter(|r| r.is_finite())
            .collect();
        b_requests.sort_by(f64::total_cmp);
        let usual_requests = (!b_requests.is_empty()).then(|| percentile_sorted(&b_requests, 0.5));
        let sampling_floor = match usual_requests {
            Some(r) if shares => binomial_floor(b.iter().map(|v| (v.y, v.requests)), unit, r),
            _ => 0.0,
        };
        Frame {
            b,
            k,
            p_fleet,
            p_rule,
            shares,
            sampling_floor,
            usual_requests,
        }
    }

    /// max(1, √(R / r)) for a host of r requests against baseline hosts of typically R.
    fn widen(&self, v: &HostValue) -> f64 {
        match self.usual_requests {
            Some(r) if v.requests.is_finite() && v.requests > 0.0 => {
                (r / v.requests).sqrt().max(1.0)
            }
            _ => 1.0,
        }
    }

    fn what(&self) -> &'static str {
        if self.shares {
            "pooled share"
        } else {
            "median interval"
        }
    }
}

/// One side's fleet test and host rule.
struct SideResult {
    up: bool,
    fleet_p: Option<f64>,
    fleet_df: f64,
    /// Per canary host (judged order): its z against the other hosts, and beyond.
    hosts: Vec<(f64, bool)>,
    critical: f64,
    edge: f64,
    fails: bool,
}

impl SideResult {
    fn worst_z(&self) -> f64 {
        self.hosts
            .iter()
            .map(|h| h.0)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

impl BandJudge {
    /// Judge one metric with hosts as the unit: `baseline` and `canary` are each arm's
    /// hosts (name, per-interval aggregates of that host). See the module docs.
    pub fn judge_hosts(
        &self,
        options: &MetricOptions,
        baseline: &[(String, Sample)],
        canary: &[(String, Sample)],
    ) -> BandHosts {
        let c = &self.config;
        let any_counts = baseline
            .iter()
            .chain(canary)
            .any(|(_, s)| matches!(s, Sample::Counts { .. }));
        let shares = c.proportion.is_some() || any_counts;
        let unit = match c.proportion {
            Some(Proportion::Percent) if !any_counts => 100.0,
            _ => 1.0,
        };
        let (values, error) = self.host_values(baseline, canary, shares);
        let mut rows = self.host_rows(baseline, canary, &values);
        let bare = |classification, reason: String, rows| BandHosts {
            judgement: Judgement::bare(classification, reason),
            rows,
            named: Vec::new(),
        };
        if let Some(e) = error {
            return bare(Classification::Error, e, rows);
        }
        let ys = |arm: usize| -> Vec<&HostValue> { values[arm].iter().flatten().collect() };
        let (b, k) = (ys(0), ys(1));
        let left_out = values.iter().flatten().filter(|v| v.is_none()).count();
        let left_out_text = self.left_out_text(left_out);
        let (up, down, p_fleet, p_rule) =
            match self.host_tests(options, b.len(), k.len(), &left_out_text) {
                Ok(t) => t,
                Err((classification, reason)) => return bare(classification, reason, rows),
            };
        let frame = Frame::new(b, k, p_fleet, p_rule, shares, unit);
        let high = up.then(|| self.host_side(&frame, true));
        let low = down.then(|| self.host_side(&frame, false));
        let failing = |s: &Option<SideResult>| s.as_ref().is_some_and(|s| s.fails);
        let classification = match (failing(&high), failing(&low)) {
            (true, _) => Classification::High,
            (false, true) => Classification::Low,
            _ => Classification::Pass,
        };
        // The side shown: the failing one, else the one with the smaller fleet p or the
        // larger host z.
        let nearness = |s: &SideResult| {
            (s.worst_z() / s.critical)
                .max(-s.fleet_p.unwrap_or(1.0).ln() / -p_fleet.max(1e-300).ln())
        };
        let shown = match (&high, &low) {
            (Some(h), Some(l)) => match classification {
                Classification::High => h,
                Classification::Low => l,
                _ if nearness(l) > nearness(h) => l,
                _ => h,
            },
            (Some(h), None) => h,
            (None, Some(l)) => l,
            (None, None) => unreachable!("a watched direction was checked above"),
        };
        let canary_names: Vec<&String> = canary
            .iter()
            .zip(&values[1])
            .filter(|(_, v)| v.is_some())
            .map(|((n, _), _)| n)
            .collect();
        let named: Vec<String> = shown
            .hosts
            .iter()
            .zip(&canary_names)
            .filter(|(h, _)| h.1)
            .map(|(_, n)| (*n).clone())
            .collect();
        if classification.is_failure() {
            for row in rows[1].iter_mut() {
                row.beyond = named.contains(&row.host);
            }
        }
        let reason = self.hosts_reason(&frame, shown, &canary_names, &named) + &left_out_text;
        let reason = format!("{reason}; {}", self.pairs_text());
        let mut j = Judgement::bare(classification, reason);
        j.critical = options.critical && classification.is_failure();
        self.hosts_judged(&mut j, &frame, shown);
        BandHosts {
            judgement: j,
            rows,
            named,
        }
    }

    /// "; 2 hosts had no interval of 50 requests or more" when hosts were left out.
    fn left_out_text(&self, left_out: usize) -> String {
        if left_out == 0 {
            return String::new();
        }
        format!(
            "; {left_out} hosts had no interval{}",
            if self.config.min_requests > 0.0 {
                format!(" of {} requests or more", num(self.config.min_requests))
            } else {
                String::new()
            }
        )
    }

    /// Which sides are watched and each test's α (the pair's α, halved per side for
    /// `either`, split between the tests the host counts allow); the verdict instead when
    /// the hosts cannot be judged.
    fn host_tests(
        &self,
        options: &MetricOptions,
        n_b: usize,
        n_c: usize,
        left_out_text: &str,
    ) -> Result<(bool, bool, f64, f64), (Classification, String)> {
        if n_b == 0 || n_c == 0 {
            let which = if n_b == 0 { "baseline" } else { "canary" };
            let classification = if options.must_have_data {
                Classification::NodataFail
            } else {
                Classification::Nodata
            };
            return Err((
                classification,
                format!("no {which} host had data{left_out_text}"),
            ));
        }
        let (up, down) = (
            options.direction.watches_increase(),
            options.direction.watches_decrease(),
        );
        if !up && !down {
            return Err((Classification::Error, "no direction is watched".into()));
        }
        let p_side = if up && down {
            self.pair_alpha / 2.0
        } else {
            self.pair_alpha
        };
        let rule_possible = n_b >= MIN_BASELINE_HOSTS && n_b + n_c >= 4;
        let fleet_possible = n_b + n_c >= 3;
        let (p_fleet, p_rule) = match (fleet_possible, rule_possible) {
            (true, true) => (p_side / 2.0, p_side / 2.0),
            (true, false) => (p_side, 0.0),
            (false, true) => (0.0, p_side),
            (false, false) => {
                return Err((
                    Classification::Inconclusive,
                    format!(
                        "hosts as the unit: {n_b} baseline and {n_c} canary hosts are too few to judge — the fleet test needs 3 hosts in all for a spread, the host rule {MIN_BASELINE_HOSTS} baseline hosts and 4 in all{left_out_text}"
                    ),
                ));
            }
        };
        Ok((up, down, p_fleet, p_rule))
    }

    /// Every host's summary per arm (`None` without a usable interval), and the first
    /// host whose data could not be read.
    fn host_values(
        &self,
        baseline: &[(String, Sample)],
        canary: &[(String, Sample)],
        shares: bool,
    ) -> ([Vec<Option<HostValue>>; 2], Option<String>) {
        let mut error = None;
        let mut summarise = |hosts: &[(String, Sample)]| -> Vec<Option<HostValue>> {
            hosts
                .iter()
                .map(|(name, s)| match self.host_value(s, shares) {
                    Ok(v) => v,
                    Err(e) => {
                        error.get_or_insert(format!("host {name}: {e}"));
                        None
                    }
                })
                .collect()
        };
        let values = [summarise(baseline), summarise(canary)];
        (values, error)
    }

    /// Every host's row, in the data's unit.
    fn host_rows(
        &self,
        baseline: &[(String, Sample)],
        canary: &[(String, Sample)],
        values: &[Vec<Option<HostValue>>; 2],
    ) -> [Vec<BandHostRow>; 2] {
        let mut rows: [Vec<BandHostRow>; 2] = [baseline, canary].map(|hosts| {
            hosts
                .iter()
                .map(|(name, _)| BandHostRow {
                    host: name.clone(),
                    value: None,
                    requests: f64::NAN,
                    beyond: false,
                })
                .collect()
        });
        for arm in 0..2 {
            for (row, v) in rows[arm].iter_mut().zip(&values[arm]) {
                if let Some(v) = v {
                    row.value = Some(self.back(v.y));
                    row.requests = v.requests;
                }
            }
        }
        rows
    }

    /// One side's fleet test and host rule (values signed so that worse is larger).
    fn host_side(&self, f: &Frame, up: bool) -> SideResult {
        let (b, k) = (&f.b, &f.k);
        let (n_b, n_c) = (b.len(), k.len());
        let sign = if up { 1.0 } else { -1.0 };
        let mut sb: Vec<f64> = b.iter().map(|v| sign * v.y).collect();
        sb.sort_by(f64::total_cmp);
        let sk: Vec<f64> = k.iter().map(|v| sign * v.y).collect();
        let floor_at = |m: f64| self.scale_floor(m, sign, f.sampling_floor);
        let widen2 = k.iter().map(|v| f.widen(v).powi(2)).sum::<f64>() / n_c as f64;
        let (fleet_p, fleet_df) = if f.p_fleet > 0.0 {
            let (p, df) = fleet_p(&sb, &sk, floor_at(mean(&sb)), widen2);
            (Some(p), df)
        } else {
            (None, f64::NAN)
        };
        let (mut hosts, mut critical, mut edge) = (Vec::new(), f64::INFINITY, f64::NAN);
        if f.p_rule > 0.0 {
            // Each canary host against every other host (both arms): under "no change"
            // and normal host summaries, (y − mean) / (sd·√(1 + 1/(N − 1))) is Student's
            // t with N − 2 degrees of freedom; Bonferroni over the canary hosts.
            let all: Vec<f64> = sb.iter().chain(&sk).copied().collect();
            let n = all.len();
            critical =
                t_quantile(n - 2, f.p_rule / n_c as f64) * (1.0 + 1.0 / (n - 1) as f64).sqrt();
            let top = sb[sb.len() - 1];
            let mut worst = f64::NEG_INFINITY;
            hosts = sk
                .iter()
                .zip(k)
                .enumerate()
                .map(|(i, (&v, hv))| {
                    let others: Vec<f64> = all
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != n_b + i)
                        .map(|(_, x)| *x)
                        .collect();
                    let m = mean(&others);
                    let s = sample_std(&others, m).max(floor_at(m)) * f.widen(hv);
                    let z = robust_z(v, m, s);
                    if z > worst {
                        worst = z;
                        edge = sign * (m + critical * s);
                    }
                    (z, z > critical && v > top)
                })
                .collect();
        }
        let fails = fleet_p.is_some_and(|p| p <= f.p_fleet) || hosts.iter().any(|h| h.1);
        SideResult {
            up,
            fleet_p,
            fleet_df,
            hosts,
            critical,
            edge,
            fails,
        }
    }

    /// The reason's numbers: both arms' hosts, the fleet test, the host rule, the broken
    /// hosts.
    fn hosts_reason(
        &self,
        f: &Frame,
        shown: &SideResult,
        canary_names: &[&String],
        named: &[String],
    ) -> String {
        let c = &self.config;
        let (n_b, n_c) = (f.b.len(), f.k.len());
        let (usual, canary_median) = (self.median_of(&f.b), self.median_of(&f.k));
        let word = if shown.up { "above" } else { "below" };
        let fleet_text = match shown.fleet_p {
            Some(p) => format!(
                "fleet (Welch's t on the hosts, {} degrees of freedom): p {} against α {}",
                num(shown.fleet_df),
                num(p),
                num(f.p_fleet)
            ),
            None => "fleet test not possible: it needs 3 hosts in all".to_string(),
        };
        let rule_text = if f.p_rule > 0.0 {
            let (worst, z) = shown
                .hosts
                .iter()
                .zip(canary_names)
                .max_by(|a, b| a.0.0.total_cmp(&b.0.0))
                .map(|(h, n)| ((*n).clone(), h.0))
                .unwrap_or_default();
            format!(
                "host rule: {} of {n_c} canary hosts {word} the other hosts' band ({} t-scales{}); worst {worst} at z {} (band edge {})",
                named.len(),
                num(shown.critical),
                if c.log { ", log scale" } else { "" },
                num(z),
                num(self.back(shown.edge)),
            )
        } else {
            format!(
                "host rule not possible: it needs {MIN_BASELINE_HOSTS} baseline hosts and 4 in all"
            )
        };
        let broken = if named.is_empty() {
            String::new()
        } else {
            format!("; broken: {}", named.join(", "))
        };
        format!(
            "hosts as the unit: canary hosts' {} {} vs baseline hosts' {} ({n_c} and {n_b} hosts); {fleet_text}; {rule_text}{broken}",
            f.what(),
            num(canary_median),
            num(usual),
        )
    }

    /// The judgement's numbers and checks.
    fn hosts_judged(&self, j: &mut Judgement, f: &Frame, shown: &SideResult) {
        let (usual, canary_median) = (self.median_of(&f.b), self.median_of(&f.k));
        j.familywise = true;
        j.estimate = Some(canary_median - usual);
        let mean =
            |v: &[&HostValue]| v.iter().map(|h| self.back(h.y)).sum::<f64>() / v.len() as f64;
        j.mean_ratio = Some(mean_ratio(mean(&f.k), mean(&f.b)));
        let mut checks = Vec::new();
        if let Some(p) = shown.fleet_p {
            let mut check = Check::value("fleet p", p, Some(f.p_fleet), None);
            check.failed = p <= f.p_fleet;
            checks.push(check);
        }
        if f.p_rule > 0.0 {
            let z = shown.worst_z();
            let signed = if shown.up { z } else { -z };
            let (zmin, zmax) = if shown.up {
                (None, Some(shown.critical))
            } else {
                (Some(-shown.critical), None)
            };
            checks.push(Check::value("worst host z", signed, zmin, zmax));
        }
        j.judged = Some(Judged {
            quantity: format!("host {}", f.what()),
            baseline: Some(usual),
            canary: Some(canary_median),
            checks,
            rule: Some(format!(
                "fails when the canary hosts' mean is beyond the baseline hosts' by Welch's t at half the α, or one canary host is beyond the other hosts' band ({} t-scales, Bonferroni over the canary hosts) and every baseline host",
                num(shown.critical)
            )),
            ruled_out: Vec::new(),
        });
    }

    /// The median host's summary, in the data's unit.
    fn median_of(&self, v: &[&HostValue]) -> f64 {
        let mut s: Vec<f64> = v.iter().map(|h| h.y).collect();
        s.sort_by(f64::total_cmp);
        self.back(percentile_sorted(&s, 0.5))
    }

    /// One host's summary on the judged scale (see the module docs), `None` without a
    /// usable interval.
    fn host_value(&self, s: &Sample, shares: bool) -> Result<Option<HostValue>, String> {
        let c = &self.config;
        let (values, requests): (Vec<f64>, Option<Vec<f64>>) = match s {
            Sample::Aggregates { values, requests } => (values.clone(), Some(requests.clone())),
            Sample::Counts { totals, .. } => (s.values(), Some(totals.clone())),
            _ => (s.values(), None),
        };
        let mut kept: Vec<(f64, f64)> = Vec::with_capacity(values.len());
        for (i, &x) in values.iter().enumerate() {
            let r = requests.as_ref().map_or(f64::NAN, |r| r[i]);
            if !x.is_finite() || (c.min_requests > 0.0 && r.is_finite() && r < c.min_requests) {
                continue;
            }
            if c.log && x <= 0.0 {
                return Err(format!("log = true needs positive values, got {}", num(x)));
            }
            kept.push((if c.log { x.ln() } else { x }, r));
        }
        if kept.is_empty() {
            return Ok(None);
        }
        let total: f64 = kept.iter().map(|k| k.1).filter(|r| r.is_finite()).sum();
        let counted = kept.iter().all(|k| k.1.is_finite());
        let y = if shares && counted && total > 0.0 {
            kept.iter().map(|(x, r)| x * r).sum::<f64>() / total
        } else {
            let mut v: Vec<f64> = kept.iter().map(|k| k.0).collect();
            v.sort_by(f64::total_cmp);
            percentile_sorted(&v, 0.5)
        };
        Ok(Some(HostValue {
            y,
            requests: if counted { total } else { f64::NAN },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_test_is_welch_and_student_with_one_host() {
        // Welch: 3 and 3 hosts, means 0 and 1, variances 1 and 1: t = 1 / √(2/3), df 4.
        let (p, df) = fleet_p(&[-1.0, 0.0, 1.0], &[0.0, 1.0, 2.0], 0.0, 1.0);
        assert!((df - 4.0).abs() < 1e-9, "{df}");
        let t = 1.0 / (2.0f64 / 3.0).sqrt();
        let exact = 1.0 - StudentsT::new(0.0, 1.0, 4.0).unwrap().cdf(t);
        assert!((p - exact).abs() < 1e-12, "{p} vs {exact}");
        // One canary host: the baseline's spread, widened for the canary (variance ×4).
        let (p1, df1) = fleet_p(&[-1.0, 0.0, 1.0], &[3.0], 0.0, 4.0);
        assert!((df1 - 2.0).abs() < 1e-9);
        let t = 3.0 / (1.0f64 / 3.0 + 4.0).sqrt();
        let exact = 1.0 - StudentsT::new(0.0, 1.0, 2.0).unwrap().cdf(t);
        assert!((p1 - exact).abs() < 1e-12, "{p1} vs {exact}");
        // Hosts that all agree: the floor is the spread.
        let (p0, _) = fleet_p(&[0.0, 0.0, 0.0], &[0.1, 0.1, 0.1], 0.1, 1.0);
        assert!(p0 > 0.05, "{p0}");
    }
}
