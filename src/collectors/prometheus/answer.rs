//! Prometheus' answers, read within bounds: the JSON envelope, sample values (including `NaN` and `±Inf`), and what a failed query was.

use super::*;

/// (retry?, message) for a failed query.
/// Why a query failed: refused (a bad query, an answer too big to read: repeating it will
/// not help) or an HTTP/Prometheus failure, retried when `retry` (an outage).
pub(super) enum Failure {
    Refused(String),
    Http { retry: bool, message: String },
}

pub(super) fn too_big(limit: u64) -> Failure {
    Failure::Refused(format!(
        "the answer is larger than prometheus.max_answer_bytes ({limit} bytes): shorten the window, lengthen the step or narrow the query"
    ))
}

/// Prometheus' answer envelope (`/api/v1/query_range`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Answer {
    pub(super) status: String,
    #[serde(default)]
    pub(super) error_type: Option<String>,
    #[serde(default)]
    pub(super) error: Option<String>,
    #[serde(default)]
    pub(super) data: Option<AnswerData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AnswerData {
    pub(super) result_type: String,
    #[serde(default)]
    pub(super) result: Vec<AnswerSeries>,
}

#[derive(Deserialize)]
pub(super) struct AnswerSeries {
    #[serde(default)]
    pub(super) metric: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) values: Vec<(f64, PromValue)>,
}

/// A sample value as Prometheus writes it, a string (`"0.25"`, `"NaN"`, `"+Inf"`), read
/// straight into a number (no string kept per point); not finite is NaN.
pub(super) struct PromValue(pub(super) f64);

impl<'de> Deserialize<'de> for PromValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PromValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sample value (a number as a string)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PromValue, E> {
                Ok(PromValue(
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .unwrap_or(f64::NAN),
                ))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PromValue, E> {
                Ok(PromValue(if v.is_finite() { v } else { f64::NAN }))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PromValue, E> {
                Ok(PromValue(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PromValue, E> {
                Ok(PromValue(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

pub(super) fn series_of(data: AnswerData) -> Result<Vec<Series>, Failure> {
    if data.result_type != "matrix" {
        return Err(Failure::Refused(format!(
            "expected a range vector (matrix), got a {}",
            data.result_type
        )));
    }
    Ok(data
        .result
        .into_iter()
        .map(|r| {
            let mut labels: Labels = r.metric.into_iter().collect();
            labels.remove("__name__");
            Series {
                labels,
                points: r.values.iter().map(|(t, v)| (*t, v.0)).collect(),
            }
        })
        .collect())
}
