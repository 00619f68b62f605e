//! The Prometheus collector's tests: answers within bounds, pairing, retries, concurrency and outages against local fakes.

use super::*;

use crate::collectors::series::series as s;

#[test]
fn counter_increments_count_each_increase_once_across_resets_and_series() {
    let nan = f64::NAN;
    let series = [
        // pod a: +2, +0, reset to 1 (+1), +3; the first point only starts it.
        s(
            &[("pod", "a"), ("route", "/x")],
            &[
                (10.0, 5.0),
                (12.0, 7.0),
                (14.0, 7.0),
                (16.0, 1.0),
                (18.0, 4.0),
            ],
        ),
        // pod b appears later and skips a NaN point.
        s(
            &[("pod", "b"), ("route", "/x")],
            &[(14.0, 10.0), (16.0, nan), (18.0, 13.0)],
        ),
        s(
            &[("pod", "a"), ("route", "/y")],
            &[(10.0, 1.0), (12.0, 2.0)],
        ),
        // One point: no increase known.
        s(&[("pod", "c"), ("route", "/z")], &[(10.0, 9.0)]),
    ];
    let out = increments(&series, &["route".to_string()]);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].labels, s(&[("route", "/x")], &[]).labels);
    assert_eq!(
        out[0].points,
        [(12.0, 2.0), (14.0, 0.0), (16.0, 1.0), (18.0, 6.0)]
    );
    assert_eq!(out[1].points, [(12.0, 1.0)]);
    let total: f64 = increments(&series, &[])[0].points.iter().map(|p| p.1).sum();
    assert_eq!(total, 2.0 + 1.0 + 3.0 + 3.0 + 1.0);
}

/// A Prometheus of our own on loopback that answers every request with `body`, sent in
/// 64 KiB chunks without a length (so only reading can bound it).
async fn answering(body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for chunk in body.chunks(64 * 1024) {
                    if sock.write_all(chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn bounded(url: String, max_answer_bytes: u64, max_series: usize) -> PrometheusCollector {
    PrometheusCollector::new(PrometheusConfig {
        url,
        retries: 0,
        max_answer_bytes,
        max_series,
        ..Default::default()
    })
    .unwrap()
}

/// An answer bigger than the bound is refused while it arrives (never read whole),
/// one with too many series too; a normal one reads as before.
#[tokio::test]
async fn answers_are_bounded_in_bytes_and_series() {
    let series = |n: usize| {
        let one = |i: usize| {
            format!(
                r#"{{"metric":{{"__name__":"up","pod":"p{i}"}},"values":[[1700000000,"1"],[1700000010,"NaN"],[1700000020,"+Inf"]]}}"#
            )
        };
        format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#,
            (0..n).map(one).collect::<Vec<_>>().join(",")
        )
        .into_bytes()
    };
    let huge = series(20_000); // ~2.5 MB
    let c = bounded(answering(huge).await, 256 * 1024, 100_000);
    let e = c.range("up", 0, 10, 10.0).await.unwrap_err();
    assert!(
        matches!(&e, CollectError::Rejected { message, .. } if message.contains("max_answer_bytes")),
        "{e}"
    );
    let many = bounded(answering(series(50)).await, 1 << 20, 10);
    let e = many.range("up", 0, 10, 10.0).await.unwrap_err();
    assert!(
        matches!(&e, CollectError::Rejected { message, .. } if message.contains("50 series")),
        "{e}"
    );
    let fine = bounded(answering(series(3)).await, 1 << 20, 10);
    let got = fine.range("up", 0, 10, 10.0).await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].labels.get("pod").map(String::as_str), Some("p0"));
    assert!(!got[0].labels.contains_key("__name__"));
    assert_eq!(got[0].points[0], (1_700_000_000.0, 1.0));
    assert!(got[0].points[1].1.is_nan() && got[0].points[2].1.is_nan());
}

#[test]
fn secrets_are_redacted() {
    let c = PrometheusConfig {
        auth: Some(PrometheusAuth::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        }),
        ..Default::default()
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    assert!(!serde_json::to_string(&c).unwrap().contains("hunter2"));
    let col = PrometheusCollector::new(c).unwrap();
    assert!(!format!("{col:?}").contains("hunter2"));
}

