//! One test per rule of Kayenta's NetflixACAJudge (docs/judges.md lists them), plus the
//! threshold judge's rules and the scorer's.

use std::collections::BTreeMap;

use canary_judges::{
    Aggregate, Classification, Direction, EffectSizeConfig, EffectSizeMeasure, HoldKind, Judge,
    Judgement, MannWhitneyConfig, MannWhitneyJudge, MetricOptions, MetricPair, NanStrategy,
    Outliers, Sample, ScoreInput, ScoringRules, ThresholdConfig, ThresholdJudge, Thresholds,
    Verdict, score,
};

fn mw() -> MannWhitneyJudge {
    MannWhitneyJudge::new(MannWhitneyConfig::default())
}

fn ramp(n: usize, scale: f64) -> Vec<f64> {
    (1..=n).map(|i| i as f64 * scale).collect()
}

fn base() -> MetricOptions {
    MetricOptions::default()
}

// Rule 1: NaN strategy, then outlier removal on each side separately.
#[test]
fn rule1_nan_remove_drops_and_replace_zeroes() {
    let mut canary = ramp(40, 1.0);
    canary.extend([f64::NAN; 40]);
    let removed = mw().judge_values(&base(), &ramp(40, 1.0), &canary);
    assert_eq!(removed.canary.count, 40);
    assert_eq!(removed.classification, Classification::Pass);
    let opts = MetricOptions {
        nan_strategy: NanStrategy::Replace,
        ..base()
    };
    let replaced = mw().judge_values(&opts, &ramp(40, 1.0), &canary);
    assert_eq!(replaced.canary.count, 80);
    assert_eq!(replaced.canary.min, 0.0);
    assert_eq!(
        replaced.classification,
        Classification::Low,
        "{}",
        replaced.reason
    );
}

#[test]
fn rule1_outliers_are_removed_only_when_enabled() {
    let baseline = ramp(100, 1.0);
    let mut canary = ramp(100, 1.0);
    canary.extend([1e9; 1]);
    let kept = mw().judge_values(&base(), &baseline, &canary);
    assert_eq!(kept.canary.count, 101);
    assert_eq!(kept.canary.max, 1e9);
    let opts = MetricOptions {
        outliers: Outliers::Remove { factor: 3.0 },
        ..base()
    };
    let removed = mw().judge_values(&opts, &baseline, &canary);
    assert_eq!(removed.canary.count, 100);
    assert_eq!(removed.canary.max, 100.0);
    assert_eq!(
        removed.baseline.count, 100,
        "each side is filtered on its own fences"
    );
}

// Rule 2: descriptive stats per side, all 0 when empty.
#[test]
fn rule2_stats_per_side() {
    let j = mw().judge_values(&base(), &[1.0, 2.0, 3.0], &[]);
    assert_eq!(
        (
            j.baseline.count,
            j.baseline.mean,
            j.baseline.min,
            j.baseline.max
        ),
        (3, 2.0, 1.0, 3.0)
    );
    assert_eq!(j.baseline.std, 1.0);
    assert_eq!((j.canary.count, j.canary.mean, j.canary.std), (0, 0.0, 0.0));
}

// Rule 3: empty side.
#[test]
fn rule3_empty_side_nodata_variants() {
    let plain = mw().judge_values(&base(), &[1.0], &[]);
    assert_eq!(
        (plain.classification, plain.critical),
        (Classification::Nodata, false)
    );

    let critical = MetricOptions {
        critical: true,
        must_have_data: true,
        ..base()
    };
    let c = mw().judge_values(&critical, &[1.0], &[]);
    assert_eq!(
        (c.classification, c.critical),
        (Classification::Nodata, true),
        "critical wins over must-have-data"
    );

    let must = MetricOptions {
        must_have_data: true,
        ..base()
    };
    let m = mw().judge_values(&must, &[], &[1.0]);
    assert_eq!(m.classification, Classification::NodataFail);

    let replace = MetricOptions {
        nan_strategy: NanStrategy::Replace,
        ..base()
    };
    let r = mw().judge_values(&replace, &[1.0], &[]);
    assert_eq!(r.classification, Classification::Pass);
}

// Rule 4: identical samples, or every value equal → pass.
#[test]
fn rule4_identical_or_all_equal_passes() {
    let j = mw().judge_values(&base(), &[3.0, 1.0, 2.0], &[2.0, 3.0, 1.0]);
    assert_eq!(j.classification, Classification::Pass);
    assert!(j.estimate.is_none(), "no test was needed");
    let k = mw().judge_values(&base(), &[7.0; 5], &[7.0; 9]);
    assert_eq!(k.classification, Classification::Pass);
}

