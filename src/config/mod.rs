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
            // Every field problem at once: each is reported, the field dropped, and the rest
            // read again, so a file with three typos is fixed in one round, not three.
            let mut unknown: Vec<ConfigIssue> = Vec::new();
            let mut removed: Vec<FieldPath> = Vec::new();
            let mut doc: Option<serde_json::Value> = None;
            let raw = loop {
                let attempt = match &doc {
                    None => source::deserialize::<raw::RawConfig>(text, format),
                    Some(v) => source::deserialize_value(v.clone()),
                };
                let e = match attempt {
                    Ok(raw) => break Some(raw),
                    Err(e) => e,
                };
                let message = e.message.to_lowercase();
                let (mut path, issue) = de_issue(e);
                if message.starts_with("missing field") && !removed.is_empty() {
                    // Most likely a field this loop dropped; the problem is reported already.
                    break None;
                }
                unknown.push(issue);
                let droppable = [
                    "unknown field",
                    "unknown variant",
                    "invalid type",
                    "invalid value",
                ]
                .iter()
                .any(|p| message.starts_with(p));
                if !droppable || unknown.len() >= 100 {
                    break None;
                }
                // A judge's unknown `kind` leaves nothing of its table to read.
                if matches!(path.0.last(), Some(source::Seg::Key(k)) if k == "kind") {
                    path.0.pop();
                }
                if doc.is_none() {
                    doc = source::to_value(text, format);
                }
                if !doc.as_mut().is_some_and(|v| source::remove_at(v, &path)) {
                    break None;
                }
                removed.push(path);
            };
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

type Problems = Vec<(String, String)>;

fn from_raw(raw: raw::RawConfig) -> (CanaryConfig, Problems) {
    let default_judge = raw.judge.clone().unwrap_or_default();
    let metrics: Vec<MetricConfig> = raw
        .metrics
        .iter()
        .map(|m| MetricConfig {
            name: m.name.clone(),
            source: match (&m.events, &m.total) {
                (Some(e), Some(t)) => MetricSource::Counts {
                    events: e.clone(),
                    total: t.clone(),
                },
                _ => MetricSource::Series(m.series.clone().unwrap_or_else(|| m.name.clone())),
            },
            groups: if m.groups.is_empty() {
                vec![DEFAULT_GROUP.to_string()]
            } else {
                m.groups.clone()
            },
            options: MetricOptions {
                direction: m.direction,
                nan_strategy: m.nan_strategy,
                outliers: m.outliers,
                effect_size: m.effect_size,
                critical: m.critical,
                must_have_data: m.must_have_data,
            },
            muted: m.muted,
            judge: m.judge.clone().unwrap_or_else(|| default_judge.clone()),
            kayenta_query: None,
            unit: m
                .unit
                .clone()
                .or_else(|| m.query.as_ref().and_then(query::PromQuery::unit)),
            unit_label: m.unit_label.clone().or_else(|| raw.unit_label.clone()),
            requests: m.requests.clone(),
            query: m.query.clone().map(|q| {
                match m.unit_label.as_ref().or(raw.unit_label.as_ref()) {
                    Some(label) => q.keeping(label),
                    None => q,
                }
            }),
        })
        .collect();
    let config = CanaryConfig {
        name: raw.name.clone(),
        description: raw.description.clone(),
        applications: raw.applications.clone(),
        thresholds: raw
            .thresholds
            .as_ref()
            .map(|t| Thresholds {
                pass: t.pass,
                marginal: t.marginal,
            })
            .unwrap_or_default(),
        group_weights: raw.groups.clone(),
        metrics,
        kayenta_templates: BTreeMap::new(),
        scoring: raw.scoring,
        combine: raw.combine,
        warnings: Vec::new(),
    };
    let mut problems = Vec::new();
    for (i, m) in raw.metrics.iter().enumerate() {
        let at = |f: &str| format!("metrics[{i}].{f}");
        match (&m.series, &m.events, &m.total) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => problems.push((
                at("series"),
                "set either `series` or `events` and `total`, not both".to_string(),
            )),
            (_, Some(_), None) => problems.push((
                at("events"),
                "`events` needs `total` (the series the events are out of)".into(),
            )),
            (_, None, Some(_)) => problems.push((
                at("total"),
                "`total` needs `events` (the series of events)".into(),
            )),
            _ => {}
        }
        if m.requests.is_some() && (m.events.is_some() || m.total.is_some()) {
            problems.push((
                at("requests"),
                "an event-count metric's `total` already counts its requests; `requests` is for a series of per-interval aggregates".into(),
            ));
        }
        if m.requests.is_some()
            && m.unit_label.is_some()
            && config.metrics[i].judge.kind() != canary_judges::JudgeKind::Band
        {
            problems.push((
                at("requests"),
                "`requests` weighs per-interval aggregates for the `band` judge; hosts as the unit (`unit_label`) with other judges judge requests themselves".into(),
            ));
        }
        if let Some(judge) = &m.judge {
            for e in judge.validate(&config.metrics[i].options) {
                problems.push((at(&format!("judge.{}", e.field)), e.message));
            }
        }
        let metric = &config.metrics[i];
        if let Some(label) = &metric.unit_label {
            let field = if m.unit_label.is_some() {
                at("unit_label")
            } else {
                "unit_label".to_string()
            };
            if !query::is_label_name(label) {
                problems.push((
                    field.clone(),
                    format!(
                        "`{label}` is not a label name (letters, digits and _, not first a digit)"
                    ),
                ));
            }
            let band = matches!(metric.judge, JudgeConfig::Band(_));
            if !matches!(metric.judge, JudgeConfig::Sequential(_)) && !band {
                problems.push((
                    field.clone(),
                    format!(
                        "metric `{}`: hosts as the unit are judged by the sequential judge (requests, histograms, counts) or the `band` judge (per-interval aggregates); set `judge = {{ kind = \"sequential\" }}` or `{{ kind = \"band\" }}` (it has `{}`)",
                        m.name,
                        metric.judge.kind().as_str()
                    ),
                ));
            }
            if metric.options.direction == canary_judges::Direction::Decrease && !band {
                problems.push((
                    field,
                    format!(
                        "metric `{}`: hosts as the unit watch for a canary that is higher (latency, errors); `direction = \"decrease\"` is not supported with a unit label",
                        m.name
                    ),
                ));
            }
        }
    }
    // The default judge: its own problems once, then what only some metric's options
    // (e.g. its direction) make wrong, naming that metric.
    if raw.judge.is_some() {
        let general = default_judge.validate(&MetricOptions::default());
        for e in &general {
            problems.push((format!("judge.{}", e.field), e.message.clone()));
        }
        for (m, metric) in raw.metrics.iter().zip(&config.metrics) {
            if m.judge.is_some() {
                continue;
            }
            for e in default_judge.validate(&metric.options) {
                if !general.contains(&e) {
                    problems.push((
                        format!("judge.{}", e.field),
                        format!(
                            "{} (for metric `{}`, which uses the default judge)",
                            e.message, m.name
                        ),
                    ));
                }
            }
        }
    }
    problems.extend(weight_problems(
        &config,
        &|i, f| format!("metrics[{i}].{f}"),
        "groups",
    ));
    validate_common(
        &config,
        &mut problems,
        &|i, f| format!("metrics[{i}].{f}"),
        "groups",
        "thresholds",
    );
    (config, problems)
}

