//! `canaryd serve` as the pipeline benchmark runs it: on a data directory it keeps across
//! restarts (kill -9), and a sampler of its memory.

use super::*;

/// `canaryd serve --listen 127.0.0.1:0` on a data directory; killed on drop.
pub(super) struct Daemon {
    pub(super) child: Option<Child>,
    pub(super) dir: PathBuf,
    pub(super) prometheus: String,
    pub(super) url: String,
    pub(super) http: reqwest::Client,
}

impl Daemon {
    pub(super) async fn start(dir: &Path, prometheus: &str) -> Daemon {
        let mut d = Daemon {
            child: None,
            dir: dir.to_path_buf(),
            prometheus: prometheus.to_string(),
            url: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        };
        d.launch().await;
        d
    }

    pub(super) fn log_path(&self) -> PathBuf {
        self.dir.join("canaryd.log")
    }

    /// Spawn on the data directory, learn the port from the log, wait until `/readyz`
    /// answers 200; the time that took.
    pub(super) async fn launch(&mut self) -> Duration {
        let log_path = self.log_path();
        let offset = std::fs::metadata(&log_path).map_or(0, |m| m.len());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("the daemon log");
        let spawned = Instant::now();
        let child = Command::new(daemon_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--prometheus", &self.prometheus])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", daemon_bin().display()));
        self.child = Some(child);
        loop {
            if let Some(addr) = listening_addr(&log_path, offset) {
                self.url = format!("http://{addr}");
                if let Ok(r) = self.http.get(format!("{}/readyz", self.url)).send().await
                    && r.status().is_success()
                {
                    return spawned.elapsed();
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("canaryd exited with {status}:\n{}", self.log_tail());
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(60),
                "not ready in 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGKILL: no shutdown, no cleanup.
    pub(super) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub(super) fn mem(&self) -> Mem {
        mem(self.pid()).unwrap_or_default()
    }

    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub(super) async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.http.get(format!("{}{path}", self.url))).await
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
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `addr=…` of the first `canaryd listening` line after byte `offset` of the log.
pub(super) fn listening_addr(log: &Path, offset: u64) -> Option<String> {
    let mut f = std::fs::File::open(log).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut text = String::new();
    f.read_to_string(&mut text).ok()?;
    let line = text.lines().find(|l| l.contains("canaryd listening"))?;
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))?;
    Some(addr.to_string())
}

/// Samples `VmRSS` of the process `pid` names (it may change: a restart) every 100 ms.
pub(super) struct Sampler {
    pub(super) stop: Arc<AtomicBool>,
    pub(super) task: tokio::task::JoinHandle<Vec<(f64, u64)>>,
}

impl Sampler {
    pub(super) fn start(pid: Arc<AtomicU32>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !halt.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Some(m) = mem(pid.load(Ordering::Relaxed)) {
                    out.push((now_s(), m.rss_kib));
                }
            }
            out
        });
        Sampler { stop, task }
    }

    /// `(unix seconds, RSS KiB)` of every sample.
    pub(super) async fn stop(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the sampler task")
    }
}
