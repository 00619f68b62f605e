//! [`CommandRouter`]: runs a program of the operator's to move traffic.
//!
//! `command` is an argv list run directly, without a shell (write
//! `["sh", "-c", "…"]` for one). The call is in its environment:
//!
//! | variable | set for | value |
//! |---|---|---|
//! | `CANARYD_EVENT` | all | `set_split`, `set_enabled` or `current` |
//! | `CANARYD_CANARY_PERCENT`, `CANARYD_BASELINE_PERCENT` | `set_split` | e.g. `25` and `75`, `12.5` and `87.5` |
//! | `CANARYD_GROUP`, `CANARYD_ENABLED` | `set_enabled` | `baseline`/`canary`, `true`/`false` |
//! | `CANARYD_TARGET`, `CANARYD_EXECUTION`, `CANARYD_STAGE` | `set_split`, `set_enabled` | the [`RouteContext`] |
//!
//! Exit status 0 is success. Standard output and error, interleaved as written, become the
//! output ([`RouterOutput::detail`]); only the last 16 KiB are kept. Another status fails the
//! call with the end of the output, not retryable unless `retry_on_failure = true`.
//!
//! The program runs in its own process group. After `timeout_s` the whole group is killed
//! and the call fails (retryable). When the program exits but something it started in the
//! background still holds its output open, that is killed one second later.
//!
//! `read_command` (optional) answers [`TrafficRouter::current`]: its standard output is the
//! canary percentage (`25`, `25.0` or `25%`), or empty when it cannot tell (then `None`);
//! standard error is only shown in errors. Without it, `current` is `None`.

use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::time::Instant;

use super::{
    ConfigError, Group, RouteContext, RouterError, RouterFuture, RouterOutput, Split,
    TrafficRouter, fmt_percent, timeout_problem,
};
use crate::text::tail;

/// The most output kept: the end of it.
pub const MAX_OUTPUT: usize = 16 * 1024;
/// The most output quoted in an error message.
const ERROR_TAIL: usize = 2048;
/// How long output may stay open after the program exited.
const GRACE: Duration = Duration::from_secs(1);

/// Every variable this router sets; removed from the inherited environment first.
const VARS: [&str; 8] = [
    "CANARYD_EVENT",
    "CANARYD_CANARY_PERCENT",
    "CANARYD_BASELINE_PERCENT",
    "CANARYD_GROUP",
    "CANARYD_ENABLED",
    "CANARYD_TARGET",
    "CANARYD_EXECUTION",
    "CANARYD_STAGE",
];

/// Which programs to run and how long to wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Program and arguments that apply a split or an enable/disable.
    pub command: Vec<String>,
    /// Program and arguments whose standard output is the current canary percentage.
    #[serde(default)]
    pub read_command: Option<Vec<String>>,
    /// Seconds before the program (and its process group) is killed.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
    /// Whether a non-zero exit status may be retried.
    #[serde(default)]
    pub retry_on_failure: bool,
}

fn default_timeout_s() -> f64 {
    30.0
}

impl CommandConfig {
    /// Problems with the config: (field, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (field, argv) in [
            ("command", Some(&self.command)),
            ("read_command", self.read_command.as_ref()),
        ] {
            match argv.and_then(|a| a.first()) {
                Some(p) if p.is_empty() => {
                    out.push((field.into(), "names an empty program".into()))
                }
                None if argv.is_some() => out.push((
                    field.into(),
                    "must name a program, e.g. [\"/usr/local/bin/route\"]".into(),
                )),
                _ => {}
            }
        }
        out.extend(timeout_problem(self.timeout_s));
        out
    }
}

/// Runs the configured programs; see the module documentation.
#[derive(Debug)]
pub struct CommandRouter {
    config: CommandConfig,
    timeout: Duration,
}

/// How a run ended (before the timeout).
struct Ran {
    status: ExitStatus,
    /// Standard output (and error, unless kept apart).
    output: String,
    /// Standard error when kept apart.
    errors: String,
}

impl CommandRouter {
    /// The router; fails on an invalid config (see [`CommandConfig::problems`]).
    pub fn new(config: CommandConfig) -> Result<CommandRouter, ConfigError> {
        ConfigError::check("command", config.problems())?;
        Ok(CommandRouter {
            timeout: crate::time::duration(config.timeout_s),
            config,
        })
    }

