//! Time on the ground floor: the [`Clock`] (the system's, or a test's), bounds every
//! duration and time input is held to, and a conversion to [`Duration`] that cannot panic.
//!
//! `Duration::from_secs_f64` panics on a negative, infinite or too large value; a value
//! from a request (`lag: 1e20`) must never get there. Inputs are range-checked where they
//! are read ([`MAX_DURATION_S`], [`MIN_TIME_S`]..[`MAX_TIME_S`]) and every conversion goes
//! through [`duration`], which saturates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration any input may give: a year.
pub const MAX_DURATION_S: f64 = 366.0 * 86_400.0;

/// The earliest time an input may give (1970-01-01).
pub const MIN_TIME_S: f64 = 0.0;

/// The latest time an input may give (2100-01-01).
pub const MAX_TIME_S: f64 = 4_102_444_800.0;

/// How far ahead a start may be scheduled (a live window's `start`, an execution's
/// `not_before`): a month.
pub const MAX_AHEAD_S: f64 = 31.0 * 86_400.0;

/// Unix seconds as RFC 3339 in UTC, to the millisecond (the number itself when out of range).
pub fn rfc3339(t: f64) -> String {
    let ms = (t * 1000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| t.to_string())
}

/// Unix milliseconds (how the store keeps times) as RFC 3339 in UTC.
pub fn ms_rfc3339(ms: i64) -> String {
    rfc3339(ms as f64 / 1000.0)
}

/// `secs` as a [`Duration`]: negative and NaN are zero, beyond [`MAX_DURATION_S`] (or
/// infinite) is that. Never panics.
pub fn duration(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(secs.min(MAX_DURATION_S))
}

/// Why `secs` is not an acceptable duration, if it is not.
pub fn duration_problem(secs: f64) -> Option<String> {
    if !secs.is_finite() || secs < 0.0 {
        Some(format!(
            "a duration must be a finite number of seconds ≥ 0, got {secs}"
        ))
    } else if secs > MAX_DURATION_S {
        Some(format!(
            "a duration may be at most a year ({MAX_DURATION_S} s), got {secs} s"
        ))
    } else {
        None
    }
}

/// Why `t` (unix seconds) is not an acceptable time, if it is not.
pub fn time_problem(t: f64) -> Option<String> {
    if !t.is_finite() || !(MIN_TIME_S..=MAX_TIME_S).contains(&t) {
        Some(format!(
            "a time must lie between 1970 and 2100 (unix seconds {MIN_TIME_S}..{MAX_TIME_S}), got {t}"
        ))
    } else {
        None
    }
}

/// Where "now" comes from: the system clock in the daemon; in tests, a clock the test
/// sets. Code that stamps or schedules by the time takes one instead of asking the system,
/// so a test can say what time it is.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Unix seconds now.
    fn now_s(&self) -> f64;

    /// Unix milliseconds now.
    fn now_ms(&self) -> i64 {
        (self.now_s() * 1000.0) as i64
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_s(&self) -> f64 {
        now_s()
    }
}

/// A clock that stands still until the test moves it (millisecond steps).
#[derive(Debug, Default)]
pub struct TestClock {
    ms: std::sync::atomic::AtomicI64,
}

impl TestClock {
    /// A clock standing at unix second `s`.
    pub fn at(s: f64) -> Self {
        TestClock {
            ms: std::sync::atomic::AtomicI64::new((s * 1000.0).round() as i64),
        }
    }

    /// Set it to unix second `s`.
    pub fn set(&self, s: f64) {
        self.ms.store(
            (s * 1000.0).round() as i64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// Move it on by `secs`.
    pub fn advance(&self, secs: f64) {
        self.ms.fetch_add(
            (secs * 1000.0).round() as i64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

impl Clock for TestClock {
    fn now_s(&self) -> f64 {
        self.now_ms() as f64 / 1000.0
    }

    fn now_ms(&self) -> i64 {
        self.ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Unix seconds now.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    (now_s() * 1000.0) as i64
}

/// How a duration or a time may be written: a number, or text to parse.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(f64),
    Text(String),
}

/// A duration in seconds, written as a number of seconds or a string like `"90s"`,
/// `"5m"`, `"1h 30m"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Seconds(pub f64);

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = match NumberOrText::deserialize(d)? {
            NumberOrText::Number(n) => n,
            NumberOrText::Text(t) => humantime::parse_duration(&t)
                .map(|d| d.as_secs_f64())
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "`{t}` is not a duration ({e}); write e.g. \"30s\", \"5m\" or 300"
                    ))
                })?,
        };
        match duration_problem(secs) {
            None => Ok(Seconds(secs)),
            Some(p) => Err(serde::de::Error::custom(p)),
        }
    }
}

/// A point in time, written as RFC 3339 (`2026-11-26T10:00:00Z`) or unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

impl Timestamp {
    /// RFC 3339 in UTC, to the millisecond.
    pub fn rfc3339(self) -> String {
        rfc3339(self.0)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = match NumberOrText::deserialize(d)? {
            NumberOrText::Number(n) => n,
            NumberOrText::Text(t) => chrono::DateTime::parse_from_rfc3339(&t)
                .map(|dt| dt.timestamp_millis() as f64 / 1000.0)
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "`{t}` is not an RFC 3339 time ({e}); write e.g. 2026-11-26T10:00:00Z"
                    ))
                })?,
        };
        match time_problem(t) {
            None => Ok(Timestamp(t)),
            Some(p) => Err(serde::de::Error::custom(p)),
        }
    }
}

#[cfg(test)]
mod tests {

    /// A test clock says what it was told, in milliseconds; the system clock moves on.
    #[test]
    fn clocks_say_what_time_it_is() {
        let c = TestClock::at(1_700_000_000.25);
        assert_eq!(c.now_ms(), 1_700_000_000_250);
        c.advance(1.5);
        assert_eq!(c.now_s(), 1_700_000_001.75);
        c.set(10.0);
        assert_eq!(c.now_ms(), 10_000);
        let s = SystemClock.now_s();
        assert!(s > 1_700_000_000.0 && (SystemClock.now_s() - s) < 60.0);
    }

    use super::*;

    #[test]
    fn conversions_saturate_instead_of_panicking() {
        for v in [f64::NAN, -1.0, -0.0, 0.0, f64::NEG_INFINITY] {
            assert_eq!(duration(v), Duration::ZERO, "{v}");
        }
        for v in [1e20, f64::INFINITY, f64::MAX] {
            assert_eq!(duration(v), Duration::from_secs_f64(MAX_DURATION_S), "{v}");
        }
        assert_eq!(duration(1.5), Duration::from_millis(1500));
        assert!(duration_problem(1e12).is_some());
        assert!(duration_problem(f64::NAN).is_some());
        assert!(duration_problem(60.0).is_none());
        assert!(time_problem(1e20).is_some());
        assert!(time_problem(253_402_300_799.0).is_some(), "year 9999");
        assert!(time_problem(1_795_000_000.0).is_none());
    }
}
