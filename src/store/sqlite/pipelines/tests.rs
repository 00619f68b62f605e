//! The pipeline store: versions, executions, compare-and-set transitions, event logs.

use serde_json::json;

use super::*;
use crate::store::ConfigStore;
use crate::store::sqlite::{FILE_NAME, MIGRATION_STEPS, MIGRATIONS};

fn store() -> SqliteStore {
    SqliteStore::in_memory().expect("in-memory store")
}

fn spec(name: &str, steps: &str) -> String {
    format!("name = \"{name}\"\n[strategy]\nkind = \"canary\"\nsteps = [{steps}]\n")
}

fn execution(id: &str, pipeline: &str, version: i64, created_ms: i64) -> ExecutionRecord {
    ExecutionRecord {
        id: id.to_owned(),
        pipeline: pipeline.to_owned(),
        version,
        trigger: json!({"by": "alice", "scope": {"canary": "v2", "baseline": "v1"}}),
        status: "running".to_owned(),
        state: json!({"target": 0, "stage": 0, "phase": "start"}),
        seq: 0,
        created_ms,
        updated_ms: created_ms,
    }
}

fn event(execution_id: &str, at_ms: i64, kind: &str) -> ExecutionEvent {
    ExecutionEvent {
        execution_id: execution_id.to_owned(),
        // Ignored by the store, which numbers the events itself.
        seq: 99,
        at_ms,
        kind: kind.to_owned(),
        detail: json!({"kind": kind, "at": at_ms}),
    }
}

/// `events` as the store numbers them: `first`, `first + 1`, …
fn numbered(events: &[ExecutionEvent], first: i64) -> Vec<ExecutionEvent> {
    events
        .iter()
        .zip(first..)
        .map(|(e, seq)| ExecutionEvent { seq, ..e.clone() })
        .collect()
}

fn ids(recs: &[ExecutionRecord]) -> Vec<&str> {
    recs.iter().map(|r| r.id.as_str()).collect()
}

fn user_version(store: &SqliteStore) -> i64 {
    store
        .conn()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[test]
fn page_limit_defaults_and_caps() {
    assert_eq!(page_limit(0), 50);
    assert_eq!(page_limit(7), 7);
    assert_eq!(page_limit(1_000), 1_000);
    assert_eq!(page_limit(1_001), 1_000);
}

#[test]
fn versions_increment_per_name() {
    let store = store();
    assert_eq!(store.get_pipeline("web", None).unwrap(), None);
    let v1 = store
        .put_pipeline("web", &spec("web", "1, 50"), 10)
        .unwrap();
    let v2 = store
        .put_pipeline("web", &spec("web", "5, 100"), 20)
        .unwrap();
    let other = store.put_pipeline("api", &spec("api", "100"), 30).unwrap();
    assert_eq!(
        v1,
        PipelineRecord {
            name: "web".into(),
            version: 1,
            body: spec("web", "1, 50"),
            created_ms: 10,
        }
    );
    assert_eq!((v2.version, other.version), (2, 1));
    assert_eq!(store.get_pipeline("web", None).unwrap(), Some(v2.clone()));
    assert_eq!(store.get_pipeline("web", Some(1)).unwrap(), Some(v1));
    assert_eq!(store.get_pipeline("web", Some(2)).unwrap(), Some(v2));
    assert_eq!(store.get_pipeline("web", Some(3)).unwrap(), None);
    assert_eq!(store.get_pipeline("api", None).unwrap(), Some(other));
    assert_eq!(store.get_pipeline("we", None).unwrap(), None);
}

#[test]
fn list_shows_the_latest_version_of_each() {
    let store = store();
    assert_eq!(store.list_pipelines().unwrap(), vec![]);
    store.put_pipeline("web", "v1", 10).unwrap();
    let api = store.put_pipeline("api", "v1", 11).unwrap();
    store.put_pipeline("web", "v2", 12).unwrap();
    let web = store.put_pipeline("web", "v3", 13).unwrap();
    assert_eq!(store.list_pipelines().unwrap(), vec![api, web]);
}

#[test]
fn delete_waits_for_unfinished_executions() {
    let store = store();
    store.put_pipeline("web", "v1", 10).unwrap();
    let v2 = store.put_pipeline("web", "v2", 11).unwrap();
    let mut rec = execution("e1", "web", 1, 20);
    store.insert_execution(&rec).unwrap();
    for status in ["running", "paused"] {
        assert!(
            store
                .apply_transition("e1", rec.seq, status, &rec.state, 21, &[])
                .unwrap()
        );
        rec.seq += 1;
        let err = store.delete_pipeline("web").unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(ref m) if m.contains("e1") && m.contains(status)),
            "{err}"
        );
        assert_eq!(store.get_pipeline("web", None).unwrap(), Some(v2.clone()));
        assert!(store.get_pipeline("web", Some(1)).unwrap().is_some());
    }
    assert!(
        store
            .apply_transition("e1", rec.seq, "rolled_back", &rec.state, 22, &[])
            .unwrap()
    );

    assert!(store.delete_pipeline("web").unwrap());
    assert!(!store.delete_pipeline("web").unwrap());
    assert_eq!(store.get_pipeline("web", None).unwrap(), None);
    assert_eq!(store.get_pipeline("web", Some(1)).unwrap(), None);
    assert_eq!(store.list_pipelines().unwrap(), vec![]);
    // The execution keeps its row, and no new one can start on the deleted spec.
    assert_eq!(
        store.get_execution("e1").unwrap().unwrap().status,
        "rolled_back"
    );
    let err = store
        .insert_execution(&execution("e2", "web", 2, 30))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    // Written again, the name goes on from the last version: e1's (web, 1) stays v1.
    assert_eq!(store.put_pipeline("web", "v3", 40).unwrap().version, 3);
    assert_eq!(store.get_pipeline("web", Some(1)).unwrap(), None);
}

