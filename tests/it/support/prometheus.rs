//! A real Prometheus server for integration tests.
//!
//! [`Prometheus::start`] runs the installed `prometheus` binary on a free loopback port with a
//! generated `prometheus.yml` (one scrape job per job name), its storage and its log in a
//! temporary directory, and waits until `/-/ready` answers 200. [`Prometheus::stop`] and
//! [`Prometheus::restart`] keep the port and the storage, for "Prometheus went away
//! mid-analysis" tests. [`backfill`] turns OpenMetrics text into TSDB blocks with `promtool`,
//! for [`Prometheus::start_with_storage`].
//!
//! Timing: Prometheus 2.42 applies scrape targets on a 5 s tick, so the first scrape comes
//! up to ~5 s after start (and after each restart); wait with [`Prometheus::wait_for_samples`]
//! rather than sleeping.
//!
//! The binary comes from `CANARYD_PROMETHEUS_BIN` or `PATH` (`promtool` from
//! `CANARYD_PROMTOOL_BIN`, next to `prometheus`, or `PATH`). A missing binary fails the test
//! with install instructions, unless `CANARYD_SKIP_SERVICE_TESTS=1`: then
//! [`require_prometheus!`] makes the test return early, saying "skipped: …" on stderr.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Overrides where the `prometheus` binary is.
pub const BIN_ENV: &str = "CANARYD_PROMETHEUS_BIN";
/// Overrides where the `promtool` binary is.
pub const PROMTOOL_ENV: &str = "CANARYD_PROMTOOL_BIN";
/// `1` lets tests that need an external service skip when it is not installed.
pub const SKIP_ENV: &str = "CANARYD_SKIP_SERVICE_TESTS";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const LOG_TAIL_LINES: usize = 40;

/// Return early from a test (printing "skipped: …") when Prometheus is not installed and
/// `CANARYD_SKIP_SERVICE_TESTS=1`; panics with install instructions when it is not installed
/// otherwise.
macro_rules! require_prometheus {
    () => {
        if !$crate::support::prometheus::Prometheus::available() {
            eprintln!(
                "skipped: prometheus/promtool not installed and {}=1",
                $crate::support::prometheus::SKIP_ENV
            );
            return;
        }
    };
}
pub(crate) use require_prometheus;

/// A running (or stopped) Prometheus server; dropping it kills the process.
pub struct Prometheus {
    bin: PathBuf,
    /// Holds `prometheus.yml`, `prometheus.log` and, unless given, the storage.
    dir: tempfile::TempDir,
    storage: PathBuf,
    port: u16,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Prometheus {
    /// Whether `prometheus` and `promtool` are installed. When they are not, this is `false`
    /// if `CANARYD_SKIP_SERVICE_TESTS=1` and a panic saying how to install them otherwise.
    pub fn available() -> bool {
        match (prometheus_bin(), promtool_bin()) {
            (Some(_), Some(_)) => true,
            _ if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") => false,
            _ => panic!("{}", missing_message()),
        }
    }

    /// Start Prometheus scraping each `(job, address)` every `scrape_interval_s` seconds,
    /// with fresh storage, and wait until it is ready.
    pub async fn start(targets: &[(&str, SocketAddr)], scrape_interval_s: u32) -> Prometheus {
        Self::launch(None, targets, scrape_interval_s).await
    }

    /// Like [`Prometheus::start`], on existing (e.g. [`backfill`]ed) storage that is kept
    /// afterwards. Retention is 100 years so old blocks stay queryable.
    pub async fn start_with_storage(
        storage: &Path,
        targets: &[(&str, SocketAddr)],
        scrape_interval_s: u32,
    ) -> Prometheus {
        Self::launch(Some(storage), targets, scrape_interval_s).await
    }

    async fn launch(
        storage: Option<&Path>,
        targets: &[(&str, SocketAddr)],
        scrape_interval_s: u32,
    ) -> Prometheus {
        let bin = prometheus_bin().unwrap_or_else(|| panic!("{}", missing_message()));
        let dir = tempfile::tempdir().expect("create a tempdir for Prometheus");
        let storage = storage.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
        fs::write(
            dir.path().join("prometheus.yml"),
            config_yaml(targets, scrape_interval_s),
        )
        .expect("write prometheus.yml");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("build an HTTP client");
        let mut prom = Prometheus {
            bin,
            dir,
            storage,
            port: free_port(),
            child: None,
            http,
        };
        prom.spawn_and_wait().await;
        prom
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The TSDB directory.
    pub fn storage(&self) -> &Path {
        &self.storage
    }

    /// The last `lines` lines of the server log (all runs of this instance).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stop the server (SIGTERM, then SIGKILL after 10 s), keeping port and storage.
    /// Does nothing when it is already stopped.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let termed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while termed && Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Start again on the same port, configuration and storage, and wait until ready.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait().await;
    }

    /// The `data.result` of an instant query; panics on any failure.
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        self.try_query("query", &[("query", promql)])
            .await
            .unwrap_or_else(|e| panic!("query {promql:?}: {e}"))
    }

