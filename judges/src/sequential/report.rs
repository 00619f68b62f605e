//! What a sequential state says: its judgement (classification, reason, checks, what it
//! ruled out and how much more data would decide it), bounds and summaries.

use super::*;

impl SequentialState {
    /// "; the change began about 600 s after the start (`detail`)" when a later start
    /// found the change, else nothing.
    pub(super) fn onset_phrase(&self, detail: &str) -> String {
        match (self.onset, self.onset_after_s) {
            (Some(_), Some(s)) => {
                format!(
                    "; the change began about {} s after the start ({detail})",
                    num(s)
                )
            }
            (Some(b), None) => format!("; the change began about batch {} ({detail})", b + 1),
            _ => String::new(),
        }
    }

    /// "4.1× since then, 40 vs 10 errors": the ratio since the reported onset.
    pub(super) fn onset_ratio_text(&self, test: &RateRatioTest) -> String {
        let up = self.options.direction != Direction::Decrease;
        test.onsets(up)
            .into_iter()
            .find(|o| Some(o.batch) == self.onset)
            .map(|o| {
                format!(
                    "ratio {} since then, {} vs {} errors",
                    num(o.ratio),
                    num(o.errors[1]),
                    num(o.errors[0])
                )
            })
            .unwrap_or_default()
    }

    /// The numbers behind the current state, as a judgement.
    pub fn judgement(&self) -> Judgement {
        let outcome = self.outcome();
        let mut j = Judgement::bare(Classification::Pass, String::new());
        if let Some(e) = &self.error {
            j.classification = Classification::Error;
            j.reason = e.clone();
            return j;
        }
        j.classification = self.classification(outcome);
        // A proven regression is controlled across the analysis's pairs (α is split); an
        // undecided one failed by `on_inconclusive = "fail"` is a policy, not evidence.
        j.familywise = outcome == Outcome::Fail;
        // Only the count test keeps an anytime-valid p-value; the others decide by their
        // confidence sequences alone, and a p-value of 1 beside their verdict would lie.
        j.p_value = matches!(self.test, Some(Test::Counts { .. })).then_some(self.p_value);
        let w = self.wording(outcome);
        match &self.test {
            Some(Test::Counts { test, .. }) => self.judge_counts(&mut j, &w, test),
            Some(Test::Distribution { test, .. }) => self.judge_distribution(&mut j, &w, test),
            Some(Test::Mean(main)) => self.judge_mean(&mut j, &w, main),
            None => {
                j.classification = Classification::Nodata;
                j.reason = "no data yet".into();
            }
        }
        // Every test's reason ends with what it ruled out (and how long the rest would
        // take at the rate seen so far).
        if let Some(judged) = j.judged.as_mut().filter(|d| !d.ruled_out.is_empty()) {
            for r in &mut judged.ruled_out {
                r.more_s = self.more_time(r.more);
            }
            j.reason = format!("{}; {}", j.reason, RuledOut::sentence(&judged.ruled_out));
        }
        j
    }

    /// The class the outcome maps to, `on_inconclusive` applied.
    fn classification(&self, outcome: Outcome) -> Classification {
        let worse_class = if self.fail_higher {
            Classification::High
        } else {
            Classification::Low
        };
        match (outcome, self.config.on_inconclusive) {
            (Outcome::Fail, _) => worse_class,
            (Outcome::Pass, _) => Classification::Pass,
            (Outcome::Continue, _) | (Outcome::Inconclusive, InconclusiveAction::Hold) => {
                Classification::Inconclusive
            }
            (Outcome::Inconclusive, InconclusiveAction::Fail) => worse_class,
            (Outcome::Inconclusive, InconclusiveAction::Pass) => Classification::Pass,
        }
    }

