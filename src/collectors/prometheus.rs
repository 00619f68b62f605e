//! The Prometheus collector: range queries for both scopes of every metric, turned into
//! [`CollectedPair`]s.
//!
//! - Retries with exponential backoff on network errors, HTTP 5xx and 429 (and Prometheus'
//!   own `timeout` / `unavailable` / `internal` errors); other 4xx are bad queries and fail
//!   at once. What is still failing after the retries is an outage
//!   ([`CollectError::Unavailable`]), which holds an analysis instead of deciding it.
//! - Bearer or basic auth; secrets never appear in `Debug`, logs or API output.
//! - At most `max_concurrent` queries in flight per collector.
//! - Per kind (see [`PromQuery`](crate::config::query::PromQuery)): `promql` and `kayenta` series become value samples (one
//!   value per step); `histogram` bucket increases are summed over the window into one
//!   distribution; `ratio` increases become per-step event counts. NaN and ±Inf values
//!   become NaN, which the metric's NaN strategy removes or replaces.
//! - Pairing: by the `split_by` labels (Kayenta: `groupByFields`); a label set seen on one
//!   side only is `nodata` for that pair, and an empty result is `nodata` whose reason
//!   quotes the query.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use canary_judges::{MetricPair, Sample};
use futures_util::future::join_all;
use prometheus_http_query::Client;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::histogram::histogram_pairs;
use super::promql::{BuiltQuery, build};
pub use super::series::Series;
use super::series::{project, query_text, side_note};
use super::{
    CollectError, CollectFuture, CollectRequest, CollectedPair, Collector, Labels, Scope, Window,
};
use crate::config::CanaryConfig;
use crate::secret::Secret;

/// How canaryd authenticates to Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PrometheusAuth {
    Bearer { token: Secret },
    Basic { username: String, password: Secret },
}

/// Where Prometheus is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL, e.g. `http://127.0.0.1:9090` (a path prefix is kept).
    pub url: String,
    /// Per-query timeout, seconds (also sent to Prometheus as the query timeout).
    pub timeout_s: f64,
    /// Retries after the first attempt, for outages only.
    pub retries: u32,
    /// First backoff, milliseconds; doubled on each retry.
    pub backoff_ms: u64,
    /// Queries in flight at once.
    pub max_concurrent: usize,
    pub auth: Option<PrometheusAuth>,
    /// Most bytes of one answer read: a bigger one is refused as it arrives, never held.
    pub max_answer_bytes: u64,
    /// Most series one query may return (a split over too many label sets is refused).
    pub max_series: usize,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            url: "http://127.0.0.1:9090".into(),
            timeout_s: 30.0,
            retries: 3,
            backoff_ms: 250,
            max_concurrent: 8,
            auth: None,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            max_series: DEFAULT_MAX_SERIES,
        }
    }
}

/// Default of [`PrometheusConfig::max_answer_bytes`]: 16 MiB of JSON (about 700,000
/// points; an hour at a 10-s step is 360 points per series).
pub const DEFAULT_MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;
/// Default of [`PrometheusConfig::max_series`].
pub const DEFAULT_MAX_SERIES: usize = 2_000;

/// What happened to one query, for the daemon's own metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOutcome {
    Ok,
    Rejected,
    Unavailable,
}

/// Receives the duration and outcome of every query (the daemon's `/metrics`).
pub trait QueryObserver: Send + Sync {
    fn observe(&self, seconds: f64, outcome: QueryOutcome);
}

/// Reads metric pairs from a Prometheus HTTP API.
pub struct PrometheusCollector {
    client: Client,
    /// Range queries go through this client directly, so the answer's size is bounded
    /// while it is read.
    http: reqwest::Client,
    config: PrometheusConfig,
    auth_header: Option<reqwest::header::HeaderValue>,
    permits: Arc<Semaphore>,
    observer: Option<Arc<dyn QueryObserver>>,
}

