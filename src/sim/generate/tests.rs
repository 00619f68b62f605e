use super::*;

fn scenario(extra: &str) -> Scenario {
    let text = format!("name = \"t\"\nduration_s = 600\n{extra}");
    Scenario::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn latencies(run: &SimRun, arm: usize) -> Vec<f64> {
    let mut v: Vec<f64> = run
        .steps
        .iter()
        .flat_map(|s| s.arms[arm].requests_log.iter().flatten().map(|r| r.0))
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn quantile(sorted: &[f64], u: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * u).round() as usize]
}

fn logged(run: &SimRun, arm: usize) -> (f64, f64) {
    run.steps
        .iter()
        .flat_map(|s| s.arms[arm].requests_log.iter().flatten())
        .fold((0.0, 0.0), |(n, e), r| {
            (n + 1.0, e + f64::from(u8::from(r.1)))
        })
}

fn scraped_total(run: &SimRun, arm: usize, f: impl Fn(&ArmStep) -> f64) -> f64 {
    run.steps.iter().map(|s| f(&s.arms[arm])).sum()
}

#[test]
fn bucket_bounds_span_0_1_ms_to_100_s() {
    let b = bucket_bounds_ms();
    let n = b.len();
    assert_eq!(n, 2554);
    assert_eq!(b[0], 0.1);
    assert!(b[n - 2] >= 100_000.0 && b[n - 3] < 100_000.0);
    assert_eq!(b[n - 1], f64::INFINITY);
    assert!((b[128] - 0.2).abs() < 1e-12);
    assert!(
        b.windows(2).all(|w| w[0] < w[1]),
        "rounding keeps the bounds distinct"
    );
}

#[test]
fn every_latency_lands_in_its_bucket() {
    let s = scenario("");
    let sim = Sim::new(&s, 1, false, false);
    for x in [1e-6, 0.1, 0.1000001, 0.2, 1.0, 99.9, 100.0, 1e5, 1e9] {
        let k = sim.bucket(f64::ln(x), x);
        assert!(x <= sim.bounds[k], "{x} above bucket {k}");
        assert!(
            k == 0 || x > sim.bounds[k - 1],
            "{x} belongs below bucket {k}"
        );
    }
    for &b in &sim.bounds[..320] {
        assert_eq!(
            sim.bounds[sim.bucket(b.ln(), b)],
            b,
            "a bound is in its own bucket"
        );
    }
}

#[test]
fn same_seed_same_run_and_keeping_requests_changes_no_aggregate() {
    let s = scenario(
        "[traffic]\nhost_sigma = 0.2\n[latency]\ntail_prob = 0.02\nar_phi = 0.5\nar_sigma = 0.1\n[noise]\nmissing_scrape_prob = 0.1\ncounter_reset_prob = 0.02\n",
    );
    let a = simulate(&s, 42, true);
    assert_eq!(a, simulate(&s, 42, true));
    let mut lean = a.clone();
    for step in &mut lean.steps {
        for arm in &mut step.arms {
            arm.requests_log = None;
        }
    }
    assert_eq!(lean, simulate(&s, 42, false));
    assert_ne!(simulate(&s, 43, false), lean);
}

#[test]
fn without_noise_the_scrapes_count_every_request() {
    let s = scenario("");
    let run = simulate(&s, 3, true);
    assert_eq!(run.steps.len(), 60);
    for arm in [BASELINE, CANARY] {
        let (n, e) = logged(&run, arm);
        assert_eq!(scraped_total(&run, arm, |a| a.requests), n);
        assert_eq!(scraped_total(&run, arm, |a| a.errors), e);
        let in_buckets: f64 = run
            .steps
            .iter()
            .flat_map(|s| s.arms[arm].latency_buckets.iter())
            .sum();
        assert_eq!(in_buckets, n);
        let sum: f64 = latencies(&run, arm).iter().sum();
        let scraped_sum = scraped_total(&run, arm, |a| a.latency_sum_ms);
        assert!((sum - scraped_sum).abs() < 1e-6 * sum);
    }
}

#[test]
fn a_no_change_run_has_similar_arms() {
    let s = scenario("");
    let run = simulate(&s, 11, true);
    let (b, c) = (latencies(&run, BASELINE), latencies(&run, CANARY));
    // 50 rps × 600 s, half each: 15,000 expected per arm.
    for n in [b.len(), c.len()] {
        assert!((14_400..=15_600).contains(&n), "{n} requests");
    }
    let ratio = quantile(&c, 0.5) / quantile(&b, 0.5);
    assert!((0.95..1.05).contains(&ratio), "median ratio {ratio}");
    assert!((quantile(&b, 0.5) / 100.0 - 1.0).abs() < 0.05);
    assert!(!run.truth.regression);
    // Nominal p99 of a lognormal with median 100 and σ = 1: 100·e^2.326.
    assert!((run.truth.bad_latency_ms - 1024.1).abs() < 0.5);
}

