//! Prometheus queries of a metric: what the Prometheus collector runs for each scope.
//!
//! Four kinds (`kind = "…"` in canaryd's format; Kayenta's query objects map onto the last):
//! - `promql`: a PromQL template, `${scope}`, `${location}`, `${api}` and any extended
//!   scope parameter expanded (values escaped for the quoting they sit in);
//! - `histogram`: the base name of a Prometheus histogram and a label filter; canaryd
//!   queries the per-step `increase` of `<base>_bucket` by `le` and judges the distribution;
//! - `ratio`: selectors of an error counter and a total counter; per-step increases become
//!   event counts for the count tests;
//! - `kayenta`: Kayenta's `metricName`, `labelBindings`, `groupByFields` and templates.
//!
//! `split_by` lists the labels that make each series its own pair (per-API analysis).

use serde::{Deserialize, Serialize};

/// A metric's Prometheus query, as written in a canary config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PromQuery {
    /// A whole PromQL expression (a template).
    Promql {
        template: String,
        #[serde(default)]
        split_by: Vec<String>,
    },
    /// A Prometheus histogram by base name (without `_bucket`).
    Histogram {
        base: String,
        /// Label matchers selecting one scope, e.g. `version="${scope}"`.
        #[serde(default = "default_filter")]
        filter: String,
        #[serde(default)]
        split_by: Vec<String>,
    },
    /// Errors out of requests, from two counter selectors.
    Ratio {
        errors: String,
        total: String,
        #[serde(default)]
        split_by: Vec<String>,
    },
    /// Kayenta's Prometheus query object.
    Kayenta {
        metric_name: String,
        #[serde(default)]
        label_bindings: Vec<String>,
        #[serde(default)]
        group_by_fields: Vec<String>,
        /// `PromQL:`-prefixed template: the whole query.
        #[serde(default)]
        custom_inline_template: Option<String>,
        /// Name of an entry of the config's `templates`: the label filter.
        #[serde(default)]
        custom_filter_template: Option<String>,
    },
}

/// Kayenta's Prometheus query object, as Kayenta reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KayentaQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    label_bindings: Vec<String>,
    #[serde(default)]
    group_by_fields: Vec<String>,
    #[serde(default)]
    custom_inline_template: Option<String>,
    #[serde(default)]
    custom_filter_template: Option<String>,
    /// Known to Kayenta, unused by canaryd. (Kayenta's deprecated `customFilter` is not
    /// read either, and so is named in the config's warnings.)
    #[serde(default)]
    #[allow(dead_code)]
    service_type: Option<serde_json::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    resource_type: Option<serde_json::Value>,
}

fn default_filter() -> String {
    "version=\"${scope}\"".to_string()
}

/// A Prometheus label name: letters, digits and `_`, not first a digit.
pub fn is_label_name(l: &str) -> bool {
    !l.is_empty()
        && l.chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
}

impl PromQuery {
    /// The query keeping label `label` in its answer (hosts as the unit): added to the
    /// labels the collector sums by, unless there. A `promql` template selects its own
    /// series and is left as written (its `by (…)` must keep the label).
    pub fn keeping(mut self, label: &str) -> Self {
        match &mut self {
            PromQuery::Histogram { split_by, .. } | PromQuery::Ratio { split_by, .. }
                if !split_by.iter().any(|l| l == label) =>
            {
                split_by.push(label.to_string());
            }
            _ => {}
        }
        self
    }

    /// The labels that make each series its own pair.
    pub fn split_by(&self) -> &[String] {
        match self {
            PromQuery::Promql { split_by, .. }
            | PromQuery::Histogram { split_by, .. }
            | PromQuery::Ratio { split_by, .. } => split_by,
            PromQuery::Kayenta {
                group_by_fields, ..
            } => group_by_fields,
        }
    }

