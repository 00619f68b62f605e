//! `canaryd evaluate`: every judge on many simulated deploys, side by side.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use super::{CliError, exit};
use crate::eval::monitors::{MONITORS, MonitorSettings, STUDY_MONITORS};
use crate::eval::{EvalOptions, evaluate, markdown};
use crate::sim::scenario::Scenario;

/// Output formats of `evaluate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(long_about = "Evaluate judges on simulated deploys.

Every judge watches every simulated deploy scrape by scrape (continuous monitoring) and may
roll back at any scrape. Reported per scenario and judge: the share of runs that failed,
passed and stayed inconclusive; for scenarios without a regression the false-rollback rate
with a one-sided 95% Clopper-Pearson upper bound; for scenarios with one, the canary
requests and seconds from onset to rollback (median and p90) and the excess bad requests
served before it. Same seed, same numbers; runs are spread over all cores (or --threads), with a
progress bar on stderr.")]
pub struct EvaluateArgs {
    /// Scenario files (TOML, see datasets/scenarios/).
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    pub scenarios: Vec<PathBuf>,
    /// Runs per scenario.
    #[arg(long, default_value_t = 200)]
    pub runs: usize,
    /// Judges to compare (comma-separated). Default: every judge canaryd has; `rank` (the
    /// sequential rank test for shifts, under study) only when named.
    #[arg(long, value_delimiter = ',', default_values_t = MONITORS.iter().map(|s| s.to_string()).collect::<Vec<_>>())]
    pub judges: Vec<String>,
    /// Base seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sequential judge: false-alarm rate of the whole analysis.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// Sequential judge: deviation band (0.05 = 5%).
    #[arg(long, default_value_t = 0.05)]
    pub tolerance: f64,
    /// Sequential and hosts judges: fail band for the error-rate ratio (0.5 = errors may
    /// rise by half before a rise is a regression; the scenarios' smallest error regression
    /// is a doubling, which must lie beyond the band).
    #[arg(long, default_value_t = 0.5)]
    pub error_tolerance: f64,
    /// Sequential judge: a pass band, `KEY=VALUE` (`p50=0.05`, `p99=0.2`, `rate=1`,
    /// `mean=0.1`); repeat for several. Keys not given keep canaryd's defaults.
    #[arg(long = "pass-band", value_name = "KEY=VALUE", value_parser = parse_pass_band)]
    pub pass_bands: Vec<(String, f64)>,
    /// Seconds of warm-up ignored by every judge (a scenario's own warm-up wins).
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Kayenta analysis interval in seconds for `mann_whitney_intervals`.
    #[arg(long, default_value_t = 300.0)]
    pub mw_interval: f64,
    /// Seconds per aggregate point for `band` (per-interval p50/p90/p99 and error rate;
    /// a scenario's `[evaluation] aggregate_s` wins).
    #[arg(long, default_value_t = 300.0)]
    pub aggregate_interval: f64,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "markdown")]
    pub format: EvalFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core). The numbers do not depend on it: every run
    /// has its own seed.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// `p50=0.05` → ("p50", 0.05); the key itself is checked with the judge's config.
fn parse_pass_band(s: &str) -> Result<(String, f64), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE (e.g. p50=0.05), got `{s}`"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    Ok((key.trim().to_string(), value))
}

/// The flags checked (runs, judges, α, pass bands); the pass bands to judge with.
fn checked_settings(args: &EvaluateArgs) -> Result<BTreeMap<String, f64>, CliError> {
    if args.runs == 0 {
        return Err(CliError::new(exit::USAGE, "--runs must be at least 1"));
    }
    if let Some(bad) = args
        .judges
        .iter()
        .find(|j| !MONITORS.contains(&j.as_str()) && !STUDY_MONITORS.contains(&j.as_str()))
    {
        return Err(CliError::new(
            exit::USAGE,
            format!(
                "unknown judge `{bad}`; known: {} (and, by name only, {})",
                MONITORS.join(", "),
                STUDY_MONITORS.join(", ")
            ),
        ));
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        return Err(CliError::new(
            exit::USAGE,
            format!("--alpha must be between 0 and 1, got {}", args.alpha),
        ));
    }
    let mut pass_bands = canary_judges::sequential::default_pass_bands();
    pass_bands.extend(args.pass_bands.iter().cloned());
    let probe = canary_judges::SequentialConfig {
        pass_bands: pass_bands.clone(),
        ..Default::default()
    };
    if let Some(e) = probe.validate().first() {
        return Err(CliError::new(
            exit::USAGE,
            format!("--pass-band: {}", e.message),
        ));
    }
    Ok(pass_bands)
}

pub fn run(args: EvaluateArgs) -> Result<u8, CliError> {
    let pass_bands = checked_settings(&args)?;
    let mut scenarios = Vec::new();
    for path in &args.scenarios {
        let s = Scenario::load(path).map_err(|e| {
            let code = if e.is_missing() {
                exit::NO_INPUT
            } else {
                exit::CONFIG
            };
            CliError::new(code, e.to_string())
        })?;
        scenarios.push(s);
    }
    let options = EvalOptions {
        runs: args.runs,
        seed: args.seed,
        judges: args.judges.clone(),
        settings: MonitorSettings {
            warmup_s: args.warmup,
            tolerance: args.tolerance,
            error_tolerance: args.error_tolerance,
            alpha: args.alpha,
            mw_interval_s: args.mw_interval,
            aggregate_s: args.aggregate_interval,
            pass_bands,
            ..MonitorSettings::default()
        },
    };
    let total = (scenarios.len() * args.runs) as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} runs ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let pool = match args.threads {
        Some(0) => return Err(CliError::new(exit::USAGE, "--threads must be at least 1")),
        Some(n) => rayon::ThreadPoolBuilder::new().num_threads(n).build(),
        None => rayon::ThreadPoolBuilder::new().build(),
    }
    .map_err(|e| CliError::new(exit::INTERNAL, format!("cannot start worker threads: {e}")))?;
    let started = Instant::now();
    let report = pool.install(|| evaluate(&scenarios, &options, &|| bar.inc(1)));
    bar.finish_and_clear();
    eprintln!(
        "canaryd: evaluated {} runs of {} scenarios × {} judges in {:.1} s",
        total,
        scenarios.len(),
        options.judges.len(),
        started.elapsed().as_secs_f64()
    );
    let text = match args.format {
        EvalFormat::Markdown => markdown(&report),
        EvalFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report)
                .expect("an evaluation report always serialises");
            s.push('\n');
            s
        }
    };
    super::write_report(args.out.as_deref(), &text)?;
    Ok(exit::PASS)
}
