//! The persistent store of `canaryd serve`: canary configs, analyses and the intervals
//! judged for them; pipeline specs (versioned), their executions and execution event logs.
//!
//! [`Store`] is synchronous — the server calls it from `tokio::task::spawn_blocking` — and
//! object safe, so the daemon holds an `Arc<dyn Store>`. [`SqliteStore`] is the
//! implementation (one SQLite file in WAL mode); the records here are plain data, with the
//! JSON parts (`request`, `report`) kept as the caller wrote them.
//!
//! Restart safety rests on [`AnalysisStore::record_interval`]: an interval and the analysis state
//! it produced are written in one transaction, and an interval already recorded is never
//! recorded (or applied) again. Pipeline executions rest on [`PipelineStore::apply_transition`] in
//! the same way: a compare-and-set on the execution's transition count, with the events of
//! the transition appended in the same transaction.

pub mod sqlite;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use sqlite::SqliteStore;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule was broken, e.g. a config name already used by another id.
    #[error("conflict: {0}")]
    Conflict(String),
    /// SQLite or I/O failed; the message is kept.
    #[error("store error: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A stored canary config: the text as written (re-parsed by the caller on load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigRecord {
    pub id: String,
    /// Unique among configs.
    pub name: String,
    pub applications: Vec<String>,
    /// `"toml"`, `"json"` or `"yaml"`.
    pub format: String,
    pub body: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl ConfigRecord {
    /// The record of a config written at `now_ms`: it replaces `existing` (same name)
    /// when there is one, keeping its id and creation time, or gets a new id.
    pub fn written(
        existing: Option<&ConfigRecord>,
        name: &str,
        applications: &[String],
        format: &str,
        body: String,
        now_ms: i64,
    ) -> ConfigRecord {
        ConfigRecord {
            id: existing.map_or_else(|| uuid::Uuid::new_v4().to_string(), |e| e.id.clone()),
            name: name.to_string(),
            applications: applications.to_vec(),
            format: format.to_string(),
            body,
            created_ms: existing.map_or(now_ms, |e| e.created_ms),
            updated_ms: now_ms,
        }
    }
}

/// Where an analysis is in its life; every status but `Running` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisStatus {
    Running,
    Succeeded,
    Error,
    Cancelled,
}

impl AnalysisStatus {
    pub const ALL: [Self; 4] = [Self::Running, Self::Succeeded, Self::Error, Self::Cancelled];

    /// The name used in the API, the database and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    pub const fn is_final(self) -> bool {
        !matches!(self, Self::Running)
    }
}

