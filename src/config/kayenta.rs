//! Kayenta canary configs (the JSON Spinnaker stores), accepted as they are.
//!
//! Kayenta's fields map onto canaryd's: `analysisConfigurations.canary` holds the metric
//! options under their Kayenta names, `classifier.groupWeights` the group weights and
//! `classifier.scoreThresholds` the thresholds. Every metric is judged by `mann_whitney`
//! (Kayenta's NetflixACAJudge). Fields Kayenta knows that canaryd does not use
//! (timestamps, `configVersion`, `scopeName`, …) are accepted and ignored; fields Kayenta
//! does not know either (a misspelt `analysisConfigurations`) are accepted too, as Kayenta
//! accepts them, but named in warnings ([`unknown_fields`]) with the closest known name.
//! Each metric reads the series its query's `metricName` (or PromQL template) names, as
//! Kayenta does; the metric's `name` is only its label. The Prometheus query and templates
//! are kept for the Prometheus collector.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Does this JSON document look like a Kayenta canary config rather than canaryd's own?
pub fn looks_like_kayenta(doc: &serde_json::Value) -> bool {
    let Some(obj) = doc.as_object() else {
        return false;
    };
    if obj.contains_key("classifier") || obj.contains_key("templates") {
        return true;
    }
    if obj.get("judge").and_then(|j| j.get("name")).is_some() {
        return true;
    }
    obj.get("metrics")
        .and_then(|m| m.as_array())
        .is_some_and(|ms| {
            ms.iter()
                .any(|m| m.get("analysisConfigurations").is_some() || kayenta_query(m.get("query")))
        })
}

