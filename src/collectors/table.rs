//! Long-format metric files (CSV or Parquet, by extension) read with polars into a
//! [`SeriesSet`]: values grouped by metric name and label set.
//!
//! Columns: `metric` and `value` are required, `timestamp` is optional (RFC 3339 or unix
//! seconds), and every other column is a label (`api`, `region`, …). An empty label cell
//! means the row does not have that label. An empty `value` cell or `NaN` is a missing
//! observation, handled by each metric's NaN strategy. Anything else that is not a number
//! is an error naming the row.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use super::Labels;

/// The observations of one series (metric × label set) in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesData {
    /// Unix seconds per value (NaN for an empty cell); empty when the file has no
    /// `timestamp` column.
    pub timestamps: Vec<f64>,
    pub values: Vec<f64>,
}

/// Every series of one file.
#[derive(Debug, Clone, Default)]
pub struct SeriesSet {
    /// The file the series came from (for messages).
    pub file: String,
    pub series: HashMap<String, BTreeMap<Labels, SeriesData>>,
    pub rows: usize,
}

impl SeriesSet {
    /// The series of `metric`, by label set (empty when the file has no such metric).
    pub fn metric(&self, metric: &str) -> Option<&BTreeMap<Labels, SeriesData>> {
        self.series.get(metric)
    }
}

/// A problem with an input file. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{file}: file not found")]
    NotFound { file: String },
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: unknown file type; use a .csv or .parquet file")]
    UnknownExtension { file: String },
    #[error("{file}: the file has no data rows")]
    Empty { file: String },
    #[error("{file}: malformed {kind}: {message}")]
    Malformed {
        file: String,
        kind: &'static str,
        message: String,
    },
    #[error("{file}: missing required column `{column}` (columns found: {found})")]
    MissingColumn {
        file: String,
        column: &'static str,
        found: String,
    },
    #[error("{file}: row {row} (line {line}): column `{column}` is not a number: `{value}`")]
    NotANumber {
        file: String,
        row: usize,
        line: usize,
        column: &'static str,
        value: String,
    },
    #[error("{file}: row {row} (line {line}): column `metric` is empty")]
    EmptyMetric {
        file: String,
        row: usize,
        line: usize,
    },
    #[error(
        "{file}: row {row} (line {line}): `timestamp` is neither RFC 3339 nor unix seconds: `{value}`"
    )]
    BadTimestamp {
        file: String,
        row: usize,
        line: usize,
        value: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

impl FileError {
    /// True when the file itself is missing (as opposed to its content being wrong).
    pub fn is_missing(&self) -> bool {
        matches!(self, FileError::NotFound { .. })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Csv,
    Parquet,
}

impl Kind {
    /// 1-based line of a 1-based data row (CSV has a header line; Parquet has no lines).
    fn line(self, row: usize) -> usize {
        match self {
            Kind::Csv => row + 1,
            Kind::Parquet => row,
        }
    }
}

/// Read a CSV or Parquet metric file.
pub fn read_series(path: &Path) -> Result<SeriesSet, FileError> {
    let file = path.display().to_string();
    let kind = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Kind::Csv,
        Some("parquet") | Some("pq") => Kind::Parquet,
        _ => return Err(FileError::UnknownExtension { file }),
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::NotFound { file });
        }
        Err(e) => {
            return Err(FileError::Read {
                file,
                message: e.to_string(),
            });
        }
        Ok(m) if m.is_dir() => {
            return Err(FileError::Read {
                file,
                message: "is a directory".into(),
            });
        }
        Ok(m) if m.len() == 0 => return Err(FileError::Empty { file }),
        Ok(_) => {}
    }
    let df = match kind {
        Kind::Csv => read_csv(path, &file)?,
        Kind::Parquet => {
            let f = std::fs::File::open(path).map_err(|e| FileError::Read {
                file: file.clone(),
                message: e.to_string(),
            })?;
            ParquetReader::new(f)
                .finish()
                .map_err(|e| FileError::Malformed {
                    file: file.clone(),
                    kind: "Parquet",
                    message: polars_message(&e),
                })?
        }
    };
    group(df, &file, kind)
}

fn polars_message(e: &PolarsError) -> String {
    let s = e.to_string();
    // Drop polars' multi-line hints; the first line says what is wrong.
    s.lines().next().unwrap_or(&s).trim().to_string()
}

