//! Short count data decided at the horizon, and the α the horizon's test spends.

use canary_judges::{
    Classification, Direction, Judge, MetricOptions, MetricPair, Sample, SequentialConfig,
    SequentialJudge,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

fn counts(events: Vec<f64>, totals: Vec<f64>) -> Sample {
    Sample::Counts { events, totals }
}

fn errors_up() -> MetricOptions {
    MetricOptions {
        direction: Direction::Increase,
        ..Default::default()
    }
}

/// The demo's /checkout in one batch (a `/judge` call, or files without timestamps):
/// 28 canary against 6 baseline errors in 2,827 and 2,859 requests, 12 pairs sharing
/// α = 0.01. The e-process alone cannot settle it; the horizon's fixed-sample test does.
#[test]
fn the_demos_short_error_counts_are_decided_at_the_horizon() {
    let judge = SequentialJudge::new(SequentialConfig::default()).with_pairs(12);
    let pair = MetricPair {
        baseline: counts(vec![6.0], vec![2859.0]),
        canary: counts(vec![28.0], vec![2827.0]),
    };
    let j = judge.judge(&errors_up(), &pair);
    assert_eq!(j.classification, Classification::High, "{}", j.reason);
    assert!(j.reason.contains("at the horizon"), "{}", j.reason);
    let judged = j.judged.expect("numbers behind it");
    let horizon = judged
        .checks
        .iter()
        .find(|c| c.name.contains("horizon"))
        .expect("the horizon's check is shown");
    assert!(horizon.failed);
    // Binomial(34, 0.4972) tail at 28 (the canary's share of requests): 8.6e-5 exactly;
    // the horizon test's bound may only be larger.
    let p = horizon.value.unwrap();
    assert!((8.5e-5..2e-4).contains(&p), "p {p}");
    // The anytime check alone did not decide (that is what the horizon is for).
    assert!(!judged.checks[0].failed, "{:?}", judged.checks[0]);
}

/// Equal error rates: no decision, and the horizon check is shown passing.
#[test]
fn equal_short_counts_stay_inconclusive() {
    let judge = SequentialJudge::new(SequentialConfig::default()).with_pairs(12);
    let pair = MetricPair {
        baseline: counts(vec![14.0], vec![2859.0]),
        canary: counts(vec![17.0], vec![2827.0]),
    };
    let j = judge.judge(&errors_up(), &pair);
    assert_eq!(
        j.classification,
        Classification::Inconclusive,
        "{}",
        j.reason
    );
}

/// Oracle: under equal error rates with shifting traffic shares, the whole count test
/// (anytime part over 30 scrapes plus the horizon's test) fails at most α of the time.
/// α = 0.1 so that the rate is measurable in 4,000 runs; the horizon's share alone is
/// checked too (its bound ≤ α·share).
#[test]
fn the_count_test_with_its_horizon_keeps_alpha() {
    let alpha = 0.1;
    let config = SequentialConfig {
        alpha,
        ..Default::default()
    };
    let judge = SequentialJudge::new(config);
    let mut rng = ChaCha8Rng::seed_from_u64(27);
    let runs = 4000;
    let (mut failed, mut at_horizon) = (0, 0);
    for _ in 0..runs {
        let mut state = judge.start(&errors_up());
        let rate = rng.random_range(0.002..0.02);
        for _ in 0..30 {
            let share = rng.random_range(0.05..0.5);
            let requests = [1000.0 * (1.0 - share), 1000.0 * share];
            let errors = requests.map(|r| Poisson::new(r * rate).unwrap().sample(&mut rng));
            state.update_counts(requests, errors);
        }
        let before = state.outcome();
        let end = state.finish();
        if end == canary_judges::Outcome::Fail {
            failed += 1;
            if before != canary_judges::Outcome::Fail {
                at_horizon += 1;
            }
        }
    }
    let rate = failed as f64 / runs as f64;
    let horizon_rate = at_horizon as f64 / runs as f64;
    // 4,000 runs: a rate of α would be seen above 0.1 + 3 sd (0.014) rarely.
    assert!(rate <= alpha + 0.014, "false alarms {rate}");
    assert!(
        horizon_rate <= alpha * canary_judges::sequential::HORIZON_SHARE + 0.007,
        "horizon false alarms {horizon_rate}"
    );
}
