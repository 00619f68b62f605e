//! The generator: a [`Scenario`] and a seed → a [`SimRun`], deterministically.
//!
//! Per scrape step, arm and host: the request count is Poisson (rate × diurnal factor ×
//! step), each request's latency is drawn from the scenario's shape ([`shape`]) scaled
//! by the median, the host multiplier, the AR(1) level, the diurnal factor and the
//! canary's active changes, and the error count is Binomial. Latencies are drawn one by
//! one (exact sums and buckets) but nothing is stored per request unless asked.
//!
//! The Prometheus view is simulated, not derived: every host keeps cumulative counters
//! (`requests`, `errors`, latency sum, latency buckets) that a restart sets back to 0
//! (counts since the last successful scrape are lost); at each successful scrape the
//! arm's increments are computed from the counters with Prometheus' reset rule
//! ([`counters`]), per series, then summed over hosts. A failed scrape delivers nothing
//! and the next one carries the accumulated increments.
//!
//! Randomness: one ChaCha8 stream (`seed_from_u64(seed)`) draws everything that shapes the
//! aggregates, in a fixed order; a second stream of the same seed (stream 1) draws what
//! only per-request records need (timestamps within a step, which requests are errors),
//! so `keep_requests` never changes the aggregates.
//!
//! [`shape`]: super::scenario::shape
//! [`counters`]: crate::collectors::counters

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson, StandardNormal};

use super::scenario::shape::{Shape, Warp};
use super::scenario::{ChangeKind, Scenario};
use super::{ArmStep, BASELINE, CANARY, SimRun, SimStep};
use crate::collectors::counters::{bucket_counts_into, increase};

mod sink;
pub use self::sink::{HostScrape, RequestRecord, SimSink};

/// Lowest finite latency bucket bound, ms.
pub const BUCKET_MIN_MS: f64 = 0.1;
/// Buckets per doubling of latency: factor 2^(1/128) ≈ 0.54% per bucket, like Prometheus
/// native histograms of schema 7. Judges that prove "within ±5%" need buckets much finer
/// than the band: every bound is rounded outward to a bucket edge.
pub const BUCKETS_PER_DOUBLING: u32 = 128;
/// The finite bounds reach at least this, ms.
pub const BUCKET_MAX_MS: f64 = 100_000.0;

/// Latency bucket upper bounds (ms): `0.1 · 2^(i/128)` rounded to five significant
/// digits, up to the first ≥ 100 s (2,554 bounds in all, the last +∞).
pub fn bucket_bounds_ms() -> Vec<f64> {
    let mut bounds = Vec::with_capacity(2560);
    let mut i = 0;
    loop {
        let exact = BUCKET_MIN_MS * 2f64.powf(f64::from(i) / f64::from(BUCKETS_PER_DOUBLING));
        // Five significant digits (`le="0.10054"`, not `le="0.10054299011128028"`): at
        // most 0.005% off the exact bound, far less than the 0.54% between bounds.
        let scale = 10f64.powi(4 - exact.log10().floor() as i32);
        let b = (exact * scale).round() / scale;
        bounds.push(b);
        if b >= BUCKET_MAX_MS {
            break;
        }
        i += 1;
    }
    bounds.push(f64::INFINITY);
    bounds
}

/// Simulate `scenario` with `seed`; keep every request's latency and error flag in
/// [`ArmStep::requests_log`] when `keep_requests`.
pub fn simulate(scenario: &Scenario, seed: u64, keep_requests: bool) -> SimRun {
    simulate_with(scenario, seed, keep_requests, &mut ())
}

/// [`simulate`], also reporting every host's scrapes (and requests, when kept) to `sink`.
pub fn simulate_with<S: SimSink>(
    scenario: &Scenario,
    seed: u64,
    keep_requests: bool,
    sink: &mut S,
) -> SimRun {
    let mut sim = Sim::new(scenario, seed, keep_requests, !S::NEEDS_BUCKETS_LE);
    let steps = (0..scenario.steps()).map(|i| sim.step(i, sink)).collect();
    SimRun {
        step_s: scenario.step_s,
        buckets_ms: sim.bounds,
        steps,
        truth: scenario.truth(),
    }
}

struct Host {
    ln_mult: f64,
    ar: f64,
    /// Counters since the process started; buckets per bucket (not cumulative in `le`).
    buckets: Vec<f64>,
    requests: f64,
    errors: f64,
    sum_ms: f64,
    /// Values at the last successful scrape; buckets cumulative in `le`.
    seen_le: Vec<f64>,
    seen_requests: f64,
    seen_errors: f64,
    seen_sum_ms: f64,
    /// Buckets counted into since the last successful scrape (with repeats), for the fast
    /// path that needs no cumulative scan: used only when counters never reset and the
    /// sink does not read cumulative buckets.
    touched: Vec<u32>,
}