fn read_csv(path: &Path, file: &str) -> Result<DataFrame, FileError> {
    let malformed = |e: &PolarsError| FileError::Malformed {
        file: file.to_string(),
        kind: "CSV",
        message: polars_message(e),
    };
    let read = |schema: Option<SchemaRef>, rows: Option<usize>| {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_n_rows(rows)
            .with_infer_schema_length(Some(0))
            .with_schema_overwrite(schema)
            .try_into_reader_with_file_path(Some(PathBuf::from(path)))
            .and_then(|r| r.finish())
    };
    // The header alone, to type every column: `value` as numbers, everything else as text
    // (labels are names, not numbers; timestamps are parsed by canaryd). No inference, so
    // a late odd row can never change a column's type.
    let header = read(None, Some(0)).map_err(|e| malformed(&e))?;
    let schema = |value: DataType| -> SchemaRef {
        Arc::new(Schema::from_iter(
            header.get_column_names_str().into_iter().map(|name| {
                let dtype = if name == "value" {
                    value.clone()
                } else {
                    DataType::String
                };
                Field::new(name.into(), dtype)
            }),
        ))
    };
    match read(Some(schema(DataType::Float64)), None) {
        Ok(df) => Ok(df),
        Err(first) => {
            // Read again with `value` as text, to name the row that is not a number.
            let df = read(Some(schema(DataType::String)), None).map_err(|_| malformed(&first))?;
            find_non_numeric(&df, file, Kind::Csv)?;
            Err(malformed(&first))
        }
    }
}

/// Parse a value cell: empty or NaN spellings are NaN; anything else must be a number.
fn parse_value(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return Some(f64::NAN);
    }
    t.parse::<f64>().ok()
}

fn find_non_numeric(df: &DataFrame, file: &str, kind: Kind) -> Result<(), FileError> {
    let Ok(col) = df.column("value") else {
        return Ok(());
    };
    let Ok(text) = col.str() else { return Ok(()) };
    for (i, v) in text.into_iter().enumerate() {
        if let Some(v) = v
            && parse_value(v).is_none()
        {
            return Err(FileError::NotANumber {
                file: file.to_string(),
                row: i + 1,
                line: kind.line(i + 1),
                column: "value",
                value: v.to_string(),
            });
        }
    }
    Ok(())
}

/// The file's column names, once it has the `metric` and `value` columns and a row.
fn checked_columns(df: &DataFrame, file: &str) -> Result<Vec<String>, FileError> {
    let names: Vec<String> = df
        .get_column_names_str()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let found = names.join(", ");
    for required in ["metric", "value"] {
        if !names.iter().any(|n| n == required) {
            return Err(FileError::MissingColumn {
                file: file.to_string(),
                column: required,
                found,
            });
        }
    }
    if df.height() == 0 {
        return Err(FileError::Empty {
            file: file.to_string(),
        });
    }
    Ok(names)
}

fn group(df: DataFrame, file: &str, kind: Kind) -> Result<SeriesSet, FileError> {
    let names = checked_columns(&df, file)?;
    let invalid = |message: String| FileError::Invalid {
        file: file.to_string(),
        message,
    };

    let metric = df
        .column("metric")
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| invalid(format!("column `metric`: {}", polars_message(&e))))?;
    let metric = metric.str().map_err(|e| invalid(polars_message(&e)))?;

    let values = value_column(&df, file, kind)?;

    let timestamps = match names.iter().any(|n| n == "timestamp") {
        true => parse_timestamps(
            df.column("timestamp")
                .map_err(|e| invalid(polars_message(&e)))?,
            file,
            kind,
        )?,
        false => Vec::new(),
    };

    let label_names: Vec<&String> = names
        .iter()
        .filter(|n| !matches!(n.as_str(), "metric" | "value" | "timestamp"))
        .collect();
    let label_cols: Vec<Column> = label_names
        .iter()
        .map(|n| {
            df.column(n)
                .and_then(|c| c.cast(&DataType::String))
                .map_err(|e| invalid(format!("label column `{n}`: {}", polars_message(&e))))
        })
        .collect::<Result<_, _>>()?;
    let label_cas: Vec<&StringChunked> = label_cols
        .iter()
        .map(|c| c.str().map_err(|e| invalid(polars_message(&e))))
        .collect::<Result<_, _>>()?;
    let mut label_iters: Vec<_> = label_cas.iter().map(|ca| ca.into_iter()).collect();

    // Group rows by (metric, label values) with one reusable key buffer. Files are often
    // written series by series, so a row with the previous row's key skips the lookup.
    let mut index: HashMap<String, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut groups: Vec<(String, Labels, SeriesData)> = Vec::new();
    let mut key = String::new();
    let mut previous_key = String::new();
    let mut previous_slot = usize::MAX;
    let mut cells: Vec<Option<&str>> = Vec::with_capacity(label_iters.len());
    for (row, m) in metric.into_iter().enumerate() {
        let m = m.map(str::trim).unwrap_or("");
        if m.is_empty() {
            return Err(FileError::EmptyMetric {
                file: file.to_string(),
                row: row + 1,
                line: kind.line(row + 1),
            });
        }
        key.clear();
        key.push_str(m);
        cells.clear();
        for it in label_iters.iter_mut() {
            let cell = it.next().flatten().map(str::trim).filter(|s| !s.is_empty());
            key.push('\u{1f}');
            match cell {
                Some(c) => key.push_str(c),
                None => key.push('\u{0}'),
            }
            cells.push(cell);
        }
        let slot = if previous_slot != usize::MAX && key == previous_key {
            previous_slot
        } else {
            match index.get(key.as_str()) {
                Some(&slot) => slot,
                None => {
                    let labels: Labels = label_names
                        .iter()
                        .zip(&cells)
                        .filter_map(|(n, c)| c.map(|c| (n.to_string(), c.to_string())))
                        .collect();
                    groups.push((m.to_string(), labels, SeriesData::default()));
                    index.insert(key.clone(), groups.len() - 1);
                    groups.len() - 1
                }
            }
        };
        if slot != previous_slot {
            std::mem::swap(&mut previous_key, &mut key);
            previous_slot = slot;
        }
        let series = &mut groups[slot].2;
        series.values.push(values[row]);
        if let Some(t) = timestamps.get(row) {
            series.timestamps.push(*t);
        }
    }

    let mut series: HashMap<String, BTreeMap<Labels, SeriesData>> = HashMap::new();
    for (m, labels, d) in groups {
        series.entry(m).or_default().insert(labels, d);
    }
    Ok(SeriesSet {
        file: file.to_string(),
        series,
        rows: df.height(),
    })
}

