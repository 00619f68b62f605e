//! [`WebhookRouter`]: tells a URL the split, with a signed JSON POST.
//!
//! Every call is one POST of a JSON body to `url`, e.g.
//!
//! ```json
//! {"event":"set_split","target":"checkout","execution":"e-42","stage":"25%",
//!  "canary_percent":25.0,"baseline_percent":75.0}
//! {"event":"set_enabled","target":"checkout","execution":"e-42","stage":"rollback",
//!  "group":"canary","enabled":false}
//! ```
//!
//! with these headers:
//!
//! - `X-Canaryd-Event`: the `event` of the body;
//! - `X-Canaryd-Delivery`: a UUID, the same for every retry of one call (for deduplication);
//! - `X-Canaryd-Timestamp`: Unix seconds when this attempt was sent;
//! - `X-Canaryd-Signature`: `sha256=<hex>`, the HMAC-SHA256 with key `secret` of
//!   `<timestamp>.<body>`: the timestamp header's value, a `.`, then the exact body bytes.
//!   Receivers recompute it (see [`signature`]), compare in constant time, and should refuse
//!   timestamps more than a few minutes old, which stops replays.
//!
//! Any 2xx answer is success. Network errors, timeouts, 429 and 5xx are retried `retries`
//! times, waiting `backoff_ms`, then twice as long each time (at least `Retry-After` seconds
//! when the answer says so, at most 30 s per wait); when they persist the error is retryable.
//! Other answers (4xx, and 3xx: redirects are not followed) fail at once and are not
//! retryable. The body is the same on every attempt; the timestamp and signature are new.
//!
//! A webhook cannot be asked what it did, so [`TrafficRouter::current`] is always `None`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{
    ConfigError, Group, RouteContext, RouterError, RouterFuture, RouterOutput, Split,
    TrafficRouter, round_percent, timeout_problem,
};
use crate::secret::Secret;
use crate::text::tail;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The most bytes of an answer's body kept for the output or the error.
const MAX_ANSWER: usize = 2048;

/// Where to POST, how to sign, how hard to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://…` or `https://…`.
    pub url: String,
    /// HMAC-SHA256 key for `X-Canaryd-Signature`.
    pub secret: Secret,
    /// Retries after the first attempt, for network errors, 429 and 5xx only.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First wait between attempts, milliseconds; doubled on each retry.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// Timeout of each attempt, seconds.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
}

fn default_retries() -> u32 {
    3
}

fn default_backoff_ms() -> u64 {
    250
}

fn default_timeout_s() -> f64 {
    10.0
}

impl WebhookConfig {
    /// Problems with the config: (field, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => out.push((
                "url".into(),
                format!("must be http or https, not `{}`", u.scheme()),
            )),
            Err(e) => out.push(("url".into(), format!("`{}`: {e}", self.url))),
        }
        if self.secret.expose().is_empty() {
            out.push(("secret".into(), "must not be empty".into()));
        }
        if self.retries > 20 {
            out.push((
                "retries".into(),
                format!("at most 20, got {}", self.retries),
            ));
        }
        if self.backoff_ms > 60_000 {
            out.push((
                "backoff_ms".into(),
                format!("at most 60000 (a minute), got {}", self.backoff_ms),
            ));
        }
        out.extend(timeout_problem(self.timeout_s));
        out
    }
}

/// `sha256=<hex>`: HMAC-SHA256 with key `secret` of `<timestamp>.<body>`, as sent in
/// `X-Canaryd-Signature`.
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let mut out = String::from("sha256=");
    for b in mac.finalize().into_bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The JSON body of a call.
#[derive(Debug, Serialize)]
struct Body<'a> {
    event: &'static str,
    target: &'a str,
    execution: &'a str,
    stage: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    canary_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Group>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
}