/// A Kayenta metric query (`type`, `metricName`, `customInlineTemplate`, `serviceType`),
/// not one of canaryd's (which has a `kind`), so a canaryd JSON config with queries is read
/// as canaryd's.
fn kayenta_query(query: Option<&serde_json::Value>) -> bool {
    query.and_then(|q| q.as_object()).is_some_and(|q| {
        !q.contains_key("kind")
            && ["type", "metricName", "customInlineTemplate", "serviceType"]
                .iter()
                .any(|k| q.contains_key(*k))
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub applications: Vec<String>,
    #[serde(default)]
    pub judge: Option<KayentaJudge>,
    pub metrics: Vec<KayentaMetric>,
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    #[serde(default)]
    pub classifier: Option<KayentaClassifier>,
    /// Known to Kayenta, unused by canaryd.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default)]
    pub config_version: Option<serde_json::Value>,
    #[serde(default)]
    pub created_timestamp: Option<serde_json::Value>,
    #[serde(default)]
    pub updated_timestamp: Option<serde_json::Value>,
    #[serde(default)]
    pub created_timestamp_iso: Option<serde_json::Value>,
    #[serde(default)]
    pub updated_timestamp_iso: Option<serde_json::Value>,
    #[serde(default)]
    pub is_new: Option<serde_json::Value>,
    /// Spinnaker's older spelling of the metric sources.
    #[serde(default)]
    pub services: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaJudge {
    pub name: String,
    #[serde(default)]
    pub judge_configurations: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaClassifier {
    #[serde(default)]
    pub group_weights: BTreeMap<String, f64>,
    #[serde(default)]
    pub score_thresholds: Option<KayentaThresholds>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KayentaThresholds {
    pub pass: f64,
    pub marginal: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaMetric {
    pub name: String,
    #[serde(default)]
    pub query: Option<serde_json::Value>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub analysis_configurations: Option<KayentaAnalysis>,
    #[serde(default)]
    pub scope_name: Option<String>,
    /// Known to Kayenta and Spinnaker's UI, unused by canaryd.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default)]
    pub service_name: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KayentaAnalysis {
    #[serde(default)]
    pub canary: KayentaCanaryOptions,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaCanaryOptions {
    #[serde(default)]
    pub direction: Option<KayentaDirection>,
    #[serde(default)]
    pub nan_strategy: Option<KayentaNanStrategy>,
    #[serde(default)]
    pub critical: Option<bool>,
    #[serde(default)]
    pub must_have_data: Option<bool>,
    #[serde(default)]
    pub muted: Option<bool>,
    #[serde(default)]
    pub outliers: Option<KayentaOutliers>,
    #[serde(default)]
    pub effect_size: Option<KayentaEffectSize>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaDirection {
    Increase,
    Decrease,
    Either,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaNanStrategy {
    Remove,
    Replace,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaOutliers {
    #[serde(default)]
    pub strategy: Option<KayentaOutlierStrategy>,
    #[serde(default)]
    pub outlier_factor: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaOutlierStrategy {
    Keep,
    Remove,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaEffectSize {
    #[serde(default)]
    pub measure: Option<KayentaMeasure>,
    #[serde(default)]
    pub allowed_increase: Option<f64>,
    #[serde(default)]
    pub allowed_decrease: Option<f64>,
    #[serde(default)]
    pub critical_increase: Option<f64>,
    #[serde(default)]
    pub critical_decrease: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum KayentaMeasure {
    #[serde(rename = "meanRatio")]
    MeanRatio,
    #[serde(rename = "cles")]
    Cles,
}

/// Every field name Kayenta's canary config and Prometheus query know, for suggestions.
const KNOWN_FIELDS: &[&str] = &[
    "name",
    "description",
    "applications",
    "judge",
    "judgeConfigurations",
    "metrics",
    "templates",
    "classifier",
    "groupWeights",
    "scoreThresholds",
    "pass",
    "marginal",
    "id",
    "configVersion",
    "createdTimestamp",
    "updatedTimestamp",
    "createdTimestampIso",
    "updatedTimestampIso",
    "isNew",
    "services",
    "query",
    "groups",
    "analysisConfigurations",
    "scopeName",
    "serviceName",
    "canary",
    "direction",
    "nanStrategy",
    "critical",
    "mustHaveData",
    "muted",
    "outliers",
    "strategy",
    "outlierFactor",
    "effectSize",
    "measure",
    "allowedIncrease",
    "allowedDecrease",
    "criticalIncrease",
    "criticalDecrease",
    "type",
    "metricName",
    "labelBindings",
    "groupByFields",
    "customInlineTemplate",
    "customFilterTemplate",
    "serviceType",
    "resourceType",
];

/// Fields of a Kayenta canary config (JSON text) that neither Kayenta nor canaryd know,
/// one warning each, with the closest known name when one is close. The config itself is
/// read by [`KayentaConfig`]'s deserialiser; this only names what it skipped, including
/// inside each metric's `query`.
pub fn unknown_fields(text: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed: Result<KayentaConfig, _> =
        serde_ignored::deserialize(&mut de, |p| paths.push(bracket_indices(&p.to_string())));
    if let Ok(config) = parsed {
        for (i, m) in config.metrics.iter().enumerate() {
            if let Some(q) = &m.query {
                for p in crate::config::query::PromQuery::unknown_kayenta_fields(q) {
                    paths.push(format!("metrics[{i}].query.{p}"));
                }
            }
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let field = path.rsplit('.').next().unwrap_or(&path);
            format!(
                "{path}: not a field canaryd reads; ignored{}",
                crate::suggest::hint(field, KNOWN_FIELDS.iter().copied())
            )
        })
        .collect()
}

/// `metrics.0.query` → `metrics[0].query`.
fn bracket_indices(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('.') {
        // `?` is how the path names the inside of an optional field: not a field of its own.
        if seg == "?" {
            continue;
        }
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// Kayenta's name for canaryd's field `field` of metric `i`, for error messages.
pub fn metric_field_path(i: usize, field: &str) -> String {
    let opt = |name: &str| format!("metrics[{i}].analysisConfigurations.canary.{name}");
    match field {
        "name" | "groups" | "series" => format!("metrics[{i}].{field}"),
        q if q == "query" || q.starts_with("query.") => {
            format!(
                "metrics[{i}].{}",
                q.replace("group_by_fields", "groupByFields")
            )
        }
        "outliers.factor" => opt("outliers.outlierFactor"),
        "effect_size.allowed_increase" => opt("effectSize.allowedIncrease"),
        "effect_size.allowed_decrease" => opt("effectSize.allowedDecrease"),
        "effect_size.critical_increase" => opt("effectSize.criticalIncrease"),
        "effect_size.critical_decrease" => opt("effectSize.criticalDecrease"),
        other => opt(other),
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_kayenta;
    use serde_json::json;

    #[test]
    fn a_canaryd_json_config_with_queries_is_not_taken_for_kayenta() {
        let canaryd = json!({ "name": "c", "metrics": [ { "name": "latency",
            "query": { "kind": "promql", "template": "up{version=\"${scope}\"}" } } ] });
        assert!(!looks_like_kayenta(&canaryd));
        let kayenta = json!({ "name": "c", "metrics": [ { "name": "latency",
            "query": { "type": "prometheus", "customInlineTemplate": "PromQL:up" } } ] });
        assert!(looks_like_kayenta(&kayenta));
        let by_name = json!({ "metrics": [ { "name": "m", "query": { "metricName": "up" } } ] });
        assert!(looks_like_kayenta(&by_name));
    }
}
