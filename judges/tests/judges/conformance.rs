//! One conformance harness run over every judge kind: A/A data passes, swapping the arms
//! mirrors high and low, permuting samples changes nothing, and empty, all-NaN,
//! single-value and constant inputs give defined results without panicking.
//!
//! A new judge kind must be added to [`kinds`]; the harness then runs over it.

use canary_judges::{
    Aggregate, Classification, Direction, JUDGE_KINDS, JudgeConfig, JudgeKind, MannWhitneyConfig,
    MetricOptions, MetricPair, Sample, ThresholdConfig,
};
use proptest::prelude::*;

/// Judges that may wait for more evidence answer `inconclusive` where data are too few
/// to decide; no judge may ever fail a canary that did not change.
fn can_wait(config: &JudgeConfig) -> bool {
    matches!(config, JudgeConfig::Sequential(_))
}

/// The classification `expected`, or inconclusive from a judge that can wait.
fn acceptable(config: &JudgeConfig, expected: &[Classification]) -> Vec<Classification> {
    let mut v = expected.to_vec();
    if can_wait(config)
        && expected.iter().any(|c| {
            matches!(
                c,
                Classification::Pass | Classification::High | Classification::Low
            )
        })
    {
        v.push(Classification::Inconclusive);
    }
    v
}

/// Every kind with a configuration that is symmetric between the arms (so swapping them
/// must mirror the classification) and that flags a 2× shift.
fn kinds() -> Vec<(&'static str, JudgeConfig)> {
    vec![
        (
            "mann_whitney",
            JudgeConfig::MannWhitney(MannWhitneyConfig::default()),
        ),
        (
            "sequential",
            JudgeConfig::Sequential(canary_judges::SequentialConfig::default()),
        ),
        (
            "band",
            JudgeConfig::Band(canary_judges::BandConfig::default()),
        ),
        (
            "threshold",
            JudgeConfig::Threshold(ThresholdConfig {
                max_ratio: Some(1.5),
                min_ratio: Some(1.0 / 1.5),
                ..ThresholdConfig::on(Aggregate::Median)
            }),
        ),
    ]
}

#[test]
fn the_harness_covers_every_kind() {
    let covered: Vec<JudgeKind> = kinds().iter().map(|(_, c)| c.kind()).collect();
    for info in JUDGE_KINDS {
        assert!(
            covered.contains(&info.kind),
            "judge kind {} is not in the conformance harness",
            info.name
        );
    }
}

/// Deterministic pseudo-random numbers (xorshift64*), so the harness needs no RNG crate.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Lognormal-ish latency around `median` ms.
    fn latency(&mut self, median: f64) -> f64 {
        // Sum of uniforms approximates a normal well enough for test data.
        let z: f64 = (0..12).map(|_| self.next_f64()).sum::<f64>() - 6.0;
        median * (0.3 * z).exp()
    }

    fn sample(&mut self, n: usize, median: f64) -> Vec<f64> {
        (0..n).map(|_| self.latency(median)).collect()
    }

    fn shuffle(&mut self, v: &mut [f64]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_f64() * (i + 1) as f64) as usize;
            v.swap(i, j.min(i));
        }
    }
}

fn opts() -> MetricOptions {
    MetricOptions {
        direction: Direction::Either,
        ..MetricOptions::default()
    }
}

#[test]
fn a_a_data_passes() {
    // The same observations in another order: no judge may see a difference.
    for (name, config) in kinds() {
        let judge = config.build();
        let mut rng = Rng(99);
        let baseline = rng.sample(300, 100.0);
        let mut canary = baseline.clone();
        rng.shuffle(&mut canary);
        let j = judge.judge_values(&opts(), &baseline, &canary);
        assert!(
            acceptable(&config, &[Classification::Pass]).contains(&j.classification),
            "{name}: {} ({})",
            j.classification,
            j.reason
        );
    }
}

#[test]
fn a_a_samples_rarely_fail() {
    // Independent samples of one distribution: a judge may err, but rarely. At 98%
    // confidence with a tolerance band the Mann-Whitney judge stays well under 5%.
    const RUNS: u64 = 200;
    for (name, config) in kinds() {
        let judge = config.build();
        let failures = (1..=RUNS)
            .filter(|seed| {
                let mut rng = Rng(seed * 7919);
                let baseline = rng.sample(300, 100.0);
                let canary = rng.sample(300, 100.0);
                judge
                    .judge_values(&opts(), &baseline, &canary)
                    .classification
                    .is_failure()
            })
            .count();
        assert!(
            failures * 20 <= RUNS as usize,
            "{name}: {failures} of {RUNS} A/A runs failed"
        );
    }
}

