//! The pipelines, executions and event logs of [`SqliteStore`]: [`PipelineStore`], on
//! functions of its connection. The tables are migration 2 in `sqlite/mod.rs`.
//!
//! Every multi-row write runs in an `IMMEDIATE` transaction, so the checks it makes (a
//! running execution blocks a delete, a deleted pipeline cannot get a new execution, the
//! expected `seq` of a transition) hold until it commits.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::json::{Json, to_json};
use crate::store::{
    ExecutionEvent, ExecutionRecord, PipelineRecord, PipelineStore, Result, StoreError, page_limit,
};

macro_rules! pipeline_columns {
    () => {
        "name, version, body, created_ms"
    };
}

macro_rules! execution_columns {
    () => {
        "id, pipeline, version, trigger, status, state, seq, created_ms, updated_ms"
    };
}

/// The condition of an unfinished execution; written exactly as in the partial index
/// `executions_unfinished`, so that SQLite can use it.
macro_rules! unfinished {
    () => {
        "status IN ('running', 'paused')"
    };
}

/// The arguments of [`PipelineStore::apply_transition`](crate::store::PipelineStore::apply_transition).
struct Transition<'a> {
    pub id: &'a str,
    pub expected_seq: i64,
    pub status: &'a str,
    pub state: &'a serde_json::Value,
    pub updated_ms: i64,
    pub events: &'a [ExecutionEvent],
}

fn pipeline_from_row(row: &Row<'_>) -> rusqlite::Result<PipelineRecord> {
    Ok(PipelineRecord {
        name: row.get(0)?,
        version: row.get(1)?,
        body: row.get(2)?,
        created_ms: row.get(3)?,
    })
}

fn execution_from_row(row: &Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        id: row.get(0)?,
        pipeline: row.get(1)?,
        version: row.get(2)?,
        trigger: row.get::<_, Json<serde_json::Value>>(3)?.0,
        status: row.get(4)?,
        state: row.get::<_, Json<serde_json::Value>>(5)?.0,
        seq: row.get(6)?,
        created_ms: row.get(7)?,
        updated_ms: row.get(8)?,
    })
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<ExecutionEvent> {
    Ok(ExecutionEvent {
        execution_id: row.get(0)?,
        seq: row.get(1)?,
        at_ms: row.get(2)?,
        kind: row.get(3)?,
        detail: row.get::<_, Json<serde_json::Value>>(4)?.0,
    })
}

fn put_pipeline(
    conn: &mut Connection,
    name: &str,
    body: &str,
    created_ms: i64,
) -> Result<PipelineRecord> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx
        .prepare_cached(
            "INSERT INTO pipeline_names (name, last_version) VALUES (?1, 1) \
             ON CONFLICT (name) DO UPDATE SET last_version = last_version + 1 \
             RETURNING last_version",
        )?
        .query_row([name], |row| row.get(0))?;
    let rec = PipelineRecord {
        name: name.to_owned(),
        version,
        body: body.to_owned(),
        created_ms,
    };
    tx.prepare_cached(concat!(
        "INSERT INTO pipelines (",
        pipeline_columns!(),
        ") VALUES (?1, ?2, ?3, ?4)"
    ))?
    .execute(params![rec.name, rec.version, rec.body, rec.created_ms])?;
    tx.commit()?;
    Ok(rec)
}

fn get_pipeline(
    conn: &Connection,
    name: &str,
    version: Option<i64>,
) -> Result<Option<PipelineRecord>> {
    let found = match version {
        Some(version) => conn
            .prepare_cached(concat!(
                "SELECT ",
                pipeline_columns!(),
                " FROM pipelines WHERE name = ?1 AND version = ?2"
            ))?
            .query_row(params![name, version], pipeline_from_row)
            .optional()?,
        None => conn
            .prepare_cached(concat!(
                "SELECT ",
                pipeline_columns!(),
                " FROM pipelines WHERE name = ?1 ORDER BY version DESC LIMIT 1"
            ))?
            .query_row([name], pipeline_from_row)
            .optional()?,
    };
    Ok(found)
}

