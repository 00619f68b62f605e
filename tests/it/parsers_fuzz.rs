//! Property tests of every parser that reads what users and clients send — canary configs
//! (TOML, JSON, YAML, Kayenta JSON), pipeline specs, metric CSV files and PromQL templates:
//! whatever the input, a parser answers `Ok` or an error, never a panic, and an error names
//! a position or field. Inputs are mutations of valid documents (the interesting ones: near
//! valid) and arbitrary text. `PROPTEST_CASES` raises the case count; `scripts/fuzz.sh` runs
//! these for longer.

use canaryd::collectors::Scope;
use canaryd::collectors::promql::expand;
use canaryd::collectors::table::read_series;
use canaryd::config::CanaryConfig;
use canaryd::config::source::Format;
use canaryd::pipeline::spec::Pipeline;
use proptest::prelude::*;

use super::demo;

const KAYENTA: &str = r#"{"name": "k", "judge": {"name": "NetflixACAJudge-v1.0"},
 "metrics": [{"name": "cpu", "query": {"type": "prometheus", "metricName": "cpu_seconds",
   "customInlineTemplate": "PromQL:avg(cpu{v=\"${scope}\"})"}, "groups": ["g"],
   "analysisConfigurations": {"canary": {"direction": "increase", "critical": true,
     "effectSize": {"allowedIncrease": 1.1}}}}],
 "classifier": {"groupWeights": {"g": 100}, "scoreThresholds": {"pass": 90, "marginal": 50}}}"#;

const PIPELINE: &str = r#"
name = "web"
on_conflict = "queue"
[[targets]]
name = "eu"
router = { kind = "webhook", url = "http://127.0.0.1:9/w", secret = "0123456789abcdef0123" }
[[stages]]
kind = "traffic"
percent = 5
[[stages]]
kind = "manual_judgment"
message = "look"
timeout = "10m"
[[stages]]
kind = "analysis"
config = "c"
duration = "10m"
interval = "1m"
"#;

/// `text` with `edits` applied: each edit deletes, duplicates or replaces a byte range by
/// characters that matter to the formats (quotes, brackets, separators, digits, NUL).
fn mutate(text: &str, edits: &[(usize, usize, u8)]) -> String {
    const NOISE: &[&str] = &[
        "\"", "'", "`", "[", "]", "{", "}", "=", ":", ",", "\n", "#", "\\", "-1", "1e999", "NaN",
        "\u{0}", "${", "}}", "\t", "  ", "é", "🙂", "null", "[[", "]]",
    ];
    let mut s: Vec<char> = text.chars().collect();
    for &(at, len, what) in edits {
        if s.is_empty() {
            break;
        }
        let at = at % s.len();
        let end = (at + len % 8).min(s.len());
        let noise: Vec<char> = NOISE[what as usize % NOISE.len()].chars().collect();
        match what % 3 {
            0 => {
                s.drain(at..end);
            }
            1 => {
                let copy: Vec<char> = s[at..end].to_vec();
                s.splice(at..at, copy);
            }
            _ => {
                s.splice(at..end, noise);
            }
        }
    }
    s.into_iter().collect()
}

/// Cases per property: 300 in CI, `PROPTEST_CASES` when set (scripts/fuzz.sh).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn edits() -> impl Strategy<Value = Vec<(usize, usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6)
}

fn config_is_answered(text: &str, format: Format) {
    match CanaryConfig::parse(text, format, "fuzz") {
        Ok(c) => assert!(!c.metrics.is_empty(), "a valid config has metrics"),
        Err(e) => assert!(!e.to_string().is_empty(), "an error says something"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn canary_configs_never_panic(e in edits(), format in 0..3u8) {
        let demo = std::fs::read_to_string(demo("canary.toml")).unwrap();
        let (text, format) = match format {
            0 => (demo, Format::Toml),
            1 => (
                serde_json::to_string(&toml::from_str::<serde_json::Value>(&demo).unwrap()).unwrap(),
                Format::Json,
            ),
            _ => (
                "name: x\nmetrics:\n  - name: a\n    direction: increase\n    judge: {kind: threshold, aggregate: p99, max: 1}\n".to_string(),
                Format::Yaml,
            ),
        };
        config_is_answered(&mutate(&text, &e), format);
    }

    #[test]
    fn kayenta_configs_never_panic(e in edits()) {
        config_is_answered(&mutate(KAYENTA, &e), Format::Json);
    }

    #[test]
    fn pipeline_specs_never_panic(e in edits()) {
        let _ = Pipeline::parse(&mutate(PIPELINE, &e), "fuzz");
        let _ = canaryd::pipeline::spec::redacted_spec(&mutate(PIPELINE, &e));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        for f in [Format::Toml, Format::Json, Format::Yaml] {
            config_is_answered(&text, f);
        }
        let _ = Pipeline::parse(&text, "fuzz");
        let _ = expand(&text, &Scope { scope: "v1".into(), ..Default::default() });
    }

    #[test]
    fn metric_files_never_panic(e in edits()) {
        let csv = "timestamp,api,metric,value\n2026-11-02T09:00:00Z,/a,latency_ms,1.5\n1762074060,/a,latency_ms,NaN\n,/b,errors,3\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, mutate(csv, &e)).unwrap();
        if let Err(err) = read_series(&path) {
            prop_assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn templates_never_panic(e in edits(), value in "\\PC{0,20}") {
        let t = "sum(rate(x{v=\"${scope}\", w='${location}'}[5m])) # it's ${api}\n/ on(r) y{z=`${scope}`}";
        let scope = Scope {
            scope: value.clone(),
            location: Some(value.clone()),
            api: Some(value),
            ..Default::default()
        };
        let _ = expand(&mutate(t, &e), &scope);
    }
}
