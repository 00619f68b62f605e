//! What a Prometheus answer becomes before it is paired: returned series, and the helpers
//! the query kinds share to pair them by label sets and to say which query returned nothing.
//! Below both [`super::prometheus`] and [`super::histogram`], so they need not import each
//! other.

use super::Labels;

/// One returned series: labels (without `__name__`) and (unix seconds, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(f64, f64)>,
}

/// The labels of `labels` that `split` names: the key pairs are matched by.
pub fn project(labels: &Labels, split: &[String]) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| split.iter().any(|s| s == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The queries of a pair as one line, for reasons.
pub fn query_text(queries: &[&String]) -> String {
    match queries {
        [b, c] => format!("baseline: {b}; canary: {c}"),
        _ => queries
            .iter()
            .map(|q| q.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Which side lacks data, as a pair's note.
pub fn side_note(b_empty: bool, c_empty: bool, queries: [&String; 2]) -> Option<String> {
    match (b_empty, c_empty) {
        (true, true) => Some(format!(
            "neither query returned data (baseline: {}; canary: {})",
            queries[0], queries[1]
        )),
        (true, false) => Some(format!("baseline query returned no data: {}", queries[0])),
        (false, true) => Some(format!("canary query returned no data: {}", queries[1])),
        (false, false) => None,
    }
}

/// A series from label pairs and points (the collectors' tests).
#[cfg(test)]
pub fn series(labels: &[(&str, &str)], points: &[(f64, f64)]) -> Series {
    Series {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        points: points.to_vec(),
    }
}