fn from_kayenta(raw: kayenta::KayentaConfig) -> (CanaryConfig, Problems) {
    let mut problems = Vec::new();
    if let Some(j) = &raw.judge
        && !j.name.starts_with("NetflixACAJudge")
    {
        problems.push((
            "judge.name".to_string(),
            format!(
                "unknown Kayenta judge `{}`; canaryd reproduces NetflixACAJudge-v1.0",
                j.name
            ),
        ));
    }
    let metrics = raw
        .metrics
        .iter()
        .map(|m| {
            let c = m.analysis_configurations.clone().unwrap_or_default().canary;
            let measure = match c.effect_size.as_ref().and_then(|e| e.measure) {
                Some(kayenta::KayentaMeasure::Cles) => EffectSizeMeasure::Cles,
                _ => EffectSizeMeasure::MeanRatio,
            };
            let effect_size = match &c.effect_size {
                Some(e) => EffectSizeConfig {
                    measure,
                    allowed_increase: e.allowed_increase,
                    allowed_decrease: e.allowed_decrease,
                    critical_increase: e.critical_increase,
                    critical_decrease: e.critical_decrease,
                },
                None => EffectSizeConfig::default(),
            };
            let outliers = match &c.outliers {
                Some(o) if matches!(o.strategy, Some(kayenta::KayentaOutlierStrategy::Remove)) => {
                    Outliers::Remove {
                        factor: o.outlier_factor.unwrap_or(3.0),
                    }
                }
                _ => Outliers::Keep,
            };
            MetricConfig {
                name: m.name.clone(),
                source: MetricSource::Series(m.name.clone()),
                groups: if m.groups.is_empty() {
                    vec![DEFAULT_GROUP.to_string()]
                } else {
                    m.groups.clone()
                },
                options: MetricOptions {
                    direction: match c.direction {
                        Some(kayenta::KayentaDirection::Increase) => {
                            canary_judges::Direction::Increase
                        }
                        Some(kayenta::KayentaDirection::Decrease) => {
                            canary_judges::Direction::Decrease
                        }
                        _ => canary_judges::Direction::Either,
                    },
                    nan_strategy: match c.nan_strategy {
                        Some(kayenta::KayentaNanStrategy::Replace) => NanStrategy::Replace,
                        _ => NanStrategy::Remove,
                    },
                    outliers,
                    effect_size,
                    critical: c.critical.unwrap_or(false),
                    must_have_data: c.must_have_data.unwrap_or(false),
                },
                muted: c.muted.unwrap_or(false),
                judge: JudgeConfig::default(),
                query: None,
                unit: None,
                unit_label: None,
                requests: None,
                kayenta_query: m.query.clone(),
            }
        })
        .collect();
    let mut metrics: Vec<MetricConfig> = metrics;
    for (i, m) in metrics.iter_mut().enumerate() {
        if let Some(q) = &m.kayenta_query {
            match query::PromQuery::from_kayenta(q) {
                Ok(q) => {
                    // Kayenta reads the series `query.metricName` (or its template) names;
                    // the metric's `name` is only its label.
                    if let Some(series) = q.series_name() {
                        m.source = MetricSource::Series(series);
                    }
                    m.unit = q.unit();
                    m.query = Some(q);
                }
                Err(e) => problems.push((kayenta::metric_field_path(i, "query"), e)),
            }
        }
    }
    let classifier = raw.classifier.clone();
    let config = CanaryConfig {
        name: raw.name,
        description: raw.description,
        applications: raw.applications,
        thresholds: classifier
            .as_ref()
            .and_then(|c| c.score_thresholds.as_ref())
            .map(|t| Thresholds {
                pass: t.pass,
                marginal: t.marginal,
            })
            .unwrap_or_default(),
        group_weights: classifier.map(|c| c.group_weights).unwrap_or_default(),
        metrics,
        kayenta_templates: raw.templates,
        scoring: None,
        combine: Combine::Share,
        warnings: Vec::new(),
    };
    validate_common(
        &config,
        &mut problems,
        &kayenta::metric_field_path,
        "classifier.groupWeights",
        "classifier.scoreThresholds",
    );
    // Kayenta accepts weights and groups that do not meet: warn, judge as written.
    let mut config = config;
    config.warnings = weight_problems(
        &config,
        &kayenta::metric_field_path,
        "classifier.groupWeights",
    )
    .into_iter()
    .map(|(path, message)| format!("{path}: {message} (Kayenta accepts this config as it is)"))
    .collect();
    (config, problems)
}

