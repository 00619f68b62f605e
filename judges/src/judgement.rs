//! What a judge says about one metric pair: a [`Classification`] with the numbers behind it.

use serde::{Deserialize, Serialize};

use crate::options::EffectSizeMeasure;
use crate::sample::Summary;

/// The classification of one metric pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// No bad change found.
    Pass,
    /// The canary is worse because it is higher.
    High,
    /// The canary is worse because it is lower.
    Low,
    /// An arm had no data; left out of group scores, but ≥ 50% nodata fails the canary.
    Nodata,
    /// An arm had no data and the metric must have data: counts as a failure.
    NodataFail,
    /// The judge could not compute a result; never fails the canary by itself.
    Error,
    /// A sequential judge had not decided when the data ended (its horizon); scored like
    /// nodata: it never promotes.
    Inconclusive,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Pass => "pass",
            Classification::High => "high",
            Classification::Low => "low",
            Classification::Nodata => "nodata",
            Classification::NodataFail => "nodata_fail",
            Classification::Error => "error",
            Classification::Inconclusive => "inconclusive",
        }
    }

    /// True for the classifications that count against a group (high, low, nodata_fail).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Classification::High | Classification::Low | Classification::NodataFail
        )
    }

    /// True for a judged regression (high or low), not missing data.
    pub fn is_judged_regression(self) -> bool {
        matches!(self, Classification::High | Classification::Low)
    }

    /// The mirror image when baseline and canary are exchanged.
    pub fn mirrored(self) -> Self {
        match self {
            Classification::High => Classification::Low,
            Classification::Low => Classification::High,
            other => other,
        }
    }
}

impl std::fmt::Display for Classification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An effect size with its measure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EffectSize {
    pub measure: EffectSizeMeasure,
    /// NaN when undefined (e.g. a zero mean for the mean ratio).
    pub value: f64,
}

/// The aggregates a threshold judge compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateDetail {
    /// The aggregate's name (`mean`, `p99`, `rate`, …).
    pub name: String,
    pub canary: f64,
    /// Absent when the baseline had no data.
    pub baseline: Option<f64>,
}

/// The quantity a judge decided on, on each side, and the checks that decided: the one set
/// of numbers every output (table, Markdown, JSON, HTML report, web UI, charts) shows for a
/// pair, so no screen can show a number the verdict was not made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    /// What was compared, as a reader knows it: `mean`, `p99`, `rate` (Σ events / Σ total),
    /// `error rate`, `p50, p90, p99` (sequential distributions).
    pub quantity: String,
    /// The quantity on each side; `None` when the judge has no single value for it (a
    /// sequential distribution's quantiles) or that side had no data.
    pub baseline: Option<f64>,
    pub canary: Option<f64>,
    /// The comparisons that decided, in the order the judge applied them.
    pub checks: Vec<Check>,
    /// How the checks combine into the classification, in words (`high when both checks
    /// are ✗`): a ✗ says one check argued against the canary, the rule says whether that
    /// was enough.
    #[serde(default)]
    pub rule: Option<String>,
    /// What the judge has ruled out so far, per compared quantity (sequential judges):
    /// the largest regression its confidence sequence still allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ruled_out: Vec<RuledOut>,
}

/// The largest regression ruled out for one quantity: the canary / baseline ratio is at
/// most `upper` (and at least `lower`), at the judge's confidence, from the start of the
/// run to now. A side is `None` when it is not watched or nothing is ruled out on it yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuledOut {
    /// `p50`, `p99`, `error rate`, `mean`.
    pub quantity: String,
    #[serde(default)]
    pub upper: Option<f64>,
    #[serde(default)]
    pub lower: Option<f64>,
    /// The pass band's edge (the ratio a pass must rule out being worse than).
    pub pass: f64,
    /// When the bound is not yet inside the pass band but the estimate is: roughly how
    /// many more observations per arm would bring it inside (the interval narrows as
    /// 1/√n; a rough guide for sizing, not a promise).
    #[serde(default)]
    pub more: Option<f64>,
    /// `more` in seconds at the rate the data arrived so far, when the caller knows how
    /// long that took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_s: Option<f64>,
}

