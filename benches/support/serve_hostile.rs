//! Hostile load on the daemon: bursts of maximum-size judge bodies, under a request
//! timeout, and slow clients holding connections.

use super::*;

/// Metrics of the maximum-size judge body (`limits.max_metrics_per_config` default).
pub(super) const BURST_METRICS: usize = 500;
pub(super) const BURST_CLIENTS: usize = 16;

/// A `/api/v1/judge` body of 500 metrics, each with a pair, as large as fits under 1 MiB.
pub(super) fn max_judge_body() -> Vec<u8> {
    let build = |values: usize| {
        let metrics: Vec<Value> = (0..BURST_METRICS)
            .map(|i| json!({ "name": format!("metric_{i:03}"), "direction": "increase" }))
            .collect();
        let pairs: Vec<Value> = (0..BURST_METRICS)
            .map(|i| {
                let side = |shift: f64| -> Vec<f64> {
                    (0..values)
                        .map(|k| ((k * 37 + i * 11) % 1000) as f64 / 10.0 + shift)
                        .collect()
                };
                json!({ "metric": format!("metric_{i:03}"), "baseline": side(0.0), "canary": side(0.3) })
            })
            .collect();
        serde_json::to_vec(
            &json!({ "config": { "name": "burst", "metrics": metrics }, "pairs": pairs }),
        )
        .expect("JSON")
    };
    let mut values = 8;
    let mut body = build(values);
    loop {
        let next = build(values + 8);
        if next.len() >= 1 << 20 {
            return body;
        }
        values += 8;
        body = next;
    }
}

