//! `canaryd simulate`: the files a scenario run writes, determinism, and exit codes.

use std::path::Path;

use super::{assert_no_panic, canaryd, outcome, root};

const SMALL: &str = r#"name = "small"
description = "a short run for tests"
duration_s = 120
step_s = 10
[traffic]
rps = 20
hosts = 2
[noise]
missing_scrape_prob = 0.2
counter_reset_prob = 0.05
[[changes]]
kind = "latency_shift"
factor = 1.5
onset_s = 60
"#;

fn simulate(scenario: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args: Vec<std::ffi::OsString> = vec![
        "simulate".into(),
        "--scenario".into(),
        scenario.into(),
        "--out".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(|s| std::ffi::OsString::from(*s)));
    let o = outcome(&canaryd(args));
    assert_no_panic(&o.2);
    o
}

fn small(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("small.toml");
    std::fs::write(&p, SMALL).expect("write the scenario");
    p
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn writes_every_file_of_a_deploy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let (code, stdout, stderr) = simulate(&small(dir.path()), &out, &["--seed", "7"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("scenario `small`, seed 7: 12 steps of 10 s"),
        "{stdout}"
    );
    assert!(
        stdout.contains("label: bad (regression from 60 s)"),
        "{stdout}"
    );

    assert_eq!(read(&out.join("label")), "bad\n");
    assert_eq!(read(&out.join("scenario.toml")), SMALL);
    assert!(read(&out.join("run.toml")).contains("seed = 7\n"));

    let requests = read(&out.join("requests.csv"));
    let mut lines = requests.lines();
    assert_eq!(lines.next(), Some("timestamp,arm,host,latency_ms,error"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(
        rows.len() > 1500 && rows.len() < 3300,
        "{} requests",
        rows.len()
    );
    assert!(rows[0][0].starts_with("2026-01-01T00:00:0") && rows[0][0].ends_with('Z'));
    assert!(
        rows.iter()
            .all(|r| r.len() == 5 && (r[4] == "0" || r[4] == "1"))
    );
    assert!(rows.iter().all(|r| r[1] == "baseline" || r[1] == "canary"));
    assert!(rows.windows(2).all(|w| w[0][0] <= w[1][0]), "time order");

    let mut latency_rows = 0;
    for arm in ["baseline", "canary"] {
        let text = read(&out.join(format!("{arm}.csv")));
        assert!(text.starts_with("timestamp,host,metric,value\n"));
        latency_rows += text.lines().filter(|l| l.contains(",latency_ms,")).count();
        assert!(text.lines().any(|l| l.contains(",h1,requests,")));
        assert!(text.lines().any(|l| l.contains(",h0,errors,")));
    }
    assert_eq!(latency_rows, rows.len());

    let prom = read(&out.join("prometheus.csv"));
    assert!(prom.starts_with("timestamp,arm,host,metric,le,value\n"));
    for needle in [
        ",canary,h1,http_requests_total,,",
        ",baseline,h0,http_errors_total,,",
        ",http_request_duration_ms_bucket,0.1,",
        ",http_request_duration_ms_bucket,+Inf,",
        ",http_request_duration_ms_sum,,",
    ] {
        assert!(prom.contains(needle), "no `{needle}` in prometheus.csv");
    }
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = small(dir.path());
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for (out, seed) in [(&a, "3"), (&b, "3"), (&c, "4")] {
        let (code, _, stderr) = simulate(&scenario, out, &["--seed", seed]);
        assert_eq!(code, 0, "{stderr}");
    }
    for f in [
        "requests.csv",
        "prometheus.csv",
        "baseline.csv",
        "canary.csv",
        "label",
    ] {
        let (x, y) = (std::fs::read(a.join(f)), std::fs::read(b.join(f)));
        assert!(
            x.is_ok() && x.ok() == y.ok(),
            "{f} differs between identical runs"
        );
    }
    assert_ne!(read(&a.join("requests.csv")), read(&c.join("requests.csv")));
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = small(dir.path());
    let out = dir.path().join("run");
    assert_eq!(simulate(&scenario, &out, &[]).0, 0);
    let (code, _, stderr) = simulate(&scenario, &out, &[]);
    assert_eq!(code, 64, "{stderr}");
    assert!(
        stderr.contains("--force") && stderr.contains("requests.csv"),
        "{stderr}"
    );
    assert_eq!(simulate(&scenario, &out, &["--force"]).0, 0);
}

#[test]
fn writes_parquet_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let (code, _, stderr) = simulate(&small(dir.path()), &out, &["--format", "parquet"]);
    assert_eq!(code, 0, "{stderr}");
    for f in ["requests", "prometheus", "baseline", "canary"] {
        let bytes = std::fs::read(out.join(format!("{f}.parquet"))).expect("a parquet file");
        assert!(bytes.starts_with(b"PAR1"), "{f}.parquet is not parquet");
    }
}

#[test]
fn an_invalid_scenario_is_a_config_error_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "name = \"bad\"\n[traffic]\ncanary_share = 2\n").expect("write");
    let (code, _, stderr) = simulate(&p, &dir.path().join("out"), &[]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("bad.toml:3:1: traffic.canary_share: must be in (0, 1)"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written for a bad scenario"
    );
}

#[test]
fn missing_arguments_and_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = outcome(&canaryd(["simulate", "--out", "x"]));
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("--scenario"), "{stderr}");
    let (code, _, stderr) = simulate(&dir.path().join("nope.toml"), dir.path(), &[]);
    assert_eq!(code, 66, "{stderr}");
    assert!(stderr.contains("nope.toml"), "{stderr}");
}

