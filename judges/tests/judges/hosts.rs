//! Hosts as the unit: the fleet test and the host rule keep their false-alarm rate when
//! hosts differ from one another (simulated independently of the code under test: host
//! effects, lognormal requests, Poisson errors), name one broken host among healthy ones,
//! still catch a fleet-wide shift, and say when hosts cannot resolve the band.

use canary_judges::hosts::{
    BASELINE, CANARY, EARLY_SHARE, HostOutcome, HostTest, HostsConfig, front_loaded, schedule,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::upper_bound;
use rand_distr::{Distribution, Gamma, Poisson, StandardNormal};

/// Bucket bounds 1% apart from 1 ms to ~100 s, then +∞.
fn bounds() -> Vec<f64> {
    let mut b: Vec<f64> = (0..1160).map(|i| 1.01f64.powi(i)).collect();
    b.push(f64::INFINITY);
    b
}

fn bucket(bounds: &[f64], x: f64) -> u32 {
    bounds.partition_point(|b| *b < x) as u32
}

/// A fleet: host latency multipliers (log), with the canary's changes applied.
struct Fleet {
    hosts: [usize; 2],
    /// ln multiplier per host, per arm.
    effect: [Vec<f64>; 2],
    /// Requests per host per batch.
    per_batch: f64,
    /// Error rate per host, per arm.
    error_rate: [Vec<f64>; 2],
}

impl Fleet {
    fn draw(rng: &mut ChaCha8Rng, hosts: [usize; 2], tau: f64, per_batch: f64) -> Self {
        let effect = hosts.map(|k| {
            (0..k)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(rng);
                    tau * z
                })
                .collect::<Vec<f64>>()
        });
        Fleet {
            hosts,
            effect,
            per_batch,
            error_rate: hosts.map(|k| vec![0.001; k]),
        }
    }

    /// Feed one batch into the latency and error tests.
    fn batch(
        &self,
        rng: &mut ChaCha8Rng,
        b: &[f64],
        latency: &mut HostTest,
        errors: &mut HostTest,
    ) {
        for arm in [BASELINE, CANARY] {
            for h in 0..self.hosts[arm] {
                let n = Poisson::new(self.per_batch).unwrap().sample(rng);
                let mut buckets: Vec<(u32, f64)> = Vec::new();
                for _ in 0..n as usize {
                    let z: f64 = StandardNormal.sample(rng);
                    let x = (100f64.ln() + self.effect[arm][h] + z).exp();
                    buckets.push((bucket(b, x), 1.0));
                }
                latency.add_latency(arm, h, &buckets);
                let e = if self.error_rate[arm][h] > 0.0 {
                    Poisson::new(n * self.error_rate[arm][h])
                        .map_or(0.0, |d| d.sample(rng))
                        .min(n)
                } else {
                    0.0
                };
                errors.add_counts(arm, h, n, e);
            }
        }
    }
}

fn config(alpha: f64, tolerance: f64, looks: Vec<usize>) -> HostsConfig {
    HostsConfig {
        alpha,
        tolerance,
        quantiles: vec![0.5, 0.9, 0.99],
        looks,
        spend: Vec::new(),
    }
}

/// The latency schedule as canaryd runs it: sparse looks, ⅔ of α on the first 5 units.
fn front_loaded_config(alpha: f64, tolerance: f64, horizon: usize, every: usize) -> HostsConfig {
    let looks = schedule(horizon, every, true);
    HostsConfig {
        spend: front_loaded(&looks, every),
        ..config(alpha, tolerance, looks)
    }
}

/// The shares of α are a weighted Bonferroni: they sum to 1, the early looks share ⅔, and
/// a schedule without later looks (or without early ones) gives every share to the others.
#[test]
fn front_loaded_shares_sum_to_one() {
    let looks = schedule(180, 6, true);
    assert_eq!(looks, vec![6, 12, 18, 30, 60, 90, 120, 150, 180]);
    let w = front_loaded(&looks, 6);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{w:?}");
    assert!(
        w[..4]
            .iter()
            .all(|&x| (x - EARLY_SHARE / 4.0).abs() < 1e-12),
        "{w:?}"
    );
    assert!(
        w[4..]
            .iter()
            .all(|&x| (x - (1.0 - EARLY_SHARE) / 5.0).abs() < 1e-12),
        "{w:?}"
    );
    for (looks, every) in [(schedule(24, 6, true), 6), (vec![60, 120], 6), (vec![], 6)] {
        let w = front_loaded(&looks, every);
        assert_eq!(w.len(), looks.len());
        if !looks.is_empty() {
            assert!(
                (w.iter().sum::<f64>() - 1.0).abs() < 1e-12,
                "{looks:?}: {w:?}"
            );
        }
    }
}

