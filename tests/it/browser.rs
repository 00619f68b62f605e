//! The web UI in a real headless Chromium, against the real `canaryd serve` binary with API
//! tokens configured: a person signs in with a token, finds the failing API in the report of
//! a failed analysis (a real Prometheus scraping two simulated versions), approves a pending
//! manual judgment by clicking and watches the execution go on to 100 %, and with a read-only
//! token gets no buttons. Each page is saved as a screenshot under
//! `target/test-artifacts/browser/`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::serve_api::WEB_TOML;
use crate::support::browser::{Browser, require_browser};
use crate::support::daemon::Daemon;
use crate::support::prometheus::{Prometheus, require_prometheus};
use crate::support::target::{Behaviour, Target};

const APIS: [&str; 3] = ["/checkout", "/search", "/login"];
const WRITE_TOKEN: &str = "ui-write-token-0123456789";
const READ_TOKEN: &str = "ui-read-token-0123456789";
/// How long a page may take to show what a test waits for.
const PAGE: Duration = Duration::from_secs(10);

/// Two tokens: `alice` may act, `dashboards` may only look.
fn tokens() -> String {
    format!(
        r#"
[[tokens]]
name = "alice"
role = "write"
token = "{WRITE_TOKEN}"

[[tokens]]
name = "dashboards"
role = "read"
token = "{READ_TOKEN}"
"#
    )
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Open `path`, which sends us to the sign-in page; sign in with `token` and land on `path`.
async fn sign_in(b: &Browser, d: &Daemon, path: &str, token: &str) {
    open_sign_in(b, d, path).await;
    submit_token(b, path, token).await;
}

/// Open `path` while signed out: tokens are configured, so it is the sign-in page.
async fn open_sign_in(b: &Browser, d: &Daemon, path: &str) {
    b.goto(&format!("{}{path}", d.url)).await;
    b.wait_for("#token", PAGE).await;
    let url = b.url().await;
    assert!(
        url.ends_with(&format!("/ui/login?next={path}")),
        "signed out, {path} sends to the sign-in page, not {url}"
    );
}

/// Type `token` into the sign-in form and wait to be back on `path`, signed in.
async fn submit_token(b: &Browser, path: &str, token: &str) {
    b.type_into("#token", token).await;
    b.click("#sign-in").await;
    b.until(
        &format!("back on {path} after signing in"),
        PAGE,
        false,
        || async {
            let url = b.url().await;
            (url.ends_with(path) && b.try_find("form.session").await.is_some()).then_some(())
        },
    )
    .await;
}

/// v1 and v2 of a shop whose v2 regressed on /checkout (3× latency, 5% errors), scraped by
/// a real Prometheus every second, a daemon with tokens (the write token in use) and a
/// browser.
struct Checkout {
    _versions: [Target; 2],
    prom: Prometheus,
    b: Browser,
    dir: tempfile::TempDir,
    d: Daemon,
}

impl Checkout {
    async fn start() -> Checkout {
        let v1 = Target::start("v1", &APIS, Behaviour::default()).await;
        let v2 = Target::start("v2", &APIS, Behaviour::default()).await;
        v2.set(
            "/checkout",
            Behaviour {
                latency_factor: 3.0,
                error_rate: 0.05,
                ..Behaviour::default()
            },
        );
        let scrape = [("v1", v1.addr()), ("v2", v2.addr())];
        let (prom, b) = tokio::join!(Prometheus::start(&scrape, 1), Browser::start());
        let dir = tempfile::tempdir().unwrap();
        let mut d = Daemon::start(dir.path(), &prom.url(), &tokens()).await;
        d.with_token(Some(WRITE_TOKEN));
        Checkout {
            _versions: [v1, v2],
            prom,
            b,
            dir,
            d,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_of_a_failed_analysis_shows_the_failing_api_first() {
    require_prometheus!();
    require_browser!();
    let Checkout {
        _versions,
        prom,
        b,
        dir: _dir,
        d,
    } = Checkout::start().await;
    let (s, body) = d
        .post_text("/api/v1/configs", "application/toml", WEB_TOML)
        .await;
    assert_eq!(s, 201, "{body}");
    prom.wait_for_samples("http_requests_total", 12, Duration::from_secs(30))
        .await;
    let first = now();

    // 10 s of scrapes, then judge them.
    tokio::time::sleep(Duration::from_secs_f64((first + 10.0 - now()).max(0.0))).await;
    let (s, a) = d
        .post(
            "/api/v1/analyses",
            &json!({
                "config": "shop-web", "application": "shop",
                "baseline": {"scope": "v1"}, "canary": {"scope": "v2"},
                "window": {"mode": "retrospective", "start": first, "end": now() - 1.0, "step": "2s"},
            }),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let done = d.wait_final(&id, Duration::from_secs(30)).await;
    assert_eq!(
        (done["status"].as_str(), done["verdict"].as_str()),
        (Some("succeeded"), Some("fail")),
        "{done}"
    );

    // Tokens are configured: the list sends a stranger to the sign-in page.
    sign_in(&b, &d, "/ui/analyses", WRITE_TOKEN).await;
    let row = b
        .wait_for(&format!("#analyses tr[data-id='{id}']"), PAGE)
        .await;
    let text = row.text().await;
    assert!(
        text.contains("shop-web") && text.contains("v2") && text.contains("fail"),
        "the list row: {text}"
    );
    b.screenshot("analyses-list").await;

    b.click(&format!("#analyses tr[data-id='{id}'] a")).await;
    b.wait_for("tbody.pair", PAGE).await;
    assert!(b.url().await.ends_with(&format!("/ui/analyses/{id}")));
    let verdict = b.find("header.verdict h1 .badge").await;
    assert_eq!(verdict.text().await, "FAIL");
    assert!(
        verdict
            .attr("class")
            .await
            .unwrap_or_default()
            .contains("fail"),
        "the verdict badge is coloured as a failure"
    );

    // Failing pairs first: the first names /checkout; /checkout's pairs fail, the others pass.
    let pairs = b.find_all("tbody.pair").await;
    assert_eq!(pairs.len(), 6, "3 APIs × 2 metrics");
    let mut rows = Vec::new();
    for p in &pairs {
        let class = p.attr("data-classification").await.unwrap_or_default();
        rows.push((class, p.text().await));
    }
    let (first_class, first_text) = &rows[0];
    assert!(
        ["high", "low"].contains(&first_class.as_str()) && first_text.contains("/checkout"),
        "the first pair is the failing API: {first_class} {first_text}"
    );
    for (class, text) in &rows {
        let failing = ["high", "low"].contains(&class.as_str());
        assert_eq!(
            failing,
            text.contains("/checkout"),
            "only /checkout fails: {class} {text}"
        );
    }
    let failing = rows.iter().take_while(|(c, _)| c != "pass").count();
    assert_eq!(
        failing, 2,
        "both of /checkout's metrics, then the rest: {rows:?}"
    );
    let charts = pairs[0].find_all(".charts svg").await;
    // A latency histogram has its distribution chart (no time steps, so no series).
    assert!(
        !charts.is_empty(),
        "the failing pair's charts are inline SVG: none found"
    );
    assert!(
        b.text("p.score").await.contains("2 failing pairs"),
        "the score line links the failing pairs"
    );
    b.screenshot("analysis-failed").await;
    // Every legend entry and axis label of the inline charts is drawn whole inside its
    // chart, as rendered (no text clipped at the edge, none dropped); axes name their unit.
    let layout = b
        .execute(
            r#"const out = [];
            for (const svg of document.querySelectorAll('tbody.pair .charts svg')) {
                const w = svg.viewBox.baseVal.width || svg.width.baseVal.value;
                const h = svg.viewBox.baseVal.height || svg.height.baseVal.value;
                for (const t of svg.querySelectorAll('text')) {
                    const b = t.getBBox();
                    out.push({text: t.textContent.trim(), x: b.x, right: b.x + b.width,
                              y: b.y, bottom: b.y + b.height, w, h});
                }
            }
            return out;"#,
            serde_json::json!([]),
        )
        .await;
    let texts = layout.as_array().expect("chart texts");
    assert!(texts.len() > 10, "{layout}");
    for t in texts {
        let f = |k: &str| t[k].as_f64().unwrap_or(f64::NAN);
        assert!(
            f("x") >= 0.0
                && f("right") <= f("w") + 0.5
                && f("y") >= 0.0
                && f("bottom") <= f("h") + 0.5,
            "chart text outside its chart: {t}"
        );
        assert!(
            !t["text"].as_str().unwrap_or("").ends_with('…'),
            "a shortened legend: {t}"
        );
    }
    let all: Vec<&str> = texts.iter().filter_map(|t| t["text"].as_str()).collect();
    for needle in [
        "bound ",
        "judged ",
        "bucket upper bound (s)",
        "mean per step (s)",
    ] {
        assert!(
            all.iter().any(|t| t.contains(needle)),
            "no chart says `{needle}`: {all:?}"
        );
    }

    // A passing pair's charts load on demand, through the signed-in session.
    let pass = b
        .find("tbody.pair[data-classification='pass'] summary")
        .await;
    pass.click().await;
    b.until("a passing pair's lazy chart loads", PAGE, false, || async {
        let loaded = b
            .execute(
                "const img = document.querySelector(\"tbody.pair[data-classification='pass'] details[open] img\");
                 if (!img) return false;
                 img.scrollIntoView();
                 return img.complete && img.naturalWidth > 0;",
                json!([]),
            )
            .await;
        (loaded == true).then_some(())
    })
    .await;
}

/// A pipeline routed by a command that logs each split: 10 %, a person's judgment, 100 %.
fn judged_spec(log: &std::path::Path) -> String {
    format!(
        r#"
name = "checkout-ui"

[[targets]]
name = "eu"
router = {{ kind = "command", command = ["sh", "-c", "echo \"$CANARYD_EVENT $CANARYD_CANARY_PERCENT\" >> {}"] }}

[[stages]]
kind = "traffic"
percent = 10

[[stages]]
kind = "manual_judgment"
message = "Check the checkout dashboard before going on."
approvers = ["alice"]
timeout = "10m"

[[stages]]
kind = "traffic"
percent = 100
"#,
        log.display()
    )
}

/// A daemon with tokens, the judged pipeline stored, and one execution of it triggered.
async fn judged_execution(dir: &std::path::Path) -> (Daemon, String) {
    let mut d = Daemon::start(dir, "http://127.0.0.1:9", &tokens()).await;
    d.with_token(Some(WRITE_TOKEN));
    let spec = judged_spec(&dir.join("router.log"));
    let (s, b) = d
        .post_text("/api/v1/pipelines", "application/toml", &spec)
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, e) = d
        .post(
            "/api/v1/pipelines/checkout-ui/executions",
            &json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": "ci"}),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    (d, e["id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_a_judgment_by_clicking_lets_the_execution_go_on_to_100_percent() {
    require_browser!();
    let dir = tempfile::tempdir().unwrap();
    let ((d, id), b) = tokio::join!(judged_execution(dir.path()), Browser::start());
    let page = format!("/ui/executions/{id}");
    sign_in(&b, &d, &page, WRITE_TOKEN).await;

    // The page does not refresh itself while a judgment is pending: reload until it shows.
    let panel = b
        .until("the judgment panel", Duration::from_secs(20), true, || {
            b.try_text("#judgment")
        })
        .await;
    assert!(
        panel.contains("Check the checkout dashboard") && panel.contains("May decide: alice."),
        "{panel}"
    );
    assert_eq!(b.text("#split").await, "10%");
    let by = b.find("#judgment input[name='by']").await;
    assert_eq!(
        by.property("value").await,
        "alice",
        "prefilled with the token's name"
    );
    b.screenshot("execution-judgment").await;

    let comment = "checkout p99 flat, errors at baseline";
    b.type_into("#judgment input[name='comment']", comment)
        .await;
    b.click("#approve").await;
    b.wait_for_text("#flash", "Approved", PAGE).await;

    let (status, split) = b
        .until(
            "the execution succeeded at 100 %",
            Duration::from_secs(20),
            true,
            || async {
                let status = b.try_text("h1 .badge").await?;
                let split = b.try_text("#split").await?;
                (status == "succeeded" && split == "100%").then_some((status, split))
            },
        )
        .await;
    assert_eq!((status.as_str(), split.as_str()), ("succeeded", "100%"));
    assert!(
        b.try_find("#judgment").await.is_none(),
        "no judgment pending any more"
    );
    assert!(b.try_find("#approve").await.is_none());
    let approved = b.text("#events tr[data-kind='approved']").await;
    assert!(
        approved.contains("alice") && approved.contains(comment),
        "the approval names its author and comment: {approved}"
    );
    b.screenshot("execution-approved").await;

    // The decision went through the runner: recorded with author and comment, traffic moved.
    let (s, ev) = d.get(&format!("/api/v1/executions/{id}/events")).await;
    assert_eq!(s, 200, "{ev}");
    let items = ev["items"].as_array().expect("events");
    let approved = items
        .iter()
        .find(|e| e["kind"] == "approved")
        .unwrap_or_else(|| panic!("no approved event: {ev}"));
    assert_eq!(
        approved["detail"]["detail"].as_str(),
        Some(format!("by alice: {comment}").as_str()),
        "{approved}"
    );
    let kinds: Vec<&str> = items.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.last(), Some(&"completed"), "{kinds:?}");
    let log = std::fs::read_to_string(dir.path().join("router.log")).unwrap();
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    assert_eq!(lines, ["set_split 10", "set_split 100"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_token_sees_a_pending_judgment_but_gets_no_buttons() {
    require_browser!();
    let dir = tempfile::tempdir().unwrap();
    let ((d, id), b) = tokio::join!(judged_execution(dir.path()), Browser::start());
    let page = format!("/ui/executions/{id}");

    // An unknown token is refused on the sign-in page, which still leads back to the page.
    open_sign_in(&b, &d, &page).await;
    b.type_into("#token", "not-a-token").await;
    b.click("#sign-in").await;
    b.wait_for_text(".flash.error", "Unknown token", PAGE).await;
    b.screenshot("login-refused").await;
    submit_token(&b, &page, READ_TOKEN).await;

    let panel = b
        .until("the judgment panel", Duration::from_secs(20), true, || {
            b.try_text("#judgment")
        })
        .await;
    assert!(panel.contains("Sign in with a write token"), "{panel}");
    for button in ["#approve", "#reject", "#rollback", "#pause"] {
        assert!(
            b.try_find(button).await.is_none(),
            "a read token gets no {button} button"
        );
    }
    let session = b.text("form.session").await;
    assert!(
        session.contains("dashboards") && session.contains("(read)"),
        "{session}"
    );
    b.screenshot("execution-read-only").await;

    // Nothing was decided: the execution still waits.
    let (s, e) = d.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["state"]["phase"]["phase"], "awaiting_judgment", "{e}");
}

/// A pipeline of `config`'s analysis over real Prometheus, routed by a command that logs to
/// `log`: 10 %, the analysis (8 s, judged every 4 s), 100 %.
fn analysed_spec(name: &str, config: &str, log: &std::path::Path, on_inconclusive: &str) -> String {
    format!(
        r#"
name = "{name}"

[[targets]]
name = "eu"
router = {{ kind = "command", command = ["sh", "-c", "echo \"$CANARYD_EVENT $CANARYD_CANARY_PERCENT\" >> {}"] }}

[[stages]]
kind = "traffic"
percent = 10

[[stages]]
kind = "analysis"
config = "{config}"
duration = "8s"
interval = "4s"
step = "2s"
on_inconclusive = "{on_inconclusive}"
deadline = "10m"

[[stages]]
kind = "traffic"
percent = 100
"#,
        log.display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_and_a_held_judgment_say_why_with_numbers_and_link_their_analysis() {
    require_prometheus!();
    require_browser!();
    let Checkout {
        _versions,
        prom,
        b,
        dir,
        d,
    } = Checkout::start().await;
    // The shipped config (critical metrics: /checkout fails the canary), and a lenient copy
    // whose failures only cost score: 2 of 3 APIs pass, marginal.
    let lenient = WEB_TOML
        .replace("name = \"shop-web\"", "name = \"shop-web-lenient\"")
        .replace("critical = true\n", "");
    for config in [WEB_TOML, lenient.as_str()] {
        let (s, body) = d
            .post_text("/api/v1/configs", "application/toml", config)
            .await;
        assert_eq!(s, 201, "{body}");
    }
    for (name, config, hold) in [
        ("checkout-fails", "shop-web", "rollback"),
        ("checkout-held", "shop-web-lenient", "hold"),
    ] {
        let spec = analysed_spec(name, config, &dir.path().join(format!("{name}.log")), hold);
        let (s, body) = d
            .post_text("/api/v1/pipelines", "application/toml", &spec)
            .await;
        assert_eq!(s, 201, "{body}");
    }
    prom.wait_for_samples("http_requests_total", 12, Duration::from_secs(30))
        .await;
    let start = |name: &'static str| {
        let d = &d;
        async move {
            let (s, e) = d
                .post(
                    &format!("/api/v1/pipelines/{name}/executions"),
                    &json!({"baseline": {"scope": "v1"}, "canary": {"scope": "v2"}, "by": "ci"}),
                )
                .await;
            assert_eq!(s, 201, "{e}");
            e["id"].as_str().unwrap().to_string()
        }
    };
    let (failing, held) = (start("checkout-fails").await, start("checkout-held").await);
    let wait = |id: String, done: fn(&serde_json::Value) -> bool| {
        let d = &d;
        async move {
            let started = std::time::Instant::now();
            loop {
                let (s, e) = d.get(&format!("/api/v1/executions/{id}")).await;
                assert_eq!(s, 200, "{e}");
                if done(&e) {
                    return e;
                }
                assert!(started.elapsed() < Duration::from_secs(60), "{e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let rolled = wait(failing.clone(), |e| e["status"] != "running").await;
    assert_eq!(rolled["status"], "rolled_back", "{rolled}");
    wait(held.clone(), |e| {
        e["state"]["phase"]["phase"] == "awaiting_judgment"
    })
    .await;

    // The rollback names the failing metrics with their numbers and links the analysis.
    let page = format!("/ui/executions/{failing}");
    sign_in(&b, &d, &page, WRITE_TOKEN).await;
    let reason = b.text("#reason").await;
    assert!(
        reason.contains("the analysis failed")
            && reason.contains("/checkout")
            && reason.contains("→")
            && reason.contains("✗"),
        "the rollback says which metric, with which numbers: {reason}"
    );
    // The event shows its first line; the worse pairs are one click away.
    let rollback = b.find("#events tr[data-kind='rollback']").await;
    let folded = rollback.text().await;
    assert!(
        folded.contains("verdict FAIL") && !folded.contains("/checkout"),
        "{folded}"
    );
    b.find("#events tr[data-kind='rollback'] details summary")
        .await
        .click()
        .await;
    assert!(
        rollback.text().await.contains("/checkout"),
        "{}",
        rollback.text().await
    );
    let link = b.find("#events tr[data-kind='rollback'] a.analysis").await;
    let href = link.attr("href").await.unwrap_or_default();
    assert!(href.starts_with("/ui/analyses/"), "{href}");
    let started = b
        .find("#events tr[data-kind='analysis started'] a.analysis")
        .await
        .attr("href")
        .await
        .unwrap_or_default();
    assert_eq!(started, href, "the started analysis is the one that failed");
    b.screenshot("execution-rolled-back").await;

    // The analysis: run status and verdict cannot be confused.
    link.click().await;
    b.wait_for("tbody.pair", PAGE).await;
    assert_eq!(b.text("header.verdict h1 .badge").await, "FAIL");
    let facts = b.text("dl.facts").await;
    assert!(
        facts.contains("finished") && !facts.contains("succeeded"),
        "the run is finished, the verdict is FAIL: {facts}"
    );
    let first = b.text("tbody.pair td.checks").await;
    assert!(
        first.contains("✗"),
        "the failing check and its bound: {first}"
    );

    // The held execution: the analysis behind the judgment, what did not pass and why,
    // and what happens at the deadline.
    b.goto(&format!("{}/ui/executions/{held}", d.url)).await;
    let panel = b
        .until("the judgment panel", Duration::from_secs(20), true, || {
            b.try_text("#judgment")
        })
        .await;
    assert!(
        panel.contains("The analysis behind it") && panel.contains("MARGINAL"),
        "{panel}"
    );
    assert!(
        panel.contains("/checkout") && panel.contains("HIGH") && panel.contains("✗"),
        "what did not pass, with its numbers: {panel}"
    );
    let deadline = b.text("#deadline").await;
    assert!(
        deadline.contains("Deadline") && deadline.contains("the execution rolls back"),
        "{deadline}"
    );
    let analysis_link = b
        .find("#judgment-analysis a")
        .await
        .attr("href")
        .await
        .unwrap_or_default();
    assert!(
        analysis_link.starts_with("/ui/analyses/"),
        "{analysis_link}"
    );
    b.screenshot("execution-held").await;

    // The analyses list: a grey "finished" run beside a coloured verdict.
    b.goto(&format!("{}/ui/analyses", d.url)).await;
    let row = b.wait_for("#analyses tbody tr", PAGE).await;
    let text = row.text().await;
    assert!(text.contains("finished"), "{text}");
    assert!(!text.contains("succeeded"), "{text}");
}
