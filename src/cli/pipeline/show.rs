//! What `canaryd pipeline` prints for people: an execution with its state and event log,
//! a list of executions, one event as a line. Everything here reads the daemon's JSON
//! (`/api/v1/executions…`) and tolerates fields it does not know.

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

use crate::pipeline::spec::Pipeline;
use crate::time::Timestamp;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// A percent as people write it: `5%`, `2.5%`, `—` when unknown.
fn percent(v: &Value) -> String {
    v.as_f64().map_or_else(|| "—".into(), |p| format!("{p}%"))
}

/// The canary split per target: `eu 5%, us —` (or without names: `5%, —`).
pub fn split(split: &Value, spec: Option<&Pipeline>) -> String {
    let Some(list) = split.as_array() else {
        return "—".into();
    };
    list.iter()
        .enumerate()
        .map(|(i, p)| match spec.and_then(|s| s.targets.get(i)) {
            Some(t) => format!("{} {}", t.name, percent(p)),
            None => percent(p),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `awaiting_judgment (deadline 2026-…)`: the phase and its fields, times as RFC 3339.
pub fn phase(phase: &Value) -> String {
    let name = text(&phase["phase"]);
    let Some(fields) = phase.as_object() else {
        return name;
    };
    let extra: Vec<String> = fields
        .iter()
        .filter(|(k, v)| *k != "phase" && !v.is_null() && **v != Value::Bool(false))
        .map(|(k, v)| match (k.as_str(), v.as_f64()) {
            ("deadline" | "until", Some(t)) => format!("{k} {}", Timestamp(t).rfc3339()),
            ("percent", Some(_)) => format!("{k} {}", percent(v)),
            _ => format!("{k} {}", text(v)),
        })
        .collect();
    if extra.is_empty() {
        name
    } else {
        format!("{name} ({})", extra.join(", "))
    }
}

/// One event of the log as a line: time, where, what and its detail.
pub fn event_line(e: &Value) -> String {
    let d = &e["detail"];
    let place: Vec<&str> = [&d["target"], &d["stage"]]
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    let mut line = format!("{}  ", text(&e["at"]));
    if !place.is_empty() {
        line.push_str(&format!("{}  ", place.join(" / ")));
    }
    line.push_str(&text(&e["kind"]));
    match d["detail"].as_str() {
        Some(detail) if !detail.is_empty() => line.push_str(&format!(": {detail}")),
        _ => {}
    }
    line
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    t
}

/// Item `i` of `labels` (the spec's targets or stages): `eu (1 of 2)`, or its number when
/// the spec is unknown.
fn nth(labels: Option<Vec<String>>, i: Option<u64>) -> String {
    let Some(i) = i else {
        return "—".into();
    };
    match labels {
        Some(l) => match l.get(i as usize) {
            Some(label) => format!("{label} ({} of {})", i + 1, l.len()),
            None => "—".into(),
        },
        None => format!("#{}", i + 1),
    }
}

/// An execution (`GET /api/v1/executions/{id}`) and its event log (`…/events`), with names
/// of targets and stages from the pipeline version it runs when that is known.
/// `verbose` shows every event's detail whole (else its first line, shortened).
pub fn execution(exec: &Value, events: &Value, spec: Option<&Pipeline>, verbose: bool) -> String {
    let state = &exec["state"];
    let targets = spec.map(|s| s.targets.iter().map(|t| t.name.clone()).collect());
    let stages = spec.map(|s| {
        s.stages
            .iter()
            .map(|st| format!("{}, {}", st.name, st.kind.kind()))
            .collect()
    });
    // A finished execution points past its last target: it is nowhere any more.
    let finished = state["phase"]["phase"] == "done";
    let (target, stage) = if finished {
        (None, None)
    } else {
        (state["target"].as_u64(), state["stage"].as_u64())
    };
    let trigger = &exec["trigger"];
    let mut who = vec![
        format!("baseline {}", text(&trigger["baseline"]["scope"])),
        format!("canary {}", text(&trigger["canary"]["scope"])),
    ];
    if let Some(by) = trigger["by"].as_str() {
        who.push(format!("by {by}"));
    }
    let mut rows: Vec<(&str, String)> = vec![
        ("execution", text(&exec["id"])),
        (
            "pipeline",
            format!(
                "{} (version {})",
                text(&exec["pipeline"]),
                text(&exec["version"])
            ),
        ),
        ("status", text(&exec["status"])),
        ("target", nth(targets, target)),
        ("stage", nth(stages, stage)),
        ("phase", phase(&state["phase"])),
        ("split", split(&state["split"], spec)),
        ("trigger", who.join(", ")),
        ("created", text(&exec["created"])),
        ("updated", text(&exec["updated"])),
    ];
    if let Some(reason) = state["reason"].as_str() {
        rows.push(("reason", reason.to_string()));
    }
    let mut out = String::new();
    for (k, v) in rows {
        // A reason of several lines (the worse pairs, one each) stays aligned.
        let mut lines = v.lines();
        out.push_str(&format!("{k:<10} {}\n", lines.next().unwrap_or("")));
        for l in lines {
            out.push_str(&format!("{:<10} {l}\n", ""));
        }
    }
    let items = events["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if items.is_empty() {
        out.push_str("\nno events yet\n");
        return out;
    }
    let mut t = table(&["#", "time", "target", "stage", "event", "detail", "split"]);
    let mut shortened = false;
    for e in items {
        let d = &e["detail"];
        let full = d["detail"].as_str().unwrap_or("");
        let detail = if verbose {
            full.to_string()
        } else {
            let s = crate::report::short_detail(full);
            shortened |= s != full;
            s
        };
        t.add_row([
            text(&e["seq"]),
            text(&e["at"]),
            text(&d["target"]),
            text(&d["stage"]),
            text(&e["kind"]),
            detail,
            split(&d["split"], None),
        ]);
    }
    out.push_str(&format!("\n{t}\n"));
    if shortened {
        out.push_str("details shortened; `--verbose` shows them whole\n");
    }
    out
}

/// A page of `GET /api/v1/executions`.
pub fn execution_list(list: &Value) -> String {
    let items = list["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if items.is_empty() {
        return "no executions\n".into();
    }
    let mut t = table(&[
        "id", "pipeline", "version", "status", "at", "phase", "split", "updated",
    ]);
    for e in items {
        let state = &e["state"];
        t.add_row([
            text(&e["id"]),
            text(&e["pipeline"]),
            text(&e["version"]),
            text(&e["status"]),
            match (state["target"].as_u64(), state["stage"].as_u64()) {
                _ if state["phase"]["phase"] == "done" => "—".into(),
                (Some(t), Some(s)) => format!("target #{}, stage #{}", t + 1, s + 1),
                _ => "—".into(),
            },
            text(&state["phase"]["phase"]),
            split(&state["split"], None),
            text(&e["updated"]),
        ]);
    }
    let mut out = format!("{t}\n");
    let total = list["total"].as_u64().unwrap_or(items.len() as u64);
    if total > items.len() as u64 {
        out.push_str(&format!(
            "{} of {total} executions, newest first\n",
            items.len()
        ));
    }
    out
}