    /// The words and edges every test's judgement shares.
    fn wording(&self, outcome: Outcome) -> Wording {
        let band = num(self.config.tolerance * 100.0);
        let at_horizon = outcome == Outcome::Fail && self.horizon_p.is_some();
        let verb = match outcome {
            Outcome::Fail if at_horizon => {
                "regression beyond the band at the horizon (fixed-sample test of all errors)"
            }
            Outcome::Fail => "regression beyond the band",
            Outcome::Pass => "proven inside the pass bands",
            Outcome::Continue if self.within => {
                "inside the pass bands, promotes at the horizon unless a regression begins"
            }
            Outcome::Continue => "not decided yet",
            Outcome::Inconclusive => "inconclusive at the horizon",
        };
        let plural = |n: usize| if n == 1 { "" } else { "es" };
        let at = match (self.decided_at, self.decided_after_s) {
            _ if at_horizon => String::new(),
            (Some(b), Some(s)) => format!(" {} s after the start (batch {b})", num(s)),
            (Some(b), None) => format!(" after {b} batch{}", plural(b)),
            (None, _) => String::new(),
        };
        // The band the ratio is held against, on the watched sides, and the anytime-valid
        // interval's name: the judged numbers every output shows. Each check is ✗ when it
        // argues against the canary; the rule says how they combine.
        let k = 1.0 + self.config.tolerance;
        // Intervals are at the pair's share of α, so together they hold at the configured
        // level: that is the level they are labelled with.
        let level = num((1.0 - self.config.alpha) * 100.0);
        let pairs = (self.config.alpha / self.alpha).round().max(1.0);
        let alpha_text = if pairs > 1.0 {
            format!(
                "α {} shared by {} pairs",
                num(self.config.alpha),
                num(pairs)
            )
        } else {
            format!("α {}", num(self.config.alpha))
        };
        let cs = Some(format!("{level}% confidence sequence"));
        // After the horizon's equivalence test the bounds shown are its one-look ones.
        let one_look = Some(format!(
            "one-look interval at the horizon, {}% per side",
            num((1.0 - self.config.alpha) * 100.0)
        ));
        let watched = (
            self.options.direction.watches_increase(),
            self.options.direction.watches_decrease(),
        );
        let undecided = !matches!(outcome, Outcome::Pass | Outcome::Fail);
        let pass_from = if self.config.pass_from >= 1.0 {
            " at the horizon".to_string()
        } else if self.config.pass_from > 0.0 {
            format!(
                " from {}% of the horizon on",
                num(self.config.pass_from * 100.0)
            )
        } else {
            String::new()
        };
        Wording {
            verb,
            at,
            k,
            band,
            level,
            alpha_text,
            cs,
            one_look,
            watched,
            undecided,
            pass_from,
        }
    }

    /// The error-rate test's numbers, checks and reason.
    fn judge_counts(&self, j: &mut Judgement, w: &Wording, test: &RateRatioTest) {
        let Wording {
            verb,
            at,
            k,
            band,
            level,
            alpha_text,
            cs,
            undecided,
            ..
        } = w;
        let k = *k;
        let undecided = *undecided;
        let anytime = self.anytime_alpha();
        let (lo, hi) = test.confidence_interval(anytime);
        let ratio = test.observed_ratio();
        j.estimate = Some(ratio);
        j.ci = Some((lo, hi));
        j.mean_ratio = Some(ratio);
        j.baseline = count_summary(test.errors[0], test.requests[0]);
        j.canary = count_summary(test.errors[1], test.requests[1]);
        // Counts are one-sided (more events are worse) unless fewer are.
        let up = self.options.direction != Direction::Decrease;
        let kp = 1.0 + self.config.pass_band("rate");
        // What is ruled out: by the one-look test once the horizon decided on it.
        let (lo_out, hi_out) = if self.horizon_look {
            test.fixed_sample_interval(self.config.alpha)
        } else {
            (lo, hi)
        };
        let (min, max) = w.bounds(up, !up);
        let rate = |e: f64, r: f64| (r > 0.0).then(|| e / r);
        let e = self.max_log_e[usize::from(!up)];
        let p_side = (-e).exp().min(1.0);
        let beyond = if up { ratio > k } else { ratio < 1.0 / k };
        let horizon_alpha = self.alpha * HORIZON_SHARE;
        let horizon_check = self
            .horizon_p
            .map(|p| p_check("p-value at the horizon (fixed-sample)", p, horizon_alpha));
        j.judged = Some(Judged {
            quantity: "error rate".into(),
            baseline: rate(test.errors[0], test.requests[0]),
            canary: rate(test.errors[1], test.requests[1]),
            checks: [
                Some(p_check("p-value (anytime)", p_side, anytime)),
                horizon_check,
                Some(Check {
                    name: "rate ratio".into(),
                    value: finite(ratio),
                    interval: Some([lo, hi]),
                    interval_kind: cs.clone(),
                    max,
                    min,
                    compare: Compare::Value,
                    failed: beyond,
                }),
            ]
            .into_iter()
            .flatten()
            .collect(),
            rule: Some(format!(
                "fail when a p-value and the rate ratio are ✗ (more {} than chance explains, beyond the band); {}",
                if up { "errors" } else { "events missing" },
                w.pass_rule(up, !up, &num(kp), &num(1.0 / kp))
            )),
            ruled_out: vec![count_ruled_out(
                test,
                up,
                kp,
                (lo_out, hi_out),
                ratio,
                undecided,
            )],
        });
        let horizon_text = self.horizon_text(horizon_alpha);
        let onset_text = self.onset_phrase(&self.onset_ratio_text(test));
        j.reason = format!(
            "{verb}{at}{onset_text}: error-rate ratio {} ({level}% confidence sequence {} .. {}), {} vs {} errors in {} vs {} requests; anytime p-value {}{horizon_text}; band +{band}%, {alpha_text}",
            num(ratio),
            num(lo),
            num(hi),
            num(test.errors[1]),
            num(test.errors[0]),
            num(test.requests[1]),
            num(test.requests[0]),
            num(p_side)
        );
    }