impl Host {
    fn restart(&mut self) {
        self.buckets.iter_mut().for_each(|b| *b = 0.0);
        self.requests = 0.0;
        self.errors = 0.0;
        self.sum_ms = 0.0;
    }
}

/// The canary's (or baseline's) condition during one step.
struct Effect {
    ln_latency: f64,
    error_rate: f64,
    warp: Option<Warp>,
}

struct Sim<'a> {
    sc: &'a Scenario,
    shape: Shape,
    /// The warp of each change (`None` but for `tail_shift` and `median_shift`), computed
    /// once: it takes a few hundred CDF evaluations.
    warps: Vec<Option<Warp>>,
    bounds: Vec<f64>,
    ln_min: f64,
    inv_ln_width: f64,
    hosts: [Vec<Host>; 2],
    rng: ChaCha8Rng,
    log_rng: ChaCha8Rng,
    keep: bool,
    step_log: Vec<RequestRecord>,
    le_acc: Vec<f64>,
    /// Scrapes from the buckets touched since the last one instead of a scan of every
    /// bucket: exact when counters never reset (the increments are then the counts added)
    /// and nobody reads the cumulative counters.
    fast: bool,
    /// Fast path: this step's per-bucket increments of the arm (not cumulative).
    arm_acc: Vec<f64>,
}

impl<'a> Sim<'a> {
    fn new(sc: &'a Scenario, seed: u64, keep: bool, fast: bool) -> Self {
        let bounds = bucket_bounds_ms();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut log_rng = ChaCha8Rng::seed_from_u64(seed);
        log_rng.set_stream(1);
        let l = &sc.latency;
        let hosts = [BASELINE, CANARY].map(|arm| {
            (0..sc.traffic.hosts_of(arm))
                .map(|_| Host {
                    ln_mult: normal(&mut rng, sc.traffic.host_sigma),
                    ar: normal(&mut rng, l.ar_sigma),
                    buckets: vec![0.0; bounds.len()],
                    requests: 0.0,
                    errors: 0.0,
                    sum_ms: 0.0,
                    seen_le: vec![0.0; bounds.len()],
                    seen_requests: 0.0,
                    seen_errors: 0.0,
                    seen_sum_ms: 0.0,
                    touched: Vec::new(),
                })
                .collect()
        });
        let shape = l.shape();
        Sim {
            sc,
            // Validation checked every warp; one that fails here is left out.
            warps: sc
                .changes
                .iter()
                .map(|c| c.warp(&shape).and_then(Result::ok))
                .collect(),
            shape,
            ln_min: BUCKET_MIN_MS.ln(),
            inv_ln_width: f64::from(BUCKETS_PER_DOUBLING) / std::f64::consts::LN_2,
            le_acc: vec![0.0; bounds.len()],
            fast: fast && sc.noise.counter_reset_prob <= 0.0,
            arm_acc: vec![0.0; bounds.len()],
            bounds,
            hosts,
            rng,
            log_rng,
            keep,
            step_log: Vec::new(),
        }
    }

    /// The condition of host `host` of `arm` during the step starting at `t0`.
    fn effect(&self, arm: usize, host: usize, t0: f64) -> Effect {
        let mut e = Effect {
            ln_latency: 0.0,
            error_rate: self.sc.errors.rate,
            warp: None,
        };
        if arm != CANARY {
            return e;
        }
        let mut crash: f64 = 0.0;
        for (i, c) in self.sc.changes.iter().enumerate() {
            if !c.active(t0, self.sc.step_s) || !c.touches(host) {
                continue;
            }
            match c.kind {
                ChangeKind::LatencyShift | ChangeKind::WarmupSpike => e.ln_latency += c.factor.ln(),
                ChangeKind::ErrorRate => e.error_rate *= c.factor,
                ChangeKind::CrashLoop => crash = crash.max(c.factor),
                ChangeKind::TailShift { .. } | ChangeKind::MedianShift { .. } => {
                    // Validated: monotone, and at most one per scenario.
                    e.warp = self.warps[i];
                }
            }
        }
        e.error_rate = e.error_rate.max(crash).clamp(0.0, 1.0);
        e
    }

    /// Index of the bucket of latency `x` (= exp(`ln_x`)): the first bound ≥ x.
    #[inline]
    fn bucket(&self, ln_x: f64, x: f64) -> usize {
        let last = self.bounds.len() - 1;
        let pos = ((ln_x - self.ln_min) * self.inv_ln_width).ceil();
        let mut i = if pos <= 0.0 {
            0
        } else if pos >= last as f64 {
            last
        } else {
            pos as usize
        };
        // Rounding of the logarithm can be one bucket off at a bound.
        while i < last && x > self.bounds[i] {
            i += 1;
        }
        while i > 0 && x <= self.bounds[i - 1] {
            i -= 1;
        }
        i
    }

