//! Bad input never panics: it gets one clear message naming the file and the problem, and
//! an exit code of 64 or above.

use std::fs;
use std::path::{Path, PathBuf};

use super::{analyze, assert_no_panic, canaryd, demo, outcome};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Case {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::write(&p, text).expect("write");
        p
    }

    fn config(&self) -> PathBuf {
        self.file("c.toml", "name = \"x\"\n[[metrics]]\nname = \"lat\"\n")
    }
}

fn expect_error(config: &Path, baseline: &Path, canary: &Path, code: i32, needles: &[&str]) {
    let (got, out, err) = analyze(config, baseline, canary, &[]);
    assert_no_panic(&err);
    assert_eq!(got, code, "exit code; stderr:\n{err}");
    assert!(out.is_empty(), "no report on error:\n{out}");
    assert_eq!(
        err.lines().filter(|l| !l.is_empty()).count(),
        1,
        "one clear message:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from:\n{err}");
    }
}

const GOOD: &str = "metric,value\nlat,1\nlat,2\n";

#[test]
fn missing_file_exits_66_and_names_it() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let missing = c.dir.path().join("nope.csv");
    expect_error(&c.config(), &missing, &good, 66, &["nope.csv", "not found"]);
    expect_error(&c.config(), &good, &missing, 66, &["nope.csv"]);
    let no_config = c.dir.path().join("missing.toml");
    expect_error(&no_config, &good, &good, 66, &["missing.toml"]);
}

#[test]
fn empty_files_exit_65() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    expect_error(
        &c.config(),
        &c.file("empty.csv", ""),
        &good,
        65,
        &["empty.csv", "no data rows"],
    );
    expect_error(
        &c.config(),
        &good,
        &c.file("header.csv", "metric,value\n"),
        65,
        &["header.csv", "no data rows"],
    );
}

#[test]
fn malformed_csv_exits_65() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let ragged = c.file("ragged.csv", "metric,value\nlat,1\nlat,2,3,4\n\"lat,5\n");
    expect_error(
        &c.config(),
        &ragged,
        &good,
        65,
        &["ragged.csv", "malformed CSV"],
    );
}

#[test]
fn missing_columns_are_named() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let no_value = c.file("novalue.csv", "metric,api\nlat,/a\n");
    expect_error(
        &c.config(),
        &good,
        &no_value,
        65,
        &[
            "novalue.csv",
            "missing required column `value`",
            "metric, api",
        ],
    );
    let no_metric = c.file("nometric.csv", "value\n1\n");
    expect_error(
        &c.config(),
        &no_metric,
        &good,
        65,
        &["nometric.csv", "`metric`"],
    );
}

#[test]
fn a_non_numeric_value_names_its_row() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let bad = c.file(
        "bad.csv",
        "metric,api,value\nlat,/a,1.5\nlat,/a,NaN\nlat,/a,12ms\nlat,/a,4\n",
    );
    expect_error(
        &c.config(),
        &good,
        &bad,
        65,
        &["bad.csv", "row 3 (line 4)", "`12ms`"],
    );
    // The same far beyond polars' schema inference window.
    let mut long = String::from("metric,value\n");
    for i in 0..5000 {
        long.push_str(&format!("lat,{i}\n"));
    }
    long.push_str("lat,oops\n");
    let late = c.file("late.csv", &long);
    expect_error(
        &c.config(),
        &late,
        &good,
        65,
        &["late.csv", "row 5001 (line 5002)", "`oops`"],
    );
}

#[test]
fn empty_and_nan_cells_are_missing_values_not_errors() {
    let c = Case::new();
    let holes = c.file("holes.csv", "metric,value\nlat,1\nlat,\nlat,NaN\nlat,2\n");
    let (code, out, err) = analyze(&c.config(), &holes, &holes, &["-f", "json"]);
    assert_no_panic(&err);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"count\": 2"), "{out}");
}

#[test]
fn bad_timestamps_and_empty_metric_names_name_the_row() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let ts = c.file(
        "ts.csv",
        "timestamp,metric,value\n2026-01-01T00:00:00Z,lat,1\nlast tuesday,lat,2\n",
    );
    expect_error(
        &c.config(),
        &ts,
        &good,
        65,
        &["ts.csv", "row 2 (line 3)", "last tuesday"],
    );
    let unnamed = c.file("unnamed.csv", "metric,value\nlat,1\n,2\n");
    expect_error(
        &c.config(),
        &good,
        &unnamed,
        65,
        &["unnamed.csv", "row 2 (line 3)", "`metric` is empty"],
    );
}

