//! A real headless Chromium for tests of the web UI, driven over the W3C WebDriver protocol.
//!
//! [`Browser::start`] runs the installed `chromedriver` on a free loopback port (in its own
//! process group, its log in a temporary directory), waits until it reports ready, and opens a
//! session: headless Chromium with a fresh profile and the flags that keep it off the network
//! (no background networking, component updates, sync or QUIC). Dropping it ends the session
//! and kills chromedriver's process group, so no browser outlives its test.
//!
//! The protocol is spoken with the `reqwest` client the tests already use, plain HTTP to
//! 127.0.0.1 — a handful of JSON commands. Helpers look pages up by CSS selector and poll
//! ([`Browser::until`], [`Browser::wait_for`], [`Browser::wait_for_text`]) instead of
//! sleeping; a poll that times out saves a screenshot and panics with the page's text.
//! [`Browser::screenshot`] saves a full-page PNG under `target/test-artifacts/browser/`.
//!
//! The binaries come from `CANARYD_CHROMEDRIVER_BIN` / `CANARYD_CHROMIUM_BIN`, `PATH` or
//! `/usr/bin`. A missing binary fails the test with install instructions, unless
//! `CANARYD_SKIP_SERVICE_TESTS=1`: then [`require_browser!`] makes the test return early,
//! saying "skipped: …" on stderr.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

pub use super::prometheus::SKIP_ENV;

/// Overrides where the `chromedriver` binary is.
pub const DRIVER_ENV: &str = "CANARYD_CHROMEDRIVER_BIN";
/// Overrides where the `chromium` binary is.
pub const CHROMIUM_ENV: &str = "CANARYD_CHROMIUM_BIN";

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);
/// The most page text quoted when a wait fails.
const PAGE_TEXT_CHARS: usize = 3000;

/// Return early from a test (printing "skipped: …") when chromedriver or Chromium is not
/// installed and `CANARYD_SKIP_SERVICE_TESTS=1`; panics with install instructions when they are
/// not installed otherwise.
macro_rules! require_browser {
    () => {
        if !$crate::support::browser::Browser::available() {
            eprintln!(
                "skipped: chromium/chromedriver not installed and {}=1",
                $crate::support::browser::SKIP_ENV
            );
            return;
        }
    };
}
pub(crate) use require_browser;

/// A WebDriver answer other than success: the protocol's error code and message.
#[derive(Debug)]
pub struct WebDriverError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.error, self.message)
    }
}

/// The session's endpoint: `http://127.0.0.1:PORT/session/ID`.
#[derive(Clone)]
struct Wire {
    http: reqwest::Client,
    session: String,
}

