//! Missing or broken data never promotes: typos in the demo config, groups without data,
//! Kayenta configs whose metric name is not their series, unknown fields, and the exit codes
//! a pipeline reads. Every case runs the real binary on the shipped demo files.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{analyze, assert_no_panic, canaryd, demo, outcome};

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

/// The demo config with `from` replaced by `to` everywhere, written into `dir`.
fn demo_with(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let text = fs::read_to_string(demo("canary.toml")).expect("demo config");
    assert!(text.contains(from), "the demo config has `{from}`");
    let path = dir.join(name);
    fs::write(&path, text.replace(from, to)).expect("config written");
    path
}

fn holds(r: &Value) -> Vec<(String, String, String)> {
    r["holds"]
        .as_array()
        .expect("holds is a list")
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().expect("kind").to_string(),
                h["subject"].as_str().expect("subject").to_string(),
                h["message"].as_str().expect("message").to_string(),
            )
        })
        .collect()
}

fn warnings(r: &Value) -> Vec<String> {
    r["warnings"]
        .as_array()
        .expect("warnings is a list")
        .iter()
        .map(|w| w.as_str().expect("a sentence").to_string())
        .collect()
}

#[test]
fn typo_in_the_critical_events_series_holds_a_healthy_canary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = demo_with(
        dir.path(),
        "typo.toml",
        "events = \"http_errors\"",
        "events = \"http_errorz\"",
    );
    let healthy = demo("baseline.csv");
    let (code, out, err) = analyze(&config, &demo("baseline.csv"), &healthy, &["-f", "json"]);
    assert_no_panic(&err);
    let r = json(&out);
    assert_eq!(
        (code, r["verdict"].as_str()),
        (4, Some("inconclusive")),
        "a critical metric without data never passes: {}",
        r["reason"]
    );
    assert!(r["score"].as_f64().expect("score") <= 75.0);
    assert_eq!(r["scoring"], "canaryd");
    let hs = holds(&r);
    let (_, subject, message) = hs
        .iter()
        .find(|h| h.0 == "critical_no_data")
        .unwrap_or_else(|| panic!("a critical_no_data hold: {hs:?}"));
    assert_eq!(subject, "error_rate");
    assert!(
        message.contains("http_errorz") && message.contains("did you mean `http_errors`"),
        "names the missing series and the likely one: {message}"
    );
    assert!(
        hs.iter()
            .any(|h| h.0 == "group_not_judged" && h.1 == "errors"),
        "{hs:?}"
    );
    let reason = r["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("Canary Inconclusive") && reason.contains("error_rate"),
        "{reason}"
    );
    for m in r["metrics"].as_array().expect("metrics") {
        let why = m["reason"].as_str().expect("reason");
        assert!(!why.contains("event-count"), "an actionable reason: {why}");
    }
    // Named together, as a warning on stderr and in the report.
    let w = warnings(&r);
    assert!(
        w.iter()
            .any(|w| w.contains("`http_errorz`") && w.contains("did you mean `http_errors`")),
        "{w:?}"
    );
    assert!(
        err.contains("warning: series `http_errorz`"),
        "stderr: {err}"
    );

    // Kayenta's rules, chosen explicitly, fail it instead (critical and not pass).
    let (code, out, _) = analyze(
        &config,
        &demo("baseline.csv"),
        &healthy,
        &["-f", "json", "--scoring", "kayenta"],
    );
    let k = json(&out);
    assert_eq!((code, k["verdict"].as_str()), (1, Some("fail")));
    assert_eq!(k["scoring"], "kayenta");
    // … and so does `scoring = "kayenta"` in the config.
    let text = fs::read_to_string(&config).expect("config");
    let kayenta_config = dir.path().join("kayenta-rules.toml");
    fs::write(&kayenta_config, format!("scoring = \"kayenta\"\n{text}")).expect("written");
    let (code, out, _) = analyze(
        &kayenta_config,
        &demo("baseline.csv"),
        &healthy,
        &["-f", "json"],
    );
    assert_eq!((code, json(&out)["scoring"].as_str()), (1, Some("kayenta")));
    // A bad value is a usage error with a suggestion.
    let (code, _, err) = analyze(&config, &healthy, &healthy, &["--scoring", "kayneta"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("did you mean `kayenta`"), "{err}");
}

