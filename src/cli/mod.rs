//! The command line: one file per subcommand. Every failure becomes one clear message on
//! stderr and a documented exit code; a panic is reported as an internal error, never as
//! a backtrace.

pub mod analyze;
pub mod config;
pub mod evaluate;
pub mod replay;
pub mod serve;
pub mod simulate;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit codes shared by every subcommand (documented in `--help` and the README).
pub mod exit {
    /// The canary passed (or the command succeeded).
    pub const PASS: u8 = 0;
    /// The canary failed.
    pub const FAIL: u8 = 1;
    /// The canary is marginal.
    pub const MARGINAL: u8 = 2;
    /// Bad command line (unknown flag, missing argument, bad value).
    pub const USAGE: u8 = 64;
    /// An input file's content is wrong (malformed CSV, missing column, non-numeric value).
    pub const DATA: u8 = 65;
    /// An input file does not exist.
    pub const NO_INPUT: u8 = 66;
    /// canaryd itself failed (a bug).
    pub const INTERNAL: u8 = 70;
    /// The canary config is invalid.
    pub const CONFIG: u8 = 78;
}

/// Text appended to `--help`: exit codes.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0   pass (or success)
  1   the canary failed
  2   the canary is marginal
  64  bad command line
  65  bad input data (malformed file, missing column, non-numeric value)
  66  an input file does not exist
  70  internal error
  78  invalid canary config";

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
    /// Run the daemon: HTTP API (own and Kayenta dialect), live analyses against Prometheus.
    Serve(serve::ServeArgs),
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
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit::PASS,
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

/// Run a parsed command; the `Ok` value is the exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Config(cmd) => config::run(cmd),
        Command::Simulate(args) => simulate::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Judges => {
            print!("{}", judge_kinds_help());
            Ok(exit::PASS)
        }
    }
}