#[test]
fn unknown_file_types_are_usage_errors() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let txt = c.file("data.txt", GOOD);
    expect_error(
        &c.config(),
        &txt,
        &good,
        64,
        &["data.txt", ".csv or .parquet"],
    );
    let xml = c.file("c.xml", "<config/>");
    expect_error(&xml, &good, &good, 78, &["c.xml", "unknown config format"]);
}

#[test]
fn broken_parquet_is_a_data_error() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let broken = c.file("broken.parquet", "this is not parquet");
    expect_error(
        &c.config(),
        &broken,
        &good,
        65,
        &["broken.parquet", "Parquet"],
    );
}

#[test]
fn invalid_config_exits_78_with_its_location() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let cfg = c.file(
        "bad.toml",
        "name = \"x\"\n\n[[metrics]]\nname = \"lat\"\ncolour = \"red\"\n",
    );
    let (code, out, err) = analyze(&cfg, &good, &good, &[]);
    assert_no_panic(&err);
    assert_eq!(code, 78, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("bad.toml:5:1: metrics[0].colour: unknown field `colour`"),
        "{err}"
    );
}

#[test]
fn command_line_mistakes_exit_64() {
    let c = Case::new();
    let good = c.file("good.csv", GOOD);
    let (code, _, err) = outcome(&canaryd([
        "analyze".as_ref(),
        "--config".as_ref(),
        c.config().as_os_str(),
    ]));
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("--baseline"), "{err}");
    let (code, _, err) = analyze(&c.config(), &good, &good, &["--pass", "150"]);
    assert_eq!(code, 64);
    assert!(err.contains("--pass must be between 0 and 100"), "{err}");
    let (code, _, err) = analyze(
        &c.config(),
        &good,
        &good,
        &["--pass", "50", "--marginal", "60"],
    );
    assert_eq!(code, 64);
    assert!(err.contains("above the pass threshold"), "{err}");
    let (code, _, _) = analyze(&c.config(), &good, &good, &["--format", "yaml"]);
    assert_eq!(code, 64);
    let (code, _, _) = outcome(&canaryd(["frobnicate"]));
    assert_eq!(code, 64);
    let (code, _, err) = outcome(&canaryd([
        "analyze".as_ref(),
        "--config".as_ref(),
        demo("canary.toml").as_os_str(),
        "--pairs".as_ref(),
        "p.json".as_ref(),
        "--baseline".as_ref(),
        "b.csv".as_ref(),
    ]));
    assert_eq!(code, 64, "--pairs conflicts with --baseline: {err}");
}

#[test]
fn broken_pairs_files_name_the_place() {
    let c = Case::new();
    let pairs = c.file(
        "pairs.json",
        "[{\"name\": \"lat\", \"values\": {\"control\": [1, {}]}}]",
    );
    let (code, _, err) = outcome(&canaryd([
        "analyze".as_ref(),
        "--config".as_ref(),
        c.config().as_os_str(),
        "--pairs".as_ref(),
        pairs.as_os_str(),
    ]));
    assert_no_panic(&err);
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("pairs.json:1:") && err.contains("[0].values.control[1]"),
        "{err}"
    );
}

#[test]
fn labels_stay_text_even_when_they_look_numeric() {
    // `shard` looks numeric for 2,000 rows, then holds text: still one label column.
    let c = Case::new();
    let mut text = String::from("metric,shard,value\n");
    for i in 0..2000 {
        text.push_str(&format!("lat,{},{}\n", i % 2, 100 + i % 7));
    }
    text.push_str("lat,blue,100\nlat,blue,101\n");
    let f = c.file("shards.csv", &text);
    let (code, out, err) = analyze(&c.config(), &f, &f, &["-f", "json"]);
    assert_no_panic(&err);
    assert_eq!(code, 0, "{err}");
    for shard in ["\"0\"", "\"1\"", "\"blue\""] {
        assert!(
            out.contains(&format!("\"shard\": {shard}")),
            "{shard} missing:\n{out}"
        );
    }
}
