//! A standard's new year written as what changed: a pack whose standard.toml says `extends = "id@version"` is
//! the earlier pack's files with its own laid over them, and is loaded exactly as if written whole.
//!
//! - `standard.toml`: its tables merged key by key over the earlier one's (a value or array given replaces the
//!   earlier one), except `[[tables.table]]`, merged by `name` (a table given replaces the one of that name or
//!   is added), and `extends` itself, which the merged pack does not keep.
//! - `schema.json`: a JSON merge patch (RFC 7396) of the earlier schema: objects merged member by member,
//!   `null` removing one.
//! - `rules.toml`: the earlier rules, less those named in `remove = ["…"]` and those of an id the pack gives
//!   again (all entries of that id), then the pack's own; aggregates likewise by `name`.
//! - `codelists.toml`: lists merged by name (a list given replaces the earlier one).
//! - any other file (calendar, generate.toml, examples): the pack's own replaces the earlier one of that path.
//!
//! Not for: compiling (the merged files are compiled as any pack's are).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{PackError, PackFiles};

/// Deepest chain of packs extending packs.
const DEEPEST: usize = 16;

/// The `extends` of a pack's standard.toml, when it has one.
pub fn extends_of(files: &PackFiles) -> Result<Option<String>, PackError> {
    let Some(text) = files.text("standard.toml")? else { return Ok(None) };
    let table: toml::Table = toml::from_str(text).map_err(|e| files.error("standard.toml", e.to_string()))?;
    match table.get("extends") {
        None => Ok(None),
        Some(toml::Value::String(reference)) => Ok(Some(reference.clone())),
        Some(_) => Err(files.error("standard.toml", "`extends` is a pack reference, `id@version`")),
    }
}

/// Every pack of `packs` with its `extends` resolved: the earlier pack found among `packs` or by `known`
/// (packs loaded before), itself resolved first.
pub fn resolve_all(
    packs: Vec<PackFiles>,
    known: &dyn Fn(&str) -> Option<PackFiles>,
) -> Result<Vec<PackFiles>, PackError> {
    let references: Vec<Option<String>> = packs.iter().map(PackFiles::reference).collect();
    let find = |reference: &str| -> Option<PackFiles> {
        references
            .iter()
            .position(|r| r.as_deref() == Some(reference))
            .and_then(|i| packs.get(i).cloned())
            .or_else(|| known(reference))
    };
    packs.iter().map(|files| resolve(files.clone(), &find, 0)).collect()
}

fn resolve(files: PackFiles, find: &dyn Fn(&str) -> Option<PackFiles>, depth: usize) -> Result<PackFiles, PackError> {
    let Some(reference) = extends_of(&files)? else { return Ok(files) };
    if depth >= DEEPEST {
        return Err(files.error("standard.toml", format!("`extends` goes more than {DEEPEST} packs deep (a loop?)")));
    }
    let earlier = find(&reference)
        .ok_or_else(|| files.error("standard.toml", format!("`extends = \"{reference}\"`: no such pack is loaded")))?;
    let earlier = resolve(earlier, find, depth + 1)?;
    merge(&earlier, &files)
}

/// `later` laid over `earlier`.
pub fn merge(earlier: &PackFiles, later: &PackFiles) -> Result<PackFiles, PackError> {
    let mut files: BTreeMap<String, Vec<u8>> = earlier.files.clone();
    for (path, bytes) in &later.files {
        let merged = match (path.as_str(), earlier.files.get(path)) {
            ("standard.toml", Some(base)) => manifest(base, bytes).map_err(|m| later.error(path, m))?,
            ("schema.json", Some(base)) => schema(base, bytes).map_err(|m| later.error(path, m))?,
            ("rules.toml", Some(base)) => rules(base, bytes).map_err(|m| later.error(path, m))?,
            ("codelists.toml", Some(base)) => by_key(base, bytes).map_err(|m| later.error(path, m))?,
            ("standard.toml", None) => without_extends(bytes).map_err(|m| later.error(path, m))?,
            _ => bytes.clone(),
        };
        files.insert(path.clone(), merged);
    }
    Ok(PackFiles { origin: later.origin.clone(), files })
}

