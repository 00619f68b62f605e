//! The HTTP side of `canaryd pipeline`: one request to the daemon's API, and the mapping of
//! every way it can fail — unreachable, the daemon's error envelope, an answer that is not
//! canaryd's — to a message and a documented exit code.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::cli::{CliError, exit};

/// How long one request may take; the daemon's own limit is 30 s by default.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(35);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A request that did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// No HTTP answer: refused, unresolvable, timed out.
    Unreachable { url: String, cause: String },
    /// A non-2xx answer, with the daemon's error envelope when it sent one.
    Refused {
        status: StatusCode,
        message: String,
        /// `details.fields` of a 422: (field, message).
        fields: Vec<(String, String)>,
    },
    /// A 2xx answer that is not JSON.
    BadAnswer(String),
}

impl Failure {
    /// The exit code and message; `invalid` is the code of a 422 (a refused spec is an
    /// invalid config, a refused flag value a bad command line).
    pub fn into_cli(self, invalid: u8) -> CliError {
        match self {
            Failure::Unreachable { url, cause } => CliError::new(
                exit::UNAVAILABLE,
                format!(
                    "cannot reach the daemon at {url}: {cause} \
                     (is `canaryd serve` running? --server or CANARYD_URL names it)"
                ),
            ),
            Failure::BadAnswer(m) => CliError::new(exit::UNAVAILABLE, m),
            Failure::Refused {
                status,
                message,
                fields,
            } => {
                let code = match status.as_u16() {
                    401 | 403 => exit::NO_PERMISSION,
                    404 => exit::NO_INPUT,
                    409 => exit::REFUSED,
                    413 => exit::DATA,
                    422 => invalid,
                    500 => exit::INTERNAL,
                    s if s >= 500 => exit::UNAVAILABLE,
                    _ => exit::INTERNAL,
                };
                let mut message = match status.as_u16() {
                    401 => format!("{message} (give --token or set CANARYD_TOKEN)"),
                    409 => format!("refused: {message}"),
                    _ => message,
                };
                // The envelope's message joins the problems; list them one per line.
                if fields.len() > 1 {
                    message = String::from("the daemon found these problems:");
                    for (field, m) in &fields {
                        message.push_str(&format!("\n  {field}: {m}"));
                    }
                }
                CliError::new(code, message)
            }
        }
    }
}

/// The daemon's API at one base URL, with an optional bearer token.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

/// A request body.
pub enum Payload {
    None,
    Json(Value),
    Toml(String),
}

impl Client {
    /// A client of the daemon at `server`; a URL that does not parse is a usage error.
    pub fn new(server: &str, token: Option<String>) -> Result<Client, CliError> {
        let base = Url::parse(server)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| {
                CliError::new(
                    exit::USAGE,
                    format!("--server: `{server}` is not an http(s) URL"),
                )
            })?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("canaryd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                CliError::new(exit::INTERNAL, format!("cannot build an HTTP client: {e}"))
            })?;
        Ok(Client { http, base, token })
    }

    /// `segments` appended to the base URL's path (each percent-encoded), plus `query`.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Send one request; the answer's JSON body on 2xx (`null` when empty).
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        payload: Payload,
    ) -> Result<Value, Failure> {
        let url = self.url(segments, query);
        let mut req = self.http.request(method, url.clone());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req = match payload {
            Payload::None => req,
            Payload::Json(v) => req.json(&v),
            Payload::Toml(text) => req
                .header(reqwest::header::CONTENT_TYPE, "application/toml")
                .body(text),
        };
        let unreachable = |e: reqwest::Error| Failure::Unreachable {
            url: self.base.as_str().trim_end_matches('/').to_string(),
            cause: cause(&e),
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let text = resp.text().await.map_err(unreachable)?;
        let body: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return match body {
                Some(v) => Ok(v),
                None if text.is_empty() => Ok(Value::Null),
                None => Err(Failure::BadAnswer(format!(
                    "{url} answered {status} with something other than JSON; \
                     is --server a canaryd daemon?"
                ))),
            };
        }
        let envelope = body.as_ref().map(|b| &b["error"]).filter(|e| e.is_object());
        Err(match envelope {
            Some(e) => Failure::Refused {
                status,
                message: e["message"].as_str().unwrap_or("no message").to_string(),
                fields: e["details"]["fields"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .map(|f| {
                                (
                                    f["field"].as_str().unwrap_or("?").to_string(),
                                    f["message"].as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            None => Failure::Refused {
                status,
                message: format!(
                    "{url} answered {status} without canaryd's error envelope: {}",
                    text.chars().take(200).collect::<String>().trim()
                ),
                fields: Vec::new(),
            },
        })
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Value, Failure> {
        self.call(Method::GET, segments, query, Payload::None).await
    }

    pub async fn post(&self, segments: &[&str], body: Value) -> Result<Value, Failure> {
        self.call(Method::POST, segments, &[], Payload::Json(body))
            .await
    }
}

/// Why a request got no answer, in a user's words: the innermost cause (reqwest's outer
/// messages repeat the URL and say "error sending request").
fn cause(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!(
            "timed out (connecting may take {} s, answering {} s)",
            CONNECT_TIMEOUT.as_secs(),
            REQUEST_TIMEOUT.as_secs()
        );
    }
    let mut last = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}
