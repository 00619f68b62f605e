//! The command line: one file per subcommand. Every failure becomes one clear message on
//! stderr and a documented exit code; a panic is reported as an internal error, never as
//! a backtrace.

pub mod analyze;
pub mod config;
pub mod evaluate;
pub mod incidents;
pub mod pipeline;
pub mod replay;
pub mod serve;
pub mod simulate;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit codes shared by every subcommand (documented in `--help` and the README).
pub mod exit {
    /// The canary passed (or the command succeeded).
    pub const PASS: u8 = 0;
    /// The canary failed (`pipeline run --wait`: the execution rolled back).
    pub const FAIL: u8 = 1;
    /// The canary is marginal.
    pub const MARGINAL: u8 = 2;
    /// `pipeline run --wait`: the execution failed (a router still failing after its
    /// retries): neither promoted nor rolled back by canaryd.
    pub const EXECUTION_FAILED: u8 = 3;
    /// The canary is inconclusive: what was judged would pass, but evidence is missing or
    /// undecided (the report's holds say which). Never a promotion.
    pub const INCONCLUSIVE: u8 = 4;
    /// Bad command line (unknown flag, missing argument, bad value).
    pub const USAGE: u8 = 64;
    /// An input file's content is wrong (malformed CSV, missing column, non-numeric value).
    pub const DATA: u8 = 65;
    /// An input file does not exist; for `pipeline`, the named pipeline or execution (404).
    pub const NO_INPUT: u8 = 66;
    /// The daemon cannot be reached, or answered that it is unavailable (sysexits
    /// `EX_UNAVAILABLE`).
    pub const UNAVAILABLE: u8 = 69;
    /// canaryd itself failed (a bug).
    pub const INTERNAL: u8 = 70;
    /// An output file cannot be written (`--report`, `--charts`; sysexits `EX_CANTCREAT`).
    pub const CANT_CREATE: u8 = 73;
    /// The daemon refused an operator's request in the execution's current state (HTTP 409:
    /// no judgment awaited, not an approver, already finished); nothing changed. The state
    /// may allow it later (sysexits `EX_TEMPFAIL`).
    pub const REFUSED: u8 = 75;
    /// The daemon refused the token: none, unknown, or read-only for a write (HTTP 401/403;
    /// sysexits `EX_NOPERM`).
    pub const NO_PERMISSION: u8 = 77;
    /// The canary config or pipeline spec is invalid.
    pub const CONFIG: u8 = 78;
}

/// Text appended to `--help`: exit codes.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0   pass (or success)
  1   the canary failed (pipeline run --wait: the execution rolled back)
  2   the canary is marginal
  3   pipeline run --wait: the execution failed (a router error)
  4   the canary is inconclusive: missing or undecided evidence held it (never a pass)
  64  bad command line
  65  bad input data (malformed file, missing column, non-numeric value)
  66  an input file, pipeline or execution does not exist
  69  the daemon cannot be reached or is unavailable
  70  internal error
  73  an output file (--report, --charts) cannot be written
  75  the daemon refused: not applicable in the execution's current state
  77  the daemon refused the token (missing, unknown or read-only)
  78  invalid canary config or pipeline spec";

/// An error that ends the command with `code`.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "canaryd",
    version,
    about = "Statistical canary analysis: is the canary worse than the baseline?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge a canary from files: baseline and canary metrics (CSV/Parquet) or Kayenta pairs.
    Analyze(analyze::AnalyzeArgs),
    /// Check or explain canary configs.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// List the judge kinds a canary config can use.
    Judges,
    /// Simulate a canary deploy from a scenario: requests, Prometheus scrapes, ground truth.
    Simulate(simulate::SimulateArgs),
    /// Compare judges on many simulated deploys: false rollbacks, time to detection.
    Evaluate(evaluate::EvaluateArgs),
    /// Analyse many historical deploys: one row per deploy, a confusion matrix with labels.
    Replay(replay::ReplayArgs),
    /// Judge canary configs on real recorded incidents (PetShop): recall and false alarms.
    BenchIncidents(incidents::BenchIncidentsArgs),
    /// Run the daemon: HTTP API (own and Kayenta dialect), live analyses against Prometheus.
    Serve(serve::ServeArgs),
    /// Drive pipelines on a running daemon: apply specs, run, follow, approve, roll back.
    Pipeline(pipeline::PipelineArgs),
}

fn judge_kinds_help() -> String {
    let mut s = String::from("Judge kinds:\n");
    for k in canary_judges::JUDGE_KINDS {
        s.push_str(&format!("  {:<14} {}\n", k.name, k.summary));
    }
    s
}

fn command() -> clap::Command {
    let kinds = judge_kinds_help();
    Cli::command()
        .after_help(EXIT_CODES_HELP)
        .mut_subcommand("analyze", |c| {
            c.after_help(format!("{kinds}\n{EXIT_CODES_HELP}"))
        })
        .mut_subcommand("judges", |c| c.after_help(kinds.clone()))
        .mut_subcommand("pipeline", |c| {
            c.after_help(pipeline::EXIT_HELP)
                .mut_subcommands(|s| s.after_help(pipeline::EXIT_HELP))
        })
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("canaryd: internal error: {info}");
        eprintln!("canaryd: this is a bug; please report it with the command line that caused it");
    }));
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            // Help asked for is success; help shown because the command is incomplete
            // (bare `canaryd`, `canaryd config`) is a usage error a script must notice.
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::PASS
                }
                _ => exit::USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(exit::USAGE);
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            eprintln!("canaryd: {}", e.message);
            ExitCode::from(e.code)
        }
        Err(_) => ExitCode::from(exit::INTERNAL),
    }
}

/// Write a report to `out`, or to stdout without one.
pub(crate) fn write_report(out: Option<&std::path::Path>, text: &str) -> Result<(), CliError> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            CliError::new(
                exit::INTERNAL,
                format!("cannot write {}: {e}", path.display()),
            )
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Run a parsed command; the `Ok` value is the exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Config(cmd) => config::run(cmd),
        Command::Simulate(args) => simulate::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Replay(args) => replay::run(args),
        Command::BenchIncidents(args) => incidents::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Pipeline(args) => pipeline::run(args),
        Command::Judges => {
            print!("{}", judge_kinds_help());
            Ok(exit::PASS)
        }
    }
}
