//! The SQLite store's tests: every query of the three concerns, migrations, indexes.

use serde_json::json;

use super::*;
use crate::store::{
    AnalysisQuery, AnalysisRecord, AnalysisStore, ConfigRecord, ConfigStore, IntervalRecord,
};

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