fn toml_of(bytes: &[u8]) -> Result<toml::Table, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())?;
    toml::from_str(text).map_err(|e| e.to_string())
}

fn toml_bytes(table: &toml::Table) -> Result<Vec<u8>, String> {
    toml::to_string(table).map(String::into_bytes).map_err(|e| e.to_string())
}

fn without_extends(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut table = toml_of(bytes)?;
    table.remove("extends");
    toml_bytes(&table)
}

fn manifest(base: &[u8], over: &[u8]) -> Result<Vec<u8>, String> {
    let mut merged = toml_of(base)?;
    let mut over = toml_of(over)?;
    over.remove("extends");
    // The tables of a table return, by name; the rest of [tables] key by key.
    let later_tables =
        over.get_mut("tables").and_then(toml::Value::as_table_mut).and_then(|t| t.remove("table")).and_then(
            |t| match t {
                toml::Value::Array(items) => Some(items),
                _ => None,
            },
        );
    merge_toml(&mut merged, over);
    if let Some(later) = later_tables {
        let tables = merged
            .entry("tables")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or("[tables] is not a table")?;
        let list = tables.entry("table").or_insert_with(|| toml::Value::Array(Vec::new()));
        let toml::Value::Array(list) = list else { return Err("[[tables.table]] is not an array of tables".into()) };
        for table in later {
            let name = table.get("name").cloned();
            match list.iter_mut().find(|t| t.get("name") == name.as_ref()) {
                Some(slot) => *slot = table,
                None => list.push(table),
            }
        }
    }
    toml_bytes(&merged)
}

/// `over`'s tables merged into `base`'s key by key; any other value replaces.
fn merge_toml(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over_inner)) => merge_toml(inner, over_inner),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Top-level tables by key: a list given replaces the earlier one of that name.
fn by_key(base: &[u8], over: &[u8]) -> Result<Vec<u8>, String> {
    let mut merged = toml_of(base)?;
    merged.extend(toml_of(over)?);
    toml_bytes(&merged)
}

fn schema(base: &[u8], over: &[u8]) -> Result<Vec<u8>, String> {
    let mut merged: Value = serde_json::from_slice(base).map_err(|e| e.to_string())?;
    let patch: Value = serde_json::from_slice(over).map_err(|e| e.to_string())?;
    merge_patch(&mut merged, patch);
    serde_json::to_vec_pretty(&merged).map_err(|e| e.to_string())
}