#[test]
fn swapping_arms_mirrors_high_and_low() {
    for (name, config) in kinds() {
        let judge = config.build();
        let mut rng = Rng(42);
        let baseline = rng.sample(300, 100.0);
        let canary = rng.sample(300, 200.0);
        let pair = MetricPair::from_values(baseline, canary);
        let forward = judge.judge(&opts(), &pair);
        let backward = judge.judge(&opts(), &pair.swapped());
        assert_eq!(
            forward.classification,
            Classification::High,
            "{name}: {}",
            forward.reason
        );
        assert_eq!(
            backward.classification,
            forward.classification.mirrored(),
            "{name}: {}",
            backward.reason
        );
    }
}

#[test]
fn permuting_samples_changes_nothing() {
    for (name, config) in kinds() {
        let judge = config.build();
        let mut rng = Rng(7);
        for median in [100.0, 130.0, 250.0] {
            let baseline = rng.sample(200, 100.0);
            let canary = rng.sample(150, median);
            let first = judge.judge_values(&opts(), &baseline, &canary);
            let (mut b2, mut c2) = (baseline.clone(), canary.clone());
            rng.shuffle(&mut b2);
            rng.shuffle(&mut c2);
            let second = judge.judge_values(&opts(), &b2, &c2);
            assert_eq!(first, second, "{name} median {median}");
        }
    }
}

/// A named input (baseline, canary) and the classifications it may get.
type Case = (&'static str, Vec<f64>, Vec<f64>, &'static [Classification]);

#[test]
fn degenerate_inputs_give_defined_results() {
    let nan = f64::NAN;
    let cases: Vec<Case> = vec![
        ("both empty", vec![], vec![], &[Classification::Nodata]),
        (
            "empty canary",
            vec![1.0, 2.0],
            vec![],
            &[Classification::Nodata],
        ),
        (
            "empty baseline",
            vec![],
            vec![1.0, 2.0],
            &[Classification::Nodata],
        ),
        (
            "all NaN",
            vec![nan, nan],
            vec![nan],
            &[Classification::Nodata],
        ),
        (
            "single equal values",
            vec![5.0],
            vec![5.0],
            &[Classification::Pass],
        ),
        (
            "constant equal",
            vec![3.0; 10],
            vec![3.0; 4],
            &[Classification::Pass],
        ),
        (
            "single values, canary doubled",
            vec![5.0],
            vec![10.0],
            &[Classification::High],
        ),
        (
            "constant, canary doubled",
            vec![3.0; 10],
            vec![6.0; 10],
            &[Classification::High],
        ),
        (
            "constant, canary halved",
            vec![6.0; 10],
            vec![3.0; 10],
            &[Classification::Low],
        ),
        (
            "infinities only",
            vec![f64::INFINITY],
            vec![f64::NEG_INFINITY],
            &[Classification::Nodata],
        ),
    ];
    for (name, config) in kinds() {
        let judge = config.build();
        for (case, baseline, canary, expected) in &cases {
            let j = judge.judge_values(&opts(), baseline, canary);
            // A band needs 3 baseline intervals: fewer is missing evidence.
            let short_band = matches!(config, JudgeConfig::Band(_))
                && baseline.iter().filter(|x| x.is_finite()).count() < 3
                && !canary.is_empty();
            let expected: &[Classification] = if short_band {
                &[Classification::Nodata]
            } else {
                expected
            };
            assert!(
                acceptable(&config, expected).contains(&j.classification),
                "{name} / {case}: got {} ({})",
                j.classification,
                j.reason
            );
            assert!(
                !j.reason.is_empty(),
                "{name} / {case}: a result always says why"
            );
        }
    }
}

