//! Config text in one of three formats, and where things are in it.
//!
//! Deserialisation errors and validation errors both name a field by its path
//! (`metrics[2].judge.kind`). [`SourceTree`] is a format-neutral tree of positions built
//! from the same text (TOML through `toml`'s spanned parser, JSON and YAML through
//! `marked_yaml`, since JSON is YAML's flow syntax), so every error can say
//! `file:line:column`.

use std::fmt;

use serde::de::DeserializeOwned;

/// The config formats canaryd reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
    Yaml,
}

impl Format {
    /// The format of a file name by its extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// The format by name (`toml`, `json`, `yaml` or `yml`).
    /// The format of a media type (`application/json`, `text/x-toml`, `application/yaml`,
    /// `application/problem+json`, …; parameters and case ignored).
    pub fn from_media_type(media_type: &str) -> Option<Format> {
        let mt = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mt.as_str() {
            "application/json" | "text/json" => Some(Format::Json),
            "application/toml" | "text/toml" | "text/x-toml" => Some(Format::Toml),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Some(Format::Yaml)
            }
            m if m.starts_with("application/") && m.ends_with("+json") => Some(Format::Json),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// The format's name, as stored.
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A field path such as `metrics[2].judge.kind`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn key(&self, k: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.into()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// Parse a dotted path (`metrics[2].judge`), as written by validation code.
    pub fn parse(s: &str) -> Self {
        let mut segs = Vec::new();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let mut rest = part;
            if let Some(open) = rest.find('[') {
                if open > 0 {
                    segs.push(Seg::Key(rest[..open].to_string()));
                }
                rest = &rest[open..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let close = stripped.find(']').unwrap_or(stripped.len());
                    if let Ok(i) = stripped[..close].parse() {
                        segs.push(Seg::Index(i));
                    }
                    rest = stripped.get(close + 1..).unwrap_or("");
                }
            } else {
                segs.push(Seg::Key(rest.to_string()));
            }
        }
        FieldPath(segs)
    }

    /// From the path `serde_path_to_error` recorded.
    pub fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment;
        let mut segs = Vec::new();
        for seg in path.iter() {
            match seg {
                Segment::Seq { index } => segs.push(Seg::Index(*index)),
                Segment::Map { key } => segs.push(Seg::Key(key.clone())),
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        FieldPath(segs)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Positions of every key and value of a document.
#[derive(Debug, Clone)]
pub enum SourceTree {
    /// Entries: key, position of the key, value.
    Map(Pos, Vec<(String, Pos, SourceTree)>),
    Seq(Pos, Vec<SourceTree>),
    Leaf(Pos),
}

impl SourceTree {
    fn pos(&self) -> Pos {
        match self {
            SourceTree::Map(p, _) | SourceTree::Seq(p, _) | SourceTree::Leaf(p) => *p,
        }
    }

    /// The position of `path`: the key of the last map step (so `metrics[1].name` points
    /// at `name`), or the element of the last index step. A path that leaves the document
    /// (a missing field) resolves to the deepest part that exists.
    pub fn locate(&self, path: &FieldPath) -> Pos {
        let mut node = self;
        let mut at = self.pos();
        for seg in &path.0 {
            let next = match (node, seg) {
                (SourceTree::Map(_, entries), Seg::Key(k)) => entries
                    .iter()
                    .find(|(key, _, _)| key == k)
                    .map(|(_, kp, v)| (*kp, v)),
                (SourceTree::Seq(_, items), Seg::Index(i)) => items.get(*i).map(|v| (v.pos(), v)),
                _ => None,
            };
            match next {
                Some((p, v)) => {
                    at = p;
                    node = v;
                }
                None => break,
            }
        }
        at
    }

    /// Build the tree of `text` in `format`; `None` when the text does not parse (the
    /// deserialiser then reports the syntax error with its own position).
    pub fn parse(text: &str, format: Format) -> Option<SourceTree> {
        match format {
            Format::Toml => {
                let lines = LineIndex::new(text);
                let table = toml::de::DeTable::parse(text).ok()?;
                Some(toml_table(&lines, table.span().start, table.get_ref()))
            }
            Format::Json | Format::Yaml => {
                let node = marked_yaml::parse_yaml(0, text).ok()?;
                Some(yaml_node(&node))
            }
        }
    }
}

struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn pos(&self, offset: usize, text_before: impl Fn(usize, usize) -> usize) -> Pos {
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line.saturating_sub(1)];
        Pos {
            line: line.max(1),
            column: text_before(start, offset) + 1,
        }
    }
}

fn toml_table(lines: &LineIndex, at: usize, table: &toml::de::DeTable<'_>) -> SourceTree {
    let pos = lines.pos(at, |a, b| b - a);
    let entries = table
        .iter()
        .map(|(k, v)| {
            let kp = lines.pos(k.span().start, |a, b| b - a);
            (k.get_ref().to_string(), kp, toml_value(lines, v))
        })
        .collect();
    SourceTree::Map(pos, entries)
}

fn toml_value(lines: &LineIndex, v: &toml::Spanned<toml::de::DeValue<'_>>) -> SourceTree {
    use toml::de::DeValue;
    let at = v.span().start;
    match v.get_ref() {
        DeValue::Table(t) => toml_table(lines, at, t),
        DeValue::Array(items) => SourceTree::Seq(
            lines.pos(at, |a, b| b - a),
            items.iter().map(|i| toml_value(lines, i)).collect(),
        ),
        _ => SourceTree::Leaf(lines.pos(at, |a, b| b - a)),
    }
}

fn marker_pos(span: &marked_yaml::Span) -> Pos {
    span.start()
        .map(|m| Pos {
            line: m.line(),
            column: m.column(),
        })
        .unwrap_or(Pos { line: 1, column: 1 })
}

fn yaml_node(node: &marked_yaml::Node) -> SourceTree {
    use marked_yaml::Node;
    match node {
        Node::Mapping(map) => SourceTree::Map(
            marker_pos(map.span()),
            map.iter()
                .map(|(k, v)| (k.as_str().to_string(), marker_pos(k.span()), yaml_node(v)))
                .collect(),
        ),
        Node::Sequence(seq) => {
            SourceTree::Seq(marker_pos(seq.span()), seq.iter().map(yaml_node).collect())
        }
        Node::Scalar(s) => SourceTree::Leaf(marker_pos(s.span())),
    }
}

/// A deserialisation failure with the field it happened at and, when the deserialiser
/// knows it, its own position.
#[derive(Debug)]
pub struct DeError {
    pub path: FieldPath,
    pub message: String,
    pub pos: Option<Pos>,
}

/// Deserialise `text` in `format` into `T`, tracking the field path of any error.
pub fn deserialize<T: DeserializeOwned>(text: &str, format: Format) -> Result<T, DeError> {
    match format {
        Format::Toml => {
            let de = toml::de::Deserializer::parse(text)
                .map_err(|e| toml_error(text, FieldPath::root(), &e))?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = FieldPath::from_serde(e.path());
                toml_error(text, path, e.inner())
            })
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = FieldPath::from_serde(e.path());
                let inner = e.into_inner();
                DeError {
                    path,
                    pos: (inner.line() > 0).then(|| Pos {
                        line: inner.line(),
                        column: inner.column(),
                    }),
                    message: strip_json_position(&inner.to_string()),
                }
            })?;
            de.end().map_err(|e| DeError {
                path: FieldPath::root(),
                pos: Some(Pos {
                    line: e.line(),
                    column: e.column(),
                }),
                message: strip_json_position(&e.to_string()),
            })?;
            Ok(value)
        }
        Format::Yaml => {
            if let Some(line) = second_yaml_document(text) {
                return Err(DeError {
                    path: FieldPath::root(),
                    pos: Some(Pos { line, column: 1 }),
                    message:
                        "a second YAML document: give one document (the rest would be ignored)"
                            .into(),
                });
            }
            let node =
                marked_yaml::parse_yaml_with_options(0, text, yaml_options()).map_err(|e| {
                    DeError {
                        path: FieldPath::root(),
                        pos: yaml_load_error_pos(&e),
                        message: e.to_string(),
                    }
                })?;
            // Through a JSON value with YAML 1.2 core-schema scalars: the node's own
            // deserialiser hands every scalar to `deserialize_any` as a string, so tagged
            // and untagged enums (pipeline steps, `null`) would see `5` as "5".
            deserialize_value(yaml_value(&node)).map_err(|e| DeError {
                pos: Some(yaml_node(&node).locate(&e.path)),
                ..e
            })
        }
    }
}

