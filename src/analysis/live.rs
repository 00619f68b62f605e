//! Analyses the daemon runs: a retrospective window judged once, or a live canary judged
//! every interval while it runs, each interval's judgement stored before the next.
//!
//! Live schedule: the canary starts at `start` (default: when the analysis is created);
//! data before `start + warmup` is never judged; interval `k` covers
//! `[start + warmup, start + warmup + (k+1)·interval]` (cumulative, capped at
//! `start + max_duration`) and is judged `lag` seconds after its end, when the metric
//! source has the data. Every interval re-reads the whole window so far: a restarted
//! daemon rebuilds the same state from the source, and sequential judges replay the
//! window step by step (their decisions hold at any stopping time).
//!
//! Stopping: at the last interval; earlier when a sequential judge's decision makes the
//! verdict `fail`, or when every metric is judged sequentially and all have decided.
//! Mann-Whitney and threshold verdicts are the last interval's, unless `fail_fast` asks
//! to stop at the first failing interval (Spinnaker's habit; it raises false alarms).
//!
//! Failure principles: an outage of the metric source is recorded as that interval's
//! outcome and never decides anything; the analysis goes on and judges again when the
//! source is back. At the last interval an outage is retried until `outage_grace_s`,
//! then the analysis ends in `error` without a verdict. A query the source rejects, or a
//! config that cannot be built into queries, ends the analysis in `error` at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use canary_judges::{Classification, JudgeKind, Thresholds, Verdict};
use serde::{Deserialize, Serialize};

use super::timeline::{analyze_planned, details};
use crate::collectors::promql::build;
use crate::collectors::{CollectRequest, Collector, Scope, Window};
use crate::config::CanaryConfig;
use crate::config::source::Format;
use crate::store::{AnalysisRecord, AnalysisStatus, IntervalRecord, Store, blocking};
use crate::telemetry::Telemetry;
use crate::time::{Seconds, Timestamp, now_ms};

mod window;
pub use window::*;

/// What a caller asks the daemon to judge (stored with the analysis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRequest {
    pub baseline: Scope,
    pub canary: Scope,
    pub window: WindowSpec,
    /// Overrides the config's thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// Overrides the config's scoring rules (`canaryd` unless either says `kayenta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<canary_judges::ScoringRules>,
}

/// A problem with a request: the field (dotted path) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl AnalysisRequest {
    /// Check the request against the config at time `now` (unix seconds, the caller's
    /// clock): the window, and that every metric's query builds for both scopes.
    pub fn validate(&self, config: &CanaryConfig, now: f64) -> Result<(), Vec<Invalid>> {
        let mut out: Vec<Invalid> = self
            .window
            .problems(now)
            .into_iter()
            .map(|(f, message)| Invalid {
                field: format!("window.{f}"),
                message,
            })
            .collect();
        if let Some(t) = self.thresholds {
            out.extend(t.problems().into_iter().map(|(f, message)| Invalid {
                field: format!("thresholds.{f}"),
                message,
            }));
        }
        for (i, m) in config.metrics.iter().enumerate() {
            let Some(q) = &m.query else {
                out.push(Invalid {
                    field: format!("config.metrics[{i}].query"),
                    message: format!(
                        "metric `{}` has no Prometheus query; the daemon reads Prometheus",
                        m.name
                    ),
                });
                continue;
            };
            for (side, scope) in [("baseline", &self.baseline), ("canary", &self.canary)] {
                if let Err(e) = build(q, scope, &config.kayenta_templates) {
                    out.push(Invalid {
                        field: side.to_string(),
                        message: format!("metric `{}`: {e}", m.name),
                    });
                }
            }
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}

/// Knobs of the runner, and the clock it stamps and schedules by.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Where "now" comes from ([`crate::time::SystemClock`] unless a test sets its own).
    pub clock: Arc<dyn crate::time::Clock>,
    /// Seconds between attempts while the metric source is down at the last interval.
    pub outage_retry_s: f64,
    /// How long past its due time the last interval waits for the source, then `error`.
    pub outage_grace_s: f64,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            clock: Arc::new(crate::time::SystemClock),
            outage_retry_s: 15.0,
            outage_grace_s: 600.0,
        }
    }
}

