//! `canaryd evaluate` and `canaryd replay` end to end: deterministic numbers, judges that
//! tell a crash loop from no change, replayed deploys with labels, broken deploys skipped.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{assert_no_panic, canaryd, outcome};

const NOCHANGE: &str = r#"name = "t-nochange"
duration_s = 300
step_s = 10
[traffic]
rps = 40
hosts = 2
"#;

const CRASH: &str = r#"name = "t-crash"
duration_s = 300
step_s = 10
[traffic]
rps = 4
hosts = 1
[[changes]]
kind = "crash_loop"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).expect("write");
    p
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = outcome(&canaryd(args));
    assert_no_panic(&o.2);
    o
}

fn cell<'a>(report: &'a Value, scenario: &str, judge: &str) -> &'a Value {
    report["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["scenario"] == scenario && c["judge"] == judge)
        .unwrap_or_else(|| panic!("no cell {scenario} × {judge}"))
}

#[test]
fn evaluate_is_deterministic_and_separates_a_crash_loop_from_no_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (
        write(dir.path(), "a.toml", NOCHANGE),
        write(dir.path(), "b.toml", CRASH),
    );
    let args = |fmt: &'static str| {
        vec![
            "evaluate".as_ref(),
            "--scenarios".as_ref(),
            a.as_os_str(),
            b.as_os_str(),
            "--runs".as_ref(),
            "30".as_ref(),
            "--seed".as_ref(),
            "5".as_ref(),
            "--format".as_ref(),
            std::ffi::OsStr::new(fmt),
            // 1-minute aggregates: 5 points per arm for `band` in 5 minutes.
            "--aggregate-interval".as_ref(),
            "60".as_ref(),
        ]
    };
    let (code, first, err) = run(&args("json"));
    assert_eq!(code, 0, "{err}");
    let (_, second, _) = run(&args("json"));
    assert_eq!(first, second, "same seed, same numbers");
    // One worker thread gives the same numbers as all cores.
    let mut single = args("json");
    single.extend([std::ffi::OsStr::new("--threads"), std::ffi::OsStr::new("1")]);
    let (code, one, err) = run(&single);
    assert_eq!(code, 0, "{err}");
    assert_eq!(first, one, "--threads does not change the numbers");
    let r: Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(r["runs"], 30);
    assert_eq!(
        r["cells"].as_array().expect("cells").len(),
        14,
        "2 scenarios × 7 judges"
    );
    // Hosts as the unit: the crash loop (every host) is caught, no change is not failed.
    assert_eq!(cell(&r, "t-crash", "hosts")["fail_rate"], 1.0);
    assert_eq!(cell(&r, "t-nochange", "hosts")["fail_rate"], 0.0);
    // The band judge on 1-minute aggregates catches the crash loop at the horizon.
    assert_eq!(cell(&r, "t-crash", "band")["fail_rate"], 1.0);
    assert_eq!(cell(&r, "t-nochange", "band")["fail_rate"], 0.0);
    // Per host, with hosts as the unit: one host per arm has no spread (inconclusive,
    // never a pass), two per arm judge.
    assert_eq!(cell(&r, "t-crash", "band_hosts")["inconclusive_rate"], 1.0);
    assert_eq!(cell(&r, "t-nochange", "band_hosts")["fail_rate"], 0.0);
    let crash = cell(&r, "t-crash", "sequential");
    assert_eq!(crash["regression"], true);
    assert_eq!(crash["fail_rate"], 1.0);
    let det = crash["detection_requests"].as_array().expect("detection");
    assert!(det[0].as_f64().expect("median") <= 30.0, "{crash}");
    let calm = cell(&r, "t-nochange", "sequential");
    assert_eq!(calm["regression"], false);
    assert_eq!(calm["fail_rate"], 0.0);
    assert_eq!(calm["false_rollback"][0], 0.0);
    assert!(
        calm["false_rollback"][1].as_f64().expect("bound") > 0.05,
        "30 runs bound the rate loosely"
    );
    let (_, md, _) = run(&args("markdown"));
    assert!(md.contains("| t-crash | sequential | 100.00% |"), "{md}");
}

#[test]
fn evaluate_rejects_bad_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write(dir.path(), "a.toml", NOCHANGE);
    let (code, _, err) = run(&[
        "evaluate".as_ref(),
        "--scenarios".as_ref(),
        a.as_os_str(),
        "--judges".as_ref(),
        "oracle".as_ref(),
    ]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("unknown judge `oracle`"), "{err}");
    let (code, _, err) = run(&[
        "evaluate".as_ref(),
        "--scenarios".as_ref(),
        a.as_os_str(),
        "--threads".as_ref(),
        "0".as_ref(),
    ]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("--threads must be at least 1"), "{err}");
    let missing = dir.path().join("missing.toml");
    let (code, _, err) = run(&[
        "evaluate".as_ref(),
        "--scenarios".as_ref(),
        missing.as_os_str(),
    ]);
    assert_eq!(code, 66, "{err}");
    let bad = write(
        dir.path(),
        "bad.toml",
        "name = \"x\"\n[traffic]\nrps = -1\n",
    );
    let (code, _, err) = run(&["evaluate".as_ref(), "--scenarios".as_ref(), bad.as_os_str()]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("traffic.rps"), "{err}");
}