/// The `value` column as numbers: numeric columns cast, text parsed (a cell that is not a
/// number is named with its line), an empty column all NaN.
fn value_column(df: &DataFrame, file: &str, kind: Kind) -> Result<Vec<f64>, FileError> {
    let invalid = |message: String| FileError::Invalid {
        file: file.to_string(),
        message,
    };
    let value_col = df
        .column("value")
        .map_err(|e| invalid(polars_message(&e)))?;
    if value_col.dtype() == &DataType::String {
        find_non_numeric(df, file, kind)?;
        let text = value_col.str().map_err(|e| invalid(polars_message(&e)))?;
        Ok(text
            .into_iter()
            .map(|v| v.and_then(parse_value).unwrap_or(f64::NAN))
            .collect())
    } else if value_col.dtype().is_primitive_numeric() || value_col.dtype() == &DataType::Boolean {
        let cast = value_col
            .cast(&DataType::Float64)
            .map_err(|e| invalid(polars_message(&e)))?;
        let ca = cast.f64().map_err(|e| invalid(polars_message(&e)))?;
        Ok(ca.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    } else if value_col.dtype() == &DataType::Null {
        Ok(vec![f64::NAN; df.height()])
    } else {
        Err(invalid(format!(
            "column `value` has type {}, expected numbers",
            value_col.dtype()
        )))
    }
}

fn parse_timestamps(col: &Column, file: &str, kind: Kind) -> Result<Vec<f64>, FileError> {
    let invalid = |message: String| FileError::Invalid {
        file: file.to_string(),
        message,
    };
    let dtype = col.dtype();
    if dtype.is_primitive_numeric() {
        let cast = col
            .cast(&DataType::Float64)
            .map_err(|e| invalid(polars_message(&e)))?;
        let ca = cast.f64().map_err(|e| invalid(polars_message(&e)))?;
        return Ok(ca.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect());
    }
    let cast = col.cast(&DataType::String).map_err(|e| {
        invalid(format!(
            "column `timestamp` has type {dtype}: {}",
            polars_message(&e)
        ))
    })?;
    let ca = cast.str().map_err(|e| invalid(polars_message(&e)))?;
    let mut out = Vec::with_capacity(ca.len());
    for (i, v) in ca.into_iter().enumerate() {
        let v = v.map(str::trim).unwrap_or("");
        if v.is_empty() {
            out.push(f64::NAN);
            continue;
        }
        match parse_timestamp(v) {
            Some(t) => out.push(t),
            None => {
                return Err(FileError::BadTimestamp {
                    file: file.to_string(),
                    row: i + 1,
                    line: kind.line(i + 1),
                    value: v.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Unix seconds of an RFC 3339 time or a plain number of seconds.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    if let Ok(secs) = s.parse::<f64>() {
        return secs.is_finite().then_some(secs);
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_both_spellings() {
        assert_eq!(parse_timestamp("1700000000"), Some(1_700_000_000.0));
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20Z"),
            Some(1_700_000_000.0)
        );
        assert_eq!(
            parse_timestamp("2023-11-14T23:13:20.5+01:00"),
            Some(1_700_000_000.5)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn value_cells() {
        assert!(parse_value("").expect("empty is NaN").is_nan());
        assert!(parse_value("NaN").expect("NaN").is_nan());
        assert_eq!(parse_value(" 2.5 "), Some(2.5));
        assert_eq!(parse_value("12ms"), None);
    }
}