    /// The kind's name as written in configs.
    pub fn kind(&self) -> &'static str {
        match self {
            PromQuery::Promql { .. } => "promql",
            PromQuery::Histogram { .. } => "histogram",
            PromQuery::Ratio { .. } => "ratio",
            PromQuery::Kayenta { .. } => "kayenta",
        }
    }

    /// The series the query reads, as files name it in their `metric` column: Kayenta's
    /// `metricName`, a histogram's base name, or the first metric a PromQL template
    /// selects. `None` for ratios (two series) and templates that select no metric by name.
    pub fn series_name(&self) -> Option<String> {
        let name = match self {
            PromQuery::Kayenta {
                metric_name,
                custom_inline_template,
                ..
            } => {
                if metric_name.trim().is_empty() {
                    custom_inline_template
                        .as_deref()
                        .and_then(|t| first_selected_metric(t.strip_prefix("PromQL:").unwrap_or(t)))
                } else {
                    Some(metric_name.trim().to_string())
                }
            }
            PromQuery::Histogram { base, .. } => Some(base.clone()),
            PromQuery::Promql { template, .. } => first_selected_metric(template),
            PromQuery::Ratio { .. } => None,
        };
        name.filter(|n| !n.is_empty())
    }

    /// The unit its values are in, from the Prometheus naming convention's base-unit
    /// suffix (`_seconds` → `s`, `_bytes` → `bytes`, …); `None` when the name carries none.
    pub fn unit(&self) -> Option<String> {
        if matches!(self, PromQuery::Ratio { .. }) {
            return None;
        }
        unit_of_metric_name(&self.series_name()?)
    }

    /// Fields of Kayenta's query object that Kayenta's Prometheus query does not know.
    pub fn unknown_kayenta_fields(query: &serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        let _: Result<KayentaQuery, _> =
            serde_ignored::deserialize(query.clone(), |p| out.push(p.to_string()));
        out
    }

    /// Kayenta's query object (`{"type": "prometheus", "metricName": …}`) as a query.
    pub fn from_kayenta(query: &serde_json::Value) -> Result<PromQuery, KayentaQueryError> {
        let k: KayentaQuery =
            serde_json::from_value(query.clone()).map_err(KayentaQueryError::Malformed)?;
        if let Some(t) = &k.kind
            && t != "prometheus"
        {
            return Err(KayentaQueryError::Unsupported(t.clone()));
        }
        let inline = k.custom_inline_template.filter(|t| !t.trim().is_empty());
        let metric_name = k.metric_name.unwrap_or_default();
        if metric_name.trim().is_empty() && inline.is_none() {
            return Err(KayentaQueryError::NoMetric);
        }
        Ok(PromQuery::Kayenta {
            metric_name,
            label_bindings: k.label_bindings,
            group_by_fields: k.group_by_fields,
            custom_inline_template: inline,
            custom_filter_template: k.custom_filter_template.filter(|t| !t.trim().is_empty()),
        })
    }

    /// Problems of the query itself: (field below the query, message).
    pub fn problems(
        &self,
        templates: &std::collections::BTreeMap<String, String>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let label_ok = is_label_name;
        for (i, l) in self.split_by().iter().enumerate() {
            if !label_ok(l) {
                let field = match self {
                    PromQuery::Kayenta { .. } => format!("group_by_fields[{i}]"),
                    _ => format!("split_by[{i}]"),
                };
                out.push((field, format!("`{l}` is not a Prometheus label name")));
            }
            if l == "le" && matches!(self, PromQuery::Histogram { .. }) {
                out.push((
                    format!("split_by[{i}]"),
                    "`le` is the bucket label; it cannot split pairs".into(),
                ));
            }
        }
        let metric_ok = |n: &str| {
            !n.is_empty()
                && n.chars().enumerate().all(|(i, c)| {
                    c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                })
        };
        match self {
            PromQuery::Promql { template, .. } => {
                if template.trim().is_empty() {
                    out.push(("template".into(), "the PromQL template is empty".into()));
                }
            }
            PromQuery::Histogram { base, .. } => {
                if !metric_ok(base) {
                    out.push((
                        "base".into(),
                        format!("`{base}` is not a Prometheus metric name"),
                    ));
                } else if base.ends_with("_bucket") {
                    out.push((
                        "base".into(),
                        format!(
                            "name the histogram without `_bucket`: `{}`",
                            base.trim_end_matches("_bucket")
                        ),
                    ));
                }
            }
            PromQuery::Ratio { errors, total, .. } => {
                for (f, v) in [("errors", errors), ("total", total)] {
                    if v.trim().is_empty() {
                        out.push((f.into(), "the counter selector is empty".into()));
                    }
                }
            }
            PromQuery::Kayenta {
                metric_name,
                custom_inline_template,
                custom_filter_template,
                ..
            } => {
                if let Some(name) = custom_filter_template
                    && !templates.contains_key(name)
                {
                    out.push((
                        "customFilterTemplate".into(),
                        format!("no template named `{name}` in `templates`"),
                    ));
                }
                if custom_inline_template.is_none() && !metric_ok(metric_name) {
                    out.push((
                        "metricName".into(),
                        format!("`{metric_name}` is not a Prometheus metric name"),
                    ));
                }
            }
        }
        out
    }
}

