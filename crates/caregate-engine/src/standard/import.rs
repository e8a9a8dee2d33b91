//! A standard pack made from a published OpenAPI 3.0 document: one component schema (the payload an API
//! takes) becomes `schema.json` and `standard.toml`, keeping the document's own constraints — types, formats,
//! patterns, lengths, array limits, `enum`, `required`, `additionalProperties: false` — with its `$ref`s
//! resolved in place.
//!
//! For: `caregate standards import openapi`. Not for: the pack's own rules and code lists (caregate's
//! additions are written by hand beside the imported files, and kept when the document is imported again).
//!
//! A payload that is an array of objects (DfE's CSC: at most 100 children a request) becomes a pack whose
//! instance is one record; the array's limits, the record's key and the operation that takes the payload go
//! to `standard.toml`'s `[payload]`. The XML form caregate gives every pack is caregate's own (the document
//! has none): the root element is named after the schema, elements as the properties, and each array is a
//! wrapper element holding one element per item.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// What to import and how to name the pack.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The component schema of the payload: `CSC` for `#/components/schemas/CSC`.
    pub schema: String,
    pub id: String,
    pub version: String,
    /// Who published the document (default: its `info.contact.name`, or that it is not stated).
    pub publisher: Option<String>,
}

/// Why a document could not be imported; each names the place in the document.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the document is not JSON: {0}")]
    NotJson(String),
    #[error("the document is not OpenAPI 3.0 (its `openapi` is {0})")]
    NotOpenApi(String),
    #[error("the document has no component schema `{0}` (#/components/schemas/{0})")]
    NoSchema(String),
    #[error("{at}: {message}")]
    Unsupported { at: String, message: String },
}

fn unsupported(at: &str, message: impl Into<String>) -> ImportError {
    ImportError::Unsupported { at: at.to_string(), message: message.into() }
}

/// `$ref`s resolved through at most this many schemas: deeper is taken for a recursive structure, which a
/// pack cannot bind.
const MAX_DEPTH: usize = 64;

/// Keywords of an OpenAPI 3.0 Schema Object kept as they are: JSON Schema 2020-12 reads them alike.
const KEPT: &[&str] = &[
    "type",
    "title",
    "description",
    "default",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "format",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Keywords dropped: documentation that JSON Schema 2020-12 says otherwise or not at all, and that changes
/// nothing a document is checked against.
const DROPPED: &[&str] = &["example", "externalDocs", "xml", "discriminator"];

/// The pack's files (`standard.toml`, `schema.json`), by path in the pack folder.
pub fn openapi(document: &[u8], options: &ImportOptions) -> Result<BTreeMap<String, Vec<u8>>, ImportError> {
    let doc: Value = serde_json::from_slice(document).map_err(|e| ImportError::NotJson(e.to_string()))?;
    let openapi = doc.get("openapi").and_then(Value::as_str).unwrap_or_default();
    if !openapi.starts_with("3.0") {
        return Err(ImportError::NotOpenApi(
            doc.get("openapi").map(|v| v.to_string()).unwrap_or_else(|| "missing".into()),
        ));
    }
    let pointer = format!("#/components/schemas/{}", options.schema);
    let top = doc
        .pointer(&format!("/components/schemas/{}", escape_token(&options.schema)))
        .ok_or_else(|| ImportError::NoSchema(options.schema.clone()))?;
    let converter = Converter { doc: &doc };
    let top = converter.schema(top, &pointer, 0)?;
    let is_array = top.get("type").and_then(Value::as_str) == Some("array");
    let (mut record, payload) = if is_array {
        let items = top.get("items").ok_or_else(|| unsupported(&pointer, "an array payload needs `items`"))?.clone();
        if items.get("type").and_then(Value::as_str) != Some("object") {
            return Err(unsupported(&format!("{pointer}/items"), "the payload's items must be objects (records)"));
        }
        (items, Some(&top))
    } else if top.get("type").and_then(Value::as_str) == Some("object") {
        (top.clone(), None)
    } else {
        return Err(unsupported(&pointer, "the payload must be an object, or an array of objects"));
    };
    let key = record
        .get("required")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(map) = record.as_object_mut() {
        // The record's own words, else the payload's said of one item of it.
        let of_item = |name: &str, wrap: &dyn Fn(&str) -> String| {
            map.get(name).cloned().or_else(|| {
                (is_array && top.get(name).is_some())
                    .then(|| top.get(name).and_then(Value::as_str).map(|t| Value::String(wrap(t))))
                    .flatten()
                    .or_else(|| top.get(name).cloned())
            })
        };
        let title = of_item("title", &|t| format!("{t}: one item of the array"));
        let description = of_item("description", &|t| format!("One item of the payload. The payload: {t}"));
        let mut schema = Map::new();
        schema.insert("$schema".into(), Value::String("https://json-schema.org/draft/2020-12/schema".into()));
        if let Some(title) = title {
            schema.insert("title".into(), title);
        }
        if let Some(description) = description {
            schema.insert("description".into(), description);
        }
        for (name, value) in std::mem::take(map) {
            if name != "title" && name != "description" {
                schema.insert(name, value);
            }
        }
        *map = schema;
    }
    let operation = operation(&doc, &pointer)?;
    let digest = crate::digest::sha256(document);
    let manifest = manifest(&doc, options, &digest, payload.map(|p| (p, key.as_deref())), operation.as_ref())?;
    let mut files = BTreeMap::new();
    files.insert("standard.toml".to_string(), manifest.into_bytes());
    let mut text = serde_json::to_string_pretty(&record).map_err(|e| unsupported(&pointer, e.to_string()))?;
    text.push('\n');
    files.insert("schema.json".to_string(), text.into_bytes());
    Ok(files)
}

struct Converter<'d> {
    doc: &'d Value,
}

