//! `canaryd analyze` end to end: verdicts, exit codes, output formats, per-API pairing,
//! Kayenta configs and pairs, Parquet input.

use std::fs;

use serde_json::Value;

use super::{analyze, assert_no_panic, canaryd, demo, outcome, root};

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

fn find<'a>(report: &'a Value, metric: &str, api: &str) -> &'a Value {
    report["metrics"]
        .as_array()
        .expect("metrics is a list")
        .iter()
        .find(|m| m["metric"] == metric && m["labels"]["api"] == api)
        .unwrap_or_else(|| panic!("no result for {metric}{{api={api}}}"))
}

#[test]
fn demo_fails_on_the_regressed_api_only() {
    let (code, out, err) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("canary.csv"),
        &["--format", "json"],
    );
    assert_no_panic(&err);
    assert_eq!(code, 1, "a failing canary exits 1\n{err}");
    let r = json(&out);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["score"], 0.0);
    assert!(
        r["reason"]
            .as_str()
            .expect("reason")
            .contains("error_rate{api=\"/checkout\"}")
    );
    assert_eq!(find(&r, "latency", "/checkout")["classification"], "high");
    assert_eq!(
        find(&r, "error_rate", "/checkout")["classification"],
        "high"
    );
    assert_eq!(find(&r, "error_rate", "/checkout")["critical"], true);
    for api in ["/cart", "/search"] {
        for metric in ["latency", "latency_p99", "error_rate", "cpu"] {
            assert_eq!(
                find(&r, metric, api)["classification"],
                "pass",
                "{metric} {api}"
            );
        }
    }
}

#[test]
fn json_schema_has_every_documented_field() {
    let (_, out, _) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("canary.csv"),
        &["-f", "json"],
    );
    let r = json(&out);
    assert_eq!(r["schema"], "canaryd.analysis.v1");
    for key in [
        "verdict",
        "score",
        "groups",
        "metrics",
        "thresholds",
        "reason",
        "config",
    ] {
        assert!(r.get(key).is_some(), "top-level `{key}` missing");
    }
    for g in r["groups"].as_array().expect("groups") {
        assert!(g["name"].is_string() && g["score"].is_number(), "{g}");
    }
    let lat = find(&r, "latency", "/checkout");
    for key in [
        "metric",
        "labels",
        "classification",
        "critical",
        "estimate",
        "ci",
        "p_value",
        "effect_size",
        "reason",
    ] {
        assert!(
            lat.get(key).is_some(),
            "metric field `{key}` missing: {lat}"
        );
    }
    let ci = lat["ci"].as_array().expect("ci is [lo, hi]");
    assert_eq!(ci.len(), 2);
    assert!(
        ci[0].as_f64() <= lat["estimate"].as_f64() && lat["estimate"].as_f64() <= ci[1].as_f64()
    );
    assert!(lat["p_value"].as_f64().expect("p") < 1e-6);
    for arm in ["baseline", "canary"] {
        for key in ["count", "mean", "std", "min", "max"] {
            assert!(lat[arm][key].is_number(), "{arm}.{key} missing");
        }
    }
}

#[test]
fn demo_output_snapshots() {
    // The outputs people read are pinned: a change must be reviewed (`cargo insta review`).
    for (format, name) in [
        ("json", "demo_json"),
        ("markdown", "demo_markdown"),
        ("table", "demo_table"),
    ] {
        let (_, out, _) = analyze(
            &demo("canary.toml"),
            &demo("baseline.csv"),
            &demo("canary.csv"),
            &["--format", format],
        );
        insta::assert_snapshot!(name, out);
    }
}

#[test]
fn a_healthy_canary_passes_with_exit_0() {
    let (code, out, err) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("baseline.csv"),
        &["--format", "json"],
    );
    assert_no_panic(&err);
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["score"], 100.0);
}

#[test]
fn thresholds_from_the_command_line_decide_marginal() {
    let args = ["--format", "json", "--pass", "100", "--marginal", "0"];
    let (code, out, _) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("canary.csv"),
        &args,
    );
    assert_eq!(code, 2, "marginal exits 2");
    let r = json(&out);
    assert_eq!(r["verdict"], "marginal");
    assert_eq!(r["thresholds"]["pass"], 100.0);
}

