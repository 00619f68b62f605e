//! Smoke tests of pipeline stages: one HTTP request and its expected status, or one command
//! and its expected exit status, within a time limit. One attempt per call; the state
//! machine decides about retries.

use super::spec::SmokeSpec;

/// The outcome of one attempt: passed, and what was seen (kept in the event log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeResult {
    pub ok: bool,
    pub detail: String,
}

/// Most output kept from a command.
const OUTPUT_CAP: usize = 4096;

/// The end of a command's output, trimmed.
fn tail(bytes: &[u8]) -> String {
    crate::text::tail(String::from_utf8_lossy(bytes).trim(), OUTPUT_CAP)
}

/// Run one attempt of `spec`.
pub async fn run(spec: &SmokeSpec, client: &reqwest::Client) -> SmokeResult {
    let limit = crate::time::duration(spec.timeout.0.max(0.001));
    if let Some(http) = &spec.http {
        let answer = tokio::time::timeout(limit, client.get(&http.url).send()).await;
        return match answer {
            Err(_) => SmokeResult {
                ok: false,
                detail: format!("GET {}: no answer within {} s", http.url, spec.timeout.0),
            },
            Ok(Err(e)) => SmokeResult {
                ok: false,
                detail: format!("GET {}: {e}", http.url),
            },
            Ok(Ok(r)) => {
                let status = r.status().as_u16();
                SmokeResult {
                    ok: status == http.expect_status,
                    detail: format!(
                        "GET {}: HTTP {status} (expected {})",
                        http.url, http.expect_status
                    ),
                }
            }
        };
    }
    let Some(argv) = spec.command.as_ref().filter(|c| !c.is_empty()) else {
        return SmokeResult {
            ok: false,
            detail: "the smoke test has neither `http` nor `command`".into(),
        };
    };
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]).kill_on_drop(true);
    let shown = argv.join(" ");
    match tokio::time::timeout(limit, cmd.output()).await {
        Err(_) => SmokeResult {
            ok: false,
            detail: format!("`{shown}`: killed after {} s", spec.timeout.0),
        },
        Ok(Err(e)) => SmokeResult {
            ok: false,
            detail: format!("`{shown}` could not run: {e}"),
        },
        Ok(Ok(out)) => {
            let code = out.status.code();
            let mut output = out.stdout;
            output.extend_from_slice(&out.stderr);
            SmokeResult {
                ok: code == Some(spec.expect_exit),
                detail: format!(
                    "`{shown}` exited with {} (expected {}): {}",
                    code.map_or_else(|| "a signal".to_string(), |c| c.to_string()),
                    spec.expect_exit,
                    tail(&output)
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::spec::HttpCheck;
    use crate::time::Seconds;

    fn command(argv: &[&str], timeout: f64) -> SmokeSpec {
        SmokeSpec {
            http: None,
            command: Some(argv.iter().map(|s| s.to_string()).collect()),
            expect_exit: 0,
            retries: 0,
            timeout: Seconds(timeout),
        }
    }

    #[tokio::test]
    async fn commands_pass_on_the_expected_exit_status_only() {
        let c = reqwest::Client::new();
        let ok = run(&command(&["sh", "-c", "echo healthy"], 5.0), &c).await;
        assert!(ok.ok && ok.detail.contains("healthy"), "{ok:?}");
        let bad = run(&command(&["sh", "-c", "echo broken >&2; exit 3"], 5.0), &c).await;
        assert!(!bad.ok && bad.detail.contains("exited with 3") && bad.detail.contains("broken"));
        let slow = run(&command(&["sleep", "5"], 0.2), &c).await;
        assert!(!slow.ok && slow.detail.contains("killed"), "{slow:?}");
        let missing = run(&command(&["/nonexistent/check"], 1.0), &c).await;
        assert!(!missing.ok && missing.detail.contains("could not run"));
    }

    #[tokio::test]
    async fn http_checks_compare_the_status() {
        let app = axum::Router::new()
            .route("/ok", axum::routing::get(|| async { "fine" }))
            .route(
                "/down",
                axum::routing::get(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let spec = |path: &str| SmokeSpec {
            http: Some(HttpCheck {
                url: format!("{base}{path}"),
                expect_status: 200,
            }),
            command: None,
            expect_exit: 0,
            retries: 0,
            timeout: Seconds(5.0),
        };
        let c = reqwest::Client::new();
        assert!(run(&spec("/ok"), &c).await.ok);
        let down = run(&spec("/down"), &c).await;
        assert!(!down.ok && down.detail.contains("HTTP 503"), "{down:?}");
    }
}
