//! `caregate standards import openapi`: a pack made from an OpenAPI 3.0 document keeps each of the document's
//! constraints. Each test imports a small document that says one constraint, then validates with the pack a
//! record that keeps it and one that breaks it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value};

fn caregate() -> Command {
    let mut cmd = Command::cargo_bin("caregate").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

/// An OpenAPI 3.0 document whose payload `Records` is an array of at most 2 records of `record`, taken by
/// `POST /records/{la_code}`.
fn document(record: Value, components: Value) -> Value {
    let mut schemas = json!({
        "Records": {"type": "array", "maxItems": 2, "items": record},
        "Receipt": {"type": "string", "format": "uuid"}
    });
    if let (Some(map), Some(more)) = (schemas.as_object_mut(), components.as_object()) {
        map.extend(more.clone());
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Test API", "version": "2.0.0", "contact": {"name": "Test publisher"}},
        "paths": {"/records/{la_code}": {
            "parameters": [{"name": "la_code", "in": "path", "required": true,
                            "schema": {"type": "integer", "maximum": 999}}],
            "post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Records"}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Receipt"}}}}}
            }
        }},
        "components": {"schemas": schemas}
    })
}

/// A record schema: an `id` it requires, and `field` as given.
fn record(field: Value) -> Value {
    json!({
        "type": "object",
        "properties": {"id": {"type": "string"}, "field": field},
        "required": ["id"],
        "additionalProperties": false
    })
}

/// Imports `doc` into `<dir>/packs/test/1.0` and returns the packs folder.
fn import(dir: &Path, doc: &Value) -> PathBuf {
    let file = dir.join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let packs = dir.join("packs");
    caregate()
        .args(["standards", "import", "openapi"])
        .arg(&file)
        .args(["--schema", "Records", "--id", "test", "--version", "1.0", "--output"])
        .arg(packs.join("test/1.0"))
        .assert()
        .code(0);
    packs
}

/// The structure findings (their rule names) of `record` validated with the imported pack.
fn findings(packs: &Path, record: &Value) -> Vec<String> {
    let file = packs.parent().unwrap().join("record.json");
    std::fs::write(&file, serde_json::to_vec(record).unwrap()).unwrap();
    let out = caregate()
        .arg("--standards")
        .arg(packs)
        .args(["validate", "--standard", "test@1.0", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    report["documents"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["rule"].as_str().unwrap(), f["location"]["pointer"].as_str().unwrap_or("")))
        .collect()
}

/// Imports a document whose record has `field`, and checks that `good` gives no finding and `bad` gives
/// exactly `expected`.
fn keeps(field: Value, good: Value, bad: Value, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let packs = import(dir.path(), &document(record(field), json!({})));
    assert_eq!(findings(&packs, &json!({"id": "a", "field": good})), Vec::<String>::new());
    assert_eq!(findings(&packs, &json!({"id": "a", "field": bad})), expected);
}

#[test]
fn a_type_is_kept() {
    keeps(json!({"type": "integer"}), json!(3), json!("3"), &["type /field"]);
    keeps(json!({"type": "boolean"}), json!(true), json!(1), &["type /field"]);
}

#[test]
fn a_format_is_kept() {
    keeps(json!({"type": "string", "format": "date"}), json!("2025-02-28"), json!("2025-02-30"), &["format /field"]);
}

#[test]
fn a_pattern_is_kept() {
    keeps(json!({"type": "string", "pattern": "^[A-Z]+$"}), json!("ABC"), json!("abc"), &["pattern /field"]);
}

#[test]
fn lengths_are_kept() {
    keeps(json!({"type": "string", "maxLength": 3}), json!("abc"), json!("abcd"), &["maxLength /field"]);
    keeps(json!({"type": "string", "minLength": 2}), json!("ab"), json!("a"), &["minLength /field"]);
}

#[test]
fn array_limits_are_kept() {
    let field =
        json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": true});
    keeps(field.clone(), json!(["a", "b"]), json!(["a", "b", "c"]), &["maxItems /field"]);
    keeps(field.clone(), json!(["a"]), json!([]), &["minItems /field"]);
    keeps(field, json!(["a"]), json!(["a", "a"]), &["uniqueItems /field"]);
}

#[test]
fn an_enum_is_kept() {
    keeps(json!({"type": "string", "enum": ["M", "F"]}), json!("F"), json!("X"), &["enum /field"]);
}

#[test]
fn exclusive_bounds_are_said_the_2020_12_way() {
    // OpenAPI 3.0's `exclusiveMinimum: true` beside `minimum: 0`: 0 is refused, 1 is not.
    keeps(
        json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true}),
        json!(1),
        json!(0),
        &["structure /field"],
    );
}

