//! The layers of `src/` stay one-way and free of import circles (README, "Architecture").
//!
//! Every `crate::…`, `super::…` and `self::…` path in a file's code (comments left out) is
//! an import of the file that defines it. Two rules:
//! - **one-way layers**: a file imports only its own top-level module or modules of lower
//!   layers ([`LAYERS`], top first);
//! - **no circles**: no files import one another in a loop. A module's own submodules are
//!   its parts, not its imports (a parent declaring and re-exporting its children is its
//!   face), so a child using its parent's vocabulary is no circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// canaryd's top-level modules from the top layer down; a module imports only modules of
/// layers below its own. `lib.rs` and `main.rs` (the crate's face) are not checked.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["api"],
    &["report"],
    &["pipeline", "eval", "replay"],
    &["analysis"],
    &["sim", "routers", "telemetry"],
    &["collectors"],
    &["config"],
    &["store", "secret", "suggest", "text", "time"],
];

/// A source file: its module path (`["store", "sqlite", "json"]`) and text.
struct Source {
    file: String,
    module: Vec<String>,
    text: String,
}

fn sources() -> Vec<Source> {
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
    let src = crate::root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&src).expect("under src").to_path_buf();
            let mut module: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            if matches!(module.as_slice(), [m] if m == "lib" || m == "main") {
                return None;
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            Some(Source {
                file: format!("src/{}", rel.display()),
                module,
                text,
            })
        })
        .collect()
}

/// The code of a file without its comments (line comments and doc comments).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| {
            let t = line.trim_start();
            if t.starts_with("//") {
                ""
            } else {
                line.split(" //").next().unwrap_or(line)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path written in `code` that starts with `crate`, `super` or `self`, with one level
/// of `{…}` groups expanded: `crate::a::{b::C, d}` gives `crate::a::b::C` and `crate::a::d`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let start = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| rest.starts_with(**p))
            .filter(|_| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if start.is_none() {
            i += 1;
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let head: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if rest[end..].starts_with('{') {
            let close = rest[end..].find('}').map_or(rest.len(), |k| end + k);
            for item in rest[end + 1..close].split(',') {
                let item = item.trim().split(" as ").next().unwrap_or("").trim();
                let mut p = head.clone();
                p.extend(
                    item.split("::")
                        .map(|s| s.trim().trim_start_matches('{').to_string())
                        .filter(|s| !s.is_empty() && s != "self"),
                );
                out.push(p);
            }
            i += close.max(end) + 1;
        } else {
            out.push(head);
            i += end.max(1);
        }
    }
    out
}

/// The file (module path) that defines `path` as seen from `module`: its longest prefix
/// that is a module of the crate.
fn resolve(
    module: &[String],
    path: &[String],
    known: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut base: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("self") => module.to_vec(),
        Some("super") => {
            let mut b = module.to_vec();
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                b.pop();
                k += 1;
            }
            // `super` inside a file's inline `mod tests` means the file itself; read as
            // its parent here, which only adds imports of the parent (never of a child),
            // so no false circle.
            let mut full = b;
            full.extend(path[k..].iter().cloned());
            return longest(&full, known);
        }
        _ => return None,
    };
    base.extend(path[1..].iter().cloned());
    longest(&base, known)
}

fn longest(full: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|p| known.contains(p))
}

/// Module path → file name, for messages.
fn file_names(sources: &[Source]) -> BTreeMap<Vec<String>, String> {
    sources
        .iter()
        .map(|s| (s.module.clone(), s.file.clone()))
        .collect()
}

fn layer(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

/// File-to-file imports: `(from, to)` module paths, a module's own descendants left out.
fn imports(sources: &[Source]) -> BTreeSet<(Vec<String>, Vec<String>)> {
    let known: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let mut edges = BTreeSet::new();
    for s in sources {
        for p in paths(&code(&s.text)) {
            let Some(to) = resolve(&s.module, &p, &known) else {
                continue;
            };
            if to == s.module || to.starts_with(&s.module) {
                continue;
            }
            edges.insert((s.module.clone(), to));
        }
    }
    edges
}

#[test]
fn every_module_has_a_layer() {
    let tops: BTreeSet<String> = sources().iter().map(|s| s.module[0].clone()).collect();
    let missing: Vec<&String> = tops.iter().filter(|t| layer(t).is_none()).collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in LAYERS: {missing:?}"
    );
}