/// Run a fleet to the horizon (or the first failure): the two outcomes.
fn run(fleet: &Fleet, rng: &mut ChaCha8Rng, alpha: f64, horizon: usize) -> [HostOutcome; 2] {
    let b = bounds();
    let mut latency = HostTest::latency(
        front_loaded_config(alpha, 0.05, horizon, 2),
        &b,
        fleet.hosts,
    );
    let mut errors = HostTest::counts(config(alpha, 1.0, schedule(horizon, 1, false)), fleet.hosts);
    for _ in 0..horizon {
        fleet.batch(rng, &b, &mut latency, &mut errors);
        latency.end_batch();
        errors.end_batch();
        if matches!(latency.outcome(), HostOutcome::Fail { .. })
            || matches!(errors.outcome(), HostOutcome::Fail { .. })
        {
            break;
        }
    }
    [latency.finish().clone(), errors.finish().clone()]
}

fn failed(o: &HostOutcome) -> bool {
    matches!(o, HostOutcome::Fail { .. })
}

/// Oracle: no change, hosts differing by τ (0: sampling noise only) — over every look of
/// the schedule, each test fails at most α (95% upper bound of the simulated rate), for
/// 3, 5 and 10 hosts per arm and one canary host beside ten.
#[test]
fn no_change_keeps_alpha_whatever_the_host_spread() {
    let alpha = 0.05;
    let runs = 400;
    for (hosts, tau) in [
        ([3, 3], 0.2),
        ([5, 5], 0.1),
        ([10, 10], 0.05),
        ([10, 1], 0.1),
        ([5, 5], 0.0),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(hosts[0] as u64 * 31 + (tau * 100.0) as u64);
        let mut fails = [0usize; 2];
        for _ in 0..runs {
            let fleet = Fleet::draw(&mut rng, hosts, tau, 25.0);
            let out = run(&fleet, &mut rng, alpha, 12);
            for (k, o) in out.iter().enumerate() {
                fails[k] += usize::from(failed(o));
            }
        }
        for (k, name) in ["latency", "errors"].iter().enumerate() {
            eprintln!(
                "{name}, hosts {hosts:?}, τ = {tau}: {} of {runs} false failures",
                fails[k]
            );
            let ub = upper_bound(fails[k], runs);
            assert!(
                ub <= alpha * 1.6 && (fails[k] as f64) <= alpha * runs as f64,
                "{name}, hosts {hosts:?}, τ = {tau}: {} of {runs} false failures",
                fails[k]
            );
        }
    }
}

/// Oracle: one look is exact, not only conservative — a one-shot analysis at α = 0.4:
/// false failures (fleet test at α/2 over three quantiles, the host rule at α/2 over the
/// canary hosts) between a tenth of α and α.
#[test]
fn one_look_is_near_its_level() {
    let alpha = 0.4;
    let runs = 600;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut fails = 0;
    for _ in 0..runs {
        let fleet = Fleet::draw(&mut rng, [6, 6], 0.1, 40.0);
        let b = bounds();
        let mut latency = HostTest::latency(config(alpha, 0.0, vec![1]), &b, fleet.hosts);
        let mut errors = HostTest::counts(config(alpha, 1.0, vec![1]), fleet.hosts);
        fleet.batch(&mut rng, &b, &mut latency, &mut errors);
        fails += usize::from(failed(latency.finish()));
    }
    let rate = fails as f64 / runs as f64;
    eprintln!("one look at α = {alpha}: {fails} of {runs} false failures");
    assert!(rate > alpha / 10.0 && rate <= alpha, "rate {rate}");
}

/// Overdispersed error rates between hosts (gamma, CV 50%): the quasi-Poisson dispersion
/// keeps the error test's false failures near α with 10 hosts per arm.
#[test]
fn overdispersed_errors_are_not_a_regression() {
    let alpha = 0.05;
    let runs = 300;
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut fails = 0;
    let gamma = Gamma::new(4.0, 0.01 / 4.0).unwrap();
    for _ in 0..runs {
        let mut fleet = Fleet::draw(&mut rng, [10, 10], 0.05, 200.0);
        fleet.error_rate = [10, 10].map(|k| (0..k).map(|_| gamma.sample(&mut rng)).collect());
        let out = run(&fleet, &mut rng, alpha, 12);
        fails += usize::from(failed(&out[1]));
    }
    eprintln!("overdispersed errors: {fails} of {runs} false failures");
    assert!(
        upper_bound(fails, runs) <= 2.0 * alpha,
        "{fails} of {runs} false failures"
    );
}

