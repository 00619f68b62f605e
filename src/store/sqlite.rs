//! [`SqliteStore`]: the [`Store`] in one SQLite file (`canaryd.sqlite3`), in WAL mode.
//!
//! One connection behind a mutex serves reads and writes; every statement is prepared once
//! and cached. Writes that touch several rows run in an `IMMEDIATE` transaction, so another
//! process sharing the file waits (busy timeout 5 s) instead of failing half way. The schema
//! is versioned by `rusqlite_migration` in `PRAGMA user_version`; JSON columns are TEXT.
//!
//! The pipeline and execution queries live in `sqlite/pipelines.rs`, the JSON columns'
//! conversions in `sqlite/json.rs`; the pipeline tables are migration 2 here, with the rest
//! of the schema.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, ToSql, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};

mod json;
mod pipelines;

use self::json::{Json, to_json, to_json_opt};
use super::{
    AnalysisQuery, AnalysisRecord, AnalysisStatus, ConfigRecord, ExecutionEvent, ExecutionRecord,
    IntervalRecord, PipelineRecord, Result, Store, StoreError,
};

/// The database file inside the data directory.
pub const FILE_NAME: &str = "canaryd.sqlite3";

/// Append only: a released migration is never edited.
pub(super) const MIGRATION_STEPS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE configs (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL UNIQUE,
        applications TEXT NOT NULL,
        format TEXT NOT NULL,
        body TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE config_applications (
        application TEXT NOT NULL,
        config_id TEXT NOT NULL REFERENCES configs(id) ON DELETE CASCADE,
        PRIMARY KEY (application, config_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX config_applications_config ON config_applications(config_id);
    -- config_id has no foreign key: an analysis keeps its config snapshot after a delete.
    CREATE TABLE analyses (
        id TEXT PRIMARY KEY NOT NULL,
        config_id TEXT,
        config_name TEXT NOT NULL,
        application TEXT,
        config_format TEXT NOT NULL,
        config_body TEXT NOT NULL,
        request TEXT NOT NULL,
        dialect TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'succeeded', 'error', 'cancelled')),
        verdict TEXT,
        score REAL,
        report TEXT,
        error TEXT,
        next_interval INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX analyses_created ON analyses(created_ms DESC, id);
    CREATE INDEX analyses_status ON analyses(status, created_ms DESC, id);
    CREATE INDEX analyses_application ON analyses(application, created_ms DESC, id);
    CREATE INDEX analyses_config_name ON analyses(config_name, created_ms DESC, id);
    CREATE TABLE intervals (
        analysis_id TEXT NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        verdict TEXT,
        score REAL,
        report TEXT,
        error TEXT,
        PRIMARY KEY (analysis_id, idx)
    ) STRICT, WITHOUT ROWID;",
    ),
    // Pipelines. `pipeline_names` remembers the last version of every name ever written, so
    // a version is never reused after a delete: an execution's (pipeline, version) always
    // names the spec it ran. Executions have no foreign key to `pipelines`: they keep their
    // rows after the pipeline is deleted. The status values belong to the state machine;
    // only `running` and `paused` (unfinished) are known here, by the partial index.
    M::up(
        "CREATE TABLE pipeline_names (
        name TEXT PRIMARY KEY NOT NULL,
        last_version INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE pipelines (
        name TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version > 0),
        body TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (name, version)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE executions (
        id TEXT PRIMARY KEY NOT NULL,
        pipeline TEXT NOT NULL,
        version INTEGER NOT NULL,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        seq INTEGER NOT NULL CHECK (seq >= 0),
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX executions_created ON executions(created_ms DESC, id);
    CREATE INDEX executions_pipeline ON executions(pipeline, created_ms DESC, id);
    CREATE INDEX executions_unfinished ON executions(created_ms, id)
        WHERE status IN ('running', 'paused');
    CREATE TABLE execution_events (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL CHECK (seq > 0),
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (execution_id, seq)
    ) STRICT, WITHOUT ROWID;",
    ),
    // Chart data of an analysis (analysis/detail.rs): derived from what was judged, written
    // after each judged interval, read only by pages; apart from `analyses` so listing and
    // reading analyses never load it.
    M::up(
        "CREATE TABLE analysis_details (
        analysis_id TEXT PRIMARY KEY NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
        details TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;",
    ),
    // One row the readiness probe rewrites: a store that cannot be written (a full disk, a
    // read-only file) is not ready, even when it can still be read.
    M::up(
        "CREATE TABLE health (
        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
        at_ms INTEGER NOT NULL
    ) STRICT;",
    ),
];
pub(super) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_STEPS);

