//! Integration tests of canaryd: one binary, one module per area. CLI tests run the real
//! `canaryd` binary the way users do.

mod analyze_cli;
mod bench_incidents;
mod browser;
mod config_validation;
mod docs_examples;
mod e2e_pipelines;
mod evaluate_replay;
mod faults;
mod hosts_unit;
mod inputs;
mod layers;
mod numbers_agree;
mod openapi;
mod parsers_fuzz;
mod pipeline_cli;
mod prometheus_harness;
mod rooms;
mod routers;
mod security;
mod serve_api;
mod serve_pipelines;
mod serve_prometheus;
mod simulate_cli;
mod support;
mod ui_http;
mod verdict_integrity;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the demo dataset.
pub fn demo(name: &str) -> PathBuf {
    root().join("datasets/demo").join(name)
}

/// Run `canaryd` with `args`.
pub fn canaryd<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_canaryd"))
        .args(args)
        .output()
        .expect("the canaryd binary runs")
}

/// Exit code, stdout and stderr of a run.
pub fn outcome(out: &Output) -> (i32, String, String) {
    (
        out.status
            .code()
            .expect("canaryd exited normally, not by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `analyze` of the demo config over two files, with extra arguments.
pub fn analyze(
    config: &Path,
    baseline: &Path,
    canary: &Path,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args: Vec<std::ffi::OsString> =
        vec!["analyze".into(), "--config".into(), config.into()];
    args.extend([
        "--baseline".into(),
        baseline.into(),
        "--canary".into(),
        canary.into(),
    ]);
    args.extend(extra.iter().map(|s| std::ffi::OsString::from(*s)));
    outcome(&canaryd(args))
}

/// No run may end in a panic or a backtrace.
pub fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "canaryd panicked:\n{stderr}"
    );
}
