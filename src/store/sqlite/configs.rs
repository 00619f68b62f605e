//! The canary configs of [`SqliteStore`]: [`ConfigStore`].

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::json::{Json, to_json};
use crate::store::{ConfigRecord, ConfigStore, Result, StoreError};

macro_rules! config_columns {
    () => {
        "id, name, applications, format, body, created_ms, updated_ms"
    };
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

impl ConfigStore for SqliteStore {
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
}
