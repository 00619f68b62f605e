//! `canaryd pipeline`: the command-line client of a running daemon's pipeline API
//! (`/api/v1/pipelines`, `/api/v1/executions`; docs/pipelines.md). It stores specs, starts
//! and follows executions, and sends operators' decisions. It talks to the daemon over HTTP
//! only (`client.rs`) and prints text for people (`show.rs`) or the daemon's JSON as is.

mod client;
mod show;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{CliError, exit};
use crate::pipeline::spec::Pipeline;
use client::{Client, Failure, Payload};

/// Where the daemon listens unless `--server` or `CANARYD_URL` says otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// How often `run --wait` asks for new events.
const POLL: Duration = Duration::from_millis(500);

/// Exit codes of `canaryd pipeline` (appended to its `--help`).
pub const EXIT_HELP: &str = "Exit codes:
  0   success (run --wait: the execution succeeded)
  1   run --wait: the execution rolled back
  3   run --wait: the execution failed (a router error)
  64  bad command line, or the daemon refused a value given on it (422)
  65  the spec file is not UTF-8 text or is too large (413)
  66  the spec file, pipeline or execution does not exist (404)
  69  the daemon cannot be reached or is unavailable (5xx other than 500)
  70  internal error (a 500 from the daemon included)
  75  refused (409): in the execution's current state (no judgment awaited, not an
      approver, already finished, not paused, still queued), or the new execution's
      router target is driven by a running execution; nothing changed
  77  the token is missing, unknown, or may only read (401/403)
  78  the daemon refused the pipeline spec (422; every problem is listed)";

#[derive(Debug, clap::Args)]
#[command(long_about = "Drive pipelines on a running `canaryd serve`.

Store a pipeline spec, start executions and follow them, show their state and event log, and
approve, reject, roll back, pause or resume them. Every subcommand talks to the daemon's HTTP
API at --server (or CANARYD_URL) with --token (or CANARYD_TOKEN) as a bearer token; the daemon
does the work and keeps the state, so the client can stop and start at any time.")]
pub struct PipelineArgs {
    #[command(flatten)]
    pub daemon: DaemonFlags,
    #[command(subcommand)]
    pub command: PipelineCommand,
}

