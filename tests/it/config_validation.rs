//! Config validation: every rejected config names the file, line:column and field.

use canaryd::config::source::Format;
use canaryd::config::{CanaryConfig, ConfigError, MetricSource};
use canaryd::judges::{Aggregate, JudgeConfig, Thresholds};

fn issues(text: &str, format: Format) -> Vec<String> {
    match CanaryConfig::parse(text, format, "cfg") {
        Ok(c) => panic!("accepted an invalid config: {c:?}"),
        Err(ConfigError::Invalid(issues)) => issues.iter().map(ToString::to_string).collect(),
        Err(other) => panic!("unexpected error {other}"),
    }
}

fn one(text: &str, format: Format) -> String {
    let v = issues(text, format);
    assert_eq!(v.len(), 1, "{v:#?}");
    v.into_iter().next().expect("one issue")
}

const METRIC: &str = "[[metrics]]\nname = \"lat\"\n";

#[test]
fn the_demo_config_is_valid_and_complete() {
    let c = CanaryConfig::load(&super::demo("canary.toml")).expect("valid");
    assert_eq!(c.name, "checkout");
    assert_eq!(
        c.thresholds,
        Thresholds {
            pass: 95.0,
            marginal: 75.0
        }
    );
    assert_eq!(c.metrics.len(), 4);
    assert_eq!(c.group_weights.get("latency"), Some(&45.0));
    let err = &c.metrics[2];
    assert_eq!(
        err.source,
        MetricSource::Counts {
            events: "http_errors".into(),
            total: "http_requests".into()
        }
    );
    assert!(matches!(&err.judge, JudgeConfig::Threshold(t) if t.aggregate == Aggregate::Rate));
    assert!(err.options.critical);
    assert!(
        matches!(c.metrics[3].judge, JudgeConfig::MannWhitney(_)),
        "default judge applies"
    );
}

#[test]
fn unknown_fields_are_rejected_in_every_format() {
    assert_eq!(
        one(
            "name = \"x\"\n[[metrics]]\nname = \"lat\"\n  colour = \"red\"\n",
            Format::Toml
        ),
        "cfg:4:3: metrics[0].colour: unknown field `colour`, expected one of `name`, `series`, `events`, `total`, `requests`, `groups`, `direction`, `nan_strategy`, `outliers`, `effect_size`, `critical`, `must_have_data`, `muted`, `judge`, `unit`, `query`, `unit_label`"
    );
    let json = "{\n  \"name\": \"x\",\n  \"metrics\": [{\"name\": \"lat\", \"colour\": 1}]\n}";
    assert!(
        one(json, Format::Json).starts_with("cfg:3:31: metrics[0].colour: unknown field `colour`")
    );
    let yaml = "name: x\nmetrics:\n  - name: lat\n    colour: red\n";
    assert!(
        one(yaml, Format::Yaml).starts_with("cfg:4:5: metrics[0].colour: unknown field `colour`")
    );
    assert!(
        one(
            "name = \"x\"\ncolor = 1\n[[metrics]]\nname = \"a\"\n",
            Format::Toml
        )
        .starts_with("cfg:2:1: color: unknown field `color`")
    );
    let nested = one(
        &format!("name = \"x\"\n{METRIC}outliers = {{ strategy = \"remove\", fence = 2 }}\n"),
        Format::Toml,
    );
    assert!(
        nested.contains("metrics[0].outliers") && nested.contains("fence"),
        "{nested}"
    );
}

#[test]
fn duplicate_metric_names() {
    let text = format!("name = \"x\"\n{METRIC}\n{METRIC}");
    assert_eq!(
        one(&text, Format::Toml),
        "cfg:6:1: metrics[1].name: duplicate metric name `lat` (also metrics[0])"
    );
    let yaml = "name: x\nmetrics:\n  - name: lat\n  - name: lat\n";
    assert_eq!(
        one(yaml, Format::Yaml),
        "cfg:4:5: metrics[1].name: duplicate metric name `lat` (also metrics[0])"
    );
}