#[test]
fn table_and_markdown_name_the_failure() {
    let (code, out, _) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("canary.csv"),
        &[],
    );
    assert_eq!(code, 1);
    assert!(out.contains("FAIL"), "{out}");
    assert!(
        out.contains("HIGH latency{api=\"/checkout\"}: canary higher"),
        "{out}"
    );
    let (_, md, _) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("canary.csv"),
        &["-f", "markdown"],
    );
    assert!(
        md.starts_with("## Canary analysis `checkout`: FAIL"),
        "{md}"
    );
    assert!(
        md.contains("| `latency{api=\"/checkout\"}` | **HIGH** |"),
        "{md}"
    );
}

#[test]
fn label_sets_pair_by_identical_labels_and_one_sided_sets_are_nodata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    fs::write(&config, "name = \"x\"\n[[metrics]]\nname = \"lat\"\n").expect("write");
    let mut base = String::from("metric,api,region,value\n");
    let mut can = base.clone();
    for i in 0..50 {
        let v = 100.0 + f64::from(i);
        base.push_str(&format!("lat,/a,eu,{v}\nlat,/b,eu,{v}\nlat,/old,eu,{v}\n"));
        can.push_str(&format!(
            "lat,/a,eu,{v}\nlat,/b,eu,{}\nlat,/new,eu,{v}\n",
            v * 2.0
        ));
    }
    let (b, c) = (dir.path().join("b.csv"), dir.path().join("c.csv"));
    fs::write(&b, base).expect("write");
    fs::write(&c, can).expect("write");
    let (code, out, err) = analyze(&config, &b, &c, &["-f", "json"]);
    assert_no_panic(&err);
    let r = json(&out);
    assert_eq!(
        r["metrics"].as_array().expect("metrics").len(),
        4,
        "/a, /b, /new, /old"
    );
    assert_eq!(find(&r, "lat", "/a")["classification"], "pass");
    assert_eq!(find(&r, "lat", "/b")["classification"], "high");
    assert_eq!(find(&r, "lat", "/b")["labels"]["region"], "eu");
    let old = find(&r, "lat", "/old");
    assert_eq!(old["classification"], "nodata");
    assert!(
        old["reason"]
            .as_str()
            .expect("reason")
            .contains("in the canary"),
        "{old}"
    );
    let new = find(&r, "lat", "/new");
    assert_eq!(new["classification"], "nodata");
    assert!(
        new["reason"]
            .as_str()
            .expect("reason")
            .contains("in the baseline"),
        "{new}"
    );
    // 2 of 4 results have no data: ≥ 50% nodata fails the canary.
    assert_eq!((code, r["verdict"].as_str()), (1, Some("fail")));
}

