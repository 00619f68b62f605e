//! "Did you mean …?": the closest known name to a misspelt one, for config fields, series
//! names and anything else a user types.

/// The candidate closest to `name` by edit distance, when it is close enough to be a
/// plausible typo: at most a third of the longer name's characters differ (at least one),
/// or one name is the other with a different case. `None` when nothing is that close or
/// `name` itself is a candidate.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        if c == name {
            return None;
        }
        let d = if c.eq_ignore_ascii_case(name) {
            0
        } else {
            strsim::levenshtein(name, c)
        };
        let longest = name.chars().count().max(c.chars().count());
        let limit = (longest / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Why `name` cannot name a config, metric, pipeline or target, if it cannot: names are
/// shown in pages, logs and URLs, so no control characters (NUL, newlines) and at most 200
/// characters.
pub fn name_problem(name: &str) -> Option<String> {
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!(
            "names may not hold control characters (found U+{:04X})",
            c as u32
        ));
    }
    let n = name.chars().count();
    (n > 200).then(|| format!("names may be at most 200 characters long, this one has {n}"))
}

/// `"; did you mean `x`?"` or nothing.
pub fn hint<'a, I>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match did_you_mean(name, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        let known = ["http_errors", "http_requests", "latency_ms"];
        assert_eq!(did_you_mean("http_errorz", known), Some("http_errors"));
        assert_eq!(did_you_mean("latency_MS", known), Some("latency_ms"));
        assert_eq!(did_you_mean("cpu", known), None);
        assert_eq!(did_you_mean("http_errors", known), None, "an exact name");
        assert_eq!(
            did_you_mean("analysisConfiguration", ["analysisConfigurations", "query"]),
            Some("analysisConfigurations")
        );
        assert_eq!(hint("x", known), "");
        assert_eq!(hint("latncy_ms", known), "; did you mean `latency_ms`?");
    }
}