#[test]
fn unknown_judge_kinds() {
    let text = format!("name = \"x\"\n{METRIC}judge = {{ kind = \"bayes\" }}\n");
    let msg = one(&text, Format::Toml);
    assert!(
        msg.starts_with("cfg:4:11: metrics[0].judge.kind: unknown judge kind `bayes`"),
        "{msg}"
    );
    assert!(
        msg.contains("mann_whitney") && msg.contains("threshold"),
        "the message lists the kinds: {msg}"
    );
    let json =
        "{\"name\": \"x\", \"metrics\": [{\"name\": \"a\",\n \"judge\": {\"kind\": \"bayes\"}}]}";
    assert!(
        one(json, Format::Json)
            .starts_with("cfg:2:12: metrics[0].judge.kind: unknown judge kind `bayes`")
    );
    let top = "name = \"x\"\n[judge]\nkind = \"magic\"\n[[metrics]]\nname = \"a\"\n";
    assert!(one(top, Format::Toml).starts_with("cfg:3:1: judge.kind: unknown judge kind `magic`"));
}

#[test]
fn negative_and_excessive_weights() {
    let neg = format!("name = \"x\"\n[groups]\nlatency = -5\n{METRIC}groups = [\"latency\"]\n");
    assert_eq!(
        one(&neg, Format::Toml),
        "cfg:3:1: groups.latency: group weight must be ≥ 0, got -5"
    );
    let over = format!("name = \"x\"\n[groups]\na = 60\nb = 50\n{METRIC}groups = [\"a\", \"b\"]\n");
    assert_eq!(
        one(&over, Format::Toml),
        "cfg:2:2: groups: group weights sum to 110, more than 100"
    );
    let unused = format!("name = \"x\"\n[groups]\nghost = 10\n{METRIC}");
    assert!(
        one(&unused, Format::Toml)
            .starts_with("cfg:3:1: groups.ghost: no metric is in group `ghost`")
    );
}

#[test]
fn thresholds_out_of_range_and_crossed() {
    let high = format!("name = \"x\"\n[thresholds]\npass = 120\nmarginal = 50\n{METRIC}");
    assert_eq!(
        one(&high, Format::Toml),
        "cfg:3:1: thresholds.pass: must be between 0 and 100, got 120"
    );
    let crossed = format!("name = \"x\"\n[thresholds]\npass = 70\nmarginal = 80\n{METRIC}");
    assert_eq!(
        one(&crossed, Format::Toml),
        "cfg:4:1: thresholds.marginal: marginal (80) is above pass (70)"
    );
    let neg = "{\"name\": \"x\", \"thresholds\": {\"pass\": 90,\n \"marginal\": -1}, \"metrics\": [{\"name\": \"a\"}]}";
    assert_eq!(
        one(neg, Format::Json),
        "cfg:2:2: thresholds.marginal: must be between 0 and 100, got -1"
    );
}