fn list_pipelines(conn: &Connection) -> Result<Vec<PipelineRecord>> {
    // With a lone MAX(), SQLite takes the other (bare) columns from the row holding the max.
    let rows = conn
        .prepare_cached(
            "SELECT name, MAX(version), body, created_ms FROM pipelines \
             GROUP BY name ORDER BY name",
        )?
        .query_map([], pipeline_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

fn delete_pipeline(conn: &mut Connection, name: &str) -> Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let active: Option<(String, String)> = tx
        .prepare_cached(concat!(
            "SELECT id, status FROM executions WHERE pipeline = ?1 AND ",
            unfinished!(),
            " LIMIT 1"
        ))?
        .query_row([name], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    if let Some((id, status)) = active {
        return Err(StoreError::Conflict(format!(
            "pipeline {name:?} has a {status} execution {id}"
        )));
    }
    let deleted = tx
        .prepare_cached("DELETE FROM pipelines WHERE name = ?1")?
        .execute([name])?;
    tx.commit()?;
    Ok(deleted > 0)
}

fn insert_execution(conn: &mut Connection, rec: &ExecutionRecord) -> Result<()> {
    let trigger = to_json(&rec.trigger)?;
    let state = to_json(&rec.state)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let pipeline_exists = tx
        .prepare_cached("SELECT 1 FROM pipelines WHERE name = ?1 AND version = ?2")?
        .query_row(params![rec.pipeline, rec.version], |_| Ok(()))
        .optional()?
        .is_some();
    if !pipeline_exists {
        return Err(StoreError::NotFound(format!(
            "pipeline {:?} version {}",
            rec.pipeline, rec.version
        )));
    }
    let inserted = tx
        .prepare_cached(concat!(
            "INSERT INTO executions (",
            execution_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING"
        ))?
        .execute(params![
            rec.id,
            rec.pipeline,
            rec.version,
            trigger,
            rec.status,
            state,
            rec.seq,
            rec.created_ms,
            rec.updated_ms,
        ])?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "execution {} already exists",
            rec.id
        )));
    }
    tx.commit()?;
    Ok(())
}

fn get_execution(conn: &Connection, id: &str) -> Result<Option<ExecutionRecord>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        execution_columns!(),
        " FROM executions WHERE id = ?1"
    ))?;
    Ok(stmt.query_row([id], execution_from_row).optional()?)
}

