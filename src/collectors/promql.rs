//! PromQL built from canary configs: template expansion with safe values, and the queries
//! of each [`PromQuery`] kind.
//!
//! A `${name}` in a template is replaced by the scope's value, escaped for where it sits:
//! inside a `"…"` or `'…'` string literal the value is escaped (`\`, the quote, newlines,
//! tabs); inside a raw `` `…` `` literal nothing can be escaped, so a value holding a
//! backtick is rejected; outside any literal (a duration, a label name, a number) only
//! `[A-Za-z0-9_:.]` is allowed; inside a `# …` comment (to the end of its line) the value
//! may be anything but a control character (a newline would end the comment). Control
//! characters are rejected everywhere. An undefined variable is an error, never an empty
//! string. The lexing follows PromQL's: a quote inside a comment opens nothing, a `#` inside
//! a string starts no comment, and a backslash inside `"…"` or `'…'` escapes the next
//! character — so a value can never leave the literal it was written in (a property test
//! checks that the query's token shape never changes, whatever the value).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Scope;
use crate::config::query::PromQuery;

/// Why a query could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("undefined variable `${{{0}}}` (the scope has no such value)")]
    Undefined(String),
    #[error("unclosed `${{` at byte {0}")]
    Unclosed(usize),
    #[error("the value {value:?} of `${{{name}}}` cannot be made safe here: {why}")]
    Unsafe {
        name: String,
        value: String,
        why: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Double,
    Single,
    Raw,
    /// A `#` comment, to the end of the line.
    Comment,
}

/// Expand `${name}` in `template` from `scope`.
pub fn expand(template: &str, scope: &Scope) -> Result<String, TemplateError> {
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len() + 32);
    let mut quote = Quote::None;
    let mut i = 0;
    let mut plain_start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'$' && bytes.get(i + 1) == Some(&b'{') {
            out.push_str(&template[plain_start..i]);
            let close = template[i + 2..]
                .find('}')
                .ok_or(TemplateError::Unclosed(i))?;
            let name = &template[i + 2..i + 2 + close];
            let value = scope
                .var(name)
                .ok_or_else(|| TemplateError::Undefined(name.to_string()))?;
            push_escaped(&mut out, name, value, quote)?;
            i += 2 + close + 1;
            plain_start = i;
            continue;
        }
        match (quote, b) {
            (Quote::None, b'"') => quote = Quote::Double,
            (Quote::None, b'\'') => quote = Quote::Single,
            (Quote::None, b'`') => quote = Quote::Raw,
            (Quote::None, b'#') => quote = Quote::Comment,
            (Quote::Double, b'"')
            | (Quote::Single, b'\'')
            | (Quote::Raw, b'`')
            | (Quote::Comment, b'\n') => quote = Quote::None,
            (Quote::Double | Quote::Single, b'\\') => i += 1,
            _ => {}
        }
        i += 1;
    }
    out.push_str(&template[plain_start.min(template.len())..]);
    Ok(out)
}

fn push_escaped(
    out: &mut String,
    name: &str,
    value: &str,
    quote: Quote,
) -> Result<(), TemplateError> {
    let unsafe_ = |why| TemplateError::Unsafe {
        name: name.to_string(),
        value: value.to_string(),
        why,
    };
    match quote {
        Quote::None => {
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.'))
            {
                return Err(unsafe_(
                    "outside a string literal only letters, digits, `_`, `:` and `.` are allowed",
                ));
            }
            out.push_str(value);
        }
        Quote::Comment => {
            if value.chars().any(char::is_control) {
                return Err(unsafe_(
                    "control characters are not allowed (a newline would end the comment)",
                ));
            }
            out.push_str(value);
        }
        Quote::Raw => {
            if value.contains('`') {
                return Err(unsafe_("a raw `…` string cannot hold a backtick"));
            }
            if value.chars().any(char::is_control) {
                return Err(unsafe_("control characters are not allowed"));
            }
            out.push_str(value);
        }
        Quote::Double | Quote::Single => {
            let q = if quote == Quote::Double { '"' } else { '\'' };
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c if c == q => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if c.is_control() => {
                        return Err(unsafe_("control characters are not allowed"));
                    }
                    c => out.push(c),
                }
            }
        }
    }
    Ok(())
}