/// How to reach the daemon; accepted before or after the subcommand.
#[derive(Debug, clap::Args)]
pub struct DaemonFlags {
    /// The daemon's base URL [env: CANARYD_URL] [default: http://127.0.0.1:8080].
    #[arg(long, global = true, value_name = "URL", help_heading = "Daemon")]
    pub server: Option<String>,
    /// API token, sent as `Authorization: Bearer` [env: CANARYD_TOKEN]; writes need a
    /// token with the write role when the daemon has tokens.
    #[arg(long, global = true, value_name = "TOKEN", help_heading = "Daemon")]
    pub token: Option<String>,
    /// Print the daemon's JSON answer as is instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum PipelineCommand {
    /// Store a pipeline spec (TOML) as the next version of its pipeline.
    #[command(
        long_about = "Store a pipeline spec (TOML) as the next version of its pipeline.

The spec names the pipeline; the first apply creates it (version 1), every later apply
stores a new version, and running executions keep the version they started with. The daemon
validates the spec first: when it refuses it, every problem is printed with its field and the
exit code is 78."
    )]
    Apply {
        /// Pipeline spec (TOML, docs/pipelines.md).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Start an execution of a stored pipeline and print its id; --wait follows it.
    Run(RunArgs),
    /// Show one execution (state and event log), or list executions newest first.
    Status {
        /// Execution id; without it, executions are listed.
        #[arg(value_name = "ID")]
        id: Option<String>,
        /// List only this pipeline's executions.
        #[arg(long, value_name = "NAME", conflicts_with = "id")]
        pipeline: Option<String>,
        /// Show every event's detail whole (by default its first line, shortened).
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    /// Approve the manual judgment an execution awaits; the execution moves on.
    Approve(JudgeArgs),
    /// Reject the manual judgment an execution awaits; the execution rolls back.
    Reject(JudgeArgs),
    /// Send an execution's traffic back to the baseline now.
    Rollback {
        /// Execution id.
        #[arg(value_name = "ID")]
        id: String,
        /// Who asks (recorded in the event log).
        #[arg(long, value_name = "WHO")]
        by: String,
        /// Why (recorded in the event log).
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
    },
    /// Pause an execution: the current stage finishes, the next waits for `resume`.
    Pause(ByArgs),
    /// Resume a paused execution.
    Resume(ByArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The stored pipeline to run.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The baseline's scope (`${scope}` in its queries: usually the version or group).
    #[arg(long, value_name = "SCOPE")]
    pub baseline: String,
    /// The canary's scope.
    #[arg(long, value_name = "SCOPE")]
    pub canary: String,
    /// Who starts it (recorded with the execution).
    #[arg(long, value_name = "WHO")]
    pub by: Option<String>,
    /// Do not start before this time: RFC 3339 (2026-11-26T10:00:00Z) or unix seconds.
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    pub at: Option<Value>,
    /// Follow the execution, printing each event, until it ends; the exit code says how
    /// (0 succeeded, 1 rolled back, 3 failed). With --json the events go to stderr and the
    /// final execution to stdout.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, clap::Args)]
pub struct JudgeArgs {
    /// Execution id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Who decides; must be one of the stage's approvers when it lists any.
    #[arg(long, value_name = "WHO")]
    pub by: String,
    /// A comment (recorded in the event log).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub comment: String,
}

#[derive(Debug, clap::Args)]
pub struct ByArgs {
    /// Execution id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Who asks (recorded in the event log).
    #[arg(long, value_name = "WHO")]
    pub by: String,
}

/// `--at`: RFC 3339 is sent as written, unix seconds as a number.
fn parse_at(s: &str) -> Result<Value, String> {
    if let Ok(n) = s.parse::<f64>()
        && n.is_finite()
    {
        return Ok(json!(n));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|_| Value::String(s.to_string()))
        .map_err(|_| "expected RFC 3339 (2026-11-26T10:00:00Z) or unix seconds".into())
}

/// A flag's value, else the environment variable's (empty counts as unset).
fn flag_or_env(flag: Option<String>, var: &str) -> Option<String> {
    flag.or_else(|| std::env::var(var).ok())
        .filter(|v| !v.trim().is_empty())
}

pub fn run(args: PipelineArgs) -> Result<u8, CliError> {
    let server = flag_or_env(args.daemon.server, "CANARYD_URL")
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let client = Client::new(&server, flag_or_env(args.daemon.token, "CANARYD_TOKEN"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(exit::INTERNAL, format!("cannot start the runtime: {e}")))?;
    runtime.block_on(dispatch(&client, args.command, args.daemon.json))
}

async fn dispatch(c: &Client, command: PipelineCommand, json: bool) -> Result<u8, CliError> {
    match command {
        PipelineCommand::Apply { file } => apply(c, &file, json).await,
        PipelineCommand::Run(args) => start(c, args, json).await,
        PipelineCommand::Status {
            id: Some(id),
            verbose,
            ..
        } => status(c, &id, json, verbose).await,
        PipelineCommand::Status {
            id: None, pipeline, ..
        } => list(c, pipeline, json).await,
        PipelineCommand::Approve(a) => judge(c, a, "approve", "approved", json).await,
        PipelineCommand::Reject(a) => judge(c, a, "reject", "rejected", json).await,
        PipelineCommand::Rollback { id, by, reason } => {
            let body = json!({ "by": by, "reason": reason });
            decide(c, &id, "rollback", body, "rollback asked for", json).await
        }
        PipelineCommand::Pause(a) => {
            decide(c, &a.id, "pause", json!({ "by": a.by }), "paused", json).await
        }
        PipelineCommand::Resume(a) => {
            decide(c, &a.id, "resume", json!({ "by": a.by }), "resumed", json).await
        }
    }
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::new(
            exit::INTERNAL,
            format!("cannot write to stdout: {e}"),
        )),
        _ => Ok(()),
    }
}

/// The daemon's JSON, pretty-printed.
fn emit_json(v: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    emit(&format!("{text}\n"))
}

fn read_spec(file: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(file).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "file not found".to_string()
        } else {
            e.to_string()
        };
        CliError::new(exit::NO_INPUT, format!("{}: {what}", file.display()))
    })?;
    String::from_utf8(bytes)
        .map_err(|_| CliError::new(exit::DATA, format!("{}: not UTF-8 text", file.display())))
}

async fn apply(c: &Client, file: &Path, json: bool) -> Result<u8, CliError> {
    let text = read_spec(file)?;
    let answer = c
        .call(
            Method::POST,
            &["api", "v1", "pipelines"],
            &[],
            Payload::Toml(text),
        )
        .await;
    let stored = answer.map_err(|f| match f {
        Failure::Refused { status, fields, .. } if status.as_u16() == 422 && !fields.is_empty() => {
            let mut m = format!("{}: the daemon refused the pipeline spec:", file.display());
            for (field, message) in fields {
                m.push_str(&format!("\n  {field}: {message}"));
            }
            CliError::new(exit::CONFIG, m)
        }
        f => f.into_cli(exit::CONFIG),
    })?;
    if json {
        emit_json(&stored)?;
    } else {
        let version = stored["version"].as_i64().unwrap_or(0);
        let name = stored["name"].as_str().unwrap_or("?");
        let what = if version == 1 { "created" } else { "updated" };
        emit(&format!("pipeline `{name}` {what}: version {version}\n"))?;
    }
    Ok(exit::PASS)
}

async fn start(c: &Client, args: RunArgs, json: bool) -> Result<u8, CliError> {
    let mut body = json!({
        "baseline": { "scope": args.baseline },
        "canary": { "scope": args.canary },
    });
    if let Some(by) = args.by {
        body["by"] = Value::String(by);
    }
    if let Some(at) = args.at {
        body["not_before"] = at;
    }
    let exec = c
        .post(&["api", "v1", "pipelines", &args.name, "executions"], body)
        .await
        .map_err(|f| f.into_cli(exit::USAGE))?;
    let id = exec["id"]
        .as_str()
        .ok_or_else(|| CliError::new(exit::UNAVAILABLE, "the daemon's answer has no `id`"))?
        .to_string();
    // --wait --json prints only the final execution.
    match (args.wait, json) {
        (false, true) => emit_json(&exec)?,
        (_, false) => emit(&format!("{id}\n"))?,
        (true, true) => {}
    }
    if !args.wait {
        return Ok(exit::PASS);
    }
    follow(c, &id, json).await
}

