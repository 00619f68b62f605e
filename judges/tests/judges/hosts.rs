//! Hosts as the unit: the fleet test and the host rule keep their false-alarm rate when
//! hosts differ from one another (simulated independently of the code under test: host
//! effects, lognormal requests, Poisson errors), name one broken host among healthy ones,
//! still catch a fleet-wide shift, and say when hosts cannot resolve the band.

use canary_judges::hosts::{
    BASELINE, CANARY, EARLY_SHARE, HostOutcome, HostTest, HostsConfig, PassRule, front_loaded,
    schedule, stretch_starts,
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
        pass: PassRule {
            alpha,
            ..PassRule::default()
        },
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

/// The pass side as canaryd runs it: the shipped pass bands (p50 +5%, p90 +10%, p99 +30%;
/// errors ×2), decided once at the horizon at the whole α, on the whole run and on the
/// stretches from a third and two thirds of the horizon.
fn pass_configs(alpha: f64, horizon: usize, stretches: bool) -> [HostsConfig; 2] {
    let pass = |bands: Vec<f64>| PassRule {
        bands,
        alpha,
        at_horizon: true,
        stretches: if stretches {
            stretch_starts(horizon)
        } else {
            Vec::new()
        },
    };
    [
        HostsConfig {
            pass: pass(vec![0.05, 0.10, 0.30]),
            ..front_loaded_config(alpha, 0.05, horizon, 2)
        },
        HostsConfig {
            pass: pass(vec![1.0]),
            ..config(alpha, 0.5, schedule(horizon, 1, false))
        },
    ]
}

/// Run a fleet whose canary hosts shift by `late` (log) from batch `from` on: the
/// latency and error outcomes at the horizon.
fn run_pass(
    fleet: &Fleet,
    rng: &mut ChaCha8Rng,
    configs: [HostsConfig; 2],
    horizon: usize,
    late: (usize, f64),
) -> [HostOutcome; 2] {
    let b = bounds();
    let [lc, ec] = configs;
    let mut latency = HostTest::latency(lc, &b, fleet.hosts);
    let mut errors = HostTest::counts(ec, fleet.hosts);
    let mut fleet_now = Fleet {
        hosts: fleet.hosts,
        effect: fleet.effect.clone(),
        per_batch: fleet.per_batch,
        error_rate: fleet.error_rate.clone(),
    };
    for batch in 0..horizon {
        if batch == late.0 {
            fleet_now.effect[CANARY]
                .iter_mut()
                .for_each(|e| *e += late.1);
        }
        fleet_now.batch(rng, &b, &mut latency, &mut errors);
        latency.end_batch();
        errors.end_batch();
    }
    [latency.finish().clone(), errors.finish().clone()]
}

fn passed(o: &HostOutcome) -> bool {
    matches!(o, HostOutcome::Pass { .. })
}

/// A healthy fleet the hosts can resolve (10 per arm, 1% spread, enough requests) is
/// promoted: latency and errors both pass in most runs, and the pass says what it ruled
/// out.
#[test]
fn a_healthy_fleet_hosts_can_resolve_passes() {
    let (alpha, horizon, runs) = (0.05, 12, 60);
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let mut passes = 0;
    for _ in 0..runs {
        let mut fleet = Fleet::draw(&mut rng, [10, 10], 0.01, 400.0);
        fleet.error_rate = [vec![0.01; 10], vec![0.01; 10]];
        let out = run_pass(
            &fleet,
            &mut rng,
            pass_configs(alpha, horizon, true),
            horizon,
            (0, 0.0),
        );
        if let HostOutcome::Pass { reason } = &out[0] {
            assert!(reason.contains("rules out p50 > "), "{reason}");
        }
        passes += usize::from(passed(&out[0]) && passed(&out[1]));
    }
    eprintln!("healthy resolvable fleet: {passes} of {runs} promoted");
    assert!(passes >= runs * 8 / 10, "{passes} of {runs} promoted");
}

/// Oracle: every canary host exactly at the p50 pass band's edge (+5%; p90 and p99 well
/// inside theirs) — promoted in at most α of runs.
#[test]
fn a_fleet_at_the_pass_band_edge_is_promoted_at_most_alpha() {
    let (alpha, horizon, runs) = (0.05, 12, 200);
    let mut rng = ChaCha8Rng::seed_from_u64(43);
    let mut passes = 0;
    for _ in 0..runs {
        let mut fleet = Fleet::draw(&mut rng, [10, 10], 0.01, 200.0);
        fleet.effect[CANARY]
            .iter_mut()
            .for_each(|e| *e += 1.05f64.ln());
        let out = run_pass(
            &fleet,
            &mut rng,
            pass_configs(alpha, horizon, true),
            horizon,
            (0, 0.0),
        );
        passes += usize::from(passed(&out[0]));
    }
    eprintln!("fleet at the band edge: {passes} of {runs} latency passes");
    assert!(
        (passes as f64) <= alpha * runs as f64 && upper_bound(passes, runs) <= 1.6 * alpha,
        "{passes} of {runs} promoted"
    );
}

/// A regression of the last third (+9% at every quantile from batch 8 of 12: about +3%
/// over the whole run, inside the +5% band) is not averaged into a pass: with the
/// stretches it is promoted in at most α of runs, without them in many.
#[test]
fn a_late_regression_is_not_averaged_into_a_pass() {
    let (alpha, horizon, runs) = (0.05, 12, 60);
    let late = (8, 1.09f64.ln());
    let count = |stretches: bool, seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..runs)
            .filter(|_| {
                let fleet = Fleet::draw(&mut rng, [10, 10], 0.01, 400.0);
                let out = run_pass(
                    &fleet,
                    &mut rng,
                    pass_configs(alpha, horizon, stretches),
                    horizon,
                    late,
                );
                passed(&out[0])
            })
            .count()
    };
    let with = count(true, 47);
    let without = count(false, 47);
    eprintln!("late regression: promoted {with} of {runs} with stretches, {without} without");
    assert!(
        (with as f64) <= alpha * runs as f64,
        "{with} of {runs} promoted"
    );
    assert!(
        without >= runs / 4,
        "without stretches only {without} of {runs}"
    );
}

/// A late rise of the error rate (×3 over the last third: ×1.7 over the run) is not
/// averaged into a pass either.
#[test]
fn a_late_error_rise_is_not_averaged_into_a_pass() {
    let (alpha, horizon, runs) = (0.05, 12, 100);
    let mut rng = ChaCha8Rng::seed_from_u64(53);
    let mut passes = 0;
    for _ in 0..runs {
        let mut fleet = Fleet::draw(&mut rng, [5, 5], 0.0, 400.0);
        fleet.error_rate = [vec![0.01; 5], vec![0.01; 5]];
        let [_, mut ec] = pass_configs(alpha, horizon, true);
        ec.pass.bands = vec![1.0];
        let b = bounds();
        let mut latency = HostTest::latency(config(alpha, 0.05, vec![horizon]), &b, fleet.hosts);
        let mut errors = HostTest::counts(ec, fleet.hosts);
        for batch in 0..horizon {
            if batch == 8 {
                fleet.error_rate[CANARY] = vec![0.03; 5];
            }
            fleet.batch(&mut rng, &b, &mut latency, &mut errors);
            errors.end_batch();
        }
        passes += usize::from(passed(errors.finish()));
    }
    eprintln!("late error rise: {passes} of {runs} promoted");
    assert!(
        (passes as f64) <= alpha * runs as f64,
        "{passes} of {runs} promoted"
    );
}
