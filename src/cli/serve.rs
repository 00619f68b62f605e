//! `canaryd serve`: the daemon. HTTP API (own + Kayenta dialect), live analyses against
//! Prometheus, SQLite store; resumes running analyses after a restart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

pub mod daemon;

use self::daemon::{DaemonConfig, LogFormat};
use super::{CliError, exit};
use crate::analysis::live::{Runner, RunnerSettings};
use crate::api::{self, AppState, Limits};
use crate::collectors::Collector;
use crate::collectors::prometheus::PrometheusCollector;
use crate::config::CanaryConfig;
use crate::config::source::Format;
use crate::pipeline::runner::PipelineRunner;
use crate::store::{ConfigRecord, Store};
use crate::telemetry::Telemetry;
use crate::time::now_ms;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Daemon config (TOML, docs/serve.md); flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port.
    #[arg(long)]
    pub listen: Option<String>,
    /// Directory of the SQLite store [default: ./data]; the same as `--store sqlite:DIR`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where state is kept, as a URL: `sqlite:DIR` (overrides `--data-dir` and the
    /// config's `store` and `data_dir`).
    #[arg(long, value_name = "URL")]
    pub store: Option<crate::store::StoreConfig>,
    /// Prometheus base URL [default: http://127.0.0.1:9090].
    #[arg(long)]
    pub prometheus: Option<String>,
    /// Log format [default: text]; the level follows RUST_LOG (default info).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second init (tests running serve in-process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub fn run(args: ServeArgs) -> Result<u8, CliError> {
    let mut config = match &args.config {
        Some(p) => DaemonConfig::load(p).map_err(|e| CliError::new(exit::CONFIG, e))?,
        None => DaemonConfig::default(),
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(d) = args.data_dir {
        config.data_dir = d;
        config.store = None;
    }
    if let Some(s) = args.store {
        config.store = Some(s);
    }
    if let Some(p) = args.prometheus {
        config.prometheus.url = p;
    }
    if let Some(f) = args.log_format {
        config.log_format = f;
    }
    init_tracing(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Store calls and judging run on the blocking pool. The store is one SQLite
        // connection, so more threads only wait on its lock; tokio's default of 512 would
        // let 1,000 executions grow the daemon by hundreds of idle threads.
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .map_err(|e| CliError::new(exit::INTERNAL, format!("cannot start the runtime: {e}")))?;
    runtime.block_on(serve(config, shutdown_signal()))?;
    Ok(exit::PASS)
}

/// Most threads of the daemon's blocking pool.
const BLOCKING_THREADS: usize = 32;

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Store the canary config files named in the daemon config (create or replace by name).
fn preload_configs(store: &dyn Store, files: &[PathBuf]) -> Result<(), CliError> {
    for f in files {
        // Read once: the stored text is the text that was validated.
        let body = std::fs::read_to_string(f)
            .map_err(|e| CliError::new(exit::NO_INPUT, format!("{}: {e}", f.display())))?;
        let format = Format::from_path(f).ok_or_else(|| {
            CliError::new(
                exit::CONFIG,
                format!("{}: use a .toml, .json, .yaml or .yml file", f.display()),
            )
        })?;
        let config = CanaryConfig::parse(&body, format, &f.display().to_string())
            .map_err(|e| CliError::new(exit::CONFIG, e.to_string()))?;
        let existing = store
            .get_config_by_name(&config.name)
            .map_err(|e| CliError::new(exit::INTERNAL, e.to_string()))?;
        let rec = ConfigRecord::written(
            existing.as_ref(),
            &config.name,
            &config.applications,
            format.name(),
            body,
            now_ms(),
        );
        store
            .put_config(&rec)
            .map_err(|e| CliError::new(exit::INTERNAL, e.to_string()))?;
        tracing::info!(config = %rec.name, file = %f.display(), "config loaded");
    }
    Ok(())
}

/// Is the listen address a loopback one (`127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`)?
fn listen_is_loopback(listen: &str) -> bool {
    match listen.parse::<SocketAddr>() {
        Ok(a) => a.ip().is_loopback(),
        Err(_) => listen
            .rsplit_once(':')
            .is_some_and(|(h, _)| h.eq_ignore_ascii_case("localhost")),
    }
}

/// Run the daemon until `shutdown` resolves.
pub async fn serve(
    config: DaemonConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), CliError> {
    let tokens = tokens(&config)?;
    let store_config = config.store_config();
    let store: Arc<dyn Store> = store_config.open().map_err(|e| {
        CliError::new(
            exit::INTERNAL,
            format!("cannot open the store {store_config}: {e}"),
        )
    })?;
    // One daemon per data dir: a second would resume the same executions and double every
    // router step. The lock lives as long as this daemon (the OS drops it if it dies).
    let _data_dir_lock = match store_config.local_dir() {
        Some(dir) => Some(lock_data_dir(dir)?),
        None => None,
    };
    preload_configs(store.as_ref(), &config.configs)?;
    let telemetry = Arc::new(Telemetry::new());
    let collector = PrometheusCollector::new(config.prometheus.clone())
        .map_err(|e| CliError::new(exit::CONFIG, e.to_string()))?
        .with_observer(telemetry.clone());
    let collector: Arc<dyn Collector> = Arc::new(collector);
    let runner = Runner::new(
        store.clone(),
        collector,
        telemetry.clone(),
        RunnerSettings {
            outage_retry_s: config.live.outage_retry_s,
            outage_grace_s: config.live.outage_grace_s,
            ..Default::default()
        },
    );
    let resumed = runner
        .resume_all()
        .await
        .map_err(|e| CliError::new(exit::INTERNAL, e.to_string()))?;
    let pipelines = PipelineRunner::new(
        store.clone(),
        runner.clone(),
        crate::pipeline::runner::RunnerSettings {
            allowed_commands: config.commands.allow.clone(),
            ..Default::default()
        },
    );
    let executions = pipelines
        .resume_all()
        .await
        .map_err(|e| CliError::new(exit::INTERNAL, e.to_string()))?;
    if tokens.is_empty() {
        tracing::warn!(
            listen = %config.listen,
            "no API tokens configured: serving loopback only; every local user and process can use every endpoint"
        );
    }
    let state = app_state(&config, tokens, store, runner, pipelines, telemetry);
    let limits = Limits {
        body_bytes: config.http.body_limit_bytes,
        request_timeout: crate::time::duration(config.http.request_timeout_s),
        max_in_flight: config.http.max_in_flight,
    };
    let app = api::router(state, limits);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| {
            CliError::new(
                exit::USAGE,
                format!("cannot listen on {}: {e}", config.listen),
            )
        })?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| CliError::new(exit::INTERNAL, e.to_string()))?;
    tracing::info!(
        %addr, store = %store_config, prometheus = %config.prometheus.url,
        resumed, executions, "canaryd listening"
    );
    accept_loop(
        listener,
        app,
        crate::time::duration(config.http.header_timeout_s),
        config.http.max_connections.max(1),
        crate::time::duration(config.http.shutdown_timeout_s),
        shutdown,
    )
    .await;
    tracing::info!("stopped; running analyses continue at the next start");
    Ok(())
}

