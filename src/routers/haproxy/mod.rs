//! [`HaproxyRouter`]: server weights through HAProxy's runtime API.
//!
//! It talks to an admin socket (`stats socket … level admin` in `haproxy.cfg`; a unix path or
//! a TCP address) with one connection per command, in HAProxy's non-interactive mode: send
//! one line, read the answer until HAProxy closes. It only uses `get weight`, `set weight` and
//! `set server … state`, on the servers named in the config.
//!
//! # Weights
//!
//! Every server of a group gets the same weight, chosen by [`GroupWeights::for_split`] so
//! the groups' shares under weighted round-robin are as near the split as HAProxy's integer
//! weights (0–256) allow: within about 0.05 percentage points, exact for 0 %, 100 % and
//! most common stages, and never 0 for a group asked for some traffic. [`weights`] has the
//! arithmetic and its rounding error. [`TrafficRouter::current`] returns the share the
//! weights give (the *achieved* split), so compare it with the requested one with a
//! tolerance of 0.05 points.
//!
//! # Changing weights safely
//!
//! `set` first reads every server's weight (`get weight`), which fails before anything changes
//! when a server or the backend does not exist, then sets only the weights that differ,
//! servers whose weight goes up first, so the backend never has all weights at 0 in between.
//! Calling it again with the same split reads the weights and changes nothing.
//!
//! # Maintenance
//!
//! `set_enabled` puts every server of a group in (`state maint`) or out of (`state ready`)
//! maintenance. It does not change weights, so [`TrafficRouter::current`] still returns the
//! split set by weights while a group is in maintenance (with one group in maintenance the
//! other gets all the traffic).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub mod weights;

pub use weights::{GroupWeights, MAX_WEIGHT};

use super::{
    ConfigError, Group, RouteContext, RouterError, RouterFuture, RouterOutput, Split,
    TrafficRouter, fmt_percent, timeout_problem,
};

/// The most bytes read of one answer (HAProxy's answers to our commands are a line).
const MAX_ANSWER: u64 = 64 * 1024;

/// Where HAProxy's admin socket is and which servers are which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaproxyConfig {
    /// `unix:/path`, `/path` or `tcp:host:port`; the socket needs `level admin`.
    pub socket: String,
    /// The backend holding both groups of servers.
    pub backend: String,
    /// Server names (in `backend`) that run the baseline.
    pub baseline_servers: Vec<String>,
    /// Server names (in `backend`) that run the canary.
    pub canary_servers: Vec<String>,
    /// Timeout of each command (connect, send, answer), seconds.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
}

fn default_timeout_s() -> f64 {
    5.0
}

impl HaproxyConfig {
    /// Problems with the config: (field, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Err(e) = Endpoint::parse(&self.socket) {
            out.push(("socket".into(), e));
        }
        if let Some(e) = name_problem(&self.backend) {
            out.push(("backend".into(), e));
        }
        for (field, servers) in [
            ("baseline_servers", &self.baseline_servers),
            ("canary_servers", &self.canary_servers),
        ] {
            if servers.is_empty() {
                out.push((field.into(), "must name at least one server".into()));
            }
            for (i, s) in servers.iter().enumerate() {
                if let Some(e) = name_problem(s) {
                    out.push((format!("{field}[{i}]"), e));
                } else if servers[..i].contains(s) {
                    out.push((format!("{field}[{i}]"), format!("names `{s}` twice")));
                }
            }
        }
        for (i, s) in self.canary_servers.iter().enumerate() {
            if self.baseline_servers.contains(s) {
                out.push((
                    format!("canary_servers[{i}]"),
                    format!("`{s}` is also a baseline server"),
                ));
            }
        }
        out.extend(timeout_problem(self.timeout_s));
        out
    }
}

/// HAProxy names are letters, digits and `-_.:`; anything else could break the command line.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    let bad = |c: char| !(c.is_ascii_alphanumeric() || "-_.:".contains(c));
    name.chars()
        .find(|&c| bad(c))
        .map(|c| format!("`{name}` has {c:?}; HAProxy names use only letters, digits and `-_.:`"))
}

/// Where the admin socket is.
#[derive(Debug, Clone, PartialEq)]
enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

impl Endpoint {
    fn parse(socket: &str) -> Result<Endpoint, String> {
        if let Some(path) = socket.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("`unix:` needs a path".into());
            }
            Ok(Endpoint::Unix(path.into()))
        } else if socket.starts_with('/') {
            Ok(Endpoint::Unix(socket.into()))
        } else if let Some(addr) = socket.strip_prefix("tcp:") {
            match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(Endpoint::Tcp(addr.into()))
                }
                _ => Err(format!("`{socket}`: expected tcp:host:port")),
            }
        } else {
            Err(format!(
                "`{socket}`: expected unix:/path, /path or tcp:host:port"
            ))
        }
    }
}

