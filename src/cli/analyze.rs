//! `canaryd analyze`: judge a canary from files.

use std::io::Write as _;
use std::path::PathBuf;

use canary_judges::{ScoringRules, Thresholds, Verdict};

use super::{CliError, exit};
use crate::analysis::detail::PairDetail;
use crate::analysis::timeline::{analyze_from, details, infer_step, start_time};
use crate::analysis::{AnalysisReport, analyze};
use crate::collectors::table::FileError;
use crate::collectors::{
    CollectError, CollectRequest, CollectedPair, CollectorConfig, collect_blocking,
};
use crate::config::{CanaryConfig, ConfigError};
use crate::report::charts::{Chart, write_png};
use crate::report::html::{MetricView, ReportMeta, ReportView, marks, report_page, slug};
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
    /// Scoring rules: `canaryd` (default: missing evidence holds, never passes) or `kayenta`
    /// (Kayenta's scorer exactly); overrides the config's `scoring`. See docs/judges.md.
    #[arg(long, value_name = "RULES", value_parser = parse_scoring)]
    pub scoring: Option<ScoringRules>,
    /// Also write a self-contained HTML report (inline charts, no external assets).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Also write PNG charts of every metric pair into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
}

/// `--scoring canaryd|kayenta`.
pub fn parse_scoring(s: &str) -> Result<ScoringRules, String> {
    ScoringRules::parse(s).ok_or_else(|| {
        format!(
            "unknown scoring rules `{s}`; use `canaryd` (the default) or `kayenta`{}",
            crate::suggest::hint(s, ["canaryd", "kayenta"])
        )
    })
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
        Verdict::Inconclusive => exit::INCONCLUSIVE,
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

/// What `analyze` judged: the report, warnings for the user, and the chart data when
/// asked for (`--report`, `--charts`).
pub struct Analyzed {
    pub report: AnalysisReport,
    pub warnings: Vec<String>,
    pub details: Vec<PairDetail>,
}

/// Load, collect and judge; the report without printing it.
pub fn analyze_files(args: &AnalyzeArgs) -> Result<(AnalysisReport, Vec<String>), CliError> {
    let a = analyze_with(args, false)?;
    Ok((a.report, a.warnings))
}

/// [`analyze_files`], with the chart data of every pair when `details` is set.
pub fn analyze_with(args: &AnalyzeArgs, with_details: bool) -> Result<Analyzed, CliError> {
    let mut config = CanaryConfig::load(&args.config).map_err(config_error)?;
    if let Some(rules) = args.scoring {
        config.scoring = Some(rules);
    }
    let thresholds = thresholds(args, &config)?;
    let mut warnings = config.warnings.clone();
    let source = match (&args.pairs, &args.baseline, &args.canary) {
        (Some(p), _, _) => CollectorConfig::Pairs { path: p.clone() },
        (None, Some(b), Some(k)) => CollectorConfig::File {
            baseline: b.clone(),
            canary: k.clone(),
        },
        _ => {
            return Err(CliError::new(
                exit::USAGE,
                "give --baseline and --canary, or --pairs",
            ));
        }
    };
    let collector = source.build().map_err(collect_error)?;
    warnings.extend(collector.warnings(&config));
    let pairs =
        collect_blocking(collector.as_ref(), &config, &files_request()).map_err(collect_error)?;
    // Data with timestamps is replayed in time order, so a sequential judge decides at the
    // step that settled it, as it would have live, and its chart comes from that replay;
    // the other judges see all the data at once either way.
    let timed = start_time(&pairs).map(|t0| {
        let step = replay_step(&pairs, t0);
        analyze_from(&config, &pairs, thresholds, t0, step, true)
    });
    let (mut report, traces) = match timed {
        Some(timed) => (timed.report, timed.traces),
        None => (analyze(&config, &pairs, thresholds), Vec::new()),
    };
    let details = if with_details {
        details(&config, &pairs, &traces)
    } else {
        Vec::new()
    };
    // The analysis' own warnings (hosts split by a host label…) after the collector's.
    let own: Vec<String> = report
        .warnings
        .iter()
        .filter(|w| !warnings.contains(w))
        .cloned()
        .collect();
    warnings.extend(own);
    report.warnings = warnings.clone();
    Ok(Analyzed {
        report,
        warnings,
        details,
    })
}

/// Most batches a file's data is replayed in: per-request timestamps would otherwise make
/// one batch per request.
const MAX_REPLAY_BATCHES: f64 = 2_000.0;

/// The step files are replayed by: the data's own scrape step (the median gap between
/// timestamps, 60 s without one), at least 1/[`MAX_REPLAY_BATCHES`] of the data's span.
fn replay_step(pairs: &[CollectedPair], t0: f64) -> f64 {
    let t1 = pairs
        .iter()
        .flat_map(|p| p.times.iter().flatten())
        .copied()
        .filter(|t| t.is_finite())
        .max_by(f64::total_cmp)
        .unwrap_or(t0);
    infer_step(pairs)
        .unwrap_or(60.0)
        .max((t1 - t0) / MAX_REPLAY_BATCHES)
}

/// Write the HTML report and the PNG charts asked for.
fn write_extras(args: &AnalyzeArgs, a: &Analyzed) -> Result<(), CliError> {
    let view = ReportView::of(&a.report);
    if let Some(path) = &args.report {
        let mut facts = vec![("config file".to_string(), args.config.display().to_string())];
        match (&args.pairs, &args.baseline, &args.canary) {
            (Some(p), _, _) => facts.push(("pairs".into(), p.display().to_string())),
            (None, Some(b), Some(k)) => {
                facts.push(("baseline".into(), b.display().to_string()));
                facts.push(("canary".into(), k.display().to_string()));
            }
            _ => {}
        }
        let html = report_page(
            &view,
            &a.details,
            &ReportMeta {
                facts,
                interim: false,
            },
        );
        std::fs::write(path, html).map_err(|e| {
            CliError::new(
                exit::CANT_CREATE,
                format!("cannot write the report {}: {e}", path.display()),
            )
        })?;
    }
    if let Some(dir) = &args.charts {
        let cant = |e: String| CliError::new(exit::CANT_CREATE, e);
        std::fs::create_dir_all(dir)
            .map_err(|e| cant(format!("cannot create {}: {e}", dir.display())))?;
        let by_name: std::collections::HashMap<String, &MetricView> =
            view.metrics.iter().map(|m| (m.display_name(), m)).collect();
        for d in &a.details {
            let Some(m) = by_name.get(&d.name) else {
                continue;
            };
            let stem = slug(&d.name);
            let marks = marks(m);
            let mut charts = vec![
                ("distribution", Chart::Distribution(d, &marks)),
                ("series", Chart::Series(d)),
            ];
            if d.sequence.is_some() {
                charts.push(("sequence", Chart::Sequence(d)));
            }
            for (kind, chart) in charts {
                let path = dir.join(format!("{stem}.{kind}.png"));
                write_png(chart, &path).map_err(|e| cant(e.to_string()))?;
            }
        }
    }
    Ok(())
}

pub fn run(args: AnalyzeArgs) -> Result<u8, CliError> {
    let analyzed = analyze_with(&args, args.report.is_some() || args.charts.is_some())?;
    for w in &analyzed.warnings {
        eprintln!("canaryd: warning: {w}");
    }
    write_extras(&args, &analyzed)?;
    let report = analyzed.report;
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