/// Groups and weights that cannot both be meant: a metric (not muted) none of whose groups
/// carries weight counts for nothing — a regression in it could never lower the score —
/// and a weight of a group no metric lists could never be earned. Weights as the scorer
/// gives them: configured, or an equal share of what the configured ones leave of 100.
fn weight_problems(
    config: &CanaryConfig,
    metric_path: &dyn Fn(usize, &str) -> String,
    groups: &str,
) -> Problems {
    let mut problems = Vec::new();
    let weights = &config.group_weights;
    let listed: BTreeSet<&str> = config
        .metrics
        .iter()
        .filter(|m| !m.muted)
        .flat_map(|m| m.groups.iter().map(String::as_str))
        .collect();
    let configured: f64 = weights.values().filter(|w| w.is_finite()).sum();
    let unweighted = listed.iter().filter(|g| !weights.contains_key(**g)).count();
    let share = if unweighted > 0 {
        (100.0 - configured) / unweighted as f64
    } else {
        0.0
    };
    let weight = |g: &str| weights.get(g).copied().unwrap_or(share);
    let weighted = || {
        weights
            .iter()
            .filter(|(_, w)| **w > 0.0)
            .map(|(g, _)| g.as_str())
    };
    let table = || {
        weights
            .iter()
            .map(|(g, w)| format!("{g} = {}", canary_judges::format_number(*w)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, m) in config.metrics.iter().enumerate() {
        // A negative or non-numeric weight is reported on its own.
        let invalid = |g: &String| !(weight(g).is_finite() && weight(g) >= 0.0);
        if m.muted || m.groups.is_empty() || m.groups.iter().any(|g| weight(g) > 0.0 || invalid(g))
        {
            continue;
        }
        let g = &m.groups[0];
        let why = if weights.contains_key(g.as_str()) {
            format!("group `{g}` has weight 0")
        } else {
            format!(
                "group `{g}` has no weight in `{groups}` and the weights there ({}) leave nothing to share",
                table()
            )
        };
        problems.push((
            metric_path(i, "groups"),
            format!(
                "metric `{}` counts for nothing: {why}{} (to report a metric without scoring it, set `muted = true`)",
                m.name,
                crate::suggest::hint(g, weighted())
            ),
        ));
    }
    for g in weights.keys() {
        if !listed.contains(g.as_str()) {
            problems.push((
                format!("{groups}.{g}"),
                format!(
                    "no metric is in group `{g}`; its weight could never be earned{}",
                    crate::suggest::hint(g, listed.iter().copied())
                ),
            ));
        }
    }
    problems
}

/// Rules every spelling shares. `metric_path` names a metric's field in the source
/// format; `groups` and `thresholds` name those tables.
fn validate_common(
    config: &CanaryConfig,
    problems: &mut Problems,
    metric_path: &dyn Fn(usize, &str) -> String,
    groups: &str,
    thresholds: &str,
) {
    if config.name.trim().is_empty() {
        problems.push(("name".into(), "the config needs a name".into()));
    } else if let Some(p) = crate::suggest::new_name_problem(&config.name) {
        problems.push(("name".into(), p));
    }
    if config.metrics.is_empty() {
        problems.push(("metrics".into(), "the config has no metrics".into()));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, m) in config.metrics.iter().enumerate() {
        if m.name.trim().is_empty() {
            problems.push((metric_path(i, "name"), "a metric needs a name".into()));
        } else if let Some(p) = crate::suggest::new_name_problem(&m.name) {
            problems.push((metric_path(i, "name"), p));
        }
        if let Some(first) = seen.insert(m.name.as_str(), i) {
            problems.push((
                metric_path(i, "name"),
                format!("duplicate metric name `{}` (also metrics[{first}])", m.name),
            ));
            seen.insert(m.name.as_str(), first);
        }
        if m.groups.iter().any(|g| g.trim().is_empty()) {
            problems.push((
                metric_path(i, "groups"),
                "group names must not be empty".into(),
            ));
        }
        if let Outliers::Remove { factor } = m.options.outliers
            && !(factor.is_finite() && factor >= 0.0)
        {
            problems.push((
                metric_path(i, "outliers.factor"),
                format!("must be a finite number ≥ 0, got {factor}"),
            ));
        }
        let es = &m.options.effect_size;
        for (name, v) in [
            ("allowed_increase", es.allowed_increase),
            ("allowed_decrease", es.allowed_decrease),
            ("critical_increase", es.critical_increase),
            ("critical_decrease", es.critical_decrease),
        ] {
            let Some(v) = v else { continue };
            let ok = match es.measure {
                EffectSizeMeasure::MeanRatio => v.is_finite() && v >= 0.0,
                EffectSizeMeasure::Cles => (0.0..=1.0).contains(&v),
            };
            if !ok {
                let range = match es.measure {
                    EffectSizeMeasure::MeanRatio => "a mean ratio ≥ 0",
                    EffectSizeMeasure::Cles => "a CLES between 0 and 1",
                };
                problems.push((
                    metric_path(i, &format!("effect_size.{name}")),
                    format!("must be {range}, got {v}"),
                ));
            }
        }
        if let JudgeConfig::Threshold(t) = &m.judge {
            let counts = m.is_counts();
            if t.aggregate == Aggregate::Rate && !counts {
                problems.push((
                    metric_path(i, "judge.aggregate"),
                    "aggregate `rate` needs an event-count metric: set `events` and `total` \
                     or a `ratio` query"
                        .into(),
                ));
            }
        }
        if let Some(q) = &m.query {
            for (field, message) in q.problems(&config.kayenta_templates) {
                problems.push((metric_path(i, &format!("query.{field}")), message));
            }
        }
    }
    let mut sum = 0.0;
    for (g, w) in &config.group_weights {
        if !(w.is_finite() && *w >= 0.0) {
            problems.push((
                format!("{groups}.{g}"),
                format!("group weight must be ≥ 0, got {w}"),
            ));
        } else {
            sum += w;
        }
    }
    if sum > 100.0 + 1e-9 {
        problems.push((
            groups.to_string(),
            format!("group weights sum to {sum}, more than 100"),
        ));
    }
    for (name, message) in config.thresholds.problems() {
        problems.push((format!("{thresholds}.{name}"), message));
    }
}
