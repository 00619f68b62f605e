//! `canaryd analyze`: judge a canary from files.

use std::io::Write as _;
use std::path::PathBuf;

use canary_judges::{Thresholds, Verdict};

use super::{CliError, exit};
use crate::analysis::{AnalysisReport, analyze};
use crate::collectors::file::FileCollector;
use crate::collectors::pairs::PairsCollector;
use crate::collectors::table::FileError;
use crate::collectors::{CollectError, CollectRequest, collect_blocking};
use crate::config::{CanaryConfig, ConfigError};
use crate::report::{OutputFormat, render};

#[derive(Debug, clap::Args)]
#[command(long_about = "Judge a canary from files.

Inputs are long-format CSV or Parquet files (by extension) with the columns `metric` and
`value`, an optional `timestamp` (RFC 3339 or unix seconds), and any other column as a label
(`api`, `region`, …). Each label set of a metric is judged on its own, pairing baseline and
canary by identical labels. With --pairs, a Kayenta MetricSetPair list (archived canary data)
is judged instead.")]
pub struct AnalyzeArgs {
    /// Canary config: canaryd TOML/JSON/YAML, or a Kayenta canary config JSON.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Baseline metrics (CSV or Parquet).
    #[arg(
        long,
        short = 'b',
        value_name = "FILE",
        required_unless_present = "pairs",
        requires = "canary"
    )]
    pub baseline: Option<PathBuf>,
    /// Canary metrics (CSV or Parquet).
    #[arg(
        long,
        short = 'k',
        value_name = "FILE",
        required_unless_present = "pairs",
        requires = "baseline"
    )]
    pub canary: Option<PathBuf>,
    /// Kayenta MetricSetPair list (JSON) instead of --baseline/--canary.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["baseline", "canary"])]
    pub pairs: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Score needed to pass (0–100); overrides the config's threshold.
    #[arg(long, value_name = "N")]
    pub pass: Option<f64>,
    /// Score needed for marginal (0–100); overrides the config's threshold.
    #[arg(long, value_name = "N")]
    pub marginal: Option<f64>,
}

fn thresholds(args: &AnalyzeArgs, config: &CanaryConfig) -> Result<Option<Thresholds>, CliError> {
    if args.pass.is_none() && args.marginal.is_none() {
        return Ok(None);
    }
    for (flag, v) in [("--pass", args.pass), ("--marginal", args.marginal)] {
        if let Some(v) = v
            && !(0.0..=100.0).contains(&v)
        {
            return Err(CliError::new(
                exit::USAGE,
                format!("{flag} must be between 0 and 100, got {v}"),
            ));
        }
    }
    let t = Thresholds {
        pass: args.pass.unwrap_or(config.thresholds.pass),
        marginal: args.marginal.unwrap_or(config.thresholds.marginal),
    };
    if t.marginal > t.pass {
        return Err(CliError::new(
            exit::USAGE,
            format!(
                "the marginal threshold ({}) is above the pass threshold ({})",
                t.marginal, t.pass
            ),
        ));
    }
    Ok(Some(t))
}

fn config_error(e: ConfigError) -> CliError {
    match e {
        ConfigError::Read { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            CliError::new(exit::NO_INPUT, e.to_string())
        }
        other => CliError::new(exit::CONFIG, config_message(&other)),
    }
}

/// One line for one problem; a list for several.
pub fn config_message(e: &ConfigError) -> String {
    match e.issues() {
        [] => e.to_string(),
        [one] => format!("invalid canary config: {one}"),
        many => {
            let mut s = format!("invalid canary config ({} problems):", many.len());
            for issue in many {
                s.push_str("\n  ");
                s.push_str(&issue.to_string());
            }
            s
        }
    }
}

fn collect_error(e: CollectError) -> CliError {
    match e {
        CollectError::File(f) if f.is_missing() => CliError::new(exit::NO_INPUT, f.to_string()),
        CollectError::File(FileError::UnknownExtension { file }) => CliError::new(
            exit::USAGE,
            FileError::UnknownExtension { file }.to_string(),
        ),
        other => CliError::new(exit::DATA, other.to_string()),
    }
}

/// Exit code of a verdict.
pub fn verdict_code(v: Verdict) -> u8 {
    match v {
        Verdict::Pass => exit::PASS,
        Verdict::Fail => exit::FAIL,
        Verdict::Marginal => exit::MARGINAL,
    }
}

/// Files hold their own window and carry no scopes.
fn files_request() -> CollectRequest {
    CollectRequest {
        baseline: Default::default(),
        canary: Default::default(),
        window: None,
    }
}

/// Load, collect and judge; the report without printing it.
pub fn analyze_files(args: &AnalyzeArgs) -> Result<(AnalysisReport, Vec<String>), CliError> {
    let config = CanaryConfig::load(&args.config).map_err(config_error)?;
    let thresholds = thresholds(args, &config)?;
    let mut warnings = Vec::new();
    let pairs = match (&args.pairs, &args.baseline, &args.canary) {
        (Some(p), _, _) => {
            let c = PairsCollector::open(p).map_err(collect_error)?;
            for name in c.unused_names(&config) {
                warnings.push(format!(
                    "{}: pairs named `{name}` match no metric of the config",
                    c.file
                ));
            }
            collect_blocking(&c, &config, &files_request()).map_err(collect_error)?
        }
        (None, Some(b), Some(k)) => {
            let c = FileCollector::open(b, k).map_err(collect_error)?;
            for name in c.unused_series(&config) {
                warnings.push(format!(
                    "metric `{name}` in the input files is not in the config; it was ignored"
                ));
            }
            collect_blocking(&c, &config, &files_request()).map_err(collect_error)?
        }
        _ => {
            return Err(CliError::new(
                exit::USAGE,
                "give --baseline and --canary, or --pairs",
            ));
        }
    };
    Ok((analyze(&config, &pairs, thresholds), warnings))
}

pub fn run(args: AnalyzeArgs) -> Result<u8, CliError> {
    let (report, warnings) = analyze_files(&args)?;
    for w in warnings {
        eprintln!("canaryd: warning: {w}");
    }
    let text = render(&report, args.format);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(CliError::new(
            exit::INTERNAL,
            format!("cannot write the report: {e}"),
        ));
    }
    Ok(verdict_code(report.verdict))
}
