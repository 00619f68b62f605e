//! Traffic routers: the only things that move traffic between baseline and canary.
//!
//! A router is a [`TrafficRouter`]: it sets the *absolute* share of traffic on the canary
//! ([`TrafficRouter::set`]), reads it back when it can ([`TrafficRouter::current`]), and takes
//! a whole server group out of service or puts it back ([`TrafficRouter::set_enabled`]).
//! Every call is idempotent — routers set weights, never increments — so the pipeline runner
//! (`pipeline::runner`, the only caller) may repeat a call after a crash or a timeout.
//!
//! The kinds form a closed family, written in pipeline specs as `kind = "…"` and built with
//! [`RouterConfig::build`]:
//!
//! - [`haproxy`]: server weights over HAProxy's runtime API (admin socket, unix or TCP);
//! - [`webhook`]: a signed JSON POST to a URL, retried on outages;
//! - [`command`]: runs a program with the split in its environment.
//!
//! [`ROUTER_KINDS`] lists them for `--help` and the API.

pub mod command;
pub mod haproxy;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

pub use command::{CommandConfig, CommandRouter};
pub use haproxy::{GroupWeights, HaproxyConfig, HaproxyRouter};
pub use webhook::{WebhookConfig, WebhookRouter};

/// Share of traffic on the canary, 0–100 (the baseline gets the rest).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub canary_percent: f64,
}

impl Split {
    /// `canary_percent` of traffic on the canary.
    pub const fn canary(canary_percent: f64) -> Split {
        Split { canary_percent }
    }

    /// The baseline's share, `100 − canary_percent`.
    pub fn baseline_percent(&self) -> f64 {
        100.0 - self.canary_percent
    }

    /// The split, or an error (not retryable) when the percentage is not in `[0, 100]`.
    pub fn checked(self) -> Result<Split, RouterError> {
        if (0.0..=100.0).contains(&self.canary_percent) {
            Ok(self)
        } else {
            Err(RouterError::fatal(format!(
                "canary_percent must be within 0–100, got {}",
                self.canary_percent
            )))
        }
    }
}

/// Which server group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Baseline,
    Canary,
}

impl Group {
    /// `"baseline"` or `"canary"`, as in configs and webhook bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Baseline => "baseline",
            Group::Canary => "canary",
        }
    }
}

/// What the router is asked for (for webhooks/commands and logs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteContext {
    pub target: String,
    pub execution: String,
    pub stage: String,
}

/// What a router did, for the execution's record: e.g. the weights set, the HTTP status, the
/// command's output (truncated).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RouterOutput {
    pub detail: String,
}

/// A router call failed. `retryable` says whether the same call may succeed later (the
/// router was unreachable, timed out or answered 5xx) or not (it refused the request: unknown
/// server, 4xx, bad exit status).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RouterError {
    pub retryable: bool,
    pub message: String,
}

impl RouterError {
    /// A failure that may go away: unreachable, timeout, overload.
    pub fn retryable(message: impl Into<String>) -> RouterError {
        RouterError {
            retryable: true,
            message: message.into(),
        }
    }

    /// A failure that repeating the call will not fix.
    pub fn fatal(message: impl Into<String>) -> RouterError {
        RouterError {
            retryable: false,
            message: message.into(),
        }
    }
}

/// The future every router method returns.
pub type RouterFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RouterError>> + Send + 'a>>;

/// Moves traffic between the baseline and the canary group.
pub trait TrafficRouter: Send + Sync {
    /// The kind, as in [`ROUTER_KINDS`].
    fn kind(&self) -> &'static str;
    /// Set the split absolutely (idempotent: the same call twice changes nothing more).
    fn set<'a>(&'a self, split: Split, ctx: &'a RouteContext) -> RouterFuture<'a, RouterOutput>;
    /// Read the split back; `None` when this router cannot tell (then the runner keeps its own record).
    fn current<'a>(&'a self) -> RouterFuture<'a, Option<Split>>;
    /// Take a group out of service (`enabled = false`) or put it back; routers that cannot, say so in an error (retryable: false).
    fn set_enabled<'a>(
        &'a self,
        group: Group,
        enabled: bool,
        ctx: &'a RouteContext,
    ) -> RouterFuture<'a, RouterOutput>;
}

/// The closed set of router kinds, as written in pipeline specs (TOML `kind = "haproxy"` …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RouterConfig {
    Haproxy(haproxy::HaproxyConfig),
    Webhook(webhook::WebhookConfig),
    Command(command::CommandConfig),
}

/// A router configuration that cannot be built: every problem, as (field, message), the
/// field relative to the router (`socket`, `url`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} router: {}", describe(.problems))]
pub struct ConfigError {
    /// The router kind, as in [`ROUTER_KINDS`].
    pub kind: &'static str,
    pub problems: Vec<(String, String)>,
}

impl ConfigError {
    /// `Ok` when `problems` is empty, else the error naming them all.
    pub fn check(kind: &'static str, problems: Vec<(String, String)>) -> Result<(), ConfigError> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { kind, problems })
        }
    }
}

