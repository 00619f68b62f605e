//! From per-metric classifications to group scores, a total score and a verdict, under one
//! of two rule sets ([`ScoringRules`]):
//!
//! - **`canaryd`** (the default): missing evidence never promotes. A critical metric without
//!   data (or whose judge errored), a group in which nothing was judged, half or more of the
//!   results without data, nothing judged at all, and a sequential judge undecided at its
//!   horizon each *hold* the analysis: the score is capped at the marginal threshold and every
//!   hold is listed with its reason. A hold never fails a canary by itself (an outage holds
//!   instead of destroying); only a judged regression does.
//! - **`kayenta`**: Kayenta's scorer exactly, for users who must reproduce its numbers.
//!
//! Steps (both rule sets unless marked):
//! 1. Muted metrics are reported but left out of scoring.
//! 2. A result counts in every group its metric lists. Group score =
//!    100·pass / (pass + high + low + nodata_fail); nodata, error and inconclusive are left
//!    out; a group with none of those counts is reported as 0 with `no_data`.
//! 3. Any non-muted critical failure (a judged high/low past the critical effect size, or
//!    kayenta: a critical metric without data) → total 0, fail.
//! 4. kayenta: nodata results ≥ 50% of the non-muted results → total 0; nothing judged and
//!    nothing undecided → total 0 (Kayenta's own judge aborts such a run).
//! 5. Total = Σ group score × weight / 100, rounded half-up to 2 decimals; groups without a
//!    configured weight share 100 − Σ configured weights equally. kayenta: a group without
//!    judged results counts as 100. canaryd: it is left out and the weights of the judged
//!    groups are scaled up to 100 (the score is that of the evidence there is).
//! 6. Holds (canaryd: critical metric nodata/error, group not judged, ≥ 50% nodata, nothing
//!    judged; both: sequential inconclusive) cap the total at the marginal threshold. With
//!    nothing judged the total is that cap.
//! 7. Verdict: ≥ pass → pass, ≥ marginal → marginal, else fail (also for a total set to 0
//!    by steps 3–4: the thresholds decide, as in Kayenta) — except that a held analysis
//!    whose uncapped total would have passed is **inconclusive**: the evidence there is looks
//!    good, but some of it is missing or undecided.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::judgement::{Classification, Judgement};
use crate::rounding::round_half_up;

/// Score thresholds of the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub pass: f64,
    pub marginal: f64,
}

impl Default for Thresholds {
    /// Spinnaker's recommended 95 / 75.
    fn default() -> Self {
        Thresholds {
            pass: 95.0,
            marginal: 75.0,
        }
    }
}

impl Thresholds {
    /// What is wrong with these thresholds, as (field, message): each must be a number in
    /// 0..=100 and `marginal` may not be above `pass`. Empty when they are usable.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (name, v) in [("pass", self.pass), ("marginal", self.marginal)] {
            if !(0.0..=100.0).contains(&v) {
                out.push((name, format!("must be between 0 and 100, got {v}")));
            }
        }
        if out.is_empty() && self.marginal > self.pass {
            out.push((
                "marginal",
                format!("marginal ({}) is above pass ({})", self.marginal, self.pass),
            ));
        }
        out
    }
}

/// Which scoring rules decide the total and the verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoringRules {
    /// canaryd's rules: missing evidence holds (never promotes), see the module docs.
    #[default]
    Canaryd,
    /// Kayenta's scorer exactly.
    Kayenta,
}

impl ScoringRules {
    pub fn as_str(self) -> &'static str {
        match self {
            ScoringRules::Canaryd => "canaryd",
            ScoringRules::Kayenta => "kayenta",
        }
    }

    /// Parse `canaryd` or `kayenta`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "canaryd" => Some(ScoringRules::Canaryd),
            "kayenta" => Some(ScoringRules::Kayenta),
            _ => None,
        }
    }
}

impl std::fmt::Display for ScoringRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How judged failures combine into the verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// `any` for failures of judges that control false alarms across the analysis
    /// (`band`, `sequential`), `share` for the others.
    #[default]
    Auto,
    /// Kayenta's rule: a failure lowers its groups' share of passing results; the weighted
    /// shares decide. One broken series among 140 moves a group by 0.7 points.
    Share,
    /// Any judged failure (high or low) fails the analysis. Only sound with judges that
    /// split α among the pairs (`band`, `sequential`); with per-pair judges (Mann–Whitney at
    /// 98%) each of M pairs adds its own false-alarm rate.
    Any,
}