/// The PromQL a query kind runs for one scope. Histogram and ratio kinds select the raw
/// counters: the collector reads them at every step and takes the differences itself,
/// series by series with counter resets handled, so every increment is counted exactly
/// once. (`increase(x[step])` sees only the samples inside each step: the increase between
/// the last sample of one step and the first of the next is lost and the rest is
/// extrapolated, so with a 1 s scrape and 2 s steps a steady error every 2 s can vanish
/// completely, and count-based judges would see scaled, non-integer counts.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltQuery {
    /// One query; every series is a pair candidate.
    Series(String),
    /// Bucket counters (`_bucket`), differenced per step and summed by `le` and the split
    /// labels.
    Histogram(String),
    /// Error and total counters, differenced per step and summed by the split labels.
    Ratio { errors: String, total: String },
}

impl BuiltQuery {
    /// Every query text, for reports.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            BuiltQuery::Series(q) | BuiltQuery::Histogram(q) => vec![q.as_str()],
            BuiltQuery::Ratio { errors, total } => vec![errors.as_str(), total.as_str()],
        }
    }
}

fn by_clause(labels: &[String]) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!(" by ({})", labels.join(", "))
    }
}

/// Build the query of `query` for `scope`.
pub fn build(
    query: &PromQuery,
    scope: &Scope,
    templates: &BTreeMap<String, String>,
) -> Result<BuiltQuery, TemplateError> {
    match query {
        PromQuery::Promql { template, .. } => Ok(BuiltQuery::Series(expand(template, scope)?)),
        PromQuery::Histogram {
            base,
            filter,
            split_by: _,
        } => {
            let filter = expand(filter, scope)?;
            Ok(BuiltQuery::Histogram(format!("{base}_bucket{{{filter}}}")))
        }
        PromQuery::Ratio {
            errors,
            total,
            split_by: _,
        } => Ok(BuiltQuery::Ratio {
            errors: expand(errors, scope)?,
            total: expand(total, scope)?,
        }),
        PromQuery::Kayenta {
            metric_name,
            label_bindings,
            group_by_fields,
            custom_inline_template,
            custom_filter_template,
        } => {
            if let Some(t) = custom_inline_template {
                let body = t.strip_prefix("PromQL:").ok_or_else(|| {
                    TemplateError::Invalid(
                        "a customInlineTemplate must start with `PromQL:`".to_string(),
                    )
                })?;
                return Ok(BuiltQuery::Series(expand(body, scope)?));
            }
            let name = custom_filter_template.as_ref().ok_or_else(|| {
                TemplateError::Invalid(
                    "without a customFilterTemplate baseline and canary would read the same \
                     series; name a template (e.g. `version=\"${scope}\"`) or use a `PromQL:` \
                     customInlineTemplate"
                        .to_string(),
                )
            })?;
            let filter = templates.get(name).ok_or_else(|| {
                TemplateError::Invalid(format!("no template named `{name}` in `templates`"))
            })?;
            let mut matchers = vec![expand(filter, scope)?];
            matchers.extend(label_bindings.iter().cloned());
            let mut q = String::new();
            let _ = write!(q, "avg({metric_name}{{{}}})", matchers.join(", "));
            q.push_str(&by_clause(group_by_fields));
            Ok(BuiltQuery::Series(q))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A token of a PromQL text, as far as its shape goes: string literals (any quote,
    /// contents ignored), names and numbers (text ignored), and each other character.
    /// Comments are dropped. An independent lexer from the one the escaper uses.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Tok {
        Str,
        Word,
        Punct(char),
    }

    fn shape(q: &str) -> Vec<Tok> {
        let c: Vec<char> = q.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            match c[i] {
                '"' | '\'' => {
                    let q = c[i];
                    i += 1;
                    while i < c.len() && c[i] != q {
                        if c[i] == '\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    out.push(Tok::Str);
                    i += 1;
                }
                '`' => {
                    i += 1;
                    while i < c.len() && c[i] != '`' {
                        i += 1;
                    }
                    out.push(Tok::Str);
                    i += 1;
                }
                '#' => {
                    while i < c.len() && c[i] != '\n' {
                        i += 1;
                    }
                }
                ch if ch.is_whitespace() => i += 1,
                ch if ch.is_alphanumeric() || matches!(ch, '_' | ':' | '.') => {
                    while i < c.len() && (c[i].is_alphanumeric() || matches!(c[i], '_' | ':' | '.'))
                    {
                        i += 1;
                    }
                    out.push(Tok::Word);
                }
                ch => {
                    out.push(Tok::Punct(ch));
                    i += 1;
                }
            }
        }
        out
    }

    /// Pieces of templates: `${scope}` in every literal kind and in comments, comments
    /// holding quotes, strings holding `#` and escaped quotes.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "sum(rate(http_requests_total{version=\"${scope}\"}[5m]))",
            "x{v='${scope}'}",
            "x{v=`${scope}`}",
            "x{v=\"a#b ${scope}\"}",
            "x{v=\"q\\\"${scope}\"}",
            "x{v='it\\'s ${scope}'}",
            "# the canary's \"rate\" ${scope}\n",
            "# a `raw` quote '\n",
            "x[${scope}]",
            " or ",
            " / on(route) ",
            "\n",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
        ))]
        #[test]
        fn no_value_changes_the_shape_of_a_query(
            pieces in prop::collection::vec(piece(), 1..8),
            value in "[a-z\"'`#{}()\\\\\n\\[\\] ,=~!|0-9.:_$-]{0,24}",
        ) {
            let template: String = pieces.concat();
            let benign = expand(&template, &scope("v1")).expect("a benign value expands");
            if let Ok(hostile) = expand(&template, &scope(&value)) {
                prop_assert_eq!(
                    shape(&hostile),
                    shape(&benign),
                    "template {:?} with {:?} became {:?}",
                    template,
                    value,
                    hostile
                );
            }
        }
    }

    #[test]
    fn a_quote_in_a_comment_does_not_open_a_literal() {
        // The probe: an apostrophe in a comment above the selector, and a value that would
        // close the string and add `or vector(42)` if the escaper misread the context.
        let template =
            "# the canary's request rate\nsum(rate(http_requests_total{version=\"${scope}\"}[5s]))";
        let attack = "nope\"}[5s])) or vector(42) or sum(rate(http_requests_total{version=\"v1";
        let q = expand(template, &scope(attack)).unwrap();
        assert_eq!(
            shape(&q),
            shape(&expand(template, &scope("v1")).unwrap()),
            "{q}"
        );
        assert!(q.contains(r#"version="nope\"}[5s])) or vector(42)"#), "{q}");
        // A value in a comment cannot end the comment.
        assert!(expand("# ${scope}\nx", &scope("a\nvector(1)")).is_err());
        assert_eq!(
            expand("# ${scope}\nx", &scope("it's")).unwrap(),
            "# it's\nx"
        );
    }

    fn scope(v: &str) -> Scope {
        Scope {
            scope: v.into(),
            location: Some("eu-west-1".into()),
            api: Some("/checkout".into()),
            params: [("namespace".to_string(), "prod".to_string())].into(),
        }
    }

    #[test]
    fn variables_expand_inside_and_outside_literals() {
        let q = expand(
            "rate(x{version=\"${scope}\", region='${location}', ns=`${namespace}`, route=\"${api}\"}[${namespace}])",
            &scope("v2"),
        )
        .unwrap();
        assert_eq!(
            q,
            "rate(x{version=\"v2\", region='eu-west-1', ns=`prod`, route=\"/checkout\"}[prod])"
        );
    }

    #[test]
    fn values_are_escaped_for_their_literal() {
        let s = scope("a\"b\\c\nd");
        assert_eq!(
            expand("x{v=\"${scope}\"}", &s).unwrap(),
            r#"x{v="a\"b\\c\nd"}"#
        );
        let s = scope("it's");
        assert_eq!(expand("x{v='${scope}'}", &s).unwrap(), r"x{v='it\'s'}");
        // An escaped quote inside a literal does not end it.
        assert_eq!(
            expand(r#"x{v="q\"${scope}"}"#, &s).unwrap(),
            r#"x{v="q\"it's"}"#
        );
    }

    #[test]
    fn values_that_cannot_be_made_safe_are_rejected() {
        // An injection attempt outside a literal.
        let e = expand("x[${scope}]", &scope("5m]) or vector(1")).unwrap_err();
        assert!(matches!(e, TemplateError::Unsafe { .. }), "{e}");
        assert!(expand("x{v=`${scope}`}", &scope("a`b")).is_err());
        assert!(expand("x{v=\"${scope}\"}", &scope("a\u{0}b")).is_err());
        assert!(expand("x[${scope}]", &scope("")).is_err());
        assert_eq!(
            expand("x{v=\"${nope}\"}", &scope("v")).unwrap_err(),
            TemplateError::Undefined("nope".into())
        );
        assert_eq!(
            expand("x{v=\"${scope", &scope("v")).unwrap_err(),
            TemplateError::Unclosed(5)
        );
    }

    #[test]
    fn kinds_build_their_queries() {
        let s = scope("v2");
        let h = PromQuery::Histogram {
            base: "http_request_duration_seconds".into(),
            filter: "version=\"${scope}\"".into(),
            split_by: vec!["route".into()],
        };
        assert_eq!(
            build(&h, &s, &BTreeMap::new()).unwrap(),
            BuiltQuery::Histogram("http_request_duration_seconds_bucket{version=\"v2\"}".into())
        );
        let r = PromQuery::Ratio {
            errors: "http_requests_total{version=\"${scope}\", code=~\"5..\"}".into(),
            total: "http_requests_total{version=\"${scope}\"}".into(),
            split_by: vec![],
        };
        let BuiltQuery::Ratio { errors, total } = build(&r, &s, &BTreeMap::new()).unwrap() else {
            panic!()
        };
        assert_eq!(errors, "http_requests_total{version=\"v2\", code=~\"5..\"}");
        assert_eq!(total, "http_requests_total{version=\"v2\"}");

        let k = PromQuery::Kayenta {
            metric_name: "http_server_requests_seconds_count".into(),
            label_bindings: vec!["status=~\"5..\"".into()],
            group_by_fields: vec!["uri".into()],
            custom_inline_template: None,
            custom_filter_template: Some("f".into()),
        };
        let templates = [("f".to_string(), "app=\"${scope}\"".to_string())].into();
        assert_eq!(
            build(&k, &s, &templates).unwrap(),
            BuiltQuery::Series(
                "avg(http_server_requests_seconds_count{app=\"v2\", status=~\"5..\"}) by (uri)"
                    .into()
            )
        );
        let inline = PromQuery::Kayenta {
            metric_name: String::new(),
            label_bindings: vec![],
            group_by_fields: vec![],
            custom_inline_template: Some("PromQL:sum(up{job=\"${scope}\"})".into()),
            custom_filter_template: None,
        };
        assert_eq!(
            build(&inline, &s, &templates).unwrap(),
            BuiltQuery::Series("sum(up{job=\"v2\"})".into())
        );
        let no_filter = PromQuery::Kayenta {
            metric_name: "m".into(),
            label_bindings: vec![],
            group_by_fields: vec![],
            custom_inline_template: None,
            custom_filter_template: None,
        };
        assert!(build(&no_filter, &s, &templates).is_err());
    }
}