impl<'a> Body<'a> {
    fn new(event: &'static str, ctx: &'a RouteContext) -> Body<'a> {
        Body {
            event,
            target: &ctx.target,
            execution: &ctx.execution,
            stage: &ctx.stage,
            canary_percent: None,
            baseline_percent: None,
            group: None,
            enabled: None,
        }
    }
}

/// How one attempt ended.
enum Attempt {
    Done(String),
    /// Worth another try; with the server's `Retry-After`, if any.
    Again(String, Option<Duration>),
    Failed(String),
}

/// The HTTP client for webhooks: redirects are not followed, canaryd's user agent; each
/// [`SignedPoster`] sets its own per-request timeout. One client serves every webhook of a
/// daemon: a client holds the TLS root store and a connection pool, so one per execution
/// would cost memory that grows with the number of executions.
///
/// # Panics
///
/// When the TLS backend cannot be initialized, like [`reqwest::Client::new`].
pub fn webhook_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("canaryd/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend initializes")
}

/// POSTs signed JSON to a URL with retries; see the module documentation. The webhook
/// router and the pipeline notifications both deliver through it.
#[derive(Debug)]
pub struct SignedPoster {
    config: WebhookConfig,
    http: reqwest::Client,
}

impl SignedPoster {
    /// The poster, sending through `http` (see [`webhook_client`]); fails on an invalid
    /// config (see [`WebhookConfig::problems`]).
    pub fn new(config: WebhookConfig, http: reqwest::Client) -> Result<SignedPoster, ConfigError> {
        ConfigError::check("webhook", config.problems())?;
        Ok(SignedPoster { config, http })
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// POST `json` (already encoded) with `X-Canaryd-Event: event`, retrying outages; the
    /// answer's status and body on success.
    pub async fn post(&self, event: &str, json: &[u8]) -> Result<String, RouterError> {
        let delivery = uuid::Uuid::new_v4().to_string();
        let mut wait = Duration::from_millis(self.config.backoff_ms);
        let mut attempt = 1;
        loop {
            let (message, retry_after) = match self.attempt(event, &delivery, json).await {
                Attempt::Done(detail) => {
                    let detail = format!("{detail} (attempt {attempt}, delivery {delivery})");
                    tracing::debug!(url = %self.config.url, "webhook: {event}: {detail}");
                    return Ok(detail);
                }
                Attempt::Failed(message) => {
                    return Err(RouterError::fatal(format!(
                        "webhook {}: {message}",
                        self.config.url
                    )));
                }
                Attempt::Again(message, retry_after) => (message, retry_after),
            };
            if attempt > self.config.retries {
                return Err(RouterError::retryable(format!(
                    "webhook {}: {message} (gave up after {attempt} attempts)",
                    self.config.url
                )));
            }
            let pause = wait.max(retry_after.unwrap_or_default()).min(MAX_BACKOFF);
            tracing::warn!(
                url = %self.config.url, attempt,
                "webhook: {event}: {message}; retrying in {pause:?}"
            );
            tokio::time::sleep(pause).await;
            wait = wait.saturating_mul(2);
            attempt += 1;
        }
    }

    async fn attempt(&self, event: &str, delivery: &str, json: &[u8]) -> Attempt {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let sent = self
            .http
            .post(&self.config.url)
            .timeout(crate::time::duration(self.config.timeout_s))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Canaryd-Event", event)
            .header("X-Canaryd-Delivery", delivery)
            .header("X-Canaryd-Timestamp", timestamp.to_string())
            .header(
                "X-Canaryd-Signature",
                signature(self.config.secret.expose(), timestamp, json),
            )
            .body(json.to_vec())
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::Again(describe(&e), None),
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text = Vec::new();
        while text.len() < 2 * MAX_ANSWER {
            match resp.chunk().await {
                Ok(Some(chunk)) => text.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let text = String::from_utf8_lossy(&text);
        let message = match text.trim() {
            "" => format!("HTTP {status}"),
            t => format!("HTTP {status}: {}", tail(t, MAX_ANSWER)),
        };
        if status.is_success() {
            Attempt::Done(message)
        } else if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Attempt::Again(message, retry_after)
        } else {
            Attempt::Failed(message)
        }
    }
}

/// The webhook traffic router: each call is one [`SignedPoster::post`].
#[derive(Debug)]
pub struct WebhookRouter {
    poster: SignedPoster,
}

impl WebhookRouter {
    /// The router, sending through `http` (see [`webhook_client`]); fails on an invalid
    /// config (see [`WebhookConfig::problems`]).
    pub fn new(config: WebhookConfig, http: reqwest::Client) -> Result<WebhookRouter, ConfigError> {
        Ok(WebhookRouter {
            poster: SignedPoster::new(config, http)?,
        })
    }

    async fn deliver(&self, body: Body<'_>) -> Result<RouterOutput, RouterError> {
        let json = serde_json::to_vec(&body)
            .map_err(|e| RouterError::fatal(format!("cannot encode the webhook body: {e}")))?;
        let detail = self.poster.post(body.event, &json).await?;
        tracing::info!(url = %self.poster.url(), "webhook router: {}: {detail}", body.event);
        Ok(RouterOutput { detail })
    }
}

/// A network error with its causes (reqwest's own message is only the outermost).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

impl TrafficRouter for WebhookRouter {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn set<'a>(&'a self, split: Split, ctx: &'a RouteContext) -> RouterFuture<'a, RouterOutput> {
        Box::pin(async move {
            let split = split.checked()?;
            self.deliver(Body {
                canary_percent: Some(round_percent(split.canary_percent)),
                baseline_percent: Some(round_percent(split.baseline_percent())),
                ..Body::new("set_split", ctx)
            })
            .await
        })
    }

    fn current<'a>(&'a self) -> RouterFuture<'a, Option<Split>> {
        Box::pin(async { Ok(None) })
    }

