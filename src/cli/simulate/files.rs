//! Output tables of `canaryd simulate`: CSV written as rows arrive, or Parquet built in
//! memory and written at the end; and RFC 3339 timestamps of simulated time.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use polars::prelude::*;

/// Output file format of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    Csv,
    Parquet,
}

impl TableFormat {
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
        }
    }
}

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Str,
    F64,
    Int,
}

/// One value of a row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Str(&'a str),
    F64(f64),
    Int(i64),
}

enum Buffer {
    Str(Vec<String>),
    F64(Vec<f64>),
    Int(Vec<i64>),
}

enum Sink {
    Csv(BufWriter<File>),
    Parquet(Vec<(&'static str, Buffer)>),
}

/// One output table.
pub struct Table {
    pub path: PathBuf,
    sink: Sink,
    line: String,
}

impl Table {
    /// Create `path` with `columns`.
    pub fn create(
        path: &Path,
        format: TableFormat,
        columns: &[(&'static str, ColType)],
    ) -> std::io::Result<Table> {
        let sink = match format {
            TableFormat::Csv => {
                let mut w = BufWriter::with_capacity(1 << 16, File::create(path)?);
                let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
                writeln!(w, "{}", names.join(","))?;
                Sink::Csv(w)
            }
            TableFormat::Parquet => {
                // Fail now, not after the whole simulation, if the file cannot be created.
                File::create(path)?;
                Sink::Parquet(
                    columns
                        .iter()
                        .map(|(name, t)| {
                            let b = match t {
                                ColType::Str => Buffer::Str(Vec::new()),
                                ColType::F64 => Buffer::F64(Vec::new()),
                                ColType::Int => Buffer::Int(Vec::new()),
                            };
                            (*name, b)
                        })
                        .collect(),
                )
            }
        };
        Ok(Table {
            path: path.to_path_buf(),
            sink,
            line: String::with_capacity(128),
        })
    }

    /// Append a row (cells in column order, of the columns' types).
    pub fn row(&mut self, cells: &[Cell<'_>]) -> std::io::Result<()> {
        use std::fmt::Write as _;
        match &mut self.sink {
            Sink::Csv(w) => {
                self.line.clear();
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 {
                        self.line.push(',');
                    }
                    // Writing into a String cannot fail.
                    let _ = match c {
                        Cell::Str(s) => write!(self.line, "{s}"),
                        Cell::F64(v) => write!(self.line, "{v}"),
                        Cell::Int(v) => write!(self.line, "{v}"),
                    };
                }
                self.line.push('\n');
                w.write_all(self.line.as_bytes())
            }
            Sink::Parquet(cols) => {
                for ((_, buf), cell) in cols.iter_mut().zip(cells) {
                    match (buf, cell) {
                        (Buffer::Str(v), Cell::Str(s)) => v.push((*s).to_string()),
                        (Buffer::F64(v), Cell::F64(x)) => v.push(*x),
                        (Buffer::Int(v), Cell::Int(x)) => v.push(*x),
                        _ => {
                            return Err(std::io::Error::other(
                                "a cell does not match its column's type",
                            ));
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Flush (CSV) or write (Parquet) the table.
    pub fn finish(self) -> Result<(), String> {
        let file = self.path.display().to_string();
        match self.sink {
            Sink::Csv(mut w) => w.flush().map_err(|e| format!("{file}: {e}")),
            Sink::Parquet(cols) => {
                let columns: Vec<Column> = cols
                    .into_iter()
                    .map(|(name, b)| match b {
                        Buffer::Str(v) => Column::new(name.into(), v),
                        Buffer::F64(v) => Column::new(name.into(), v),
                        Buffer::Int(v) => Column::new(name.into(), v),
                    })
                    .collect();
                let mut df = DataFrame::new(columns).map_err(|e| format!("{file}: {e}"))?;
                let f = File::create(&self.path).map_err(|e| format!("{file}: {e}"))?;
                ParquetWriter::new(f)
                    .finish(&mut df)
                    .map(|_| ())
                    .map_err(|e| format!("{file}: {e}"))
            }
        }
    }
}

/// Unix seconds of the simulated deploy's start: 2026-01-01T00:00:00Z.
pub const START_UNIX_S: i64 = 1_767_225_600;

/// RFC 3339 timestamps with milliseconds of offsets from [`START_UNIX_S`]; the
/// date-and-seconds part is cached, since consecutive rows mostly share it.
#[derive(Default)]
pub struct Clock {
    second: Option<i64>,
    prefix: String,
    out: String,
}

impl Clock {
    /// `2026-01-01T00:00:05.250Z` for 5.25 s (rounded down to the millisecond).
    pub fn format(&mut self, offset_s: f64) -> &str {
        use std::fmt::Write as _;
        let ms = START_UNIX_S * 1000 + (offset_s * 1000.0).floor() as i64;
        let (second, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
        if self.second != Some(second) {
            self.second = Some(second);
            self.prefix = chrono::DateTime::from_timestamp(second, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default();
        }
        self.out.clear();
        let _ = write!(self.out, "{}.{milli:03}Z", self.prefix);
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_millis() {
        let mut c = Clock::default();
        assert_eq!(c.format(0.0), "2026-01-01T00:00:00.000Z");
        assert_eq!(c.format(5.2506), "2026-01-01T00:00:05.250Z");
        assert_eq!(c.format(86_400.5), "2026-01-02T00:00:00.500Z");
        let parsed = crate::collectors::table::parse_timestamp(c.format(61.001));
        assert!(parsed.is_some_and(|t| (t - (START_UNIX_S as f64 + 61.001)).abs() < 1e-6));
    }
}
