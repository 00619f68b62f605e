//! `canaryd bench-incidents`: canary configs on real recorded incidents, side by side.

use std::path::PathBuf;
use std::time::Instant;

use super::analyze::config_message;
use super::{CliError, exit};
use crate::config::CanaryConfig;
use crate::eval::incidents::{Dataset, Row, cases, designs, judge, markdown, read_dataset};
use crate::report::{OutputFormat, json, render};

/// Output formats of `bench-incidents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchFormat {
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Judge canary configs on real incidents: the PetShop dataset's 68 injected
incidents (bad canaries, against clean buckets of the same recording run) and its no-issue
recordings (healthy canaries, one window per hour), read in place.

Reported per config and case design: recall (incidents whose verdict is fail or marginal),
false alarms (healthy windows whose verdict is fail or marginal) and inconclusive verdicts.
The shipped design (baseline 12 buckets, canary 4) is varied one change at a time —
baseline size, canary length, baseline distance in time — to show how the numbers move.
See docs/evaluation.md."
)]
pub struct BenchIncidentsArgs {
    /// The PetShop dataset's directory (holding `dataset/`).
    #[arg(long, default_value = "../shared/datasets/petshop", value_name = "DIR")]
    pub data: PathBuf,
    /// Canary configs to compare (metrics latency_p50/p90/p99 and availability, label node).
    #[arg(long = "config", short = 'c', value_name = "FILE", num_args = 1..,
          default_values = ["datasets/petshop/canary.toml", "datasets/petshop/kayenta.toml"])]
    pub configs: Vec<PathBuf>,
    /// Only the shipped design (baseline 12 buckets, canary 4), not its variations.
    #[arg(long)]
    pub shipped_only: bool,
    /// List the incidents each config missed under the shipped design.
    #[arg(long)]
    pub missed: bool,
    /// List the healthy windows each config flagged under the shipped design, with the
    /// series it judged worse in each.
    #[arg(long)]
    pub false_alarms: bool,
    /// Print one case's whole analysis (shipped design) by each config instead of the
    /// table: an incident's name (e.g. `low_traffic/test/issue_10`) or a healthy window's
    /// (e.g. `high_traffic/noissue@1694001600`, as `--false-alarms` names them).
    #[arg(long, value_name = "NAME")]
    pub case: Option<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "markdown")]
    pub format: BenchFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: BenchIncidentsArgs) -> Result<u8, CliError> {
    let mut configs = Vec::new();
    for path in &args.configs {
        let config = CanaryConfig::load(path).map_err(|e| {
            let code = match &e {
                crate::config::ConfigError::Read { source, .. }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    exit::NO_INPUT
                }
                _ => exit::CONFIG,
            };
            CliError::new(code, format!("{}: {}", path.display(), config_message(&e)))
        })?;
        configs.push(config);
    }
    let started = Instant::now();
    let data =
        read_dataset(&args.data).map_err(|e| CliError::new(exit::NO_INPUT, e.to_string()))?;
    if let Some(name) = &args.case {
        return explain(&data, &configs, name, args.format, args.out.as_deref());
    }
    let mut designs = designs();
    if args.shipped_only {
        designs.truncate(1);
    }
    let bar = indicatif::ProgressBar::new((designs.len() * configs.len()) as u64);
    let mut rows: Vec<Row> = Vec::new();
    for design in designs {
        let cases = cases(&data, design);
        for config in &configs {
            rows.push(crate::eval::incidents::run(
                &config.name,
                config,
                design,
                &cases,
            ));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    eprintln!(
        "canaryd: {} incidents and {} healthy recordings judged by {} configs under {} designs in {:.1} s",
        data.incidents.len(),
        data.healthy.len(),
        configs.len(),
        rows.len() / configs.len().max(1),
        started.elapsed().as_secs_f64()
    );
    let text = match args.format {
        BenchFormat::Markdown => {
            let mut s = markdown(&rows);
            if args.missed {
                for r in rows.iter().take(configs.len()) {
                    s.push_str(&format!(
                        "\n{} missed {} of {} incidents: {}\n",
                        r.config,
                        r.missed.len(),
                        r.incidents,
                        r.missed.join(", ")
                    ));
                }
            }
            if args.false_alarms {
                for r in rows.iter().take(configs.len()) {
                    s.push_str(&format!(
                        "\n{} flagged {} of {} healthy windows:\n",
                        r.config,
                        r.false_alarms.len(),
                        r.healthy
                    ));
                    for f in &r.false_alarms {
                        s.push_str(&format!("- {f}\n"));
                    }
                }
            }
            s
        }
        BenchFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(&rows).expect("benchmark rows always serialise");
            s.push('\n');
            s
        }
    };
    super::write_report(args.out.as_deref(), &text)?;
    Ok(exit::PASS)
}

/// `--case NAME`: one case's analysis by every config, in the analysis's own output.
fn explain(
    data: &Dataset,
    configs: &[CanaryConfig],
    name: &str,
    format: BenchFormat,
    out: Option<&std::path::Path>,
) -> Result<u8, CliError> {
    let design = designs()[0];
    let cases = cases(data, design);
    let Some(case) = cases.iter().find(|c| c.name == name) else {
        let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        names.truncate(5);
        return Err(CliError::new(
            exit::USAGE,
            format!(
                "no case named {name:?} (cases are named like {}, ...; see --missed and --false-alarms)",
                names.join(", ")
            ),
        ));
    };
    let mut text = String::new();
    for config in configs {
        let report = judge(config, case);
        match format {
            BenchFormat::Markdown => {
                text.push_str(&format!(
                    "## {} on {} ({}; baseline {} buckets)\n\n",
                    config.name,
                    case.name,
                    if case.incident { "incident" } else { "healthy" },
                    case.baseline_len
                ));
                text.push_str(&render(&report, OutputFormat::Markdown));
                text.push('\n');
            }
            BenchFormat::Json => {
                text.push_str(&json(&report));
                text.push('\n');
            }
        }
    }
    super::write_report(out, &text)?;
    Ok(exit::PASS)
}