#[test]
fn typo_in_the_latency_series_never_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let healthy = demo("baseline.csv");
    // Both latency metrics lose their data; `latency` must have data, so it fails.
    let config = demo_with(dir.path(), "typo.toml", "\"latency_ms\"", "\"latency_mz\"");
    let (code, out, err) = analyze(&config, &healthy, &healthy, &["-f", "json"]);
    assert_no_panic(&err);
    let r = json(&out);
    assert_ne!(r["verdict"], "pass", "{}", r["reason"]);
    assert_ne!(code, 0);
    assert!(err.contains("did you mean `latency_ms`"), "{err}");
    // Without `must_have_data`, the latency group is simply not judged: it holds (45% of
    // the weight cannot count as 100).
    let text = fs::read_to_string(&config).expect("config");
    let lenient = dir.path().join("lenient.toml");
    fs::write(
        &lenient,
        text.lines()
            .filter(|l| !l.starts_with("must_have_data"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("written");
    let (code, out, err) = analyze(&lenient, &healthy, &healthy, &["-f", "json"]);
    assert_no_panic(&err);
    let r = json(&out);
    assert_eq!((code, r["verdict"].as_str()), (4, Some("inconclusive")));
    let hs = holds(&r);
    let (_, _, message) = hs
        .iter()
        .find(|h| h.0 == "group_not_judged" && h.1 == "latency")
        .unwrap_or_else(|| panic!("the latency group holds: {hs:?}"));
    assert!(message.contains("weight 45"), "{message}");
    let latency = r["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "latency")
        .expect("latency group");
    assert_eq!(latency["no_data"], true);
}

/// A config of three non-critical metrics in two groups; the canary lacks `b`'s series.
fn two_groups(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let config = dir.join("two.toml");
    fs::write(
        &config,
        "name = \"two\"\n[groups]\nfront = 60\nback = 40\n\n\
         [[metrics]]\nname = \"a\"\ngroups = [\"front\"]\n\n\
         [[metrics]]\nname = \"a2\"\ngroups = [\"front\"]\n\n\
         [[metrics]]\nname = \"b\"\ngroups = [\"back\"]\n",
    )
    .expect("config");
    let mut base = String::from("metric,value\n");
    let mut canary = String::from("metric,value\n");
    for i in 0..40 {
        let v = 100.0 + (i % 7) as f64;
        base.push_str(&format!("a,{v}\na2,{v}\nb,{v}\n"));
        canary.push_str(&format!("a,{v}\na2,{v}\n"));
    }
    let (b, c) = (dir.join("b.csv"), dir.join("c.csv"));
    fs::write(&b, base).expect("baseline");
    fs::write(&c, canary).expect("canary");
    (config, b, c)
}

#[test]
fn a_group_without_data_caps_the_score_at_marginal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, b, c) = two_groups(dir.path());
    let (code, out, err) = analyze(&config, &b, &c, &["-f", "json"]);
    assert_no_panic(&err);
    let r = json(&out);
    assert_eq!(
        (code, r["verdict"].as_str(), r["score"].as_f64()),
        (4, Some("inconclusive"), Some(75.0)),
        "{}",
        r["reason"]
    );
    let hs = holds(&r);
    assert!(
        hs.iter()
            .any(|h| h.0 == "group_not_judged" && h.1 == "back"),
        "{hs:?}"
    );
    assert!(
        r["reason"]
            .as_str()
            .expect("reason")
            .contains("group `back`"),
        "{}",
        r["reason"]
    );
    // Kayenta's rules count the empty group as 100 (the difference docs/judges.md lists).
    let (code, out, _) = analyze(&config, &b, &c, &["-f", "json", "--scoring", "kayenta"]);
    let k = json(&out);
    assert_eq!(
        (code, k["verdict"].as_str(), k["score"].as_f64()),
        (0, Some("pass"), Some(100.0))
    );
    // The table says it too.
    let (_, table, _) = analyze(&config, &b, &c, &[]);
    assert!(table.contains("INCONCLUSIVE"), "{table}");
    assert!(table.contains("group `back`"), "{table}");
}

/// A Kayenta config as Kayenta's own integration tests write it: the metric's `name` is
/// a label, the series is `query.metricName`.
const KAYENTA_CONFIG: &str = r#"{
  "name": "integration-test-canary-config",
  "description": "metric name and series differ",
  "judge": { "judgeConfigurations": {}, "name": "NetflixACAJudge-v1.0" },
  "metrics": [
    {
      "name": "CPU usage for service",
      "query": {
        "type": "prometheus",
        "metricName": "integration_test_cpu",
        "customFilterTemplate": "standard-template"
      },
      "ANALYSIS_CONFIGURATIONS": {
        "canary": { "critical": true, "direction": "increase" }
      },
      "groups": ["pod-group"],
      "scopeName": "default"
    },
    {
      "name": "p99 latency",
      "query": {
        "type": "prometheus",
        "customInlineTemplate": "PromQL:avg by (pod) (request_seconds{pod=~\"${scope}\"})",
        "metricNmae": "ignored"
      },
      "analysisConfigurations": { "canary": { "direction": "increase" } },
      "groups": ["pod-group"]
    }
  ],
  "templates": { "standard-template": "namespace='${namespace}', pod_name='${scope}'" },
  "classifier": {
    "groupWeights": { "pod-group": 100 },
    "scoreThresholds": { "marginal": 50, "pass": 75 }
  }
}"#;

