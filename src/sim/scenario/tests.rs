use super::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "s.toml")
}

fn issues(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(s) => panic!("expected an invalid scenario, got {s:?}"),
        Err(e) => e.issues().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_minimal_scenario_gets_the_defaults() {
    let s = parse("name = \"x\"\n").expect("valid");
    assert_eq!(s.duration_s, 1800.0);
    assert_eq!(s.step_s, 10.0);
    assert_eq!(s.steps(), 180);
    assert_eq!(s.traffic, Traffic::default());
    assert_eq!(s.latency, Latency::default());
    assert_eq!(s.errors.rate, 0.001);
    assert_eq!(s.noise, Noise::default());
    assert!(s.changes.is_empty());
    assert_eq!(s.traffic.hosts_of(crate::sim::CANARY), 3);
    assert_eq!(s.traffic.rps_of(crate::sim::CANARY), 25.0);
}

#[test]
fn changes_get_their_kind_defaults() {
    let s = parse(
        r#"
name = "x"
[[changes]]
kind = "crash_loop"
[[changes]]
kind = "warmup_spike"
factor = 3
[[changes]]
kind = "tail_shift"
factor = 1.5
[[changes]]
kind = "latency_shift"
factor = 1.1
onset_s = 600
"#,
    )
    .expect("valid");
    assert_eq!(s.changes[0].kind, ChangeKind::CrashLoop);
    assert_eq!(s.changes[0].factor, 1.0);
    assert_eq!(s.changes[1].duration_s, Some(30.0));
    assert_eq!(
        s.changes[2].kind,
        ChangeKind::TailShift {
            quantile: 0.99,
            ramp_from: 0.9
        }
    );
    assert_eq!(s.changes[3].onset_s, 600.0);
    assert_eq!(s.changes[3].duration_s, None);
}

#[test]
fn validation_names_the_field_and_line() {
    let errs = issues("name = \"x\"\n[traffic]\nrps = 50\ncanary_share = 1.5\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("s.toml:4:1: traffic.canary_share: must be in (0, 1)"),
        "{errs:?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errs = issues(
        r#"
name = "x"
duration_s = 95
[latency]
sigma = 0
[errors]
rate = 2
[[changes]]
kind = "latency_shift"
quantile = 0.9
"#,
    );
    let all = errs.join("\n");
    for field in [
        "duration_s: must be a whole number of steps",
        "latency.sigma",
        "errors.rate",
        "changes[0].kind: a latency_shift change needs a `factor`",
        "changes[0].quantile: applies to tail_shift and median_shift only",
    ] {
        assert!(all.contains(field), "missing `{field}` in:\n{all}");
    }
}

#[test]
fn unknown_fields_and_kinds_are_refused_with_their_place() {
    let errs = issues("name = \"x\"\n[latency]\nmedian = 100\n");
    assert!(
        errs[0].starts_with("s.toml:3:1: latency.median: unknown field `median`"),
        "{errs:?}"
    );
    let errs = issues("name = \"x\"\n[[changes]]\nkind = \"slower\"\nfactor = 2\n");
    assert!(
        errs[0].contains("changes[0].kind: unknown change kind `slower`"),
        "{errs:?}"
    );
    let errs = issues("name = \"x\"\n[traffic]\nhosts = 2.5\n");
    assert!(errs[0].contains("traffic.hosts"), "{errs:?}");
}

#[test]
fn a_shift_that_would_reorder_quantiles_is_refused() {
    let errs = issues(
        "name = \"x\"\n[latency]\nsigma = 0.1\n[[changes]]\nkind = \"median_shift\"\nfactor = 2\n",
    );
    assert!(
        errs[0].contains("changes[0].factor: factor 2 would reorder quantiles"),
        "{errs:?}"
    );
}

#[test]
fn onsets_must_fall_inside_the_deploy() {
    let errs = issues(
        "name = \"x\"\nduration_s = 600\n[[changes]]\nkind = \"latency_shift\"\nfactor = 2\nonset_s = 600\n",
    );
    assert!(errs[0].contains("changes[0].onset_s"), "{errs:?}");
}

#[test]
fn hosts_affected_must_name_canary_hosts() {
    let errs = issues(
        "name = \"x\"\n[traffic]\nhosts = 5\ncanary_hosts = 2\n[[changes]]\nkind = \"crash_loop\"\nhosts_affected = 3\n[[changes]]\nkind = \"crash_loop\"\nhosts_affected = 0\n",
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("changes[0].hosts_affected") && errs[0].contains("2 hosts"));
    assert!(errs[1].contains("changes[1].hosts_affected"), "{errs:?}");
    let s = parse("name = \"x\"\n[[changes]]\nkind = \"crash_loop\"\nhosts_affected = 1\n")
        .expect("valid");
    assert_eq!(s.changes[0].hosts_affected, Some(1));
    assert!(s.changes[0].touches(0) && !s.changes[0].touches(1));
}

#[test]
fn a_missing_file_is_a_read_error() {
    let e = Scenario::load(Path::new("/nonexistent/scenario.toml")).expect_err("missing");
    assert!(e.is_missing());
    assert!(e.to_string().contains("/nonexistent/scenario.toml"));
}

#[test]
fn regressions_are_changes_that_make_the_canary_worse() {
    let s = parse(
        "name = \"x\"\n[[changes]]\nkind = \"warmup_spike\"\nfactor = 3\n[[changes]]\nkind = \"latency_shift\"\nfactor = 0.9\n",
    )
    .expect("valid");
    assert!(s.changes.iter().all(|c| !c.is_regression(s.errors.rate)));
    let s = parse("name = \"x\"\n[[changes]]\nkind = \"error_rate\"\nfactor = 5\n").expect("valid");
    assert!(s.changes[0].is_regression(s.errors.rate));
}

#[test]
fn changes_act_at_step_resolution() {
    let c = Change {
        kind: ChangeKind::WarmupSpike,
        factor: 3.0,
        onset_s: 0.0,
        duration_s: Some(30.0),
        hosts_affected: None,
    };
    let active: Vec<bool> = (0..5)
        .map(|i| c.active(f64::from(i) * 10.0, 10.0))
        .collect();
    assert_eq!(active, [true, true, true, false, false]);
}

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("datasets/scenarios exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert_eq!(
            s.name,
            stem,
            "{}: name should match the file name",
            path.display()
        );
        assert!(
            !s.description.is_empty(),
            "{}: no description",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 19, "only {n} scenarios in {}", dir.display());
}

#[test]
fn sizes_that_cannot_be_simulated_are_refused() {
    let all = issues("name = \"x\"\n[traffic]\nrps = 1e9\nhosts = 100000\n").join("\n");
    assert!(all.contains("traffic.rps: 1.800e12 requests"), "{all}");
    assert!(all.contains("traffic.hosts: 100000 is too many"), "{all}");
}