impl Combine {
    pub fn as_str(self) -> &'static str {
        match self {
            Combine::Auto => "auto",
            Combine::Share => "share",
            Combine::Any => "any",
        }
    }

    /// Whether `judgement`, a failure, fails the analysis on its own.
    pub fn decisive(self, judgement: &Judgement) -> bool {
        judgement.classification.is_judged_regression()
            && match self {
                Combine::Auto => judgement.familywise,
                Combine::Share => false,
                Combine::Any => true,
            }
    }
}

/// The canary's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Marginal,
    Fail,
    /// Held: what was judged would pass, but evidence is missing or undecided (see the
    /// scorecard's holds). Never promotes; the score is capped at the marginal threshold.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Marginal => "marginal",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// The verdict of `score` under `thresholds` (never inconclusive: that takes holds).
    pub fn of(score: f64, thresholds: Thresholds) -> Self {
        if score >= thresholds.pass {
            Verdict::Pass
        } else if score >= thresholds.marginal {
            Verdict::Marginal
        } else {
            Verdict::Fail
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric result as the scorer sees it.
#[derive(Debug, Clone, Copy)]
pub struct ScoreInput<'a> {
    /// Display name (metric and labels), used in reasons.
    pub name: &'a str,
    /// The metric's name without labels: holds are reported per metric.
    pub metric: &'a str,
    pub groups: &'a [String],
    pub muted: bool,
    /// The metric is configured critical (its judgement says whether it *failed* critically).
    pub critical: bool,
    pub judgement: &'a Judgement,
}

/// The score of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupScore {
    pub name: String,
    /// 0–100; 0 with `no_data` when nothing in the group was judged.
    pub score: f64,
    pub no_data: bool,
    /// The weight the group was configured with (or its share of the rest).
    pub weight: f64,
    pub pass: usize,
    pub high: usize,
    pub low: usize,
    pub nodata_fail: usize,
    pub nodata: usize,
    pub error: usize,
    pub inconclusive: usize,
}

/// Why an analysis is held instead of decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    /// A critical metric had no data for some label set.
    CriticalNoData,
    /// A critical metric's judge could not compute a result for some label set.
    CriticalError,
    /// No result of a group was judged (all nodata, error or inconclusive).
    GroupNotJudged,
    /// Half or more of the results have no data.
    MostlyNoData,
    /// No result at all was judged.
    NothingJudged,
    /// A sequential judge had not decided at its horizon.
    Undecided,
}

impl HoldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::CriticalNoData => "critical_no_data",
            HoldKind::CriticalError => "critical_error",
            HoldKind::GroupNotJudged => "group_not_judged",
            HoldKind::MostlyNoData => "mostly_no_data",
            HoldKind::NothingJudged => "nothing_judged",
            HoldKind::Undecided => "undecided",
        }
    }

    /// True when the hold is missing data (waiting may bring it), false when the data is
    /// there but undecided (waiting longer is the sequential judge's job).
    pub fn is_missing_data(self) -> bool {
        !matches!(self, HoldKind::Undecided)
    }
}

/// One reason an analysis is held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hold {
    pub kind: HoldKind,
    /// The metric or group held (empty for analysis-wide holds).
    pub subject: String,
    /// One sentence a user can act on: what is missing, where, and why.
    pub message: String,
}

/// Scores and verdict of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub score: f64,
    pub verdict: Verdict,
    pub groups: Vec<GroupScore>,
    /// Why the score is what it is (empty for a plain weighted sum).
    pub reason: String,
    /// Everything that holds the analysis (empty when nothing does).
    pub holds: Vec<Hold>,
    /// The rules that scored it.
    pub rules: ScoringRules,
}

/// At most this many label sets are named in one hold's message.
const NAMED: usize = 3;

