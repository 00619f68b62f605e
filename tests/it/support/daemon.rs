//! The real `canaryd serve` binary for integration tests: started on a free loopback port
//! with its own data directory and daemon config, killed with SIGKILL and restarted on the
//! same port and store, and driven over HTTP.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Daemon {
    child: Option<Child>,
    pub url: String,
    dir: PathBuf,
    config: PathBuf,
    http: reqwest::Client,
    token: Option<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Daemon {
    /// Start `canaryd serve` with data under `dir`, reading Prometheus at `prometheus`, plus
    /// `extra` TOML appended to the generated daemon config. Pipelines may run `sh`, `true`
    /// and `false` (the tests' routers and smoke tests) unless `extra` has its own `[commands]`.
    pub async fn start(dir: &Path, prometheus: &str, extra: &str) -> Daemon {
        std::fs::create_dir_all(dir).expect("daemon dir");
        let port = free_port();
        let config = dir.join("canaryd.toml");
        let commands = if extra.contains("[commands]") {
            ""
        } else {
            "[commands]\nallow = [\"sh\", \"true\", \"false\"]\n"
        };
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n\n[prometheus]\nurl = \"{prometheus}\"\nretries = 1\nbackoff_ms = 50\ntimeout_s = 5\n\n[live]\noutage_retry_s = 0.5\noutage_grace_s = 30\n\n{commands}\n{extra}\n",
            dir.join("data").display()
        );
        std::fs::write(&config, text).expect("daemon config");
        let mut d = Daemon {
            child: None,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            config,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("http client"),
            token: None,
        };
        d.launch().await;
        d
    }

    async fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("canaryd.log"))
            .expect("daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_canaryd"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info,canaryd=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("canaryd serve starts");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("canaryd serve exited with {status}:\n{}", self.log_tail());
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "canaryd serve not ready after 15 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The daemon's log (stderr), last lines.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("canaryd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Send this bearer token from now on.
    pub fn with_token(&mut self, token: Option<&str>) {
        self.token = token.map(str::to_string);
    }

    /// The daemon's resident memory, KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// SIGKILL: no shutdown, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port and store.
    pub async fn restart(&mut self) {
        self.kill9();
        self.launch().await;
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = r.send().await.expect("request reaches the daemon");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        Self::answer(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let resp = self
            .req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request reaches the daemon");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        Self::answer(self.req(reqwest::Method::POST, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        Self::answer(self.req(reqwest::Method::DELETE, path)).await
    }

    pub async fn put_text(&self, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        Self::answer(
            self.req(reqwest::Method::PUT, path)
                .header("content-type", content_type)
                .body(body.to_string()),
        )
        .await
    }

    pub async fn post_text(&self, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        Self::answer(
            self.req(reqwest::Method::POST, path)
                .header("content-type", content_type)
                .body(body.to_string()),
        )
        .await
    }

    /// Poll an analysis until it is no longer running (or `timeout`), returning it.
    pub async fn wait_final(&self, id: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(&format!("/api/v1/analyses/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if body["status"] != "running" {
                return body;
            }
            assert!(
                started.elapsed() < timeout,
                "analysis {id} still running after {timeout:?}: {body}\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}