impl fmt::Debug for PrometheusCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusCollector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PrometheusCollector {
    /// A collector for `config`; fails on a malformed URL or settings.
    pub fn new(config: PrometheusConfig) -> Result<Self, String> {
        if !(config.timeout_s.is_finite() && config.timeout_s > 0.0) {
            return Err(format!(
                "prometheus.timeout_s must be > 0, got {}",
                config.timeout_s
            ));
        }
        if config.max_concurrent == 0 {
            return Err("prometheus.max_concurrent must be at least 1".into());
        }
        if config.retries > 10 || config.backoff_ms > 60_000 {
            return Err(format!(
                "prometheus.retries may be at most 10 and prometheus.backoff_ms at most 60000, got {} and {}",
                config.retries, config.backoff_ms
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(crate::time::duration(config.timeout_s))
            .connect_timeout(crate::time::duration(config.timeout_s.min(5.0)))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        if config.max_answer_bytes < 1024 || config.max_series == 0 {
            return Err(format!(
                "prometheus.max_answer_bytes must be at least 1024 and prometheus.max_series at least 1, got {} and {}",
                config.max_answer_bytes, config.max_series
            ));
        }
        let client = Client::from(http.clone(), &config.url)
            .map_err(|e| format!("prometheus.url `{}`: {e}", config.url))?;
        let auth_header = match &config.auth {
            None => None,
            Some(auth) => {
                let text = match auth {
                    PrometheusAuth::Bearer { token } => format!("Bearer {}", token.expose()),
                    PrometheusAuth::Basic { username, password } => {
                        use base64::Engine as _;
                        let raw = format!("{username}:{}", password.expose());
                        format!(
                            "Basic {}",
                            base64::engine::general_purpose::STANDARD.encode(raw)
                        )
                    }
                };
                let mut v = reqwest::header::HeaderValue::from_str(&text)
                    .map_err(|_| "prometheus.auth holds characters not allowed in a header")?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        Ok(PrometheusCollector {
            client,
            http,
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            config,
            auth_header,
            observer: None,
        })
    }

    /// Report every query's duration and outcome to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn QueryObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn config(&self) -> &PrometheusConfig {
        &self.config
    }

    /// Is Prometheus answering (`/-/ready`)?
    pub async fn ready(&self) -> bool {
        self.client.is_server_ready().await.unwrap_or(false)
    }

    /// One range query, with retries for outages.
    pub async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: f64,
    ) -> Result<Vec<Series>, CollectError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CollectError::Unavailable {
                query: query.to_string(),
                message: "the collector is shutting down".into(),
            })?;
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let result = self.query_range(query, start, end, step).await;
            let seconds = started.elapsed().as_secs_f64();
            let (retry, message) = match result {
                Ok(series) => {
                    self.observe(seconds, QueryOutcome::Ok);
                    return Ok(series);
                }
                Err(Failure::Refused(message)) => {
                    self.observe(seconds, QueryOutcome::Rejected);
                    return Err(CollectError::Rejected {
                        query: query.to_string(),
                        message,
                    });
                }
                Err(Failure::Http { retry, message }) => (retry, message),
            };
            if retry && attempt < self.config.retries {
                tracing::debug!(query, attempt, error = %message, "query failed; retrying");
                let backoff = self.config.backoff_ms.saturating_mul(1 << attempt.min(16));
                tokio::time::sleep(Duration::from_millis(backoff)).await;
                attempt += 1;
                continue;
            }
            if retry {
                self.observe(seconds, QueryOutcome::Unavailable);
                return Err(CollectError::Unavailable {
                    query: query.to_string(),
                    message: format!("{message} (after {} attempts)", attempt + 1),
                });
            }
            self.observe(seconds, QueryOutcome::Rejected);
            return Err(CollectError::Rejected {
                query: query.to_string(),
                message,
            });
        }
    }

