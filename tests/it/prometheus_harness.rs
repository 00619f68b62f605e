//! The Prometheus test harness end to end: a real Prometheus scrapes simulated versions,
//! survives a restart, and serves backfilled blocks.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::prometheus::{Prometheus, backfill, require_prometheus};
use crate::support::target::{Behaviour, Target};

const APIS: [&str; 3] = ["/checkout", "/search", "/login"];

/// The number in a `[timestamp, "value"]` pair.
fn number(pair: &Value) -> f64 {
    pair[1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a [t, \"value\"] pair: {pair}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Series in a canonical order (by their label sets).
fn sorted(mut series: Vec<Value>) -> Vec<Value> {
    series.sort_by_key(|s| s["metric"].to_string());
    series
}

/// The counter sample of `http_requests_total{route, code}` in a `/metrics` body.
fn scraped(body: &str, route: &str, code: &str) -> u64 {
    let prefix =
        format!("http_requests_total{{version=\"v1\",route=\"{route}\",code=\"{code}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in:\n{body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_target_counts_and_changes_behaviour() {
    let t = Target::start("v1", &APIS, Behaviour::default()).await;
    let url = format!("http://{}/metrics", t.addr());
    let get = || async {
        reqwest::get(&url)
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body")
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let a = get().await;
    assert!(
        a.contains("# TYPE http_request_duration_seconds histogram"),
        "{a}"
    );
    assert!(a.contains("le=\"+Inf\""), "{a}");
    t.set(
        "/login",
        Behaviour {
            error_rate: 1.0,
            ..Behaviour::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = get().await;
    for route in APIS {
        assert!(scraped(&b, route, "200") >= scraped(&a, route, "200"));
        assert!(scraped(&b, route, "500") >= scraped(&a, route, "500"));
    }
    let ok_before_change = scraped(&a, "/login", "200");
    // Only errors after the change, some of the ~15 expected requests went through.
    let (ok, errors) = t.handle().served("/login");
    assert!(
        ok >= ok_before_change && ok - ok_before_change <= 12,
        "{ok}"
    );
    assert!(errors > scraped(&a, "/login", "500"), "{errors}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_two_versions() {
    require_prometheus!();
    let v1 = Target::start("v1", &APIS, Behaviour::default()).await;
    let slow = Behaviour {
        latency_factor: 2.0,
        ..Behaviour::default()
    };
    let v2 = Target::start("v2", &APIS, slow).await;
    let prom = Prometheus::start(&[("v1", v1.addr()), ("v2", v2.addr())], 1).await;

    // 2 versions × 3 routes × 2 codes, then about 5 s of data per series.
    let wait = Duration::from_secs(15);
    prom.wait_for_samples("http_requests_total", 12, wait).await;
    let full = "count_over_time(http_requests_total{code=\"200\"}[5s]) >= 5";
    prom.wait_for_samples(full, 6, wait).await;

    let result = prom
        .query("sum by (version, route) (increase(http_requests_total[5s]))")
        .await;
    assert_eq!(result.len(), 6, "{result:?}");
    let mut seen = BTreeSet::new();
    for s in &result {
        let (version, route) = (
            s["metric"]["version"].as_str(),
            s["metric"]["route"].as_str(),
        );
        let (Some(version), Some(route)) = (version, route) else {
            panic!("labels missing: {s}");
        };
        assert!(
            ["v1", "v2"].contains(&version) && APIS.contains(&route),
            "{s}"
        );
        seen.insert((version.to_owned(), route.to_owned()));
        // 50 rps over 5 s.
        let n = number(&s["value"]);
        assert!((150.0..=350.0).contains(&n), "increase {n} for {s}");
    }
    assert_eq!(seen.len(), 6);

    let medians = prom
        .query(
            "histogram_quantile(0.5, sum by (version, le) \
             (rate(http_request_duration_seconds_bucket[5s])))",
        )
        .await;
    for s in &medians {
        let median = number(&s["value"]);
        let range = match s["metric"]["version"].as_str() {
            Some("v1") => 0.035..=0.065,
            Some("v2") => 0.075..=0.13,
            _ => panic!("unexpected series {s}"),
        };
        assert!(range.contains(&median), "median {median} for {s}");
    }
    assert_eq!(medians.len(), 2, "{medians:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_restarts_on_same_port_and_storage() {
    require_prometheus!();
    let t = Target::start("v1", &APIS, Behaviour::default()).await;
    let mut prom = Prometheus::start(&[("v1", t.addr())], 1).await;
    let wait = Duration::from_secs(10);
    prom.wait_for_samples("count_over_time(http_requests_total[1m]) >= 2", 6, wait)
        .await;
    let url = prom.url();
    let before_stop = unix_now() as f64;
    let last = prom
        .query_range("http_requests_total", before_stop, before_stop, 1.0)
        .await;
    assert_eq!(last.len(), 6, "{last:?}");

    prom.stop();
    let down = reqwest::get(format!("{url}/-/ready")).await;
    assert!(down.is_err(), "still answering after stop: {down:?}");

    prom.restart().await;
    assert_eq!(prom.url(), url);
    // The samples from before the stop are still there, and scraping resumes.
    let again = prom
        .query_range("http_requests_total", before_stop, before_stop, 1.0)
        .await;
    assert_eq!(sorted(again), sorted(last));
    prom.wait_for_samples("count_over_time(http_requests_total[1m]) >= 4", 6, wait)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_reads_backfilled_blocks() {
    require_prometheus!();
    let now = unix_now();
    // One hour, one point every 15 s, ending an hour ago.
    let (start, step, points) = (now - 2 * 3600, 15, 241);
    let mut text =
        String::from("# HELP backfill_requests Requests.\n# TYPE backfill_requests counter\n");
    for i in 0..points {
        let t = start + i * step;
        let _ = writeln!(
            text,
            "backfill_requests_total{{version=\"v1\"}} {} {t}",
            i * 10
        );
    }
    text.push_str("# EOF\n");

    let storage = tempfile::tempdir().expect("tempdir");
    backfill(&text, storage.path());
    let prom = Prometheus::start_with_storage(storage.path(), &[], 1).await;
    let end = start + (points - 1) * step;
    let result = prom
        .query_range(
            "backfill_requests_total",
            start as f64,
            end as f64,
            step as f64,
        )
        .await;
    assert_eq!(result.len(), 1, "{result:?}");
    let values = result[0]["values"].as_array().expect("a matrix");
    assert_eq!(values.len() as u64, points);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(number(v), i as f64 * 10.0, "point {i}: {v}");
    }
}