#[test]
fn series_pair_by_split_labels_and_report_missing_sides() {
    let q = ["qb".to_string(), "qc".to_string()];
    let b = vec![
        s(
            &[("route", "/a"), ("version", "v1")],
            &[(1.0, 1.0), (2.0, 2.0)],
        ),
        s(&[("route", "/b"), ("version", "v1")], &[(1.0, 3.0)]),
    ];
    let c = vec![s(
        &[("route", "/a"), ("version", "v2")],
        &[(1.0, 5.0), (2.0, f64::NAN)],
    )];
    let pairs = series_pairs(0, &["route".into()], [&q[0], &q[1]], b, c);
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0].labels["route"], "/a");
    assert_eq!(pairs[0].note, None);
    let Sample::Values(cv) = &pairs[0].pair.canary else {
        panic!()
    };
    assert_eq!(cv[0], 5.0);
    assert!(cv[1].is_nan());
    assert_eq!(pairs[1].labels["route"], "/b");
    assert!(
        pairs[1]
            .note
            .as_ref()
            .unwrap()
            .contains("canary query returned no data: qc")
    );
    let empty = series_pairs(3, &[], [&q[0], &q[1]], vec![], vec![]);
    assert_eq!(empty.len(), 1);
    assert!(empty[0].pair.baseline.is_empty());
    assert!(empty[0].note.as_ref().unwrap().contains("qb"));
}

#[test]
fn single_series_pair_whatever_their_labels() {
    let q = ["qb".to_string(), "qc".to_string()];
    let pairs = series_pairs(
        0,
        &[],
        [&q[0], &q[1]],
        vec![s(&[("version", "v1")], &[(1.0, 1.0)])],
        vec![s(&[("version", "v2")], &[(1.0, 2.0)])],
    );
    assert_eq!(pairs.len(), 1);
    assert!(pairs[0].labels.is_empty());
}

/// Errors rising 10 per step while the total rises 1 cannot be true: kept as they are
/// (the judges refuse them) and named, never clamped to "54 errors in 54 requests".
#[test]
fn errors_above_the_total_are_refused_and_named() {
    let q = ["eb", "tb", "ec", "tc"].map(String::from);
    let totals = [
        vec![s(&[], &[(10.0, 100.0), (20.0, 100.0)])],
        vec![s(&[], &[(10.0, 1.0), (20.0, 1.0)])],
    ];
    let errors = [vec![], vec![s(&[], &[(10.0, 10.0), (20.0, 10.0)])]];
    let pairs = ratio_pairs(0, &[], [[&q[0], &q[1]], [&q[2], &q[3]]], errors, totals);
    let note = pairs[0].note.as_deref().unwrap_or_default();
    assert!(
        note.contains("the canary errors exceed its total")
            && note.contains("(ec)")
            && note.contains("(tc)"),
        "{note}"
    );
    assert_eq!(
        pairs[0].pair.canary,
        Sample::Counts {
            events: vec![10.0, 10.0],
            totals: vec![1.0, 1.0]
        }
    );
    let j = canary_judges::JudgeConfig::Sequential(Default::default())
        .build()
        .judge(&Default::default(), &pairs[0].pair);
    assert_eq!(
        j.classification,
        canary_judges::Classification::Error,
        "{}",
        j.reason
    );
}

#[test]
fn ratio_without_error_series_means_zero_errors() {
    let q = ["eb", "tb", "ec", "tc"].map(String::from);
    let totals = [
        vec![s(&[("route", "/a")], &[(10.0, 100.0), (20.0, 100.0)])],
        vec![s(&[("route", "/a")], &[(10.0, 50.0), (20.0, 50.0)])],
    ];
    let errors = [vec![], vec![s(&[("route", "/a")], &[(20.0, 50.0)])]];
    let pairs = ratio_pairs(
        0,
        &["route".into()],
        [[&q[0], &q[1]], [&q[2], &q[3]]],
        errors,
        totals,
    );
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        pairs[0].pair.baseline,
        Sample::Counts {
            events: vec![0.0, 0.0],
            totals: vec![100.0, 100.0]
        }
    );
    assert_eq!(
        pairs[0].pair.canary,
        Sample::Counts {
            events: vec![0.0, 50.0],
            totals: vec![50.0, 50.0]
        }
    );
    assert_eq!(pairs[0].times[1], vec![10.0, 20.0]);
    assert_eq!(pairs[0].note, None);
}

