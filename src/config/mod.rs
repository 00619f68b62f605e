//! Canary configs: which metrics to judge, how, in which groups, and the score thresholds.
//!
//! Three spellings are read — canaryd's own format in TOML, JSON or YAML
//! ([`raw::RawConfig`], documented in `docs/config.md` with a commented example in
//! `datasets/demo/canary.toml`), and Kayenta's canary-config JSON ([`kayenta`]) — and all
//! are validated into one [`CanaryConfig`]. Every problem is reported with the file,
//! `line:column` and the field, and all problems of a file are reported at once.

pub mod kayenta;
pub mod query;
pub mod raw;
pub mod source;

mod read;
use read::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use canary_judges::{
    Aggregate, Combine, EffectSizeConfig, EffectSizeMeasure, JudgeConfig, MetricOptions,
    NanStrategy, Outliers, ScoringRules, Thresholds,
};

use self::source::{DeError, FieldPath, Format, Pos, SourceTree};

/// The group a metric belongs to when it names none.
pub const DEFAULT_GROUP: &str = "default";

/// A validated canary config.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryConfig {
    pub name: String,
    pub description: Option<String>,
    pub applications: Vec<String>,
    /// The config's own thresholds (a request's thresholds take precedence).
    pub thresholds: Thresholds,
    /// Configured group weights; groups without one share the remainder.
    pub group_weights: BTreeMap<String, f64>,
    pub metrics: Vec<MetricConfig>,
    /// Kayenta query templates, kept for the Prometheus collector.
    pub kayenta_templates: BTreeMap<String, String>,
    /// The scoring rules the config asks for (`scoring = "kayenta"`); `None` leaves the
    /// choice to the caller (command line, daemon setting), whose default is canaryd's.
    pub scoring: Option<ScoringRules>,
    /// How judged failures combine into the verdict (`combine = "any"`; see
    /// docs/judges.md): by default a failure of a judge that controls false alarms across
    /// the analysis (`band`, `sequential`) fails it on its own, others count by shares.
    pub combine: Combine,
    /// Things in the file canaryd accepted but did not use (unknown Kayenta fields), one
    /// sentence each; reported with every analysis of this config.
    pub warnings: Vec<String>,
}

/// Where a metric's observations come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricSource {
    /// One series of values (files: rows whose `metric` column is this name).
    Series(String),
    /// Event counts: events (e.g. errors) out of totals (e.g. requests), per interval.
    Counts { events: String, total: String },
}

impl fmt::Display for MetricSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricSource::Series(s) => write!(f, "series `{s}`"),
            MetricSource::Counts { events, total } => {
                write!(f, "events `{events}` out of `{total}`")
            }
        }
    }
}

/// One metric of a validated config.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricConfig {
    pub name: String,
    pub source: MetricSource,
    /// Never empty: a metric that names no group is in [`DEFAULT_GROUP`].
    pub groups: Vec<String>,
    pub options: MetricOptions,
    pub muted: bool,
    pub judge: JudgeConfig,
    /// The Kayenta query object, when the config came from Kayenta.
    pub kayenta_query: Option<serde_json::Value>,
    /// What the Prometheus collector runs; `None` for metrics only files provide.
    pub query: Option<query::PromQuery>,
    /// The unit of the values (`unit = "ms"`, or the Prometheus metric's suffix).
    pub unit: Option<String>,
    /// Hosts as the unit: the label naming a host (`unit_label`, the metric's or the
    /// config's); the metric is then judged host by host (`crate::analysis::hosts`).
    pub unit_label: Option<String>,
    /// Per-interval aggregates: the series holding the requests behind each value
    /// (`requests = "requests"`; files only), same labels and timestamps.
    pub requests: Option<String>,
}

impl MetricConfig {
    /// True when the metric's observations are event counts (errors out of requests).
    pub fn is_counts(&self) -> bool {
        matches!(self.source, MetricSource::Counts { .. })
            || matches!(self.query, Some(query::PromQuery::Ratio { .. }))
    }
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub file: String,
    pub pos: Option<Pos>,
    /// The field, as a path (`metrics[2].judge.kind`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, p.line, p.column, self.field, self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.field, self.message),
        }
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: unknown config format; use a .toml, .json, .yaml or .yml file")]
    UnknownFormat { file: String },
    #[error("{}", display_issues(.0))]
    Invalid(Vec<ConfigIssue>),
}

fn display_issues(issues: &[ConfigIssue]) -> String {
    let mut out = String::new();
    for (i, issue) in issues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&issue.to_string());
    }
    out
}

impl ConfigError {
    /// The individual problems (empty for read and format errors).
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            ConfigError::Invalid(issues) => issues,
            _ => &[],
        }
    }
}