    /// Run `command` with `vars`; success is exit status 0.
    async fn act(&self, vars: Vec<(&str, String)>) -> Result<RouterOutput, RouterError> {
        let argv = &self.config.command;
        let ran = run(argv, &vars, self.timeout, false).await?;
        if ran.status.success() {
            tracing::info!(program = %argv[0], "command router: done");
            return Ok(RouterOutput { detail: ran.output });
        }
        Err(RouterError {
            retryable: self.config.retry_on_failure,
            message: format!(
                "{} {}: {}",
                show(argv),
                describe(ran.status),
                tail(ran.output.trim_end(), ERROR_TAIL)
            ),
        })
    }

    async fn read(&self) -> Result<Option<Split>, RouterError> {
        let Some(argv) = &self.config.read_command else {
            return Ok(None);
        };
        let vars = vec![("CANARYD_EVENT", "current".to_string())];
        let ran = run(argv, &vars, self.timeout, true).await?;
        if !ran.status.success() {
            return Err(RouterError {
                retryable: self.config.retry_on_failure,
                message: format!(
                    "{} {}: {}",
                    show(argv),
                    describe(ran.status),
                    tail(ran.errors.trim_end(), ERROR_TAIL)
                ),
            });
        }
        let text = ran.output.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let number = text.strip_suffix('%').unwrap_or(text).trim();
        match number.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Some(Split::canary(p))),
            _ => Err(RouterError::fatal(format!(
                "{} printed {:?}, not a canary percentage in 0–100",
                show(argv),
                tail(text, 200)
            ))),
        }
    }
}

fn context_vars(event: &str, ctx: &RouteContext) -> Vec<(&'static str, String)> {
    vec![
        ("CANARYD_EVENT", event.to_string()),
        ("CANARYD_TARGET", ctx.target.clone()),
        ("CANARYD_EXECUTION", ctx.execution.clone()),
        ("CANARYD_STAGE", ctx.stage.clone()),
    ]
}

impl TrafficRouter for CommandRouter {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn set<'a>(&'a self, split: Split, ctx: &'a RouteContext) -> RouterFuture<'a, RouterOutput> {
        Box::pin(async move {
            let split = split.checked()?;
            let mut vars = context_vars("set_split", ctx);
            vars.push(("CANARYD_CANARY_PERCENT", fmt_percent(split.canary_percent)));
            vars.push((
                "CANARYD_BASELINE_PERCENT",
                fmt_percent(split.baseline_percent()),
            ));
            self.act(vars).await
        })
    }

    fn current<'a>(&'a self) -> RouterFuture<'a, Option<Split>> {
        Box::pin(self.read())
    }

    fn set_enabled<'a>(
        &'a self,
        group: Group,
        enabled: bool,
        ctx: &'a RouteContext,
    ) -> RouterFuture<'a, RouterOutput> {
        let mut vars = context_vars("set_enabled", ctx);
        vars.push(("CANARYD_GROUP", group.as_str().to_string()));
        vars.push(("CANARYD_ENABLED", enabled.to_string()));
        Box::pin(self.act(vars))
    }
}

/// The end of a byte stream, at most [`MAX_OUTPUT`] bytes of it.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > 2 * MAX_OUTPUT {
            self.trim();
        }
    }

    fn trim(&mut self) {
        let excess = self.bytes.len().saturating_sub(MAX_OUTPUT);
        self.bytes.drain(..excess);
        self.dropped += excess;
    }

    fn into_string(mut self) -> String {
        self.trim();
        let text = String::from_utf8_lossy(&self.bytes);
        match self.dropped {
            0 => text.into_owned(),
            n => format!("[… {n} bytes dropped]\n{text}"),
        }
    }
}

/// Start `argv` with `vars` in its environment (canaryd's own variables removed), in a
/// process group of its own, its output into a pipe (stderr into a second one when
/// `separate`, else into the same): the child and the pipes' read ends.
fn spawn(
    argv: &[String],
    vars: &[(&str, String)],
    separate: bool,
) -> Result<
    (
        tokio::process::Child,
        std::io::PipeReader,
        Option<std::io::PipeReader>,
    ),
    RouterError,
> {
    let io = |what: &str, e: std::io::Error| {
        RouterError::retryable(format!("{}: {what}: {e}", show(argv)))
    };
    let (out_r, out_w) = std::io::pipe().map_err(|e| io("cannot create a pipe", e))?;
    let (err_r, err_w) = if separate {
        let (r, w) = std::io::pipe().map_err(|e| io("cannot create a pipe", e))?;
        (Some(r), w)
    } else {
        (
            None,
            out_w
                .try_clone()
                .map_err(|e| io("cannot create a pipe", e))?,
        )
    };
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w)
        .process_group(0)
        .kill_on_drop(true);
    for v in VARS {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().map(|(k, v)| (k, v)));
    let spawned = cmd.spawn();
    // The command holds our copies of the pipes' write ends; drop them so EOF can come.
    drop(cmd);
    let child = spawned.map_err(|e| {
        let message = format!("cannot run {}: {e}", show(argv));
        match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                RouterError::fatal(message)
            }
            _ => RouterError::retryable(message),
        }
    })?;
    Ok((child, out_r, err_r))
}