/// The API tokens; without any, canaryd serves only loopback.
fn tokens(config: &DaemonConfig) -> Result<Vec<crate::api::Token>, CliError> {
    let tokens = config
        .resolve_tokens()
        .map_err(|e| CliError::new(exit::CONFIG, e))?;
    if tokens.is_empty() && !listen_is_loopback(&config.listen) {
        return Err(CliError::new(
            exit::CONFIG,
            format!(
                "no API tokens are configured, so canaryd serves only loopback: listen on \
                 127.0.0.1 or [::1] instead of `{}`, or configure [[tokens]] (docs/security.md)",
                config.listen
            ),
        ));
    }
    Ok(tokens)
}

/// What every request handler shares: the store, the runners, the tokens and the limits
/// of `config`, and a fresh secret for the UI's sessions.
fn app_state(
    config: &DaemonConfig,
    tokens: Vec<crate::api::Token>,
    store: Arc<dyn Store>,
    runner: Arc<Runner>,
    pipelines: Arc<PipelineRunner>,
    telemetry: Arc<Telemetry>,
) -> AppState {
    AppState {
        store,
        runner,
        pipelines,
        telemetry,
        tokens: Arc::new(tokens),
        kayenta_scoring: config.kayenta.scoring,
        allowed_origins: Arc::new(config.http.allowed_origins.clone()),
        sessions: Arc::new(crate::api::ui::Sessions::default()),
        secure_cookies: config.http.secure_cookies,
        limits: api::RequestLimits {
            max_metrics_per_config: config.limits.max_metrics_per_config,
            max_queries_per_read: config.limits.max_queries_per_read,
            max_concurrent_judge: config.limits.max_concurrent_judge,
        },
        judge_slots: Arc::new(tokio::sync::Semaphore::new(
            config.limits.max_concurrent_judge.max(1),
        )),
        ready_probe: Arc::default(),
        ui_secret: Arc::new(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )),
    }
}

/// Serve HTTP/1.1 on `listener` until `shutdown`: each connection must send its headers
/// within `header_timeout` (or is closed), at most `max_connections` are open at once
/// (more are closed at once), and at shutdown the open ones finish their requests for at
/// most `grace`.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
    max_connections: usize,
    grace: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    // The smallest read buffer hyper allows: headers beyond 8 KiB are refused anyway, and
    // every open connection holds one.
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(8192)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(
                max_connections,
                "too many open connections; closing a new one"
            );
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} s; closing",
            grace.as_secs_f64()
        );
    }
}

/// Hold `DIR/canaryd.lock` exclusively, or say which daemon does.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, CliError> {
    let path = dir.join("canaryd.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| {
            CliError::new(
                exit::CANT_CREATE,
                format!("cannot open {}: {e}", path.display()),
            )
        })?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::Write as _;
            let mut f = &file;
            let _ = f.set_len(0);
            let _ = writeln!(f, "{}", std::process::id());
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            Err(CliError::new(
                exit::REFUSED,
                format!(
                    "another canaryd serve (pid {}) uses the data dir {}: two daemons on one store would both drive the same executions; stop it or give this one another --data-dir",
                    holder.trim(),
                    dir.display()
                ),
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(CliError::new(
            exit::CANT_CREATE,
            format!("cannot lock {}: {e}", path.display()),
        )),
    }
}
