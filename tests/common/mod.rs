//! Helpers shared by the integration tests: generating conforming instances of a standard from its schema
//! (a proptest strategy), comparing XML documents after canonicalisation, and running the real gateway binary
//! on a demo configuration.
#![allow(dead_code)]

pub mod postgres;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use caregate_engine::standard::Catalog;
use caregate_gateway::config::Config;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// The demo configuration with tokens `<prefix>-<code>`, as `adjust` leaves it, written to `dir/gateway.toml`.
pub fn write_demo_config(dir: &Path, prefix: &str, adjust: impl FnOnce(&mut Config)) -> PathBuf {
    let catalog = Catalog::embedded().expect("packs load");
    let tokens: BTreeMap<String, String> = ["201", "202", "RJ1", "POL01", "SCH001", "EH201", "admin"]
        .iter()
        .map(|c| (c.to_string(), format!("{prefix}-{c}")))
        .collect();
    let (mut config, _) = Config::demo(&catalog, Some(tokens));
    adjust(&mut config);
    let path = dir.join("gateway.toml");
    std::fs::write(&path, toml::to_string(&config).expect("serialises")).expect("writes");
    path
}

/// Starts `caregate serve` on a random port of 127.0.0.1 with `config` and its store in `data`, and returns it
/// with the address it printed.
pub fn serve(config: &Path, data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("readable");
    let address = first.rsplit("http://").next().expect("address").trim().to_string();
    // Keep draining stdout so that the gateway never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

/// Instances that conform to `schema` structurally (every keyword the packs use), built from the schema.
pub fn instance(schema: &Value, root: &Value, depth: usize) -> BoxedStrategy<Value> {
    let schema = resolve(schema, root);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return proptest::sample::select(values.clone()).boxed();
    }
    match schema.get("type").and_then(Value::as_str).unwrap_or("object") {
        "object" => object(schema, root, depth),
        "array" => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max =
                schema.get("maxItems").and_then(Value::as_u64).map(|m| m as usize).unwrap_or(min + 3).min(min + 3);
            let items = instance(&schema["items"], root, depth + 1);
            proptest::collection::vec(items, min..=max).prop_map(Value::Array).boxed()
        }
        "integer" => {
            let lo = schema.get("minimum").and_then(Value::as_i64).unwrap_or(-1000);
            let hi = schema.get("maximum").and_then(Value::as_i64).unwrap_or(1000);
            (lo..=hi).prop_map(|i| Value::Number(i.into())).boxed()
        }
        "number" => (-1000i32..1000, 0u32..100)
            .prop_map(|(i, f)| serde_json::json!(f64::from(i) + f64::from(f) / 100.0))
            .boxed(),
        "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => string(schema),
    }
}

fn resolve<'a>(mut schema: &'a Value, root: &'a Value) -> &'a Value {
    while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        schema = root.pointer(reference.trim_start_matches('#')).expect("local $ref resolves");
    }
    schema
}

fn object(schema: &Value, root: &Value, depth: usize) -> BoxedStrategy<Value> {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let mut members: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if property.get("x-embedded").is_some() || resolve(property, root).get("x-embedded").is_some() {
                continue; // filled in by the caller, which knows the body's standard
            }
            let name = name.clone();
            let value = instance(property, root, depth + 1);
            if required.contains(&name) {
                members.push(value.prop_map(move |v| Some((name.clone(), v))).boxed());
            } else if depth < 6 {
                members.push(proptest::option::of(value).prop_map(move |v| v.map(|v| (name.clone(), v))).boxed());
            }
        }
    }
    members.prop_map(|entries| Value::Object(entries.into_iter().flatten().collect::<Map<String, Value>>())).boxed()
}

fn string(schema: &Value) -> BoxedStrategy<Value> {
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema.get("maxLength").and_then(Value::as_u64).map(|m| m as usize).unwrap_or(40).min(40).max(min);
    let format = schema.get("format").and_then(Value::as_str);
    let base: BoxedStrategy<String> = match (format, schema.get("pattern").and_then(Value::as_str)) {
        (Some("date"), _) => {
            (1990u32..2030, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")).boxed()
        }
        (Some("date-time"), _) => (
            2020u32..2030,
            1u32..=12,
            1u32..=28,
            0u32..24,
            0u32..60,
            prop_oneof![Just("Z"), Just("+01:00"), Just("-05:30")],
        )
            .prop_map(|(y, m, d, h, mi, z)| format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:00{z}"))
            .boxed(),
        (Some("uuid"), _) => {
            any::<[u8; 16]>().prop_map(|b| uuid::Builder::from_random_bytes(b).into_uuid().to_string()).boxed()
        }
        (_, Some(pattern)) => {
            let trimmed = pattern.trim_start_matches('^').trim_end_matches('$');
            proptest::string::string_regex(trimmed).expect("pack pattern is a regex").boxed()
        }
        // Free text, with the characters XML must escape and white space that must survive.
        _ => proptest::string::string_regex(&format!("[A-Za-z0-9 &<>\"'.,\\n\\t-]{{{min},{max}}}"))
            .expect("regex")
            .boxed(),
    };
    // Formats and patterns bound their own length; only the schema's own limits apply to them.
    let has_format = format.is_some();
    let max = match (has_format || schema.get("pattern").is_some(), schema.get("maxLength").and_then(Value::as_u64)) {
        (true, Some(limit)) => limit as usize,
        (true, None) => usize::MAX,
        (false, _) => max,
    };
    base.prop_filter("length within the schema's bounds", move |s| {
        let n = s.chars().count();
        n >= min && n <= max
    })
    .prop_map(Value::String)
    .boxed()
}

/// An XML document reduced to what the binding promises to keep: element names and namespaces, attributes,
/// order, and non-blank text. Prefixes, attribute order, indentation and comments do not count.
pub fn canonical_xml(text: &str) -> String {
    let doc = roxmltree::Document::parse(text).expect("well-formed XML");
    let mut out = String::new();
    canonical_node(doc.root_element(), &mut out);
    out
}

fn canonical_node(node: roxmltree::Node<'_, '_>, out: &mut String) {
    out.push('<');
    out.push_str(&format!("{{{}}}{}", node.tag_name().namespace().unwrap_or(""), node.tag_name().name()));
    let mut attributes: Vec<String> = node.attributes().map(|a| format!(" {}={:?}", a.name(), a.value())).collect();
    attributes.sort();
    for a in attributes {
        out.push_str(&a);
    }
    out.push('>');
    let has_elements = node.children().any(|c| c.is_element());
    for child in node.children() {
        if child.is_element() {
            canonical_node(child, out);
        } else if let Some(text) = child.text() {
            if !(has_elements && text.trim().is_empty()) {
                out.push_str(&format!("{text:?}"));
            }
        }
    }
    out.push_str("</>");
}

/// A push recipient that records the `Idempotency-Key` of every copy it is sent, and answers 200; the keys
/// and its URL.
pub async fn recording_inbox() -> (std::sync::Arc<std::sync::Mutex<Vec<String>>>, String) {
    let received: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let sink = std::sync::Arc::clone(&received);
    let router = axum::Router::new().route(
        "/inbox",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let sink = std::sync::Arc::clone(&sink);
            async move {
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                sink.lock().expect("lock").push(key);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}/inbox", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (received, url)
}
