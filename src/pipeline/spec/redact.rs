//! Secrets out of specs: a spec and its URLs as they may be shown (stored, listed,
//! logged), and the TOML form specs are stored in.

use super::*;

/// Keys whose values are secrets wherever they appear in a spec.
const SECRET_KEYS: [&str; 3] = ["secret", "token", "password"];

/// A spec written as JSON or YAML, re-written as the TOML document canaryd stores (a TOML
/// spec is stored as written, comments and all). `None` when the document has no TOML form
/// (it is not a table at the top, or holds a `null`).
pub fn as_toml(text: &str, format: Format) -> Option<String> {
    if format == Format::Toml {
        return Some(text.to_string());
    }
    let value: toml::Table = source::deserialize(text, format).ok()?;
    toml::to_string_pretty(&value).ok()
}

/// Query parameters whose values are credentials wherever a URL carries them.
const SECRET_PARAMS: [&str; 10] = [
    "token",
    "access_token",
    "key",
    "api_key",
    "apikey",
    "secret",
    "password",
    "pass",
    "auth",
    "signature",
];

/// A URL with its credentials replaced by `***`: the user and password before `@`, and the
/// values of query parameters named like credentials (`?token=…`). Other text is returned
/// as it is.
pub fn redacted_url(text: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(text) else {
        return text.to_string();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return text.to_string();
    }
    let mut changed = false;
    if !url.username().is_empty() {
        changed |= url.set_username("***").is_ok();
    }
    if url.password().is_some() {
        changed |= url.set_password(Some("***")).is_ok();
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                changed |= secret;
                (
                    k.into_owned(),
                    if secret { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if changed {
        url.to_string()
    } else {
        text.to_string()
    }
}

/// The spec text to show anyone: every `secret`, `token` and `password` value replaced by
/// `***` (webhook and notification secrets are HMAC keys: a reader who had them could
/// forge canaryd's signatures), and credentials inside URLs too ([`redacted_url`]). The
/// document is re-written, so comments are not kept; a text that does not parse is not
/// shown at all.
pub fn redacted_spec(text: &str) -> String {
    fn walk(v: &mut toml::Value) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t.iter_mut() {
                    if SECRET_KEYS.contains(&k.as_str()) && v.is_str() {
                        *v = toml::Value::String("***".into());
                    } else {
                        walk(v);
                    }
                }
            }
            toml::Value::Array(a) => a.iter_mut().for_each(walk),
            toml::Value::String(s) => *s = redacted_url(s),
            _ => {}
        }
    }
    match text.parse::<toml::Table>() {
        Ok(t) => {
            let mut v = toml::Value::Table(t);
            walk(&mut v);
            toml::to_string_pretty(&v).unwrap_or_else(|_| "# (the spec cannot be shown)\n".into())
        }
        Err(_) => "# (the spec cannot be shown)\n".into(),
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn credentials_inside_urls_are_never_shown() {
        assert_eq!(
            redacted_url("https://alice:hunter2@hooks.example.com/x?token=abc&team=web"),
            "https://***:***@hooks.example.com/x?token=***&team=web"
        );
        assert_eq!(
            redacted_url("https://hooks.example.com/x?team=web"),
            "https://hooks.example.com/x?team=web"
        );
        assert_eq!(redacted_url("not a url"), "not a url");
        let spec = "name = \"p\"\n[[notifications]]\nurl = \"https://u:pw@h.example/n?api_key=k1\"\nsecret = \"s\"\n";
        let shown = redacted_spec(spec);
        for leak in ["pw", "k1", "\"s\""] {
            assert!(!shown.contains(leak), "{leak} in {shown}");
        }
        assert!(shown.contains("h.example"), "{shown}");
    }
}
