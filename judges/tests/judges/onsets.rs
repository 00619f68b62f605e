//! Regressions that begin mid-analysis: the count test's change-point mixture keeps its
//! false-alarm rate over many short runs, catches a late change about as fast as one
//! from the start, and says when the change began.

use canary_judges::sequential::Outcome;
use canary_judges::{Direction, MetricOptions, SequentialConfig, SequentialJudge};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::upper_bound;
use rand_distr::{Distribution, Poisson};

fn errors_up() -> MetricOptions {
    MetricOptions {
        direction: Direction::Increase,
        ..Default::default()
    }
}

/// Oracle: 10,000 short runs without a change (shares shifting between scrapes, error
/// rates drawn per run): the anytime decisions plus the horizon's test fail in a share
/// whose 95% upper bound is ≤ α.
#[test]
fn no_change_keeps_alpha_over_ten_thousand_runs() {
    let alpha = 0.05;
    let judge = SequentialJudge::new(SequentialConfig {
        alpha,
        restarts: 10,
        ..Default::default()
    })
    .with_horizon(30);
    let mut rng = ChaCha8Rng::seed_from_u64(28);
    let runs = 10_000;
    let mut failed = 0;
    for _ in 0..runs {
        let mut state = judge.start(&errors_up());
        let rate = rng.random_range(0.002..0.02);
        let mut outcome = Outcome::Continue;
        for _ in 0..30 {
            let share = rng.random_range(0.1..0.5);
            let requests = [500.0 * (1.0 - share), 500.0 * share];
            let errors = requests.map(|r| Poisson::new(r * rate).unwrap().sample(&mut rng));
            outcome = state.update_counts(requests, errors);
            if outcome != Outcome::Continue {
                break;
            }
        }
        if outcome == Outcome::Continue {
            outcome = state.finish();
        }
        if outcome == Outcome::Fail {
            failed += 1;
        }
    }
    let ub = upper_bound(failed, runs);
    assert!(
        ub <= alpha,
        "{failed} of {runs} failed: 95% upper bound {ub}"
    );
}

/// The batch (0-based, 10-s scrapes) at which the count test fails, for errors 0.5% → 2%
/// (×4) from `onset`, 100 rps split 50/50, and the onset it reports.
fn failure(onset: usize, rng: &mut ChaCha8Rng) -> Option<(usize, Option<usize>)> {
    let judge = SequentialJudge::new(SequentialConfig::default()).with_horizon(180);
    let mut state = judge.start(&errors_up());
    for b in 0..180 {
        let canary = if b >= onset { 0.02 } else { 0.005 };
        let errors = [
            Poisson::new(500.0 * 0.005).unwrap().sample(rng),
            Poisson::new(500.0 * canary).unwrap().sample(rng),
        ];
        if state.update_counts([500.0, 500.0], errors) == Outcome::Fail {
            return Some((b, state.onset));
        }
    }
    None
}

#[test]
fn a_late_change_is_caught_about_as_fast_and_its_onset_is_reported() {
    let mut rng = ChaCha8Rng::seed_from_u64(60);
    let runs = 41;
    let (mut at0, mut late, mut onsets, mut early) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..runs {
        let (b, _) = failure(0, &mut rng).expect("a change from the start is caught");
        at0.push(b + 1);
        let (b, onset) = failure(60, &mut rng).expect("a change at minute 10 is caught");
        if b < 60 {
            early += 1; // a false alarm before the change (α = 1% over the analysis)
            continue;
        }
        late.push(b + 1 - 60);
        onsets.push(onset.expect("a late change reports its onset"));
    }
    assert!(early <= 2, "{early} false alarms before the change");
    at0.sort_unstable();
    late.sort_unstable();
    onsets.sort_unstable();
    let (m0, m60) = (at0[at0.len() / 2], late[late.len() / 2]);
    assert!(
        m60 as f64 <= 1.5 * m0 as f64,
        "median delay from onset {m60} batches, from the start {m0}"
    );
    // The grid starts every 6 batches: the reported onset is near batch 60.
    let median_onset = onsets[onsets.len() / 2];
    assert!(
        (54..=66).contains(&median_onset),
        "median reported onset batch {median_onset}"
    );
}

/// With a wide band (+100%) and passes allowed at once (`pass_from = 0`) a calm start is
/// proven inside the band within minutes; a ×4 rise at minute 10 must still fail the
/// pair: a pass does not stop the watching.
#[test]
fn a_pass_keeps_watching_and_a_later_regression_fails() {
    let mut rng = ChaCha8Rng::seed_from_u64(61);
    let judge = SequentialJudge::new(SequentialConfig {
        tolerance: 1.0,
        pass_bands: [("rate".to_string(), 1.0)].into_iter().collect(),
        pass_from: 0.0,
        ..Default::default()
    })
    .with_pairs(2)
    .with_horizon(180);
    let (mut passed_first, mut failed_after) = (0, 0);
    for _ in 0..20 {
        let mut state = judge.start(&errors_up());
        let mut passed = false;
        for b in 0..180 {
            let canary = if b >= 60 { 0.02 } else { 0.005 };
            let errors = [
                Poisson::new(500.0 * 0.005).unwrap().sample(&mut rng),
                Poisson::new(500.0 * canary).unwrap().sample(&mut rng),
            ];
            match state.update_counts([500.0, 500.0], errors) {
                Outcome::Pass if b < 60 => passed = true,
                Outcome::Fail => {
                    assert!(b >= 60, "failed at batch {b}, before the change");
                    failed_after += 1;
                    break;
                }
                _ => {}
            }
        }
        passed_first += usize::from(passed);
    }
    assert!(passed_first >= 10, "only {passed_first} of 20 passed first");
    assert!(
        failed_after >= 19,
        "only {failed_after} of 20 failed after the change"
    );
}

