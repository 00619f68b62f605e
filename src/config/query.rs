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

fn default_filter() -> String {
    "version=\"${scope}\"".to_string()
}

impl PromQuery {
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

    /// Kayenta's query object (`{"type": "prometheus", "metricName": …}`) as a query.
    pub fn from_kayenta(query: &serde_json::Value) -> Result<PromQuery, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct K {
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
        }
        let k: K = serde_json::from_value(query.clone()).map_err(|e| e.to_string())?;
        if let Some(t) = &k.kind
            && t != "prometheus"
        {
            return Err(format!(
                "query type `{t}` is not supported; canaryd reads Prometheus"
            ));
        }
        let inline = k.custom_inline_template.filter(|t| !t.trim().is_empty());
        let metric_name = k.metric_name.unwrap_or_default();
        if metric_name.trim().is_empty() && inline.is_none() {
            return Err("needs `metricName` or a `customInlineTemplate`".into());
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
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.chars().enumerate().all(|(i, c)| {
                    c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                })
        };
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

#[cfg(test)]
mod tests {
    use super::*;

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