/// Run `argv` with `vars` until it exits (and its output closes) or `timeout` passes.
/// With `separate`, standard error is kept apart in [`Ran::errors`].
async fn run(
    argv: &[String],
    vars: &[(&str, String)],
    timeout: Duration,
    separate: bool,
) -> Result<Ran, RouterError> {
    let io = |what: &str, e: std::io::Error| {
        RouterError::retryable(format!("{}: {what}: {e}", show(argv)))
    };
    let (mut child, out_r, err_r) = spawn(argv, vars, separate)?;
    let pgid = child.id();
    let receiver = |r: std::io::PipeReader| pipe::Receiver::from_owned_fd(OwnedFd::from(r));
    let mut out_rx = Some(receiver(out_r).map_err(|e| io("cannot read its output", e))?);
    let mut err_rx = match err_r {
        Some(r) => Some(receiver(r).map_err(|e| io("cannot read its output", e))?),
        None => None,
    };
    let (mut output, mut errors) = (Tail::default(), Tail::default());
    let (mut out_buf, mut err_buf) = ([0u8; 8192], [0u8; 8192]);
    let mut status = None;
    let mut deadline = Instant::now() + timeout;
    loop {
        if status.is_some() && out_rx.is_none() && err_rx.is_none() {
            break;
        }
        tokio::select! {
            s = child.wait(), if status.is_none() => {
                status = Some(s.map_err(|e| io("cannot wait for it", e))?);
                deadline = deadline.min(Instant::now() + GRACE);
            }
            n = read(&mut out_rx, &mut out_buf) => match n {
                Some(n) => output.push(&out_buf[..n]),
                None => out_rx = None,
            },
            n = read(&mut err_rx, &mut err_buf) => match n {
                Some(n) => errors.push(&err_buf[..n]),
                None => err_rx = None,
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    // Whatever is left of its process group: on timeout, the program itself.
    if let Some(pgid) = pgid
        && (status.is_none() || out_rx.is_some() || err_rx.is_some())
    {
        kill_group(pgid);
        if status.is_some() {
            output.push(b"\n[canaryd: killed processes still holding the output open]\n");
        }
    }
    let Some(status) = status else {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return Err(RouterError::retryable(format!(
            "{} timed out after {timeout:?} and was killed: {}",
            show(argv),
            tail(output.into_string().trim_end(), ERROR_TAIL)
        )));
    };
    Ok(Ran {
        status,
        output: output.into_string(),
        errors: errors.into_string(),
    })
}

/// The next chunk from `rx`, `None` at its end (or on a read error); pending forever when
/// there is no pipe.
async fn read(rx: &mut Option<pipe::Receiver>, buf: &mut [u8]) -> Option<usize> {
    match rx {
        Some(r) => match r.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

/// SIGKILL every process of the group `pgid` (the program started it with `process_group(0)`).
fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. A negative pid
    // names the process group; ours is still reserved by the unreaped child or its members.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// `` `prog arg …` `` for messages, at most about 120 characters of it.
fn show(argv: &[String]) -> String {
    let all = argv.join(" ");
    match all.char_indices().nth(120) {
        Some((cut, _)) => format!("`{}…`", &all[..cut]),
        None => format!("`{all}`"),
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => format!("ended with {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_need_a_program() {
        let c: CommandConfig =
            toml::from_str("command = []\nread_command = [\"\"]\ntimeout_s = 0\n").unwrap();
        let fields: Vec<String> = c.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["command", "read_command", "timeout_s"]);
        let c: CommandConfig = toml::from_str("command = [\"true\"]\n").unwrap();
        assert!(c.problems().is_empty());
        assert_eq!(
            (c.timeout_s, c.retry_on_failure, c.read_command),
            (30.0, false, None)
        );
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::default();
        for _ in 0..5 {
            t.push(&[b'a'; MAX_OUTPUT]);
        }
        t.push(b"end");
        let s = t.into_string();
        assert!(s.starts_with(&format!("[… {} bytes dropped]\n", 4 * MAX_OUTPUT + 3)));
        assert!(s.ends_with("aend"));
    }
}
