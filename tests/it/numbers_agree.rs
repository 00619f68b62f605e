//! One set of numbers: the demo and a sequential analysis rendered as JSON, table,
//! Markdown and HTML report show, for every pair, the same judged quantity, checks and
//! bounds, with the unit — and those numbers agree with the pair's classification, its
//! reason and the verdict.

use std::fs;
use std::path::Path;

use canary_judges::format_number as num;
use serde_json::Value;

use super::{analyze, assert_no_panic, demo};

/// Judges' sequential variant of the demo: distributions, event counts, per-interval means.
const SEQUENTIAL: &str = r#"
name = "checkout-sequential"
judge = { kind = "sequential" }

[[metrics]]
name = "latency"
series = "latency_ms"
unit = "ms"
direction = "increase"

[[metrics]]
name = "error_rate"
events = "http_errors"
total = "http_requests"
direction = "increase"

[[metrics]]
name = "cpu"
series = "cpu_seconds"
unit = "s"
direction = "increase"
judge = { kind = "sequential", values = "intervals" }
"#;

/// Every output of one analysis.
struct Outputs {
    json: Value,
    table: String,
    markdown: String,
    html: String,
}

fn outputs(config: &Path, dir: &Path) -> Outputs {
    let (b, k) = (demo("baseline.csv"), demo("canary.csv"));
    let (_, json, err) = analyze(config, &b, &k, &["-f", "json"]);
    assert_no_panic(&err);
    let json: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let (_, table, _) = analyze(config, &b, &k, &[]);
    let (_, markdown, _) = analyze(config, &b, &k, &["-f", "markdown"]);
    let report = dir.join("report.html");
    let (_, _, err) = analyze(
        config,
        &b,
        &k,
        &[
            "-f",
            "json",
            "--report",
            report.to_str().expect("utf-8 path"),
        ],
    );
    assert_no_panic(&err);
    let html = fs::read_to_string(&report).expect("the HTML report");
    Outputs {
        json,
        table,
        markdown,
        html: unescape(&html),
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn display_name(m: &Value) -> String {
    let labels: Vec<String> = m["labels"]
        .as_object()
        .expect("labels")
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().expect("label value")))
        .collect();
    if labels.is_empty() {
        m["metric"].as_str().expect("metric").to_string()
    } else {
        format!(
            "{}{{{}}}",
            m["metric"].as_str().expect("metric"),
            labels.join(",")
        )
    }
}

/// A number as the outputs print it; infinite interval ends are `null` in JSON and `∞`
/// in the text outputs.
fn text(v: &Value, upper: bool) -> String {
    match v.as_f64() {
        Some(x) => num(x),
        None if upper => "∞".into(),
        None => "−∞".into(),
    }
}

/// The numbers a pair's judged quantity and checks are made of, as printed.
fn fragments(judged: &Value, unit: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for side in ["baseline", "canary"] {
        if let Some(x) = judged[side].as_f64() {
            out.push(num(x));
        }
    }
    if let (Some(u), Some(c)) = (unit, judged["canary"].as_f64())
        && !judged["quantity"]
            .as_str()
            .expect("quantity")
            .contains("rate")
    {
        out.push(format!("{} {u}", num(c)));
    }
    for c in judged["checks"].as_array().expect("checks") {
        if let Some(x) = c["value"].as_f64() {
            out.push(num(x));
        }
        if let Some([lo, hi]) = c["interval"].as_array().map(|a| [&a[0], &a[1]]) {
            out.push(format!("[{}, {}]", text(lo, false), text(hi, true)));
        }
        for bound in ["max", "min"] {
            if let Some(x) = c[bound].as_f64() {
                out.push(num(x.abs()));
            }
        }
    }
    out
}

