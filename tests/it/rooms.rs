//! Rooms a person can hold in their head (README, "Architecture"): no function of canaryd's
//! code (`src/`, `judges/src/`; tests left out) runs over [`MAX_FN_LINES`] lines except the
//! match tables named in [`LONG_TABLES`], and no file over [`MAX_FILE_LINES`].
//!
//! Lines are counted from a function's `fn` line to its closing brace, on the code with
//! strings, characters and comments blanked, so braces inside them do not count.

use std::path::{Path, PathBuf};

/// The longest function, in lines.
const MAX_FN_LINES: usize = 120;
/// The longest file, in lines (its tests included).
const MAX_FILE_LINES: usize = 900;
/// Functions allowed to be longer: (file, function, why).
const LONG_TABLES: &[(&str, &str, &str)] = &[
    (
        "src/pipeline/state/transitions.rs",
        "step",
        "the state machine: one arm per (event, phase), each a few lines",
    ),
    (
        "src/api/openapi.rs",
        "components",
        "the OpenAPI document's schemas, as data",
    ),
];

/// `text` with string, raw-string and character literals and comments replaced by spaces
/// (newlines kept, so line numbers stay).
fn blank(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let keep = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(keep(c[i]));
                    i += 1;
                }
            }
        } else if ch == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || c[i - 1] == 'b' || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // r"…" or r#"…"#: ends at a quote followed by as many hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(ch);
                i += 1;
                continue;
            }
            j += 1;
            while j < c.len() {
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &x in &c[i..j.min(c.len())] {
                out.push(keep(x));
            }
            i = j;
        } else if ch == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(keep(c[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if ch == '\'' {
            // A character literal ('x', '\n', '\u{1f}'), else a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..c.len()).find(|&j| c[j] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for _ in i..=e {
                        out.push(' ');
                    }
                    i = e + 1;
                }
                None => {
                    out.push(ch);
                    i += 1;
                }
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// Every function in `code` (blanked): (name, first line, lines), nested ones included.
/// Test modules (`#[cfg(test)] mod … { … }`) are left out.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let b = code.as_bytes();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    // Byte ranges of test modules.
    let mut skip: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    while let Some(k) = code[from..].find("#[cfg(test)]") {
        let at = from + k;
        let rest = &code[at..];
        let head = rest.find(['{', ';']).unwrap_or(rest.len());
        if rest[..head].contains("mod ")
            && rest.as_bytes().get(head) == Some(&b'{')
            && let Some(end) = matching(b, at + head)
        {
            skip.push((at, end));
        }
        from = at + 1;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = code[i..].find("fn ") {
        let at = i + k;
        i = at + 3;
        let before_ok = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        if !before_ok || skip.iter().any(|&(s, e)| at >= s && at <= e) {
            continue;
        }
        let name: String = code[at + 3..]
            .chars()
            .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body: the first `{` before any `;` (a declaration without a body has none).
        let rest = &code[at..];
        let Some(open) = rest.find(['{', ';']) else {
            continue;
        };
        if rest.as_bytes()[open] == b';' {
            continue;
        }
        if let Some(close) = matching(b, at + open) {
            out.push((name, line_of(at), line_of(close) - line_of(at) + 1));
        }
    }
    out
}

/// The position of the brace closing the one at `open`.
fn matching(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i64;
    for (j, &x) in b.iter().enumerate().skip(open) {
        match x {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// canaryd's own code: `.rs` files under `src/` and `judges/src/`, test files left out.
fn files() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable source directory") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = crate::root();
    let mut paths = Vec::new();
    walk(&root.join("src"), &mut paths);
    walk(&root.join("judges/src"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            !name.is_some_and(|n| n == "tests.rs" || n.ends_with("_tests.rs"))
        })
        .map(|p| {
            let rel = p.strip_prefix(&root).expect("under the root");
            let text = std::fs::read_to_string(&p).expect("readable source");
            (rel.display().to_string(), text)
        })
        .collect()
}

#[test]
fn no_function_runs_over_the_limit_except_named_tables() {
    let mut long = Vec::new();
    let mut seen_tables = Vec::new();
    for (file, text) in files() {
        for (name, line, lines) in functions(&blank(&text)) {
            if lines <= MAX_FN_LINES {
                continue;
            }
            if LONG_TABLES.iter().any(|(f, n, _)| *f == file && *n == name) {
                seen_tables.push(name);
                continue;
            }
            long.push(format!("{file}:{line} `{name}`: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them by concern, or name a pure match \
         table in LONG_TABLES with why):\n{}",
        long.join("\n")
    );
    // A table that shrank below the limit leaves the list.
    for (file, name, _) in LONG_TABLES {
        assert!(
            seen_tables.iter().any(|n| n == name),
            "{file} `{name}` is no longer over {MAX_FN_LINES} lines: take it off LONG_TABLES"
        );
    }
}

#[test]
fn no_file_runs_over_the_limit() {
    let long: Vec<String> = files()
        .into_iter()
        .map(|(file, text)| (file, text.lines().count()))
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .map(|(file, n)| format!("{file}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines (split them by concern):\n{}",
        long.join("\n")
    );
}

/// The counting can fail: braces in strings, characters and comments do not count, a long
/// function is found, nested functions and test modules are handled.
#[test]
fn the_counting_sees_what_it_should() {
    let body = "    let x = 1;\n".repeat(5);
    let text = format!(
        "fn short() {{\n    let s = \"{{{{ }}\"; let c = '{{'; // {{\n    let r = r#\"{{\"#;\n}}\n\
         pub(crate) fn long<'a>(x: &'a str) -> &'a str {{\n{body}    fn inner() {{}}\n    x\n}}\n\
         #[cfg(test)]\nmod tests {{\n    fn in_a_test() {{\n{body}    }}\n}}\n"
    );
    let found = functions(&blank(&text));
    let by_name = |n: &str| found.iter().find(|f| f.0 == n).map(|f| (f.1, f.2));
    assert_eq!(by_name("short"), Some((1, 4)), "{found:?}");
    assert_eq!(by_name("long"), Some((5, 9)), "{found:?}");
    assert_eq!(by_name("inner"), Some((11, 1)), "{found:?}");
    assert_eq!(by_name("in_a_test"), None, "{found:?}");
}