impl CanaryConfig {
    /// Read and validate a config file; the format follows the extension.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let format = Format::from_path(path)
            .ok_or_else(|| ConfigError::UnknownFormat { file: file.clone() })?;
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, format, &file)
    }

    /// Parse and validate config text; `file` names it in errors.
    pub fn parse(text: &str, format: Format, file: &str) -> Result<Self, ConfigError> {
        let tree = SourceTree::parse(text, format);
        let issue = |path: &FieldPath, message: String| ConfigIssue {
            file: file.to_string(),
            pos: tree.as_ref().map(|t| t.locate(path)),
            field: path.to_string(),
            message,
        };
        let de_issue = |e: DeError| {
            let (path, message) = refine_de_error(e.path, lowercase_first(&e.message));
            // The deserialiser's own position is exact for syntax errors; the tree's is
            // exact for fields (including inside buffered, tagged tables).
            let pos = match (&tree, e.pos) {
                (Some(t), _) if !path.0.is_empty() => Some(t.locate(&path)),
                (_, Some(p)) => Some(p),
                (Some(t), None) => Some(t.locate(&path)),
                (None, None) => None,
            };
            (
                path.clone(),
                ConfigIssue {
                    file: file.to_string(),
                    pos,
                    field: path.to_string(),
                    message: with_suggestion(message),
                },
            )
        };
        let from_de = |e: DeError| ConfigError::Invalid(vec![de_issue(e).1]);

        let kayenta = format == Format::Json
            && serde_json::from_str::<serde_json::Value>(text)
                .is_ok_and(|doc| kayenta::looks_like_kayenta(&doc));
        let (config, problems) = if kayenta {
            let raw: kayenta::KayentaConfig = source::deserialize(text, format).map_err(from_de)?;
            let (mut config, problems) = from_kayenta(raw);
            let unknown = kayenta::unknown_fields(text).into_iter();
            config.warnings = std::mem::take(&mut config.warnings)
                .into_iter()
                .chain(unknown)
                .map(|w| format!("{file}: {w}"))
                .collect();
            (config, problems)
        } else {
            let (raw, mut unknown) = read_raw(text, format, &de_issue);
            // Re-reads visit keys in sorted order: report in the file's order.
            unknown.sort_by_key(|i| i.pos.map(|p| (p.line, p.column)));
            match raw {
                None => return Err(ConfigError::Invalid(unknown)),
                Some(raw) => {
                    let (config, problems) = from_raw(raw);
                    if !unknown.is_empty() {
                        let mut all = unknown;
                        all.extend(
                            problems
                                .into_iter()
                                .map(|(path, message)| issue(&FieldPath::parse(&path), message)),
                        );
                        return Err(ConfigError::Invalid(all));
                    }
                    (config, problems)
                }
            }
        };
        let issues: Vec<ConfigIssue> = problems
            .into_iter()
            .map(|(path, message)| issue(&FieldPath::parse(&path), message))
            .collect();
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(issues))
        }
    }

    /// Every series name the config reads (for collectors and for spotting typos).
    pub fn series_names(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for m in &self.metrics {
            match &m.source {
                MetricSource::Series(s) => {
                    out.insert(s.as_str());
                    if let Some(r) = &m.requests {
                        out.insert(r.as_str());
                    }
                }
                MetricSource::Counts { events, total } => {
                    out.insert(events.as_str());
                    out.insert(total.as_str());
                }
            }
        }
        out
    }
}

/// Unknown-field and unknown-variant errors name the offending key inside the table
/// the path points to; move the path onto that key.
pub(crate) fn refine_de_error(path: FieldPath, message: String) -> (FieldPath, String) {
    use source::Seg;
    let last_key = |p: &FieldPath, k: &str| matches!(p.0.last(), Some(Seg::Key(x)) if x == k);
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
        && !last_key(&path, &rest[..end])
    {
        return (path.key(&rest[..end]), message);
    }
    if message.starts_with("unknown variant `") {
        // Judge tables are tagged by `kind`; depending on the format the path ends at the
        // table or at the key.
        let in_judge = last_key(&path, "judge")
            || (last_key(&path, "kind")
                && path.0.len() >= 2
                && path.0[path.0.len() - 2] == Seg::Key("judge".into()));
        // Only the judge kinds' list names `mann_whitney`: another enum inside a judge
        // table (`values`, `aggregate`) keeps its own message.
        if in_judge && message.contains("`mann_whitney`") {
            let path = if last_key(&path, "kind") {
                path
            } else {
                path.key("kind")
            };
            return (
                path,
                message.replacen("unknown variant", "unknown judge kind", 1),
            );
        }
    }
    (path, message)
}

/// A deserialisation error of `text` as `file:line:column: field: message`, with the
/// position of the field itself (also inside tagged tables).
pub(crate) fn locate_de_error(text: &str, format: Format, file: &str, e: DeError) -> String {
    let tree = SourceTree::parse(text, format);
    let (path, message) = refine_de_error(e.path, lowercase_first(&e.message));
    let pos = match (&tree, e.pos) {
        (Some(t), _) if !path.0.is_empty() => Some(t.locate(&path)),
        (_, Some(p)) => Some(p),
        (Some(t), None) => Some(t.locate(&path)),
        (None, None) => None,
    };
    match pos {
        Some(p) => format!("{file}:{}:{}: {path}: {message}", p.line, p.column),
        None => format!("{file}: {path}: {message}"),
    }
}

/// "unknown field `critcal`, expected one of `name`, `critical`, …" becomes "unknown field
/// `critcal`; did you mean `critical`?" when one of the expected names is close (also for
/// unknown variants); otherwise the full list stays.
fn with_suggestion(message: String) -> String {
    let Some(rest) = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))
        .or_else(|| message.strip_prefix("unknown judge kind `"))
    else {
        return message;
    };
    let Some(end) = rest.find('`') else {
        return message;
    };
    let (name, after) = (&rest[..end], &rest[end + 1..]);
    let Some(expected) = after.find("expected").map(|i| &after[i..]) else {
        return message;
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match crate::suggest::did_you_mean(name, candidates) {
        // The suggestion says it all; the full list only when nothing is close.
        Some(close) => format!(
            "{}; did you mean `{close}`?",
            message[..message.len() - after.len()].trim_end_matches([',', ' '])
        ),
        None => message,
    }
}

/// Deserialisers disagree on capitalisation ("Unknown field" vs "unknown field").
fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