#[test]
fn kayenta_config_reads_the_series_its_query_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kayenta.json");
    fs::write(
        &config,
        KAYENTA_CONFIG.replace("ANALYSIS_CONFIGURATIONS", "analysisConfigurations"),
    )
    .expect("config");
    let rows = |scale: f64| {
        let mut s = String::from("metric,value\n");
        for i in 0..30 {
            let v = 0.5 + 0.01 * (i % 5) as f64;
            s.push_str(&format!("integration_test_cpu,{}\n", v * scale));
            s.push_str(&format!(
                "request_seconds,{}\n",
                0.2 + 0.001 * (i % 3) as f64
            ));
        }
        s
    };
    let (b, healthy, slow) = (
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
        dir.path().join("slow.csv"),
    );
    fs::write(&b, rows(1.0)).expect("b");
    fs::write(&healthy, rows(1.0)).expect("c");
    fs::write(&slow, rows(3.0)).expect("slow");
    let (code, out, err) = analyze(&config, &b, &healthy, &["-f", "json"]);
    assert_no_panic(&err);
    let r = json(&out);
    assert_eq!(
        (code, r["verdict"].as_str()),
        (0, Some("pass")),
        "{}",
        r["reason"]
    );
    let cpu = &r["metrics"][0];
    assert_eq!(cpu["metric"], "CPU usage for service");
    assert_eq!(cpu["classification"], "pass");
    assert!(
        cpu["query"]
            .as_str()
            .expect("query")
            .contains("integration_test_cpu"),
        "{}",
        cpu["query"]
    );
    assert_eq!(
        r["metrics"][1]["classification"], "pass",
        "the PromQL template names `request_seconds`"
    );
    // The series really is read: a 3× CPU canary fails on the critical metric.
    let (code, out, _) = analyze(&config, &b, &slow, &["-f", "json"]);
    assert_eq!((code, json(&out)["verdict"].as_str()), (1, Some("fail")));
    // The misspelt query field is accepted but named.
    let w = warnings(&r);
    assert!(
        w.iter()
            .any(|w| w.contains("metrics[1].query.metricNmae") && w.contains("`metricName`")),
        "{w:?}"
    );
}