    /// "; fixed-sample p-value at the horizon 0.003 (α share 0.0025)" once the horizon's
    /// test ran, else nothing.
    fn horizon_text(&self, horizon_alpha: f64) -> String {
        self.horizon_p
            .map(|p| {
                format!(
                    "; fixed-sample p-value at the horizon {} (α share {})",
                    crate::format::p_value(Some(p)),
                    num(horizon_alpha)
                )
            })
            .unwrap_or_default()
    }

    /// The quantile tests' numbers, checks and reason.
    fn judge_distribution(&self, j: &mut Judgement, w: &Wording, test: &DistributionTest) {
        let Wording {
            verb,
            at,
            k,
            band,
            alpha_text,
            watched,
            undecided,
            ..
        } = w;
        let k = *k;
        let (watched, undecided) = (*watched, *undecided);
        let totals = test.totals();
        let parts = self.quantile_parts();
        if let Some(q) = self.last_bounds.first() {
            j.ci = Some((q.ratio[0], q.ratio[1]));
        }
        let (up, down) = watched;
        let (min, max) = w.bounds(up, down);
        let direction = match (up, down) {
            (true, false) => "slower",
            (false, true) => "faster",
            _ => "slower or faster",
        };
        let n = totals[0].min(totals[1]);
        let ruled_out = self.quantile_ruled_out(up, down, n, undecided);
        // The pass edges per quantile, as the rule states them.
        let pass_edges = |inverse: bool| {
            ruled_out
                .iter()
                .map(|r| {
                    let v = if inverse { 1.0 / r.pass } else { r.pass };
                    format!("{} ({})", num(v), r.quantity)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut checks = vec![Check::finding(
            format!("significant difference ({direction})"),
            self.significant[0] || self.significant[1],
        )];
        checks.extend(self.last_bounds.iter().map(|q| Check {
            name: format!("p{} ratio", num(q.p * 100.0)),
            value: finite(q.estimate),
            interval: Some(q.ratio),
            interval_kind: w.interval_kind(self.horizon_look),
            max,
            min,
            compare: Compare::Value,
            failed: (up && q.estimate > k) || (down && q.estimate < 1.0 / k),
        }));
        j.judged = Some(Judged {
            quantity: self
                .last_bounds
                .iter()
                .map(|q| format!("p{}", num(q.p * 100.0)))
                .collect::<Vec<_>>()
                .join(", "),
            baseline: None,
            canary: None,
            checks,
            rule: Some(format!(
                "fail when the difference is significant and a quantile ratio is ✗ on the same side; {}",
                w.pass_rule(up, down, &pass_edges(false), &pass_edges(true))
            )),
            ruled_out,
        });
        let onset_text = self.onset_phrase("a test restarted then found it");
        j.reason = format!(
            "{verb}{at}{onset_text}: {}{} ({} vs {} samples); band ±{band}%, {alpha_text}",
            if self.significant[0] || self.significant[1] {
                "significant difference, "
            } else {
                ""
            },
            parts.join(", "),
            num(totals[1]),
            num(totals[0])
        );
        j.baseline.count = totals[0] as usize;
        j.canary.count = totals[1] as usize;
    }

    /// Each quantile's ratio and interval, and where the buckets were too coarse for a
    /// quantile, what its shares showed.
    fn quantile_parts(&self) -> Vec<String> {
        let parts: Vec<String> = self
            .last_bounds
            .iter()
            .map(|q| {
                format!(
                    "p{} ratio {} ({} .. {})",
                    num(q.p * 100.0),
                    num(q.estimate),
                    num(q.ratio[0]),
                    num(q.ratio[1])
                )
            })
            .collect();
        // The buckets were too coarse for some quantile: what its shares showed.
        parts
                    .into_iter()
                    .chain(self.last_shares.iter().map(|s| {
                        format!(
                            "share above {} (for p{}, whose bucket is wider than its band) {} → {} (difference {} .. {} points, pass band ±{} points)",
                            num(s.above),
                            num(s.p * 100.0),
                            crate::format::percent(s.share[0]),
                            crate::format::percent(s.share[1]),
                            num(s.difference[0] * 100.0),
                            num(s.difference[1] * 100.0),
                            num(s.band * 100.0)
                        )
                    }))
                    .collect()
    }

    /// What the quantile tests ruled out, with how many more observations per arm would
    /// decide each; where the buckets were too coarse for a quantile, its shares stand in.
    fn quantile_ruled_out(&self, up: bool, down: bool, n: f64, undecided: bool) -> Vec<RuledOut> {
        let ruled_out: Vec<RuledOut> = self
            .last_bounds
            .iter()
            .map(|q| {
                let kp = 1.0 + self.config.quantile_pass_band(q.p);
                let upper = up.then_some(q.ratio[1]).filter(|v| v.is_finite());
                let lower = down.then_some(q.ratio[0]).filter(|v| *v > 0.0);
                let more = [
                    upper.and_then(|u| more_per_arm(n, q.estimate, u, kp)),
                    lower.and_then(|l| more_per_arm(n, q.estimate, l, 1.0 / kp)),
                ]
                .into_iter()
                .flatten()
                .reduce(f64::max)
                .filter(|_| undecided);
                RuledOut {
                    quantity: quantile_key(q.p),
                    upper,
                    lower,
                    pass: kp,
                    more,
                    more_s: None,
                }
            })
            .collect();
        // Where the buckets were too coarse for a quantile, its shares stand in.
        ruled_out
            .into_iter()
            .zip(&self.last_bounds)
            .flat_map(|(r, q)| {
                let shares: Vec<&ShareBounds> =
                    self.last_shares.iter().filter(|s| s.p == q.p).collect();
                if shares.is_empty() {
                    return vec![r];
                }
                shares
                    .into_iter()
                    .map(|s| RuledOut {
                        quantity: format!("share above {}", num(s.above)),
                        upper: up.then_some(s.difference[1]),
                        lower: down.then_some(s.difference[0]),
                        pass: s.band,
                        more: None,
                        more_s: None,
                    })
                    .collect()
            })
            .collect()
    }

    /// The per-interval mean test's numbers, checks and reason.
    fn judge_mean(&self, j: &mut Judgement, w: &Wording, main: &MeanTest) {
        let Wording {
            verb,
            at,
            k,
            band,
            level,
            alpha_text,
            watched,
            undecided,
            ..
        } = w;
        let k = *k;
        let (watched, undecided) = (*watched, *undecided);
        let test = self.shown_mean.as_ref().unwrap_or(main);
        let ratio = test.mean_ratio();
        j.mean_ratio = Some(ratio);
        j.estimate = Some(ratio);
        let (b, c) = test.means();
        let (dlo, dhi) = test.difference_interval();
        let (up, down) = watched;
        let (min, max) = w.bounds(up, down);
        let kp = 1.0 + self.config.pass_band("mean");
        let (dlo, dhi) = if self.horizon_look {
            main.fixed_sample_difference_interval(self.config.alpha)
        } else {
            (dlo, dhi)
        };
        j.judged = Some(Judged {
            quantity: "mean per interval".into(),
            baseline: finite(b),
            canary: finite(c),
            checks: vec![
                Check {
                    name: "difference".into(),
                    value: finite(c - b),
                    interval: (dlo.is_finite() && dhi.is_finite()).then_some([dlo, dhi]),
                    interval_kind: w.interval_kind(self.horizon_look),
                    max: up.then_some(0.0),
                    min: down.then_some(0.0),
                    compare: Compare::Interval,
                    failed: (up && dlo > 0.0) || (down && dhi < 0.0),
                },
                Check {
                    name: "mean ratio".into(),
                    value: finite(ratio),
                    interval: None,
                    interval_kind: None,
                    max,
                    min,
                    compare: Compare::Value,
                    failed: (up && ratio > k) || (down && ratio < 1.0 / k),
                },
            ],
            rule: Some(format!(
                "fail when both checks are ✗ on the same side; {}",
                w.pass_rule(up, down, &num(kp), &num(1.0 / kp))
            )),
            ruled_out: vec![self.mean_ruled_out(test, up, down, kp, (dlo, dhi), undecided)],
        });
        j.baseline.mean = b;
        j.canary.mean = c;
        let onset_text = self.onset_phrase("the intervals since then");
        j.reason = format!(
            "{verb}{at}{onset_text}: mean ratio {} over {} paired intervals, difference {} ({level}% confidence sequence {} .. {}); band ±{band}%, {alpha_text}",
            num(ratio),
            test.intervals(),
            num(c - b),
            num(dlo),
            num(dhi)
        );
        j.baseline.count = test.intervals();
        j.canary.count = test.intervals();
    }

    /// What the mean test ruled out, as ratios to the baseline's mean, with how many more
    /// intervals would decide it.
    fn mean_ruled_out(
        &self,
        test: &MeanTest,
        up: bool,
        down: bool,
        kp: f64,
        (dlo, dhi): (f64, f64),
        undecided: bool,
    ) -> RuledOut {
        let (b, _) = test.means();
        let ratio = test.mean_ratio();
        RuledOut {
            quantity: "mean".into(),
            upper: (up && b > 0.0 && dhi.is_finite()).then(|| (b + dhi) / b),
            lower: (down && b > 0.0 && dlo.is_finite())
                .then(|| (b + dlo) / b)
                .filter(|v| *v > 0.0),
            pass: kp,
            more: undecided
                .then(|| {
                    let n = test.intervals() as f64;
                    let up_more = (up && b > 0.0)
                        .then(|| more_per_arm(n, ratio, (b + dhi) / b, kp))
                        .flatten();
                    let down_more = (down && b > 0.0)
                        .then(|| more_per_arm(n, ratio, (b + dlo) / b, 1.0 / kp))
                        .flatten();
                    up_more.into_iter().chain(down_more).reduce(f64::max)
                })
                .flatten(),
            more_s: None,
        }
    }

    /// The current estimate and confidence interval on the ratio canary / baseline — the
    /// numbers of [`SequentialState::judgement`] without its text, cheap enough to call
    /// after every batch (charts of the confidence sequence). For distributions the
    /// interval is the first quantile's ratio bounds and there is no point estimate.
    pub fn interval(&self) -> (Option<f64>, Option<(f64, f64)>) {
        match &self.test {
            Some(Test::Counts { test, .. }) => (
                Some(test.observed_ratio()),
                Some(test.confidence_interval(self.anytime_alpha())),
            ),
            Some(Test::Distribution { .. }) => (
                None,
                self.last_bounds.first().map(|q| (q.ratio[0], q.ratio[1])),
            ),
            Some(Test::Mean(main)) => (
                Some(self.shown_mean.as_ref().unwrap_or(main).mean_ratio()),
                None,
            ),
            None => (None, None),
        }
    }

    /// Quantile bounds of the last update (distributions only).
    pub fn quantile_bounds(&self) -> &[QuantileBounds] {
        &self.last_bounds
    }
}

/// The words and edges every test's judgement shares: the verdict's verb and time, the
/// band the ratio is held against, the level the intervals are labelled with.
struct Wording {
    verb: &'static str,
    at: String,
    /// 1 + the fail band.
    k: f64,
    band: String,
    level: String,
    alpha_text: String,
    /// The confidence sequence's name.
    cs: Option<String>,
    /// The horizon's one-look interval's name.
    one_look: Option<String>,
    /// (increase watched, decrease watched).
    watched: (bool, bool),
    undecided: bool,
    pass_from: String,
}

impl Wording {
    /// The fail band's edges on the watched sides, as (min, max).
    fn bounds(&self, up: bool, down: bool) -> (Option<f64>, Option<f64>) {
        (down.then_some(1.0 / self.k), up.then_some(self.k))
    }

    /// The name of the interval shown: the horizon's one-look interval once the horizon
    /// decided on it, else the confidence sequence.
    fn interval_kind(&self, horizon_look: bool) -> Option<String> {
        if horizon_look {
            self.one_look.clone()
        } else {
            self.cs.clone()
        }
    }

    /// "pass … once the interval lies below 1.1".
    fn pass_rule(&self, up: bool, down: bool, kp: &str, kp_inv: &str) -> String {
        let pass_from = &self.pass_from;
        match (up, down) {
            (true, false) => format!("pass{pass_from} once the interval lies below {kp}"),
            (false, true) => format!("pass{pass_from} once the interval lies above {kp_inv}"),
            _ => format!("pass{pass_from} once the interval lies inside [{kp_inv}, {kp}]"),
        }
    }
}

/// A p-value's check: ✗ at or below its α.
fn p_check(name: &str, p: f64, alpha: f64) -> Check {
    Check {
        name: name.into(),
        value: Some(p),
        interval: None,
        interval_kind: None,
        max: None,
        min: Some(alpha),
        compare: Compare::Value,
        failed: p <= alpha,
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// What the count test ruled out on its watched side, with how many more requests per
/// arm would decide it.
fn count_ruled_out(
    test: &RateRatioTest,
    up: bool,
    kp: f64,
    (lo_out, hi_out): (f64, f64),
    ratio: f64,
    undecided: bool,
) -> RuledOut {
    RuledOut {
        quantity: "error rate".into(),
        upper: up.then_some(hi_out).filter(|v| v.is_finite()),
        lower: (!up).then_some(lo_out).filter(|v| *v > 0.0),
        pass: if up { kp } else { 1.0 / kp },
        more: undecided
            .then(|| {
                let n = test.requests[0].min(test.requests[1]);
                let (bound, edge) = if up { (hi_out, kp) } else { (lo_out, 1.0 / kp) };
                more_per_arm(n, ratio, bound, edge)
            })
            .flatten(),
        more_s: None,
    }
}

/// Roughly how many more observations per arm would bring a bound at `bound` inside the
/// pass edge `edge`, when the estimate `est` already lies inside it: a confidence
/// sequence's half-width on the log scale narrows about as 1/√n (slightly slower, by its
/// log log n). `None` when the bound is inside already or the estimate is not.
pub(super) fn more_per_arm(n: f64, est: f64, bound: f64, edge: f64) -> Option<f64> {
    if !(n > 0.0 && est > 0.0 && bound > 0.0 && bound.is_finite() && edge > 0.0) {
        return None;
    }
    let width = (bound / est).ln().abs();
    let target = (edge / est).ln().abs();
    // The bound lies beyond the edge, the estimate on the near side of it.
    if (bound - est) * (edge - est) <= 0.0 || width <= target || target <= 0.0 {
        return None;
    }
    Some(n * ((width / target).powi(2) - 1.0))
}

pub(super) fn count_summary(errors: f64, requests: f64) -> Summary {
    let rate = if requests > 0.0 {
        errors / requests
    } else {
        0.0
    };
    Summary {
        count: requests as usize,
        mean: rate,
        std: 0.0,
        min: rate,
        max: rate,
    }
}

/// The judgement with the arms' value summaries (count, mean, spread after the NaN
/// strategy and outlier removal) when the pair holds values: the state keeps only what its
/// test needs, and a summary of zeros would contradict the data. Event counts keep their
/// rate summaries, histograms their totals.
pub fn with_summaries(mut j: Judgement, options: &MetricOptions, pair: &MetricPair) -> Judgement {
    let values = matches!(
        (&pair.baseline, &pair.canary),
        (Sample::Values(_), Sample::Values(_))
    );
    if !values || j.classification == Classification::Error {
        return j;
    }
    let prep = crate::judge::Prepared::new(options, pair);
    let (mean_b, mean_c) = (j.baseline.mean, j.canary.mean);
    j.baseline = prep.baseline_summary;
    j.canary = prep.canary_summary;
    // A per-interval mean test's means are its own (the same data, paired by interval).
    if matches!(j.judged.as_ref(), Some(d) if d.quantity == "mean per interval") {
        j.baseline.mean = mean_b;
        j.canary.mean = mean_c;
    }
    j
}

/// Kayenta's no-data rule (critical → nodata marked critical; must-have-data →
/// nodata_fail; else nodata), for an arm without usable observations.
pub(super) fn no_data(options: &MetricOptions, which: &str) -> Judgement {
    let class = if options.must_have_data && !options.critical {
        Classification::NodataFail
    } else {
        Classification::Nodata
    };
    let mut j = Judgement::bare(class, format!("no usable observations for the {which}"));
    j.critical = options.critical;
    j
}