#[test]
fn judge_options_are_validated_with_their_path() {
    let conf =
        format!("name = \"x\"\n{METRIC}judge = {{ kind = \"mann_whitney\", confidence = 1.5 }}\n");
    assert!(
        one(&conf, Format::Toml)
            .starts_with("cfg:4:34: metrics[0].judge.confidence: must be between 0 and 1")
    );
    let rate = format!(
        "name = \"x\"\n{METRIC}judge = {{ kind = \"threshold\", aggregate = \"rate\", max = 0.1 }}\n"
    );
    assert!(
        one(&rate, Format::Toml)
            .contains("metrics[0].judge.aggregate: aggregate `rate` needs an event-count metric")
    );
    let agg = format!(
        "name = \"x\"\n{METRIC}judge = {{ kind = \"threshold\", aggregate = \"p150\", max = 1 }}\n"
    );
    assert!(one(&agg, Format::Toml).contains("unknown aggregate `p150`"));
    let half = format!("name = \"x\"\n{METRIC}events = \"errors\"\n");
    assert_eq!(
        one(&half, Format::Toml),
        "cfg:4:1: metrics[0].events: `events` needs `total` (the series the events are out of)"
    );
    let counted = "name = \"x\"\n[[metrics]]\nname = \"e\"\nevents = \"errors\"\ntotal = \"requests\"\nrequests = \"requests\"\n";
    assert!(
        one(counted, Format::Toml).contains(
            "metrics[0].requests: an event-count metric's `total` already counts its requests"
        ),
        "{}",
        one(counted, Format::Toml)
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = format!("name = \"x\"\n[thresholds]\npass = 70\nmarginal = 80\n{METRIC}\n{METRIC}");
    assert_eq!(issues(&text, Format::Toml).len(), 2);
}

#[test]
fn syntax_errors_have_positions() {
    let msg = one("name = \"x\"\n[[metrics]\n", Format::Toml);
    assert!(msg.starts_with("cfg:2:"), "{msg}");
    let msg = one("{\"name\": \"x\",\n \"metrics\": [}", Format::Json);
    assert!(msg.starts_with("cfg:2:"), "{msg}");
    let msg = one("name: x\nmetrics:\n  - name: a\n   bad: [\n", Format::Yaml);
    assert!(msg.starts_with("cfg:"), "{msg}");
    let msg = one("name = \"x\"\n", Format::Toml);
    assert!(msg.contains("missing field `metrics`"), "{msg}");
}

#[test]
fn kayenta_configs_are_accepted_and_validated_in_their_own_names() {
    let c = CanaryConfig::load(&super::root().join("tests/fixtures/kayenta/canary-config.json"))
        .expect("valid");
    assert_eq!(c.name, "checkout-kayenta");
    assert_eq!(c.group_weights.get("latency"), Some(&70.0));
    assert!(c.metrics[1].options.must_have_data);
    assert!(c.metrics[0].kayenta_query.is_some());
    let bad = r#"{"name": "k", "judge": {"name": "NetflixACAJudge-v1.0"},
 "metrics": [{"name": "a", "groups": ["g"], "analysisConfigurations": {"canary": {"direction": "up"}}}],
 "classifier": {"groupWeights": {"g": -1}, "scoreThresholds": {"pass": 50, "marginal": 60}}}"#;
    let msg = issues(bad, Format::Json);
    assert!(
        msg[0].contains("metrics[0].analysisConfigurations.canary.direction")
            && msg[0].contains("unknown variant `up`"),
        "{msg:?}"
    );
    let bad = r#"{"name": "k", "judge": {"name": "NetflixACAJudge-v1.0"},
 "metrics": [{"name": "a", "groups": ["g"]}],
 "classifier": {"groupWeights": {"g": -1}, "scoreThresholds": {"pass": 50, "marginal": 60}}}"#;
    let msg = issues(bad, Format::Json);
    assert!(msg.iter().any(|m| m.starts_with("cfg:3:34: classifier.groupWeights.g: group weight must be ≥ 0")), "{msg:?}");
    assert!(
        msg.iter()
            .any(|m| m
                .contains("classifier.scoreThresholds.marginal: marginal (60) is above pass (50)")),
        "{msg:?}"
    );
}

#[test]
fn a_bad_default_judge_is_reported_once() {
    let text = "name = \"x\"\n[judge]\nkind = \"mann_whitney\"\nconfidence = 1.5\n[[metrics]]\nname = \"a\"\n[[metrics]]\nname = \"b\"\n";
    assert!(
        one(text, Format::Toml).starts_with("cfg:4:1: judge.confidence: must be between 0 and 1")
    );
    let by_direction = "name = \"x\"\n[judge]\nkind = \"threshold\"\naggregate = \"mean\"\nmin = 1\n[[metrics]]\nname = \"a\"\ndirection = \"increase\"\n[[metrics]]\nname = \"b\"\n";
    let msg = one(by_direction, Format::Toml);
    assert!(
        msg.starts_with("cfg:5:1: judge.min: a lower bound never counts")
            && msg.contains("metric `a`"),
        "{msg}"
    );
}

