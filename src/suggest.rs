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

/// [`name_problem`] for a name that creates something others will pick from a list (a
/// config, a metric, a pipeline, a target): it must not pass for another ([`confusable`]).
pub fn new_name_problem(name: &str) -> Option<String> {
    name_problem(name).or_else(|| confusable(name))
}

/// Why a name could pass for another one on a screen, if it could: invisible characters
/// and bidi controls (a zero-width space, a right-to-left override), a form Unicode
/// compatibility-normalises away (fullwidth `ｗｅｂ` is `web`: NFKC), or letters of Latin
/// mixed with Greek or Cyrillic (Cyrillic `е` in `wеb`). Two pipelines must never render
/// alike.
pub fn confusable(name: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    if let Some(c) = name.chars().find(|c| invisible(*c)) {
        return Some(format!(
            "names may not hold invisible or text-direction characters (found U+{:04X})",
            c as u32
        ));
    }
    let nfkc: String = name.nfkc().collect();
    if nfkc != name {
        return Some(format!(
            "`{name}` has characters that stand for others (Unicode NFKC writes it `{nfkc}`); use `{nfkc}`"
        ));
    }
    let scripts: Vec<&str> = ["Latin", "Greek", "Cyrillic"]
        .into_iter()
        .filter(|s| name.chars().any(|c| script_of(c) == Some(*s)))
        .collect();
    if scripts.len() > 1 {
        return Some(format!(
            "`{name}` mixes {} letters, which look alike; write it in one script",
            scripts.join(" and ")
        ));
    }
    None
}

/// Zero-width, joiner, filler, variation-selector, tag and bidi-control characters.
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// The script of a letter, for the three that share look-alike letters.
fn script_of(c: char) -> Option<&'static str> {
    if !c.is_alphabetic() {
        return None;
    }
    match c as u32 {
        0x0041..=0x005A | 0x0061..=0x007A | 0x00C0..=0x024F | 0x1E00..=0x1EFF => Some("Latin"),
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Some("Greek"),
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Some("Cyrillic"),
        _ => None,
    }
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
    fn look_alike_names_are_refused() {
        for (name, says) in [
            ("w\u{0435}b", "mixes Latin and Cyrillic"),
            ("web\u{200B}", "invisible"),
            ("\u{202E}bew", "invisible"),
            ("\u{FF57}\u{FF45}\u{FF42}", "NFKC writes it `web`"),
        ] {
            let p = new_name_problem(name).unwrap_or_else(|| panic!("{name:?} accepted"));
            assert!(p.contains(says), "{name:?}: {p}");
        }
        for fine in [
            "web",
            "shop-web_v2",
            "café",
            "Κατάστημα",
            "магазин",
            "checkout /api",
        ] {
            assert_eq!(new_name_problem(fine), None, "{fine}");
        }
    }

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
