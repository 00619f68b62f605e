//! `canaryd config`: check a canary config, or print the documented example.

use std::path::PathBuf;

use super::{CliError, exit};
use crate::collectors::file::series_warnings;
use crate::collectors::table::{SeriesSet, read_series};
use crate::config::{CanaryConfig, ConfigError};

/// The commented example config (also `datasets/demo/canary.toml`).
pub const EXAMPLE: &str = include_str!("../../datasets/demo/canary.toml");

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a canary config and summarise it; exit 78 with every problem if invalid.
    ///
    /// With --against, also check it against input files: every series the config reads
    /// must have rows in each file, and every series of the files must be read by some
    /// metric (typos are named with the closest name); exit 78 if not.
    Check {
        /// canaryd TOML/JSON/YAML or Kayenta canary config JSON.
        file: PathBuf,
        /// An input file (CSV or Parquet, as for `analyze`) the config must match; repeat
        /// for the baseline and the canary.
        #[arg(long, value_name = "FILE")]
        against: Vec<PathBuf>,
    },
    /// Print a commented example config in canaryd's TOML format.
    Example,
}

pub fn run(cmd: ConfigCommand) -> Result<u8, CliError> {
    match cmd {
        ConfigCommand::Example => {
            print!("{EXAMPLE}");
            Ok(exit::PASS)
        }
        ConfigCommand::Check { file, against } => match CanaryConfig::load(&file) {
            Ok(c) => {
                for w in &c.warnings {
                    eprintln!("canaryd: warning: {w}");
                }
                // The files are checked first: "ok" is printed only for a config that is.
                let matched = check_against(&c, &against)?;
                println!(
                    "{}: ok — config `{}`, {} metrics, pass ≥ {}, marginal ≥ {}",
                    file.display(),
                    c.name,
                    c.metrics.len(),
                    c.thresholds.pass,
                    c.thresholds.marginal
                );
                for m in &c.metrics {
                    let source = match &m.query {
                        Some(q) if q.split_by().is_empty() => {
                            format!("{}, prometheus {}", m.source, q.kind())
                        }
                        Some(q) => format!(
                            "{}, prometheus {} by {}",
                            m.source,
                            q.kind(),
                            q.split_by().join(",")
                        ),
                        None => m.source.to_string(),
                    };
                    println!(
                        "  {:<24} {:<13} groups {:<20} {}{}{}",
                        m.name,
                        m.judge.kind().as_str(),
                        m.groups.join(","),
                        source,
                        if m.options.critical { ", critical" } else { "" },
                        if m.muted { ", muted" } else { "" }
                    );
                }
                if let Some(m) = matched {
                    println!("{m}");
                }
                Ok(exit::PASS)
            }
            Err(ConfigError::Read { ref source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(CliError::new(
                    exit::NO_INPUT,
                    format!("{}: file not found", file.display()),
                ))
            }
            Err(e) => Err(CliError::new(
                exit::CONFIG,
                super::analyze::config_message(&e),
            )),
        },
    }
}

/// `config check --against`: the config's series and the files' series must agree. The
/// line to print when they do; `None` without files.
fn check_against(config: &CanaryConfig, files: &[PathBuf]) -> Result<Option<String>, CliError> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut sets: Vec<(String, SeriesSet)> = Vec::new();
    for f in files {
        let set = read_series(f).map_err(|e| {
            let code = if e.is_missing() {
                exit::NO_INPUT
            } else {
                exit::DATA
            };
            CliError::new(code, e.to_string())
        })?;
        sets.push((f.display().to_string(), set));
    }
    let named: Vec<(&str, &SeriesSet)> = sets.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let problems = series_warnings(config, &named);
    if problems.is_empty() {
        return Ok(Some(format!(
            "every series the config reads has rows in {}, and every series there is read",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        )));
    }
    let mut message = format!(
        "the config does not match the input files ({} problem{}):",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in &problems {
        message.push_str("\n  ");
        message.push_str(p);
    }
    Err(CliError::new(exit::CONFIG, message))
}