#[test]
fn count_samples_are_judged_as_rates_by_every_kind() {
    for (name, config) in kinds() {
        let judge = config.build();
        let pair = MetricPair {
            baseline: Sample::Counts {
                events: vec![1.0; 30],
                totals: vec![1000.0; 30],
            },
            canary: Sample::Counts {
                events: vec![1.0; 30],
                totals: vec![1000.0; 30],
            },
        };
        let j = judge.judge(&opts(), &pair);
        assert!(
            acceptable(&config, &[Classification::Pass]).contains(&j.classification),
            "{name}: {} ({})",
            j.classification,
            j.reason
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Arbitrary inputs (NaN, infinities, ties, empty arms) never panic, and the result
    /// does not depend on the order of the samples.
    #[test]
    fn never_panics_and_ignores_order(
        baseline in prop::collection::vec(prop_oneof![
            4 => -1e6f64..1e6,
            2 => (0i32..5).prop_map(f64::from),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
        ], 0..40),
        canary in prop::collection::vec(prop_oneof![
            4 => -1e6f64..1e6,
            2 => (0i32..5).prop_map(f64::from),
            1 => Just(f64::NAN),
        ], 0..40),
    ) {
        for (_, config) in kinds() {
            let judge = config.build();
            let j = judge.judge_values(&opts(), &baseline, &canary);
            let mut b = baseline.clone();
            let mut c = canary.clone();
            b.reverse();
            let half = c.len() / 2;
            c.rotate_left(half);
            let k = judge.judge_values(&opts(), &b, &c);
            prop_assert_eq!(j.classification, k.classification);
            prop_assert_eq!(j.estimate.map(f64::to_bits), k.estimate.map(f64::to_bits));
        }
    }
}

/// A small deterministic lognormal sample (xorshift + Box–Muller), so a failing case is
/// reproducible from its seed alone.
fn lognormal(seed: u64, n: usize, median: f64, sigma: f64) -> Vec<f64> {
    let mut x = seed | 1;
    let mut uniform = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let z = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
            median * (sigma * z).exp()
        })
        .collect()
}

/// Every kind, plus the sequential judge on per-interval values (its paired-mean test).
fn kinds_and_modes() -> Vec<(&'static str, JudgeConfig)> {
    let mut v = kinds();
    v.push((
        "sequential (intervals)",
        JudgeConfig::Sequential(canary_judges::SequentialConfig {
            values: canary_judges::sequential::ValueKind::Intervals,
            burn_in: 3,
            ..Default::default()
        }),
    ));
    v
}

/// What a reader checks: a failure is explained by a check marked ✗, and a result with
/// checks says how they combine.
fn explained(name: &str, j: &canary_judges::Judgement) -> Result<(), TestCaseError> {
    if let Some(judged) = &j.judged {
        prop_assert!(
            judged.checks.is_empty() || judged.rule.is_some(),
            "{name}: checks without a rule: {judged:?}"
        );
    }
    if j.classification.is_failure() {
        let judged = j.judged.as_ref();
        prop_assert!(
            judged.is_some_and(|d| d.checks.iter().any(|c| c.failed)),
            "{name}: {} with no check ✗: {}",
            j.classification,
            j.reason
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every high or low names a check that argued against the canary (no "HIGH with
    /// every check ✓"), for every kind, over shifts small and large and every direction.
    #[test]
    fn every_failure_names_a_failed_check(
        seed in any::<u64>(),
        n in 5usize..800,
        factor in 0.4f64..3.0,
        sigma in 0.05f64..1.2,
        direction in prop_oneof![Just(Direction::Increase), Just(Direction::Decrease), Just(Direction::Either)],
    ) {
        let baseline = lognormal(seed, n, 100.0, sigma);
        let canary = lognormal(seed.wrapping_mul(31).wrapping_add(7), n, 100.0 * factor, sigma);
        let options = MetricOptions { direction, ..opts() };
        for (name, config) in kinds_and_modes() {
            let j = config.build().judge_values(&options, &baseline, &canary);
            explained(name, &j)?;
        }
    }

    /// The same for event counts (error rates), judged as rates by every kind.
    #[test]
    fn every_count_failure_names_a_failed_check(
        intervals in 1usize..30,
        requests in 10.0f64..5_000.0,
        base_rate in 0.0f64..0.05,
        factor in 0.0f64..20.0,
    ) {
        let counts = |rate: f64| Sample::Counts {
            events: vec![(requests * rate.min(1.0)).round(); intervals],
            totals: vec![requests; intervals],
        };
        let pair = MetricPair { baseline: counts(base_rate), canary: counts(base_rate * factor) };
        for (name, config) in kinds() {
            let j = config.build().judge(&opts(), &pair);
            explained(name, &j)?;
        }
    }
}