    /// One `query_range` POST, its answer read at most `max_answer_bytes` and holding at
    /// most `max_series` series.
    async fn query_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: f64,
    ) -> Result<Vec<Series>, Failure> {
        let url = format!(
            "{}/api/v1/query_range",
            self.config.url.trim_end_matches('/')
        );
        let form = [
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step.to_string()),
            (
                "timeout",
                format!("{}ms", (self.config.timeout_s * 1000.0) as i64),
            ),
        ];
        let mut req = self.http.post(&url).form(&form);
        if let Some(h) = &self.auth_header {
            req = req.header(reqwest::header::AUTHORIZATION, h.clone());
        }
        let mut resp = req.send().await.map_err(|e| Failure::Http {
            retry: true,
            message: error_chain(&e),
        })?;
        let status = resp.status();
        let limit = self.config.max_answer_bytes;
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_big(limit));
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| Failure::Http {
            retry: true,
            message: error_chain(&e),
        })? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_big(limit));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: Answer = match serde_json::from_slice(&body) {
            Ok(a) => a,
            Err(_) if !status.is_success() => {
                let retry = status.as_u16() == 429 || status.is_server_error();
                let hint = if matches!(status.as_u16(), 401 | 403) {
                    ": check prometheus.auth"
                } else {
                    ""
                };
                return Err(Failure::Http {
                    retry,
                    message: format!("HTTP {status} from Prometheus{hint}"),
                });
            }
            Err(e) => {
                return Err(Failure::Refused(format!(
                    "the answer is not Prometheus' JSON: {e}"
                )));
            }
        };
        if answer.status != "success" {
            let kind = answer.error_type.unwrap_or_default();
            let retry = matches!(
                kind.as_str(),
                "timeout" | "canceled" | "internal" | "unavailable"
            ) || status.as_u16() == 429
                || status.is_server_error();
            return Err(Failure::Http {
                retry,
                message: format!("Prometheus {kind}: {}", answer.error.unwrap_or_default()),
            });
        }
        let data = answer
            .data
            .ok_or_else(|| Failure::Refused("the answer has no data".into()))?;
        if data.result.len() > self.config.max_series {
            return Err(Failure::Refused(format!(
                "{} series in the answer, more than prometheus.max_series ({}): split by fewer labels or filter the query",
                data.result.len(),
                self.config.max_series
            )));
        }
        drop(body);
        series_of(data)
    }

    fn observe(&self, seconds: f64, outcome: QueryOutcome) {
        if let Some(o) = &self.observer {
            o.observe(seconds, outcome);
        }
    }

    async fn collect_metric(
        &self,
        config: &CanaryConfig,
        metric: usize,
        request: &CollectRequest,
        window: Window,
    ) -> Result<Vec<CollectedPair>, CollectError> {
        let m = &config.metrics[metric];
        let query = m.query.as_ref().ok_or_else(|| CollectError::Query {
            metric: m.name.clone(),
            message: "the metric has no `query`; Prometheus analyses need one per metric".into(),
        })?;
        let step = window.step.round().max(1.0) as u64;
        let built = |scope: &Scope| {
            build(query, scope, &config.kayenta_templates).map_err(|e| CollectError::Query {
                metric: m.name.clone(),
                message: e.to_string(),
            })
        };
        let b = built(&request.baseline)?;
        let c = built(&request.canary)?;
        let split = query.split_by();
        let (start, end) = (window.start.floor() as i64, window.end.ceil() as i64);
        // Counters are read at `start` too: each point is the increase over the step
        // before it, so the points tile (start, end].
        let mut le = vec!["le".to_string()];
        le.extend(split.iter().cloned());
        match (&b, &c) {
            (BuiltQuery::Series(qb), BuiltQuery::Series(qc)) => {
                let (sb, sc) = tokio::try_join!(
                    self.range(qb, start, end, step as f64),
                    self.range(qc, start, end, step as f64)
                )?;
                let mut pairs = series_pairs(metric, split, [qb, qc], sb, sc);
                if let Some(r) = &m.requests {
                    // Request counts beside aggregates are read from files only.
                    for p in &mut pairs {
                        let text = format!(
                            "`requests = \"{r}\"` is read from files only: judged without request counts"
                        );
                        p.note = Some(match p.note.take() {
                            Some(n) => format!("{n}; {text}"),
                            None => text,
                        });
                    }
                }
                Ok(pairs)
            }
            (BuiltQuery::Histogram(qb), BuiltQuery::Histogram(qc)) => {
                let (sb, sc) = tokio::try_join!(
                    self.range(qb, start, end, step as f64),
                    self.range(qc, start, end, step as f64)
                )?;
                Ok(histogram_pairs(
                    metric,
                    split,
                    [qb, qc],
                    increments(&sb, &le),
                    increments(&sc, &le),
                ))
            }
            (
                BuiltQuery::Ratio {
                    errors: eb,
                    total: tb,
                },
                BuiltQuery::Ratio {
                    errors: ec,
                    total: tc,
                },
            ) => {
                let s = step as f64;
                let (e_b, t_b, e_c, t_c) = tokio::try_join!(
                    self.range(eb, start, end, s),
                    self.range(tb, start, end, s),
                    self.range(ec, start, end, s),
                    self.range(tc, start, end, s)
                )?;
                let inc = |series: Vec<Series>| increments(&series, split);
                Ok(ratio_pairs(
                    metric,
                    split,
                    [[eb, tb], [ec, tc]],
                    [inc(e_b), inc(e_c)],
                    [inc(t_b), inc(t_c)],
                ))
            }
            _ => unreachable!("both scopes build the same kind"),
        }
    }
}