    /// The `data.result` of a range query over `[start, end]` (Unix seconds) every `step_s`;
    /// panics on any failure.
    pub async fn query_range(&self, promql: &str, start: f64, end: f64, step_s: f64) -> Vec<Value> {
        let (start, end, step) = (start.to_string(), end.to_string(), step_s.to_string());
        let params = [
            ("query", promql),
            ("start", &start),
            ("end", &end),
            ("step", &step),
        ];
        self.try_query("query_range", &params)
            .await
            .unwrap_or_else(|e| panic!("query_range {promql:?}: {e}"))
    }

    /// Poll the instant query `promql` until it returns at least `min_series` series, and
    /// return them; panics (with the last answer and the log tail) after `timeout`.
    pub async fn wait_for_samples(
        &self,
        promql: &str,
        min_series: usize,
        timeout: Duration,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.try_query("query", &[("query", promql)]).await {
                Ok(r) if r.len() >= min_series => return r,
                Ok(r) => format!("{} series: {}", r.len(), Value::Array(r)),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "{promql:?} did not reach {min_series} series within {timeout:?}; last: {last}\n\
                     --- prometheus log tail ---\n{}",
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn try_query(
        &self,
        endpoint: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<Value>, String> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/{endpoint}", self.url()))
            .map_err(|e| e.to_string())?;
        url.query_pairs_mut().extend_pairs(params);
        let resp = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() || body["status"] != "success" {
            return Err(format!("HTTP {status}: {body}"));
        }
        match body["data"]["result"].as_array() {
            Some(r) => Ok(r.clone()),
            None => Err(format!("no data.result array: {body}")),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.log")
    }

    async fn spawn_and_wait(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the Prometheus log");
        let child = Command::new(&self.bin)
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", self.storage.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--web.enable-lifecycle")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin.display()));
        self.child = Some(child);

        let ready = format!("{}/-/ready", self.url());
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                panic!(
                    "Prometheus exited before becoming ready ({status})\n\
                     --- prometheus log tail ---\n{}",
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            if let Ok(r) = self.http.get(&ready).send().await
                && r.status().is_success()
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "Prometheus at {} not ready within {READY_TIMEOUT:?}\n\
                     --- prometheus log tail ---\n{}",
                    self.url(),
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Write TSDB blocks from `openmetrics_text` (timestamps in seconds, ending with `# EOF`)
/// into `storage_dir` with `promtool tsdb create-blocks-from openmetrics`. Blocks; start
/// Prometheus on the directory afterwards, as it loads blocks only at start.
pub fn backfill(openmetrics_text: &str, storage_dir: &Path) {
    assert!(
        openmetrics_text.trim_end().ends_with("# EOF"),
        "OpenMetrics text must end with `# EOF`"
    );
    let tool = promtool_bin().unwrap_or_else(|| panic!("{}", missing_message()));
    let input = tempfile::NamedTempFile::new().expect("create a tempfile for OpenMetrics");
    fs::write(input.path(), openmetrics_text).expect("write the OpenMetrics file");
    let out = Command::new(&tool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(input.path())
        .arg(storage_dir)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", tool.display()));
    assert!(
        out.status.success(),
        "promtool create-blocks-from failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The generated configuration: one scrape job per distinct job name, in order.
fn config_yaml(targets: &[(&str, SocketAddr)], interval_s: u32) -> String {
    let mut jobs: Vec<(&str, Vec<SocketAddr>)> = Vec::new();
    for &(job, addr) in targets {
        match jobs.iter_mut().find(|(j, _)| *j == job) {
            Some((_, addrs)) => addrs.push(addr),
            None => jobs.push((job, vec![addr])),
        }
    }
    let mut yaml = format!(
        "global:\n  scrape_interval: {interval_s}s\n  scrape_timeout: {interval_s}s\n  \
         evaluation_interval: {interval_s}s\nscrape_configs:\n"
    );
    if jobs.is_empty() {
        yaml = yaml.replace("scrape_configs:\n", "scrape_configs: []\n");
    }
    for (job, addrs) in jobs {
        let addrs: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = write!(
            yaml,
            "  - job_name: {}\n    static_configs:\n      - targets: [{}]\n",
            Value::from(job),
            addrs.join(", ")
        );
    }
    yaml
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

fn prometheus_bin() -> Option<PathBuf> {
    match std::env::var_os(BIN_ENV) {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => on_path("prometheus"),
    }
}

fn promtool_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(PROMTOOL_ENV) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    prometheus_bin()
        .map(|p| p.with_file_name("promtool"))
        .filter(|p| p.is_file())
        .or_else(|| on_path("promtool"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn missing_message() -> String {
    format!(
        "Prometheus tests need `prometheus` and `promtool`: install them (Debian/Ubuntu: \
         `apt-get install -y prometheus`) or point {BIN_ENV} / {PROMTOOL_ENV} at the files; \
         set {SKIP_ENV}=1 to skip these tests instead"
    )
}
