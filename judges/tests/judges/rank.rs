//! The sequential rank test for shifts (`sequential::rank`): its level at any stopping
//! time with no change (continuous values, and bucketed values with ties), and its cost on
//! a shift against the fixed-sample rank test.

use canary_judges::sequential::rank::RankShift;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::upper_bound;

fn lognormal(rng: &mut ChaCha8Rng, n: usize, factor: f64) -> Vec<f64> {
    (0..n)
        .map(|_| factor * rng.sample::<f64, _>(StandardNormal).exp())
        .collect()
}

/// Batches until the test rejects (`None`: not within `batches`).
fn run(
    rng: &mut ChaCha8Rng,
    alpha: f64,
    batches: usize,
    per_batch: usize,
    factor: f64,
    buckets: Option<&[f64]>,
) -> Option<usize> {
    let mut test = RankShift::new(alpha);
    for t in 1..=batches {
        let c = lognormal(rng, per_batch, factor);
        let b = lognormal(rng, per_batch, 1.0);
        match buckets {
            None => test.add_values(&c, &b),
            Some(bounds) => {
                let hist = |v: &[f64]| {
                    let mut h = vec![0.0; bounds.len() + 1];
                    for &x in v {
                        h[bounds.partition_point(|&u| u < x)] += 1.0;
                    }
                    h
                };
                test.add_histograms(&hist(&c), &hist(&b));
            }
        }
        if test.rejects() {
            return Some(t);
        }
    }
    None
}

/// Oracle: with no change the test rejects at most α over a long run of looks, every
/// batch (values, and coarse buckets whose ties are many).
#[test]
fn no_change_keeps_alpha_at_every_look() {
    let alpha = 0.05;
    let runs = 1_000;
    let coarse = [0.25, 0.5, 1.0, 2.0, 4.0];
    for buckets in [None, Some(&coarse[..])] {
        let mut rng = ChaCha8Rng::seed_from_u64(41 + u64::from(buckets.is_some()));
        let fails = (0..runs)
            .filter(|_| run(&mut rng, alpha, 150, 40, 1.0, buckets).is_some())
            .count();
        eprintln!("no change, buckets {buckets:?}: {fails} of {runs}");
        assert!(
            upper_bound(fails, runs) <= alpha * 1.2,
            "buckets {buckets:?}: {fails} of {runs} false rejections"
        );
    }
}

/// A +10% latency shift (lognormal σ = 1, p − ½ = 0.027) is found after a median of about
/// 4,000 requests per arm — a few times the fixed-sample rank test's 1,250 at α = 0.01.
#[test]
fn a_ten_percent_shift_is_found_within_a_few_times_the_oracle() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let per_batch = 250;
    let mut found: Vec<usize> = (0..200)
        .filter_map(|_| run(&mut rng, 0.01, 80, per_batch, 1.1, None))
        .map(|t| t * per_batch)
        .collect();
    assert!(found.len() >= 195, "found in {} of 200", found.len());
    found.sort_unstable();
    let median = found[found.len() / 2];
    eprintln!("+10%: median {median} requests per arm");
    assert!((2_500..6_500).contains(&median), "median {median}");
}

/// The dispersion follows a level that wanders between the arms from scrape to scrape
/// (it widens the proxy, so such a deploy is rejected less often), and not a steady shift
/// (which it must not slow down).
#[test]
fn dispersion_follows_a_wandering_level_not_a_steady_shift() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut steady = RankShift::new(0.01);
    let mut wandering = RankShift::new(0.01);
    let mut calm = RankShift::new(0.01);
    for t in 0..60 {
        let b = lognormal(&mut rng, 300, 1.0);
        steady.add_values(&lognormal(&mut rng, 300, 1.1), &b);
        let level = if t % 2 == 0 { 1.25 } else { 0.8 };
        wandering.add_values(&lognormal(&mut rng, 300, level), &b);
        calm.add_values(&lognormal(&mut rng, 300, 1.0), &b);
    }
    eprintln!(
        "dispersion: steady {}, wandering {}, calm {}",
        steady.dispersion(),
        wandering.dispersion(),
        calm.dispersion()
    );
    assert!(steady.dispersion() < 1.5, "{}", steady.dispersion());
    assert!(calm.dispersion() < 1.5, "{}", calm.dispersion());
    assert!(wandering.dispersion() > 5.0, "{}", wandering.dispersion());
    assert!(steady.rejects() && !calm.rejects());
}