/// The unit a Prometheus metric name states by its suffix (`_seconds`, `_bytes`, …);
/// histogram `_bucket` and `_sum` suffixes are looked through. Counters (`_total`,
/// `_count`) have none: what is judged is their rate, whose unit the name does not state.
pub fn unit_of_metric_name(name: &str) -> Option<String> {
    if name.ends_with("_total") || name.ends_with("_count") {
        return None;
    }
    let mut base = name;
    for suffix in ["_bucket", "_sum"] {
        if let Some(b) = base.strip_suffix(suffix) {
            base = b;
            break;
        }
    }
    const UNITS: [(&str, &str); 9] = [
        ("_milliseconds", "ms"),
        ("_microseconds", "µs"),
        ("_seconds", "s"),
        ("_ms", "ms"),
        ("_bytes", "bytes"),
        ("_ratio", "ratio"),
        ("_percent", "%"),
        ("_celsius", "°C"),
        ("_meters", "m"),
    ];
    UNITS
        .iter()
        .find(|(suffix, _)| base.ends_with(suffix))
        .map(|(_, unit)| (*unit).to_string())
}

/// A Kayenta query object canaryd cannot use.
#[derive(Debug, thiserror::Error)]
pub enum KayentaQueryError {
    /// Not a query object (a wrong type, an unknown shape).
    #[error("{0}")]
    Malformed(#[source] serde_json::Error),
    /// Another metric store's query (`type`).
    #[error("query type `{0}` is not supported; canaryd reads Prometheus")]
    Unsupported(String),
    #[error("needs `metricName` or a `customInlineTemplate`")]
    NoMetric,
}

// Operators and aggregations (`sum by (le) (…)` puts a keyword between an aggregation
// and its parenthesis).
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
    "atan2",
    "start",
    "end",
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

/// The first metric name a PromQL expression selects: an identifier that is not a
/// function call, keyword, label name (inside `{…}` or `by (…)`), duration, string or
/// `${…}` template variable. A scanner, not a parser: good for naming a series, not for
/// validating the query.
pub fn first_selected_metric(promql: &str) -> Option<String> {
    let chars: Vec<char> = promql.chars().collect();
    let mut i = 0;
    let mut label_list = false; // inside `by (…)` and friends
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == c {
                        depth += 1;
                    } else if chars[i] == close {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            ')' => {
                label_list = false;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let call = chars.get(j) == Some(&'(');
                let lower = word.to_ascii_lowercase();
                if matches!(
                    lower.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    label_list = call;
                    continue;
                }
                if call || label_list || KEYWORDS.contains(&lower.as_str()) {
                    continue;
                }
                return Some(word);
            }
            c if c.is_ascii_digit() => {
                // Numbers and durations (5m, 1.5e3, 0x1f).
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hosts as the unit keep the host label in histogram and ratio queries (once), and
    /// leave a PromQL template as written.
    #[test]
    fn a_unit_label_is_kept_by_the_collector() {
        let h = PromQuery::Histogram {
            base: "b".into(),
            filter: "f".into(),
            split_by: vec!["route".into()],
        };
        assert_eq!(h.keeping("instance").split_by(), ["route", "instance"]);
        let r = PromQuery::Ratio {
            errors: "e".into(),
            total: "t".into(),
            split_by: vec!["instance".into()],
        };
        assert_eq!(r.keeping("instance").split_by(), ["instance"]);
        let p = PromQuery::Promql {
            template: "sum by (pod) (x)".into(),
            split_by: vec![],
        };
        assert!(p.keeping("pod").split_by().is_empty());
        assert!(is_label_name("instance") && !is_label_name("9x") && !is_label_name("a-b"));
    }

    #[test]
    fn the_series_a_promql_template_selects() {
        for (q, want) in [
            (
                "rate(http_requests_total{code=~\"5..\"}[5m])",
                Some("http_requests_total"),
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(req_seconds_bucket{pod=\"${scope}\"}[1m])))",
                Some("req_seconds_bucket"),
            ),
            (
                "sum(rate(x_total[1m])) by (instance, le) / on(instance) group_left(app) y_info",
                Some("x_total"),
            ),
            (
                "  process_cpu_seconds_total{app='${scope}'} offset 5m",
                Some("process_cpu_seconds_total"),
            ),
            ("max_over_time(up[${step}]) and bool 1", Some("up")),
            ("vector(1)", None),
            ("1.5e3 * 2", None),
        ] {
            assert_eq!(first_selected_metric(q).as_deref(), want, "{q}");
        }
    }

    #[test]
    fn units_come_from_prometheus_suffixes() {
        for (name, want) in [
            ("http_request_duration_seconds", Some("s")),
            ("http_request_duration_seconds_bucket", Some("s")),
            ("latency_ms", Some("ms")),
            ("process_cpu_seconds_total", None),
            ("http_request_duration_seconds_count", None),
            ("response_size_bytes_sum", Some("bytes")),
            ("http_requests_total", None),
            ("cpu", None),
        ] {
            assert_eq!(unit_of_metric_name(name).as_deref(), want, "{name}");
        }
        let ratio = PromQuery::Ratio {
            errors: "errors_seconds".into(),
            total: "t".into(),
            split_by: vec![],
        };
        assert_eq!(ratio.unit(), None, "a ratio of counts has no unit");
        let k = PromQuery::from_kayenta(&serde_json::json!({
            "type": "prometheus",
            "customInlineTemplate": "PromQL:avg(rate(node_cpu_seconds_total[1m]))"
        }))
        .expect("query");
        assert_eq!(k.series_name().as_deref(), Some("node_cpu_seconds_total"));
        assert_eq!(
            k.unit(),
            None,
            "a counter's rate has no unit its name states"
        );
        let g = PromQuery::from_kayenta(&serde_json::json!({
            "type": "prometheus",
            "customInlineTemplate": "PromQL:max by (pod) (process_resident_memory_bytes{a=\"b\"})"
        }))
        .expect("query");
        assert_eq!(g.unit().as_deref(), Some("bytes"));
    }

    #[test]
    fn kayenta_query_objects_map_onto_kayenta_queries() {
        let q = serde_json::json!({
            "type": "prometheus", "metricName": "http_requests_total",
            "labelBindings": ["code=~\"5..\""], "groupByFields": ["route"],
            "customFilterTemplate": "f", "serviceType": "prometheus"
        });
        let p = PromQuery::from_kayenta(&q).unwrap();
        assert_eq!(p.split_by(), ["route".to_string()]);
        let templates = [("f".to_string(), "version=\"${scope}\"".to_string())].into();
        assert!(p.problems(&templates).is_empty());
        let none = std::collections::BTreeMap::new();
        assert_eq!(p.problems(&none)[0].0, "customFilterTemplate");
        let inline = serde_json::json!({"customInlineTemplate": "PromQL:up{job=\"${scope}\"}"});
        assert!(
            PromQuery::from_kayenta(&inline)
                .unwrap()
                .problems(&none)
                .is_empty()
        );
        let bad = serde_json::json!({"type": "datadog", "metricName": "x"});
        assert!(
            PromQuery::from_kayenta(&bad)
                .unwrap_err()
                .to_string()
                .contains("datadog")
        );
    }

    #[test]
    fn labels_and_names_are_checked() {
        let q = PromQuery::Histogram {
            base: "lat_bucket".into(),
            filter: default_filter(),
            split_by: vec!["route".into(), "1x".into(), "le".into()],
        };
        let fields: Vec<String> = q
            .problems(&Default::default())
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(fields, ["split_by[1]", "split_by[2]", "base"]);
    }
}