#[test]
fn a_latency_shift_moves_the_median_by_its_factor() {
    let s = scenario("[traffic]\nrps = 100\n[[changes]]\nkind = \"latency_shift\"\nfactor = 1.5\n");
    let run = simulate(&s, 5, true);
    let ratio = quantile(&latencies(&run, CANARY), 0.5) / quantile(&latencies(&run, BASELINE), 0.5);
    assert!((1.44..1.56).contains(&ratio), "median ratio {ratio}");
    assert!(run.truth.regression);
    assert_eq!(run.truth.onset_s, 0.0);
}

#[test]
fn a_tail_shift_moves_p99_but_not_p50() {
    let s = scenario(
        "[traffic]\nrps = 400\n[[changes]]\nkind = \"tail_shift\"\nfactor = 1.5\nquantile = 0.99\n",
    );
    let run = simulate(&s, 9, true);
    let (b, c) = (latencies(&run, BASELINE), latencies(&run, CANARY));
    let p50 = quantile(&c, 0.5) / quantile(&b, 0.5);
    let p99 = quantile(&c, 0.99) / quantile(&b, 0.99);
    assert!((0.97..1.03).contains(&p50), "p50 ratio {p50}");
    assert!((1.35..1.65).contains(&p99), "p99 ratio {p99}");
}

#[test]
fn a_median_shift_moves_p50_but_not_p99() {
    let s = scenario(
        "[traffic]\nrps = 400\n[[changes]]\nkind = \"median_shift\"\nfactor = 1.2\nquantile = 0.9\n",
    );
    let run = simulate(&s, 10, true);
    let (b, c) = (latencies(&run, BASELINE), latencies(&run, CANARY));
    let p50 = quantile(&c, 0.5) / quantile(&b, 0.5);
    let p99 = quantile(&c, 0.99) / quantile(&b, 0.99);
    assert!((1.16..1.24).contains(&p50), "p50 ratio {p50}");
    assert!((0.92..1.08).contains(&p99), "p99 ratio {p99}");
}

#[test]
fn a_crash_loop_fails_every_canary_request() {
    let s = scenario("[[changes]]\nkind = \"crash_loop\"\n");
    let run = simulate(&s, 1, false);
    let n = scraped_total(&run, CANARY, |a| a.requests);
    assert!(n > 0.0);
    assert_eq!(scraped_total(&run, CANARY, |a| a.errors), n);
    assert!(scraped_total(&run, BASELINE, |a| a.errors) < 0.01 * n);
}

#[test]
fn a_warmup_spike_is_not_a_regression_and_ends() {
    let s = scenario("[traffic]\nrps = 200\n[[changes]]\nkind = \"warmup_spike\"\nfactor = 3\n");
    let run = simulate(&s, 2, false);
    assert!(!run.truth.regression);
    let mean = |step: &SimStep, arm: usize| step.arms[arm].latency_sum_ms / step.arms[arm].requests;
    let early: f64 = run.steps[..3]
        .iter()
        .map(|s| mean(s, CANARY) / mean(s, BASELINE))
        .sum::<f64>()
        / 3.0;
    assert!(early > 2.0, "warm-up mean ratio {early}");
    let late = mean(&run.steps[10], CANARY) / mean(&run.steps[10], BASELINE);
    assert!(late < 2.0, "after warm-up {late}");
}

#[test]
fn a_delayed_onset_is_the_truth() {
    let s = scenario("[[changes]]\nkind = \"latency_shift\"\nfactor = 1.5\nonset_s = 300\n");
    assert_eq!(s.truth().onset_s, 300.0);
}

#[test]
fn a_missing_scrape_carries_its_counts_to_the_next() {
    let s = scenario("[noise]\nmissing_scrape_prob = 0.3\n");
    let run = simulate(&s, 4, true);
    let missing: Vec<usize> = (0..run.steps.len())
        .filter(|&i| !run.steps[i].scraped)
        .collect();
    assert!(!missing.is_empty() && missing.len() < 40);
    let mut carried = 0.0;
    for step in &run.steps {
        let arm = &step.arms[BASELINE];
        let happened = arm.requests_log.as_ref().map_or(0, Vec::len) as f64;
        carried += happened;
        if step.scraped {
            assert_eq!(arm.requests, carried, "at {} s", step.t_s);
            carried = 0.0;
        } else {
            assert_eq!(arm.requests, 0.0);
            assert_eq!(arm.latency_sum_ms, 0.0);
            assert!(arm.latency_buckets.iter().all(|b| *b == 0.0));
            assert_eq!(arm.latency_buckets.len(), run.buckets_ms.len());
        }
    }
}

#[test]
fn counter_resets_lose_only_counts_since_the_last_scrape() {
    let s = scenario("[noise]\ncounter_reset_prob = 0.2\n");
    #[derive(Default)]
    struct Resets(usize);
    impl SimSink for Resets {
        fn reset(&mut self, _: usize, _: usize, _: f64) {
            self.0 += 1;
        }
    }
    let mut resets = Resets::default();
    let run = simulate_with(&s, 8, true, &mut resets);
    assert!(resets.0 > 20, "{} resets", resets.0);
    for arm in [BASELINE, CANARY] {
        let (n, _) = logged(&run, arm);
        let seen = scraped_total(&run, arm, |a| a.requests);
        // Each restart loses part of one step of one host (~25 requests at most, on average
        // about half of that), never more.
        assert!(
            seen < n && seen > n - 25.0 * resets.0 as f64,
            "{seen} of {n}"
        );
        for step in &run.steps {
            assert!(step.arms[arm].latency_buckets.iter().all(|b| *b >= 0.0));
        }
    }
}

