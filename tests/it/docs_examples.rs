//! The commands the docs show work as shown: every `curl` that sends a body says what it
//! is (the daemon refuses a body without a JSON/TOML/YAML content type with 415).

use std::fs;

/// Every shell command of the README and docs/, with its continuation lines joined.
fn commands() -> Vec<(String, String)> {
    let mut files = vec![super::root().join("README.md")];
    for e in fs::read_dir(super::root().join("docs")).expect("docs/") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).expect("readable doc");
        let mut current = String::new();
        for line in text.lines() {
            let l = line.trim_end();
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(l.trim_end_matches('\\'));
            // A command goes on while the line ends in `\` or a quote is open.
            let open_quote = current.matches('\'').count() % 2 == 1;
            if l.ends_with('\\') || open_quote {
                continue;
            }
            out.push((f.display().to_string(), std::mem::take(&mut current)));
        }
    }
    out
}

#[test]
fn every_curl_that_sends_a_body_names_its_content_type() {
    let mut checked = 0;
    for (file, cmd) in commands() {
        let Some(at) = cmd.find("curl ") else {
            continue;
        };
        let curl = &cmd[at..];
        let sends = [" -d ", " --data ", " --data-binary ", " --data-raw "]
            .iter()
            .any(|f| curl.contains(f));
        if !sends {
            continue;
        }
        checked += 1;
        assert!(
            curl.to_lowercase().contains("content-type:"),
            "{file}: this curl sends a body without a content type (the daemon answers 415): {curl}"
        );
    }
    assert!(
        checked >= 2,
        "the README shows curl with bodies; found {checked}"
    );
}
