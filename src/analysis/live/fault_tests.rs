//! Fault suite, analyses: a store that refuses writes (a full disk) while a live analysis
//! judges. The analysis is never left `running` without a task: it holds (no verdict is
//! stored), retries with backoff, and completes once the store takes writes again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::collectors::{CollectFuture, CollectRequest, CollectedPair, Collector};
use crate::store::SqliteStore;
use crate::time::now_s;

/// Always the same pair: the canary twice as slow.
struct Fixed;

impl Collector for Fixed {
    fn collect<'a>(
        &'a self,
        _config: &'a CanaryConfig,
        _request: &'a CollectRequest,
    ) -> CollectFuture<'a> {
        Box::pin(async {
            Ok(vec![CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric: 0,
                labels: Default::default(),
                pair: canary_judges::MetricPair::from_values(
                    (1..=200).map(f64::from).collect(),
                    (1..=200).map(|x| f64::from(x) * 2.0).collect(),
                ),
                query: "fixed".into(),
                note: None,
                times: [Vec::new(), Vec::new()],
            }])
        })
    }
}

/// A retrospective analysis of the ten minutes before the last one, stored and running.
fn stored_analysis(store: &dyn Store) -> AnalysisRecord {
    let text = "name = \"c\"\n[[metrics]]\nname = \"m\"\ndirection = \"increase\"\n";
    let config = CanaryConfig::parse(text, Format::Toml, "c").unwrap();
    let now = now_s();
    let request: AnalysisRequest = serde_json::from_value(serde_json::json!({
        "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
        "window": {"mode": "retrospective", "start": now - 600.0, "end": now - 60.0}
    }))
    .unwrap();
    let rec = new_record(
        &config,
        None,
        Format::Toml,
        text.into(),
        None,
        &request,
        "canaryd",
    );
    store.insert_analysis(&rec).unwrap();
    rec
}

/// The analysis once it is final (at most 20 s).
async fn until_final(store: &dyn Store, id: &str) -> AnalysisRecord {
    let started = Instant::now();
    loop {
        let r = store.get_analysis(id).unwrap().unwrap();
        if r.status.is_final() {
            return r;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_refuses_writes_holds_an_analysis_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    let rec = stored_analysis(store.as_ref());
    let runner = Runner::new(
        store.clone(),
        Arc::new(Fixed),
        Arc::new(crate::telemetry::Telemetry::new()),
        RunnerSettings::default(),
    );

    sqlite.refuse_writes(true).unwrap();
    runner.submit(rec.id.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let held = store.get_analysis(&rec.id).unwrap().unwrap();
    assert_eq!(held.status, AnalysisStatus::Running, "held, not ended");
    assert!(
        held.verdict.is_none(),
        "no verdict while nothing can be stored"
    );
    assert_eq!(runner.active(), 1, "its task is alive");

    sqlite.refuse_writes(false).unwrap();
    let done = until_final(store.as_ref(), &rec.id).await;
    assert_eq!(done.status, AnalysisStatus::Succeeded, "{done:?}");
    assert_eq!(
        done.verdict.as_deref(),
        Some("fail"),
        "the canary is twice as slow"
    );
}

/// The runner's clock, not the system's, stamps what an analysis records: a retrospective
/// analysis judged under a test clock ends stamped at the clock's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_is_stamped_by_the_runners_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let rec = stored_analysis(store.as_ref());
    let clock = Arc::new(crate::time::TestClock::at(now_s() + 1_000.0));
    let runner = Runner::new(
        store.clone(),
        Arc::new(Fixed),
        Arc::new(crate::telemetry::Telemetry::new()),
        RunnerSettings {
            clock: clock.clone(),
            ..Default::default()
        },
    );
    runner.submit(rec.id.clone());
    let done = until_final(store.as_ref(), &rec.id).await;
    assert_eq!(done.status, AnalysisStatus::Succeeded, "{done:?}");
    assert_eq!(
        done.updated_ms,
        crate::time::Clock::now_ms(clock.as_ref()),
        "{done:?}"
    );
}