/// A metric in a group without weight counts for nothing: a regression in it could never
/// lower the score. Both sides of a typo are named, each pointing at the other.
#[test]
fn a_metric_whose_groups_carry_no_weight_is_an_error() {
    let typo = "name = \"x\"\n[groups]\nlatency = 50\nerrors = 50\n\
        [[metrics]]\nname = \"lat\"\ngroups = [\"latency\"]\n\
        [[metrics]]\nname = \"err\"\ngroups = [\"errors\"]\n\
        [[metrics]]\nname = \"cpu\"\ngroups = [\"saturaton\"]\n";
    let msg = one(typo, Format::Toml);
    assert!(
        msg.starts_with("cfg:") && msg.contains("metrics[2].groups: metric `cpu` counts for nothing: group `saturaton` has no weight in `groups`"),
        "{msg}"
    );
    let near = "name = \"x\"\n[groups]\nlatency = 50\nsaturation = 50\n\
        [[metrics]]\nname = \"lat\"\ngroups = [\"latency\"]\n\
        [[metrics]]\nname = \"cpu\"\ngroups = [\"saturaton\"]\n";
    let all = issues(near, Format::Toml);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all.iter()
            .any(|m| m.contains("metrics[1].groups") && m.contains("did you mean `saturation`?")),
        "{all:#?}"
    );
    assert!(
        all.iter().any(
            |m| m.contains("groups.saturation: no metric is in group `saturation`")
                && m.contains("did you mean `saturaton`?")
        ),
        "{all:#?}"
    );
    let zero = "name = \"x\"\n[groups]\nlatency = 0\n[[metrics]]\nname = \"lat\"\ngroups = [\"latency\"]\n[[metrics]]\nname = \"b\"\n";
    assert!(one(zero, Format::Toml).contains("group `latency` has weight 0"));
    // Weights that leave a share, and muted metrics, are fine.
    let shared = "name = \"x\"\n[groups]\nlatency = 60\n[[metrics]]\nname = \"lat\"\ngroups = [\"latency\"]\n[[metrics]]\nname = \"cpu\"\ngroups = [\"saturation\"]\n";
    CanaryConfig::parse(shared, Format::Toml, "cfg").expect("saturation shares the other 40");
    let muted = "name = \"x\"\n[groups]\nlatency = 100\n[[metrics]]\nname = \"lat\"\ngroups = [\"latency\"]\n[[metrics]]\nname = \"cpu\"\ngroups = [\"other\"]\nmuted = true\n";
    CanaryConfig::parse(muted, Format::Toml, "cfg")
        .expect("a muted metric is reported, not scored");
}

/// Kayenta accepts weights and groups that do not meet; canaryd reads such a config as
/// Kayenta would and warns.
#[test]
fn kayenta_configs_with_weightless_groups_are_accepted_with_a_warning() {
    let text = r#"{"name": "k", "judge": {"name": "NetflixACAJudge-v1.0"},
 "metrics": [{"name": "a", "groups": ["latency"]}, {"name": "b", "groups": ["saturaton"]}],
 "classifier": {"groupWeights": {"latency": 50, "saturation": 50}, "scoreThresholds": {"pass": 95, "marginal": 75}}}"#;
    let c = CanaryConfig::parse(text, Format::Json, "k.json").expect("Kayenta accepts it");
    assert_eq!(c.warnings.len(), 2, "{:#?}", c.warnings);
    assert!(
        c.warnings
            .iter()
            .all(|w| w.starts_with("k.json: ") && w.contains("Kayenta accepts")),
        "{:#?}",
        c.warnings
    );
    assert!(
        c.warnings.iter().any(
            |w| w.contains("metrics[1].groups: metric `b` counts for nothing")
                && w.contains("did you mean `saturation`?")
        ),
        "{:#?}",
        c.warnings
    );
}

/// An unknown field inside an optional Kayenta object is named by its real path, once.
#[test]
fn kayenta_unknown_fields_are_named_by_their_path_once() {
    let text = r#"{"name": "k", "judge": {"name": "NetflixACAJudge-v1.0"},
 "metrics": [{"name": "a", "groups": ["g"], "analysisConfigurations": {"canary": {"direction": "increase", "outlier": {"strategy": "remove"}}}}],
 "classifier": {"groupWeights": {"g": 100}, "scoreThresholds": {"pass": 95, "marginal": 75}}}"#;
    let c = CanaryConfig::parse(text, Format::Json, "k.json").expect("Kayenta accepts it");
    assert_eq!(
        c.warnings,
        [
            "k.json: metrics[0].analysisConfigurations.canary.outlier: not a field canaryd reads; ignored; did you mean `outliers`?"
        ]
    );
}
