//! Execution windows: days of the week and hours of the day in a time zone, e.g.
//! "Mon–Wed 06:00–12:00 UTC". A stage outside its window waits for the next opening.

use chrono::{Datelike, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A window as written in a pipeline spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// Days the window opens, e.g. `["mon", "tue", "wed"]` or `["mon-fri"]`; default every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// `"06:00-12:00"`; an end before the start crosses midnight. Default: the whole day.
    #[serde(default)]
    pub hours: Option<String>,
    /// IANA zone (`Europe/Berlin`) or `UTC`; default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// A validated window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Monday = 0 … Sunday = 6.
    days: [bool; 7],
    /// Minutes after midnight; `start == end` means the whole day.
    start: u32,
    end: u32,
    tz: Tz,
}

fn weekday(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    full.iter().position(|d| n == *d || n == d[..3])
}

fn minutes(s: &str) -> Option<u32> {
    let t = NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()?;
    Some(t.hour() * 60 + t.minute())
}

impl Window {
    /// Validate a written window; the error names the field (`days`, `hours`, `timezone`).
    pub fn parse(raw: &RawWindow) -> Result<Window, (String, String)> {
        let mut days = [raw.days.is_empty(); 7];
        for (i, d) in raw.days.iter().enumerate() {
            let bad = || {
                (
                    format!("days[{i}]"),
                    format!("`{d}` is not a day (mon, tue, …, sun) or a range like mon-fri"),
                )
            };
            match d.split_once(['-', '–']) {
                Some((a, b)) => {
                    let (a, b) = (weekday(a).ok_or_else(bad)?, weekday(b).ok_or_else(bad)?);
                    let mut k = a;
                    loop {
                        days[k] = true;
                        if k == b {
                            break;
                        }
                        k = (k + 1) % 7;
                    }
                }
                None => days[weekday(d).ok_or_else(bad)?] = true,
            }
        }
        let (start, end) = match &raw.hours {
            None => (0, 0),
            Some(h) => {
                let bad = || {
                    (
                        "hours".to_string(),
                        format!("`{h}` is not a range of times like 06:00-12:00"),
                    )
                };
                let (a, b) = h.split_once(['-', '–']).ok_or_else(bad)?;
                (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?)
            }
        };
        let tz: Tz = match &raw.timezone {
            None => Tz::UTC,
            Some(z) => z.parse().map_err(|_| {
                (
                    "timezone".to_string(),
                    format!("`{z}` is not a time zone; use an IANA name like Europe/Berlin or UTC"),
                )
            })?,
        };
        Ok(Window {
            days,
            start,
            end,
            tz,
        })
    }

    /// Is the window open at unix second `t`?
    pub fn is_open(&self, t: i64) -> bool {
        let Some(local) = self.tz.timestamp_opt(t, 0).single() else {
            return false;
        };
        let m = local.hour() * 60 + local.minute();
        let today = local.weekday().num_days_from_monday() as usize;
        let yesterday = (today + 6) % 7;
        if self.start == self.end {
            return self.days[today];
        }
        if self.start < self.end {
            self.days[today] && m >= self.start && m < self.end
        } else {
            // Crosses midnight: the evening belongs to today, the early hours to yesterday.
            (self.days[today] && m >= self.start) || (self.days[yesterday] && m < self.end)
        }
    }

    /// The first unix second ≥ `t` at which the window is open (`t` itself when open).
    /// Searches minute by minute over 8 days; `None` if it never opens (no day selected).
    pub fn next_open(&self, t: i64) -> Option<i64> {
        if self.is_open(t) {
            return Some(t);
        }
        let first = (t / 60 + 1) * 60;
        (0..8 * 24 * 60)
            .map(|k| first + 60 * k)
            .find(|&c| self.is_open(c))
    }

    /// The days as written back (`mon,tue`), for messages.
    pub fn describe(&self) -> String {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let days: Vec<&str> = (0..7).filter(|d| self.days[*d]).map(|d| names[d]).collect();
        let hours = if self.start == self.end {
            "all day".to_string()
        } else {
            format!(
                "{:02}:{:02}–{:02}:{:02}",
                self.start / 60,
                self.start % 60,
                self.end / 60,
                self.end % 60
            )
        };
        format!("{} {hours} {}", days.join(","), self.tz.name())
    }
}

/// Weekday of a unix second in UTC (for tests and messages).
pub fn utc_weekday(t: i64) -> Weekday {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.weekday())
        .unwrap_or(Weekday::Mon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(days: &[&str], hours: Option<&str>, tz: Option<&str>) -> Window {
        Window::parse(&RawWindow {
            days: days.iter().map(|d| d.to_string()).collect(),
            hours: hours.map(String::from),
            timezone: tz.map(String::from),
        })
        .unwrap()
    }

    /// 2026-11-23 is a Monday.
    fn at(day: i64, h: i64, m: i64) -> i64 {
        1_795_392_000 + day * 86_400 + h * 3600 + m * 60
    }

    #[test]
    fn monday_to_wednesday_mornings_utc() {
        assert_eq!(utc_weekday(at(0, 0, 0)), Weekday::Mon);
        let win = w(&["mon-wed"], Some("06:00-12:00"), None);
        assert!(win.is_open(at(0, 6, 0)));
        assert!(win.is_open(at(2, 11, 59)));
        assert!(!win.is_open(at(2, 12, 0)));
        assert!(!win.is_open(at(3, 8, 0)), "Thursday");
        // Thursday 08:00 waits until Monday 06:00.
        assert_eq!(win.next_open(at(3, 8, 0)), Some(at(7, 6, 0)));
        assert_eq!(win.next_open(at(1, 7, 30)), Some(at(1, 7, 30)));
        assert_eq!(win.describe(), "Mon,Tue,Wed 06:00–12:00 UTC");
    }

    #[test]
    fn windows_cross_midnight_and_follow_zones() {
        let night = w(&["fri"], Some("22:00-02:00"), None);
        assert!(night.is_open(at(4, 23, 0)));
        assert!(
            night.is_open(at(5, 1, 0)),
            "Saturday 01:00 belongs to Friday night"
        );
        assert!(!night.is_open(at(5, 23, 0)));
        // 09:00 in Berlin is 08:00 UTC in November.
        let berlin = w(&[], Some("09:00-10:00"), Some("Europe/Berlin"));
        assert!(berlin.is_open(at(0, 8, 30)));
        assert!(!berlin.is_open(at(0, 9, 30)));
    }

    #[test]
    fn bad_windows_name_their_field() {
        let e = Window::parse(&RawWindow {
            days: vec!["mon".into(), "funday".into()],
            hours: None,
            timezone: None,
        })
        .unwrap_err();
        assert_eq!(e.0, "days[1]");
        let e = Window::parse(&RawWindow {
            days: vec![],
            hours: Some("6-12".into()),
            timezone: None,
        })
        .unwrap_err();
        assert_eq!(e.0, "hours");
        let e = Window::parse(&RawWindow {
            days: vec![],
            hours: None,
            timezone: Some("Mars/Olympus".into()),
        })
        .unwrap_err();
        assert_eq!(e.0, "timezone");
    }
}