impl Collector for PrometheusCollector {
    fn collect<'a>(
        &'a self,
        config: &'a CanaryConfig,
        request: &'a CollectRequest,
    ) -> CollectFuture<'a> {
        Box::pin(async move {
            let window = request.window.ok_or_else(|| CollectError::Query {
                metric: String::new(),
                message: "a Prometheus analysis needs a time window".into(),
            })?;
            if !(window.end > window.start && window.step > 0.0) {
                return Err(CollectError::Query {
                    metric: String::new(),
                    message: format!(
                        "empty window: start {} end {} step {}",
                        window.start, window.end, window.step
                    ),
                });
            }
            let results = join_all(
                (0..config.metrics.len()).map(|i| self.collect_metric(config, i, request, window)),
            )
            .await;
            let mut out = Vec::new();
            for r in results {
                out.extend(r?);
            }
            Ok(out)
        })
    }
}

/// (retry?, message) for a failed query.
/// Why a query failed: refused (a bad query, an answer too big to read: repeating it will
/// not help) or an HTTP/Prometheus failure, retried when `retry` (an outage).
enum Failure {
    Refused(String),
    Http { retry: bool, message: String },
}

fn too_big(limit: u64) -> Failure {
    Failure::Refused(format!(
        "the answer is larger than prometheus.max_answer_bytes ({limit} bytes): shorten the window, lengthen the step or narrow the query"
    ))
}

/// Prometheus' answer envelope (`/api/v1/query_range`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<AnswerData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerData {
    result_type: String,
    #[serde(default)]
    result: Vec<AnswerSeries>,
}

#[derive(Deserialize)]
struct AnswerSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, PromValue)>,
}

/// A sample value as Prometheus writes it, a string (`"0.25"`, `"NaN"`, `"+Inf"`), read
/// straight into a number (no string kept per point); not finite is NaN.
struct PromValue(f64);