#[test]
fn kayenta_config_with_a_misspelt_field_is_accepted_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kayenta.json");
    fs::write(
        &config,
        KAYENTA_CONFIG.replace("ANALYSIS_CONFIGURATIONS", "analysisConfiguration"),
    )
    .expect("config");
    let mut rows = String::from("metric,value\n");
    for i in 0..30 {
        rows.push_str(&format!(
            "integration_test_cpu,{}\n",
            0.5 + 0.01 * (i % 5) as f64
        ));
        rows.push_str(&format!("request_seconds,{}\n", 0.2));
    }
    let b = dir.path().join("b.csv");
    fs::write(&b, rows).expect("b");
    let (code, out, err) = analyze(&config, &b, &b, &["-f", "json"]);
    assert_no_panic(&err);
    assert_eq!(code, 0, "accepted, as Kayenta accepts it");
    let w = warnings(&json(&out));
    assert!(
        w.iter()
            .any(|w| w.contains("metrics[0].analysisConfiguration")
                && w.contains("did you mean `analysisConfigurations`")),
        "{w:?}"
    );
    assert!(
        err.contains("analysisConfiguration"),
        "and on stderr: {err}"
    );
    // `config check` shows it as a warning too, and still accepts the config.
    let out = canaryd(["config".as_ref(), "check".as_ref(), config.as_os_str()]);
    let (code, _, err) = outcome(&out);
    assert_eq!(code, 0);
    assert!(err.contains("analysisConfiguration"), "{err}");
}

#[test]
fn config_check_against_files_names_typos_and_unread_series() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = demo_with(
        dir.path(),
        "typo.toml",
        "events = \"http_errors\"",
        "events = \"http_errorz\"",
    );
    let check = |config: &Path| {
        outcome(&canaryd([
            "config".as_ref(),
            "check".as_ref(),
            config.as_os_str(),
            "--against".as_ref(),
            demo("baseline.csv").as_os_str(),
            "--against".as_ref(),
            demo("canary.csv").as_os_str(),
        ]))
    };
    let (code, out, err) = check(&config);
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("`http_errorz`") && err.contains("did you mean `http_errors`"),
        "{err}"
    );
    assert!(!out.contains("ok"), "a failing check never says ok: {out}");
    let (code, out, err) = check(&demo("canary.toml"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("every series"), "{out}");
    // A series of the files that no metric reads fails the check too.
    let cut = demo_with(
        dir.path(),
        "no-cpu.toml",
        "series = \"cpu_seconds\"",
        "series = \"cpu_total\"",
    );
    let (code, _, err) = check(&cut);
    assert_eq!(code, 78);
    assert!(err.contains("`cpu_total`"), "{err}");
}

#[test]
fn config_check_reports_every_unknown_field_with_a_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("bad.toml");
    fs::write(
        &config,
        "name = \"x\"\nscorng = \"kayenta\"\n\n[[metrics]]\nname = \"latency\"\ncritcal = true\n\
         directon = \"increase\"\n\n[[metrics]]\nname = \"errors\"\njudge = { kind = \"mann_whitny\" }\n\
         colour = \"red\"\n",
    )
    .expect("config");
    let (code, _, err) = outcome(&canaryd([
        "config".as_ref(),
        "check".as_ref(),
        config.as_os_str(),
    ]));
    assert_eq!(code, 78);
    for (line, want) in [
        (":2:1: scorng", "did you mean `scoring`?"),
        (":6:1: metrics[0].critcal", "did you mean `critical`?"),
        (":7:1: metrics[0].directon", "did you mean `direction`?"),
        (":11:", "did you mean `mann_whitney`?"),
        (":12:1: metrics[1].colour", "expected one of"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(line) && l.contains(want)),
            "`{line}` … `{want}` in:\n{err}"
        );
    }
    assert!(err.contains("(5 problems)"), "{err}");
}

#[test]
fn bare_canaryd_prints_help_and_exits_64() {
    let (code, out, err) = outcome(&canaryd(Vec::<&str>::new()));
    assert_eq!(code, 64);
    assert!(
        format!("{out}{err}").contains("Usage: canaryd <COMMAND>"),
        "{out}{err}"
    );
    let (code, _, _) = outcome(&canaryd(["--help"]));
    assert_eq!(code, 0, "help asked for is success");
    let (code, out, _) = outcome(&canaryd(["analyze", "--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("4   the canary is inconclusive"), "{out}");
}
