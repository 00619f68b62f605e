//! [`SqliteStore`]: the [`Store`] in one SQLite file (`canaryd.sqlite3`), in WAL mode.
//!
//! One connection behind a mutex serves reads and writes; every statement is prepared once
//! and cached. Writes that touch several rows run in an `IMMEDIATE` transaction, so another
//! process sharing the file waits (busy timeout 5 s) instead of failing half way. The schema
//! is versioned by `rusqlite_migration` in `PRAGMA user_version`; JSON columns are TEXT.
//!
//! One file per concern: the schema (its migrations), the connection and the health checks
//! here; configs in `configs.rs`, analyses and intervals in `analyses.rs`, pipelines and
//! executions in `pipelines.rs`; the JSON columns' conversions in `json.rs`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql};
use rusqlite_migration::{M, Migrations};

mod analyses;
mod configs;
mod json;
mod pipelines;

use super::{AnalysisStatus, Result, Store, StoreError};

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
}

#[cfg(test)]
mod tests;