// Rule 5: both constant but different → deterministic, from the exact difference.
#[test]
fn rule5_constant_arms_are_deterministic() {
    let up = mw().judge_values(&base(), &[10.0; 20], &[12.0; 20]);
    assert_eq!(up.classification, Classification::High);
    assert_eq!(up.estimate, Some(2.0));
    assert_eq!(up.ci, Some((2.0, 2.0)));
    let again = mw().judge_values(&base(), &[10.0; 20], &[12.0; 20]);
    assert_eq!(up, again);
    let down = mw().judge_values(&base(), &[12.0; 20], &[10.0; 20]);
    assert_eq!(down.classification, Classification::Low);
    let inc_only = MetricOptions {
        direction: Direction::Increase,
        ..base()
    };
    assert_eq!(
        mw().judge_values(&inc_only, &[12.0; 20], &[10.0; 20])
            .classification,
        Classification::Pass
    );
}

// Rule 6: the Mann-Whitney interval and estimate (numbers against R are in oracle.rs).
#[test]
fn rule6_interval_contains_the_estimate_and_p_value_is_reported() {
    let j = mw().judge_values(
        &base(),
        &ramp(50, 1.0),
        &ramp(50, 1.0).iter().map(|v| v + 20.0).collect::<Vec<_>>(),
    );
    let (lo, hi) = j.ci.expect("interval");
    let e = j.estimate.expect("estimate");
    assert!(lo <= e && e <= hi, "{lo} <= {e} <= {hi}");
    assert!((e - 20.0).abs() < 1.0);
    assert!(j.p_value.expect("p") < 1e-5);
}

// Rule 7: effect sizes; mean ratio is always reported.
#[test]
fn rule7_effect_sizes() {
    let baseline = ramp(50, 1.0);
    let canary: Vec<f64> = baseline.iter().map(|v| v * 2.0).collect();
    let j = mw().judge_values(&base(), &baseline, &canary);
    assert_eq!(j.mean_ratio, Some(2.0));
    assert_eq!(j.effect_size.map(|e| e.value), Some(2.0));
    let cles = MetricOptions {
        effect_size: EffectSizeConfig {
            measure: EffectSizeMeasure::Cles,
            ..Default::default()
        },
        ..base()
    };
    let k = mw().judge_values(&cles, &baseline, &canary);
    let c = k.effect_size.expect("cles").value;
    assert!(c > 0.5 && c < 1.0, "{c}");
    assert_eq!(
        k.mean_ratio,
        Some(2.0),
        "the deviation is always the mean ratio"
    );
    let z = mw().judge_values(&base(), &[0.0, 0.0, 1.0, -1.0], &canary);
    assert!(
        z.mean_ratio.expect("reported").is_nan(),
        "zero baseline mean → NaN ratio"
    );
}

// Rule 8: tolerance band, direction and effect-size gates.
#[test]
fn rule8_band_direction_and_gates() {
    let baseline = ramp(60, 1.0);
    let canary: Vec<f64> = baseline.iter().map(|v| v + 30.0).collect();
    assert_eq!(
        mw().judge_values(&base(), &baseline, &canary)
            .classification,
        Classification::High
    );
    assert_eq!(
        mw().judge_values(&base(), &canary, &baseline)
            .classification,
        Classification::Low
    );

    let inc = MetricOptions {
        direction: Direction::Increase,
        ..base()
    };
    assert_eq!(
        mw().judge_values(&inc, &canary, &baseline).classification,
        Classification::Pass
    );
    let dec = MetricOptions {
        direction: Direction::Decrease,
        ..base()
    };
    assert_eq!(
        mw().judge_values(&dec, &baseline, &canary).classification,
        Classification::Pass
    );

    // A wide tolerance band swallows the same shift.
    let wide = MannWhitneyJudge::new(MannWhitneyConfig {
        tolerance: 0.95,
        ..Default::default()
    });
    let j = wide.judge_values(&base(), &baseline, &canary);
    assert_eq!(j.classification, Classification::Pass, "{}", j.reason);

    // Significant, but the mean ratio (≈1.98) is below the allowed increase.
    let gate = MetricOptions {
        effect_size: EffectSizeConfig {
            allowed_increase: Some(2.5),
            ..Default::default()
        },
        ..base()
    };
    let g = mw().judge_values(&gate, &baseline, &canary);
    assert_eq!(g.classification, Classification::Pass, "{}", g.reason);
    // A NaN effect size does not block: zero-mean baseline.
    let zero_mean = [-2.0, -1.0, 0.0, 1.0, 2.0, -2.0, -1.0, 0.0, 1.0, 2.0];
    let shifted: Vec<f64> = zero_mean.iter().map(|v| v + 50.0).collect();
    let n = mw().judge_values(&gate, &zero_mean, &shifted);
    assert_eq!(n.classification, Classification::High, "{}", n.reason);

    let low_gate = MetricOptions {
        effect_size: EffectSizeConfig {
            allowed_decrease: Some(0.1),
            ..Default::default()
        },
        ..base()
    };
    assert_eq!(
        mw().judge_values(&low_gate, &canary, &baseline)
            .classification,
        Classification::Pass
    );
}

