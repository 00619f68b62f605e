//! JSON in TEXT columns: reading ([`Json`]) and writing ([`to_json`]).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};

use crate::store::{Result, StoreError};

/// A JSON value read from a TEXT column.
pub(super) struct Json<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned> FromSql for Json<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Text(text) => serde_json::from_slice(text)
                .map(Json)
                .map_err(|e| FromSqlError::Other(Box::new(e))),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

pub(super) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("JSON encoding: {e}")))
}

pub(super) fn to_json_opt(value: Option<&serde_json::Value>) -> Result<Option<String>> {
    value.map(to_json).transpose()
}