/// The line (1-based) where a second YAML document starts, if the text holds one: a `---`
/// at column 0 after content (a leading `---` only opens the first), or content after a
/// `...` document end. In YAML a column-0 `---` is always a document marker (block scalars
/// are indented), so this cannot mistake content for one.
fn second_yaml_document(text: &str) -> Option<usize> {
    // Documents with content seen so far, whether the current one has content, and where
    // the current one began.
    let (mut done, mut content, mut began) = (0usize, false, 1usize);
    for (i, line) in text.lines().enumerate() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if marker("---") || marker("...") {
            if content {
                done += 1;
                content = false;
            }
            began = i + 1;
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if done > 0 {
            return Some(began);
        }
        content = true;
    }
    None
}

/// Duplicate keys are errors; quoted scalars are marked so they are never resolved to
/// numbers, booleans or null.
fn yaml_options() -> marked_yaml::LoaderOptions {
    marked_yaml::LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true)
}

/// `node` as a JSON value, resolving plain scalars by the YAML 1.2 core schema (null,
/// booleans, integers, floats); quoted scalars stay strings. Non-finite floats (`.inf`,
/// `.nan`) have no JSON form and stay strings, so a number field refuses them.
fn yaml_value(node: &marked_yaml::Node) -> serde_json::Value {
    use marked_yaml::Node;
    use serde_json::Value;
    match node {
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_string(), yaml_value(v)))
                .collect(),
        ),
        Node::Sequence(seq) => Value::Array(seq.iter().map(yaml_value).collect()),
        Node::Scalar(s) if !s.may_coerce() => Value::String(s.as_str().to_string()),
        Node::Scalar(s) => core_scalar(s.as_str()),
    }
}