    fn set_enabled<'a>(
        &'a self,
        group: Group,
        enabled: bool,
        ctx: &'a RouteContext,
    ) -> RouterFuture<'a, RouterOutput> {
        Box::pin(self.deliver(Body {
            group: Some(group),
            enabled: Some(enabled),
            ..Body::new("set_enabled", ctx)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Python: hmac.new(b"Jefe", b"1700000000." + b'{"a":1}', "sha256").hexdigest()
        assert_eq!(
            signature("Jefe", 1_700_000_000, br#"{"a":1}"#),
            "sha256=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a"
        );
    }

    #[test]
    fn bodies_carry_only_their_event_fields() {
        let ctx = RouteContext {
            target: "checkout".into(),
            execution: "e-1".into(),
            stage: "s".into(),
        };
        let b = Body {
            canary_percent: Some(25.0),
            baseline_percent: Some(75.0),
            ..Body::new("set_split", &ctx)
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"event":"set_split","target":"checkout","execution":"e-1","stage":"s","canary_percent":25.0,"baseline_percent":75.0}"#
        );
        let b = Body {
            group: Some(Group::Canary),
            enabled: Some(false),
            ..Body::new("set_enabled", &ctx)
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"event":"set_enabled","target":"checkout","execution":"e-1","stage":"s","group":"canary","enabled":false}"#
        );
    }

    #[test]
    fn problems_and_redaction() {
        let c: WebhookConfig =
            toml::from_str("url = \"ftp://x\"\nsecret = \"\"\ntimeout_s = -1\n").unwrap();
        let fields: Vec<String> = c.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["url", "secret", "timeout_s"]);
        let c: WebhookConfig =
            toml::from_str("url = \"http://127.0.0.1:1/hook\"\nsecret = \"hunter2\"\n").unwrap();
        assert!(c.problems().is_empty());
        assert_eq!((c.retries, c.backoff_ms, c.timeout_s), (3, 250, 10.0));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&c).unwrap().contains("hunter2"));
    }
}
