//! `canaryd replay`: analyse many historical deploys, one row each.

use std::path::PathBuf;

use polars::prelude::*;

use super::{CliError, exit};
use crate::config::CanaryConfig;
use crate::replay::{Confusion, DeployResult, discover, replay_all};

/// Output formats of `replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayFormat {
    Csv,
    Parquet,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(long_about = "Analyse many historical deploys.

DEPLOYS is a folder of deploy folders, a single deploy folder, or a manifest (TOML:
[[deploys]] path = \"…\", label = \"good\"). A deploy folder holds baseline.csv|parquet and
canary.csv|parquet in the `analyze` format, an optional `label` file (good or bad) and, when
--config is not given, its own canary.toml|json|yaml. Output: one row per deploy (verdict,
score, failing metrics, seconds to the sequential judges' decision), and a confusion matrix
on stderr when labels exist. A broken deploy is reported in its row and skipped.")]
pub struct ReplayArgs {
    /// Folder of deploys, one deploy folder, or a manifest file.
    #[arg(long, value_name = "PATH")]
    pub deploys: PathBuf,
    /// Canary config for every deploy (else each deploy's own canary.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format (Parquet needs --out).
    #[arg(long, short = 'f', value_enum, default_value = "csv")]
    pub format: ReplayFormat,
    /// Write the rows to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Seconds per step when sequential judges replay a deploy.
    #[arg(long, default_value_t = 10.0)]
    pub step: f64,
    /// Scoring rules for every deploy: `canaryd` (default) or `kayenta`; overrides the
    /// configs' `scoring` (see docs/judges.md).
    #[arg(long, value_name = "RULES", value_parser = super::analyze::parse_scoring)]
    pub scoring: Option<canary_judges::ScoringRules>,
}

fn frame(rows: &[DeployResult]) -> PolarsResult<DataFrame> {
    let label: Vec<Option<&str>> = rows
        .iter()
        .map(|r| {
            r.label.map(|l| match l {
                crate::replay::Label::Good => "good",
                crate::replay::Label::Bad => "bad",
            })
        })
        .collect();
    df!(
        "deploy" => rows.iter().map(|r| r.deploy.as_str()).collect::<Vec<_>>(),
        "label" => label,
        "verdict" => rows.iter().map(|r| r.verdict.map(|v| v.as_str())).collect::<Vec<_>>(),
        "score" => rows.iter().map(|r| r.score).collect::<Vec<_>>(),
        "failing" => rows.iter().map(|r| r.failing.as_str()).collect::<Vec<_>>(),
        "decided_after_s" => rows.iter().map(|r| r.decided_after_s).collect::<Vec<_>>(),
        "error" => rows.iter().map(|r| r.error.as_deref()).collect::<Vec<_>>(),
    )
}

/// The rows as JSON (with the confusion matrix), CSV or Parquet, to `out` or stdout.
fn write_rows(
    rows: &[DeployResult],
    format: ReplayFormat,
    out: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let write_err = |e: String| CliError::new(exit::INTERNAL, e);
    match format {
        ReplayFormat::Json => {
            let body = serde_json::json!({ "deploys": rows, "confusion": Confusion::of(rows) });
            let mut text = serde_json::to_string_pretty(&body).expect("replay rows serialise");
            text.push('\n');
            match out {
                Some(p) => std::fs::write(p, text)
                    .map_err(|e| write_err(format!("{}: {e}", p.display())))?,
                None => print!("{text}"),
            }
        }
        ReplayFormat::Csv | ReplayFormat::Parquet => {
            let mut df = frame(rows).map_err(|e| write_err(e.to_string()))?;
            match (out, format) {
                (Some(p), ReplayFormat::Parquet) => {
                    let f = std::fs::File::create(p)
                        .map_err(|e| write_err(format!("{}: {e}", p.display())))?;
                    ParquetWriter::new(f)
                        .finish(&mut df)
                        .map_err(|e| write_err(e.to_string()))?;
                }
                (Some(p), _) => {
                    let mut f = std::fs::File::create(p)
                        .map_err(|e| write_err(format!("{}: {e}", p.display())))?;
                    CsvWriter::new(&mut f)
                        .finish(&mut df)
                        .map_err(|e| write_err(e.to_string()))?;
                }
                (None, _) => {
                    let mut out = std::io::stdout().lock();
                    CsvWriter::new(&mut out)
                        .finish(&mut df)
                        .map_err(|e| write_err(e.to_string()))?;
                }
            }
        }
    }
    Ok(())
}

pub fn run(args: ReplayArgs) -> Result<u8, CliError> {
    if args.step.is_nan() || args.step <= 0.0 {
        return Err(CliError::new(
            exit::USAGE,
            format!("--step must be positive, got {}", args.step),
        ));
    }
    if args.format == ReplayFormat::Parquet && args.out.is_none() {
        return Err(CliError::new(
            exit::USAGE,
            "--format parquet needs --out FILE",
        ));
    }
    let config = match &args.config {
        Some(path) => Some(
            CanaryConfig::load(path)
                .map_err(|e| CliError::new(exit::CONFIG, super::analyze::config_message(&e)))?,
        ),
        None => None,
    };
    let deploys =
        discover(&args.deploys).map_err(|e| CliError::new(exit::NO_INPUT, e.to_string()))?;
    if deploys.is_empty() {
        return Err(CliError::new(
            exit::NO_INPUT,
            format!("{}: no deploys found", args.deploys.display()),
        ));
    }
    let bar = indicatif::ProgressBar::new(deploys.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} deploys (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let rows = replay_all(
        &deploys,
        config.as_ref(),
        None,
        args.scoring,
        args.step,
        &|| bar.inc(1),
    );
    bar.finish_and_clear();
    for r in &rows {
        if let Some(e) = &r.error {
            eprintln!("canaryd: warning: deploy `{}` skipped: {e}", r.deploy);
        }
    }
    write_rows(&rows, args.format, args.out.as_deref())?;
    if let Some(m) = Confusion::of(&rows) {
        eprint!("{}", m.render());
    }
    let analysed = rows.iter().filter(|r| r.error.is_none()).count();
    eprintln!("canaryd: replayed {analysed} of {} deploys", rows.len());
    Ok(exit::PASS)
}