macro_rules! config_columns {
    () => {
        "id, name, applications, format, body, created_ms, updated_ms"
    };
}

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

/// A [`Store`] on SQLite. `Send + Sync`: the connection sits behind a mutex.
///
/// Scores are REAL columns, where SQLite keeps no NaN: a NaN score reads back as `None`.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/canaryd.sqlite3` and migrates it to the latest schema.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(FILE_NAME);
        let conn = Connection::open(&path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), %mode, "SQLite refused WAL journal mode");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        MIGRATIONS.to_latest(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// The connection. A panic while it was held cannot leave a transaction open (the
    /// transaction guard rolls back on unwind), so a poisoned lock is still usable.
    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuse every write (`on`) as a full disk or a read-only file would, or write again:
    /// the fault tests' store outage. Reads still answer.
    pub fn refuse_writes(&self, on: bool) -> Result<()> {
        self.conn()
            .pragma_update(None, "query_only", i32::from(on))
            .map_err(Into::into)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

impl From<rusqlite_migration::Error> for StoreError {
    fn from(e: rusqlite_migration::Error) -> Self {
        StoreError::Backend(format!("migration: {e}"))
    }
}

impl ToSql for AnalysisStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(
            self.as_str().as_bytes(),
        )))
    }
}

impl FromSql for AnalysisStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

fn config_from_row(row: &Row<'_>) -> rusqlite::Result<ConfigRecord> {
    Ok(ConfigRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        applications: row.get::<_, Json<Vec<String>>>(2)?.0,
        format: row.get(3)?,
        body: row.get(4)?,
        created_ms: row.get(5)?,
        updated_ms: row.get(6)?,
    })
}

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

impl Store for SqliteStore {
    fn ping(&self) -> Result<()> {
        self.conn()
            .prepare_cached("SELECT 1")?
            .query_row([], |_| Ok(()))?;
        Ok(())
    }