#[test]
fn kayenta_config_and_archived_pairs_are_judged() {
    let dir = root().join("tests/fixtures/kayenta");
    let out = canaryd([
        "analyze".as_ref(),
        "--config".as_ref(),
        dir.join("canary-config.json").as_os_str(),
        "--pairs".as_ref(),
        dir.join("metric-set-pairs.json").as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let (code, out, err) = outcome(&out);
    assert_no_panic(&err);
    let r = json(&out);
    let by_name = |name: &str| {
        r["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["metric"] == name)
            .cloned()
            .expect("metric present")
    };
    assert_eq!(by_name("cpu")["classification"], "pass");
    assert_eq!(by_name("latency")["classification"], "high");
    assert_eq!(by_name("latency")["labels"]["instance"], "i-1");
    assert_eq!(
        by_name("latency")["canary"]["count"],
        8,
        "the \"NaN\" strings are removed"
    );
    // latency weighs 70, cpu 30 (from classifier.groupWeights): 30 < marginal 75.
    assert_eq!(r["score"], 30.0);
    assert_eq!(code, 1);
}

#[test]
fn parquet_inputs_are_read_like_csv() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, scale: f64| {
        let n = 60;
        let mut df = df!(
            "metric" => vec!["lat"; n],
            "api" => vec!["/p"; n],
            "timestamp" => (0..n as i64).map(|i| 1_700_000_000 + 60 * i).collect::<Vec<_>>(),
            "value" => (0..n).map(|i| (100.0 + i as f64) * scale).collect::<Vec<f64>>(),
        )
        .expect("frame");
        let path = dir.path().join(name);
        let f = fs::File::create(&path).expect("create");
        ParquetWriter::new(f)
            .finish(&mut df)
            .expect("parquet written");
        path
    };
    let (b, c) = (write("b.parquet", 1.0), write("c.parquet", 3.0));
    let config = dir.path().join("c.yaml");
    fs::write(
        &config,
        "name: pq\nmetrics:\n  - name: lat\n    direction: increase\n",
    )
    .expect("write");
    let (code, out, err) = analyze(&config, &b, &c, &["-f", "json"]);
    assert_no_panic(&err);
    let r = json(&out);
    assert_eq!(find(&r, "lat", "/p")["classification"], "high", "{out}");
    assert_eq!(find(&r, "lat", "/p")["canary"]["count"], 60);
    assert_eq!(code, 1);
}

#[test]
fn help_documents_exit_codes_and_judge_kinds() {
    let (code, out, _) = outcome(&canaryd(["analyze", "--help"]));
    assert_eq!(code, 0);
    for needle in ["Exit codes:", "65", "mann_whitney", "threshold", "--pairs"] {
        assert!(
            out.contains(needle),
            "`{needle}` missing from --help:\n{out}"
        );
    }
    let (code, out, _) = outcome(&canaryd(["judges"]));
    assert_eq!(code, 0);
    assert!(out.contains("mann_whitney") && out.contains("threshold"));
}

#[test]
fn config_example_is_the_demo_config_and_valid() {
    let (code, out, _) = outcome(&canaryd(["config", "example"]));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        fs::read_to_string(demo("canary.toml")).expect("demo config")
    );
    let (code, out, err) = outcome(&canaryd([
        "config".as_ref(),
        "check".as_ref(),
        demo("canary.toml").as_os_str(),
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 metrics"), "{out}");
}

#[test]
fn report_and_charts_are_written_beside_the_normal_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.html");
    let charts = dir.path().join("charts");
    let (code, out, err) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("canary.csv"),
        &[
            "--format",
            "json",
            "--report",
            report.to_str().expect("utf-8 path"),
            "--charts",
            charts.to_str().expect("utf-8 path"),
        ],
    );
    assert_no_panic(&err);
    assert_eq!(code, 1, "the verdict still sets the exit code\n{err}");
    assert_eq!(json(&out)["verdict"], "fail", "stdout is unchanged");
    let html = fs::read_to_string(&report).expect("the report was written");
    // Self-contained: no scripts, no external assets.
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http")
    );
    assert!(!html.contains("<img"), "every chart is inline");
    // Failing pairs first, the critical one at the top, each with its charts.
    let pos = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    let first_pair = pos("class=\"pair\"");
    assert!(
        html[first_pair..].starts_with("class=\"pair\" id=\"pair-error_rate_api___checkout__\"")
    );
    assert!(pos("pair-latency_api___checkout__") < pos("pair-latency_api___cart__"));
    assert_eq!(
        html.matches("<svg").count(),
        24,
        "two charts for each of 12 pairs"
    );
    assert!(html.contains("latency{api=&quot;/checkout&quot;} — distribution"));
    assert!(html.contains("Canary Failed: critical metric failed"));
    // PNG charts, two per pair, named after the pair.
    let mut names: Vec<String> = fs::read_dir(&charts)
        .expect("the chart directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 24, "{names:?}");
    assert!(names.contains(&"latency-api-checkout.distribution.png".to_string()));
    let png = fs::read(charts.join("latency-api-checkout.series.png")).expect("a PNG");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000);
}

#[test]
fn an_unwritable_report_exits_73() {
    let (code, _, err) = analyze(
        &demo("canary.toml"),
        &demo("baseline.csv"),
        &demo("canary.csv"),
        &["--report", "/nonexistent-dir/report.html"],
    );
    assert_no_panic(&err);
    assert_eq!(code, 73, "{err}");
    assert!(
        err.contains("cannot write the report /nonexistent-dir/report.html"),
        "{err}"
    );
}