#[test]
fn imports_only_run_down_the_layers() {
    let sources = sources();
    let files = file_names(&sources);
    let edges = imports(&sources);
    assert!(
        edges.len() > 100,
        "only {} imports read: the parser broke",
        edges.len()
    );
    let up: Vec<String> = edges
        .iter()
        .filter(|(from, to)| from[0] != to[0])
        .filter(|(from, to)| match (layer(&from[0]), layer(&to[0])) {
            (Some(a), Some(b)) => b <= a,
            _ => true,
        })
        .map(|(from, to)| format!("{} -> {}", files[from], files[to]))
        .collect();
    assert!(
        up.is_empty(),
        "imports that run back up a layer (or across one):\n{}",
        up.join("\n")
    );
}

/// Every loop of imports, as `a -> b -> a` in file names.
fn circles(
    edges: &BTreeSet<(Vec<String>, Vec<String>)>,
    files: &BTreeMap<Vec<String>, String>,
) -> Vec<String> {
    let mut next: BTreeMap<&Vec<String>, Vec<&Vec<String>>> = BTreeMap::new();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    let name = |m: &Vec<String>| files.get(m).cloned().unwrap_or_else(|| m.join("/"));
    // Depth-first search with colours; a grey node reached again closes a circle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        Grey,
        Black,
    }
    let mut colour: BTreeMap<&Vec<String>, Colour> = BTreeMap::new();
    let mut found = Vec::new();
    for start in next.keys().copied() {
        if colour.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&Vec<String>, usize)> = vec![(start, 0)];
        colour.insert(start, Colour::Grey);
        while let Some((node, k)) = stack.pop() {
            let outs = next.get(node).cloned().unwrap_or_default();
            if let Some(&to) = outs.get(k) {
                stack.push((node, k + 1));
                match colour.get(to) {
                    None => {
                        colour.insert(to, Colour::Grey);
                        stack.push((to, 0));
                    }
                    Some(Colour::Grey) => {
                        let at = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                        let ring: Vec<String> = stack[at..]
                            .iter()
                            .map(|(n, _)| name(n))
                            .chain([name(to)])
                            .collect();
                        found.push(ring.join(" -> "));
                    }
                    Some(Colour::Black) => {}
                }
            } else {
                colour.insert(node, Colour::Black);
            }
        }
    }
    found
}

#[test]
fn no_import_circles_between_files() {
    let sources = sources();
    let files = file_names(&sources);
    let found = circles(&imports(&sources), &files);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The checks can fail: a made-up upward import and a made-up circle are found.
#[test]
fn the_checks_see_what_they_should() {
    let src = |module: &[&str], text: &str| Source {
        file: module.join("/"),
        module: module.iter().map(|s| s.to_string()).collect(),
        text: text.into(),
    };
    let sources = [
        src(&["store"], "use crate::api::Role;\n// use crate::cli::x;"),
        src(
            &["api"],
            "use crate::{store::Store, report::html::{page, Page}};",
        ),
        src(
            &["report", "html"],
            "fn f() { let _ = super::super::api::x(); }",
        ),
        src(&["report"], "pub mod html;"),
        src(
            &["store", "sqlite"],
            "use super::Store; use self::json::Json;",
        ),
        src(&["store", "sqlite", "json"], "use crate::store::sqlite::x;"),
    ];
    let edges = imports(&sources);
    let has = |a: &[&str], b: &[&str]| {
        edges.contains(&(
            a.iter().map(|s| s.to_string()).collect(),
            b.iter().map(|s| s.to_string()).collect(),
        ))
    };
    assert!(has(&["store"], &["api"]), "{edges:?}");
    assert!(
        has(&["api"], &["store"]) && has(&["api"], &["report", "html"]),
        "{edges:?}"
    );
    assert!(has(&["report", "html"], &["api"]), "{edges:?}");
    assert!(has(&["store", "sqlite"], &["store"]), "{edges:?}");
    assert!(
        has(&["store", "sqlite", "json"], &["store", "sqlite"]),
        "{edges:?}"
    );
    assert!(
        !has(&["store", "sqlite"], &["store", "sqlite", "json"]),
        "{edges:?}"
    );
    assert!(
        !edges.iter().any(|(_, to)| to[0] == "cli"),
        "comments are no imports"
    );
    let found = circles(&edges, &BTreeMap::new());
    assert_eq!(
        found,
        ["api -> report/html -> api", "api -> store -> api"],
        "{edges:?}"
    );
    assert_eq!(layer("cli"), Some(0));
    assert!(layer("store") > layer("api"));
}