#[test]
fn per_host_scrapes_add_up_to_the_arm() {
    // Missing scrapes but no restarts: after a restart the arm lifts non-monotone
    // increases of the summed buckets, a host of its own, so the two may differ there.
    let s =
        scenario("[traffic]\nhosts = 4\ncanary_hosts = 2\n[noise]\nmissing_scrape_prob = 0.1\n");
    let run = simulate(&s, 9, false);
    let n = run.buckets_ms.len();
    for step in &run.steps {
        for (arm, hosts) in [(BASELINE, 4), (CANARY, 2)] {
            let a = &step.arms[arm];
            if !step.scraped {
                assert!(a.hosts.is_empty());
                continue;
            }
            assert_eq!(a.hosts.len(), hosts);
            let sum = |f: &dyn Fn(&crate::sim::HostStep) -> f64| a.hosts.iter().map(f).sum::<f64>();
            assert_eq!(sum(&|h| h.requests), a.requests);
            assert_eq!(sum(&|h| h.errors), a.errors);
            let mut buckets = vec![0.0; n];
            for h in &a.hosts {
                assert!(h.buckets.iter().all(|&(_, c)| c > 0.0), "sparse: no zeros");
                for (b, c) in buckets.iter_mut().zip(h.dense_buckets(n)) {
                    *b += c;
                }
            }
            assert!(
                buckets == a.latency_buckets,
                "buckets differ at {}",
                step.t_s
            );
        }
    }
}

#[test]
fn a_change_on_some_hosts_leaves_the_others_healthy() {
    let s = scenario(
        "[traffic]\nhosts = 3\n[[changes]]\nkind = \"crash_loop\"\nhosts_affected = 1\n[[changes]]\nkind = \"latency_shift\"\nfactor = 2\nhosts_affected = 2\n",
    );
    let run = simulate(&s, 4, false);
    assert_eq!(run.truth.bad_hosts, Some(2));
    let total = |host: usize, f: &dyn Fn(&crate::sim::HostStep) -> f64| -> f64 {
        run.steps
            .iter()
            .filter_map(|s| s.arms[CANARY].hosts.get(host))
            .map(f)
            .sum()
    };
    // Host 0 crash-loops; hosts 1 and 2 fail at the base rate.
    assert_eq!(total(0, &|h| h.errors), total(0, &|h| h.requests));
    for h in [1, 2] {
        assert!(total(h, &|x| x.errors) < 0.01 * total(h, &|x| x.requests));
    }
    // Hosts 0 and 1 are twice as slow as host 2 (mean latency; σ = 1 body).
    let mean = |h: usize| total(h, &|x| x.latency_sum_ms) / total(h, &|x| x.requests);
    for h in [0, 1] {
        let ratio = mean(h) / mean(2);
        assert!((1.7..2.3).contains(&ratio), "host {h}: {ratio}");
    }
    // The baseline is untouched and the truth says every canary host without the field.
    let all = scenario("[[changes]]\nkind = \"crash_loop\"\n");
    assert_eq!(simulate(&all, 1, false).truth.bad_hosts, None);
}

/// A sink that reads the cumulative buckets, so the simulator keeps them (the slow path).
struct Cumulative(usize);

impl SimSink for Cumulative {
    fn scrape(&mut self, s: &HostScrape<'_>) {
        self.0 += s.buckets_le.len();
    }
}

/// The fast scrape (only the buckets touched since the last scrape) gives the very same
/// run as the scan of every cumulative counter, missing scrapes, several hosts and a
/// change on some of them included; with counter resets the scan is always used.
#[test]
fn the_fast_scrape_gives_the_same_run_as_the_full_scan() {
    for extra in [
        "[traffic]\nhosts = 4\ncanary_hosts = 3\nhost_sigma = 0.1\n[noise]\nmissing_scrape_prob = 0.2\n[[changes]]\nkind = \"latency_shift\"\nfactor = 2\nhosts_affected = 1\nonset_s = 100\n",
        "[latency]\ntail_prob = 0.05\nar_phi = 0.5\nar_sigma = 0.2\n[[changes]]\nkind = \"tail_shift\"\nfactor = 1.5\n",
        "[noise]\ncounter_reset_prob = 0.05\nmissing_scrape_prob = 0.1\n",
    ] {
        let s = scenario(extra);
        for seed in [1, 2] {
            let fast = simulate(&s, seed, false);
            let mut sink = Cumulative(0);
            let full = simulate_with(&s, seed, false, &mut sink);
            assert!(sink.0 > 0, "the slow path ran");
            assert!(fast == full, "runs differ for {extra:?}, seed {seed}");
        }
    }
}
