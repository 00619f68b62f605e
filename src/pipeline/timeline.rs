//! An execution's event log as chart data ([`ExecutionTimeline`]): the canary's traffic share
//! over time, stage starts, and the decisions on the way.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::ExecutionEvent;

/// What an execution's chart shows: the canary's traffic share over time, where stages
/// began, and the decisions (verdicts, approvals, rollbacks) on the way.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExecutionTimeline {
    /// `(unix seconds, canary percent)` after each change of the split, in time order.
    pub traffic: Vec<[f64; 2]>,
    /// Stage starts: unix seconds and the stage's name.
    pub stages: Vec<(f64, String)>,
    /// Decisions: unix seconds, what kind, and a short label.
    pub marks: Vec<TimelineMark>,
    /// The end of the time axis (now for a running execution, else the last event).
    pub end: f64,
}

/// A decision on an [`ExecutionTimeline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineMark {
    pub t: f64,
    /// `"pass"`, `"marginal"` or `"fail"` for verdicts; `"approved"`, `"rejected"`,
    /// `"rollback"` and `"info"` for the rest.
    pub kind: String,
    pub label: String,
}

/// The timeline of `events` (in order), its axis ending at `end` (unix seconds) or at the
/// last event when that is later. The traffic line follows the target each event names:
/// with several targets, the share of the target being worked on.
pub fn execution_timeline(events: &[ExecutionEvent], end: f64) -> ExecutionTimeline {
    let mut t = ExecutionTimeline::default();
    let mut targets: Vec<String> = Vec::new();
    let mut last_percent: Option<f64> = None;
    for e in events {
        let at = e.at_ms as f64 / 1000.0;
        let detail = &e.detail;
        let text = detail["detail"].as_str().unwrap_or("");
        let target = detail["target"].as_str().unwrap_or("").to_string();
        let index = match targets.iter().position(|n| *n == target) {
            Some(i) => i,
            None => {
                targets.push(target.clone());
                targets.len() - 1
            }
        };
        let percent = match &detail["split"] {
            Value::Array(split) => split.get(index).and_then(Value::as_f64),
            _ => None,
        };
        if let Some(p) = percent
            && last_percent != Some(p)
        {
            t.traffic.push([at, p]);
            last_percent = Some(p);
        }
        let stage = detail["stage"].as_str().unwrap_or("");
        let label = |s: &str| -> String {
            let mut l: String = s.chars().take(40).collect();
            if s.chars().count() > 40 {
                l.push('…');
            }
            l
        };
        match e.kind.as_str() {
            "stage started" => {
                let name = if targets.len() > 1 && !target.is_empty() {
                    format!("{target}/{stage}")
                } else {
                    stage.to_string()
                };
                t.stages.push((at, name));
            }
            "analysis" => {
                let outcome = text.split(':').next().unwrap_or("").trim();
                let kind = match outcome {
                    "Pass" => "pass",
                    "Marginal" => "marginal",
                    "Inconclusive" => "inconclusive",
                    "Fail" => "fail",
                    _ => "info",
                };
                t.marks.push(TimelineMark {
                    t: at,
                    kind: kind.into(),
                    label: label(&format!("{stage}: {}", outcome.to_lowercase())),
                });
            }
            "approved" | "rejected" => t.marks.push(TimelineMark {
                t: at,
                kind: e.kind.clone(),
                label: label(&format!(
                    "{} {}",
                    e.kind,
                    text.split(':').next().unwrap_or("")
                )),
            }),
            "rollback" | "failed" => t.marks.push(TimelineMark {
                t: at,
                kind: if e.kind == "rollback" {
                    "rollback"
                } else {
                    "fail"
                }
                .into(),
                label: label(&format!("{}: {text}", e.kind)),
            }),
            "judgment timed out" | "paused" | "resumed" => t.marks.push(TimelineMark {
                t: at,
                kind: "info".into(),
                label: label(&e.kind),
            }),
            _ => {}
        }
    }
    let last = events.last().map_or(end, |e| e.at_ms as f64 / 1000.0);
    t.end = end.max(last);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(at_s: i64, kind: &str, stage: &str, detail: &str, split: Value) -> ExecutionEvent {
        ExecutionEvent {
            execution_id: "e".into(),
            seq: 0,
            at_ms: at_s * 1000,
            kind: kind.into(),
            detail: json!({"target": "eu", "stage": stage, "detail": detail, "split": split}),
        }
    }

    #[test]
    fn traffic_changes_stages_and_decisions() {
        let events = vec![
            event(10, "stage started", "1%", "1% (traffic)", json!([null])),
            event(11, "traffic set", "1%", "canary 1%", json!([1.0])),
            event(
                12,
                "stage started",
                "check",
                "check (analysis)",
                json!([1.0]),
            ),
            event(40, "analysis", "check", "Pass: score 100", json!([1.0])),
            event(
                41,
                "stage started",
                "approve",
                "approve (manual_judgment)",
                json!([1.0]),
            ),
            event(
                50,
                "approved",
                "approve",
                "by alice: looks good",
                json!([1.0]),
            ),
            event(52, "traffic set", "5%", "canary 5%", json!([5.0])),
            event(60, "analysis", "check-5", "Fail: score 0", json!([5.0])),
            event(
                60,
                "rollback",
                "check-5",
                "the analysis failed",
                json!([5.0]),
            ),
            event(61, "rolled back", "check-5", "canary 0%", json!([0.0])),
        ];
        let t = execution_timeline(&events, 30.0);
        assert_eq!(t.traffic, vec![[11.0, 1.0], [52.0, 5.0], [61.0, 0.0]]);
        assert_eq!(
            t.stages.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
            ["1%", "check", "approve"]
        );
        let kinds: Vec<&str> = t.marks.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["pass", "approved", "fail", "rollback"]);
        assert_eq!(t.marks[1].label, "approved by alice");
        assert_eq!(t.end, 61.0, "the axis reaches the last event");
        assert_eq!(execution_timeline(&[], 5.0).end, 5.0);
    }
}