impl RuledOut {
    /// `> +3.8% at p50`, `> 1.4× error rate`, `< −6% at p50` (both sides joined by
    /// "and"); `None` when nothing is ruled out.
    pub fn describe(&self) -> Option<String> {
        if self.quantity.starts_with("share above") {
            // Coarse buckets: a difference of shares, in points.
            let pts = |v: f64, above: bool| {
                let (op, sign) = if above { (">", "+") } else { ("<", "−") };
                format!("{op} {sign}{} points", crate::kinds::num((v * 100.0).abs()))
            };
            let mut parts = Vec::new();
            if let Some(u) = self.upper.filter(|u| u.is_finite()) {
                parts.push(pts(u, true));
            }
            if let Some(l) = self.lower.filter(|l| l.is_finite()) {
                parts.push(pts(l, false));
            }
            return (!parts.is_empty())
                .then(|| format!("{} in the {}", parts.join(" and "), self.quantity));
        }
        let ratio_like = self.quantity == "error rate";
        let fmt = |r: f64, above: bool| {
            let op = if above { ">" } else { "<" };
            if ratio_like {
                format!("{op} {}×", crate::kinds::num(r))
            } else {
                let pct = (r - 1.0) * 100.0;
                let sign = if pct >= 0.0 { "+" } else { "−" };
                format!("{op} {sign}{}%", crate::kinds::num(pct.abs()))
            }
        };
        let mut parts = Vec::new();
        if let Some(u) = self.upper.filter(|u| u.is_finite()) {
            parts.push(fmt(u, true));
        }
        if let Some(l) = self.lower.filter(|l| *l > 0.0) {
            parts.push(fmt(l, false));
        }
        if parts.is_empty() {
            return None;
        }
        let what = if ratio_like {
            " error rate".to_string()
        } else {
            format!(" at {}", self.quantity)
        };
        Some(format!("{}{what}", parts.join(" and ")))
    }

    /// "rules out > +3.8% at p50, > +11% at p99, > 1.4× error rate", or "rules out
    /// nothing yet"; then, when undecided, "about 40,000 more per arm would decide".
    pub fn sentence(all: &[RuledOut]) -> String {
        let mut parts: Vec<String> = Vec::new();
        // Quantities may share a bound (two quantiles in one coarse bucket): once each.
        for d in all.iter().filter_map(RuledOut::describe) {
            if !parts.contains(&d) {
                parts.push(d);
            }
        }
        let mut s = if parts.is_empty() {
            "rules out nothing yet".to_string()
        } else {
            format!("rules out {}", parts.join(", "))
        };
        // The quantity furthest from its band decides how much more is needed.
        let most = all
            .iter()
            .filter(|r| r.more.is_some())
            .max_by(|a, b| a.more.unwrap_or(0.0).total_cmp(&b.more.unwrap_or(0.0)));
        if let Some(r) = most {
            let n = r.more.unwrap_or(0.0);
            let time = r
                .more_s
                .map(|t| format!(" (~{} at the current rate)", duration(t)))
                .unwrap_or_default();
            s.push_str(&format!(
                "; about {} more per arm{time} would prove the pass bands",
                crate::kinds::num(n.ceil())
            ));
        }
        s
    }
}

/// `45 s`, `12 min`, `3.5 h`: a rough duration for sizing advice.
fn duration(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{} s", seconds.ceil())
    } else if seconds < 7200.0 {
        format!("{} min", (seconds / 60.0).ceil())
    } else {
        format!("{} h", crate::kinds::num((seconds / 360.0).ceil() / 10.0))
    }
}