    fn step<S: SimSink>(&mut self, i: usize, sink: &mut S) -> SimStep {
        let sc = self.sc;
        let step_s = sc.step_s;
        let t0 = i as f64 * step_s;
        let t_end = t0 + step_s;
        let t = &sc.traffic;
        let diurnal = 1.0
            + t.diurnal_amplitude
                * (std::f64::consts::TAU * (t0 + 0.5 * step_s) / t.diurnal_period_s).sin();
        let missing = sc.noise.missing_scrape_prob;
        let scraped = !(missing > 0.0 && self.rng.random::<f64>() < missing);
        let ln_base = sc.latency.median_ms.ln() + diurnal.ln();
        let (phi, ar_sigma) = (sc.latency.ar_phi, sc.latency.ar_sigma);
        let innovation = ar_sigma * (1.0 - phi * phi).sqrt();
        self.step_log.clear();
        let arms = [BASELINE, CANARY].map(|arm| {
            let n_hosts = self.hosts[arm].len();
            let lambda = t.rps_of(arm) / n_hosts as f64 * diurnal * step_s;
            if self.fast {
                self.arm_acc.iter_mut().for_each(|v| *v = 0.0);
            } else {
                self.le_acc.iter_mut().for_each(|v| *v = 0.0);
            }
            let mut out = ArmStep::default();
            for h in 0..n_hosts {
                let effect = self.effect(arm, h, t0);
                let shock = normal(&mut self.rng, innovation);
                let host = &mut self.hosts[arm][h];
                host.ar = phi * host.ar + shock;
                let ln_m = ln_base + host.ln_mult + host.ar + effect.ln_latency;
                let n = poisson(&mut self.rng, lambda);
                let reset = sc.noise.counter_reset_prob;
                let restart_at = (reset > 0.0 && self.rng.random::<f64>() < reset)
                    .then(|| self.rng.random::<f64>());
                match restart_at {
                    Some(tau) => {
                        let before = binomial(&mut self.rng, n, tau);
                        let t_restart = t0 + tau * step_s;
                        self.segment(arm, h, before, ln_m, &effect, (t0, t_restart));
                        self.hosts[arm][h].restart();
                        sink.reset(arm, h, t_end);
                        self.segment(arm, h, n - before, ln_m, &effect, (t_restart, t_end));
                    }
                    None => self.segment(arm, h, n, ln_m, &effect, (t0, t_end)),
                }
                if scraped {
                    self.scrape(arm, h, t_end, &mut out, sink);
                }
            }
            if scraped && self.fast {
                out.latency_buckets.clone_from(&self.arm_acc);
            } else if scraped {
                bucket_counts_into(&self.le_acc, &mut out.latency_buckets);
            } else {
                // Nothing delivered (hosts included).
                out = ArmStep {
                    latency_buckets: vec![0.0; self.bounds.len()],
                    ..ArmStep::default()
                };
            }
            out
        });
        let mut step = SimStep {
            t_s: t_end,
            scraped,
            arms,
        };
        if self.keep {
            self.step_log.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
            let mut logs = [Vec::new(), Vec::new()];
            for r in &self.step_log {
                sink.request(r);
                logs[r.arm].push((r.latency_ms, r.error));
            }
            let [b, c] = logs;
            step.arms[BASELINE].requests_log = Some(b);
            step.arms[CANARY].requests_log = Some(c);
        }
        sink.step(&step);
        step
    }

    /// `n` requests of one host between `span.0` and `span.1`.
    fn segment(&mut self, arm: usize, h: usize, n: u64, ln_m: f64, e: &Effect, span: (f64, f64)) {
        let errors = binomial(&mut self.rng, n, e.error_rate);
        let first = self.step_log.len();
        for _ in 0..n {
            let mut ln_s = self.shape.sample_ln(&mut self.rng);
            if let Some(w) = &e.warp {
                ln_s = w.apply(ln_s);
            }
            let ln_x = ln_m + ln_s;
            let x = ln_x.exp();
            let k = self.bucket(ln_x, x);
            let host = &mut self.hosts[arm][h];
            host.buckets[k] += 1.0;
            host.sum_ms += x;
            if self.fast {
                host.touched.push(k as u32);
            }
            if self.keep {
                self.step_log.push(RequestRecord {
                    t_s: 0.0,
                    arm,
                    host: h,
                    latency_ms: x,
                    error: false,
                });
            }
        }
        let host = &mut self.hosts[arm][h];
        host.requests += n as f64;
        host.errors += errors as f64;
        if self.keep {
            // Which requests failed (selection sampling) and when each arrived.
            let (mut left, mut fail) = (n, errors);
            for r in &mut self.step_log[first..] {
                r.error = (self.log_rng.random::<f64>() * left as f64) < fail as f64;
                fail -= u64::from(r.error);
                left -= 1;
                r.t_s = span.0 + self.log_rng.random::<f64>() * (span.1 - span.0);
            }
        }
    }

