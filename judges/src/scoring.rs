//! From per-metric classifications to group scores, a total score and a verdict, exactly as
//! Kayenta's scorer, plus one rule of canaryd's own (an analysis where nothing could be
//! judged never passes).
//!
//! 1. Muted metrics are reported but left out of scoring.
//! 2. A result counts in every group its metric lists. Group score =
//!    100·pass / (pass + high + low + nodata_fail); nodata and error are left out; a group
//!    with none of those counts is reported as 0 with `no_data` and counts as 100 in the sum.
//! 3. Any non-muted result that is a critical failure → total 0.
//! 4. nodata results ≥ 50% of the non-muted results → total 0.
//! 5. (canaryd) no non-muted result is pass, high, low or nodata_fail → total 0: the
//!    analysis judged nothing, which must never promote a canary.
//! 6. Otherwise total = Σ group score × weight / 100, rounded half-up to 2 decimals; groups
//!    without a configured weight share 100 − Σ configured weights equally.
//! 7. (canaryd) A sequential judge's `inconclusive` (undecided at its horizon) is left out
//!    of group scores like nodata, and caps the total at the marginal threshold: an
//!    undecided canary is never promoted, and tools that read only the score (Argo
//!    Rollouts) see "inconclusive". With nothing else judged, the total is that cap too.
//! 8. Verdict: ≥ pass → pass, ≥ marginal → marginal, else fail.

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

/// The canary's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Marginal,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Marginal => "marginal",
            Verdict::Fail => "fail",
        }
    }

    /// The verdict of `score` under `thresholds`.
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
    pub groups: &'a [String],
    pub muted: bool,
    pub judgement: &'a Judgement,
}

/// The score of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupScore {
    pub name: String,
    /// 0–100; 0 with `no_data` when nothing in the group was judged.
    pub score: f64,
    pub no_data: bool,
    /// The weight the group had in the total.
    pub weight: f64,
    pub pass: usize,
    pub high: usize,
    pub low: usize,
    pub nodata_fail: usize,
    pub nodata: usize,
    pub error: usize,
    pub inconclusive: usize,
}

/// Scores and verdict of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub score: f64,
    pub verdict: Verdict,
    pub groups: Vec<GroupScore>,
    /// Why the score is what it is (empty for a plain weighted sum).
    pub reason: String,
}

/// Score `results` with `weights` (group → weight; missing groups share the remainder)
/// and decide the verdict under `thresholds`.
pub fn score(
    results: &[ScoreInput<'_>],
    weights: &BTreeMap<String, f64>,
    thresholds: Thresholds,
) -> Scorecard {
    let active: Vec<&ScoreInput<'_>> = results.iter().filter(|r| !r.muted).collect();

    let mut names: BTreeSet<&str> = BTreeSet::new();
    for r in &active {
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

    let groups: Vec<GroupScore> = names
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
        .collect();

    let critical: Vec<&str> = active
        .iter()
        .filter(|r| r.judgement.critical && r.judgement.classification != Classification::Pass)
        .map(|r| r.name)
        .collect();
    let nodata = active
        .iter()
        .filter(|r| r.judgement.classification == Classification::Nodata)
        .count();
    let inconclusive = active
        .iter()
        .filter(|r| r.judgement.classification == Classification::Inconclusive)
        .count();
    let judged = active
        .iter()
        .filter(|r| {
            matches!(
                r.judgement.classification,
                Classification::Pass
                    | Classification::High
                    | Classification::Low
                    | Classification::NodataFail
            )
        })
        .count();

    let (total, reason) = if !critical.is_empty() {
        (
            0.0,
            format!(
                "Canary Failed: critical metric failed: {}",
                critical.join(", ")
            ),
        )
    } else if !active.is_empty() && nodata * 2 >= active.len() {
        (
            0.0,
            format!(
                "Canary Failed: {nodata} of {} metric results have no data (≥ 50%)",
                active.len()
            ),
        )
    } else if judged == 0 && inconclusive == 0 {
        (
            0.0,
            "Canary Failed: no metric could be judged (every result is nodata or error)"
                .to_string(),
        )
    } else {
        let sum: f64 = groups
            .iter()
            .map(|g| (g.weight / 100.0) * if g.no_data { 100.0 } else { g.score })
            .sum();
        let total = round_half_up(sum, 2);
        if inconclusive > 0 && (judged == 0 || total > thresholds.marginal) {
            (
                if judged == 0 {
                    thresholds.marginal
                } else {
                    total.min(thresholds.marginal)
                },
                format!(
                    "Canary Inconclusive: {inconclusive} of {} metric results undecided at the horizon",
                    active.len()
                ),
            )
        } else {
            (total, String::new())
        }
    };
    Scorecard {
        score: total,
        verdict: Verdict::of(total, thresholds),
        groups,
        reason,
    }
}