/// One batch of `n` lognormal latencies per arm (median 100 ms, σ = 0.5), the canary's
/// multiplied by `factor`.
fn latency_batch(rng: &mut ChaCha8Rng, n: usize, factor: f64) -> canary_judges::MetricPair {
    let d = rand_distr::LogNormal::new(100f64.ln(), 0.5).unwrap();
    let b: Vec<f64> = (0..n).map(|_| d.sample(rng)).collect();
    let c: Vec<f64> = (0..n).map(|_| d.sample(rng) * factor).collect();
    canary_judges::MetricPair::from_values(b, c)
}

fn latency_up() -> MetricOptions {
    MetricOptions {
        direction: Direction::Increase,
        ..Default::default()
    }
}

/// Oracle: with restarts, the distribution test's no-change runs fail in a share whose
/// 95% upper bound is ≤ α (the Bonferroni split over the starts keeps it).
#[test]
fn restarted_distribution_tests_keep_alpha() {
    let alpha = 0.1;
    let judge = SequentialJudge::new(SequentialConfig {
        alpha,
        distribution_restarts: 6,
        ..Default::default()
    })
    .with_horizon(60);
    let mut rng = ChaCha8Rng::seed_from_u64(29);
    let runs = 600;
    let mut failed = 0;
    for _ in 0..runs {
        let mut state = judge.start(&latency_up());
        for _ in 0..60 {
            if state.update(&latency_batch(&mut rng, 40, 1.0)) == Outcome::Fail {
                failed += 1;
                break;
            }
        }
    }
    let ub = upper_bound(failed, runs);
    assert!(
        ub <= alpha,
        "{failed} of {runs} failed: 95% upper bound {ub}"
    );
}

/// +50% latency from batch 90 of 180: found by a restarted test, with its onset.
#[test]
fn a_late_latency_shift_is_found_by_a_restarted_test() {
    let judge = SequentialJudge::new(SequentialConfig::default()).with_horizon(180);
    let mut rng = ChaCha8Rng::seed_from_u64(30);
    let mut caught = 0;
    for _ in 0..5 {
        let mut state = judge.start(&latency_up());
        for b in 0..180 {
            let factor = if b >= 90 { 1.5 } else { 1.0 };
            if state.update(&latency_batch(&mut rng, 40, factor)) == Outcome::Fail {
                assert!(b >= 90, "failed at {b}, before the change");
                let onset = state.onset.expect("a restarted test found it");
                assert!((60..=120).contains(&onset), "onset {onset}");
                caught += 1;
                break;
            }
        }
    }
    assert_eq!(caught, 5);
}

fn intervals(rng: &mut ChaCha8Rng, factor: f64) -> canary_judges::MetricPair {
    let d = rand_distr::Normal::new(100.0, 5.0).unwrap();
    canary_judges::MetricPair::from_values(vec![d.sample(rng)], vec![d.sample(rng) * factor])
}

/// Per-interval means restart like distributions: no-change runs keep α (95% upper bound),
/// and +30% from interval 90 of 180 is found with its onset.
#[test]
fn per_interval_means_restart_too() {
    let intervals_config = || SequentialConfig {
        alpha: 0.1,
        values: canary_judges::sequential::ValueKind::Intervals,
        ..Default::default()
    };
    let judge = SequentialJudge::new(intervals_config()).with_horizon(60);
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let runs = 1000;
    let mut failed = 0;
    for _ in 0..runs {
        let mut state = judge.start(&latency_up());
        for _ in 0..60 {
            if state.update(&intervals(&mut rng, 1.0)) == Outcome::Fail {
                failed += 1;
                break;
            }
        }
    }
    let ub = upper_bound(failed, runs);
    assert!(ub <= 0.1, "{failed} of {runs} failed: 95% upper bound {ub}");
    let judge = SequentialJudge::new(SequentialConfig {
        alpha: 0.01,
        ..intervals_config()
    })
    .with_horizon(180);
    let mut state = judge.start(&latency_up());
    let mut failed_at = None;
    for b in 0..180 {
        let factor = if b >= 90 { 1.3 } else { 1.0 };
        if state.update(&intervals(&mut rng, factor)) == Outcome::Fail {
            failed_at = Some(b);
            break;
        }
    }
    let b = failed_at.expect("+30% from interval 90 is found");
    assert!(b >= 90, "failed at {b}, before the change");
    let onset = state.onset.expect("found by a restarted test");
    assert!((60..=120).contains(&onset), "onset {onset}");
    let j = state.judgement();
    assert!(j.reason.contains("the change began"), "{}", j.reason);
    assert!(
        j.judged.unwrap().checks.iter().any(|c| c.failed),
        "the restarted test's numbers are shown"
    );
}