/// A fake Prometheus: answers `script[n]` (status) to the n-th query (then 200), and
/// records the authorization header and the most queries in flight at once.
#[derive(Default)]
struct Fake {
    script: Vec<u16>,
    calls: std::sync::atomic::AtomicUsize,
    in_flight: std::sync::atomic::AtomicUsize,
    max_in_flight: std::sync::atomic::AtomicUsize,
    auth: std::sync::Mutex<Option<String>>,
}

async fn fake(script: Vec<u16>) -> (String, Arc<Fake>) {
    use axum::http::{HeaderMap, StatusCode};
    use std::sync::atomic::Ordering::SeqCst;
    let state = Arc::new(Fake {
        script,
        ..Default::default()
    });
    let handler = |axum::extract::State(f): axum::extract::State<Arc<Fake>>, headers: HeaderMap| async move {
        let n = f.calls.fetch_add(1, SeqCst);
        let now = f.in_flight.fetch_add(1, SeqCst) + 1;
        f.max_in_flight.fetch_max(now, SeqCst);
        *f.auth.lock().unwrap() = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(30)).await;
        f.in_flight.fetch_sub(1, SeqCst);
        let status = f.script.get(n).copied().unwrap_or(200);
        let body = if status == 200 {
            serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"route": "/a"}, "values": [[10, "1.5"], [20, "NaN"]]}]}})
        } else if status == 400 {
            serde_json::json!({"status": "error", "errorType": "bad_data", "error": "parse error"})
        } else {
            serde_json::json!({"status": "error", "errorType": "unavailable", "error": "busy"})
        };
        (StatusCode::from_u16(status).unwrap(), axum::Json(body))
    };
    let app = axum::Router::new()
        .route("/api/v1/query_range", axum::routing::post(handler))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

fn collector(url: String, max_concurrent: usize) -> PrometheusCollector {
    PrometheusCollector::new(PrometheusConfig {
        url,
        retries: 3,
        backoff_ms: 1,
        max_concurrent,
        auth: Some(PrometheusAuth::Bearer {
            token: Secret::new("t0ken"),
        }),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn server_errors_and_429_are_retried_other_4xx_are_not() {
    use std::sync::atomic::Ordering::SeqCst;
    let (url, f) = fake(vec![503, 429, 500]).await;
    let series = collector(url, 8).range("up", 0, 20, 10.0).await.unwrap();
    assert_eq!(f.calls.load(SeqCst), 4, "three failures, then the answer");
    assert_eq!(series[0].labels["route"], "/a");
    assert_eq!(series[0].points[0], (10.0, 1.5));
    assert!(series[0].points[1].1.is_nan());
    assert_eq!(f.auth.lock().unwrap().as_deref(), Some("Bearer t0ken"));

    let (url, f) = fake(vec![400]).await;
    let e = collector(url, 8)
        .range("up{", 0, 20, 10.0)
        .await
        .unwrap_err();
    assert_eq!(f.calls.load(SeqCst), 1, "a bad query is not retried");
    assert!(matches!(e, CollectError::Rejected { .. }), "{e}");
    assert!(
        e.to_string().contains("parse error") && e.to_string().contains("up{"),
        "{e}"
    );

    let (url, f) = fake(vec![503; 10]).await;
    let e = collector(url, 8)
        .range("up", 0, 20, 10.0)
        .await
        .unwrap_err();
    assert_eq!(f.calls.load(SeqCst), 4);
    assert!(e.is_outage(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_are_capped() {
    use std::sync::atomic::Ordering::SeqCst;
    let (url, f) = fake(vec![]).await;
    let c = collector(url, 2);
    let all = join_all((0..8).map(|_| c.range("up", 0, 20, 10.0))).await;
    assert!(all.iter().all(Result::is_ok));
    assert_eq!(f.calls.load(SeqCst), 8);
    assert_eq!(f.max_in_flight.load(SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_prometheus_is_an_outage_after_retries() {
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = PrometheusCollector::new(PrometheusConfig {
        url: format!("http://127.0.0.1:{port}"),
        retries: 2,
        backoff_ms: 1,
        ..Default::default()
    })
    .unwrap();
    let e = c.range("up", 0, 10, 1.0).await.unwrap_err();
    assert!(e.is_outage(), "{e}");
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
}