/// One comparison a judge made, with the bound it was held against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// What is compared: `ratio` (canary / baseline), `increase` (canary − baseline),
    /// `p99` (the canary's own value, for absolute bounds), `shift` (Hodges–Lehmann,
    /// canary − baseline), `mean ratio`, `CLES`, `p90 ratio`, …
    pub name: String,
    /// Its value; `None` when only an interval exists.
    pub value: Option<f64>,
    /// The interval around it, when the judge has one. An unbounded end (a confidence
    /// sequence before enough data) is infinite; JSON writes it `null`.
    #[serde(default, with = "open_interval")]
    pub interval: Option<[f64; 2]>,
    /// What the interval is: `98% confidence interval`, `95% confidence sequence`
    /// (anytime-valid: valid at every look).
    pub interval_kind: Option<String>,
    /// The bounds: the check fails above `max` or below `min` — the value, or with
    /// [`Compare::Interval`] the whole interval.
    pub max: Option<f64>,
    pub min: Option<f64>,
    /// What is held against the bounds: the value, or the whole interval.
    #[serde(default)]
    pub compare: Compare,
    /// True when this check argued against the canary (see [`Judged::rule`] for whether
    /// that decided the classification).
    pub failed: bool,
}

/// What a [`Check`] holds against its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The value: worse above `max` or below `min`.
    #[default]
    Value,
    /// The interval: worse when its lower end is above `max` or its upper end below `min`.
    Interval,
    /// Neither: a yes/no finding (a significance test); `failed` is the finding.
    Finding,
}

/// `[lo, hi]` with `null` for an infinite end (JSON has no infinity), read back as ∓∞.
mod open_interval {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[f64; 2]>, s: S) -> Result<S::Ok, S::Error> {
        let finite = |x: f64| x.is_finite().then_some(x);
        v.map(|[a, b]| [finite(a), finite(b)]).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
        let v: Option<[Option<f64>; 2]> = Option::deserialize(d)?;
        Ok(v.map(|[a, b]| [a.unwrap_or(f64::NEG_INFINITY), b.unwrap_or(f64::INFINITY)]))
    }
}

impl Check {
    /// A check of a point value against bounds.
    pub fn value(name: impl Into<String>, value: f64, min: Option<f64>, max: Option<f64>) -> Self {
        let failed = max.is_some_and(|m| value > m) || min.is_some_and(|m| value < m);
        Check {
            name: name.into(),
            value: Some(value),
            interval: None,
            interval_kind: None,
            max,
            min,
            compare: Compare::Value,
            failed,
        }
    }

    /// A yes/no finding (`significant difference`): no value or bound of its own.
    pub fn finding(name: impl Into<String>, failed: bool) -> Self {
        Check {
            name: name.into(),
            value: None,
            interval: None,
            interval_kind: None,
            max: None,
            min: None,
            compare: Compare::Finding,
            failed,
        }
    }
}

/// A number as outputs print it: the reasons' format, `∞` for infinite ends, `-` when absent.
fn cell(v: Option<f64>) -> String {
    match v {
        Some(v) if !v.is_nan() => crate::format::num(v),
        _ => "-".to_string(),
    }
}

/// A number with the unit, when there is one: `145.2 ms`.
fn with_unit(v: Option<f64>, unit: Option<&str>) -> String {
    match (v, unit) {
        (Some(_), Some(u)) if !u.is_empty() => format!("{} {u}", cell(v)),
        _ => cell(v),
    }
}

/// The unit of a quantity or check named `name`: ratios, CLES, rates, z-scores and counts
/// of intervals have none, the rest are in the metric's `unit`.
pub fn unit_for<'a>(name: &str, unit: Option<&'a str>) -> Option<&'a str> {
    let unitless = ["ratio", "CLES", "rate", "robust z", "intervals "];
    if unitless.iter().any(|u| name.contains(u)) {
        None
    } else {
        unit
    }
}

impl Judged {
    /// The quantity on both sides, `p99 113.05 → 145.2 ms` (the quantity's name alone when
    /// it has no single value per side). Every output prints it so.
    pub fn describe(&self, unit: Option<&str>) -> String {
        if self.baseline.is_none() && self.canary.is_none() {
            return self.quantity.clone();
        }
        let u = unit_for(&self.quantity, unit);
        format!(
            "{} {} → {}",
            self.quantity,
            cell(self.baseline),
            with_unit(self.canary, u)
        )
    }

