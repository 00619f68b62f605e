//! The evaluation as Markdown: the table of every cell, then the regressions against the
//! fixed-sample oracle, the pass ceilings of the error counts, and the regressions promoted.

use super::*;

pub(super) fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

pub(super) fn int(v: f64) -> String {
    if v.is_finite() {
        format!("{}", v.round() as i64)
    } else {
        "-".into()
    }
}

/// The report as a Markdown table.
pub fn markdown(report: &EvalReport) -> String {
    let mut out = format!(
        "Evaluation: {} runs per cell, seed {}; sequential α = {} for the whole analysis, latency band ±{}% and error-rate band +{}% unless a scenario sets its own; pass bands {}.\n\n",
        report.runs,
        report.seed,
        report.alpha,
        report.tolerance * 100.0,
        report.error_tolerance * 100.0,
        report
            .pass_bands
            .iter()
            .map(|(k, v)| format!("{k} ±{}%", v * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str("| scenario | judge | fail | pass | inconclusive | false rollback (95% UB) | fail before onset | detection: requests median (p90) | detection: seconds median (p90) | estimated onset s (median) | excess bad (median) | promotion s (median) | promotion requests (median) | failed ≤ 5 min after onset | bad host named |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in &report.cells {
        let fr = c
            .false_rollback
            .map(|[r, ub]| format!("{} ({})", pct(r), pct(ub)))
            .unwrap_or_else(|| "-".into());
        let early = c.fail_before_onset.map(pct).unwrap_or_else(|| "-".into());
        let dr = c
            .detection_requests
            .map(|[m, p]| format!("{} ({})", int(m), int(p)))
            .unwrap_or_else(|| "-".into());
        let ds = c
            .detection_seconds
            .map(|[m, p]| format!("{} ({})", int(m), int(p)))
            .unwrap_or_else(|| "-".into());
        let eo = c.estimated_onset_s.map(int).unwrap_or_else(|| "-".into());
        let ex = c.excess_bad_median.map(int).unwrap_or_else(|| "-".into());
        let ps = c.promotion_seconds.map(int).unwrap_or_else(|| "-".into());
        let hn = c.host_named.map(pct).unwrap_or_else(|| "-".into());
        let w5 = c.within_5min.map(pct).unwrap_or_else(|| "-".into());
        let pr = c.promotion_requests.map(int).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {fr} | {early} | {dr} | {ds} | {eo} | {ex} | {ps} | {pr} | {w5} | {hn} |\n",
            c.scenario,
            c.judge,
            pct(c.fail_rate),
            pct(c.pass_rate),
            pct(c.inconclusive_rate)
        ));
    }
    out.push_str(&against_oracle(report));
    out.push_str(&pass_ceilings(report));
    out.push_str(&promoted_regressions(report));
    out
}

/// Every regression cell with an oracle and detections: the judge's median canary
/// requests from onset to detection against the fixed-sample oracle's (see [`oracle`]).
pub(super) fn against_oracle(report: &EvalReport) -> String {
    let rows: Vec<String> = report
        .cells
        .iter()
        .filter_map(|c| {
            let o = c.oracle?;
            let [median, _] = c.detection_requests?;
            Some(format!(
                "| {} | {} | {} ({}) | {} | {}× |\n",
                c.scenario,
                c.judge,
                int(o.canary_requests),
                o.test,
                int(median),
                canary_judges::format::num(median / o.canary_requests)
            ))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nAgainst the fixed-sample oracle (a one-sided test at α = {} sized for the scenario's true effect, 50% power: for latency the rank test or the share above a baseline quantile, whichever needs fewer requests; for errors two proportions; canary requests from onset):\n\n",
        report.alpha
    );
    out.push_str("| scenario | judge | oracle: canary requests (test) | detection: canary requests median | × oracle |\n|---|---|---:|---:|---:|\n");
    out.extend(rows);
    out
}

/// Every no-change cell with an error-count ceiling: its pass rate beside the most any
/// level-α test of the error band could promote (see [`oracle::error_pass_ceiling`]).
pub(super) fn pass_ceilings(report: &EvalReport) -> String {
    let rows: Vec<String> = report
        .cells
        .iter()
        .filter_map(|c| {
            let ceiling = c.error_pass_ceiling?;
            Some(format!(
                "| {} | {} | {} | {} |\n",
                c.scenario,
                c.judge,
                pct(c.pass_rate),
                pct(ceiling)
            ))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nPromotion against the error counts' ceiling (no-change scenarios: the share of runs the most powerful fixed-sample test at α = {} of \"errors at least the rate pass band times the baseline's\" would reject — no judge can promote more often; latency lowers it further):\n\n",
        report.alpha
    );
    out.push_str(
        "| scenario | judge | promoted | ceiling from error counts |\n|---|---|---:|---:|\n",
    );
    out.extend(rows);
    out
}

/// Per judge, the regression scenarios it promoted — a pass on a real regression is the
/// worst error a gate can make — with the largest share and its 95% upper bound.
pub(super) fn promoted_regressions(report: &EvalReport) -> String {
    let mut judges: Vec<&str> = report.cells.iter().map(|c| c.judge.as_str()).collect();
    judges.dedup();
    let mut seen = std::collections::BTreeSet::new();
    judges.retain(|j| seen.insert(*j));
    let mut out = String::new();
    for judge in judges {
        let cells: Vec<&Cell> = report
            .cells
            .iter()
            .filter(|c| c.judge == judge && c.regression)
            .collect();
        if cells.is_empty() {
            continue;
        }
        let promoted: Vec<String> = cells
            .iter()
            .filter(|c| c.pass_rate > 0.0)
            .map(|c| format!("{} {}", c.scenario, pct(c.pass_rate)))
            .collect();
        let worst = cells
            .iter()
            .max_by(|a, b| a.pass_rate.total_cmp(&b.pass_rate))
            .expect("non-empty");
        let passes = (worst.pass_rate * worst.runs as f64).round() as usize;
        let ub = clopper_pearson_upper(passes, worst.runs);
        let checked: usize = cells.iter().map(|c| c.ruled_out_checked).sum();
        let wrong: usize = cells.iter().map(|c| c.false_ruled_out).sum();
        let honesty = if checked > 0 {
            format!(
                " Its \"rules out\" bounds excluded the true ratio in {wrong} of {checked} runs of regression scenarios with a known truth ({}, 95% upper bound {}).",
                pct(wrong as f64 / checked as f64),
                pct(clopper_pearson_upper(wrong, checked))
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "\nPromoted regressions, {judge}: {} of {} regression scenarios{} (largest share {}, 95% upper bound {}).{honesty}\n",
            promoted.len(),
            cells.len(),
            if promoted.is_empty() {
                String::new()
            } else {
                format!(": {}", promoted.join(", "))
            },
            pct(worst.pass_rate),
            pct(ub)
        ));
    }
    out
}