/// "> +12.68% at p50", "> 3.904× error rate", "> +0.03 points in the share above 250": what
/// each `judged.ruled_out` entry's upper bound reads as in the text outputs.
fn ruled_out_phrases(judged: &Value) -> Vec<String> {
    let Some(all) = judged["ruled_out"].as_array() else {
        return Vec::new();
    };
    all.iter()
        .filter_map(|r| {
            let q = r["quantity"].as_str().expect("quantity");
            let u = r["upper"].as_f64()?;
            let signed = |v: f64| format!("{}{}", if v >= 0.0 { "+" } else { "−" }, num(v.abs()));
            Some(if q == "error rate" {
                format!("> {}× error rate", num(u))
            } else if q.starts_with("share above") {
                format!("> {} points in the {q}", signed(u * 100.0))
            } else {
                format!("> {}% at {q}", signed((u - 1.0) * 100.0))
            })
        })
        .collect()
}

/// The row of `name` in each text output.
fn rows<'a>(o: &'a Outputs, name: &str) -> [(&'static str, &'a str); 3] {
    let line = |s: &'a str, pat: &str| -> &'a str {
        s.lines()
            .find(|l| l.contains(pat))
            .unwrap_or_else(|| panic!("no row `{pat}` in:\n{s}"))
    };
    let html_row = {
        let at = o
            .html
            .find(&format!("<code>{name}</code>"))
            .unwrap_or_else(|| panic!("no HTML row for {name}"));
        let end = o.html[at..].find("</tr>").expect("row end") + at;
        &o.html[at..end]
    };
    [
        ("table", line(&o.table, &format!("│ {name} "))),
        ("markdown", line(&o.markdown, &format!("| `{name}` |"))),
        ("html", html_row),
    ]
}

fn check_agreement(o: &Outputs) {
    let verdict = o.json["verdict"].as_str().expect("verdict").to_uppercase();
    assert!(
        o.table.lines().next().expect("headline").contains(&verdict),
        "{}",
        o.table
    );
    assert!(o.markdown.contains(&format!(": {verdict} — score")));
    assert!(o.html.contains(&format!(">{verdict}</span>")));
    for m in o.json["metrics"].as_array().expect("metrics") {
        let name = display_name(m);
        let class = m["classification"].as_str().expect("classification");
        let judged = &m["judged"];
        if matches!(class, "nodata" | "error") {
            continue;
        }
        assert!(
            judged.is_object(),
            "{name} ({class}) has judged numbers: {m}"
        );
        let unit = m["unit"].as_str();
        for (format, row) in rows(o, &name) {
            for f in fragments(judged, unit) {
                assert!(
                    row.contains(&f),
                    "{format} row of {name} lacks `{f}` (judged {judged}):\n{row}"
                );
            }
            assert!(
                row.contains(&class.to_uppercase()),
                "{format} row of {name} says {class}:\n{row}"
            );
        }
        // What a sequential pair ruled out is in every output and its reason, as the JSON
        // bounds say.
        for phrase in ruled_out_phrases(judged) {
            for (format, row) in rows(o, &name) {
                assert!(
                    row.contains(&phrase),
                    "{format} row of {name} lacks `{phrase}` (judged {judged}):\n{row}"
                );
            }
            let reason = m["reason"].as_str().expect("reason");
            assert!(
                reason.contains(&phrase),
                "{name}: `{phrase}` not in {reason}"
            );
        }
        // The checks agree with the classification: a worse pair failed one; a ✗ on a pair
        // that is not worse comes with the rule saying why one ✗ was not enough.
        let checks = judged["checks"].as_array().expect("checks");
        let failed: Vec<&Value> = checks.iter().filter(|c| c["failed"] == true).collect();
        let rule = judged["rule"].as_str();
        if matches!(class, "high" | "low") {
            assert!(!failed.is_empty(), "{name} is {class}: {judged}");
        }
        if !failed.is_empty() {
            let rule = rule.unwrap_or_else(|| panic!("{name}: a ✗ without a rule: {judged}"));
            for (format, row) in rows(o, &name) {
                assert!(
                    row.contains(rule),
                    "{format} row of {name} lacks the rule `{rule}`:\n{row}"
                );
            }
        }
        // The reason is made of the same numbers.
        let reason = m["reason"].as_str().expect("reason");
        for c in &failed {
            if c["compare"] == "finding" {
                let finding = c["name"].as_str().expect("name");
                let words = finding.split(" (").next().unwrap_or(finding);
                assert!(
                    reason.contains(words),
                    "the reason of {name} says `{words}`: {reason}"
                );
                continue;
            }
            let told = match c["interval"].as_array() {
                Some(i) => [&i[0], &i[1]]
                    .iter()
                    .filter_map(|v| v.as_f64())
                    .all(|x| reason.contains(&num(x))),
                None => c["value"]
                    .as_f64()
                    .is_some_and(|x| reason.contains(&num(x))),
            };
            assert!(
                told,
                "the reason of {name} shows the failed check {c}: {reason}"
            );
        }
        if m["judge"] == "threshold" {
            for side in ["baseline", "canary"] {
                let x = judged[side]
                    .as_f64()
                    .expect("a threshold judges both sides");
                assert!(reason.contains(&num(x)), "{name}: {reason} vs {judged}");
            }
        }
        // Summaries never contradict the data: a side with observations has their mean.
        for side in ["baseline", "canary"] {
            let s = &m[side];
            if s["count"].as_u64().unwrap_or(0) > 0 && m["judge"] != "sequential" {
                assert!(s["mean"].is_number(), "{name} {side}: {s}");
            }
        }
        // A sequential judge decides by confidence sequences; only its count test has a
        // p-value.
        if m["judge"] == "sequential" && judged["quantity"] != "error rate" {
            assert!(m["p_value"].is_null(), "{name}: {m}");
        }
    }
}

