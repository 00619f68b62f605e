//! The analyses, intervals and chart data of [`SqliteStore`]: [`AnalysisStore`].

use std::fmt::Write as _;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, ToSql, TransactionBehavior, params};

use super::SqliteStore;
use super::json::{Json, to_json, to_json_opt};
use crate::store::{
    AnalysisQuery, AnalysisRecord, AnalysisStatus, AnalysisStore, IntervalRecord, Result,
    StoreError,
};

macro_rules! analysis_columns {
    () => {
        "id, config_id, config_name, application, config_format, config_body, request, \
         dialect, status, verdict, score, report, error, next_interval, created_ms, updated_ms"
    };
}

/// Writes the mutable fields of analysis `?1`; the compare-and-set variant only while it runs.
const UPDATE_ANALYSIS: &str = "UPDATE analyses SET status = ?2, verdict = ?3, score = ?4, \
    report = ?5, error = ?6, next_interval = ?7, updated_ms = ?8 WHERE id = ?1";
const FINISH_ANALYSIS: &str = "UPDATE analyses SET status = ?2, verdict = ?3, score = ?4, \
    report = ?5, error = ?6, next_interval = ?7, updated_ms = ?8 \
    WHERE id = ?1 AND status = 'running'";

fn analysis_from_row(row: &Row<'_>) -> rusqlite::Result<AnalysisRecord> {
    Ok(AnalysisRecord {
        id: row.get(0)?,
        config_id: row.get(1)?,
        config_name: row.get(2)?,
        application: row.get(3)?,
        config_format: row.get(4)?,
        config_body: row.get(5)?,
        request: row.get::<_, Json<serde_json::Value>>(6)?.0,
        dialect: row.get(7)?,
        status: row.get(8)?,
        verdict: row.get(9)?,
        score: row.get(10)?,
        report: row
            .get::<_, Option<Json<serde_json::Value>>>(11)?
            .map(|j| j.0),
        error: row.get(12)?,
        next_interval: row.get(13)?,
        created_ms: row.get(14)?,
        updated_ms: row.get(15)?,
    })
}

fn interval_from_row(row: &Row<'_>) -> rusqlite::Result<IntervalRecord> {
    Ok(IntervalRecord {
        analysis_id: row.get(0)?,
        index: row.get(1)?,
        at_ms: row.get(2)?,
        outcome: row.get(3)?,
        verdict: row.get(4)?,
        score: row.get(5)?,
        report: row
            .get::<_, Option<Json<serde_json::Value>>>(6)?
            .map(|j| j.0),
        error: row.get(7)?,
    })
}

/// Runs [`UPDATE_ANALYSIS`] or [`FINISH_ANALYSIS`]; the number of rows changed.
fn write_analysis(conn: &Connection, sql: &str, rec: &AnalysisRecord) -> Result<usize> {
    let report = to_json_opt(rec.report.as_ref())?;
    let changed = conn.prepare_cached(sql)?.execute(params![
        rec.id,
        rec.status,
        rec.verdict,
        rec.score,
        report,
        rec.error,
        rec.next_interval,
        rec.updated_ms,
    ])?;
    Ok(changed)
}

