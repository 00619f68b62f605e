//! The OpenAPI document's request examples are real requests: each one, in every content
//! type the document lists for it, is accepted by a real `canaryd serve`. The schemathesis
//! run (scripts/schemathesis.sh) starts from these examples; a wrong one there only shows
//! up as a refused request, here it fails by name.

use serde_json::Value;

use crate::support::daemon::Daemon;

/// `value` as block YAML with plain numbers and booleans (the scalars YAML must type) and
/// double-quoted strings.
fn yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                out.push_str(&format!("{pad}{}:", Value::String(k.clone())));
                nested(v, indent, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for v in items {
                out.push_str(&format!("{pad}-"));
                nested(v, indent, out);
            }
        }
        scalar => out.push_str(&format!("{pad}{scalar}\n")),
    }
}

fn nested(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            yaml(v, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            yaml(v, indent + 2, out);
        }
        scalar => out.push_str(&format!(" {scalar}\n")),
    }
}

fn body_text(example: &Value, media: &str) -> String {
    match media {
        "application/json" => example.to_string(),
        "application/toml" => toml::to_string(example).expect("the example has a TOML form"),
        "application/yaml" => {
            let mut out = String::new();
            yaml(example, 0, &mut out);
            out
        }
        other => panic!("the document lists a content type canaryd does not read: {other}"),
    }
}

/// Operations in the order that creates what the later ones refer to.
fn rank(path: &str) -> u8 {
    if path.starts_with("/api/v1/configs") {
        0
    } else if path.ends_with("/executions") {
        3
    } else if path.starts_with("/api/v1/pipelines") {
        1
    } else if path.starts_with("/api/v1/executions/") {
        4
    } else {
        2
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_example_is_accepted_in_every_content_type_it_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), "http://127.0.0.1:9", "").await;
    let (status, doc) = d.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            for (media, m) in content {
                let example = m["examples"]["example"]["value"].clone();
                assert!(
                    !example.is_null(),
                    "{method} {path} {media}: no example in the document"
                );
                ops.push((
                    rank(path),
                    path.clone(),
                    method.clone(),
                    media.clone(),
                    example,
                ));
            }
        }
    }
    ops.sort_by_key(|o| o.0);
    let bodies = ops.len();
    assert!(bodies >= 14, "only {bodies} request bodies documented");
    let mut execution: Option<String> = None;
    let mut sent = 0;
    for (_, path, method, media, example) in ops {
        let mut url = path.clone();
        if url.contains("{name}") {
            let name = example["name"].as_str().unwrap_or("shop-web").to_string();
            url = url.replace("{name}", &name);
        }
        if url.contains("{id}") {
            let id = execution.clone().expect("an execution was started before");
            url = url.replace("{id}", &id);
        }
        let text = body_text(&example, &media);
        if path == "/api/v1/configs" {
            // Each content type creates the config anew.
            d.delete("/api/v1/configs/checkout").await;
        }
        let (status, answer) = match method.as_str() {
            "post" => d.post_text(&url, &media, &text).await,
            "put" => d.put_text(&url, &media, &text).await,
            other => panic!("{other} {path}: a body on an unexpected method"),
        };
        sent += 1;
        let decision = path.starts_with("/api/v1/executions/");
        // A decision may find the execution past the point it applies to (409), never a
        // refused body.
        let accepted = (200..300).contains(&status) || (decision && status == 409);
        assert!(
            accepted,
            "{method} {url} as {media} answered {status}: {answer}\nbody:\n{text}"
        );
        if path.ends_with("/executions") {
            execution = answer["id"].as_str().map(str::to_string);
        }
    }
    assert_eq!(sent, bodies);
    // Every form reached the store with its types: each stored version's steps are
    // numbers (a YAML `5` read as the string "5" would not be).
    let (status, latest) = d.get("/api/v1/pipelines/shop-web").await;
    assert_eq!(status, 200, "{latest}");
    let versions = latest["version"].as_i64().unwrap();
    assert!(versions >= 4, "{latest}");
    for v in 1..=versions {
        let (status, p) = d
            .get(&format!("/api/v1/pipelines/shop-web?version={v}"))
            .await;
        assert_eq!(status, 200, "{p}");
        let spec: toml::Table = toml::from_str(p["spec"].as_str().unwrap()).unwrap();
        let steps = &spec["strategy"]["steps"];
        assert_eq!(
            steps,
            &toml::Value::Array(vec![5.into(), 100.into()]),
            "version {v}: {p}"
        );
    }
}
