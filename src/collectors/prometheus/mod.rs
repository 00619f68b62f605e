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
    pub fn new(config: PrometheusConfig) -> Result<Self, CollectError> {
        if !(config.timeout_s.is_finite() && config.timeout_s > 0.0) {
            return Err(CollectError::Config(format!(
                "prometheus.timeout_s must be > 0, got {}",
                config.timeout_s
            )));
        }
        if config.max_concurrent == 0 {
            return Err(CollectError::Config(
                "prometheus.max_concurrent must be at least 1".into(),
            ));
        }
        if config.retries > 10 || config.backoff_ms > 60_000 {
            return Err(CollectError::Config(format!(
                "prometheus.retries may be at most 10 and prometheus.backoff_ms at most 60000, got {} and {}",
                config.retries, config.backoff_ms
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(crate::time::duration(config.timeout_s))
            .connect_timeout(crate::time::duration(config.timeout_s.min(5.0)))
            .build()
            .map_err(|e| CollectError::Config(format!("cannot build the HTTP client: {e}")))?;
        if config.max_answer_bytes < 1024 || config.max_series == 0 {
            return Err(CollectError::Config(format!(
                "prometheus.max_answer_bytes must be at least 1024 and prometheus.max_series at least 1, got {} and {}",
                config.max_answer_bytes, config.max_series
            )));
        }
        let client = Client::from(http.clone(), &config.url)
            .map_err(|e| CollectError::Config(format!("prometheus.url `{}`: {e}", config.url)))?;
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
                let mut v = reqwest::header::HeaderValue::from_str(&text).map_err(|_| {
                    CollectError::Config(
                        "prometheus.auth holds characters not allowed in a header".into(),
                    )
                })?;
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

mod answer;
mod pairing;

use answer::*;
pub use pairing::{increments, ratio_pairs, series_pairs};

#[cfg(test)]
mod tests;