    fn ping_write(&self, now_ms: i64) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO health (id, at_ms) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
            )?
            .execute([now_ms])?;
        Ok(())
    }

    fn put_config(&self, rec: &ConfigRecord) -> Result<()> {
        let applications = to_json(&rec.applications)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let owner: Option<String> = tx
            .prepare_cached("SELECT id FROM configs WHERE name = ?1 AND id <> ?2")?
            .query_row([&rec.name, &rec.id], |row| row.get(0))
            .optional()?;
        if let Some(owner) = owner {
            return Err(StoreError::Conflict(format!(
                "config name {:?} is already used by config {owner}",
                rec.name
            )));
        }
        tx.prepare_cached(concat!(
            "INSERT INTO configs (",
            config_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, applications = excluded.applications, \
             format = excluded.format, body = excluded.body, \
             created_ms = excluded.created_ms, updated_ms = excluded.updated_ms"
        ))?
        .execute(params![
            rec.id,
            rec.name,
            applications,
            rec.format,
            rec.body,
            rec.created_ms,
            rec.updated_ms,
        ])?;
        tx.prepare_cached("DELETE FROM config_applications WHERE config_id = ?1")?
            .execute([&rec.id])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO config_applications (application, config_id) \
                 VALUES (?1, ?2)",
            )?;
            for application in &rec.applications {
                insert.execute([application, &rec.id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_config(&self, id: &str) -> Result<Option<ConfigRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            config_columns!(),
            " FROM configs WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], config_from_row).optional()?)
    }

    fn get_config_by_name(&self, name: &str) -> Result<Option<ConfigRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            config_columns!(),
            " FROM configs WHERE name = ?1"
        ))?;
        Ok(stmt.query_row([name], config_from_row).optional()?)
    }

    fn list_configs(&self, application: Option<&str>) -> Result<Vec<ConfigRecord>> {
        let conn = self.conn();
        let rows = match application {
            None => conn
                .prepare_cached(concat!(
                    "SELECT ",
                    config_columns!(),
                    " FROM configs ORDER BY name"
                ))?
                .query_map([], config_from_row)?
                .collect::<rusqlite::Result<_>>()?,
            Some(application) => conn
                .prepare_cached(concat!(
                    "SELECT ",
                    config_columns!(),
                    " FROM configs WHERE id IN \
                     (SELECT config_id FROM config_applications WHERE application = ?1) \
                     ORDER BY name"
                ))?
                .query_map([application], config_from_row)?
                .collect::<rusqlite::Result<_>>()?,
        };
        Ok(rows)
    }

    fn delete_config(&self, id: &str) -> Result<bool> {
        let changed = self
            .conn()
            .prepare_cached("DELETE FROM configs WHERE id = ?1")?
            .execute([id])?;
        Ok(changed > 0)
    }

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

    fn put_pipeline(&self, name: &str, body: &str, created_ms: i64) -> Result<PipelineRecord> {
        pipelines::put_pipeline(&mut self.conn(), name, body, created_ms)
    }

    fn get_pipeline(&self, name: &str, version: Option<i64>) -> Result<Option<PipelineRecord>> {
        pipelines::get_pipeline(&self.conn(), name, version)
    }

    fn list_pipelines(&self) -> Result<Vec<PipelineRecord>> {
        pipelines::list_pipelines(&self.conn())
    }

    fn delete_pipeline(&self, name: &str) -> Result<bool> {
        pipelines::delete_pipeline(&mut self.conn(), name)
    }

    fn insert_execution(&self, rec: &ExecutionRecord) -> Result<()> {
        pipelines::insert_execution(&mut self.conn(), rec)
    }

    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        pipelines::get_execution(&self.conn(), id)
    }

    fn list_executions(
        &self,
        pipeline: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<ExecutionRecord>, u64)> {
        pipelines::list_executions(&self.conn(), pipeline, limit, offset)
    }

    fn unfinished_executions(&self) -> Result<Vec<ExecutionRecord>> {
        pipelines::unfinished_executions(&self.conn())
    }

    fn apply_transition(
        &self,
        id: &str,
        expected_seq: i64,
        status: &str,
        state: &serde_json::Value,
        updated_ms: i64,
        events: &[ExecutionEvent],
    ) -> Result<bool> {
        let transition = pipelines::Transition {
            id,
            expected_seq,
            status,
            state,
            updated_ms,
            events,
        };
        pipelines::apply_transition(&mut self.conn(), &transition)
    }

    fn execution_events(&self, id: &str, after_seq: Option<i64>) -> Result<Vec<ExecutionEvent>> {
        pipelines::execution_events(&self.conn(), id, after_seq)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(id: &str, name: &str, applications: &[&str]) -> ConfigRecord {
        ConfigRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            applications: applications.iter().map(|a| a.to_string()).collect(),
            format: "toml".to_owned(),
            body: format!("name = \"{name}\"\n"),
            created_ms: 1_000,
            updated_ms: 2_000,
        }
    }

    fn analysis(id: &str, application: &str, config_name: &str, created_ms: i64) -> AnalysisRecord {
        AnalysisRecord {
            id: id.to_owned(),
            config_id: Some(format!("cfg-{config_name}")),
            config_name: config_name.to_owned(),
            application: Some(application.to_owned()),
            config_format: "json".to_owned(),
            config_body: "{\"name\": \"x\"}".to_owned(),
            request: json!({"scopes": {"canary": "c", "baseline": "b"}, "window_s": 600}),
            dialect: "canaryd".to_owned(),
            status: AnalysisStatus::Running,
            verdict: None,
            score: None,
            report: None,
            error: None,
            next_interval: 0,
            created_ms,
            updated_ms: created_ms,
        }
    }

    fn interval(analysis_id: &str, index: i64) -> IntervalRecord {
        IntervalRecord {
            analysis_id: analysis_id.to_owned(),
            index,
            at_ms: 60_000 * (index + 1),
            outcome: "judged".to_owned(),
            verdict: Some("pass".to_owned()),
            score: Some(97.5),
            report: Some(json!({"metrics": [{"name": "latency", "score": 1.0}]})),
            error: None,
        }
    }

    /// The analysis after judging `interval`, as a worker would write it.
    fn advanced(mut rec: AnalysisRecord, interval: &IntervalRecord) -> AnalysisRecord {
        rec.verdict = interval.verdict.clone();
        rec.score = interval.score;
        rec.report = interval.report.clone();
        rec.next_interval = interval.index + 1;
        rec.updated_ms = interval.at_ms;
        rec
    }

    fn store() -> SqliteStore {
        SqliteStore::in_memory().expect("in-memory store")
    }

    fn ids(recs: &[AnalysisRecord]) -> Vec<&str> {
        recs.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().expect("valid migrations");
    }

    #[test]
    fn status_names_round_trip() {
        for status in AnalysisStatus::ALL {
            assert_eq!(status.as_str().parse::<AnalysisStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                json!(status.as_str())
            );
            assert_eq!(status.is_final(), status != AnalysisStatus::Running);
        }
        assert!("done".parse::<AnalysisStatus>().is_err());
    }

    #[test]
    fn details_are_replaced_and_belong_to_an_analysis() {
        let store = store();
        assert!(matches!(
            store.put_details("nope", "[]", 1),
            Err(StoreError::NotFound(_))
        ));
        store
            .insert_analysis(&analysis("a1", "shop", "c", 1))
            .unwrap();
        assert_eq!(store.get_details("a1").unwrap(), None);
        store.put_details("a1", "[1]", 2).unwrap();
        store.put_details("a1", "[2]", 3).unwrap();
        assert_eq!(store.get_details("a1").unwrap().as_deref(), Some("[2]"));
    }

    #[test]
    fn ping_answers() {
        store().ping().unwrap();
    }

    #[test]
    fn the_write_probe_fails_when_the_store_cannot_be_written() {
        let store = store();
        store.ping_write(1).unwrap();
        store.ping_write(2).unwrap();
        // As a full disk or a read-only file would: reads still answer, writes do not.
        store.conn().pragma_update(None, "query_only", 1).unwrap();
        store.ping().unwrap();
        assert!(store.ping_write(3).is_err());
        store.conn().pragma_update(None, "query_only", 0).unwrap();
        store.ping_write(4).unwrap();
    }

    #[test]
    fn config_round_trip_and_replace() {
        let store = store();
        let mut rec = config("c1", "checkout", &["shop", "web"]);
        store.put_config(&rec).unwrap();
        assert_eq!(store.get_config("c1").unwrap(), Some(rec.clone()));
        assert_eq!(
            store.get_config_by_name("checkout").unwrap(),
            Some(rec.clone())
        );
        assert_eq!(store.get_config("nope").unwrap(), None);
        assert_eq!(store.get_config_by_name("nope").unwrap(), None);

        rec.name = "checkout-v2".to_owned();
        rec.applications = vec!["shop".to_owned()];
        rec.body = "changed".to_owned();
        rec.updated_ms = 3_000;
        store.put_config(&rec).unwrap();
        assert_eq!(store.get_config("c1").unwrap(), Some(rec.clone()));
        assert_eq!(store.get_config_by_name("checkout").unwrap(), None);
        assert_eq!(store.list_configs(Some("web")).unwrap(), vec![]);
        assert_eq!(store.list_configs(Some("shop")).unwrap(), vec![rec]);
    }

    #[test]
    fn config_name_of_another_id_conflicts() {
        let store = store();
        store.put_config(&config("c1", "checkout", &[])).unwrap();
        let err = store
            .put_config(&config("c2", "checkout", &["shop"]))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(ref m) if m.contains("c1")),
            "{err}"
        );
        assert_eq!(store.get_config("c2").unwrap(), None);
        assert_eq!(store.list_configs(Some("shop")).unwrap(), vec![]);
    }

    #[test]
    fn configs_list_by_name_and_filter_by_application() {
        let store = store();
        let b = config("1", "b", &["shop"]);
        let a = config("2", "a", &["shop", "search"]);
        let c = config("3", "c", &[]);
        for rec in [&b, &a, &c] {
            store.put_config(rec).unwrap();
        }
        assert_eq!(
            store.list_configs(None).unwrap(),
            vec![a.clone(), b.clone(), c]
        );
        assert_eq!(
            store.list_configs(Some("shop")).unwrap(),
            vec![a.clone(), b]
        );
        assert_eq!(store.list_configs(Some("search")).unwrap(), vec![a]);
        assert_eq!(store.list_configs(Some("sho")).unwrap(), vec![]);
    }

    #[test]
    fn delete_config_cascades_to_applications() {
        let store = store();
        store
            .put_config(&config("c1", "checkout", &["shop"]))
            .unwrap();
        assert!(store.delete_config("c1").unwrap());
        assert!(!store.delete_config("c1").unwrap());
        assert_eq!(store.get_config("c1").unwrap(), None);
        let left: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM config_applications", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(left, 0);
        // The name is free again.
        store.put_config(&config("c2", "checkout", &[])).unwrap();
    }

    #[test]
    fn analysis_round_trip_and_duplicate_id() {
        let store = store();
        let mut rec = analysis("a1", "shop", "checkout", 10);
        rec.config_id = None;
        rec.application = None;
        store.insert_analysis(&rec).unwrap();
        assert_eq!(store.get_analysis("a1").unwrap(), Some(rec.clone()));
        assert_eq!(store.get_analysis("a2").unwrap(), None);

        let full = AnalysisRecord {
            id: "a2".to_owned(),
            status: AnalysisStatus::Succeeded,
            verdict: Some("marginal".to_owned()),
            score: Some(61.25),
            report: Some(json!({"verdict": "marginal", "metrics": []})),
            error: Some("one collector timed out".to_owned()),
            next_interval: 7,
            ..analysis("a2", "shop", "checkout", 20)
        };
        store.insert_analysis(&full).unwrap();
        assert_eq!(store.get_analysis("a2").unwrap(), Some(full.clone()));

        let err = store.insert_analysis(&AnalysisRecord {
            config_body: "other".into(),
            ..full.clone()
        });
        assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
        assert_eq!(store.get_analysis("a2").unwrap(), Some(full));
    }

    #[test]
    fn list_filters_pages_and_counts() {
        let store = store();
        // created_ms ties between a3 and a4 are broken by id.
        let recs = [
            analysis("a1", "shop", "checkout", 100),
            analysis("a2", "search", "query", 200),
            analysis("a4", "shop", "query", 300),
            analysis("a3", "shop", "checkout", 300),
            analysis("a5", "shop", "checkout", 400),
        ];
        for rec in &recs {
            store.insert_analysis(rec).unwrap();
        }
        let mut done = recs[4].clone();
        done.status = AnalysisStatus::Succeeded;
        store.update_analysis(&done).unwrap();

        let (all, total) = store.list_analyses(&AnalysisQuery::default()).unwrap();
        assert_eq!((ids(&all), total), (vec!["a5", "a3", "a4", "a2", "a1"], 5));
        assert_eq!(all[0], done);

        let page = |q: AnalysisQuery| {
            let (recs, total) = store.list_analyses(&q).unwrap();
            (ids(&recs).join(","), total)
        };
        let shop = || AnalysisQuery {
            application: Some("shop".into()),
            ..Default::default()
        };
        assert_eq!(page(shop()), ("a5,a3,a4,a1".into(), 4));
        assert_eq!(
            page(AnalysisQuery { limit: 2, ..shop() }),
            ("a5,a3".into(), 4)
        );
        assert_eq!(
            page(AnalysisQuery {
                limit: 2,
                offset: 2,
                ..shop()
            }),
            ("a4,a1".into(), 4)
        );
        assert_eq!(
            page(AnalysisQuery {
                limit: 2,
                offset: 4,
                ..shop()
            }),
            ("".into(), 4)
        );
        assert_eq!(
            page(AnalysisQuery {
                config_name: Some("checkout".into()),
                ..shop()
            }),
            ("a5,a3,a1".into(), 3)
        );
        assert_eq!(
            page(AnalysisQuery {
                status: Some(AnalysisStatus::Running),
                config_name: Some("checkout".into()),
                ..shop()
            }),
            ("a3,a1".into(), 2)
        );
        assert_eq!(
            page(AnalysisQuery {
                status: Some(AnalysisStatus::Succeeded),
                ..Default::default()
            }),
            ("a5".into(), 1)
        );
        assert_eq!(
            page(AnalysisQuery {
                config_name: Some("query".into()),
                ..Default::default()
            }),
            ("a4,a2".into(), 2)
        );
        assert_eq!(
            page(AnalysisQuery {
                application: Some("none".into()),
                ..Default::default()
            }),
            ("".into(), 0)
        );
        assert_eq!(
            ids(&store.unfinished_analyses().unwrap()),
            vec!["a1", "a2", "a3", "a4"]
        );
    }

    #[test]
    fn limit_defaults_and_caps() {
        let store = store();
        for i in 0..1_005 {
            store
                .insert_analysis(&analysis(&format!("a{i:04}"), "shop", "c", i))
                .unwrap();
        }
        let (recs, total) = store.list_analyses(&AnalysisQuery::default()).unwrap();
        assert_eq!((recs.len(), total), (50, 1_005));
        assert_eq!(recs[0].id, "a1004");
        let (recs, _) = store
            .list_analyses(&AnalysisQuery {
                limit: 5_000,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(recs.len(), 1_000);
    }

    #[test]
    fn summaries_are_intervals_without_reports() {
        let store = store();
        let rec = analysis("s1", "shop", "checkout", 10);
        store.insert_analysis(&rec).unwrap();
        let first = interval("s1", 0);
        assert!(first.report.is_some());
        assert!(
            store
                .record_interval(&advanced(rec, &first), &first)
                .unwrap()
        );
        let full = store.intervals("s1").unwrap();
        let summary = store.interval_summaries("s1").unwrap();
        assert_eq!(full.len(), 1);
        assert_eq!(
            summary,
            vec![IntervalRecord {
                report: None,
                ..full[0].clone()
            }]
        );
    }

    #[test]
    fn notes_only_touch_running_analyses() {
        let store = store();
        let mut rec = analysis("n1", "shop", "checkout", 10);
        store.insert_analysis(&rec).unwrap();
        assert!(store.note_running("n1", Some("waiting"), 11).unwrap());
        assert_eq!(
            store.get_analysis("n1").unwrap().unwrap().error.as_deref(),
            Some("waiting")
        );
        rec.status = AnalysisStatus::Cancelled;
        rec.error = Some("cancelled".into());
        assert!(store.finish_analysis(&rec).unwrap());
        assert!(!store.note_running("n1", Some("waiting"), 12).unwrap());
        assert_eq!(
            store.get_analysis("n1").unwrap().unwrap().error.as_deref(),
            Some("cancelled")
        );
    }

    #[test]
    fn record_interval_applies_once() {
        let store = store();
        let rec = analysis("a1", "shop", "checkout", 10);
        store.insert_analysis(&rec).unwrap();
        let first = interval("a1", 0);
        let after_first = advanced(rec.clone(), &first);
        assert!(store.record_interval(&after_first, &first).unwrap());
        assert_eq!(store.get_analysis("a1").unwrap(), Some(after_first.clone()));

        // The same index again — say after a restart — with different results: nothing changes.
        let again = IntervalRecord {
            verdict: Some("fail".into()),
            score: Some(3.0),
            ..first.clone()
        };
        let after_again = AnalysisRecord {
            status: AnalysisStatus::Error,
            error: Some("boom".into()),
            ..advanced(after_first.clone(), &again)
        };
        assert!(!store.record_interval(&after_again, &again).unwrap());
        assert_eq!(store.get_analysis("a1").unwrap(), Some(after_first.clone()));
        assert_eq!(store.intervals("a1").unwrap(), vec![first.clone()]);

        let outage = IntervalRecord {
            outcome: "outage".into(),
            verdict: None,
            score: None,
            report: None,
            error: Some("prometheus unreachable".into()),
            ..interval("a1", 1)
        };
        let after_outage = advanced(after_first, &outage);
        assert!(store.record_interval(&after_outage, &outage).unwrap());
        assert_eq!(store.get_analysis("a1").unwrap(), Some(after_outage));
        assert_eq!(store.intervals("a1").unwrap(), vec![first, outage]);
        assert_eq!(store.intervals("other").unwrap(), vec![]);
    }

    #[test]
    fn record_interval_keeps_a_cancel() {
        let store = store();
        let rec = analysis("a1", "shop", "checkout", 10);
        store.insert_analysis(&rec).unwrap();
        let cancelled = AnalysisRecord {
            status: AnalysisStatus::Cancelled,
            updated_ms: 20,
            ..rec.clone()
        };
        store.update_analysis(&cancelled).unwrap();
        // The worker judged interval 0 before it saw the cancel.
        let first = interval("a1", 0);
        assert!(
            store
                .record_interval(&advanced(rec, &first), &first)
                .unwrap()
        );
        assert_eq!(store.get_analysis("a1").unwrap(), Some(cancelled));
        assert_eq!(store.intervals("a1").unwrap(), vec![first]);
    }

    #[test]
    fn record_interval_of_unknown_analysis_fails() {
        let store = store();
        let rec = analysis("ghost", "shop", "checkout", 10);
        let err = store
            .record_interval(&rec, &interval("ghost", 0))
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        store.insert_analysis(&rec).unwrap();
        let err = store
            .record_interval(&rec, &interval("other", 0))
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert_eq!(store.intervals("ghost").unwrap(), vec![]);
    }

    #[test]
    fn finish_is_compare_and_set() {
        let store = store();
        let rec = analysis("a1", "shop", "checkout", 10);
        store.insert_analysis(&rec).unwrap();
        let cancelled = AnalysisRecord {
            status: AnalysisStatus::Cancelled,
            updated_ms: 20,
            ..rec.clone()
        };
        store.update_analysis(&cancelled).unwrap();
        let finished = AnalysisRecord {
            status: AnalysisStatus::Succeeded,
            verdict: Some("pass".into()),
            score: Some(100.0),
            updated_ms: 30,
            ..rec.clone()
        };
        assert!(!store.finish_analysis(&finished).unwrap());
        assert_eq!(store.get_analysis("a1").unwrap(), Some(cancelled));

        store
            .insert_analysis(&analysis("a2", "shop", "checkout", 10))
            .unwrap();
        let finished = AnalysisRecord {
            id: "a2".into(),
            ..finished
        };
        assert!(store.finish_analysis(&finished).unwrap());
        assert_eq!(store.get_analysis("a2").unwrap(), Some(finished.clone()));
        assert!(!store.finish_analysis(&finished).unwrap());

        let ghost = AnalysisRecord {
            id: "ghost".into(),
            ..finished
        };
        assert!(matches!(
            store.finish_analysis(&ghost),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.update_analysis(&ghost),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn counts_by_status_and_verdict() {
        let store = store();
        let outcomes = [
            ("a1", AnalysisStatus::Running, None),
            ("a2", AnalysisStatus::Succeeded, Some("pass")),
            ("a3", AnalysisStatus::Succeeded, Some("pass")),
            ("a4", AnalysisStatus::Succeeded, Some("fail")),
            ("a5", AnalysisStatus::Cancelled, None),
        ];
        for (id, status, verdict) in outcomes {
            let rec = AnalysisRecord {
                status,
                verdict: verdict.map(str::to_owned),
                ..analysis(id, "shop", "checkout", 1)
            };
            store.insert_analysis(&rec).unwrap();
        }
        let mut counts = store.count_by_status().unwrap();
        counts.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        assert_eq!(
            counts,
            vec![
                (AnalysisStatus::Cancelled, None, 1),
                (AnalysisStatus::Running, None, 1),
                (AnalysisStatus::Succeeded, Some("fail".to_owned()), 1),
                (AnalysisStatus::Succeeded, Some("pass".to_owned()), 2),
            ]
        );
    }

    fn user_version(store: &SqliteStore) -> i64 {
        store
            .conn()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn data_survives_reopen_and_migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested").join("data");
        let cfg = config("c1", "checkout", &["shop"]);
        let rec = analysis("a1", "shop", "checkout", 10);
        let first = interval("a1", 0);
        {
            let store = SqliteStore::open(&data).unwrap();
            assert_eq!(user_version(&store), MIGRATION_STEPS.len() as i64);
            let mode: String = store
                .conn()
                .pragma_query_value(None, "journal_mode", |row| row.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
            store.put_config(&cfg).unwrap();
            store.insert_analysis(&rec).unwrap();
            assert!(
                store
                    .record_interval(&advanced(rec.clone(), &first), &first)
                    .unwrap()
            );
        }
        assert!(data.join(FILE_NAME).is_file());
        for _ in 0..2 {
            let store = SqliteStore::open(&data).unwrap();
            assert_eq!(user_version(&store), MIGRATION_STEPS.len() as i64);
            let fk: i64 = store
                .conn()
                .pragma_query_value(None, "foreign_keys", |row| row.get(0))
                .unwrap();
            assert_eq!(fk, 1);
            assert_eq!(store.get_config("c1").unwrap(), Some(cfg.clone()));
            assert_eq!(store.list_configs(Some("shop")).unwrap(), vec![cfg.clone()]);
            assert_eq!(
                store.get_analysis("a1").unwrap(),
                Some(advanced(rec.clone(), &first))
            );
            assert_eq!(store.intervals("a1").unwrap(), vec![first.clone()]);
            // Still applied once across restarts.
            assert!(!store.record_interval(&rec, &first).unwrap());
        }
    }

    /// The hot queries are answered from an index (no table scan, no sort of the whole result).
    #[test]
    fn queries_use_indexes() {
        let store = store();
        let conn = store.conn();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map([], |row| row.get::<_, String>(3)).unwrap();
            rows.map(|row| row.unwrap()).collect::<Vec<_>>().join("; ")
        };
        let queries = [
            (
                "SELECT * FROM analyses WHERE id = 'x'",
                "SEARCH analyses USING INDEX sqlite_autoindex_analyses_1",
            ),
            (
                "SELECT * FROM analyses ORDER BY created_ms DESC, id LIMIT 50",
                "SCAN analyses USING INDEX analyses_created",
            ),
            (
                "SELECT * FROM analyses WHERE application = 'x' ORDER BY created_ms DESC, id LIMIT 50",
                "SEARCH analyses USING INDEX analyses_application",
            ),
            (
                "SELECT * FROM analyses WHERE config_name = 'x' ORDER BY created_ms DESC, id LIMIT 5",
                "SEARCH analyses USING INDEX analyses_config_name",
            ),
            (
                "SELECT * FROM analyses WHERE status = 'running' ORDER BY created_ms DESC, id LIMIT 5",
                "SEARCH analyses USING INDEX analyses_status",
            ),
            (
                "SELECT COUNT(*) FROM analyses WHERE application = 'x'",
                "SEARCH analyses USING COVERING INDEX analyses_application",
            ),
            (
                "SELECT * FROM intervals WHERE analysis_id = 'x' ORDER BY idx",
                "SEARCH intervals USING PRIMARY KEY",
            ),
            (
                "SELECT * FROM configs WHERE name = 'x'",
                "SEARCH configs USING INDEX sqlite_autoindex_configs_2",
            ),
        ];
        for (sql, expected) in queries {
            let plan = plan(sql);
            assert!(plan.starts_with(expected), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }
}