/// "`field` message; `field` message".
fn describe(problems: &[(String, String)]) -> String {
    problems
        .iter()
        .map(|(field, message)| format!("`{field}` {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl RouterConfig {
    /// The kind name, as in [`ROUTER_KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            RouterConfig::Haproxy(_) => "haproxy",
            RouterConfig::Webhook(_) => "webhook",
            RouterConfig::Command(_) => "command",
        }
    }

    /// What the router moves, as one string: two configs with the same target drive the
    /// same traffic (an HAProxy backend on one admin socket, a webhook URL, a command).
    pub fn target(&self) -> String {
        match self {
            RouterConfig::Haproxy(c) => {
                let socket = c.socket.trim();
                let socket = socket.strip_prefix("unix:").unwrap_or(socket);
                format!("haproxy backend `{}` at {socket}", c.backend)
            }
            RouterConfig::Webhook(c) => format!("webhook {}", c.url.trim()),
            RouterConfig::Command(c) => format!("command `{}`", c.command.join(" ")),
        }
    }

    /// The router, with a webhook client of its own. Fails, naming every problem, when
    /// [`RouterConfig::problems`] finds any. Code that builds many routers uses
    /// [`RouterConfig::build_with`] to share one client.
    pub fn build(&self) -> Result<Box<dyn TrafficRouter>, ConfigError> {
        self.build_with(&webhook::webhook_client())
    }

    /// The router; a webhook router sends through `webhooks` (see
    /// [`webhook::webhook_client`]), the other kinds do not use it.
    pub fn build_with(
        &self,
        webhooks: &reqwest::Client,
    ) -> Result<Box<dyn TrafficRouter>, ConfigError> {
        ConfigError::check(self.kind(), self.problems())?;
        Ok(match self {
            RouterConfig::Haproxy(c) => Box::new(HaproxyRouter::new(c.clone())?),
            RouterConfig::Webhook(c) => Box::new(WebhookRouter::new(c.clone(), webhooks.clone())?),
            RouterConfig::Command(c) => Box::new(CommandRouter::new(c.clone())?),
        })
    }

    /// Problems with the configuration: (field, message), the field relative to the router
    /// table (e.g. `canary_servers[1]`). Empty when [`RouterConfig::build`] will succeed.
    pub fn problems(&self) -> Vec<(String, String)> {
        match self {
            RouterConfig::Haproxy(c) => c.problems(),
            RouterConfig::Webhook(c) => c.problems(),
            RouterConfig::Command(c) => c.problems(),
        }
    }
}

/// Every router kind with a one-line summary: (kind, summary).
pub const ROUTER_KINDS: &[(&str, &str)] = &[
    (
        "haproxy",
        "server weights through HAProxy's runtime API (admin socket, unix or TCP)",
    ),
    (
        "webhook",
        "HMAC-signed JSON POST of the split to a URL, retried on outages",
    ),
    (
        "command",
        "runs a program with the split in CANARYD_* environment variables",
    ),
];

/// `problems` helper: a timeout must be a positive, finite number of seconds.
fn timeout_problem(timeout_s: f64) -> Option<(String, String)> {
    (!(timeout_s.is_finite() && timeout_s > 0.0)).then(|| {
        (
            "timeout_s".to_string(),
            format!("must be a positive number of seconds, got {timeout_s}"),
        )
    })
}

/// A percentage rounded to 6 decimals, so `100 − 12.3` is `87.7`.
pub(crate) fn round_percent(p: f64) -> f64 {
    (p * 1e6).round() / 1e6 + 0.0
}

/// A percentage for people and programs: at most 6 decimals, no trailing zeros (`25`, `12.5`).
pub(crate) fn fmt_percent(p: f64) -> String {
    round_percent(p).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_parse_from_toml_by_kind_and_reject_unknown_kinds_and_fields() {
        let c: RouterConfig = toml::from_str(
            r#"
            kind = "haproxy"
            socket = "unix:/run/haproxy/admin.sock"
            backend = "app"
            baseline_servers = ["b1", "b2"]
            canary_servers = ["c1"]
            "#,
        )
        .unwrap();
        assert_eq!(c.kind(), "haproxy");
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let c: RouterConfig = toml::from_str(
            "kind = \"command\"\ncommand = [\"sh\", \"-c\", \"true\"]\ntimeout_s = 3\n",
        )
        .unwrap();
        assert_eq!(c.kind(), "command");
        let e = toml::from_str::<RouterConfig>("kind = \"nginx\"\n").unwrap_err();
        assert!(e.to_string().contains("nginx"), "{e}");
        let e = toml::from_str::<RouterConfig>(
            "kind = \"command\"\ncommand = [\"true\"]\ncolour = 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn build_names_every_problem() {
        let c: RouterConfig = toml::from_str(
            "kind = \"haproxy\"\nsocket = \"\"\nbackend = \"app\"\nbaseline_servers = []\ncanary_servers = [\"c\"]\ntimeout_s = 0\n",
        )
        .unwrap();
        let e = c.build().err().expect("invalid config");
        assert_eq!(e.kind, "haproxy");
        let text = e.to_string();
        assert!(text.starts_with("haproxy router: "), "{text}");
        for field in ["socket", "baseline_servers", "timeout_s"] {
            assert!(e.problems.iter().any(|(f, _)| f == field), "{e:?}");
            assert!(text.contains(&format!("`{field}`")), "{text}");
        }
    }

    #[test]
    fn every_kind_is_listed_once() {
        let names: Vec<&str> = ROUTER_KINDS.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["haproxy", "webhook", "command"]);
    }

    #[test]
    fn splits_outside_0_to_100_are_refused() {
        assert!(Split::canary(0.0).checked().is_ok());
        assert!(Split::canary(100.0).checked().is_ok());
        for p in [-1.0, 100.5, f64::NAN, f64::INFINITY] {
            let e = Split::canary(p).checked().unwrap_err();
            assert!(!e.retryable);
        }
        assert_eq!(Split::canary(12.5).baseline_percent(), 87.5);
    }

    #[test]
    fn percentages_print_short() {
        assert_eq!(fmt_percent(25.0), "25");
        assert_eq!(fmt_percent(100.0 - 12.3), "87.7");
        assert_eq!(fmt_percent(1.0 / 3.0 * 100.0), "33.333333");
        assert_eq!(fmt_percent(-0.0), "0");
    }
}