#[test]
fn the_demo_shows_one_set_of_numbers_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = outputs(&demo("canary.toml"), dir.path());
    check_agreement(&o);
    // The issue's numbers: the error-rate row shows the judged Σ/Σ rates (0.002099 →
    // 0.009904, ratio 4.719), the p99 row the judged p99 ratio 1.284, both with their bounds.
    let [(_, err_row), ..] = rows(&o, "error_rate{api=\"/checkout\"}");
    assert!(
        err_row.contains("0.002099 → 0.009904") && err_row.contains("ratio 4.719 (worse if > 2) ✗"),
        "{err_row}"
    );
    let [(_, p99_row), ..] = rows(&o, "latency_p99{api=\"/checkout\"}");
    assert!(
        p99_row.contains("p99 480.5 → 617.1 ms")
            && p99_row.contains("ratio 1.284 (worse if > 1.25) ✗"),
        "{p99_row}"
    );
    assert!(
        !o.table.contains("1.385"),
        "no mean ratio beside a p99 judgement"
    );
}

#[test]
fn a_sequential_analysis_shows_its_ratios_and_confidence_sequences_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sequential.toml");
    fs::write(&config, SEQUENTIAL).expect("config");
    let o = outputs(&config, dir.path());
    check_agreement(&o);
    let metrics = o.json["metrics"].as_array().expect("metrics");
    // Every sequential pair with data says what it ruled out (checked in every output
    // above), for latency, errors and per-interval means alike.
    for kind in ["latency", "error_rate", "cpu"] {
        assert!(
            metrics
                .iter()
                .filter(|m| m["metric"] == kind)
                .all(|m| !ruled_out_phrases(&m["judged"]).is_empty()),
            "every {kind} pair reports what it ruled out"
        );
    }
    let cpu = metrics
        .iter()
        .find(|m| m["metric"] == "cpu")
        .expect("a cpu pair");
    assert!(
        cpu["baseline"]["mean"].as_f64().expect("mean") > 1.0,
        "per-interval means, not zeros: {cpu}"
    );
    let latency = metrics
        .iter()
        .find(|m| m["metric"] == "latency" && m["labels"]["api"] == "/checkout")
        .expect("latency /checkout");
    assert_eq!(latency["classification"], "high", "{latency}");
    assert!(
        latency["baseline"]["mean"].as_f64().expect("mean") > 100.0,
        "{latency}"
    );
    assert!(
        o.table.contains("CS ["),
        "confidence sequences are named:\n{}",
        o.table
    );
}
