//! Reading a config in either format (canaryd's, every field problem at once; Kayenta's)
//! into one [`CanaryConfig`], and the checks both share (groups, weights, thresholds).

use super::*;

/// canaryd's format read with every field problem at once: each is reported, the field
/// dropped, and the rest read again, so a file with three typos is fixed in one round, not
/// three. The config when it reads (with the problems of fields dropped on the way), else
/// `None` with the problems found.
pub(super) fn read_raw(
    text: &str,
    format: Format,
    de_issue: &dyn Fn(DeError) -> (FieldPath, ConfigIssue),
) -> (Option<raw::RawConfig>, Vec<ConfigIssue>) {
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
    (raw, unknown)
}

pub(super) type Problems = Vec<(String, String)>;

pub(super) fn from_raw(raw: raw::RawConfig) -> (CanaryConfig, Problems) {
    let default_judge = raw.judge.clone().unwrap_or_default();
    let metrics: Vec<MetricConfig> = raw
        .metrics
        .iter()
        .map(|m| metric_from_raw(m, &raw, &default_judge))
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
        problems.extend(metric_problems(i, m, &config.metrics[i]));
    }
    problems.extend(default_judge_problems(&raw, &config, &default_judge));
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

/// One metric of canaryd's format, the config's defaults (judge, unit label) applied.
pub(super) fn metric_from_raw(
    m: &raw::RawMetric,
    raw: &raw::RawConfig,
    default_judge: &JudgeConfig,
) -> MetricConfig {
    MetricConfig {
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
        query: m.query.clone().map(
            |q| match m.unit_label.as_ref().or(raw.unit_label.as_ref()) {
                Some(label) => q.keeping(label),
                None => q,
            },
        ),
    }
}

/// What is wrong with metric `i` as written (`m`) and as read (`metric`).
pub(super) fn metric_problems(i: usize, m: &raw::RawMetric, metric: &MetricConfig) -> Problems {
    let mut problems = Vec::new();
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
        && metric.judge.kind() != canary_judges::JudgeKind::Band
    {
        problems.push((
            at("requests"),
            "`requests` weighs per-interval aggregates for the `band` judge; hosts as the unit (`unit_label`) with other judges judge requests themselves".into(),
        ));
    }
    if let Some(judge) = &m.judge {
        for e in judge.validate(&metric.options) {
            problems.push((at(&format!("judge.{}", e.field)), e.message));
        }
    }
    if let Some(label) = &metric.unit_label {
        let field = if m.unit_label.is_some() {
            at("unit_label")
        } else {
            "unit_label".to_string()
        };
        if !query::is_label_name(label) {
            problems.push((
                field.clone(),
                format!("`{label}` is not a label name (letters, digits and _, not first a digit)"),
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
    problems
}

/// The default judge: its own problems once, then what only some metric's options (e.g.
/// its direction) make wrong, naming that metric.
pub(super) fn default_judge_problems(
    raw: &raw::RawConfig,
    config: &CanaryConfig,
    default_judge: &JudgeConfig,
) -> Problems {
    let mut problems = Vec::new();
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
    problems
}

/// One metric of Kayenta's format, with Kayenta's defaults (its query read afterwards).
pub(super) fn metric_from_kayenta(m: &kayenta::KayentaMetric) -> MetricConfig {
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
                Some(kayenta::KayentaDirection::Increase) => canary_judges::Direction::Increase,
                Some(kayenta::KayentaDirection::Decrease) => canary_judges::Direction::Decrease,
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
}

pub(super) fn from_kayenta(raw: kayenta::KayentaConfig) -> (CanaryConfig, Problems) {
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
    let metrics = raw.metrics.iter().map(metric_from_kayenta).collect();
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
                Err(e) => problems.push((kayenta::metric_field_path(i, "query"), e.to_string())),
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
pub(super) fn weight_problems(
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

/// A metric's outlier factor and effect-size gates out of range (`at` names a field).
fn option_problems(options: &MetricOptions, at: &dyn Fn(&str) -> String) -> Problems {
    let mut out = Vec::new();
    if let Outliers::Remove { factor } = options.outliers
        && !(factor.is_finite() && factor >= 0.0)
    {
        out.push((
            at("outliers.factor"),
            format!("must be a finite number ≥ 0, got {factor}"),
        ));
    }
    let es = &options.effect_size;
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
            out.push((
                at(&format!("effect_size.{name}")),
                format!("must be {range}, got {v}"),
            ));
        }
    }
    out
}

/// Rules every spelling shares. `metric_path` names a metric's field in the source
/// format; `groups` and `thresholds` name those tables.
pub(super) fn validate_common(
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
        problems.extend(option_problems(&m.options, &|f: &str| metric_path(i, f)));
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