/// Sets server weights through HAProxy's runtime API; see the module documentation.
#[derive(Debug)]
pub struct HaproxyRouter {
    config: HaproxyConfig,
    endpoint: Endpoint,
    timeout: Duration,
}

impl HaproxyRouter {
    /// The router; fails on an invalid config (see [`HaproxyConfig::problems`]).
    pub fn new(config: HaproxyConfig) -> Result<HaproxyRouter, ConfigError> {
        ConfigError::check("haproxy", config.problems())?;
        Ok(HaproxyRouter {
            endpoint: Endpoint::parse(&config.socket).map_err(|e| ConfigError {
                kind: "haproxy",
                problems: vec![("socket".into(), e)],
            })?,
            timeout: crate::time::duration(config.timeout_s),
            config,
        })
    }

    /// `(server, group)` for every configured server, baseline first.
    fn servers(&self) -> impl Iterator<Item = (&str, Group)> {
        let b = self.config.baseline_servers.iter();
        let c = self.config.canary_servers.iter();
        b.map(|s| (s.as_str(), Group::Baseline))
            .chain(c.map(|s| (s.as_str(), Group::Canary)))
    }

    fn group_servers(&self, group: Group) -> &[String] {
        match group {
            Group::Baseline => &self.config.baseline_servers,
            Group::Canary => &self.config.canary_servers,
        }
    }

    /// Send one command and return HAProxy's answer without the trailing blank line.
    async fn command(&self, line: &str) -> Result<String, RouterError> {
        let talk = async {
            match &self.endpoint {
                Endpoint::Unix(path) => {
                    let s = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(connect_error)?;
                    exchange(s, line).await
                }
                Endpoint::Tcp(addr) => {
                    let s = tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(connect_error)?;
                    exchange(s, line).await
                }
            }
        };
        match tokio::time::timeout(self.timeout, talk).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(RouterError::retryable(format!(
                "HAProxy admin socket {}: `{line}`: {e}",
                self.config.socket
            ))),
            Err(_) => Err(RouterError::retryable(format!(
                "HAProxy admin socket {}: `{line}` got no answer within {:?}",
                self.config.socket, self.timeout
            ))),
        }
    }

    /// A command whose success is an empty answer.
    async fn command_ok(&self, line: &str) -> Result<(), RouterError> {
        let answer = self.command(line).await?;
        if answer.is_empty() {
            Ok(())
        } else {
            Err(refused(line, &answer))
        }
    }

    /// The current weight of `server` in the backend.
    async fn weight(&self, server: &str) -> Result<u32, RouterError> {
        let line = format!("get weight {}/{server}", self.config.backend);
        let answer = self.command(&line).await?;
        // "20 (initial 256)"
        answer
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| refused(&line, &answer))
    }

    /// Every configured server's weight, in [`HaproxyRouter::servers`] order.
    async fn weights(&self) -> Result<Vec<(String, Group, u32)>, RouterError> {
        let mut out = Vec::new();
        for (server, group) in self.servers() {
            out.push((server.to_string(), group, self.weight(server).await?));
        }
        Ok(out)
    }

    async fn set_split(
        &self,
        split: Split,
        ctx: &RouteContext,
    ) -> Result<RouterOutput, RouterError> {
        let split = split.checked()?;
        let (nb, nc) = (
            self.config.baseline_servers.len(),
            self.config.canary_servers.len(),
        );
        let want = GroupWeights::for_split(split.canary_percent, nb, nc);
        let achieved = want.canary_percent(nb, nc).unwrap_or(0.0);
        let mut changes: Vec<(String, u32, u32)> = self
            .weights()
            .await?
            .into_iter()
            .filter_map(|(server, group, now)| {
                let w = match group {
                    Group::Baseline => want.baseline,
                    Group::Canary => want.canary,
                };
                (w != now).then_some((server, now, w))
            })
            .collect();
        // Raise weights before lowering any, so the backend never has them all at 0.
        changes.sort_by_key(|&(_, now, w)| w < now);
        for (server, _, w) in &changes {
            self.command_ok(&format!("set weight {}/{server} {w}", self.config.backend))
                .await?;
        }
        let what = if changes.is_empty() {
            "unchanged".to_string()
        } else {
            let list: Vec<String> = changes
                .iter()
                .map(|(s, now, w)| format!("{s} {now}→{w}"))
                .collect();
            format!("changed {}", list.join(", "))
        };
        let detail = format!(
            "backend {}: baseline weight {} ×{nb}, canary weight {} ×{nc} → canary {}% \
             (asked {}%); {what}",
            self.config.backend,
            want.baseline,
            want.canary,
            fmt_percent(achieved),
            fmt_percent(split.canary_percent),
        );
        tracing::info!(
            target = %ctx.target, execution = %ctx.execution, stage = %ctx.stage,
            "haproxy router: {detail}"
        );
        Ok(RouterOutput { detail })
    }

    async fn read_split(&self) -> Result<Option<Split>, RouterError> {
        let (mut b, mut c) = (0.0, 0.0);
        for (_, group, w) in self.weights().await? {
            match group {
                Group::Baseline => b += f64::from(w),
                Group::Canary => c += f64::from(w),
            }
        }
        if b + c == 0.0 {
            tracing::warn!(
                backend = %self.config.backend,
                "haproxy router: every server has weight 0; no split to read"
            );
            return Ok(None);
        }
        Ok(Some(Split::canary(100.0 * c / (b + c))))
    }

    async fn enable(
        &self,
        group: Group,
        enabled: bool,
        ctx: &RouteContext,
    ) -> Result<RouterOutput, RouterError> {
        let servers = self.group_servers(group);
        // Check every server exists before changing any.
        for s in servers {
            self.weight(s).await?;
        }
        let state = if enabled { "ready" } else { "maint" };
        for s in servers {
            self.command_ok(&format!(
                "set server {}/{s} state {state}",
                self.config.backend
            ))
            .await?;
        }
        let detail = format!(
            "backend {}: {} servers {} set to state {state}",
            self.config.backend,
            group.as_str(),
            servers.join(", ")
        );
        tracing::info!(
            target = %ctx.target, execution = %ctx.execution, stage = %ctx.stage,
            "haproxy router: {detail}"
        );
        Ok(RouterOutput { detail })
    }
}