// Rule 9: critical metrics.
#[test]
fn rule9_critical_needs_the_critical_effect() {
    let baseline = ramp(60, 1.0);
    let canary: Vec<f64> = baseline.iter().map(|v| v * 2.0).collect();
    let crit = MetricOptions {
        critical: true,
        ..base()
    };
    let j = mw().judge_values(&crit, &baseline, &canary);
    assert_eq!((j.classification, j.critical), (Classification::High, true));
    let strict = MetricOptions {
        critical: true,
        effect_size: EffectSizeConfig {
            critical_increase: Some(3.0),
            ..Default::default()
        },
        ..base()
    };
    let k = mw().judge_values(&strict, &baseline, &canary);
    assert_eq!(
        (k.classification, k.critical),
        (Classification::High, false),
        "an ordinary failure"
    );
    let low = mw().judge_values(&crit, &canary, &baseline);
    assert_eq!(
        (low.classification, low.critical),
        (Classification::Low, true)
    );
    let not_crit = mw().judge_values(&base(), &baseline, &canary);
    assert!(!not_crit.critical);
}

// Rule 10: internal failure → error, which never fails the canary by itself.
#[test]
fn rule10_error_does_not_fail_by_itself() {
    let rate_on_values = ThresholdJudge::new(ThresholdConfig {
        max: Some(0.1),
        ..ThresholdConfig::on(Aggregate::Rate)
    });
    let e = rate_on_values.judge_values(&base(), &[1.0], &[1.0]);
    assert_eq!(e.classification, Classification::Error);
    let pass = Judgement::bare(Classification::Pass, "ok");
    let groups = vec!["g".to_string()];
    let card = score(
        &[
            ScoreInput {
                name: "a",
                metric: "a",
                groups: &groups,
                muted: false,
                critical: false,
                judgement: &pass,
            },
            ScoreInput {
                name: "b",
                metric: "b",
                groups: &groups,
                muted: false,
                critical: false,
                judgement: &e,
            },
        ],
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!((card.score, card.verdict), (100.0, Verdict::Pass));
}

// Threshold judge.
#[test]
fn threshold_absolute_and_relative_bounds() {
    let baseline = ramp(100, 1.0); // p99 = 99.01
    let canary: Vec<f64> = baseline.iter().map(|v| v * 1.3).collect(); // p99 = 128.7
    let abs = ThresholdJudge::new(ThresholdConfig {
        max: Some(120.0),
        ..ThresholdConfig::on(Aggregate::Percentile(99.0))
    });
    let j = abs.judge_values(&base(), &baseline, &canary);
    assert_eq!(j.classification, Classification::High, "{}", j.reason);
    assert!(j.reason.contains("max 120"), "{}", j.reason);
    let agg = j.aggregate.expect("aggregate detail");
    assert!((agg.canary - 128.713).abs() < 1e-9);

    let ratio = ThresholdJudge::new(ThresholdConfig {
        max_ratio: Some(1.2),
        ..ThresholdConfig::on(Aggregate::Mean)
    });
    assert_eq!(
        ratio
            .judge_values(&base(), &baseline, &canary)
            .classification,
        Classification::High
    );
    let loose = ThresholdJudge::new(ThresholdConfig {
        max_ratio: Some(1.5),
        ..ThresholdConfig::on(Aggregate::Mean)
    });
    assert_eq!(
        loose
            .judge_values(&base(), &baseline, &canary)
            .classification,
        Classification::Pass
    );

    let diff = ThresholdJudge::new(ThresholdConfig {
        max_decrease: Some(5.0),
        ..ThresholdConfig::on(Aggregate::Median)
    });
    assert_eq!(
        diff.judge_values(&base(), &canary, &baseline)
            .classification,
        Classification::Low
    );

    // Relative bounds need the baseline; absolute ones do not.
    assert_eq!(
        ratio.judge_values(&base(), &[], &canary).classification,
        Classification::Nodata
    );
    assert_eq!(
        abs.judge_values(&base(), &[], &canary).classification,
        Classification::High
    );
    for (agg, expect) in [
        (Aggregate::Max, 130.0),
        (Aggregate::Min, 1.3),
        (Aggregate::Sum, 6565.0),
    ] {
        let t = ThresholdJudge::new(ThresholdConfig {
            max: Some(1e9),
            ..ThresholdConfig::on(agg)
        });
        let a = t
            .judge_values(&base(), &baseline, &canary)
            .aggregate
            .expect("detail")
            .canary;
        assert!((a - expect).abs() < 1e-9, "{agg:?}: {a}");
    }
}

#[test]
fn threshold_rate_catches_errors_rising_from_zero() {
    let t = ThresholdJudge::new(ThresholdConfig {
        max_ratio: Some(2.0),
        max: Some(0.01),
        ..ThresholdConfig::on(Aggregate::Rate)
    });
    let pair = MetricPair {
        baseline: Sample::Counts {
            events: vec![0.0; 10],
            totals: vec![1000.0; 10],
        },
        canary: Sample::Counts {
            events: vec![0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            totals: vec![100.0; 10],
        },
    };
    let j = t.judge(&base(), &pair);
    assert_eq!(j.classification, Classification::High, "{}", j.reason);
    let agg = j.aggregate.expect("detail");
    assert_eq!((agg.canary, agg.baseline), (0.003, Some(0.0)));
    assert!(j.reason.contains("ratio ∞"), "{}", j.reason);
    // No traffic at all on the canary is missing data, not a pass.
    let idle = MetricPair {
        baseline: pair.baseline.clone(),
        canary: Sample::Counts {
            events: vec![0.0; 3],
            totals: vec![0.0; 3],
        },
    };
    assert_eq!(
        t.judge(&base(), &idle).classification,
        Classification::Nodata
    );
}

#[test]
fn threshold_validation_names_the_field() {
    let none = ThresholdConfig::on(Aggregate::Mean);
    assert_eq!(none.validate(&base())[0].field, "aggregate");
    let crossed = ThresholdConfig {
        min: Some(5.0),
        max: Some(1.0),
        ..ThresholdConfig::on(Aggregate::Mean)
    };
    assert_eq!(crossed.validate(&base())[0].field, "min");
    let inc = MetricOptions {
        direction: Direction::Increase,
        ..base()
    };
    let lower = ThresholdConfig {
        min: Some(1.0),
        ..ThresholdConfig::on(Aggregate::Mean)
    };
    assert_eq!(lower.validate(&inc)[0].field, "min");
    assert!(serde_json::from_str::<Aggregate>("\"p99.9\"").is_ok());
    assert!(serde_json::from_str::<Aggregate>("\"p101\"").is_err());
    assert!(serde_json::from_str::<Aggregate>("\"average\"").is_err());
}

// Scoring.
fn j(c: Classification) -> Judgement {
    Judgement::bare(c, "test")
}

fn g(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn scoring_weights_and_unweighted_share() {
    use Classification::*;
    let (lat, err, sys) = (g(&["latency"]), g(&["errors"]), g(&["system"]));
    let (p, h) = (j(Pass), j(High));
    let results = [
        ScoreInput {
            name: "a",
            metric: "a",
            groups: &lat,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "b",
            metric: "b",
            groups: &lat,
            muted: false,
            critical: false,
            judgement: &h,
        },
        ScoreInput {
            name: "c",
            metric: "c",
            groups: &err,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "d",
            metric: "d",
            groups: &sys,
            muted: false,
            critical: false,
            judgement: &p,
        },
    ];
    let weights = BTreeMap::from([("latency".to_string(), 50.0)]);
    let card = score(
        &results,
        &weights,
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    // latency 50% × 50 + errors 100% × 25 + system 100% × 25.
    assert_eq!(card.score, 75.0);
    assert_eq!(card.verdict, Verdict::Marginal);
    let lat_group = card
        .groups
        .iter()
        .find(|g| g.name == "latency")
        .expect("group");
    assert_eq!(
        (lat_group.score, lat_group.pass, lat_group.high),
        (50.0, 1, 1)
    );
    assert_eq!(
        card.groups
            .iter()
            .find(|g| g.name == "errors")
            .expect("group")
            .weight,
        25.0
    );
}

#[test]
fn scoring_metric_counts_in_every_group_and_rounds_half_up() {
    use Classification::*;
    let both = g(&["a", "b"]);
    let only_a = g(&["a"]);
    let (p, l) = (j(Pass), j(Low));
    let results = [
        ScoreInput {
            name: "x",
            metric: "x",
            groups: &both,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "y",
            metric: "y",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &l,
        },
        ScoreInput {
            name: "z",
            metric: "z",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &p,
        },
    ];
    let card = score(
        &results,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    // a: 2/3 → 66.666…, b: 100 → (66.666… + 100) / 2 = 83.333… → 83.33
    assert_eq!(card.score, 83.33);
    let third = [
        ScoreInput {
            name: "x",
            metric: "x",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "y",
            metric: "y",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &l,
        },
        ScoreInput {
            name: "z",
            metric: "z",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &l,
        },
    ];
    assert_eq!(
        score(
            &third,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .score,
        33.33
    );
    let two_thirds = [
        ScoreInput {
            name: "x",
            metric: "x",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "y",
            metric: "y",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "z",
            metric: "z",
            groups: &only_a,
            muted: false,
            critical: false,
            judgement: &l,
        },
    ];
    assert_eq!(
        score(
            &two_thirds,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .score,
        66.67
    );
}

#[test]
fn scoring_muted_metrics_are_left_out() {
    use Classification::*;
    let grp = g(&["x"]);
    let (p, h) = (j(Pass), j(High));
    let results = [
        ScoreInput {
            name: "ok",
            metric: "ok",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "bad",
            metric: "bad",
            groups: &grp,
            muted: true,
            critical: false,
            judgement: &h,
        },
    ];
    let card = score(
        &results,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!((card.score, card.verdict), (100.0, Verdict::Pass));
}

#[test]
fn scoring_critical_short_circuits() {
    use Classification::*;
    let grp = g(&["x"]);
    let mut crit = j(High);
    crit.critical = true;
    let p = j(Pass);
    let mut results: Vec<ScoreInput<'_>> = (0..20)
        .map(|_| ScoreInput {
            name: "ok",
            metric: "ok",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &p,
        })
        .collect();
    results.push(ScoreInput {
        name: "latency{api=/checkout}",
        metric: "latency{api=/checkout}",
        groups: &grp,
        muted: false,
        critical: false,
        judgement: &crit,
    });
    let card = score(
        &results,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!((card.score, card.verdict), (0.0, Verdict::Fail));
    assert!(
        card.reason.contains("latency{api=/checkout}"),
        "{}",
        card.reason
    );
    // A muted critical failure does not.
    results.last_mut().expect("pushed").muted = true;
    assert_eq!(
        score(
            &results,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .score,
        100.0
    );
}

#[test]
fn scoring_half_or_more_nodata_fails() {
    use Classification::*;
    let grp = g(&["x"]);
    let (p, n) = (j(Pass), j(Nodata));
    let half = [
        ScoreInput {
            name: "a",
            metric: "a",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "b",
            metric: "b",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &n,
        },
    ];
    let card = score(
        &half,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!((card.score, card.verdict), (0.0, Verdict::Fail));
    let third = [
        ScoreInput {
            name: "a",
            metric: "a",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "b",
            metric: "b",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "c",
            metric: "c",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &n,
        },
    ];
    assert_eq!(
        score(
            &third,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .score,
        100.0
    );
}

#[test]
fn scoring_nothing_judged_never_passes() {
    use Classification::*;
    let grp = g(&["x"]);
    let e = j(Error);
    let results = [ScoreInput {
        name: "a",
        metric: "a",
        groups: &grp,
        muted: false,
        critical: false,
        judgement: &e,
    }];
    let card = score(
        &results,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!(card.verdict, Verdict::Fail);
    assert!(card.reason.contains("no metric could be judged"));
    assert_eq!(
        score(
            &[],
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .verdict,
        Verdict::Fail
    );
}

#[test]
fn scoring_group_without_judged_results_counts_as_100() {
    use Classification::*;
    let (a, b) = (g(&["a"]), g(&["b"]));
    let (p, h, e) = (j(Pass), j(High), j(Error));
    let results = [
        ScoreInput {
            name: "1",
            metric: "1",
            groups: &a,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "2",
            metric: "2",
            groups: &a,
            muted: false,
            critical: false,
            judgement: &h,
        },
        ScoreInput {
            name: "3",
            metric: "3",
            groups: &b,
            muted: false,
            critical: false,
            judgement: &e,
        },
    ];
    let card = score(
        &results,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    let gb = card.groups.iter().find(|g| g.name == "b").expect("group");
    assert!(gb.no_data && gb.score == 0.0, "reported as 0 with no data");
    assert_eq!(card.score, 75.0, "but counts as 100 in the sum");
    let nf = j(NodataFail);
    let results = [
        ScoreInput {
            name: "1",
            metric: "1",
            groups: &a,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "2",
            metric: "2",
            groups: &a,
            muted: false,
            critical: false,
            judgement: &nf,
        },
    ];
    assert_eq!(
        score(
            &results,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .score,
        50.0,
        "nodata_fail counts against"
    );
}

#[test]
fn verdict_thresholds() {
    let t = Thresholds {
        pass: 90.0,
        marginal: 60.0,
    };
    assert_eq!(Verdict::of(90.0, t), Verdict::Pass);
    assert_eq!(Verdict::of(89.99, t), Verdict::Marginal);
    assert_eq!(Verdict::of(60.0, t), Verdict::Marginal);
    assert_eq!(Verdict::of(59.99, t), Verdict::Fail);
}

#[test]
fn scoring_inconclusive_caps_at_marginal() {
    use Classification::*;
    let grp = g(&["x"]);
    let (p, i) = (j(Pass), j(Inconclusive));
    // Every other metric passes: the canary is still not promoted.
    let results = [
        ScoreInput {
            name: "a",
            metric: "a",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &p,
        },
        ScoreInput {
            name: "b",
            metric: "b",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &i,
        },
    ];
    let card = score(
        &results,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!((card.score, card.verdict), (75.0, Verdict::Inconclusive));
    assert!(
        card.reason.contains("Canary Inconclusive"),
        "{}",
        card.reason
    );
    assert_eq!(card.groups[0].inconclusive, 1);
    // Nothing but undecided results: marginal, not a failure and not a pass.
    let only = [ScoreInput {
        name: "b",
        metric: "b",
        groups: &grp,
        muted: false,
        critical: false,
        judgement: &i,
    }];
    assert_eq!(
        score(
            &only,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .verdict,
        Verdict::Inconclusive
    );
    // A real failure still fails.
    let h = j(High);
    let failing = [
        ScoreInput {
            name: "a",
            metric: "a",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &h,
        },
        ScoreInput {
            name: "b",
            metric: "b",
            groups: &grp,
            muted: false,
            critical: false,
            judgement: &i,
        },
    ];
    assert_eq!(
        score(
            &failing,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta
        )
        .verdict,
        Verdict::Fail
    );
}

// canaryd's scoring rules: missing evidence holds, never promotes.
fn input<'a>(
    name: &'a str,
    groups: &'a [String],
    critical: bool,
    judgement: &'a Judgement,
) -> ScoreInput<'a> {
    ScoreInput {
        name,
        metric: name.split('{').next().unwrap_or(name),
        groups,
        muted: false,
        critical,
        judgement,
    }
}

fn canaryd(
    results: &[ScoreInput<'_>],
    weights: &BTreeMap<String, f64>,
) -> canary_judges::Scorecard {
    score(
        results,
        weights,
        Thresholds::default(),
        ScoringRules::Canaryd,
    )
}

#[test]
fn canaryd_critical_metric_without_data_holds() {
    use Classification::*;
    let (lat, err) = (g(&["latency"]), g(&["errors"]));
    let p = j(Pass);
    let mut nodata = Judgement::bare(Nodata, "no `http_errorz` rows in the canary (c.csv)");
    nodata.critical = true; // judges carry a critical metric's flag on its nodata
    let results = [
        input("latency", &lat, false, &p),
        input("error_rate{api=/a}", &err, true, &p),
        input("error_rate{api=/b}", &err, true, &nodata),
    ];
    let card = canaryd(&results, &BTreeMap::new());
    assert_eq!(card.verdict, Verdict::Inconclusive, "{}", card.reason);
    assert_eq!(card.score, 75.0, "capped at marginal");
    let hold = card
        .holds
        .iter()
        .find(|h| h.kind == HoldKind::CriticalNoData)
        .expect("a critical-no-data hold");
    assert_eq!(hold.subject, "error_rate");
    assert!(
        hold.message.contains("error_rate{api=/b}") && hold.message.contains("http_errorz"),
        "names the label set and the missing series: {}",
        hold.message
    );
    assert!(
        card.reason.contains("critical metric `error_rate`"),
        "{}",
        card.reason
    );
    // Kayenta's rules fail it instead (critical and not pass).
    let k = score(
        &results,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!((k.score, k.verdict), (0.0, Verdict::Fail));
    // A critical metric whose judge errored holds too.
    let e = Judgement::bare(Error, "the events series is absent");
    let results = [
        input("latency", &lat, false, &p),
        input("error_rate", &err, true, &e),
    ];
    let card = canaryd(&results, &BTreeMap::new());
    assert_eq!(card.verdict, Verdict::Inconclusive);
    assert!(card.holds.iter().any(|h| h.kind == HoldKind::CriticalError));
}

#[test]
fn canaryd_group_not_judged_caps_and_weights_renormalise() {
    use Classification::*;
    let (lat, err) = (g(&["latency"]), g(&["errors"]));
    let (p, h, n) = (j(Pass), j(High), j(Nodata));
    let weights = BTreeMap::from([("latency".to_string(), 45.0), ("errors".to_string(), 55.0)]);
    // Every latency result passes, the errors group has no data: not 100, not a pass.
    let results = [
        input("latency{api=/a}", &lat, false, &p),
        input("latency{api=/b}", &lat, false, &p),
        input("error_rate", &err, false, &n),
    ];
    let card = canaryd(&results, &weights);
    assert_eq!((card.score, card.verdict), (75.0, Verdict::Inconclusive));
    let hold = card
        .holds
        .iter()
        .find(|h| h.kind == HoldKind::GroupNotJudged)
        .expect("group hold");
    assert_eq!(hold.subject, "errors");
    assert!(hold.message.contains("1 without data"), "{}", hold.message);
    // Kayenta counts the empty group as 100.
    let k = score(
        &results,
        &weights,
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!((k.score, k.verdict), (100.0, Verdict::Pass));
    // A judged failure in the judged group is scored over the judged weight only:
    // latency 50% → 50, not 45·0.5 + 55 = 77.5; the hold cannot lift it.
    let results = [
        input("latency{api=/a}", &lat, false, &p),
        input("latency{api=/b}", &lat, false, &h),
        input("error_rate", &err, false, &n),
    ];
    let card = canaryd(&results, &weights);
    assert_eq!((card.score, card.verdict), (50.0, Verdict::Fail));
    let k = score(
        &results,
        &weights,
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!(k.score, 77.5);
}

#[test]
fn canaryd_everything_judged_is_plain_weighted_sum() {
    use Classification::*;
    let (lat, err) = (g(&["latency"]), g(&["errors"]));
    let (p, h) = (j(Pass), j(High));
    let weights = BTreeMap::from([("latency".to_string(), 45.0), ("errors".to_string(), 55.0)]);
    let results = [
        input("latency{api=/a}", &lat, false, &p),
        input("latency{api=/b}", &lat, false, &h),
        input("error_rate", &err, false, &p),
    ];
    let c = canaryd(&results, &weights);
    let k = score(
        &results,
        &weights,
        Thresholds::default(),
        ScoringRules::Kayenta,
    );
    assert_eq!(
        (c.score, c.verdict),
        (k.score, k.verdict),
        "rules agree on full evidence"
    );
    assert_eq!(c.score, 77.5);
    assert!(c.holds.is_empty() && c.reason.is_empty());
}

#[test]
fn canaryd_nothing_judged_is_inconclusive_not_pass() {
    use Classification::*;
    let grp = g(&["x"]);
    let n = j(Nodata);
    let results = [input("a", &grp, false, &n), input("b", &grp, false, &n)];
    let card = canaryd(&results, &BTreeMap::new());
    assert_eq!((card.score, card.verdict), (75.0, Verdict::Inconclusive));
    let kinds: Vec<HoldKind> = card.holds.iter().map(|h| h.kind).collect();
    assert!(kinds.contains(&HoldKind::NothingJudged), "{kinds:?}");
    assert!(kinds.contains(&HoldKind::MostlyNoData), "{kinds:?}");
    assert!(card.holds.iter().all(|h| h.kind.is_missing_data()));
    let empty = canaryd(&[], &BTreeMap::new());
    assert_eq!(empty.verdict, Verdict::Inconclusive);
}

#[test]
fn canaryd_judged_regression_still_fails_despite_holds() {
    use Classification::*;
    let grp = g(&["x"]);
    let mut crit = j(High);
    crit.critical = true;
    let n = j(Nodata);
    let p = j(Pass);
    let results = [
        input("latency", &grp, true, &crit),
        input("errors", &grp, true, &n),
        input("cpu", &grp, false, &p),
    ];
    let card = canaryd(&results, &BTreeMap::new());
    assert_eq!((card.score, card.verdict), (0.0, Verdict::Fail));
    assert!(card.reason.contains("latency"), "{}", card.reason);
}

// Sequential judge rules.
mod sequential {
    use canary_judges::sequential::{InconclusiveAction, SequentialConfig};
    use canary_judges::{
        Classification, Direction, Judge, MetricOptions, MetricPair, Sample, SequentialJudge,
    };

    fn counts(base: [f64; 2], canary: [f64; 2]) -> MetricPair {
        MetricPair {
            baseline: Sample::Counts {
                events: vec![base[0]],
                totals: vec![base[1]],
            },
            canary: Sample::Counts {
                events: vec![canary[0]],
                totals: vec![canary[1]],
            },
        }
    }

    #[test]
    fn counts_are_one_sided_by_default() {
        let judge = SequentialJudge::new(SequentialConfig::default());
        let either = MetricOptions {
            direction: Direction::Either,
            ..MetricOptions::default()
        };
        let more = judge.judge(&either, &counts([10.0, 100_000.0], [60.0, 100_000.0]));
        assert_eq!(more.classification, Classification::High, "{}", more.reason);
        let fewer = judge.judge(&either, &counts([60.0, 100_000.0], [10.0, 100_000.0]));
        assert_ne!(
            fewer.classification,
            Classification::Low,
            "fewer errors are never bad: {}",
            fewer.reason
        );
        let decrease = MetricOptions {
            direction: Direction::Decrease,
            ..MetricOptions::default()
        };
        let watched = judge.judge(&decrease, &counts([60.0, 100_000.0], [10.0, 100_000.0]));
        assert_eq!(
            watched.classification,
            Classification::Low,
            "{}",
            watched.reason
        );
    }

    #[test]
    fn a_zero_error_baseline_does_not_hide_canary_errors() {
        let judge = SequentialJudge::new(SequentialConfig::default());
        let j = judge.judge(
            &MetricOptions::default(),
            &counts([0.0, 50_000.0], [25.0, 50_000.0]),
        );
        assert_eq!(j.classification, Classification::High, "{}", j.reason);
        assert!(j.p_value.expect("p") < 0.01);
    }

    #[test]
    fn the_inconclusive_action_is_configured() {
        // Too little data to decide either way.
        let pair = MetricPair::from_values(vec![100.0, 110.0, 95.0], vec![105.0, 98.0, 102.0]);
        for (action, expected) in [
            (InconclusiveAction::Hold, Classification::Inconclusive),
            (InconclusiveAction::Fail, Classification::High),
            (InconclusiveAction::Pass, Classification::Pass),
        ] {
            let judge = SequentialJudge::new(SequentialConfig {
                on_inconclusive: action,
                ..SequentialConfig::default()
            });
            let j = judge.judge(&MetricOptions::default(), &pair);
            assert_eq!(j.classification, expected, "{action:?}: {}", j.reason);
        }
    }

    #[test]
    fn alpha_is_split_across_pairs() {
        let judge = SequentialJudge::new(SequentialConfig {
            alpha: 0.01,
            ..SequentialConfig::default()
        });
        assert_eq!(judge.clone().with_pairs(4).pair_alpha(), 0.0025);
        assert_eq!(judge.with_pairs(0).pair_alpha(), 0.01);
    }

    #[test]
    fn options_are_validated() {
        let bad = SequentialConfig {
            alpha: 1.5,
            quantiles: vec![99.0],
            ..SequentialConfig::default()
        };
        let fields: Vec<&str> = bad.validate().iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["alpha", "quantiles"]);
    }
}

// Garbage is never judged as data.
#[test]
fn invalid_samples_are_errors_for_every_judge() {
    use canary_judges::{JudgeConfig, Sample};
    let good_hist = Sample::Histogram {
        bounds: vec![0.1, 0.5, f64::INFINITY],
        counts: vec![5.0, 3.0, 1.0],
    };
    let garbage = [
        (
            Sample::Histogram {
                bounds: vec![0.5, 0.1, f64::INFINITY],
                counts: vec![5.0, 3.0, 1.0],
            },
            "must increase",
        ),
        (
            Sample::Histogram {
                bounds: vec![0.1, 0.5, f64::INFINITY],
                counts: vec![5.0, -3.0, 1.0],
            },
            "negative",
        ),
        (
            Sample::Histogram {
                bounds: vec![0.1, 0.5],
                counts: vec![5.0, 3.0, 1.0],
            },
            "one count per bucket",
        ),
        (
            Sample::Counts {
                events: vec![5.0],
                totals: vec![3.0],
            },
            "cannot exceed",
        ),
        (
            Sample::Counts {
                events: vec![1.0, 2.0],
                totals: vec![3.0],
            },
            "one of each",
        ),
    ];
    assert_eq!(good_hist.problem(), None);
    let judges = [
        JudgeConfig::default(),
        serde_json::from_str::<JudgeConfig>(r#"{"kind": "sequential"}"#).unwrap(),
        serde_json::from_str::<JudgeConfig>(
            r#"{"kind": "threshold", "aggregate": "p99", "max": 1.0}"#,
        )
        .unwrap(),
    ];
    for (sample, why) in &garbage {
        assert!(
            sample.problem().is_some_and(|p| p.contains(why)),
            "{sample:?}: {:?}",
            sample.problem()
        );
        for config in &judges {
            let judge = config.build();
            let pair = MetricPair {
                baseline: sample.clone(),
                canary: sample.clone(),
            };
            let j = judge.judge(&base(), &pair);
            assert_eq!(
                j.classification,
                Classification::Error,
                "{:?} judged {sample:?} as {:?}: {}",
                config.kind(),
                j.classification,
                j.reason
            );
            assert!(j.reason.contains(why), "{}", j.reason);
        }
    }
}

/// One score per analysis: a reason never prints a score other than the headline's, and a
/// score without judged evidence says where its number comes from.
#[test]
fn the_reason_never_disagrees_with_the_score() {
    use Classification::*;
    let j = |c: Classification| Judgement::bare(c, "");
    let g = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (lat, crit) = (g(&["latency"]), g(&["errors"]));
    let (p, h, n) = (j(Pass), j(High), j(Nodata));
    let mut critical_nodata = j(Nodata);
    critical_nodata.critical = true;
    let input =
        |name: &'static str, groups: &'static [String], judgement: &'static Judgement| ScoreInput {
            name,
            metric: name,
            groups,
            muted: false,
            critical: judgement.critical,
            judgement,
        };
    // Leak for 'static test data: a handful of small values.
    let leak = |v: Vec<String>| -> &'static [String] { Box::leak(v.into_boxed_slice()) };
    let st = |x: Judgement| -> &'static Judgement { Box::leak(Box::new(x)) };
    let (lat, crit) = (leak(lat), leak(crit));
    let thresholds = Thresholds {
        pass: 95.0,
        marginal: 70.0,
    };
    // 3 of 4 latency pairs pass (75) while a critical metric has no data: capped at 70.
    let held = [
        input("a", lat, st(p.clone())),
        input("b", lat, st(p.clone())),
        input("c", lat, st(p.clone())),
        input("d", lat, st(h.clone())),
        input("e", crit, st(critical_nodata.clone())),
    ];
    let card = score(&held, &BTreeMap::new(), thresholds, ScoringRules::Canaryd);
    assert_eq!(card.score, 70.0, "{card:?}");
    assert!(
        !card.reason.contains("75"),
        "a second score in the reason: {}",
        card.reason
    );
    assert!(
        card.reason.contains("judged failures: d"),
        "{}",
        card.reason
    );
    // Nothing judged: the number is the cap, and the reason says so.
    let none = [
        input("a", lat, st(n.clone())),
        input("b", crit, st(n.clone())),
    ];
    let card = score(&none, &BTreeMap::new(), thresholds, ScoringRules::Canaryd);
    assert_eq!(card.verdict, Verdict::Inconclusive);
    assert!(
        card.reason.contains("nothing was judged")
            && card.reason.contains(&format!("({})", card.score)),
        "{}",
        card.reason
    );
}