#[test]
fn execution_round_trip_and_duplicate_id() {
    let store = store();
    store.put_pipeline("web", "v1", 10).unwrap();
    let rec = execution("e1", "web", 1, 20);
    store.insert_execution(&rec).unwrap();
    assert_eq!(store.get_execution("e1").unwrap(), Some(rec.clone()));
    assert_eq!(store.get_execution("e2").unwrap(), None);

    let err = store
        .insert_execution(&ExecutionRecord {
            status: "paused".into(),
            ..rec.clone()
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(store.get_execution("e1").unwrap(), Some(rec));

    let err = store
        .insert_execution(&execution("e3", "web", 2, 20))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    let err = store
        .insert_execution(&execution("e3", "api", 1, 20))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert_eq!(store.get_execution("e3").unwrap(), None);
}

#[test]
fn apply_transition_is_compare_and_set() {
    let store = store();
    store.put_pipeline("web", "v1", 10).unwrap();
    let rec = execution("e1", "web", 1, 20);
    store.insert_execution(&rec).unwrap();

    let first = [
        event("e1", 21, "stage_started"),
        event("e1", 21, "split_set"),
    ];
    let state1 = json!({"stage": 0, "phase": "await_router"});
    assert!(
        store
            .apply_transition("e1", 0, "running", &state1, 21, &first)
            .unwrap()
    );
    let after_first = ExecutionRecord {
        state: state1.clone(),
        seq: 1,
        updated_ms: 21,
        ..rec.clone()
    };
    assert_eq!(
        store.get_execution("e1").unwrap(),
        Some(after_first.clone())
    );
    assert_eq!(
        store.execution_events("e1", None).unwrap(),
        numbered(&first, 1)
    );

    // The same expected seq again — a second writer, or a runner replaying after a
    // restart — with different content: nothing changes.
    let replay = [event("e1", 22, "rolled_back")];
    let state_other = json!({"stage": 0, "phase": "rollback"});
    assert!(
        !store
            .apply_transition("e1", 0, "failed", &state_other, 22, &replay)
            .unwrap()
    );
    assert_eq!(
        store.get_execution("e1").unwrap(),
        Some(after_first.clone())
    );
    assert_eq!(
        store.execution_events("e1", None).unwrap(),
        numbered(&first, 1)
    );
    // A seq from the future is refused too.
    assert!(
        !store
            .apply_transition("e1", 5, "failed", &state_other, 22, &replay)
            .unwrap()
    );

    // A transition without events, then one with three: numbering goes on at 3.
    let state2 = json!({"stage": 1, "phase": "analysis"});
    assert!(
        store
            .apply_transition("e1", 1, "paused", &state2, 23, &[])
            .unwrap()
    );
    let third = [
        event("e1", 24, "resumed"),
        event("e1", 24, "analysis_started"),
        event("e1", 25, "note"),
    ];
    let state3 = json!({"stage": 1, "phase": "analysis", "run": 2});
    assert!(
        store
            .apply_transition("e1", 2, "running", &state3, 25, &third)
            .unwrap()
    );
    assert_eq!(
        store.get_execution("e1").unwrap(),
        Some(ExecutionRecord {
            state: state3,
            seq: 3,
            updated_ms: 25,
            ..rec
        })
    );
    let all = [numbered(&first, 1), numbered(&third, 3)].concat();
    assert_eq!(store.execution_events("e1", None).unwrap(), all);
    assert_eq!(
        store
            .execution_events("e1", None)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        store.execution_events("e1", Some(3)).unwrap(),
        all[3..].to_vec()
    );
    assert_eq!(store.execution_events("e1", Some(5)).unwrap(), vec![]);
    assert_eq!(store.execution_events("other", None).unwrap(), vec![]);
}

#[test]
fn apply_transition_checks_its_execution() {
    let store = store();
    store.put_pipeline("web", "v1", 10).unwrap();
    let state = json!({});
    let err = store
        .apply_transition("ghost", 0, "running", &state, 1, &[])
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");

    let rec = execution("e1", "web", 1, 20);
    store.insert_execution(&rec).unwrap();
    store
        .insert_execution(&execution("e2", "web", 1, 20))
        .unwrap();
    let events = [event("e1", 21, "ok"), event("e2", 21, "stray")];
    let err = store
        .apply_transition("e1", 0, "failed", &state, 21, &events)
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(store.get_execution("e1").unwrap(), Some(rec));
    assert_eq!(store.execution_events("e1", None).unwrap(), vec![]);
    assert_eq!(store.execution_events("e2", None).unwrap(), vec![]);
}

#[test]
fn unfinished_are_running_or_paused_oldest_first() {
    let store = store();
    store.put_pipeline("web", "v1", 1).unwrap();
    let outcomes = [
        ("e1", 40, "running"),
        ("e2", 10, "succeeded"),
        ("e3", 30, "paused"),
        ("e4", 20, "running"),
        ("e5", 30, "running"),
        ("e6", 5, "rolled_back"),
        ("e7", 6, "failed"),
    ];
    for (id, created_ms, status) in outcomes {
        store
            .insert_execution(&ExecutionRecord {
                status: status.into(),
                ..execution(id, "web", 1, created_ms)
            })
            .unwrap();
    }
    assert_eq!(
        ids(&store.unfinished_executions().unwrap()),
        vec!["e4", "e3", "e5", "e1"]
    );

    let state = json!({"done": true});
    assert!(
        store
            .apply_transition("e3", 0, "succeeded", &state, 50, &[])
            .unwrap()
    );
    assert!(
        store
            .apply_transition("e2", 0, "running", &state, 50, &[])
            .unwrap()
    );
    let unfinished = store.unfinished_executions().unwrap();
    assert_eq!(ids(&unfinished), vec!["e2", "e4", "e5", "e1"]);
    assert_eq!(unfinished[0].state, state);
}

#[test]
fn list_pages_newest_first_with_totals() {
    let store = store();
    store.put_pipeline("web", "v1", 1).unwrap();
    store.put_pipeline("api", "v1", 1).unwrap();
    // created_ms ties between x3 and x4 are broken by id.
    let recs = [
        execution("x1", "web", 1, 100),
        execution("x2", "api", 1, 200),
        execution("x4", "web", 1, 300),
        execution("x3", "web", 1, 300),
        execution("x5", "web", 1, 400),
    ];
    for rec in &recs {
        store.insert_execution(rec).unwrap();
    }
    let page = |pipeline: Option<&str>, limit, offset| {
        let (recs, total) = store.list_executions(pipeline, limit, offset).unwrap();
        (ids(&recs).join(","), total)
    };
    assert_eq!(page(None, 0, 0), ("x5,x3,x4,x2,x1".into(), 5));
    assert_eq!(page(None, 2, 1), ("x3,x4".into(), 5));
    assert_eq!(page(Some("web"), 0, 0), ("x5,x3,x4,x1".into(), 4));
    assert_eq!(page(Some("web"), 2, 0), ("x5,x3".into(), 4));
    assert_eq!(page(Some("web"), 2, 2), ("x4,x1".into(), 4));
    assert_eq!(page(Some("web"), 2, 4), ("".into(), 4));
    assert_eq!(page(Some("api"), 10, 0), ("x2".into(), 1));
    assert_eq!(page(Some("none"), 10, 0), ("".into(), 0));
    let (all, _) = store.list_executions(None, 0, 0).unwrap();
    assert_eq!(all[4], recs[0]);

    for i in 0..1_005 {
        store
            .insert_execution(&execution(&format!("y{i:04}"), "api", 1, 1_000 + i))
            .unwrap();
    }
    let (recs, total) = store.list_executions(Some("api"), 0, 0).unwrap();
    assert_eq!((recs.len(), total), (50, 1_006));
    assert_eq!(recs[0].id, "y1004");
    let (recs, total) = store.list_executions(None, 5_000, 0).unwrap();
    assert_eq!((recs.len(), total), (1_000, 1_010));
}

#[test]
fn executions_survive_reopen_and_migration_2_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rec = execution("e1", "web", 2, 20);
    let first = [event("e1", 21, "stage_started")];
    let state = json!({"stage": 0, "phase": "await_router"});
    {
        let store = SqliteStore::open(&data).unwrap();
        assert_eq!(user_version(&store), MIGRATION_STEPS.len() as i64);
        store.put_pipeline("web", "v1", 10).unwrap();
        store.put_pipeline("web", "v2", 11).unwrap();
        store.insert_execution(&rec).unwrap();
        assert!(
            store
                .apply_transition("e1", 0, "running", &state, 21, &first)
                .unwrap()
        );
    }
    assert!(data.join(FILE_NAME).is_file());
    let stored = ExecutionRecord {
        state: state.clone(),
        seq: 1,
        updated_ms: 21,
        ..rec
    };
    for reopen in 0..2 {
        let store = SqliteStore::open(&data).unwrap();
        assert_eq!(user_version(&store), MIGRATION_STEPS.len() as i64);
        assert_eq!(
            store.get_pipeline("web", Some(2)).unwrap().unwrap().body,
            "v2"
        );
        assert_eq!(store.get_execution("e1").unwrap(), Some(stored.clone()));
        assert_eq!(store.unfinished_executions().unwrap(), vec![stored.clone()]);
        // Still applied once across restarts: the resumed runner replays seq 0 in vain.
        assert!(
            !store
                .apply_transition("e1", 0, "running", &state, 21, &first)
                .unwrap()
        );
        assert_eq!(
            store.execution_events("e1", None).unwrap(),
            numbered(&first, 1)
        );
        assert_eq!(
            store.put_pipeline("web", "v", 30).unwrap().version,
            3 + reopen
        );
    }
}

/// A database written by the daemon before pipelines existed gets migration 2 on open,
/// with its analyses intact.
#[test]
fn version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    {
        // As the previous release left it: migration 1 only, with a config.
        let mut conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        MIGRATIONS.to_version(&mut conn, 1).unwrap();
        conn.execute(
            "INSERT INTO configs VALUES ('c1', 'checkout', '[]', 'toml', '', 1, 1)",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(user_version(&store), MIGRATION_STEPS.len() as i64);
    assert_eq!(store.get_config("c1").unwrap().unwrap().name, "checkout");
    assert_eq!(store.put_pipeline("web", "v1", 1).unwrap().version, 1);
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
            "SELECT * FROM pipelines WHERE name = 'x' ORDER BY version DESC LIMIT 1",
            "SEARCH pipelines USING PRIMARY KEY (name=?)",
        ),
        (
            "SELECT name, MAX(version), body, created_ms FROM pipelines GROUP BY name ORDER BY name",
            "SCAN pipelines",
        ),
        (
            "SELECT * FROM executions WHERE id = 'x'",
            "SEARCH executions USING INDEX sqlite_autoindex_executions_1",
        ),
        (
            "SELECT * FROM executions ORDER BY created_ms DESC, id LIMIT 50",
            "SCAN executions USING INDEX executions_created",
        ),
        (
            "SELECT * FROM executions WHERE pipeline = 'x' ORDER BY created_ms DESC, id LIMIT 50",
            "SEARCH executions USING INDEX executions_pipeline",
        ),
        (
            "SELECT COUNT(*) FROM executions WHERE pipeline = 'x'",
            "SEARCH executions USING COVERING INDEX executions_pipeline",
        ),
        (
            concat!(
                "SELECT * FROM executions WHERE ",
                unfinished!(),
                " ORDER BY created_ms, id"
            ),
            "SCAN executions USING INDEX executions_unfinished",
        ),
        (
            concat!(
                "SELECT id FROM executions WHERE pipeline = 'x' AND ",
                unfinished!(),
                " LIMIT 1"
            ),
            "SEARCH executions USING INDEX executions_pipeline",
        ),
        (
            "SELECT * FROM execution_events WHERE execution_id = 'x' AND seq > 3 ORDER BY seq",
            "SEARCH execution_events USING PRIMARY KEY (execution_id=? AND seq>?)",
        ),
        (
            "SELECT COALESCE(MAX(seq), 0) FROM execution_events WHERE execution_id = 'x'",
            "SEARCH execution_events USING PRIMARY KEY (execution_id=?)",
        ),
    ];
    for (sql, expected) in queries {
        let plan = plan(sql);
        assert!(plan.starts_with(expected), "{sql}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
    }
}