/// RFC 7396: an object patch merges member by member, `null` removing; anything else replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(&key);
            } else {
                merge_patch(map.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

fn rules(base: &[u8], over: &[u8]) -> Result<Vec<u8>, String> {
    let mut merged = toml_of(base)?;
    let mut over = toml_of(over)?;
    let removed: Vec<String> = match over.remove("remove") {
        None => Vec::new(),
        Some(toml::Value::Array(ids)) => ids.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Some(_) => return Err("`remove` is a list of rule ids".into()),
    };
    let earlier_ids: Vec<String> = match merged.get("rule") {
        Some(toml::Value::Array(rules)) => {
            rules.iter().filter_map(|r| r.get("id").and_then(toml::Value::as_str)).map(str::to_string).collect()
        }
        _ => Vec::new(),
    };
    if let Some(unknown) = removed.iter().find(|id| !earlier_ids.contains(id)) {
        return Err(format!("`remove` names rule {unknown}, which the earlier pack does not have"));
    }
    for (list, key) in [("rule", "id"), ("aggregate", "name")] {
        let later = match over.remove(list) {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items,
            Some(_) => return Err(format!("`{list}` is an array of tables")),
        };
        let given: Vec<toml::Value> = later.iter().filter_map(|t| t.get(key).cloned()).collect();
        let entry = merged.entry(list).or_insert_with(|| toml::Value::Array(Vec::new()));
        let toml::Value::Array(items) = entry else { return Err(format!("`{list}` is an array of tables")) };
        items.retain(|t| {
            let id = t.get(key);
            let removed_rule =
                list == "rule" && id.and_then(toml::Value::as_str).is_some_and(|s| removed.iter().any(|r| r == s));
            !(removed_rule || id.is_some_and(|id| given.contains(id)))
        });
        items.extend(later);
    }
    merged.extend(over);
    toml_bytes(&merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(files: &[(&str, &str)]) -> PackFiles {
        PackFiles {
            origin: "test".into(),
            files: files.iter().map(|(p, t)| (p.to_string(), t.as_bytes().to_vec())).collect(),
        }
    }

    fn text(files: &PackFiles, path: &str) -> String {
        String::from_utf8(files.files[path].clone()).unwrap()
    }

    #[test]
    fn a_later_year_is_the_earlier_with_what_changed() {
        let earlier = pack(&[
            ("standard.toml", "id = \"s\"\nversion = \"1\"\ntitle = \"S\"\n[params]\na = \"1\"\nb = \"2\"\n[tables]\nkey = \"K\"\n[[tables.table]]\nname = \"T\"\ncolumns = [\"K\"]\n"),
            ("schema.json", r#"{"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "string"}}}"#),
            ("rules.toml", "[[rule]]\nid = \"1\"\nexpression = \"true\"\n[[rule]]\nid = \"2\"\nexpression = \"true\"\n[[rule]]\nid = \"2\"\nexpression = \"false\"\n[[rule]]\nid = \"3\"\nexpression = \"true\"\n"),
            ("examples/a.xml", "<a/>"),
        ]);
        let later = pack(&[
            ("standard.toml", "extends = \"s@1\"\nversion = \"2\"\n[params]\nb = \"3\"\n[[tables.table]]\nname = \"U\"\ncolumns = [\"K\", \"V\"]\n"),
            ("schema.json", r#"{"properties": {"y": null, "z": {"type": "integer"}}}"#),
            ("rules.toml", "remove = [\"3\"]\n[[rule]]\nid = \"2\"\nexpression = \"1 == 1\"\n[[rule]]\nid = \"4\"\nexpression = \"true\"\n"),
        ]);
        let merged = merge(&earlier, &later).unwrap();
        let manifest: toml::Table = toml::from_str(&text(&merged, "standard.toml")).unwrap();
        assert_eq!(manifest["version"].as_str(), Some("2"));
        assert!(manifest.get("extends").is_none());
        assert_eq!(manifest["params"]["a"].as_str(), Some("1"));
        assert_eq!(manifest["params"]["b"].as_str(), Some("3"));
        let tables: Vec<&str> =
            manifest["tables"]["table"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(tables, ["T", "U"]);
        let schema: Value = serde_json::from_slice(&merged.files["schema.json"]).unwrap();
        assert_eq!(schema["properties"], serde_json::json!({"x": {"type": "string"}, "z": {"type": "integer"}}));
        let rules: toml::Table = toml::from_str(&text(&merged, "rules.toml")).unwrap();
        let ids: Vec<(&str, &str)> = rules["rule"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].as_str().unwrap(), r["expression"].as_str().unwrap()))
            .collect();
        assert_eq!(ids, [("1", "true"), ("2", "1 == 1"), ("4", "true")]);
        assert_eq!(text(&merged, "examples/a.xml"), "<a/>");
    }

    #[test]
    fn what_cannot_be_merged_is_said() {
        let earlier = pack(&[("rules.toml", "[[rule]]\nid = \"1\"\nexpression = \"true\"\n")]);
        let later = pack(&[("rules.toml", "remove = [\"9\"]\n")]);
        let error = merge(&earlier, &later).unwrap_err().to_string();
        assert!(error.contains("rule 9"), "{error}");
        let orphan = pack(&[("standard.toml", "id = \"s\"\nversion = \"2\"\nextends = \"s@1\"\n")]);
        let error = resolve_all(vec![orphan], &|_| None).unwrap_err().to_string();
        assert!(error.contains("no such pack"), "{error}");
    }
}