impl fmt::Display for AnalysisStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`AnalysisStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown analysis status {0:?} (expected running, succeeded, error or cancelled)")]
pub struct ParseStatusError(pub String);

impl FromStr for AnalysisStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError(s.to_owned()))
    }
}

/// One analysis: what was asked (a snapshot of the config and the request) and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    pub id: String,
    /// The stored config it was created from, if any; that config may since be deleted.
    pub config_id: Option<String>,
    pub config_name: String,
    pub application: Option<String>,
    pub config_format: String,
    /// Snapshot of the config text at creation.
    pub config_body: String,
    /// Scopes, window, thresholds… as the caller stores it.
    pub request: serde_json::Value,
    /// `"canaryd"` or `"kayenta"`.
    pub dialect: String,
    pub status: AnalysisStatus,
    /// `"pass"`, `"marginal"` or `"fail"`.
    pub verdict: Option<String>,
    pub score: Option<f64>,
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
    /// Index of the next interval to judge.
    pub next_interval: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The outcome of judging one interval of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalRecord {
    pub analysis_id: String,
    pub index: i64,
    /// End of the interval, unix milliseconds.
    pub at_ms: i64,
    /// `"judged"`, `"outage"`, `"error"` (free text kind).
    pub outcome: String,
    pub verdict: Option<String>,
    pub score: Option<f64>,
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// Filters and paging of [`AnalysisStore::list_analyses`]; the filters combine with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisQuery {
    pub application: Option<String>,
    pub status: Option<AnalysisStatus>,
    pub config_name: Option<String>,
    /// 0 means [`AnalysisQuery::DEFAULT_LIMIT`]; capped at [`AnalysisQuery::MAX_LIMIT`].
    pub limit: u32,
    pub offset: u32,
}

impl AnalysisQuery {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 1000;

    /// The page size actually used.
    pub fn effective_limit(&self) -> u32 {
        page_limit(self.limit)
    }
}

/// The page size used for a requested `limit`: 0 means [`AnalysisQuery::DEFAULT_LIMIT`], and
/// it is capped at [`AnalysisQuery::MAX_LIMIT`]. Shared by every paged listing.
pub const fn page_limit(limit: u32) -> u32 {
    match limit {
        0 => AnalysisQuery::DEFAULT_LIMIT,
        n if n > AnalysisQuery::MAX_LIMIT => AnalysisQuery::MAX_LIMIT,
        n => n,
    }
}

/// A stored pipeline spec; every write is a new version (1, 2, …) of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRecord {
    pub name: String,
    /// From 1, per name; never reused, even after the pipeline is deleted and written again.
    pub version: i64,
    /// The spec as written (TOML), re-parsed by the caller on load.
    pub body: String,
    /// Unix milliseconds.
    pub created_ms: i64,
}

/// One execution of a pipeline version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub id: String,
    /// The pipeline's name; the pipeline may since be deleted.
    pub pipeline: String,
    pub version: i64,
    /// Who or what started it, the canary scope, etc., as the caller stores it.
    pub trigger: serde_json::Value,
    /// `"running"`, `"paused"`, `"succeeded"`, `"rolled_back"` or `"failed"`: free text owned
    /// by the state machine. The store knows only that `running` and `paused` are unfinished.
    pub status: String,
    /// The state machine's serialized execution.
    pub state: serde_json::Value,
    /// The number of transitions applied so far (0 at creation).
    pub seq: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One line of an execution's event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionEvent {
    pub execution_id: String,
    /// From 1 per execution, assigned by the store; the numbering has no gaps.
    pub seq: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Free text, e.g. `"stage_started"`, `"split_set"`, `"judgment"`.
    pub kind: String,
    pub detail: serde_json::Value,
}

/// Persistence of configs, analyses and intervals, pipelines and their executions: one
/// trait per concern ([`ConfigStore`], [`AnalysisStore`], [`PipelineStore`]) and the
/// health checks. A second store implements the four (see [`StoreConfig`]); callers hold an
/// `Arc<dyn Store>` and call any of them.
pub trait Store: ConfigStore + AnalysisStore + PipelineStore + Send + Sync {
    /// A trivial query, for health checks.
    fn ping(&self) -> Result<()>;
    /// Write a little (the readiness probe): fails when the store cannot be written.
    fn ping_write(&self, now_ms: i64) -> Result<()>;
}

/// Canary configs by id and name.
pub trait ConfigStore {
    /// Inserts or replaces by id; [`StoreError::Conflict`] if `name` belongs to another id.
    fn put_config(&self, rec: &ConfigRecord) -> Result<()>;
    fn get_config(&self, id: &str) -> Result<Option<ConfigRecord>>;
    fn get_config_by_name(&self, name: &str) -> Result<Option<ConfigRecord>>;
    /// Sorted by name; with `application`, only the configs whose applications contain it.
    fn list_configs(&self, application: Option<&str>) -> Result<Vec<ConfigRecord>>;
    /// False when absent.
    fn delete_config(&self, id: &str) -> Result<bool>;
}

/// Analyses, the intervals judged for them and their chart data.
pub trait AnalysisStore {
    /// [`StoreError::Conflict`] on a duplicate id.
    fn insert_analysis(&self, rec: &AnalysisRecord) -> Result<()>;
    fn get_analysis(&self, id: &str) -> Result<Option<AnalysisRecord>>;
    /// Newest first (`created_ms` descending, then id), plus the total number matching.
    fn list_analyses(&self, q: &AnalysisQuery) -> Result<(Vec<AnalysisRecord>, u64)>;
    /// Analyses still running, oldest first.
    fn unfinished_analyses(&self) -> Result<Vec<AnalysisRecord>>;

    /// Atomically (one transaction): insert `interval` unless (analysis_id, index) exists, and
    /// if inserted, write `analysis` (all mutable fields: status, verdict, score, report, error,
    /// next_interval, updated_ms). Returns false — and changes nothing — when that interval was
    /// already recorded (a restarted daemon never judges an interval twice).
    ///
    /// Like [`AnalysisStore::finish_analysis`], it never moves a final analysis back: when the stored
    /// analysis is already final (cancelled while the interval was judged), the interval is
    /// recorded but the analysis row is left as it is.
    fn record_interval(&self, analysis: &AnalysisRecord, interval: &IntervalRecord)
    -> Result<bool>;
    /// Write the mutable fields of an analysis (finish, cancel, error); [`StoreError::NotFound`]
    /// when absent.
    fn update_analysis(&self, rec: &AnalysisRecord) -> Result<()>;
    /// Finish only if still running (compare-and-set): returns false when the analysis was
    /// already final (e.g. cancelled meanwhile); [`StoreError::NotFound`] when absent.
    fn finish_analysis(&self, rec: &AnalysisRecord) -> Result<bool>;
    /// The intervals of an analysis, by index.
    /// Set the note (`error`) of a running analysis; false when it is no longer running.
    fn note_running(&self, analysis_id: &str, note: Option<&str>, updated_ms: i64) -> Result<bool>;
    fn intervals(&self, analysis_id: &str) -> Result<Vec<IntervalRecord>>;
    /// The intervals without their reports (`report` is `None`): what summaries need,
    /// without reading and parsing every interval's report.
    fn interval_summaries(&self, analysis_id: &str) -> Result<Vec<IntervalRecord>>;

    /// Store the chart data of an analysis (JSON of `Vec<analysis::detail::PairDetail>`),
    /// replacing what was there; [`StoreError::NotFound`] when the analysis is absent.
    fn put_details(&self, analysis_id: &str, details: &str, updated_ms: i64) -> Result<()>;
    /// The chart data last stored for an analysis.
    fn get_details(&self, analysis_id: &str) -> Result<Option<String>>;

    /// (status, verdict, count) of all analyses, for `/metrics`.
    fn count_by_status(&self) -> Result<Vec<(AnalysisStatus, Option<String>, u64)>>;
}

/// Pipeline specs (versioned), their executions and the executions' event logs.
pub trait PipelineStore {
    /// Stores `body` as the next version of pipeline `name` (1 for a new name) and returns it.
    fn put_pipeline(&self, name: &str, body: &str, created_ms: i64) -> Result<PipelineRecord>;
    /// The given version, or the latest when `version` is `None`.
    fn get_pipeline(&self, name: &str, version: Option<i64>) -> Result<Option<PipelineRecord>>;
    /// The latest version of each pipeline, sorted by name.
    fn list_pipelines(&self) -> Result<Vec<PipelineRecord>>;
    /// Deletes every version; false when absent. [`StoreError::Conflict`] — and nothing
    /// deleted — while the pipeline has an unfinished (running or paused) execution. The
    /// executions keep their rows.
    fn delete_pipeline(&self, name: &str) -> Result<bool>;

    /// [`StoreError::NotFound`] when the pipeline version does not exist (say, deleted
    /// meanwhile); [`StoreError::Conflict`] on a duplicate id.
    fn insert_execution(&self, rec: &ExecutionRecord) -> Result<()>;
    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>>;
    /// Newest first (`created_ms` descending, then id), of one pipeline or all, plus the total
    /// number matching. `limit` as in [`page_limit`] (0 means the default page).
    fn list_executions(
        &self,
        pipeline: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<ExecutionRecord>, u64)>;
    /// Executions running or paused, oldest first: what a restarted daemon resumes.
    fn unfinished_executions(&self) -> Result<Vec<ExecutionRecord>>;
    /// Compare-and-set: apply one transition only if the stored `seq` equals `expected_seq`.
    /// In one transaction it writes `status`, `state` and `updated_ms`, sets
    /// `seq = expected_seq + 1` and appends `events`, numbered by the store after the
    /// execution's last event (the `seq` values passed are ignored).
    ///
    /// Returns false — and changes nothing — when the stored seq differs: another writer won,
    /// or this transition was already applied (a restarted runner never applies one twice).
    /// [`StoreError::NotFound`] when the execution is absent; [`StoreError::Conflict`] when an
    /// event names another execution.
    fn apply_transition(
        &self,
        id: &str,
        expected_seq: i64,
        status: &str,
        state: &serde_json::Value,
        updated_ms: i64,
        events: &[ExecutionEvent],
    ) -> Result<bool>;
    /// The events of an execution by seq, all or only those after `after_seq`.
    fn execution_events(&self, id: &str, after_seq: Option<i64>) -> Result<Vec<ExecutionEvent>>;
}
/// Where a daemon keeps its state: the store family's config, written `sqlite:DIR` (one
/// SQLite file in that directory). A second store is one variant here, its arm in
/// [`StoreConfig::open`] and one module beside `sqlite`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StoreConfig {
    /// `sqlite:DIR`: the [`SqliteStore`] in `DIR/canaryd.sqlite3`.
    Sqlite { dir: std::path::PathBuf },
}

impl StoreConfig {
    /// Open the store (creating and migrating it as needed).
    pub fn open(&self) -> Result<Arc<dyn Store>> {
        match self {
            StoreConfig::Sqlite { dir } => Ok(Arc::new(SqliteStore::open(dir)?)),
        }
    }

    /// The directory of a store kept in local files (the daemon locks it), if any.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        match self {
            StoreConfig::Sqlite { dir } => Some(dir),
        }
    }
}

impl FromStr for StoreConfig {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (scheme, rest) = s.split_once(':').ok_or_else(|| {
            format!("store {s:?} has no scheme: write it `sqlite:DIR` (e.g. `sqlite:data`)")
        })?;
        match scheme {
            "sqlite" if !rest.is_empty() => Ok(StoreConfig::Sqlite {
                dir: std::path::PathBuf::from(rest),
            }),
            "sqlite" => {
                Err("`sqlite:` needs a directory: `sqlite:DIR` (e.g. `sqlite:data`)".into())
            }
            other => Err(format!(
                "unknown store scheme `{other}`: this canaryd keeps its state in `sqlite:DIR`"
            )),
        }
    }
}

impl TryFrom<String> for StoreConfig {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfig::Sqlite { dir } => write!(f, "sqlite:{}", dir.display()),
        }
    }
}

impl From<StoreConfig> for String {
    fn from(c: StoreConfig) -> String {
        c.to_string()
    }
}

/// Run a store call off the async threads.
pub async fn blocking<T, F>(store: &Arc<dyn Store>, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> T + Send + 'static,
{
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sqlite:DIR` round-trips through text and serde; other schemes and a missing
    /// directory are refused with what to write instead.
    #[test]
    fn store_configs_read_and_print_as_urls() {
        let c: StoreConfig = "sqlite:/var/lib/canaryd".parse().expect("sqlite");
        assert_eq!(
            c,
            StoreConfig::Sqlite {
                dir: "/var/lib/canaryd".into()
            }
        );
        assert_eq!(c.to_string(), "sqlite:/var/lib/canaryd");
        assert_eq!(
            c.local_dir(),
            Some(std::path::Path::new("/var/lib/canaryd"))
        );
        let json = serde_json::to_string(&c).expect("serialise");
        assert_eq!(json, "\"sqlite:/var/lib/canaryd\"");
        assert_eq!(
            serde_json::from_str::<StoreConfig>(&json).expect("read back"),
            c
        );
        for (bad, says) in [
            ("data", "no scheme"),
            ("sqlite:", "needs a directory"),
            ("postgres://u@h/db", "unknown store scheme `postgres`"),
        ] {
            let e = bad.parse::<StoreConfig>().expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    /// The store a config names opens, and is the same store when opened again.
    #[test]
    fn a_store_config_opens_its_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = StoreConfig::Sqlite {
            dir: dir.path().join("state"),
        };
        let store = c.open().expect("open");
        store.ping().expect("ping");
        let rec = ConfigRecord::written(None, "checkout", &[], "toml", "name = 1".into(), 1);
        store.put_config(&rec).expect("put");
        drop(store);
        let again = c.open().expect("reopen");
        assert_eq!(
            again
                .get_config_by_name("checkout")
                .expect("read")
                .map(|r| r.id),
            Some(rec.id)
        );
    }
}