fn analysis_exists(conn: &Connection, id: &str) -> Result<bool> {
    let found = conn
        .prepare_cached("SELECT 1 FROM analyses WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}

impl AnalysisStore for SqliteStore {
    fn insert_analysis(&self, rec: &AnalysisRecord) -> Result<()> {
        let request = to_json(&rec.request)?;
        let report = to_json_opt(rec.report.as_ref())?;
        let conn = self.conn();
        let inserted = conn
            .prepare_cached(concat!(
                "INSERT INTO analyses (",
                analysis_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
                 ON CONFLICT (id) DO NOTHING"
            ))?
            .execute(params![
                rec.id,
                rec.config_id,
                rec.config_name,
                rec.application,
                rec.config_format,
                rec.config_body,
                request,
                rec.dialect,
                rec.status,
                rec.verdict,
                rec.score,
                report,
                rec.error,
                rec.next_interval,
                rec.created_ms,
                rec.updated_ms,
            ])?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "analysis {} already exists",
                rec.id
            )));
        }
        Ok(())
    }

    fn get_analysis(&self, id: &str) -> Result<Option<AnalysisRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            analysis_columns!(),
            " FROM analyses WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], analysis_from_row).optional()?)
    }

    fn list_analyses(&self, q: &AnalysisQuery) -> Result<(Vec<AnalysisRecord>, u64)> {
        let mut filter = String::new();
        let mut args: Vec<&dyn ToSql> = Vec::new();
        let conditions: [(&str, Option<&dyn ToSql>); 3] = [
            (
                "application",
                q.application.as_ref().map(|a| a as &dyn ToSql),
            ),
            ("status", q.status.as_ref().map(|s| s as &dyn ToSql)),
            (
                "config_name",
                q.config_name.as_ref().map(|n| n as &dyn ToSql),
            ),
        ];
        for (column, value) in conditions {
            if let Some(value) = value {
                args.push(value);
                let keyword = if args.len() == 1 { "WHERE" } else { "AND" };
                // Writing to a String cannot fail.
                let _ = write!(filter, " {keyword} {column} = ?{}", args.len());
            }
        }
        let conn = self.conn();
        let total: i64 = conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM analyses{filter}"))?
            .query_row(&args[..], |row| row.get(0))?;
        let limit = i64::from(q.effective_limit());
        let offset = i64::from(q.offset);
        let n = args.len();
        args.push(&limit);
        args.push(&offset);
        let sql = format!(
            "SELECT {} FROM analyses{filter} ORDER BY created_ms DESC, id LIMIT ?{} OFFSET ?{}",
            analysis_columns!(),
            n + 1,
            n + 2,
        );
        let page = conn
            .prepare_cached(&sql)?
            .query_map(&args[..], analysis_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok((page, total.try_into().unwrap_or(0)))
    }

    fn unfinished_analyses(&self) -> Result<Vec<AnalysisRecord>> {
        let conn = self.conn();
        let rows = conn
            .prepare_cached(concat!(
                "SELECT ",
                analysis_columns!(),
                " FROM analyses WHERE status = 'running' ORDER BY created_ms, id"
            ))?
            .query_map([], analysis_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn record_interval(
        &self,
        analysis: &AnalysisRecord,
        interval: &IntervalRecord,
    ) -> Result<bool> {
        if interval.analysis_id != analysis.id {
            return Err(StoreError::Conflict(format!(
                "interval of analysis {} recorded with analysis {}",
                interval.analysis_id, analysis.id
            )));
        }
        let report = to_json_opt(interval.report.as_ref())?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !analysis_exists(&tx, &analysis.id)? {
            return Err(StoreError::NotFound(format!("analysis {}", analysis.id)));
        }
        let inserted = tx
            .prepare_cached(
                "INSERT INTO intervals \
                 (analysis_id, idx, at_ms, outcome, verdict, score, report, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (analysis_id, idx) DO NOTHING",
            )?
            .execute(params![
                interval.analysis_id,
                interval.index,
                interval.at_ms,
                interval.outcome,
                interval.verdict,
                interval.score,
                report,
                interval.error,
            ])?;
        if inserted == 0 {
            // Dropping the transaction rolls it back; it has changed nothing anyway.
            return Ok(false);
        }
        // Guarded like `finish_analysis`: a cancel that landed meanwhile stays.
        write_analysis(&tx, FINISH_ANALYSIS, analysis)?;
        tx.commit()?;
        Ok(true)
    }

    fn update_analysis(&self, rec: &AnalysisRecord) -> Result<()> {
        if write_analysis(&self.conn(), UPDATE_ANALYSIS, rec)? == 0 {
            return Err(StoreError::NotFound(format!("analysis {}", rec.id)));
        }
        Ok(())
    }

    fn finish_analysis(&self, rec: &AnalysisRecord) -> Result<bool> {
        let conn = self.conn();
        if write_analysis(&conn, FINISH_ANALYSIS, rec)? > 0 {
            return Ok(true);
        }
        if analysis_exists(&conn, &rec.id)? {
            Ok(false)
        } else {
            Err(StoreError::NotFound(format!("analysis {}", rec.id)))
        }
    }

    fn note_running(&self, analysis_id: &str, note: Option<&str>, updated_ms: i64) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .prepare_cached(
                "UPDATE analyses SET error = ?2, updated_ms = ?3 \
                 WHERE id = ?1 AND status = 'running'",
            )?
            .execute(params![analysis_id, note, updated_ms])?;
        Ok(n > 0)
    }

    fn put_details(&self, analysis_id: &str, details: &str, updated_ms: i64) -> Result<()> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO analysis_details (analysis_id, details, updated_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (analysis_id) DO UPDATE SET details = excluded.details, \
             updated_ms = excluded.updated_ms",
        )?
        .execute(params![analysis_id, details, updated_ms])
        .map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::ConstraintViolation) => {
                StoreError::NotFound(format!("analysis {analysis_id}"))
            }
            _ => e.into(),
        })?;
        Ok(())
    }

    fn get_details(&self, analysis_id: &str) -> Result<Option<String>> {
        let conn = self.conn();
        Ok(conn
            .prepare_cached("SELECT details FROM analysis_details WHERE analysis_id = ?1")?
            .query_row([analysis_id], |r| r.get(0))
            .optional()?)
    }

    fn interval_summaries(&self, analysis_id: &str) -> Result<Vec<IntervalRecord>> {
        let conn = self.conn();
        let rows = conn
            .prepare_cached(
                "SELECT analysis_id, idx, at_ms, outcome, verdict, score, NULL, error \
                 FROM intervals WHERE analysis_id = ?1 ORDER BY idx",
            )?
            .query_map([analysis_id], interval_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn intervals(&self, analysis_id: &str) -> Result<Vec<IntervalRecord>> {
        let conn = self.conn();
        let rows = conn
            .prepare_cached(
                "SELECT analysis_id, idx, at_ms, outcome, verdict, score, report, error \
                 FROM intervals WHERE analysis_id = ?1 ORDER BY idx",
            )?
            .query_map([analysis_id], interval_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn count_by_status(&self) -> Result<Vec<(AnalysisStatus, Option<String>, u64)>> {
        let conn = self.conn();
        let rows = conn
            .prepare_cached(
                "SELECT status, verdict, COUNT(*) FROM analyses \
                 GROUP BY status, verdict ORDER BY status, verdict",
            )?
            .query_map([], |row| {
                let count: i64 = row.get(2)?;
                Ok((row.get(0)?, row.get(1)?, count.try_into().unwrap_or(0)))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