impl Converter<'_> {
    /// One Schema Object as JSON Schema 2020-12, `$ref`s resolved, arrays given their wrapper binding.
    fn schema(&self, schema: &Value, at: &str, depth: usize) -> Result<Value, ImportError> {
        if depth > MAX_DEPTH {
            return Err(unsupported(at, "references nest too deeply (a recursive structure cannot be bound)"));
        }
        let object = schema.as_object().ok_or_else(|| unsupported(at, "a schema must be an object"))?;
        if let Some(reference) = object.get("$ref") {
            let reference = reference.as_str().ok_or_else(|| unsupported(at, "`$ref` must be a string"))?;
            let target = reference
                .strip_prefix('#')
                .and_then(|p| self.doc.pointer(p))
                .ok_or_else(|| unsupported(at, format!("`{reference}` names nothing in the document")))?;
            // Beside `$ref`, OpenAPI 3.0 ignores every other keyword; so does the import.
            return self.schema(target, reference, depth + 1);
        }
        let mut out = Map::new();
        for (name, value) in object {
            let here = format!("{at}/{name}");
            match name.as_str() {
                "properties" => {
                    let properties =
                        value.as_object().ok_or_else(|| unsupported(&here, "`properties` must be an object"))?;
                    let mut converted = Map::new();
                    for (property, schema) in properties {
                        let mut property_schema =
                            self.schema(schema, &format!("{here}/{}", escape_token(property)), depth + 1)?;
                        if property_schema.get("type").and_then(Value::as_str) == Some("array") {
                            wrap(&mut property_schema, property);
                        }
                        converted.insert(property.clone(), property_schema);
                    }
                    out.insert(name.clone(), Value::Object(converted));
                }
                "items" => {
                    out.insert(name.clone(), self.schema(value, &here, depth + 1)?);
                }
                "required" => {
                    let names = value.as_array().filter(|a| a.iter().all(Value::is_string));
                    if names.is_none() {
                        return Err(unsupported(&here, "`required` must be a list of property names"));
                    }
                    out.insert(name.clone(), value.clone());
                }
                "additionalProperties" => match value {
                    Value::Bool(_) => {
                        out.insert(name.clone(), value.clone());
                    }
                    _ => return Err(unsupported(&here, "only `additionalProperties: true` or `false` can be bound")),
                },
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    // OpenAPI 3.0 says these as booleans beside `minimum`/`maximum`; JSON Schema 2020-12 as the
                    // bound itself.
                    let bound = if name == "exclusiveMinimum" { "minimum" } else { "maximum" };
                    match value {
                        Value::Bool(false) => {}
                        Value::Bool(true) => {
                            let limit = object
                                .get(bound)
                                .cloned()
                                .ok_or_else(|| unsupported(&here, format!("`{name}: true` needs `{bound}`")))?;
                            out.insert(name.clone(), limit);
                        }
                        _ => return Err(unsupported(&here, format!("`{name}` must be true or false in OpenAPI 3.0"))),
                    }
                }
                "nullable" => {
                    if value != &Value::Bool(false) {
                        return Err(unsupported(&here, "`nullable: true` cannot be bound (a value is never null)"));
                    }
                }
                "type" => {
                    let kind = value.as_str().ok_or_else(|| unsupported(&here, "`type` must be one type"))?;
                    if !["object", "array", "string", "integer", "number", "boolean"].contains(&kind) {
                        return Err(unsupported(&here, format!("type `{kind}` is not a type a pack can bind")));
                    }
                    out.insert(name.clone(), value.clone());
                }
                other if KEPT.contains(&other) => {
                    out.insert(name.clone(), value.clone());
                }
                other if DROPPED.contains(&other) || other.starts_with("x-") => {}
                other => {
                    return Err(unsupported(
                        &here,
                        format!("`{other}` cannot be imported (a pack's structure is one sequence of fields)"),
                    ))
                }
            }
        }
        // `exclusiveMinimum: true` now carries the bound, which `minimum` must not repeat.
        if out.contains_key("exclusiveMinimum") {
            out.remove("minimum");
        }
        if out.contains_key("exclusiveMaximum") {
            out.remove("maximum");
        }
        if !out.contains_key("type") {
            return Err(unsupported(at, "a schema without `type` cannot be bound"));
        }
        Ok(Value::Object(out))
    }
}

