//! `canaryd config`: check a canary config, or print the documented example.

use std::path::PathBuf;

use super::{CliError, exit};
use crate::config::{CanaryConfig, ConfigError};

/// The commented example config (also `datasets/demo/canary.toml`).
pub const EXAMPLE: &str = include_str!("../../datasets/demo/canary.toml");

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a canary config and summarise it; exit 78 with every problem if invalid.
    Check {
        /// canaryd TOML/JSON/YAML or Kayenta canary config JSON.
        file: PathBuf,
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
        ConfigCommand::Check { file } => match CanaryConfig::load(&file) {
            Ok(c) => {
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