    fn scrape<S: SimSink>(
        &mut self,
        arm: usize,
        h: usize,
        t_s: f64,
        out: &mut ArmStep,
        sink: &mut S,
    ) {
        if self.fast {
            self.scrape_fast(arm, h, t_s, out, sink);
            return;
        }
        let host = &mut self.hosts[arm][h];
        let mut c = 0.0;
        let mut below = 0.0;
        let mut own = Vec::new();
        for (i, ((b, seen), acc)) in host
            .buckets
            .iter()
            .zip(host.seen_le.iter_mut())
            .zip(self.le_acc.iter_mut())
            .enumerate()
        {
            c += b;
            let inc = increase(*seen, c);
            *acc += inc;
            *seen = c;
            // This host's own (non-cumulative) increment of bucket i, lifted where a
            // restart makes the increases non-monotone (as `bucket_counts_into` does).
            if inc > below {
                own.push((i as u32, inc - below));
                below = inc;
            }
        }
        deliver(host, (arm, h, t_s), own, true, out, sink);
    }

    /// [`Sim::scrape`] without counter resets: the increments since the last successful
    /// scrape are exactly the counts added to the buckets touched since then, so only
    /// those are read (the cumulative counters are not kept; see [`Sim::fast`]).
    fn scrape_fast<S: SimSink>(
        &mut self,
        arm: usize,
        h: usize,
        t_s: f64,
        out: &mut ArmStep,
        sink: &mut S,
    ) {
        let host = &mut self.hosts[arm][h];
        let mut touched = std::mem::take(&mut host.touched);
        touched.sort_unstable();
        touched.dedup();
        let own: Vec<(u32, f64)> = touched
            .iter()
            .map(|&k| {
                let c = host.buckets[k as usize];
                host.buckets[k as usize] = 0.0;
                (k, c)
            })
            .collect();
        for &(k, c) in &own {
            self.arm_acc[k as usize] += c;
        }
        touched.clear();
        host.touched = touched;
        deliver(host, (arm, h, t_s), own, false, out, sink);
    }
}

/// The end of one host's scrape, either way: its counter increments (Prometheus' reset
/// rule) into the arm's totals and its own [`crate::sim::HostStep`], the last-seen values
/// moved on, and the scrape reported to `sink` (with the cumulative buckets when `le`).
fn deliver<S: SimSink>(
    host: &mut Host,
    (arm, h, t_s): (usize, usize, f64),
    own: Vec<(u32, f64)>,
    le: bool,
    out: &mut ArmStep,
    sink: &mut S,
) {
    let requests = increase(host.seen_requests, host.requests);
    let errors = increase(host.seen_errors, host.errors);
    let sum_ms = increase(host.seen_sum_ms, host.sum_ms);
    out.requests += requests;
    out.errors += errors;
    out.latency_sum_ms += sum_ms;
    out.hosts.push(crate::sim::HostStep {
        requests,
        errors,
        latency_sum_ms: sum_ms,
        buckets: own,
    });
    host.seen_requests = host.requests;
    host.seen_errors = host.errors;
    host.seen_sum_ms = host.sum_ms;
    sink.scrape(&HostScrape {
        t_s,
        arm,
        host: h,
        requests_total: host.requests,
        errors_total: host.errors,
        latency_sum_ms: host.sum_ms,
        buckets_le: if le { &host.seen_le } else { &[] },
        requests_increase: requests,
        errors_increase: errors,
    });
}

/// N(0, σ²); draws nothing when σ = 0 (so noise that is off costs nothing).
fn normal(rng: &mut ChaCha8Rng, sigma: f64) -> f64 {
    if sigma > 0.0 {
        sigma * rng.sample::<f64, _>(StandardNormal)
    } else {
        0.0
    }
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u64 {
    match Poisson::new(lambda) {
        Ok(d) => d.sample(rng) as u64,
        // Only λ ≤ 0 or non-finite, which validation rules out.
        Err(_) => 0,
    }
}

fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    Binomial::new(n, p).map_or(0, |d| d.sample(rng))
}

#[cfg(test)]
mod tests;
