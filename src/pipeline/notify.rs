//! Notification webhooks of a pipeline: stage started and finished, judgment needed,
//! rollback, completion and alerts, POSTed as signed JSON to each `[[notifications]]` URL
//! that asked for that kind.
//!
//! Each execution has one [`Notifier`] with one delivery task per URL, so a URL receives an
//! execution's notifications in the order they happened, and a slow or failing URL delays
//! neither the execution (traffic never waits for a notification) nor the other URLs. A
//! delivery is retried like a webhook router call (network errors, 429, 5xx) and then
//! dropped with a warning in the log: the execution's event log, not the notifications, is
//! the record. Notifications are sent after their transition is stored; a daemon killed in
//! between does not send them after the restart (at most once).
//!
//! The body (`X-Canaryd-Event: notification`, signed as in [`crate::routers::webhook`]):
//!
//! ```json
//! {"event":"notification","kind":"rollback","message":"the analysis failed: …",
//!  "pipeline":"shop-web","version":3,"execution":"…","target":"eu-west-1",
//!  "stage":"analysis at 5%","status":"running","split":{"eu-west-1":5.0},
//!  "at":"2026-11-26T10:00:00.000Z"}
//! ```

use serde::Serialize;
use tokio::sync::mpsc;

use super::spec::{NotifyKind, Pipeline};
use super::state::{Execution, Status};
use crate::routers::webhook::SignedPoster;
use crate::time::Timestamp;

/// The JSON body of one notification.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub event: &'static str,
    pub kind: NotifyKind,
    pub message: String,
    pub pipeline: String,
    pub version: i64,
    pub execution: String,
    pub target: Option<String>,
    pub stage: Option<String>,
    pub status: Status,
    /// Last confirmed canary percent per target (`null` before any).
    pub split: serde_json::Map<String, serde_json::Value>,
    pub at: Timestamp,
}

impl Message {
    /// A notification of `kind` about `exec` (after the transition that asked for it).
    pub fn new(
        spec: &Pipeline,
        version: i64,
        execution: &str,
        exec: &Execution,
        kind: NotifyKind,
        message: String,
        at: f64,
    ) -> Message {
        let split = spec
            .targets
            .iter()
            .zip(&exec.split)
            .map(|(t, s)| (t.name.clone(), serde_json::json!(s)))
            .collect();
        Message {
            event: "notification",
            kind,
            message,
            pipeline: spec.name.clone(),
            version,
            execution: execution.to_string(),
            target: spec.targets.get(exec.target).map(|t| t.name.clone()),
            stage: spec.stages.get(exec.stage).map(|s| s.name.clone()),
            status: exec.status,
            split,
            at: Timestamp(at),
        }
    }
}

struct Sink {
    kinds: Vec<NotifyKind>,
    queue: mpsc::UnboundedSender<(NotifyKind, Vec<u8>)>,
}

/// Delivers one execution's notifications; see the module documentation.
pub struct Notifier {
    sinks: Vec<Sink>,
}

impl Notifier {
    /// One delivery task per notification URL of `spec`. A URL whose settings are invalid
    /// (the spec was validated, so this should not happen) is logged and skipped.
    /// Posts go through `http` (see [`crate::routers::webhook::webhook_client`]).
    pub fn start(spec: &Pipeline, execution: &str, http: &reqwest::Client) -> Notifier {
        let mut sinks = Vec::new();
        for n in &spec.notifications {
            let poster = match SignedPoster::new(n.webhook(), http.clone()) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(pipeline = %spec.name, url = %n.url, error = %e, "cannot notify this URL");
                    continue;
                }
            };
            let (queue, mut rx) = mpsc::unbounded_channel::<(NotifyKind, Vec<u8>)>();
            let execution = execution.to_string();
            tokio::spawn(async move {
                // Ends when the execution's task drops its notifier and the queue is empty.
                while let Some((kind, body)) = rx.recv().await {
                    if let Err(e) = poster.post("notification", &body).await {
                        tracing::warn!(
                            execution = %execution, url = %poster.url(), kind = kind.as_str(),
                            error = %e, "notification not delivered"
                        );
                    }
                }
            });
            sinks.push(Sink {
                kinds: n.events.clone(),
                queue,
            });
        }
        Notifier { sinks }
    }

    /// Queue `message` for every URL that wants its kind.
    pub fn send(&self, message: &Message) {
        tracing::info!(
            execution = %message.execution, pipeline = %message.pipeline,
            kind = message.kind.as_str(), message = %message.message, "notification"
        );
        if !self.sinks.iter().any(|s| s.kinds.contains(&message.kind)) {
            return;
        }
        let body = match serde_json::to_vec(message) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a notification");
                return;
            }
        };
        for s in &self.sinks {
            if s.kinds.contains(&message.kind) {
                let _ = s.queue.send((message.kind, body.clone()));
            }
        }
    }
}