#[test]
fn a_shipped_scenario_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = root().join("datasets/scenarios/warmup-spike.toml");
    let (code, stdout, stderr) = simulate(&scenario, dir.path(), &["--seed", "1"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("label: good"), "{stdout}");
    assert_eq!(read(&dir.path().join("label")), "good\n");
}

/// `--aggregates 300`: only per-interval aggregates, analysed by the shipped aggregates
/// config (the band judge) — a healthy deploy passes, a +50% slowdown fails, and each
/// arm's file holds one row per interval and metric.
#[test]
fn aggregates_only_files_are_judged_by_the_aggregates_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = root().join("datasets/aggregates/canary.toml");
    for (scenario, expected) in [("nochange-lognormal", 0), ("latency-plus-50", 1)] {
        let out = dir.path().join(scenario);
        let path = root().join(format!("datasets/scenarios/{scenario}.toml"));
        let (code, _, stderr) = simulate(&path, &out, &["--aggregates", "300"]);
        assert_eq!(code, 0, "{stderr}");
        let canary = read(&out.join("canary-aggregates.csv"));
        // 30 minutes of 5-minute intervals, five metrics each, and the header.
        assert_eq!(canary.lines().count(), 1 + 6 * 5, "{canary}");
        assert!(canary.starts_with("timestamp,metric,value\n"), "{canary}");
        for metric in ["latency_p50_ms", "latency_p99_ms", "error_rate", "requests"] {
            assert!(
                canary.contains(&format!(",{metric},")),
                "{metric}: {canary}"
            );
        }
        let o = outcome(&canaryd([
            "analyze".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--baseline".as_ref(),
            out.join("baseline-aggregates.csv").as_os_str(),
            "--canary".as_ref(),
            out.join("canary-aggregates.csv").as_os_str(),
        ]));
        assert_no_panic(&o.2);
        assert_eq!(o.0, expected, "{scenario}: {}\n{}", o.1, o.2);
    }
    let (code, _, stderr) = simulate(
        &small(dir.path()),
        &dir.path().join("bad"),
        &["--aggregates", "0"],
    );
    assert_eq!(code, 64, "{stderr}");
    assert!(
        stderr.contains("--aggregates must be a positive number"),
        "{stderr}"
    );
}

/// `--aggregates 300` also writes the aggregates per host, judged by the shipped
/// hosts-as-the-unit config: a healthy deploy whose hosts differ by 20% (the arms differ by
/// which hosts they drew) passes, a canary host twice as slow fails and is named, and the
/// pooled config, judging the same deploy's pooled aggregates, is what the per-host files
/// are for (it reads host placement as a regression in this seed).
#[test]
fn per_host_aggregates_are_judged_with_hosts_as_the_unit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts_config = root().join("datasets/aggregates/canary-hosts.toml");
    let pooled_config = root().join("datasets/aggregates/canary.toml");
    let analyze = |config: &Path, out: &Path, kind: &str| {
        let o = outcome(&canaryd([
            "analyze".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--baseline".as_ref(),
            out.join(format!("baseline-{kind}.csv")).as_os_str(),
            "--canary".as_ref(),
            out.join(format!("canary-{kind}.csv")).as_os_str(),
        ]));
        assert_no_panic(&o.2);
        o
    };
    let out = dir.path().join("placement");
    let path = root().join("datasets/scenarios/nochange-hosts-s20-n5.toml");
    let (code, _, stderr) = simulate(&path, &out, &["--aggregates", "300"]);
    assert_eq!(code, 0, "{stderr}");
    let canary = read(&out.join("canary-host-aggregates.csv"));
    assert!(
        canary.starts_with("timestamp,host,metric,value\n"),
        "{canary}"
    );
    // 5 hosts × 6 intervals × 5 metrics, and the header.
    assert_eq!(canary.lines().count(), 1 + 5 * 6 * 5, "{canary}");
    let o = analyze(&hosts_config, &out, "host-aggregates");
    assert_eq!(o.0, 0, "{}\n{}", o.1, o.2);
    assert!(o.1.contains("hosts as the unit"), "{}", o.1);
    let o = analyze(&pooled_config, &out, "aggregates");
    assert_eq!(o.0, 1, "the pooled aggregates: {}\n{}", o.1, o.2);

    let out = dir.path().join("slow-host");
    let path = root().join("datasets/scenarios/one-host-2x-slower.toml");
    let (code, _, stderr) = simulate(&path, &out, &["--aggregates", "300"]);
    assert_eq!(code, 0, "{stderr}");
    let o = analyze(&hosts_config, &out, "host-aggregates");
    assert_eq!(o.0, 1, "{}\n{}", o.1, o.2);
    assert!(o.1.contains("broken: h0"), "{}", o.1);
}