impl Wire {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let url = format!("{}{path}", self.session);
        let mut req = self.http.request(method.clone(), &url);
        if method == reqwest::Method::POST {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let resp = req.send().await.map_err(|e| WebDriverError {
            status: 0,
            error: "transport".into(),
            message: format!("{method} {url}: {e}"),
        })?;
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(answer["value"].clone())
        } else {
            Err(WebDriverError {
                status,
                error: answer["value"]["error"].as_str().unwrap_or("").to_string(),
                message: answer["value"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            })
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Elements matching `css` under `scope` (`""` for the document, `/element/ID` otherwise).
    async fn find_all(&self, scope: &str, css: &str) -> Result<Vec<Element>, WebDriverError> {
        let found = self
            .post(
                &format!("{scope}/elements"),
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        let refs = found.as_array().cloned().unwrap_or_default();
        Ok(refs
            .iter()
            .filter_map(|e| e[ELEMENT].as_str())
            .map(|id| Element {
                wire: self.clone(),
                id: id.to_string(),
                css: css.to_string(),
            })
            .collect())
    }
}

/// An element of the current page. It goes stale when the page changes: look it up again
/// after a navigation or a reload.
pub struct Element {
    wire: Wire,
    id: String,
    css: String,
}

impl Element {
    fn path(&self, what: &str) -> String {
        format!("/element/{}/{what}", self.id)
    }

    fn expect<T>(&self, what: &str, r: Result<T, WebDriverError>) -> T {
        r.unwrap_or_else(|e| panic!("{what} `{}`: {e}", self.css))
    }

    /// Click it (and, for a submit button, send its form).
    pub async fn click(&self) {
        let r = self.wire.post(&self.path("click"), json!({})).await;
        self.expect("click", r);
    }

    /// Type `text` into it, after what it holds.
    pub async fn type_text(&self, text: &str) {
        let r = self
            .wire
            .post(&self.path("value"), json!({"text": text}))
            .await;
        self.expect("type into", r);
    }

    /// Empty an input.
    pub async fn clear(&self) {
        let r = self.wire.post(&self.path("clear"), json!({})).await;
        self.expect("clear", r);
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        self.try_text()
            .await
            .unwrap_or_else(|e| panic!("text of `{}`: {e}", self.css))
    }

    async fn try_text(&self) -> Result<String, WebDriverError> {
        let v = self.wire.get(&self.path("text")).await?;
        Ok(v.as_str().unwrap_or("").to_string())
    }

    /// An attribute, `None` when it has none.
    pub async fn attr(&self, name: &str) -> Option<String> {
        let r = self
            .wire
            .get(&self.path(&format!("attribute/{name}")))
            .await;
        self.expect("attribute of", r).as_str().map(str::to_string)
    }

    /// A DOM property (`value` of an input, `naturalWidth` of an image, …).
    pub async fn property(&self, name: &str) -> Value {
        let r = self.wire.get(&self.path(&format!("property/{name}"))).await;
        self.expect("property of", r)
    }

    /// Elements under this one matching `css`.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let r = self
            .wire
            .find_all(&format!("/element/{}", self.id), css)
            .await;
        self.expect(&format!("find `{css}` under"), r)
    }
}

/// A headless Chromium session; dropping it closes the browser and stops chromedriver.
pub struct Browser {
    wire: Wire,
    port: u16,
    session_id: String,
    driver: Option<Child>,
    /// Holds the browser profile and chromedriver's log.
    dir: tempfile::TempDir,
}

impl Browser {
    /// Whether chromedriver and Chromium are installed. When they are not, this is `false` if
    /// `CANARYD_SKIP_SERVICE_TESTS=1` and a panic saying how to install them otherwise.
    pub fn available() -> bool {
        match (driver_bin(), chromium_bin()) {
            (Some(_), Some(_)) => true,
            _ if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") => false,
            _ => panic!("{}", missing_message()),
        }
    }

    /// Start chromedriver and open a headless Chromium session.
    pub async fn start() -> Browser {
        let driver = driver_bin().unwrap_or_else(|| panic!("{}", missing_message()));
        let chromium = chromium_bin().unwrap_or_else(|| panic!("{}", missing_message()));
        let dir = tempfile::tempdir().expect("create a tempdir for the browser");
        let port = free_port();
        let log = dir.path().join("chromedriver.log");
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: dropping the browser kills chromedriver and Chromium.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", driver.display()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build an HTTP client");
        let mut browser = Browser {
            wire: Wire {
                http: http.clone(),
                session: String::new(),
            },
            port,
            session_id: String::new(),
            driver: Some(child),
            dir,
        };
        browser.wait_ready().await;

        let profile = browser.dir.path().join("profile");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-crash-reporter",
            "--disable-breakpad",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let resp = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap_or_else(|e| panic!("chromedriver answers a new session: {e}"));
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        let Some(id) = answer["value"]["sessionId"].as_str() else {
            panic!(
                "chromedriver opened no session with {}: {answer}\n--- chromedriver log tail ---\n{}",
                chromium.display(),
                browser.log_tail(30)
            );
        };
        browser.session_id = id.to_string();
        browser.wire.session = format!("http://127.0.0.1:{port}/session/{id}");
        browser
    }

    async fn wait_ready(&mut self) {
        let status = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(exit))) = self.driver.as_mut().map(Child::try_wait) {
                self.driver = None;
                panic!(
                    "chromedriver exited before becoming ready ({exit})\n\
                     --- chromedriver log tail ---\n{}",
                    self.log_tail(30)
                );
            }
            if let Ok(r) = self.wire.http.get(&status).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver on port {} not ready within {READY_TIMEOUT:?}\n{}",
                self.port,
                self.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last `lines` lines of chromedriver's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn expect<T>(&self, what: &str, r: Result<T, WebDriverError>) -> T {
        r.unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Open `url` and wait until it has loaded.
    pub async fn goto(&self, url: &str) {
        let r = self.wire.post("/url", json!({"url": url})).await;
        self.expect(&format!("open {url}"), r);
    }

    /// Load the current page again.
    pub async fn reload(&self) {
        let r = self.wire.post("/refresh", json!({})).await;
        self.expect("reload", r);
    }

    /// The address of the current page.
    pub async fn url(&self) -> String {
        let r = self.wire.get("/url").await;
        self.expect("current url", r)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// The current page's title.
    pub async fn title(&self) -> String {
        let r = self.wire.get("/title").await;
        self.expect("title", r).as_str().unwrap_or("").to_string()
    }

    /// Run `script` (a function body; `arguments` are `args`) in the page, returning its value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let r = self
            .wire
            .post("/execute/sync", json!({"script": script, "args": args}))
            .await;
        self.expect("execute a script", r)
    }

