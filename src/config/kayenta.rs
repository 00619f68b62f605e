//! Kayenta canary configs (the JSON Spinnaker stores), accepted as they are.
//!
//! Kayenta's fields map onto canaryd's: `analysisConfigurations.canary` holds the metric
//! options under their Kayenta names, `classifier.groupWeights` the group weights and
//! `classifier.scoreThresholds` the thresholds. Every metric is judged by `mann_whitney`
//! (Kayenta's NetflixACAJudge). Fields canaryd does not use (timestamps, `configVersion`,
//! `scopeName`, …) are accepted and ignored; the Prometheus query and templates are kept
//! for the Prometheus collector.

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
                .any(|m| m.get("analysisConfigurations").is_some() || m.get("query").is_some())
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaJudge {
    pub name: String,
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