#[test]
fn required_and_additional_properties_false_are_kept() {
    let field = json!({
        "type": "object",
        "properties": {"code": {"type": "string"}},
        "required": ["code"],
        "additionalProperties": false
    });
    keeps(field.clone(), json!({"code": "a"}), json!({}), &["required /field/code"]);
    keeps(field, json!({"code": "a"}), json!({"code": "a", "other": 1}), &["unknown-property /field/other"]);
}

#[test]
fn references_are_resolved_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let doc = document(
        record(json!({"$ref": "#/components/schemas/Code"})),
        json!({"Code": {"type": "string", "maxLength": 2}}),
    );
    let packs = import(dir.path(), &doc);
    assert_eq!(findings(&packs, &json!({"id": "a", "field": "ab"})), Vec::<String>::new());
    assert_eq!(findings(&packs, &json!({"id": "a", "field": "abc"})), ["maxLength /field"]);
    let schema = std::fs::read_to_string(packs.join("test/1.0/schema.json")).unwrap();
    assert!(!schema.contains("$ref"), "{schema}");
}

#[test]
fn the_payload_and_its_operation_go_to_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let packs = import(dir.path(), &document(record(json!({"type": "string"})), json!({})));
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(packs.join("test/1.0/standard.toml")).unwrap()).unwrap();
    assert_eq!(manifest["publisher"].as_str(), Some("Test publisher"));
    let payload = manifest["payload"].as_table().unwrap();
    assert_eq!(payload["key"].as_str(), Some("id"));
    assert_eq!(payload["max_items"].as_integer(), Some(2));
    assert_eq!(payload["method"].as_str(), Some("POST"));
    assert_eq!(payload["path"].as_str(), Some("/records/{la_code}"));
    assert_eq!(payload["receipt_format"].as_str(), Some("uuid"));
    let parameter = payload["parameter"].as_array().unwrap()[0].as_table().unwrap();
    assert_eq!(parameter["name"].as_str(), Some("la_code"));
    assert_eq!(parameter["maximum"].as_integer(), Some(999));
}

#[test]
fn the_packs_own_rules_are_kept_when_the_document_is_imported_again() {
    let dir = tempfile::tempdir().unwrap();
    let packs = import(dir.path(), &document(record(json!({"type": "string"})), json!({})));
    let rules = "[[rule]]\nid = \"T-1\"\nseverity = \"warning\"\ncontext = \"/\"\nat = \"field\"\n\
                 expression = \"self.field != 'x'\"\nmessage = \"not x\"\n";
    std::fs::write(packs.join("test/1.0/rules.toml"), rules).unwrap();
    let packs = import(dir.path(), &document(record(json!({"type": "string", "maxLength": 1})), json!({})));
    assert_eq!(std::fs::read_to_string(packs.join("test/1.0/rules.toml")).unwrap(), rules);
    assert_eq!(findings(&packs, &json!({"id": "a", "field": "x"})), ["T-1 /field"]);
    assert_eq!(findings(&packs, &json!({"id": "a", "field": "yy"})), ["maxLength /field"]);
}

#[test]
fn what_a_pack_cannot_bind_is_refused_where_it_is_said() {
    for (field, said) in [
        (json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}), "`oneOf` cannot be imported"),
        (json!({"type": "string", "nullable": true}), "`nullable: true` cannot be bound"),
        (json!({"$ref": "#/components/schemas/Nothing"}), "names nothing in the document"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openapi.json");
        std::fs::write(&file, serde_json::to_vec(&document(record(field), json!({}))).unwrap()).unwrap();
        let out = caregate()
            .args(["standards", "import", "openapi"])
            .arg(&file)
            .args(["--schema", "Records", "--id", "test", "--version", "1.0", "--output"])
            .arg(dir.path().join("pack"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(said) && stderr.contains("#/components/schemas/Records/items/properties/field"),
            "{stderr}"
        );
        assert!(!dir.path().join("pack").exists());
    }
}
