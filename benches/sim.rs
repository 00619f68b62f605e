//! Benchmarks of the scenario simulator: one `simulate(&scenario, seed, false)` run per
//! iteration (what the evaluation harness does thousands of times), for a few shipped
//! scenarios of different sizes, and one run keeping every request.
//!
//! Run: `cargo bench --bench sim`.

use std::hint::black_box;
use std::path::PathBuf;

use canaryd::sim::generate::simulate;
use canaryd::sim::scenario::Scenario;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn bench_simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    for name in [
        "nochange-lognormal",
        "nochange-pareto",
        "nochange-missing-scrapes-resets",
        "p99-plus-50",
        "latency-plus-10",
    ] {
        let s = scenario(name);
        let mut seed = 0u64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                seed += 1;
                black_box(simulate(black_box(&s), seed, false))
            })
        });
    }
    let s = scenario("nochange-lognormal");
    group.bench_function("nochange-lognormal/keep_requests", |b| {
        b.iter(|| black_box(simulate(black_box(&s), 7, true)))
    });
    group.finish();
}

criterion_group!(benches, bench_simulate);
criterion_main!(benches);