fn name_some(names: &[&str]) -> String {
    let mut s = names
        .iter()
        .take(NAMED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMED {
        s.push_str(&format!(" and {} more", names.len() - NAMED));
    }
    s
}

fn is_judged(c: Classification) -> bool {
    matches!(
        c,
        Classification::Pass
            | Classification::High
            | Classification::Low
            | Classification::NodataFail
    )
}

/// Score `results` with `weights` (group → weight; missing groups share the remainder)
/// and decide the verdict under `thresholds` and `rules`, failures combining by shares
/// (Kayenta's rule; see [`score_with`]).
pub fn score(
    results: &[ScoreInput<'_>],
    weights: &BTreeMap<String, f64>,
    thresholds: Thresholds,
    rules: ScoringRules,
) -> Scorecard {
    score_with(results, weights, thresholds, rules, Combine::Share)
}

/// [`score`] with failures combined by `combine`: under `any` (and `auto` for judges
/// that control false alarms across the analysis) one judged regression fails the
/// analysis with score 0, like a critical metric, whatever the groups' shares. Kayenta's
/// rules always combine by shares.
pub fn score_with(
    results: &[ScoreInput<'_>],
    weights: &BTreeMap<String, f64>,
    thresholds: Thresholds,
    rules: ScoringRules,
    combine: Combine,
) -> Scorecard {
    let active: Vec<&ScoreInput<'_>> = results.iter().filter(|r| !r.muted).collect();
    let groups = group_scores(&active, weights);

    let critical: Vec<&str> = active
        .iter()
        .filter(|r| {
            let c = r.judgement.classification;
            r.judgement.critical
                && match rules {
                    // Kayenta: any critical result that is not a pass (its nodata included).
                    ScoringRules::Kayenta => c != Classification::Pass,
                    // canaryd: only a judged failure; missing data holds (below).
                    ScoringRules::Canaryd => c.is_failure(),
                }
        })
        .map(|r| r.name)
        .collect();
    let count = |c: Classification| {
        active
            .iter()
            .filter(|r| r.judgement.classification == c)
            .count()
    };
    let nodata = count(Classification::Nodata);
    let judged = active
        .iter()
        .filter(|r| is_judged(r.judgement.classification))
        .count();

    let holds = holds(&active, &groups, nodata, judged, rules);
    let finish = |score: f64, verdict: Verdict, reason: String, holds: Vec<Hold>| Scorecard {
        score,
        verdict,
        groups: groups.clone(),
        reason,
        holds,
        rules,
    };

    if let Some(reason) = failed_outright(&active, &critical, nodata, judged, rules, combine) {
        return finish(0.0, Verdict::of(0.0, thresholds), reason, holds);
    }
    let raw = weighted_total(&groups, rules);
    if let (true, Some(raw)) = (holds.is_empty(), raw) {
        return finish(raw, Verdict::of(raw, thresholds), String::new(), holds);
    }
    let total = match raw {
        Some(t) => t.min(thresholds.marginal),
        None => thresholds.marginal,
    };
    let verdict = match raw {
        Some(t) if t < thresholds.pass => Verdict::of(total, thresholds),
        _ => Verdict::Inconclusive,
    };
    let reason = held_reason(&active, &holds, raw, total, verdict);
    finish(total, verdict, reason, holds)
}

/// Why the analysis fails with score 0 whatever the groups' scores, if it does: a critical
/// failure, a decisive regression (`combine`), or Kayenta's no-data rules.
fn failed_outright(
    active: &[&ScoreInput<'_>],
    critical: &[&str],
    nodata: usize,
    judged: usize,
    rules: ScoringRules,
    combine: Combine,
) -> Option<String> {
    if !critical.is_empty() {
        return Some(format!(
            "Canary Failed: critical metric failed: {}",
            critical.join(", ")
        ));
    }
    let decisive: Vec<&ScoreInput<'_>> = active
        .iter()
        .copied()
        .filter(|r| rules == ScoringRules::Canaryd && combine.decisive(r.judgement))
        .collect();
    if !decisive.is_empty() {
        let names: Vec<&str> = decisive.iter().map(|r| r.name).collect();
        return Some(format!(
            "Canary Failed: {} judged worse ({}: one regression a judge controlling false alarms across the analysis finds fails it, whatever the other results)",
            name_some(&names),
            if combine == Combine::Any {
                "combine = any"
            } else {
                "combine = auto"
            }
        ));
    }
    if rules == ScoringRules::Kayenta && !active.is_empty() && nodata * 2 >= active.len() {
        return Some(format!(
            "Canary Failed: {nodata} of {} metric results have no data (≥ 50%)",
            active.len()
        ));
    }

    let undecided = active
        .iter()
        .filter(|r| r.judgement.classification == Classification::Inconclusive)
        .count();
    if rules == ScoringRules::Kayenta && judged == 0 && undecided == 0 {
        // Kayenta itself aborts such a run (its judge throws); a verdict of 100 from
        // groups that "count as 100" would be a promotion on no evidence at all.
        return Some(
            "Canary Failed: no metric could be judged (every result is nodata or error)".into(),
        );
    }

    None
}

/// The reason of a held or lowered score: what lowered it, then what held it.
fn held_reason(
    active: &[&ScoreInput<'_>],
    holds: &[Hold],
    raw: Option<f64>,
    total: f64,
    verdict: Verdict,
) -> String {
    let label = match verdict {
        Verdict::Inconclusive => "Canary Inconclusive",
        Verdict::Marginal => "Canary Marginal",
        Verdict::Fail => "Canary Failed",
        Verdict::Pass => "Canary Passed",
    };
    let mut reason = format!("{label}: ");
    // Without judged evidence the score is no measurement: say where its number comes from.
    if raw.is_none() {
        reason.push_str(&format!(
            "nothing was judged, so the score is the marginal threshold ({}) that holds tools reading only the score; ",
            crate::format::num(total)
        ));
    }
    // A score below pass is the judged failures' doing: name them first.
    let worse: Vec<&str> = active
        .iter()
        .filter(|r| r.judgement.classification.is_failure())
        .map(|r| r.name)
        .collect();
    // One score per analysis: the reason names what lowered it and what held it, never a
    // second number beside the headline's.
    if verdict != Verdict::Inconclusive && !worse.is_empty() {
        reason.push_str(&format!(
            "judged failures: {}; also held: ",
            name_some(&worse)
        ));
    }
    for (i, h) in holds.iter().take(NAMED).enumerate() {
        if i > 0 {
            reason.push_str("; ");
        }
        reason.push_str(&h.message);
    }
    if holds.len() > NAMED {
        reason.push_str(&format!(" (and {} more holds)", holds.len() - NAMED));
    }
    reason
}

/// Per-group counts and scores.
fn group_scores(active: &[&ScoreInput<'_>], weights: &BTreeMap<String, f64>) -> Vec<GroupScore> {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for r in active {
        for g in r.groups {
            names.insert(g);
        }
    }
    let configured: f64 = weights.values().sum();
    let unweighted = names.iter().filter(|g| !weights.contains_key(**g)).count();
    let share = if unweighted > 0 {
        (100.0 - configured) / unweighted as f64
    } else {
        0.0
    };
    names
        .iter()
        .map(|&name| {
            let mut g = GroupScore {
                name: name.to_string(),
                score: 0.0,
                no_data: false,
                weight: weights.get(name).copied().unwrap_or(share),
                pass: 0,
                high: 0,
                low: 0,
                nodata_fail: 0,
                nodata: 0,
                error: 0,
                inconclusive: 0,
            };
            for r in active.iter().filter(|r| r.groups.iter().any(|x| x == name)) {
                match r.judgement.classification {
                    Classification::Pass => g.pass += 1,
                    Classification::High => g.high += 1,
                    Classification::Low => g.low += 1,
                    Classification::NodataFail => g.nodata_fail += 1,
                    Classification::Nodata => g.nodata += 1,
                    Classification::Inconclusive => g.inconclusive += 1,
                    Classification::Error => g.error += 1,
                }
            }
            let total = g.pass + g.high + g.low + g.nodata_fail;
            if total == 0 {
                g.no_data = true;
            } else {
                g.score = (g.pass as f64 / total as f64) * 100.0;
            }
            g
        })
        .collect()
}

/// The weighted total before holds; `None` when no group was judged under canaryd's rules.
fn weighted_total(groups: &[GroupScore], rules: ScoringRules) -> Option<f64> {
    match rules {
        ScoringRules::Kayenta => {
            let sum: f64 = groups
                .iter()
                .map(|g| (g.weight / 100.0) * if g.no_data { 100.0 } else { g.score })
                .sum();
            Some(round_half_up(sum, 2))
        }
        ScoringRules::Canaryd => {
            let judged: Vec<&GroupScore> = groups.iter().filter(|g| !g.no_data).collect();
            if judged.is_empty() {
                return None;
            }
            let weight: f64 = judged.iter().map(|g| g.weight).sum();
            let sum: f64 = if weight > 0.0 {
                judged.iter().map(|g| g.score * g.weight).sum::<f64>() / weight
            } else {
                // Every judged group has weight 0: the plain mean of their scores.
                judged.iter().map(|g| g.score).sum::<f64>() / judged.len() as f64
            };
            Some(round_half_up(sum, 2))
        }
    }
}

/// Everything that holds the analysis under `rules`.
fn holds(
    active: &[&ScoreInput<'_>],
    groups: &[GroupScore],
    nodata: usize,
    judged: usize,
    rules: ScoringRules,
) -> Vec<Hold> {
    let mut out = Vec::new();
    if rules == ScoringRules::Canaryd {
        out.extend(critical_holds(active));
        out.extend(group_holds(groups));
        if !active.is_empty() && nodata * 2 >= active.len() {
            out.push(Hold {
                kind: HoldKind::MostlyNoData,
                subject: String::new(),
                message: format!(
                    "{nodata} of {} metric results have no data (≥ 50%)",
                    active.len()
                ),
            });
        }
        let missing = active.iter().any(|r| {
            matches!(
                r.judgement.classification,
                Classification::Nodata | Classification::Error
            )
        });
        if judged == 0 && (active.is_empty() || missing) {
            out.push(Hold {
                kind: HoldKind::NothingJudged,
                subject: String::new(),
                message: if active.is_empty() {
                    "no metric result to judge".to_string()
                } else {
                    "no metric could be judged (every result is nodata, error or undecided)"
                        .to_string()
                },
            });
        }
    }
    let undecided: Vec<&str> = active
        .iter()
        .filter(|r| r.judgement.classification == Classification::Inconclusive)
        .map(|r| r.name)
        .collect();
    if !undecided.is_empty() {
        out.push(Hold {
            kind: HoldKind::Undecided,
            subject: String::new(),
            message: format!(
                "{} of {} metric results undecided ({})",
                undecided.len(),
                active.len(),
                name_some(&undecided)
            ),
        });
    }
    out
}

/// Per critical metric: its label sets without data, then those whose judge errored.
fn critical_holds(active: &[&ScoreInput<'_>]) -> Vec<Hold> {
    let mut out = Vec::new();
    let mut metrics: Vec<&str> = Vec::new();
    for r in active.iter().filter(|r| r.critical) {
        if !metrics.contains(&r.metric) {
            metrics.push(r.metric);
        }
    }
    for metric in metrics {
        for (kind, class, what) in [
            (
                HoldKind::CriticalNoData,
                Classification::Nodata,
                "has no data",
            ),
            (
                HoldKind::CriticalError,
                Classification::Error,
                "could not be judged",
            ),
        ] {
            let hit: Vec<&&ScoreInput<'_>> = active
                .iter()
                .filter(|r| r.metric == metric && r.judgement.classification == class)
                .collect();
            if hit.is_empty() {
                continue;
            }
            let names: Vec<&str> = hit.iter().map(|r| r.name).collect();
            out.push(Hold {
                kind,
                subject: metric.to_string(),
                message: format!(
                    "critical metric `{metric}` {what} for {}: {}",
                    name_some(&names),
                    hit[0].judgement.reason
                ),
            });
        }
    }
    out
}

/// Groups where nothing was judged for want of data (a group held only by undecided
/// results is the `Undecided` hold's).
fn group_holds(groups: &[GroupScore]) -> Vec<Hold> {
    let mut out = Vec::new();
    for g in groups
        .iter()
        .filter(|g| g.no_data && g.nodata + g.error > 0)
    {
        let mut parts = Vec::new();
        for (n, what) in [
            (g.nodata, "without data"),
            (g.error, "errored"),
            (g.inconclusive, "undecided"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        out.push(Hold {
            kind: HoldKind::GroupNotJudged,
            subject: g.name.clone(),
            message: format!(
                "nothing in group `{}` (weight {}) was judged ({})",
                g.name,
                crate::kinds::num(g.weight),
                parts.join(", ")
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_out_of_range_or_crossed_are_named() {
        assert!(Thresholds::default().problems().is_empty());
        let t = |pass, marginal| Thresholds { pass, marginal }.problems();
        assert!(t(100.0, 0.0).is_empty());
        assert_eq!(t(-1.0, 0.0)[0].0, "pass");
        assert_eq!(t(50.0, f64::NAN)[0].0, "marginal");
        assert_eq!(t(101.0, 120.0).len(), 2);
        let crossed = t(60.0, 80.0);
        assert_eq!(crossed.len(), 1);
        assert!(crossed[0].1.contains("above pass"), "{crossed:?}");
    }
}