    /// Every check, `; `-separated (see [`Check::describe`]), then what was ruled out
    /// (sequential judges). The rule follows when a check is ✗ — the reader then needs to know whether that
    /// one ✗ was enough.
    pub fn describe_checks(&self, unit: Option<&str>) -> String {
        let u = unit_for(&self.quantity, unit);
        let mut s = self
            .checks
            .iter()
            .map(|c| c.describe(u))
            .collect::<Vec<_>>()
            .join("; ");
        if !self.ruled_out.is_empty() {
            s.push_str("; ");
            s.push_str(&RuledOut::sentence(&self.ruled_out));
        }
        if let Some(rule) = self
            .rule
            .as_deref()
            .filter(|_| self.checks.iter().any(|c| c.failed))
        {
            s.push_str(&format!(" — {rule}"));
        }
        s
    }
}

impl Check {
    /// The check with its interval, bound and outcome, saying what is compared:
    /// `ratio 1.2843 (worse if > 1.25) ✗`, `shift 70.59 ms 98% CI [60.55, 80.92] (worse if
    /// lower end > 17.65 ms) ✗`, `significant difference: yes ✗`. `quantity_unit` is the
    /// unit of the judged quantity (ratios drop it).
    pub fn describe(&self, quantity_unit: Option<&str>) -> String {
        let u = unit_for(&self.name, quantity_unit);
        let mut s = self.name.clone();
        if self.compare == Compare::Finding {
            s.push_str(if self.failed { ": yes ✗" } else { ": no ✓" });
            return s;
        }
        if self.value.is_some() {
            s.push(' ');
            s.push_str(&with_unit(self.value, u));
        }
        if let Some([lo, hi]) = self.interval {
            let kind = match self.interval_kind.as_deref() {
                Some(k) => k
                    .replace("confidence interval", "CI")
                    .replace("confidence sequence", "CS"),
                None => "interval".into(),
            };
            s.push_str(&format!(" {kind} [{}, {}]", cell(Some(lo)), cell(Some(hi))));
        }
        let (upper, lower) = match self.compare {
            Compare::Interval => ("lower end > ", "upper end < "),
            _ => ("> ", "< "),
        };
        let parts: Vec<String> = [
            self.max
                .map(|b| format!("{upper}{}", with_unit(Some(b), u))),
            self.min
                .map(|a| format!("{lower}{}", with_unit(Some(a), u))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !parts.is_empty() {
            s.push_str(&format!(" (worse if {})", parts.join(" or ")));
        }
        s.push_str(if self.failed { " ✗" } else { " ✓" });
        s
    }
}

/// A judge's verdict on one metric pair, with every number behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub classification: Classification,
    /// True when this result is a critical failure (or critical missing data): it sets the
    /// canary's score to 0.
    pub critical: bool,
    /// One sentence saying why, with the numbers and the threshold that decided.
    pub reason: String,
    /// Location-shift estimate (canary − baseline), or the aggregate difference.
    pub estimate: Option<f64>,
    /// Confidence interval of the estimate.
    pub ci: Option<(f64, f64)>,
    /// Two-sided p-value of "no change".
    pub p_value: Option<f64>,
    /// The configured effect size.
    pub effect_size: Option<EffectSize>,
    /// mean(canary) / mean(baseline), Kayenta's reported "deviation".
    pub mean_ratio: Option<f64>,
    /// For aggregate-based judges: what was compared.
    pub aggregate: Option<AggregateDetail>,
    pub baseline: Summary,
    pub canary: Summary,
    /// The judged quantity and the checks that decided ([`Judged`]); `None` when nothing
    /// was judged (no data, an error).
    pub judged: Option<Judged>,
    /// The judge controls false alarms across all the pairs it judges in the analysis (it
    /// splits its α among them: `band`, `sequential`), so one failure is evidence enough
    /// on its own (see [`crate::scoring::Combine`]).
    pub familywise: bool,
}

impl Judgement {
    /// A judgement with only a classification and a reason.
    pub fn bare(classification: Classification, reason: impl Into<String>) -> Self {
        Judgement {
            classification,
            critical: false,
            reason: reason.into(),
            estimate: None,
            ci: None,
            p_value: None,
            effect_size: None,
            mean_ratio: None,
            aggregate: None,
            baseline: Summary::default(),
            canary: Summary::default(),
            judged: None,
            familywise: false,
        }
    }
}
