//! A real HAProxy for integration tests.
//!
//! [`Haproxy::start`] runs the installed `haproxy` in the foreground (`-db`) with a generated
//! configuration in a temporary directory: a frontend on a free loopback port, one backend
//! [`BACKEND`] (`balance roundrobin`, no health checks: servers are up until put in
//! maintenance) with the given servers and weights, and two admin sockets, a unix one
//! ([`Haproxy::unix_socket`]) and a TCP one ([`Haproxy::tcp_socket`]). It waits until the
//! frontend and both sockets accept connections. Dropping it kills the process.
//!
//! The binary comes from `CANARYD_HAPROXY_BIN`, `PATH` or `/usr/sbin`. A missing binary
//! fails the test with install instructions, unless `CANARYD_SKIP_SERVICE_TESTS=1`: then
//! [`require_haproxy!`] makes the test return early, saying "skipped: …" on stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use super::prometheus::SKIP_ENV;

/// Overrides where the `haproxy` binary is.
pub const BIN_ENV: &str = "CANARYD_HAPROXY_BIN";
/// The backend holding every server.
pub const BACKEND: &str = "app";

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const LOG_TAIL_LINES: usize = 40;

/// Return early from a test (printing "skipped: …") when HAProxy is not installed and
/// `CANARYD_SKIP_SERVICE_TESTS=1`; panics with install instructions when it is not installed
/// otherwise.
macro_rules! require_haproxy {
    () => {
        if !$crate::support::haproxy::Haproxy::available() {
            eprintln!(
                "skipped: haproxy not installed and {}=1",
                $crate::support::haproxy::SKIP_ENV
            );
            return;
        }
    };
}
pub(crate) use require_haproxy;

/// A running HAProxy; dropping it kills the process.
pub struct Haproxy {
    /// Holds `haproxy.cfg`, `haproxy.log` and `admin.sock`.
    dir: tempfile::TempDir,
    frontend_port: u16,
    stats_port: u16,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Haproxy {
    /// Whether `haproxy` is installed. When it is not, this is `false` if
    /// `CANARYD_SKIP_SERVICE_TESTS=1` and a panic saying how to install it otherwise.
    pub fn available() -> bool {
        match haproxy_bin() {
            Some(_) => true,
            None if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") => false,
            None => panic!("{}", missing_message()),
        }
    }

    /// Backend [`BACKEND`] with server `baseline` → `baseline` (weight 256) and `canary` →
    /// `canary` (weight 0): all traffic on the baseline.
    pub async fn start_pair(baseline: SocketAddr, canary: SocketAddr) -> Haproxy {
        Self::start(&[("baseline", baseline, 256), ("canary", canary, 0)]).await
    }

    /// Backend [`BACKEND`] with the servers `(name, address, weight)`, and wait until ready.
    pub async fn start(servers: &[(&str, SocketAddr, u32)]) -> Haproxy {
        let bin = haproxy_bin().unwrap_or_else(|| panic!("{}", missing_message()));
        let dir = tempfile::tempdir().expect("create a tempdir for HAProxy");
        let (frontend_port, stats_port) = (free_port(), free_port());
        let cfg = dir.path().join("haproxy.cfg");
        let sock = dir.path().join("admin.sock");
        fs::write(&cfg, config(servers, frontend_port, stats_port, &sock))
            .expect("write haproxy.cfg");
        let log = fs::File::create(dir.path().join("haproxy.log")).expect("create the HAProxy log");
        let child = Command::new(&bin)
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("build an HTTP client");
        let mut h = Haproxy {
            dir,
            frontend_port,
            stats_port,
            child: Some(child),
            http,
        };
        h.wait_ready().await;
        h
    }

    /// `http://127.0.0.1:PORT` of the frontend.
    pub fn frontend_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.frontend_port)
    }

    /// The unix admin socket, as a router's `socket`: `unix:/tmp/…/admin.sock`.
    pub fn unix_socket(&self) -> String {
        format!("unix:{}", self.socket_path().display())
    }

    /// The TCP admin socket, as a router's `socket`: `tcp:127.0.0.1:PORT`.
    pub fn tcp_socket(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.stats_port)
    }

    /// The last `lines` lines of HAProxy's output.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Send `requests` GETs through the frontend, one after the other, and count the answers
    /// by body (`"yellow"`, …; other statuses as `"HTTP 503"`).
    pub async fn tally(&self, requests: usize) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        let url = self.frontend_url();
        for _ in 0..requests {
            let resp = self.http.get(&url).send().await.unwrap_or_else(|e| {
                panic!(
                    "GET {url}: {e}\n--- haproxy log tail ---\n{}",
                    self.log_tail(LOG_TAIL_LINES)
                )
            });
            let key = if resp.status().is_success() {
                resp.text().await.expect("read the body").trim().to_string()
            } else {
                format!("HTTP {}", resp.status().as_u16())
            };
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }

    fn socket_path(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                panic!(
                    "HAProxy exited before becoming ready ({status})\n\
                     --- haproxy log tail ---\n{}",
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            let up = |port| tokio::net::TcpStream::connect(("127.0.0.1", port));
            if up(self.frontend_port).await.is_ok()
                && up(self.stats_port).await.is_ok()
                && tokio::net::UnixStream::connect(self.socket_path())
                    .await
                    .is_ok()
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "HAProxy not ready within {READY_TIMEOUT:?}\n--- haproxy log tail ---\n{}",
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn config(
    servers: &[(&str, SocketAddr, u32)],
    frontend_port: u16,
    stats_port: u16,
    sock: &std::path::Path,
) -> String {
    // HAProxy ignores leading whitespace on every line.
    let sock = sock.display();
    let mut cfg = format!(
        "global
            nbthread 1
            stats socket {sock} level admin
            stats socket ipv4@127.0.0.1:{stats_port} level admin
        defaults
            mode http
            timeout connect 2s
            timeout client 10s
            timeout server 10s
        frontend web
            bind 127.0.0.1:{frontend_port}
            default_backend {BACKEND}
        backend {BACKEND}
            balance roundrobin
"
    );
    for (name, addr, weight) in servers {
        let _ = writeln!(cfg, "    server {name} {addr} weight {weight}");
    }
    cfg
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

fn haproxy_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(BIN_ENV) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file())
}

fn missing_message() -> String {
    format!(
        "HAProxy tests need `haproxy`: install it (Debian/Ubuntu: \
         `apt-get install -y haproxy`) or point {BIN_ENV} at the binary; \
         set {SKIP_ENV}=1 to skip these tests instead"
    )
}
