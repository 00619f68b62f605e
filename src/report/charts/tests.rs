//! The charts' tests: bytes, sizes, ticks and what each chart shows.

use canary_judges::Sample;

use super::*;
use crate::analysis::detail::{SequenceStep, distribution as ecdf};
use crate::pipeline::timeline::TimelineMark;

const T0: f64 = 1_700_000_000.0;

/// `n` evenly spaced quantiles of a log-logistic distribution with median `center`.
fn latencies(n: usize, center: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let u = (i as f64 + 0.5) / n as f64;
            center * (0.25 * (u / (1.0 - u)).ln()).exp()
        })
        .collect()
}

fn pair() -> PairDetail {
    PairDetail {
        unit: None,
        name: "latency{api=\"/checkout\"}".to_string(),
        kind: "value".to_string(),
        baseline: ecdf(&Sample::Values(latencies(500, 100.0))),
        canary: ecdf(&Sample::Values(latencies(480, 112.0))),
        series: (0..200)
            .map(|i| {
                let x = i as f64;
                SeriesPoint {
                    t: T0 + 15.0 * x,
                    baseline: Some(100.0 + 5.0 * (x / 9.0).sin()),
                    canary: Some(112.0 + 6.0 * (x / 7.0).cos()),
                }
            })
            .collect(),
        sequence: Some(trace()),
    }
}

fn trace() -> SequenceTrace {
    let steps = (1..=200)
        .map(|i| {
            let x = i as f64;
            let estimate = 1.0 + 0.12 * (1.0 - (-x / 30.0).exp());
            let width = 1.0 + 3.0 / x.sqrt();
            SequenceStep {
                t: T0 + 15.0 * x,
                estimate: Some(estimate),
                lower: Some(estimate / width),
                upper: Some(if i < 5 {
                    f64::INFINITY
                } else {
                    estimate * width
                }),
            }
        })
        .collect();
    SequenceTrace {
        band: [1.0 / 1.05, 1.05],
        steps,
        decided_at: Some(T0 + 15.0 * 150.0),
        outcome: "fail".to_string(),
    }
}

fn timeline() -> ExecutionTimeline {
    let mark = |t: f64, kind: &str, label: &str| TimelineMark {
        t: T0 + t,
        kind: kind.to_string(),
        label: label.to_string(),
    };
    ExecutionTimeline {
        traffic: vec![
            [T0, 5.0],
            [T0 + 600.0, 25.0],
            [T0 + 1200.0, 50.0],
            [T0 + 1800.0, 100.0],
        ],
        stages: vec![
            (T0, "canary 5%".to_string()),
            (T0 + 600.0, "canary 25%".to_string()),
            (T0 + 1200.0, "canary 50%".to_string()),
            (T0 + 1800.0, "promote".to_string()),
        ],
        marks: vec![
            mark(590.0, "pass", "score 96"),
            mark(1190.0, "marginal", "score 81"),
            mark(1500.0, "approved", "approved by alice"),
            mark(1790.0, "pass", "score 100"),
            mark(2300.0, "info", "done"),
        ],
        end: T0 + 2400.0,
    }
}

fn marks() -> EstimateMarks {
    EstimateMarks {
        estimate: Some(12.3),
        ci: Some([8.1, 16.0]),
        scale: MarkScale::Shift,
        ..EstimateMarks::default()
    }
}

fn count(svg: &str, tag: &str) -> usize {
    svg.matches(&format!("<{tag} ")).count()
}