impl<'de> Deserialize<'de> for PromValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PromValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sample value (a number as a string)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PromValue, E> {
                Ok(PromValue(
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .unwrap_or(f64::NAN),
                ))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PromValue, E> {
                Ok(PromValue(if v.is_finite() { v } else { f64::NAN }))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PromValue, E> {
                Ok(PromValue(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PromValue, E> {
                Ok(PromValue(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

fn series_of(data: AnswerData) -> Result<Vec<Series>, Failure> {
    if data.result_type != "matrix" {
        return Err(Failure::Refused(format!(
            "expected a range vector (matrix), got a {}",
            data.result_type
        )));
    }
    Ok(data
        .result
        .into_iter()
        .map(|r| {
            let mut labels: Labels = r.metric.into_iter().collect();
            labels.remove("__name__");
            Series {
                labels,
                points: r.values.iter().map(|(t, v)| (*t, v.0)).collect(),
            }
        })
        .collect())
}

/// Per-step increases of counter series: each series' differences between consecutive
/// points (a drop is a counter reset: the new value is the increase since it), summed over
/// the series that share the `keep` labels, at the time of the later point. A series' first
/// point only starts it, so every increment is counted once; NaN points are skipped.
pub fn increments(series: &[Series], keep: &[String]) -> Vec<Series> {
    let mut sums: BTreeMap<Labels, BTreeMap<i64, (f64, f64)>> = BTreeMap::new();
    for s in series {
        let at = sums.entry(project(&s.labels, keep)).or_default();
        let mut prev: Option<f64> = None;
        for &(t, v) in &s.points {
            if !v.is_finite() {
                continue;
            }
            if let Some(p) = prev {
                let inc = if v >= p { v - p } else { v };
                // Keyed by milliseconds: range points share exact step times.
                let slot = at.entry((t * 1000.0).round() as i64).or_insert((t, 0.0));
                slot.1 += inc;
            }
            prev = Some(v);
        }
    }
    sums.into_iter()
        .filter(|(_, points)| !points.is_empty())
        .map(|(labels, points)| Series {
            labels,
            points: points.into_values().collect(),
        })
        .collect()
}

/// Group series by pair key. With no split labels and at most one series per side, the
/// two series pair whatever their labels.
fn keyed<'s>(split: &[String], sides: [&'s [Series]; 2]) -> BTreeMap<Labels, [Vec<&'s Series>; 2]> {
    let single = split.is_empty() && sides.iter().all(|s| s.len() <= 1);
    let mut out: BTreeMap<Labels, [Vec<&'s Series>; 2]> = BTreeMap::new();
    for (side, series) in sides.into_iter().enumerate() {
        for s in series {
            let key = if single {
                Labels::new()
            } else if split.is_empty() {
                s.labels.clone()
            } else {
                project(&s.labels, split)
            };
            out.entry(key).or_default()[side].push(s);
        }
    }
    out
}

/// Value series (promql, kayenta): one value per step.
pub fn series_pairs(
    metric: usize,
    split: &[String],
    queries: [&String; 2],
    baseline: Vec<Series>,
    canary: Vec<Series>,
) -> Vec<CollectedPair> {
    let text = query_text(&queries);
    let groups = keyed(split, [&baseline, &canary]);
    if groups.is_empty() {
        return vec![CollectedPair::missing(
            metric,
            text,
            side_note(true, true, queries).unwrap_or_default(),
        )];
    }
    groups
        .into_iter()
        .map(|(labels, [b, c])| {
            let flat = |ss: &[&Series]| {
                let mut pts: Vec<(f64, f64)> =
                    ss.iter().flat_map(|s| s.points.iter().copied()).collect();
                pts.sort_by(|x, y| x.0.total_cmp(&y.0));
                pts
            };
            let (pb, pc) = (flat(&b), flat(&c));
            let note = side_note(pb.is_empty(), pc.is_empty(), queries);
            CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric,
                labels,
                pair: MetricPair {
                    baseline: Sample::Values(pb.iter().map(|p| p.1).collect()),
                    canary: Sample::Values(pc.iter().map(|p| p.1).collect()),
                },
                query: text.clone(),
                note,
                times: [
                    pb.iter().map(|p| p.0).collect(),
                    pc.iter().map(|p| p.0).collect(),
                ],
            }
        })
        .collect()
}

/// Ratio kind: per-step events out of totals. A side whose total has data but whose
/// error query returned nothing had no errors (counters of errors often do not exist
/// until the first error).
pub fn ratio_pairs(
    metric: usize,
    split: &[String],
    queries: [[&String; 2]; 2],
    errors: [Vec<Series>; 2],
    totals: [Vec<Series>; 2],
) -> Vec<CollectedPair> {
    let text = format!(
        "baseline errors: {}; baseline total: {}; canary errors: {}; canary total: {}",
        queries[0][0], queries[0][1], queries[1][0], queries[1][1]
    );
    let key = |s: &Series| project(&s.labels, split);
    let mut keys: std::collections::BTreeSet<Labels> = std::collections::BTreeSet::new();
    for side in &totals {
        keys.extend(side.iter().map(key));
    }
    for side in &errors {
        keys.extend(side.iter().map(key));
    }
    if keys.is_empty() {
        return vec![CollectedPair::missing(
            metric,
            text,
            side_note(true, true, [queries[0][1], queries[1][1]]).unwrap_or_default(),
        )];
    }
    keys.into_iter()
        .map(|labels| {
            let side = |i: usize| -> (Vec<f64>, Vec<f64>, Vec<f64>, Option<String>) {
                let mut steps: BTreeMap<u64, (f64, f64, f64)> = BTreeMap::new();
                for s in totals[i].iter().filter(|s| key(s) == labels) {
                    for &(t, v) in &s.points {
                        if v.is_finite() {
                            let e = steps.entry(t.to_bits()).or_insert((t, 0.0, 0.0));
                            e.2 += v.max(0.0);
                        }
                    }
                }
                for s in errors[i].iter().filter(|s| key(s) == labels) {
                    for &(t, v) in &s.points {
                        if v.is_finite()
                            && let Some(e) = steps.get_mut(&t.to_bits())
                        {
                            e.1 += v.max(0.0);
                        }
                    }
                }
                let mut rows: Vec<(f64, f64, f64)> = steps.into_values().collect();
                rows.sort_by(|a, b| a.0.total_cmp(&b.0));
                // Rounding may put errors a hair above the total; more than that cannot be
                // true, and is kept as it is so the judge refuses it (never clamped into a
                // verdict), with the step and the queries named.
                let impossible = |r: &(f64, f64, f64)| r.1 > r.2 * (1.0 + 1e-9) + 1e-9;
                let garbage = rows.iter().find(|r| impossible(r)).map(|r| {
                    format!(
                        "the {} errors exceed its total at {}: {} errors in {} requests — the error query ({}) and the total query ({}) cannot both be right",
                        ["baseline", "canary"][i],
                        crate::time::rfc3339(r.0),
                        canary_judges::format_number(r.1),
                        canary_judges::format_number(r.2),
                        queries[i][0],
                        queries[i][1]
                    )
                });
                (
                    rows.iter().map(|r| r.0).collect(),
                    rows.iter()
                        .map(|r| if impossible(r) { r.1 } else { r.1.min(r.2) })
                        .collect(),
                    rows.iter().map(|r| r.2).collect(),
                    garbage,
                )
            };
            let (tb, eb, nb, gb) = side(0);
            let (tc, ec, nc, gc) = side(1);
            let note = [gb, gc]
                .into_iter()
                .flatten()
                .chain(side_note(nb.is_empty(), nc.is_empty(), [queries[0][1], queries[1][1]]))
                .collect::<Vec<_>>();
            CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric,
                labels,
                note: (!note.is_empty()).then(|| note.join("; ")),
                pair: MetricPair {
                    baseline: Sample::Counts {
                        events: eb,
                        totals: nb,
                    },
                    canary: Sample::Counts {
                        events: ec,
                        totals: nc,
                    },
                },
                query: text.clone(),
                times: [tb, tc],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
        let handler = |axum::extract::State(f): axum::extract::State<Arc<Fake>>,
                       headers: HeaderMap| async move {
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
}