pub(super) async fn hostile_judge_burst(summary: &mut Summary) {
    let d = Daemon::start("http://127.0.0.1:9").await;
    let body = Arc::new(max_judge_body());
    let before = d.mem();
    eprintln!(
        "[6] judge burst: {BURST_CLIENTS} clients × a {} KiB body ({BURST_METRICS} metrics); before: {before}",
        body.len() / 1024
    );
    let pid = d.child.id();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = Arc::clone(&sampling);
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(Ordering::Relaxed) {
                if let Some(m) = mem(pid) {
                    peak = peak.max(m.rss_kib);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let started = Instant::now();
    let refused = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..BURST_CLIENTS {
        let (http, url, body, refused) = (
            d.http.clone(),
            format!("{}/api/v1/judge", d.url),
            Arc::clone(&body),
            Arc::clone(&refused),
        );
        clients.push(tokio::spawn(async move {
            loop {
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.as_ref().clone())
                    .send()
                    .await
                    .expect("the daemon answers");
                let status = r.status().as_u16();
                let answer = r.bytes().await.expect("a body").len();
                match status {
                    503 => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    200 => return answer,
                    other => panic!("judge answered {other}"),
                }
            }
        }));
    }
    let mut answer_bytes = 0;
    for c in clients {
        answer_bytes = c.await.expect("a client");
    }
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    sampling.store(false, Ordering::Relaxed);
    let sampled_peak = sampler.join().expect("the sampler");
    let after = d.mem();
    let peak = sampled_peak.max(after.hwm_kib);
    eprintln!(
        "[6] judge burst: all {BURST_CLIENTS} answered 200 ({} KiB each) in {:.1} s, {} refused 503 on the way; \
         peak RSS {} KiB (sampled {sampled_peak}, VmHWM {}); 2 s after: {after}",
        answer_bytes / 1024,
        took.as_secs_f64(),
        refused.load(Ordering::Relaxed),
        peak,
        after.hwm_kib
    );
    summary.row(
        "6a. peak RSS, 16 concurrent maximum-size /judge calls (VmHWM)",
        format!("{:.1} MiB", peak as f64 / 1024.0),
        "≤ 100 MiB",
        Some(peak <= 100 * 1024),
    );
    summary.row(
        "6b. RSS 2 s after the burst",
        format!("{:.1} MiB", after.rss_kib as f64 / 1024.0),
        "≤ 40 MiB",
        Some(after.rss_kib <= 40 * 1024),
    );
}

/// CPU seconds (user + system) the process has used, from `/proc/<pid>/stat`.
pub(super) fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf only reads a constant of the running system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

/// 6c. The same 16 maximum-size `/judge` calls with `http.request_timeout_s = 1`, each sent
/// once: callers answered 503 `timeout` cancel their computation, and the slot cap counts
/// computations, not waiting callers. Measured: the daemon's CPU in the second after the
/// last answer (target: it has stopped), and the peak RSS.
pub(super) async fn judge_burst_under_timeout(summary: &mut Summary) {
    let d = Daemon::start_with("http://127.0.0.1:9", "[http]\nrequest_timeout_s = 1\n").await;
    let body = Arc::new(max_judge_body());
    let pid = d.child.id();
    let cpu0 = cpu_s(pid);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..BURST_CLIENTS {
        let (http, url, body) = (
            d.http.clone(),
            format!("{}/api/v1/judge", d.url),
            Arc::clone(&body),
        );
        clients.push(tokio::spawn(async move {
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.as_ref().clone())
                .send()
                .await
                .expect("the daemon answers");
            r.status().as_u16()
        }));
    }
    let mut codes = Vec::new();
    for c in clients {
        codes.push(c.await.expect("a client"));
    }
    let last = started.elapsed();
    let cpu_at_last = cpu_s(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_1s = cpu_s(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_3s = cpu_s(pid);
    let after = d.mem();
    codes.sort_unstable();
    eprintln!(
        "[6c] judge burst under a 1 s request timeout: answers {codes:?} within {:.2} s; daemon CPU {:.2} s until the last answer, +{:.2} s in the next second, +{:.2} s in the 2 s after; {after}",
        last.as_secs_f64(),
        cpu_at_last - cpu0,
        cpu_1s - cpu_at_last,
        cpu_3s - cpu_1s
    );
    summary.row(
        "6c. CPU after the last answer, 16 maximum-size /judge calls under a 1 s request timeout (1 s to 3 s after)",
        format!("{:.2} CPU-s", cpu_3s - cpu_1s),
        "≈ 0 (stopped within 1 s)",
        Some(cpu_3s - cpu_1s < 0.1),
    );
    summary.row(
        "6c. peak RSS of that burst (VmHWM)",
        format!("{:.1} MiB", after.hwm_kib as f64 / 1024.0),
        "≤ 100 MiB",
        Some(after.hwm_kib <= 100 * 1024),
    );
}

/// How many of the slow clients the daemon holds open.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Held {
    /// The shipped `http.max_connections` (1,024): the rest are closed at once.
    Default,
    /// `max_connections` raised to 4,000: every one is held until the header timeout.
    All,
}

pub(super) async fn slow_clients(summary: &mut Summary, held: Held) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const CLIENTS: usize = 3000;
    const HEADER_TIMEOUT_S: f64 = 10.0;
    let (extra, label) = match held {
        Held::Default => ("", "default limits (1,024 held, the rest closed at once)"),
        Held::All => (
            "[http]\nmax_connections = 4000\n",
            "max_connections 4,000 (all held)",
        ),
    };
    let d = Daemon::start_with("http://127.0.0.1:9", extra).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = d.mem();
    let mut conns = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut s = tokio::net::TcpStream::connect(d.addr)
            .await
            .expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .expect("a first part of the headers");
        conns.push((Instant::now(), s));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = d.mem();
    if held == Held::All {
        // Room is left for others only when the limit is above the slow clients.
        let (s, _) = d.get("/healthz").await;
        assert_eq!(
            s, 200,
            "the daemon answers others while the slow clients are held"
        );
    }
    let mut waits = Vec::with_capacity(CLIENTS);
    let mut open = 0;
    for (connected, mut c) in conns {
        let mut buf = [0u8; 512];
        let left =
            Duration::from_secs_f64(HEADER_TIMEOUT_S + 5.0).saturating_sub(connected.elapsed());
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Ok(_) => waits.push(connected.elapsed().as_secs_f64()),
            Err(_) => open += 1,
        }
    }
    waits.sort_by(f64::total_cmp);
    let worst = waits.last().copied().unwrap_or(f64::INFINITY);
    let cost = during.rss_kib.saturating_sub(before.rss_kib);
    eprintln!(
        "[6] slow clients, {label}: {CLIENTS}; RSS {} KiB before, {} KiB while held (+{cost} KiB); \
         closed after {:.2}–{worst:.2} s (header timeout {HEADER_TIMEOUT_S} s), {open} still open",
        before.rss_kib,
        during.rss_kib,
        waits.first().copied().unwrap_or(f64::NAN),
    );
    let (cost_row, drop_row) = match held {
        Held::Default => ("6c", "6d"),
        Held::All => ("6e", "6f"),
    };
    summary.row(
        &format!("{cost_row}. RSS cost of 3,000 slow clients, {label}"),
        format!(
            "{:.1} MiB ({:.1} KiB per held connection)",
            cost as f64 / 1024.0,
            cost as f64
                / CLIENTS.min(match held {
                    Held::Default => 1024,
                    Held::All => CLIENTS,
                }) as f64
        ),
        "≤ 30 MiB",
        Some(cost <= 30 * 1024),
    );
    summary.row(
        &format!("{drop_row}. slowest drop of a slow client after it connected, {label}"),
        format!("{worst:.2} s ({open} never dropped)"),
        "≤ header timeout (10 s) + 1 s",
        Some(open == 0 && worst <= HEADER_TIMEOUT_S + 1.0),
    );
}