impl TrafficRouter for HaproxyRouter {
    fn kind(&self) -> &'static str {
        "haproxy"
    }

    fn set<'a>(&'a self, split: Split, ctx: &'a RouteContext) -> RouterFuture<'a, RouterOutput> {
        Box::pin(self.set_split(split, ctx))
    }

    fn current<'a>(&'a self) -> RouterFuture<'a, Option<Split>> {
        Box::pin(self.read_split())
    }

    fn set_enabled<'a>(
        &'a self,
        group: Group,
        enabled: bool,
        ctx: &'a RouteContext,
    ) -> RouterFuture<'a, RouterOutput> {
        Box::pin(self.enable(group, enabled, ctx))
    }
}

/// Send `line` and read the whole answer (HAProxy closes after answering).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    line: &str,
) -> Result<String, RouterError> {
    let io = |e: std::io::Error| RouterError::retryable(e.to_string());
    stream
        .write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(io)?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .await
        .map_err(io)?;
    Ok(String::from_utf8_lossy(&answer).trim().to_string())
}

fn connect_error(e: std::io::Error) -> RouterError {
    RouterError::retryable(format!("cannot connect: {e}"))
}

/// HAProxy answered `line` with an error (e.g. "No such server.").
fn refused(line: &str, answer: &str) -> RouterError {
    let answer = if answer.is_empty() {
        "(empty answer)"
    } else {
        answer
    };
    RouterError::fatal(format!("HAProxy refused `{line}`: {answer}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_parse() {
        assert_eq!(
            Endpoint::parse("unix:/run/a.sock"),
            Ok(Endpoint::Unix("/run/a.sock".into()))
        );
        assert_eq!(Endpoint::parse("/a"), Ok(Endpoint::Unix("/a".into())));
        assert_eq!(
            Endpoint::parse("tcp:127.0.0.1:9999"),
            Ok(Endpoint::Tcp("127.0.0.1:9999".into()))
        );
        for bad in ["", "unix:", "tcp:127.0.0.1", "tcp::1", "localhost:9999"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn problems_name_bad_servers() {
        let c = HaproxyConfig {
            socket: "tcp:127.0.0.1:1".into(),
            backend: "app".into(),
            baseline_servers: vec!["a".into(), "a".into()],
            canary_servers: vec!["a".into(), "x;shutdown sessions".into()],
            timeout_s: 5.0,
        };
        let fields: Vec<String> = c.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "baseline_servers[1]",
                "canary_servers[1]",
                "canary_servers[0]"
            ]
        );
    }
}