/// One canary host 2× slower among 5 (hosts differ by 5%): the host rule fails the
/// analysis and names host 0, and only it.
#[test]
fn one_slow_host_is_named() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut named = 0;
    let runs = 40;
    for _ in 0..runs {
        let mut fleet = Fleet::draw(&mut rng, [5, 5], 0.05, 50.0);
        fleet.effect[CANARY][0] += 2f64.ln();
        let [latency, _] = run(&fleet, &mut rng, 0.005, 30);
        if let HostOutcome::Fail { hosts, reason } = &latency {
            assert!(reason.contains("canary host 0"), "{reason}");
            named += usize::from(hosts == &vec![0]);
        }
    }
    assert!(named >= runs * 9 / 10, "named in {named} of {runs}");
}

/// A crash-looping canary host (every request fails) is named by the error test at its
/// first look.
#[test]
fn a_crash_looping_host_is_named_at_once() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut fleet = Fleet::draw(&mut rng, [3, 3], 0.05, 50.0);
    fleet.error_rate[CANARY][2] = 1.0;
    let b = bounds();
    let mut latency =
        HostTest::latency(config(0.005, 0.05, schedule(30, 1, true)), &b, fleet.hosts);
    let mut errors = HostTest::counts(config(0.005, 1.0, schedule(30, 1, false)), fleet.hosts);
    fleet.batch(&mut rng, &b, &mut latency, &mut errors);
    match errors.end_batch() {
        HostOutcome::Fail { hosts, reason } => {
            assert_eq!(hosts, &vec![2]);
            assert!(reason.contains("canary host 2 fails 100"), "{reason}");
        }
        other => panic!("not failed: {other:?}"),
    }
    assert!(errors.last[CANARY][2].beyond && !errors.last[CANARY][0].beyond);
}

/// Every canary host 25% slower, 10 per arm, 5% spread: the fleet test fails it without
/// naming a host.
#[test]
fn a_fleet_wide_shift_still_fails() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut caught = 0;
    for _ in 0..20 {
        let mut fleet = Fleet::draw(&mut rng, [10, 10], 0.05, 25.0);
        fleet.effect[CANARY]
            .iter_mut()
            .for_each(|e| *e += 1.25f64.ln());
        if let [HostOutcome::Fail { reason, .. }, _] = run(&fleet, &mut rng, 0.005, 30) {
            assert!(
                reason.contains("canary hosts are") || reason.contains("canary host "),
                "{reason}"
            );
            caught += 1;
        }
    }
    assert!(caught >= 19, "caught {caught} of 20");
}

/// Three hosts per arm with 10% spread cannot resolve ±5%: inconclusive at the horizon,
/// and the reason says so and what to do.
#[test]
fn unresolvable_spread_is_inconclusive_with_advice() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let fleet = Fleet::draw(&mut rng, [3, 3], 0.1, 30.0);
    let [latency, _] = run(&fleet, &mut rng, 0.005, 12);
    match latency {
        HostOutcome::Inconclusive { reason } => {
            assert!(reason.contains("host-to-host spread"), "{reason}");
            assert!(reason.contains("add hosts or widen the band"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Looks come at the schedule's batches; data that ends early gets a last look of its own
/// on the next look's share.
#[test]
fn looks_come_every_few_batches() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let fleet = Fleet::draw(&mut rng, [3, 3], 0.05, 10.0);
    let b = bounds();
    let mut latency =
        HostTest::latency(config(0.01, 0.05, schedule(30, 3, false)), &b, fleet.hosts);
    let mut errors = HostTest::counts(config(0.01, 1.0, vec![30]), fleet.hosts);
    for _ in 0..7 {
        fleet.batch(&mut rng, &b, &mut latency, &mut errors);
        latency.end_batch();
    }
    assert_eq!(latency.looks(), 2);
    latency.finish();
    assert_eq!(
        latency.looks(),
        3,
        "the end of the data is a look of its own"
    );
    assert!(latency.outcome().is_decided());
    errors.finish();
    assert_eq!(errors.looks(), 1);
}
