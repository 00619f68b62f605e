//! Hosts as the unit from files: `canaryd simulate` writes per-host data (label `host`),
//! `canaryd analyze` with `unit_label = "host"` judges the fleets host by host — one slow
//! canary host fails the analysis and is named in the reason, the JSON and the report;
//! a healthy fleet whose hosts differ does not fail; without the unit label hosts are
//! pooled and the output says nothing of hosts.

use std::path::Path;

use super::{analyze, assert_no_panic, canaryd, outcome};

const CONFIG: &str = r#"name = "hosts"
unit_label = "host"
judge = { kind = "sequential" }

[[metrics]]
name = "latency"
series = "latency_ms"
direction = "increase"

[[metrics]]
name = "errors"
events = "errors"
total = "requests"
direction = "increase"
judge = { kind = "sequential", tolerance = 1.0 }
"#;

fn scenario(change: &str, sigma: f64) -> String {
    format!(
        "name = \"t\"\nduration_s = 600\n[traffic]\nrps = 50\nhosts = 5\nhost_sigma = {sigma}\n{change}"
    )
}

fn simulate(dir: &Path, text: &str, seed: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let s = dir.join("s.toml");
    std::fs::write(&s, text).expect("write the scenario");
    let out = dir.join(format!("run{seed}"));
    let o = outcome(&canaryd([
        "simulate".as_ref(),
        "--scenario".as_ref(),
        s.as_os_str(),
        "--seed".as_ref(),
        seed.to_string().as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]));
    assert_eq!(o.0, 0, "simulate failed: {}", o.2);
    (out.join("baseline.csv"), out.join("canary.csv"))
}

#[test]
fn one_slow_canary_host_is_named_and_fails_the_analysis() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, CONFIG).expect("write the config");
    let bad = scenario(
        "[[changes]]\nkind = \"latency_shift\"\nfactor = 2.0\nhosts_affected = 1\n",
        0.05,
    );
    let (b, c) = simulate(dir.path(), &bad, 3);
    let (code, json, err) = analyze(&config, &b, &c, &["--format", "json"]);
    assert_no_panic(&err);
    assert_ne!(code, 0, "a failed canary exits non-zero: {err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    assert_eq!(v["verdict"], "fail", "{json}");
    let latency = &v["metrics"][0];
    assert_eq!(latency["classification"], "high");
    assert_eq!(
        latency["labels"],
        serde_json::json!({}),
        "hosts merged into one pair"
    );
    assert_eq!(latency["hosts"]["named"], serde_json::json!(["h0"]));
    assert_eq!(latency["hosts"]["canary"].as_array().map(Vec::len), Some(5));
    let reason = latency["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("canary host h0"), "{reason}");
    assert!(latency["decided_at"].as_f64().is_some(), "says when");
    // The table and the HTML report name it too.
    let html = dir.path().join("r.html");
    let (_, table, _) = analyze(
        &config,
        &b,
        &c,
        &["--report", html.to_str().expect("utf-8 path")],
    );
    assert!(table.contains("broken: h0"), "{table}");
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(page.contains("broken: h0"));
}

#[test]
fn a_healthy_fleet_with_host_spread_is_not_failed_and_pooling_is_stated() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, CONFIG).expect("write the config");
    for seed in 1..=3 {
        let (b, c) = simulate(dir.path(), &scenario("", 0.15), seed);
        let (_, json, err) = analyze(&config, &b, &c, &["--format", "json"]);
        assert_no_panic(&err);
        let v: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
        assert_ne!(v["verdict"], "fail", "seed {seed}: {json}");
        let reason = v["metrics"][0]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("hosts as the unit"), "{reason}");
        // What the fleets' bounds ruled out, per quantile and for the error rate, as the
        // sequential judge reports it: a ratio above 1 beside the pass band's edge.
        for (m, first) in [(0, "p50"), (1, "error rate")] {
            let ruled = &v["metrics"][m]["judged"]["ruled_out"];
            assert_eq!(ruled[0]["quantity"], first, "seed {seed}: {ruled}");
            let upper = ruled[0]["upper"].as_f64().expect("an upper bound");
            assert!(upper > 1.0 && upper.is_finite(), "seed {seed}: {ruled}");
            assert!(
                ruled[0]["pass"].as_f64().is_some_and(|p| p > 1.0),
                "{ruled}"
            );
        }
        assert_eq!(
            v["replicates"],
            "hosts as the unit: latency (`host`), errors (`host`)"
        );
    }
    // The same data without the unit label: one pair per host label, judged request by
    // request (today's pairing), and no host report.
    let pooled = dir.path().join("p.toml");
    std::fs::write(&pooled, CONFIG.replace("unit_label = \"host\"\n", "")).expect("write");
    let (b, c) = simulate(dir.path(), &scenario("", 0.15), 11);
    let (_, json, _) = analyze(&pooled, &b, &c, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    assert!(v["metrics"][0].get("hosts").is_none());
    let replicates = v["replicates"].as_str().unwrap_or_default();
    assert!(replicates.starts_with("hosts pooled"), "{replicates}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("set `unit_label = \\\"host\\\"`"),
        "{warnings}"
    );
    let (_, table, _) = analyze(&pooled, &b, &c, &[]);
    assert!(table.contains("hosts pooled"), "{table}");
}

#[test]
fn a_unit_label_needs_the_sequential_or_band_judge_and_a_label_name() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "name = \"x\"\nunit_label = \"9host\"\n[[metrics]]\nname = \"latency\"\njudge = { kind = \"mann_whitney\" }\n",
    )
    .expect("write");
    let o = outcome(&canaryd([
        "config".as_ref(),
        "check".as_ref(),
        config.as_os_str(),
    ]));
    assert_ne!(o.0, 0);
    let all = format!("{}{}", o.1, o.2);
    assert!(all.contains("not a label name"), "{all}");
    assert!(all.contains("sequential"), "{all}");
    assert!(all.contains("`band`"), "{all}");
    // The band judge takes hosts as the unit, with request counts beside its aggregates.
    std::fs::write(
        &config,
        "name = \"x\"\nunit_label = \"host\"\n[[metrics]]\nname = \"p99\"\nrequests = \"requests\"\njudge = { kind = \"band\", log = true }\n",
    )
    .expect("write");
    let o = outcome(&canaryd([
        "config".as_ref(),
        "check".as_ref(),
        config.as_os_str(),
    ]));
    assert_eq!(o.0, 0, "{}{}", o.1, o.2);
}