fn list_executions(
    conn: &Connection,
    pipeline: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<(Vec<ExecutionRecord>, u64)> {
    let limit = i64::from(page_limit(limit));
    let offset = i64::from(offset);
    let (total, page): (i64, Vec<_>) = match pipeline {
        None => (
            conn.prepare_cached("SELECT COUNT(*) FROM executions")?
                .query_row([], |row| row.get(0))?,
            conn.prepare_cached(concat!(
                "SELECT ",
                execution_columns!(),
                " FROM executions ORDER BY created_ms DESC, id LIMIT ?1 OFFSET ?2"
            ))?
            .query_map([limit, offset], execution_from_row)?
            .collect::<rusqlite::Result<_>>()?,
        ),
        Some(pipeline) => (
            conn.prepare_cached("SELECT COUNT(*) FROM executions WHERE pipeline = ?1")?
                .query_row([pipeline], |row| row.get(0))?,
            conn.prepare_cached(concat!(
                "SELECT ",
                execution_columns!(),
                " FROM executions WHERE pipeline = ?1 \
                 ORDER BY created_ms DESC, id LIMIT ?2 OFFSET ?3"
            ))?
            .query_map(params![pipeline, limit, offset], execution_from_row)?
            .collect::<rusqlite::Result<_>>()?,
        ),
    };
    Ok((page, total.try_into().unwrap_or(0)))
}

fn unfinished_executions(conn: &Connection) -> Result<Vec<ExecutionRecord>> {
    let rows = conn
        .prepare_cached(concat!(
            "SELECT ",
            execution_columns!(),
            " FROM executions WHERE ",
            unfinished!(),
            " ORDER BY created_ms, id"
        ))?
        .query_map([], execution_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

fn apply_transition(conn: &mut Connection, t: &Transition<'_>) -> Result<bool> {
    if let Some(stray) = t.events.iter().find(|e| e.execution_id != t.id) {
        return Err(StoreError::Conflict(format!(
            "event of execution {} applied to execution {}",
            stray.execution_id, t.id
        )));
    }
    let state = to_json(t.state)?;
    let details = t
        .events
        .iter()
        .map(|e| to_json(&e.detail))
        .collect::<Result<Vec<_>>>()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx
        .prepare_cached(
            "UPDATE executions SET status = ?3, state = ?4, seq = ?2 + 1, updated_ms = ?5 \
             WHERE id = ?1 AND seq = ?2",
        )?
        .execute(params![t.id, t.expected_seq, t.status, state, t.updated_ms])?;
    if changed == 0 {
        // Dropping the transaction rolls it back; it has changed nothing anyway.
        let exists = tx
            .prepare_cached("SELECT 1 FROM executions WHERE id = ?1")?
            .query_row([t.id], |_| Ok(()))
            .optional()?
            .is_some();
        return if exists {
            Ok(false)
        } else {
            Err(StoreError::NotFound(format!("execution {}", t.id)))
        };
    }
    if !t.events.is_empty() {
        let last: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(MAX(seq), 0) FROM execution_events WHERE execution_id = ?1",
            )?
            .query_row([t.id], |row| row.get(0))?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO execution_events (execution_id, seq, at_ms, kind, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for ((event, detail), seq) in t.events.iter().zip(&details).zip(last + 1..) {
            insert.execute(params![t.id, seq, event.at_ms, event.kind, detail])?;
        }
    }
    tx.commit()?;
    Ok(true)
}

fn execution_events(
    conn: &Connection,
    id: &str,
    after_seq: Option<i64>,
) -> Result<Vec<ExecutionEvent>> {
    let rows = conn
        .prepare_cached(
            "SELECT execution_id, seq, at_ms, kind, detail FROM execution_events \
             WHERE execution_id = ?1 AND seq > ?2 ORDER BY seq",
        )?
        .query_map(params![id, after_seq.unwrap_or(0)], event_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

impl PipelineStore for SqliteStore {
    fn put_pipeline(&self, name: &str, body: &str, created_ms: i64) -> Result<PipelineRecord> {
        put_pipeline(&mut self.conn(), name, body, created_ms)
    }

    fn get_pipeline(&self, name: &str, version: Option<i64>) -> Result<Option<PipelineRecord>> {
        get_pipeline(&self.conn(), name, version)
    }

    fn list_pipelines(&self) -> Result<Vec<PipelineRecord>> {
        list_pipelines(&self.conn())
    }

    fn delete_pipeline(&self, name: &str) -> Result<bool> {
        delete_pipeline(&mut self.conn(), name)
    }

    fn insert_execution(&self, rec: &ExecutionRecord) -> Result<()> {
        insert_execution(&mut self.conn(), rec)
    }

    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        get_execution(&self.conn(), id)
    }

    fn list_executions(
        &self,
        pipeline: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<ExecutionRecord>, u64)> {
        list_executions(&self.conn(), pipeline, limit, offset)
    }

    fn unfinished_executions(&self) -> Result<Vec<ExecutionRecord>> {
        unfinished_executions(&self.conn())
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
        let transition = Transition {
            id,
            expected_seq,
            status,
            state,
            updated_ms,
            events,
        };
        apply_transition(&mut self.conn(), &transition)
    }

    fn execution_events(&self, id: &str, after_seq: Option<i64>) -> Result<Vec<ExecutionEvent>> {
        execution_events(&self.conn(), id, after_seq)
    }
}

#[cfg(test)]
mod tests;
