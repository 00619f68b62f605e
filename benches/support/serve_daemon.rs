//! `canaryd serve` as the serve benchmark runs it: a fresh data directory on a free port,
//! killed on drop, and the daemon's own telemetry.

use super::*;

pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `canaryd serve` on a free port with a fresh data directory; killed on drop.
pub(super) struct Daemon {
    pub(super) child: Child,
    pub(super) spawned: Instant,
    pub(super) addr: SocketAddr,
    pub(super) url: String,
    pub(super) dir: tempfile::TempDir,
    pub(super) http: reqwest::Client,
}

impl Daemon {
    /// Spawn without waiting.
    pub(super) fn spawn(prometheus: &str) -> Daemon {
        Daemon::spawn_with(prometheus, "")
    }

    /// Spawn without waiting, `extra` TOML appended to the daemon config.
    pub(super) fn spawn_with(prometheus: &str, extra: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("a daemon dir");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let config = dir.path().join("canaryd.toml");
        let text = format!(
            "listen = \"{addr}\"\ndata_dir = \"{}\"\n\n[prometheus]\nurl = \"{prometheus}\"\n\n\
             [live]\noutage_retry_s = 1\noutage_grace_s = 30\n\n{extra}\n",
            dir.path().join("data").display()
        );
        std::fs::write(&config, text).expect("write the daemon config");
        let log = std::fs::File::create(dir.path().join("canaryd.log")).expect("daemon log");
        let spawned = Instant::now();
        let child = Command::new(daemon_bin())
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", daemon_bin().display()));
        Daemon {
            child,
            spawned,
            addr,
            url: format!("http://{addr}"),
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Spawn and wait until ready.
    pub(super) async fn start(prometheus: &str) -> Daemon {
        Daemon::start_with(prometheus, "").await
    }

    /// Spawn with `extra` daemon config and wait until ready.
    pub(super) async fn start_with(prometheus: &str, extra: &str) -> Daemon {
        let mut d = Daemon::spawn_with(prometheus, extra);
        tokio::task::block_in_place(|| poll_ready(&mut d, Duration::from_millis(20)));
        d
    }

    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("canaryd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub(super) fn mem(&self) -> Mem {
        mem(self.child.id()).expect("the daemon runs")
    }

    pub(super) async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.http.get(format!("{}{path}", self.url))).await
    }

    pub(super) async fn get_bytes(&self, path: &str) -> usize {
        let r = self.http.get(format!("{}{path}", self.url)).send().await;
        r.expect("the daemon answers")
            .bytes()
            .await
            .expect("a body")
            .len()
    }

    /// Latencies (ms, sorted) of `n` GETs of `path`, one after the other.
    pub(super) async fn serial_gets(&self, path: &str, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            self.get_bytes(path).await;
            out.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        out.sort_by(f64::total_cmp);
        out
    }

    pub(super) async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        answer(self.http.post(format!("{}{path}", self.url)).json(body)).await
    }

    pub(super) async fn post_toml(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/toml")
            .body(body.to_string());
        answer(r).await
    }

    /// Poll an analysis every `every` until it is no longer running.
    pub(super) async fn wait_final(&self, id: &str, every: Duration, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let (s, b) = self.get(&format!("/api/v1/analyses/{id}")).await;
            assert_eq!(s, 200, "{b}");
            if b["status"] != "running" {
                return b;
            }
            assert!(
                started.elapsed() < timeout,
                "{id} still running after {timeout:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(every).await;
        }
    }

    /// Wait until every analysis has judged at least `n` intervals.
    pub(super) async fn wait_judged(&self, ids: &[String], n: u64, timeout: Duration) {
        let started = Instant::now();
        loop {
            let mut behind = 0;
            for id in ids {
                let (_, b) = self.get(&format!("/api/v1/analyses/{id}")).await;
                let judged = b["intervals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|i| i["outcome"] == "judged")
                    .count() as u64;
                if judged < n {
                    behind += 1;
                }
            }
            if behind == 0 {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "{behind} analyses have judged fewer than {n} intervals after {timeout:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Judge and query totals from `/metrics`.
    pub(super) async fn telemetry(&self) -> Telemetry {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("/metrics answers")
            .text()
            .await
            .expect("/metrics text");
        let value = |prefix: &str| {
            text.lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .filter_map(|rest| rest.trim().split(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
        };
        Telemetry {
            judge_sum: value("canaryd_judge_duration_seconds_sum"),
            query_sum: value("canaryd_query_duration_seconds_sum{outcome=\"ok\"}"),
            query_count: value("canaryd_query_duration_seconds_count{outcome=\"ok\"}"),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) struct Telemetry {
    pub(super) judge_sum: f64,
    pub(super) query_sum: f64,
    pub(super) query_count: f64,
}