/// Runs stored analyses: one task per running analysis.
pub struct Runner {
    store: Arc<dyn Store>,
    collector: Arc<dyn Collector>,
    telemetry: Arc<Telemetry>,
    settings: RunnerSettings,
    tasks: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// The id of each analysis whose task ended (finished, failed or stopped), so waiters
    /// learn at once instead of polling the store.
    ended: tokio::sync::broadcast::Sender<String>,
}

impl Runner {
    /// Unix seconds now, by the runner's clock.
    pub fn now_s(&self) -> f64 {
        self.settings.clock.now_s()
    }

    /// Unix milliseconds now, by the runner's clock.
    pub fn now_ms(&self) -> i64 {
        self.settings.clock.now_ms()
    }

    pub fn new(
        store: Arc<dyn Store>,
        collector: Arc<dyn Collector>,
        telemetry: Arc<Telemetry>,
        settings: RunnerSettings,
    ) -> Arc<Self> {
        Arc::new(Runner {
            store,
            collector,
            telemetry,
            settings,
            tasks: Mutex::new(HashMap::new()),
            ended: tokio::sync::broadcast::channel(1024).0,
        })
    }

    /// Ids of analyses whose task ends from now on. A receiver that lags behind gets
    /// `RecvError::Lagged` and should re-read the store.
    pub fn subscribe_ended(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.ended.subscribe()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Start a task for every analysis the store says is running (after a restart).
    pub async fn resume_all(self: &Arc<Self>) -> Result<usize, crate::store::StoreError> {
        let running = blocking(&self.store, |s| s.unfinished_analyses()).await?;
        let n = running.len();
        for a in running {
            tracing::info!(analysis = %a.id, next_interval = a.next_interval, "resuming analysis");
            self.submit(a.id);
        }
        Ok(n)
    }

    /// Run a stored analysis (idempotent: one task per analysis).
    pub fn submit(self: &Arc<Self>, id: String) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|_, h| !h.is_finished());
        if tasks.contains_key(&id) {
            return;
        }
        let me = Arc::clone(self);
        let task_id = id.clone();
        let handle = tokio::spawn(async move {
            // A failed drive is a store or I/O failure (judging errors are recorded as the
            // analysis' own error): the analysis is not left `running` without a task. The
            // task notes the error on the analysis when it can, waits with backoff and
            // resumes from what the store holds, so freeing a full disk revives it.
            let mut backoff = 1.0_f64;
            while let Err(e) = me.drive(&task_id).await {
                tracing::error!(analysis = %task_id, error = %e, retry_in_s = backoff, "analysis task failed; retrying");
                let (key, note) = (task_id.clone(), format!("store error, retrying: {e}"));
                let at = me.now_ms();
                let noted =
                    blocking(&me.store, move |s| s.note_running(&key, Some(&note), at)).await;
                if let Err(n) = noted {
                    tracing::warn!(analysis = %task_id, error = %n, "cannot note the store error");
                }
                tokio::time::sleep(crate::time::duration(backoff)).await;
                backoff = (backoff * 2.0).min(60.0);
                let key = task_id.clone();
                match blocking(&me.store, move |s| s.get_analysis(&key)).await {
                    Ok(Some(rec)) if rec.status.is_final() => break,
                    Ok(None) => break,
                    _ => {}
                }
            }
            me.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&task_id);
            let _ = me.ended.send(task_id);
        });
        tasks.insert(id, handle.abort_handle());
    }

    /// Stop the task of an analysis (after the store marked it cancelled).
    pub fn stop(&self, id: &str) {
        if let Some(h) = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
        {
            h.abort();
        }
        let _ = self.ended.send(id.to_string());
    }

    /// Analyses with a task.
    pub fn active(&self) -> usize {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|_, h| !h.is_finished());
        tasks.len()
    }

    async fn finish_error(
        &self,
        mut rec: AnalysisRecord,
        message: String,
    ) -> Result<(), TaskError> {
        tracing::warn!(analysis = %rec.id, error = %message, "analysis ended in error");
        rec.status = AnalysisStatus::Error;
        rec.error = Some(message);
        rec.verdict = None;
        rec.updated_ms = self.now_ms();
        blocking(&self.store, move |s| s.finish_analysis(&rec))
            .await
            .map(|_| ())
            .map_err(TaskError::Store)
    }

    /// The metric source is out at interval `iv`: at the last interval, hold and retry
    /// until the grace period ends (never decide on no data); before it, record the
    /// interval as not judged. `Ok(true)` to go on, `Ok(false)` when the analysis ended.
    async fn on_outage(
        &self,
        mut rec: AnalysisRecord,
        iv: Interval,
        e: &crate::collectors::CollectError,
        outage_since: &mut Option<f64>,
    ) -> Result<bool, TaskError> {
        if iv.last {
            // Hold: retry until the grace period ends, never decide on no data.
            let since = *outage_since.get_or_insert_with(|| self.now_s().max(iv.due));
            if self.now_s() > since + self.settings.outage_grace_s {
                return self
                    .finish_error(
                        rec,
                        format!(
                            "the metric source was unavailable at the end of the analysis; no verdict: {e}"
                        ),
                    )
                    .await
                    .map(|()| false);
            }
            let note = format!("waiting for the metric source: {e}");
            let key = rec.id.clone();
            let at = self.now_ms();
            let running =
                blocking(&self.store, move |s| s.note_running(&key, Some(&note), at)).await?;
            if !running {
                return Ok(false);
            }
            tokio::time::sleep(crate::time::duration(self.settings.outage_retry_s)).await;
            return Ok(true);
        }
        let interval = IntervalRecord {
            analysis_id: rec.id.clone(),
            index: iv.index,
            at_ms: (iv.end * 1000.0) as i64,
            outcome: "outage".into(),
            verdict: None,
            score: None,
            report: None,
            error: Some(e.to_string()),
        };
        rec.next_interval = iv.index + 1;
        rec.error = Some(format!("interval {} not judged: {e}", iv.index));
        rec.updated_ms = self.now_ms();
        tracing::warn!(analysis = %rec.id, interval = iv.index, error = %e, "metric source outage; holding");
        blocking(&self.store, move |s| s.record_interval(&rec, &interval)).await?;
        Ok(true)
    }

    fn count_interval(&self, outcome: &str) {
        self.telemetry
            .intervals
            .get_or_create(&crate::telemetry::OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Store the chart data of what was just judged. Display data only: a failure costs
    /// the charts, not the analysis.
    async fn store_details(&self, id: &str, details: serde_json::Result<String>) {
        let (aid, at) = (id.to_string(), self.now_ms());
        let stored = match details {
            Ok(text) => blocking(&self.store, move |s| s.put_details(&aid, &text, at))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = stored {
            tracing::warn!(analysis = %id, error = %e, "cannot store the chart data");
        }
    }

    /// Judge one interval's pairs off the async threads, and the chart data of what was
    /// judged (the samples are not kept).
    async fn judge_interval(
        &self,
        config: &CanaryConfig,
        pairs: Vec<crate::collectors::CollectedPair>,
        request: &AnalysisRequest,
        iv: Interval,
        planned_end: Option<f64>,
    ) -> Result<(super::timeline::TimedAnalysis, serde_json::Result<String>), TaskError> {
        let started = std::time::Instant::now();
        let cfg = config.clone();
        let (thresholds, step) = (request.thresholds, request.window.step());
        let (timed, details) = tokio::task::spawn_blocking(move || {
            let timed = analyze_planned(
                &cfg,
                &pairs,
                thresholds,
                iv.start,
                step,
                iv.last,
                planned_end,
            );
            // Chart data of what was just judged, for the pages; the samples are not kept.
            let details = serde_json::to_string(&details(&cfg, &pairs, &timed.traces));
            (timed, details)
        })
        .await
        .map_err(TaskError::Judging)?;
        self.telemetry
            .judge_seconds
            .observe(started.elapsed().as_secs_f64());
        self.count_interval("judged");
        Ok((timed, details))
    }

    /// The interval record of a judged interval, and the analysis record moved past it
    /// (finished when `done`).
    fn judged(
        &self,
        rec: &mut AnalysisRecord,
        iv: Interval,
        report: &crate::analysis::AnalysisReport,
        done: bool,
    ) -> Result<IntervalRecord, TaskError> {
        let report_json = serde_json::to_value(report).map_err(TaskError::Encode)?;
        let interval = IntervalRecord {
            analysis_id: rec.id.clone(),
            index: iv.index,
            at_ms: (iv.end * 1000.0) as i64,
            outcome: "judged".into(),
            verdict: Some(report.verdict.as_str().into()),
            score: Some(report.score),
            report: Some(report_json.clone()),
            error: None,
        };
        rec.next_interval = iv.index + 1;
        rec.report = Some(report_json);
        rec.error = None;
        rec.updated_ms = self.now_ms();
        if done {
            rec.status = AnalysisStatus::Succeeded;
            rec.verdict = Some(report.verdict.as_str().into());
            rec.score = Some(report.score);
        }
        Ok(interval)
    }

    async fn drive(&self, id: &str) -> Result<(), TaskError> {
        let id = id.to_string();
        // When the metric source first failed at the last interval (grace is counted
        // from then, or from the due time if later).
        let mut outage_since: Option<f64> = None;
        loop {
            let key = id.clone();
            let Some(mut rec) = blocking(&self.store, move |s| s.get_analysis(&key)).await? else {
                return Ok(());
            };
            if rec.status.is_final() {
                return Ok(());
            }
            let format = Format::from_name(&rec.config_format).unwrap_or(Format::Json);
            let mut config = match CanaryConfig::parse(&rec.config_body, format, &rec.config_name) {
                Ok(c) => c,
                Err(e) => return self.finish_error(rec, format!("config: {e}")).await,
            };
            let request: AnalysisRequest = match serde_json::from_value(rec.request.clone()) {
                Ok(r) => r,
                Err(e) => return self.finish_error(rec, format!("stored request: {e}")).await,
            };
            if let Some(rules) = request.scoring {
                config.scoring = Some(rules);
            }
            let plan = request.window.intervals();
            let Some(iv) = plan.get(rec.next_interval as usize).copied() else {
                return self
                    .finish_error(rec, "no interval left to judge".into())
                    .await;
            };
            let wait = iv.due - self.now_s();
            if wait > 0.0 {
                tokio::time::sleep(crate::time::duration(wait)).await;
            }
            let step = request.window.step();
            // Hosts as the unit spread their looks over the whole planned analysis.
            let planned_end = plan.last().map(|last| last.end);
            let collect_request = CollectRequest {
                baseline: request.baseline.clone(),
                canary: request.canary.clone(),
                window: Some(Window {
                    start: iv.start,
                    end: iv.end,
                    step,
                }),
            };
            let collected = self.collector.collect(&config, &collect_request).await;
            let pairs = match collected {
                Ok(p) => p,
                Err(e) if e.is_outage() => {
                    self.count_interval("outage");
                    if self.on_outage(rec, iv, &e, &mut outage_since).await? {
                        continue;
                    }
                    return Ok(());
                }
                Err(e) => {
                    self.count_interval("error");
                    return self.finish_error(rec, e.to_string()).await;
                }
            };
            let (timed, details) = self
                .judge_interval(&config, pairs, &request, iv, planned_end)
                .await?;
            let report = &timed.report;
            let early = !iv.last && stops_early(&config, &request.window, &timed);
            let done = iv.last || early;
            let interval = self.judged(&mut rec, iv, report, done)?;
            tracing::info!(
                analysis = %rec.id, interval = iv.index, verdict = report.verdict.as_str(),
                score = report.score, done, early, "interval judged"
            );
            let recorded =
                blocking(&self.store, move |s| s.record_interval(&rec, &interval)).await?;
            if !recorded {
                tracing::warn!(analysis = %id, interval = iv.index, "interval already recorded; not judged twice");
            } else {
                self.store_details(&id, details).await;
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// Whether an interval before the last ends the analysis: a sequential decision (a fail,
/// or any decision when every metric is sequential), or a fail-fast window's fail that a
/// metric found worse (high or low) caused — not one that only missing data caused: data
/// still arriving (a canary just started, a scrape not in yet) holds and is judged again
/// at the next interval.
fn stops_early(
    config: &CanaryConfig,
    window: &WindowSpec,
    timed: &super::timeline::TimedAnalysis,
) -> bool {
    let report = &timed.report;
    let all_sequential = config
        .metrics
        .iter()
        .all(|m| m.judge.kind() == JudgeKind::Sequential);
    let fail_fast = matches!(
        window,
        WindowSpec::Live {
            fail_fast: true,
            ..
        }
    );
    let found_worse = report.metrics.iter().any(|m| {
        !m.muted && matches!(m.classification, Classification::High | Classification::Low)
    });
    (timed.decided_after_s.is_some() && (report.verdict == Verdict::Fail || all_sequential))
        || (fail_fast && report.verdict == Verdict::Fail && found_worse)
}

/// Why an analysis task stopped before its analysis ended: it notes the error on the
/// analysis and resumes from the store after a backoff.
#[derive(Debug, thiserror::Error)]
enum TaskError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("judging failed: {0}")]
    Judging(#[source] tokio::task::JoinError),
    #[error("cannot encode the report: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Create a stored analysis and return its record (the caller submits it to the runner).
#[allow(clippy::too_many_arguments)]
pub fn new_record(
    config: &CanaryConfig,
    config_id: Option<String>,
    format: Format,
    body: String,
    application: Option<String>,
    request: &AnalysisRequest,
    dialect: &str,
) -> AnalysisRecord {
    let now = now_ms();
    AnalysisRecord {
        id: uuid::Uuid::new_v4().to_string(),
        config_id,
        config_name: config.name.clone(),
        application: application.or_else(|| config.applications.first().cloned()),
        config_format: format.name().into(),
        config_body: body,
        request: serde_json::to_value(request).unwrap_or(serde_json::Value::Null),
        dialect: dialect.into(),
        status: AnalysisStatus::Running,
        verdict: None,
        score: None,
        report: None,
        error: None,
        next_interval: 0,
        created_ms: now,
        updated_ms: now,
    }
}

#[cfg(test)]
mod fault_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::now_s;

    #[test]
    fn live_windows_grow_by_interval_after_the_warmup() {
        let w: WindowSpec = serde_json::from_value(serde_json::json!({
            "mode": "live", "start": 1000, "interval": "1m", "max_duration": "5m30s",
            "warmup": 30, "step": "10s"
        }))
        .unwrap();
        // A window that ended long ago is no live window (its intervals still plan).
        let problems = w.problems(now_s());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "start");
        assert!(problems[0].1.contains("retrospective"), "{problems:?}");
        let ivs = w.intervals();
        assert_eq!(ivs.len(), 5);
        assert_eq!(ivs[0].start, 1030.0);
        assert_eq!(ivs[0].end, 1090.0);
        assert_eq!(ivs[0].due, 1100.0);
        assert_eq!(ivs[4].end, 1330.0);
        assert!(ivs[4].last && !ivs[3].last);
    }

    #[test]
    fn windows_are_checked() {
        let w: WindowSpec = serde_json::from_value(serde_json::json!({
            "mode": "retrospective", "start": "2026-11-26T10:00:00Z",
            "end": "2026-11-26T09:00:00Z"
        }))
        .unwrap();
        assert_eq!(w.problems(now_s())[0].0, "end");
        let e = serde_json::from_value::<WindowSpec>(serde_json::json!({
            "mode": "live", "interval": "often", "max_duration": 60
        }))
        .unwrap_err();
        assert!(e.to_string().contains("`often` is not a duration"), "{e}");
        let w: WindowSpec = serde_json::from_value(serde_json::json!({
            "mode": "live", "interval": 5, "max_duration": 60, "step": 10
        }))
        .unwrap();
        assert_eq!(w.problems(now_s())[0].0, "interval");
    }

    #[test]
    fn a_retrospective_window_has_ended() {
        let ahead = now_s() + 3_600.0;
        let w: WindowSpec = serde_json::from_value(serde_json::json!({
            "mode": "retrospective", "start": ahead - 600.0, "end": ahead
        }))
        .unwrap();
        let problems = w.problems(now_s());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "end");
        assert!(problems[0].1.contains("in the future"), "{problems:?}");
        let just_now: WindowSpec = serde_json::from_value(serde_json::json!({
            "mode": "retrospective", "start": now_s() - 600.0, "end": now_s() + 10.0
        }))
        .unwrap();
        assert!(
            just_now.problems(now_s()).is_empty(),
            "clock skew is allowed"
        );
        let live_now: WindowSpec = serde_json::from_value(serde_json::json!({
            "mode": "live", "start": now_s() - 60.0, "interval": "1m", "max_duration": "10m"
        }))
        .unwrap();
        assert!(
            live_now.problems(now_s()).is_empty(),
            "{:?}",
            live_now.problems(now_s())
        );
    }

    #[test]
    fn timestamps_read_rfc3339_and_unix_seconds() {
        let t: Timestamp =
            serde_json::from_value(serde_json::json!("2026-11-26T10:00:00Z")).unwrap();
        assert_eq!(t.0, 1_795_687_200.0);
        assert_eq!(t.rfc3339(), "2026-11-26T10:00:00.000Z");
        let u: Timestamp = serde_json::from_value(serde_json::json!(1_795_687_200)).unwrap();
        assert_eq!(t, u);
    }
}
