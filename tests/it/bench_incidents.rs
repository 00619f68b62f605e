//! `canaryd bench-incidents` on a small dataset of the PetShop shape, built here: the wide
//! CSV layout (four header rows), incidents with their target.json, a no-issue recording.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::{assert_no_panic, canaryd, outcome};

/// A wide CSV of one node `svc`: latency p50/p90/p99 (s), availability (%), requests.
fn wide(path: &Path, rows: &[(f64, f64, f64)]) {
    let mut s = String::from("microservice,svc,svc,svc,svc,svc,svc\n");
    s.push_str("metric,latency,latency,latency,latency,availability,requests\n");
    s.push_str("statistic,Average,p50,p90,p99,Average,Sum\n");
    s.push_str("unix_timestamp,,,,,,\n");
    for (t, latency, availability) in rows {
        s.push_str(&format!(
            "{t},{latency},{latency},{},{},{availability},100\n",
            latency * 1.5,
            latency * 2.0
        ));
    }
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, s).unwrap();
}

/// The calm level of bucket `i` (a little noise, deterministic).
fn calm(i: usize) -> f64 {
    0.05 * (1.0 + 0.02 * ((i * 7919) % 11) as f64 / 10.0)
}

fn dataset(root: &Path) {
    let base = root.join("dataset").join("run1");
    // Six incidents 30 minutes apart; the first five slow `svc` 6×, the last changes
    // nothing the metrics show.
    for k in 0..6usize {
        let t0 = 1_000_000.0 + 1800.0 * k as f64;
        let at = t0 + 300.0 + 60.0;
        let rows: Vec<(f64, f64, f64)> = (0..5)
            .map(|i| {
                let t = t0 + 300.0 * i as f64;
                let slow = k < 5 && i >= 1;
                (t, calm(i + 5 * k) * if slow { 6.0 } else { 1.0 }, 100.0)
            })
            .collect();
        let dir = base.join("test").join(format!("issue_{k}"));
        wide(&dir.join("metrics.csv"), &rows);
        fs::write(
            dir.join("target.json"),
            format!(r#"{{"target": {{"node": "svc", "metric": "latency", "timestamp": {at}}}, "root_cause": {{"node": "svc"}}}}"#),
        )
        .unwrap();
    }
    // A calm no-issue recording of 10 hours.
    let rows: Vec<(f64, f64, f64)> = (0..120)
        .map(|i| (2_000_000.0 + 300.0 * i as f64, calm(i), 100.0))
        .collect();
    wide(&base.join("noissue").join("metrics.csv"), &rows);
}

#[test]
fn incidents_are_flagged_and_calm_windows_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    dataset(dir.path());
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/petshop/canary.toml");
    let bench = |extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "bench-incidents".into(),
            "--data".into(),
            dir.path().into(),
            "--config".into(),
            config.clone().into(),
            "--shipped-only".into(),
        ];
        args.extend(extra.iter().map(std::ffi::OsString::from));
        outcome(&canaryd(args))
    };
    let o = bench(&["--format", "json"]);
    assert_no_panic(&o.2);
    assert_eq!(o.0, 0, "{}", o.2);
    let rows: Value = serde_json::from_str(&o.1).expect("JSON");
    let row = &rows[0];
    assert_eq!(row["config"], "petshop");
    assert_eq!(row["incidents"], 6);
    assert_eq!(row["incidents_flagged"], 5, "{row}");
    assert_eq!(row["missed"][0], "run1/test/issue_5", "{row}");
    // Ten hours, one window per hour.
    assert_eq!(row["healthy"], 10, "{row}");
    assert_eq!(row["healthy_flagged"], 0, "{row}");
    assert_eq!(row["false_alarms"], Value::Array(vec![]), "{row}");
    assert!(o.2.contains("6 incidents"), "{}", o.2);
    // The Markdown report names the missed incident and the healthy windows flagged.
    let o = bench(&["--missed", "--false-alarms"]);
    assert_no_panic(&o.2);
    assert_eq!(o.0, 0, "{}", o.2);
    assert!(
        o.1.contains("petshop missed 1 of 6 incidents: run1/test/issue_5"),
        "{}",
        o.1
    );
    assert!(
        o.1.contains("petshop flagged 0 of 10 healthy windows:"),
        "{}",
        o.1
    );
    // One case's whole analysis: the missed incident's, with its verdict and every series.
    let o = bench(&["--case", "run1/test/issue_5"]);
    assert_no_panic(&o.2);
    assert_eq!(o.0, 0, "{}", o.2);
    assert!(
        o.1.contains("## petshop on run1/test/issue_5 (incident; baseline"),
        "{}",
        o.1
    );
    assert!(o.1.contains("latency_p50"), "{}", o.1);
    let o = bench(&["--case", "run1/test/issue_5", "--format", "json"]);
    assert_eq!(o.0, 0, "{}", o.2);
    let report: Value = serde_json::from_str(&o.1).expect("one JSON report per config");
    assert!(
        report["metrics"].as_array().is_some_and(|m| !m.is_empty()),
        "{report}"
    );
    // A name that is not a case is a usage error that shows what names look like.
    let o = bench(&["--case", "run9/test/issue_0"]);
    assert_no_panic(&o.2);
    assert_eq!(o.0, 64, "{}", o.2);
    assert!(
        o.2.contains("no case named") && o.2.contains("run1/"),
        "{}",
        o.2
    );
}

#[test]
fn a_missing_dataset_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = outcome(&canaryd([
        "bench-incidents".as_ref(),
        "--data".as_ref(),
        dir.path().join("nowhere").as_os_str(),
    ]));
    assert_no_panic(&o.2);
    assert_eq!(o.0, 66, "{}", o.2);
    assert!(o.2.contains("nowhere"), "{}", o.2);
}