/// Print each new event until the execution ends; its outcome is the exit code.
async fn follow(c: &Client, id: &str, json: bool) -> Result<u8, CliError> {
    let mut seen = 0;
    loop {
        // The execution first: events written with a final status are then in the log.
        let exec = c
            .get(&["api", "v1", "executions", id], &[])
            .await
            .map_err(|f| f.into_cli(exit::USAGE))?;
        let events = c
            .get(&["api", "v1", "executions", id, "events"], &[])
            .await
            .map_err(|f| f.into_cli(exit::USAGE))?;
        for e in events["items"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let seq = e["seq"].as_i64().unwrap_or(0);
            if seq > seen {
                seen = seq;
                if json {
                    eprintln!("{}", show::event_line(e));
                } else {
                    emit(&format!("{}\n", show::event_line(e)))?;
                }
            }
        }
        let status = exec["status"].as_str().unwrap_or("");
        let code = match status {
            "running" | "paused" => {
                tokio::time::sleep(POLL).await;
                continue;
            }
            "succeeded" => exit::PASS,
            "rolled_back" => exit::FAIL,
            "failed" => exit::EXECUTION_FAILED,
            other => {
                return Err(CliError::new(
                    exit::INTERNAL,
                    format!("execution {id} has a status this client does not know: `{other}`"),
                ));
            }
        };
        if json {
            emit_json(&exec)?;
        } else {
            let reason = exec["state"]["reason"]
                .as_str()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            emit(&format!("execution {id} {status}{reason}\n"))?;
        }
        return Ok(code);
    }
}

/// The pipeline version an execution runs, to name its targets and stages; `None` when it
/// cannot be read (deleted, or a spec this client cannot parse).
async fn spec_of(c: &Client, exec: &Value) -> Option<Pipeline> {
    let name = exec["pipeline"].as_str()?;
    let version = exec["version"].as_i64()?.to_string();
    let answer = c
        .get(&["api", "v1", "pipelines", name], &[("version", &version)])
        .await
        .ok()?;
    Pipeline::parse(answer["spec"].as_str()?, name).ok()
}

async fn status(c: &Client, id: &str, json: bool, verbose: bool) -> Result<u8, CliError> {
    let mut exec = c
        .get(&["api", "v1", "executions", id], &[])
        .await
        .map_err(|f| f.into_cli(exit::USAGE))?;
    let events = c
        .get(&["api", "v1", "executions", id, "events"], &[])
        .await
        .map_err(|f| f.into_cli(exit::USAGE))?;
    if json {
        exec["events"] = events["items"].clone();
        emit_json(&exec)?;
    } else {
        let spec = spec_of(c, &exec).await;
        emit(&show::execution(&exec, &events, spec.as_ref(), verbose))?;
    }
    Ok(exit::PASS)
}

async fn list(c: &Client, pipeline: Option<String>, json: bool) -> Result<u8, CliError> {
    let query: Vec<(&str, &str)> = pipeline.iter().map(|p| ("pipeline", p.as_str())).collect();
    let list = c
        .get(&["api", "v1", "executions"], &query)
        .await
        .map_err(|f| f.into_cli(exit::USAGE))?;
    if json {
        emit_json(&list)?;
    } else {
        emit(&show::execution_list(&list))?;
    }
    Ok(exit::PASS)
}

async fn judge(
    c: &Client,
    a: JudgeArgs,
    decision: &str,
    verb: &str,
    json: bool,
) -> Result<u8, CliError> {
    let body = json!({ "decision": decision, "by": a.by, "comment": a.comment });
    decide(c, &a.id, "judgment", body, verb, json).await
}

/// An operator's decision: POST `/api/v1/executions/{id}/{what}`.
async fn decide(
    c: &Client,
    id: &str,
    what: &str,
    body: Value,
    verb: &str,
    json: bool,
) -> Result<u8, CliError> {
    let exec = c
        .post(&["api", "v1", "executions", id, what], body)
        .await
        .map_err(|f| f.into_cli(exit::USAGE))?;
    if json {
        emit_json(&exec)?;
    } else if exec.get("queued").is_some() {
        // 202: the execution is mid-step (a router retrying); the action waits its turn.
        emit(&format!(
            "{what} queued: execution {id} is in the middle of a step; it applies when \
             the step ends (`canaryd pipeline status {id}` shows it)\n"
        ))?;
    } else {
        emit(&format!(
            "{verb}: execution {id} is {}, {}\n",
            exec["status"].as_str().unwrap_or("?"),
            show::phase(&exec["state"]["phase"])
        ))?;
    }
    Ok(exit::PASS)
}