/// Gives an array property caregate's XML binding: a wrapper element named as the property, one element per
/// item named as its singular (`disabilities` → `disability`).
fn wrap(schema: &mut Value, property: &str) {
    if let Some(map) = schema.as_object_mut() {
        map.insert("xml".into(), serde_json::json!({"wrapped": true}));
        if let Some(items) = map.get_mut("items").and_then(Value::as_object_mut) {
            items.insert("xml".into(), serde_json::json!({"name": singular(property)}));
        }
    }
}

fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies").filter(|s| !s.is_empty()) {
        format!("{stem}y")
    } else if let Some(stem) = name.strip_suffix('s').filter(|s| !s.is_empty() && !s.ends_with('s')) {
        stem.to_string()
    } else {
        format!("{name}_item")
    }
}

/// A JSON Pointer token of a name (`~` and `/` escaped).
fn escape_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The operation whose JSON request body is the payload.
struct Operation {
    method: String,
    path: String,
    receipt_format: Option<String>,
    parameters: Vec<String>,
}

fn operation(doc: &Value, pointer: &str) -> Result<Option<Operation>, ImportError> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return Ok(None) };
    for (path, item) in paths {
        let Some(item) = item.as_object() else { continue };
        for (method, op) in item {
            let body = op.pointer("/requestBody/content/application~1json/schema/$ref").and_then(Value::as_str);
            if body != Some(pointer) {
                continue;
            }
            let here = format!("#/paths/{}/{method}", escape_token(path));
            let converter = Converter { doc };
            let receipt = match op.pointer("/responses/200/content/application~1json/schema") {
                Some(schema) => converter.schema(schema, &format!("{here}/responses/200"), 0)?,
                None => Value::Null,
            };
            let receipt_format = receipt.get("format").and_then(Value::as_str).map(str::to_string);
            // Parameters of the path item and of the operation, the operation's overriding by name.
            let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
            for list in [item.get("parameters"), op.get("parameters")].into_iter().flatten() {
                for parameter in list.as_array().into_iter().flatten() {
                    let parameter = match parameter.get("$ref").and_then(Value::as_str) {
                        Some(r) => r.strip_prefix('#').and_then(|p| doc.pointer(p)).ok_or_else(|| {
                            unsupported(&here, format!("parameter `{r}` names nothing in the document"))
                        })?,
                        None => parameter,
                    };
                    if parameter.get("in").and_then(Value::as_str) != Some("path") {
                        continue;
                    }
                    let Some(name) = parameter.get("name").and_then(Value::as_str) else { continue };
                    by_name.insert(name.to_string(), parameter.clone());
                }
            }
            let mut parameters = Vec::new();
            for (name, parameter) in by_name {
                let schema = match parameter.get("schema") {
                    Some(schema) => converter.schema(schema, &format!("{here}/parameters/{name}"), 0)?,
                    None => serde_json::json!({"type": "string"}),
                };
                let mut text = format!("[[payload.parameter]]\nname = {}\n", quoted(&name));
                let kind = schema.get("type").and_then(Value::as_str).unwrap_or("string");
                let _ = writeln!(text, "type = {}", quoted(kind));
                for bound in ["minimum", "maximum"] {
                    if let Some(n) = schema.get(bound).and_then(Value::as_i64) {
                        let _ = writeln!(text, "{bound} = {n}");
                    }
                }
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                    let _ = writeln!(text, "pattern = {}", quoted(pattern));
                }
                parameters.push(text);
            }
            return Ok(Some(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                receipt_format,
                parameters,
            }));
        }
    }
    Ok(None)
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn manifest(
    doc: &Value,
    options: &ImportOptions,
    digest: &str,
    payload: Option<(&Value, Option<&str>)>,
    operation: Option<&Operation>,
) -> Result<String, ImportError> {
    let info = doc.get("info");
    let text = |name: &str| info.and_then(|i| i.get(name)).and_then(Value::as_str);
    let title = text("title").unwrap_or(&options.id);
    let publisher = options
        .publisher
        .clone()
        .or_else(|| doc.pointer("/info/contact/name").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "not stated by the document".to_string());
    let mut out = String::new();
    out.push_str(
        "# Written by `caregate standards import openapi`: import the document again rather than edit this file.\n",
    );
    let _ = writeln!(out, "id = {}", quoted(&options.id));
    let _ = writeln!(out, "version = {}", quoted(&options.version));
    let _ = writeln!(out, "title = {}", quoted(title));
    let _ = writeln!(out, "publisher = {}", quoted(&publisher));
    out.push_str("status = \"active\"\n");
    let description = format!(
        "Imported from the OpenAPI document `{}` version {} (component schema {}, document {}).",
        title,
        text("version").unwrap_or("not stated"),
        options.schema,
        digest
    );
    let _ = writeln!(out, "description = {}", quoted(&description));
    out.push_str("\n# caregate's XML form of one record (the document has none).\n[xml]\n");
    let _ = writeln!(out, "root = {}", quoted(&options.schema));
    out.push_str("naming = \"as-is\"\n");
    if let Some((array, key)) = payload {
        let at = format!("#/components/schemas/{}", options.schema);
        let key = key.ok_or_else(|| {
            unsupported(&format!("{at}/items"), "a record must require a property that names it (its key)")
        })?;
        out.push_str("\n# The payload: a JSON array of records, each one instance of this pack.\n[payload]\n");
        let _ = writeln!(out, "schema = {}", quoted(&options.schema));
        let _ = writeln!(out, "key = {}", quoted(key));
        for (keyword, name) in [("minItems", "min_items"), ("maxItems", "max_items")] {
            if let Some(n) = array.get(keyword).and_then(Value::as_u64) {
                let _ = writeln!(out, "{name} = {n}");
            }
        }
        if let Some(op) = operation {
            let _ = writeln!(out, "method = {}", quoted(&op.method));
            let _ = writeln!(out, "path = {}", quoted(&op.path));
            if let Some(format) = &op.receipt_format {
                let _ = writeln!(out, "receipt_format = {}", quoted(format));
            }
            for parameter in &op.parameters {
                out.push('\n');
                out.push_str(parameter);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::singular;

    #[test]
    fn array_items_are_named_in_the_singular() {
        assert_eq!(singular("disabilities"), "disability");
        assert_eq!(singular("factors"), "factor");
        assert_eq!(singular("care_worker_details"), "care_worker_detail");
        assert_eq!(singular("address"), "address_item");
        assert_eq!(singular("s"), "s_item");
    }
}
