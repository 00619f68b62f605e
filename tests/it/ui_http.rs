//! The web UI over plain HTTP: redirects, sign-in with tokens, the session cookie, roles and
//! CSRF on actions, error pages. (tests/it/browser.rs clicks through it in Chromium.)

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::support::daemon::Daemon;

const NO_PROMETHEUS: &str = "http://127.0.0.1:9";
const READ: &str = "read-token-0123456789";
const WRITE: &str = "write-token-0123456789";
const TOKENS: &str = r#"
[[tokens]]
name = "dashboards"
role = "read"
token = "read-token-0123456789"

[[tokens]]
name = "oncall"
role = "write"
token = "write-token-0123456789"
"#;

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

fn location(r: &reqwest::Response) -> &str {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Sign in with `token`; the session cookie (`name=value`).
async fn sign_in(http: &reqwest::Client, url: &str, token: &str) -> String {
    let r = http
        .post(format!("{url}/ui/login"))
        .form(&[("token", token), ("next", "/ui/executions")])
        .send()
        .await
        .expect("the daemon answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/executions");
    let cookie = r
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(token),
        "the token itself is not in the cookie"
    );
    cookie.split(';').next().expect("name=value").to_string()
}

/// The CSRF value of a signed-in session's forms, read from a page (the sign-out form).
async fn csrf(http: &reqwest::Client, url: &str, cookie: &str) -> String {
    let page = http
        .get(format!("{url}/ui/analyses"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("a CSRF field on the page: {page}"))
        + "name=\"csrf\" value=\"".len();
    page[at..at + page[at..].find('"').expect("end of value")].to_string()
}

#[tokio::test]
async fn open_daemon_pages_answer_html() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, "").await;
    let http = client();
    let r = http.get(format!("{}/", d.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/analyses");
    for (path, text) in [
        ("/ui/analyses", "0 analyses"),
        ("/ui/pipelines", "No pipeline yet"),
        ("/ui/executions", "0 executions"),
        ("/ui/analyses?status=running&application=shop", "0 analyses"),
    ] {
        let r = http.get(format!("{}{path}", d.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = r.text().await.unwrap();
        assert!(body.contains(text), "{path}: {body}");
        assert!(!body.contains("<script"), "{path}: no scripts");
    }
    let r = http
        .get(format!("{}/ui/analyses/nope", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("There is no analysis `nope`.")
    );
    let r = http
        .get(format!("{}/ui/analyses?status=done", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, b) = d.get("/api/v1/analyses/nope/report.html").await;
    assert_eq!(s, 404, "{b}");
}

#[tokio::test]
async fn tokens_guard_pages_and_actions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = Daemon::start(dir.path(), NO_PROMETHEUS, TOKENS).await;
    let http = client();
    // Not signed in: to the sign-in page, remembering where to go back.
    let r = http
        .get(format!("{}/ui/analyses", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/login?next=/ui/analyses");
    let r = http
        .post(format!("{}/ui/login", d.url))
        .form(&[("token", "not-a-token-at-all")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("Unknown token."));
    // Only paths of the UI are followed after signing in.
    let r = http
        .post(format!("{}/ui/login", d.url))
        .form(&[("token", READ), ("next", "//evil.example/ui")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/ui/analyses");

    let read = sign_in(&http, &d.url, READ).await;
    let page = http
        .get(format!("{}/ui/analyses", d.url))
        .header(COOKIE, &read)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("signed in as <strong>dashboards</strong> (read)")
    );
    // A session id the daemon did not issue is refused.
    let forged = format!("canaryd_session={}", "0".repeat(64));
    let r = http
        .get(format!("{}/ui/analyses", d.url))
        .header(COOKIE, &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "forged session");

    // Actions: a read token may not act, whatever the form says.
    let r = http
        .post(format!("{}/ui/executions/e-1/rollback", d.url))
        .header(COOKIE, &read)
        .form(&[
            ("by", "mallory"),
            ("csrf", &csrf(&http, &d.url, &read).await),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("may read but not act"));
    // A write token needs its form's CSRF value.
    let write = sign_in(&http, &d.url, WRITE).await;
    let r = http
        .post(format!("{}/ui/executions/e-1/rollback", d.url))
        .header(COOKIE, &write)
        .form(&[("by", "oncall"), ("csrf", "0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Form expired"));
    // With it, the action reaches the runner, which knows no such execution.
    let r = http
        .post(format!("{}/ui/executions/e-1/rollback", d.url))
        .header(COOKIE, &write)
        .form(&[
            ("by", "oncall"),
            ("csrf", &csrf(&http, &d.url, &write).await),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Signing out clears the cookie.
    let r = http
        .post(format!("{}/ui/logout", d.url))
        .header(COOKIE, &write)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/ui/login");
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // … and ends the session: a copy of the cookie no longer signs anyone in.
    let r = http
        .get(format!("{}/ui/analyses", d.url))
        .header(COOKIE, &write)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the session ended at logout"
    );
    // Every sign-in is a new session: two sign-ins with one token give two cookies.
    let (a, b) = (
        sign_in(&http, &d.url, READ).await,
        sign_in(&http, &d.url, READ).await,
    );
    assert_ne!(a, b);
    // The API's bearer tokens guard the report download.
    let (s, _) = d.get("/api/v1/analyses/nope/report.html").await;
    assert_eq!(s, 401);
}