const REPLAY_CONFIG: &str = r#"name = "replay"
[judge]
kind = "sequential"
alpha = 0.01
tolerance = 0.1

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

#[test]
fn replay_judges_simulated_deploys_and_skips_broken_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deploys = dir.path().join("deploys");
    fs::create_dir(&deploys).expect("mkdir");
    for (name, scenario) in [("a-crash", CRASH), ("b-calm", NOCHANGE)] {
        let s = write(dir.path(), &format!("{name}.toml"), scenario);
        let out = deploys.join(name);
        let (code, _, err) = run(&[
            "simulate".as_ref(),
            "--scenario".as_ref(),
            s.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--seed".as_ref(),
            "3".as_ref(),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    fs::create_dir(deploys.join("c-broken")).expect("mkdir");
    fs::write(
        deploys.join("c-broken/baseline.csv"),
        "metric,value\nlatency_ms,1\n",
    )
    .expect("write");
    let config = write(dir.path(), "canary.toml", REPLAY_CONFIG);

    let (code, out, err) = run(&[
        "replay".as_ref(),
        "--deploys".as_ref(),
        deploys.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(code, 0, "a broken deploy is not fatal: {err}");
    assert!(err.contains("deploy `c-broken` skipped"), "{err}");
    assert!(err.contains("confusion matrix"), "{err}");
    let r: Value = serde_json::from_str(&out).expect("JSON");
    let rows = r["deploys"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["deploy"], "a-crash");
    assert_eq!(rows[0]["label"], "bad");
    assert_eq!(rows[0]["verdict"], "fail");
    assert!(
        rows[0]["failing"]
            .as_str()
            .expect("failing")
            .contains("errors"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0]["decided_after_s"].as_f64().expect("decided") <= 60.0,
        "{}",
        rows[0]
    );
    assert_eq!(rows[1]["label"], "good");
    assert_ne!(rows[1]["verdict"], "fail", "{}", rows[1]);
    assert!(
        rows[2]["error"].as_str().expect("error").contains("canary"),
        "{}",
        rows[2]
    );
    assert_eq!(
        r["confusion"]["bad"][3], 1,
        "the crash loop was caught (column fail)"
    );

    // CSV to stdout and Parquet to a file carry the same rows.
    let (code, csv, _) = run(&[
        "replay".as_ref(),
        "--deploys".as_ref(),
        deploys.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert_eq!(code, 0);
    assert!(
        csv.starts_with("deploy,label,verdict,score,failing,decided_after_s,error"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4);
    let pq = dir.path().join("rows.parquet");
    let (code, _, err) = run(&[
        "replay".as_ref(),
        "--deploys".as_ref(),
        deploys.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
        "--format".as_ref(),
        "parquet".as_ref(),
        "--out".as_ref(),
        pq.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    use polars::prelude::*;
    let df = ParquetReader::new(fs::File::open(&pq).expect("parquet"))
        .finish()
        .expect("reads");
    assert_eq!(df.height(), 3);
    let (code, _, err) = run(&[
        "replay".as_ref(),
        "--deploys".as_ref(),
        deploys.as_os_str(),
        "--format".as_ref(),
        "parquet".as_ref(),
    ]);
    assert_eq!(code, 64, "{err}");
}

#[test]
fn replay_reads_a_manifest_and_per_deploy_configs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = write(dir.path(), "crash.toml", CRASH);
    let d = dir.path().join("d1");
    let (code, _, err) = run(&[
        "simulate".as_ref(),
        "--scenario".as_ref(),
        s.as_os_str(),
        "--out".as_ref(),
        d.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    write(&d, "canary.toml", REPLAY_CONFIG);
    let manifest = write(
        dir.path(),
        "deploys.toml",
        "[[deploys]]\npath = \"d1\"\nname = \"first\"\nlabel = \"bad\"\n",
    );
    let (code, out, err) = run(&[
        "replay".as_ref(),
        "--deploys".as_ref(),
        manifest.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(r["deploys"][0]["deploy"], "first");
    assert_eq!(r["deploys"][0]["verdict"], "fail");
    let (code, _, err) = run(&[
        "replay".as_ref(),
        "--deploys".as_ref(),
        dir.path().join("nothing").as_os_str(),
    ]);
    assert_eq!(code, 66, "{err}");
}