/// A plain YAML scalar by the YAML 1.2 core schema.
fn core_scalar(s: &str) -> serde_json::Value {
    use serde_json::Value;
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if let Some(hex) = s.strip_prefix("0x").filter(|t| digits(t, 16)) {
        if let Ok(n) = u64::from_str_radix(hex, 16) {
            return Value::from(n);
        }
    } else if let Some(oct) = s.strip_prefix("0o").filter(|t| digits(t, 8)) {
        if let Ok(n) = u64::from_str_radix(oct, 8) {
            return Value::from(n);
        }
    } else if digits(unsigned, 10) {
        if let Ok(n) = s.parse::<i64>() {
            return Value::from(n);
        }
        if let Ok(n) = s.parse::<u64>() {
            return Value::from(n);
        }
    }
    if is_core_float(unsigned)
        && let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

/// `[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?` or `\.[0-9]+([eE][-+]?[0-9]+)?` (sign removed).
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && all_digits(frac),
        Some((int, frac)) => !int.is_empty() && all_digits(int) && all_digits(frac),
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

/// The document as a JSON value (any format), for deserialising again after edits.
pub fn to_value(text: &str, format: Format) -> Option<serde_json::Value> {
    match format {
        Format::Json => serde_json::from_str(text).ok(),
        Format::Toml => toml::from_str(text).ok(),
        Format::Yaml => Some(yaml_value(
            &marked_yaml::parse_yaml_with_options(0, text, yaml_options()).ok()?,
        )),
    }
}

/// Deserialise `value` into `T`, tracking the field path of any error (no positions: the
/// caller locates the path in the source text).
pub fn deserialize_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DeError> {
    serde_path_to_error::deserialize(value).map_err(|e| DeError {
        path: FieldPath::from_serde(e.path()),
        pos: None,
        message: e.into_inner().to_string(),
    })
}

/// Remove the key `path` ends in from `value`; false when there is no such key.
pub fn remove_at(value: &mut serde_json::Value, path: &FieldPath) -> bool {
    let Some((Seg::Key(last), parents)) = path.0.split_last() else {
        return false;
    };
    let mut at = value;
    for seg in parents {
        at = match (seg, at) {
            (Seg::Key(k), serde_json::Value::Object(o)) => match o.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            (Seg::Index(i), serde_json::Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    at.as_object_mut().is_some_and(|o| o.remove(last).is_some())
}

fn toml_error(text: &str, path: FieldPath, e: &toml::de::Error) -> DeError {
    let lines = LineIndex::new(text);
    DeError {
        path,
        pos: e
            .span()
            .map(|s| lines.pos(s.start, |a, b| text[a..b].chars().count())),
        message: e.message().trim().to_string(),
    }
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn yaml_load_error_pos(e: &marked_yaml::LoadError) -> Option<Pos> {
    use marked_yaml::LoadError::*;
    let m = match e {
        TopLevelMustBeMapping(m)
        | TopLevelMustBeSequence(m)
        | UnexpectedAnchor(m)
        | MappingKeyMustBeScalar(m)
        | UnexpectedTag(m) => *m,
        ScanError(m, _) => *m,
        DuplicateKey(inner) => *inner.key.span().start()?,
    };
    Some(Pos {
        line: m.line(),
        column: m.column(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_through_text() {
        let p = FieldPath::parse("metrics[2].judge.kind");
        assert_eq!(p.to_string(), "metrics[2].judge.kind");
        assert_eq!(
            p,
            FieldPath::root()
                .key("metrics")
                .index(2)
                .key("judge")
                .key("kind")
        );
    }

    #[test]
    fn yaml_plain_scalars_follow_the_core_schema_and_quoted_ones_stay_strings() {
        use serde_json::json;
        let text = "a: 5\nb: -7\nc: 2.5\nd: 1e3\ne: .5\nf: null\ng: ~\nh:\ni: true\nj: FALSE\n\
                    k: \"5\"\nl: '1e3'\nm: 0x1f\nn: 0o17\no: 1.2.3\np: .inf\nq: yes\nr: 99999999999999999999\n";
        let v = to_value(text, Format::Yaml).expect("parses");
        assert_eq!(
            v,
            json!({"a": 5, "b": -7, "c": 2.5, "d": 1000.0, "e": 0.5, "f": null, "g": null,
                   "h": null, "i": true, "j": false, "k": "5", "l": "1e3", "m": 31, "n": 15,
                   "o": "1.2.3", "p": ".inf", "q": "yes", "r": 1e20})
        );
    }

    #[test]
    fn yaml_numbers_reach_untagged_enums_and_errors_keep_their_position() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(untagged)]
        enum Step {
            Percent(f64),
            Named(String),
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            #[allow(dead_code)]
            steps: Vec<Step>,
            #[allow(dead_code)]
            count: u32,
        }
        let doc: Doc = deserialize("steps: [5, \"x\"]\ncount: 3\n", Format::Yaml).expect("parses");
        assert_eq!(doc.steps, vec![Step::Percent(5.0), Step::Named("x".into())]);
        let err = deserialize::<Doc>("steps: []\ncount: many\n", Format::Yaml).unwrap_err();
        assert_eq!(err.path.to_string(), "count");
        assert_eq!(err.pos, Some(Pos { line: 2, column: 1 }));
        assert!(err.message.contains("expected u32"), "{}", err.message);
    }

    #[test]
    fn locates_toml_keys() {
        let text = "name = \"x\"\n\n[[metrics]]\nname = \"a\"\n\n[[metrics]]\nname = \"b\"\n  judge = { kind = \"nope\" }\n";
        let tree = SourceTree::parse(text, Format::Toml).expect("parses");
        assert_eq!(
            tree.locate(&FieldPath::parse("metrics[1].name")),
            Pos { line: 7, column: 1 }
        );
        assert_eq!(
            tree.locate(&FieldPath::parse("metrics[1].judge.kind")),
            Pos {
                line: 8,
                column: 13
            }
        );
        assert_eq!(tree.locate(&FieldPath::parse("metrics[1].missing")).line, 6);
    }

    #[test]
    fn locates_json_and_yaml_keys() {
        let json = "{\n  \"name\": \"x\",\n  \"metrics\": [\n    {\"name\": \"a\"},\n    {\"name\": \"b\", \"groups\": [\"g\"]}\n  ]\n}\n";
        let tree = SourceTree::parse(json, Format::Json).expect("parses");
        assert_eq!(
            tree.locate(&FieldPath::parse("metrics[1].groups")),
            Pos {
                line: 5,
                column: 19
            }
        );
        let yaml = "name: x\nmetrics:\n  - name: a\n  - name: b\n    groups: [g]\n";
        let tree = SourceTree::parse(yaml, Format::Yaml).expect("parses");
        assert_eq!(
            tree.locate(&FieldPath::parse("metrics[1].groups")),
            Pos { line: 5, column: 5 }
        );
    }

    #[test]
    fn a_second_yaml_document_is_refused_not_dropped() {
        assert_eq!(second_yaml_document("name: x\nsteps: [5]\n"), None);
        assert_eq!(second_yaml_document("---\nname: x\n...\n"), None);
        assert_eq!(second_yaml_document("# c\n---\nname: x\n---\n"), None);
        assert_eq!(
            second_yaml_document("text: |\n  ---\n  not a marker\n"),
            None
        );
        assert_eq!(second_yaml_document("name: x\n---\nname: y\n"), Some(2));
        assert_eq!(
            second_yaml_document("---\nname: x\n--- # b\nname: y\n"),
            Some(3)
        );
        let e = deserialize::<serde_json::Value>("name: x\n---\nname: y\n", Format::Yaml)
            .expect_err("two documents");
        assert!(e.message.contains("second YAML document"), "{}", e.message);
    }
}