/// Inlinable, titled, small, and the same bytes every time.
fn check(chart: Chart<'_>, max_bytes: usize) -> String {
    let svg = svg(chart);
    assert!(
        svg.starts_with("<svg role=\"img\" aria-label=\""),
        "{}",
        &svg[..80]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(!svg.contains("<?xml") && !svg.contains(" id="));
    let title = escaped(&title(chart));
    assert!(svg.contains(&format!("aria-label=\"{title}\"")));
    assert!(svg.contains(&format!(">\n{title}\n<")) || svg.contains('…'));
    assert!(svg.len() <= max_bytes, "{} bytes", svg.len());
    assert_eq!(svg, super::svg(chart), "not deterministic");
    svg
}

fn svg_of(chart: Chart<'_>) -> String {
    check(chart, 12 * 1024)
}

fn escaped(s: &str) -> String {
    let mut out = String::new();
    escape_into(&mut out, s);
    out
}

#[test]
fn distribution_shows_both_arms_and_the_estimate() {
    let d = pair();
    let svg = check(Chart::Distribution(&d, &marks()), 12 * 1024);
    assert!(svg.contains("latency{api=&quot;/checkout&quot;} — distribution"));
    assert!(svg.contains("baseline (n=500)") && svg.contains("canary (n=480)"));
    assert!(svg.contains("estimate +12.3 [+8.1, +16]"));
    assert_eq!(count(&svg, "polyline"), 2);
    assert!(svg.contains("share ≤ x"));

    let ratio = EstimateMarks {
        estimate: Some(1.12),
        ci: Some([1.05, f64::INFINITY]),
        scale: MarkScale::Ratio,
        ..EstimateMarks::default()
    };
    let svg = check(Chart::Distribution(&d, &ratio), 12 * 1024);
    assert!(svg.contains("estimate ×1.12 [1.05, ∞]"));
    // A threshold judge's judged p99s and the bound it held the canary against.
    let judged = EstimateMarks {
        judged: [Some(5.0), Some(8.0)],
        quantity: Some("p99".into()),
        bound: Some(6.25),
        ..EstimateMarks::default()
    };
    let svg = check(Chart::Distribution(&d, &judged), 12 * 1024);
    assert!(svg.contains("judged p99: 5 → 8"), "{svg}");
    assert!(svg.contains("bound 6.25"), "{svg}");
    let none = check(
        Chart::Distribution(&d, &EstimateMarks::default()),
        12 * 1024,
    );
    assert!(!none.contains("estimate"));
}

#[test]
fn series_draws_both_arms_and_breaks_lines_at_gaps() {
    let mut d = pair();
    let svg = check(Chart::Series(&d), 12 * 1024);
    assert!(svg.contains("— over time") && svg.contains(">\nbaseline\n<"));
    assert_eq!(count(&svg, "polyline"), 2);
    assert_eq!(count(&svg, "circle"), 0, "200 points: lines only");
    assert!(svg.contains("time (UTC)"));
    d.series[50].canary = None;
    d.series[51].canary = Some(f64::NAN);
    d.series[100].baseline = None;
    d.series[102].baseline = None;
    let svg = check(Chart::Series(&d), 12 * 1024);
    assert_eq!(count(&svg, "polyline"), 4);
    assert_eq!(count(&svg, "circle"), 1, "the isolated baseline point");
    d.series.truncate(10);
    assert_eq!(count(&check(Chart::Series(&d), 12 * 1024), "circle"), 20);
}

#[test]
fn sequence_shows_band_interval_estimate_and_decision() {
    let d = pair();
    let svg = sequence_svg(&d).expect("a sequence");
    check(Chart::Sequence(&d), 12 * 1024);
    assert!(svg.contains("— confidence sequence") && svg.contains("band 0.952–1.05"));
    assert!(svg.contains(">\ninterval\n<") && svg.contains(">\nestimate\n<"));
    assert!(svg.contains(">\nfail\n<") && svg.contains("#C62828"));
    assert_eq!(count(&svg, "polyline"), 1);
    assert_eq!(count(&svg, "polygon"), 1);
    assert!(!svg.contains("log scale"));
    let mut wide = pair();
    if let Some(s) = &mut wide.sequence {
        s.steps[0].lower = Some(0.01);
    }
    assert!(svg_of(Chart::Sequence(&wide)).contains("log scale"));
    let without = PairDetail {
        sequence: None,
        ..pair()
    };
    assert_eq!(sequence_svg(&without), None);
    assert!(svg_of(Chart::Sequence(&without)).contains("no confidence sequence"));
}

#[test]
fn execution_shows_traffic_stages_and_decisions() {
    let t = timeline();
    let svg = check(Chart::Execution(&t), 12 * 1024);
    assert_eq!(svg, execution_svg(&t));
    for text in [
        "canary 5%",
        "canary 50%",
        "promote",
        "score 96",
        "approved by alice",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    assert!(svg.contains(">\ncanary traffic\n<") && svg.contains(">\nmarginal\n<"));
    assert!(
        !svg.contains(">\nfail\n<"),
        "only kinds present are in the legend"
    );
    assert_eq!(count(&svg, "polyline"), 1);
    assert_eq!(count(&svg, "circle"), 5 + 4);
    assert!(svg.contains(">\n100%\n<"));
}

#[test]
fn empty_data_says_so() {
    let empty = PairDetail {
        unit: None,
        name: "errors".to_string(),
        kind: "rate".to_string(),
        baseline: ArmDistribution::default(),
        canary: ArmDistribution::default(),
        series: Vec::new(),
        sequence: Some(SequenceTrace {
            band: [0.95, 1.05],
            steps: Vec::new(),
            decided_at: None,
            outcome: "continue".to_string(),
        }),
    };
    for chart in [
        Chart::Distribution(&empty, &marks()),
        Chart::Series(&empty),
        Chart::Sequence(&empty),
        Chart::Execution(&ExecutionTimeline::default()),
    ] {
        let svg = svg_of(chart);
        assert!(svg.contains(">\nno data\n<"), "{svg}");
        assert_eq!(count(&svg, "polyline"), 0);
    }
}

#[test]
fn degenerate_inputs_render() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let one = |v: f64| ArmDistribution {
        count: 1.0,
        ecdf: vec![[v, 1.0]],
    };
    let step = |t: f64, e: f64, l: f64, u: f64| SequenceStep {
        t,
        estimate: Some(e),
        lower: Some(l),
        upper: Some(u),
    };
    let cases = [
        // One point each; all equal.
        (one(5.0), one(5.0), vec![step(T0, 1.0, 0.5, inf)]),
        // Zero and NaN; a NaN count; a lone upper bound of +∞.
        (
            ArmDistribution {
                count: nan,
                ecdf: vec![[nan, 0.5], [0.0, 1.0]],
            },
            one(0.0),
            vec![step(T0, nan, nan, inf), step(nan, 1.0, 1.0, 1.0)],
        ),
        // Infinite values and a NaN level; an undecided sequence with zero bounds.
        (
            ArmDistribution {
                count: 3.0,
                ecdf: vec![[-inf, 0.1], [1e300, nan], [inf, 1.0]],
            },
            ArmDistribution {
                count: 2.0,
                ecdf: vec![[-1e308, 0.5], [1e308, 1.0]],
            },
            vec![step(T0, 0.0, 0.0, 0.0), step(T0 + 1.0, 0.0, 0.0, inf)],
        ),
    ];
    for (baseline, canary, steps) in cases {
        let d = PairDetail {
            unit: None,
            name: String::new(),
            kind: "histogram".to_string(),
            baseline,
            canary,
            series: vec![
                SeriesPoint {
                    t: T0,
                    baseline: Some(nan),
                    canary: Some(inf),
                },
                SeriesPoint {
                    t: nan,
                    baseline: Some(1.0),
                    canary: None,
                },
                SeriesPoint {
                    t: T0 + 1.0,
                    baseline: Some(2.0),
                    canary: Some(2.0),
                },
            ],
            sequence: Some(SequenceTrace {
                band: [nan, inf],
                steps,
                decided_at: Some(inf),
                outcome: "pass".to_string(),
            }),
        };
        let odd_marks = [
            marks(),
            EstimateMarks {
                estimate: Some(inf),
                ci: Some([-inf, nan]),
                scale: MarkScale::Ratio,
                judged: [Some(nan), Some(inf)],
                quantity: Some("p99".into()),
                bound: Some(-inf),
                bound_label: None,
            },
            EstimateMarks {
                estimate: Some(-1e12),
                ci: Some([-inf, inf]),
                scale: MarkScale::Shift,
                ..EstimateMarks::default()
            },
        ];
        for m in &odd_marks {
            svg_of(Chart::Distribution(&d, m));
        }
        svg_of(Chart::Series(&d));
        svg_of(Chart::Sequence(&d));
    }
    let odd = ExecutionTimeline {
        traffic: vec![[T0, nan], [nan, 50.0], [T0, 250.0]],
        stages: vec![
            (T0, String::new()),
            (T0, "a very long stage name".repeat(5)),
        ],
        marks: vec![TimelineMark {
            t: T0,
            kind: "unknown".to_string(),
            label: "x".repeat(300),
        }],
        end: nan,
    };
    let svg = svg_of(Chart::Execution(&odd));
    assert!(!svg.contains("no data"));
}

#[test]
fn one_point_series_is_a_dot() {
    let d = PairDetail {
        series: vec![SeriesPoint {
            t: T0,
            baseline: Some(3.0),
            canary: Some(3.0),
        }],
        ..pair()
    };
    let svg = svg_of(Chart::Series(&d));
    assert_eq!((count(&svg, "polyline"), count(&svg, "circle")), (0, 2));
}

#[test]
fn long_titles_are_shortened_but_kept_whole_in_the_label() {
    let d = PairDetail {
        name: format!("m{{{}}}", "label=\"value\",".repeat(20)),
        ..pair()
    };
    let svg = svg_of(Chart::Series(&d));
    assert!(svg.contains('…'));
}

#[test]
fn numbers_are_compact() {
    let cases = [
        (0.0, "0"),
        (12.345, "12.3"),
        (-0.0123456, "−0.0123"),
        (1.0, "1"),
        (1234.6, "1235"),
        (123_456.0, "1.23e5"),
        (0.000_12, "1.2e-4"),
        (-0.0001, "−1e-4"),
        (0.952_380_9, "0.952"),
        (f64::INFINITY, "∞"),
    ];
    for (v, s) in cases {
        assert_eq!(fmt_num(v), s, "{v}");
    }
    assert_eq!(fmt_num(-0.0004), "−4e-4");
}

#[test]
fn ticks_are_few_and_round() {
    let axis = |lo, hi, log| Axis::new(lo, hi, log, 0.0, 100.0);
    let labels = |t: Vec<(f64, String)>| t.into_iter().map(|q| q.1).collect::<Vec<_>>();
    assert_eq!(
        labels(value_ticks(&axis(0.0, 1.0, false))),
        ["0", "0.2", "0.4", "0.6", "0.8", "1"]
    );
    assert_eq!(
        labels(value_ticks(&axis(0.5, 2000.0, true))),
        ["1", "10", "100", "1000"]
    );
    assert_eq!(
        labels(value_ticks(&axis(0.9, 3.0, true))),
        ["1", "1.5", "2", "2.5", "3"]
    );
    let times = labels(time_ticks(&axis(T0 - 20.0, T0 + 600.0, false)));
    assert_eq!(
        times,
        ["22:14:00", "22:16:00", "22:18:00", "22:20:00", "22:22:00"]
    );
    assert!(linear_ticks(0.0, f64::INFINITY, 6).is_empty());
    assert!(linear_ticks(1.0, 1.0, 6).is_empty());
}

#[test]
fn pngs_are_written_at_twice_the_size() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (d, t) = (pair(), timeline());
    let m = marks();
    let empty = ExecutionTimeline::default();
    let charts = [
        ("distribution.png", Chart::Distribution(&d, &m)),
        ("series.png", Chart::Series(&d)),
        ("sequence.png", Chart::Sequence(&d)),
        ("execution.png", Chart::Execution(&t)),
        ("empty.img", Chart::Execution(&empty)),
    ];
    for (name, chart) in charts {
        let path = dir.path().join(name);
        write_png(chart, &path).expect("written");
        let png = std::fs::read(&path).expect("readable");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        assert!(png.len() > 4_000, "{name}: {} bytes", png.len());
        let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
        assert_eq!((be(16), be(20)), (WIDTH * PNG_SCALE, HEIGHT * PNG_SCALE));
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("listable").collect();
    assert_eq!(left.len(), 5, "no temporary files left");
    let svg = dir.path().join("series.svg");
    write(Chart::Series(&d), ChartFormat::Svg, &svg).expect("written");
    assert!(
        std::fs::read_to_string(svg)
            .expect("readable")
            .starts_with("<svg")
    );
    let missing = dir.path().join("no/such/dir/x.png");
    assert!(write_png(Chart::Series(&d), &missing).is_err());
}