    /// Every element matching `css` now (none is not an error).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let r = self.wire.find_all("", css).await;
        self.expect(&format!("find `{css}`"), r)
    }

    /// The first element matching `css` now, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        self.wire.find_all("", css).await.ok()?.into_iter().next()
    }

    /// The first element matching `css` now; panics (with the page's text) when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(e) => e,
            None => panic!(
                "no `{css}` on {}\n--- page text ---\n{}",
                self.url().await,
                self.page_text().await
            ),
        }
    }

    /// Click the first element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await;
    }

    /// Type `text` into the first element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css).await.type_text(text).await;
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await
    }

    /// The text of the first `css` now, if there is one and it is not stale.
    pub async fn try_text(&self, css: &str) -> Option<String> {
        self.try_find(css).await?.try_text().await.ok()
    }

    /// The whole page's rendered text, shortened, for failure messages.
    pub async fn page_text(&self) -> String {
        let text = match self.try_text("body").await {
            Some(t) => t,
            None => return "(no page)".into(),
        };
        text.chars().take(PAGE_TEXT_CHARS).collect()
    }

    /// Poll `check` until it gives `Some`, reloading the page between looks when `reload`
    /// (for pages that do not refresh themselves); after `timeout`, save a screenshot and
    /// panic saying what was awaited, with the page's text.
    pub async fn until<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        reload: bool,
        mut check: F,
    ) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() >= deadline {
                let shot = self.screenshot("timeout").await;
                panic!(
                    "not within {timeout:?}: {what}\non {} (screenshot {})\n--- page text ---\n{}",
                    self.url().await,
                    shot.display(),
                    self.page_text().await
                );
            }
            tokio::time::sleep(if reload { 3 * POLL } else { POLL }).await;
            if reload {
                let _ = self.wire.post("/refresh", json!({})).await;
            }
        }
    }

    /// Wait until an element matches `css`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        self.until(&format!("`{css}` shows"), timeout, false, || {
            self.try_find(css)
        })
        .await
    }

    /// Wait until the first `css` contains `needle` in its text; returns that text.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let what = format!("`{css}` says {needle:?}");
        self.until(&what, timeout, false, || async {
            self.try_text(css).await.filter(|t| t.contains(needle))
        })
        .await
    }

    /// Save the whole page (beyond the window) as `target/test-artifacts/browser/NAME.png`,
    /// print the path and return it.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = match self.full_page_png().await {
            Some(png) => png,
            None => {
                let r = self.wire.get("/screenshot").await;
                let b64 = self.expect("take a screenshot", r);
                base64::engine::general_purpose::STANDARD
                    .decode(b64.as_str().unwrap_or(""))
                    .expect("a screenshot is base64")
            }
        };
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// A screenshot of the whole page through Chromium's DevTools, not just the window.
    async fn full_page_png(&self) -> Option<Vec<u8>> {
        let cdp = |cmd: &str, params: Value| {
            self.wire
                .post("/goog/cdp/execute", json!({"cmd": cmd, "params": params}))
        };
        let metrics = cdp("Page.getLayoutMetrics", json!({})).await.ok()?;
        let size = &metrics["cssContentSize"];
        let (w, h) = (size["width"].as_f64()?, size["height"].as_f64()?);
        let shot = cdp(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": w, "height": h.min(16_000.0), "scale": 1}}),
        )
        .await
        .ok()?;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str()?)
            .ok()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session so Chromium exits cleanly, then kill whatever is left of the group.
        if !self.session_id.is_empty() {
            delete_session(self.port, &self.session_id);
        }
        if let Some(mut child) = self.driver.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) with a negative pid signals the process group we created
                // (`process_group(0)` made the driver its leader); it touches no memory.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `DELETE /session/ID`, blocking (drop cannot await), with short timeouts.
fn delete_session(port: u16, session: &str) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Connection: close\r\nContent-Length: 0\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return;
    }
    // Until the whole answer is in: chromedriver keeps the connection open.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if complete(&answer) {
            break;
        }
    }
}

/// Whether `answer` holds a whole HTTP response with a `Content-Length` body.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    length.is_some_and(|n| body.len() >= n)
}

/// Where screenshots go: `target/test-artifacts/browser/`.
pub fn artifacts_dir() -> PathBuf {
    crate::root().join("target/test-artifacts/browser")
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

fn find_bin(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .collect();
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

fn driver_bin() -> Option<PathBuf> {
    find_bin(DRIVER_ENV, &["chromedriver"])
}

fn chromium_bin() -> Option<PathBuf> {
    find_bin(CHROMIUM_ENV, &["chromium", "chromium-browser"])
}

fn missing_message() -> String {
    format!(
        "browser tests need `chromedriver` and `chromium`: install them (Debian: \
         `apt-get install -y chromium chromium-driver`) or point {DRIVER_ENV} / {CHROMIUM_ENV} \
         at the files; set {SKIP_ENV}=1 to skip these tests instead"
    )
}
