//! What the daemon benches (serve.rs, pipelines.rs) share: the binary under test, its memory
//! read from `/proc`, time helpers, percentiles and the measured-vs-target table.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `canaryd` binary: `CANARYD_BIN`, else the one cargo built with the bench.
pub fn daemon_bin() -> PathBuf {
    std::env::var_os("CANARYD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_canaryd")))
}

/// `VmRSS`, `VmHWM` and `Threads` of a process.
#[derive(Default, Clone, Copy)]
pub struct Mem {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub threads: u64,
}

/// [`Mem`] of the process `pid` from `/proc/<pid>/status`; `None` when the process is gone.
pub fn mem(pid: u32) -> Option<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Some(Mem {
        rss_kib: value("VmRSS:"),
        hwm_kib: value("VmHWM:"),
        threads: value("Threads:"),
    })
}

impl std::fmt::Display for Mem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MiB (peak {:.1} MiB, {} threads)",
            self.rss_kib as f64 / 1024.0,
            self.hwm_kib as f64 / 1024.0,
            self.threads
        )
    }
}

/// Send `r`; the status and the body as JSON (a JSON string when it is not JSON).
pub async fn answer(r: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let resp = r.send().await.expect("the daemon answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// The measured-vs-target table every bench prints at its end.
#[derive(Default)]
pub struct Summary {
    rows: Vec<[String; 4]>,
}

impl Summary {
    /// One row; `met` is `None` for a measurement without a target.
    pub fn row(&mut self, what: &str, measured: String, target: &str, met: Option<bool>) {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**NO**",
            None => "—",
        };
        self.rows
            .push([what.into(), measured, target.into(), met.into()]);
    }

    /// The rows as a Markdown table, sorted by their first column.
    pub fn markdown(&self) -> String {
        let mut s = String::from("| measurement | measured | target | met |\n|---|---|---|---|\n");
        let mut rows: Vec<&[String; 4]> = self.rows.iter().collect();
        rows.sort_by(|a, b| a[0].cmp(&b[0]));
        for [a, b, c, d] in rows {
            let _ = writeln!(s, "| {a} | {b} | {c} | {d} |");
        }
        s
    }
}

/// Unix seconds now.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// An RFC 3339 time as unix seconds (the API writes milliseconds).
pub fn iso_s(text: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .timestamp_millis() as f64
        / 1000.0
}

/// Nearest-rank percentile of sorted values (`q = 0` is the minimum, `q = 1` the maximum).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of unsorted values.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}
