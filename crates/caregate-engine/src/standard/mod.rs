//! Standard packs: loading a `schemas/<id>/<version>/` folder (embedded in the binary, or from disk) and
//! compiling it once — manifest, JSON Schema (with code lists injected), XML binding, rules and calendar —
//! into a [`StandardPack`] that validation and conversion use for every document.
//!
//! Not for: reading documents or producing findings. The folder format is documented in `schemas/README.md`.

pub mod binding;
pub mod codelists;
pub mod diff;
pub mod export;
pub mod extends;
pub mod import;
mod lint;
pub mod manifest;
pub mod rulebook;
pub mod scaffold;
pub mod xsd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{include_dir, Dir};
use serde_json::Value;

pub use binding::{Binding, Choice, ChoiceBranch, Field, Node, ObjectNode, Repeat, ScalarType};
pub use codelists::{CodeList, CodeLists};
pub use manifest::{Manifest, Status};
pub use rulebook::{AggUse, Aggregate, AggregateKind, PathPattern, Rule, RuleGroup};

use crate::model::{RuleInfo, StandardRef};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../schemas");

/// Why a pack could not be loaded. Each names the pack and file where it can.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{pack}: {file}: {message}")]
    File { pack: String, file: String, message: String },
    #[error("XML binding: {0}")]
    Binding(String),
    #[error("{pack}: {message}")]
    Pack { pack: String, message: String },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The files of one pack, by path relative to the pack folder.
#[derive(Debug, Clone, Default)]
pub struct PackFiles {
    /// Where the pack came from, for messages (`embedded:referral/1.0` or a folder).
    pub origin: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl PackFiles {
    fn text(&self, name: &str) -> Result<Option<&str>, PackError> {
        match self.files.get(name) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|_| PackError::File {
                pack: self.origin.clone(),
                file: name.into(),
                message: "is not UTF-8 text".into(),
            }),
        }
    }

    fn required_text(&self, name: &str) -> Result<&str, PackError> {
        self.text(name)?.ok_or_else(|| PackError::File {
            pack: self.origin.clone(),
            file: name.into(),
            message: "is missing".into(),
        })
    }

    fn error(&self, file: &str, message: impl Into<String>) -> PackError {
        PackError::File { pack: self.origin.clone(), file: file.into(), message: message.into() }
    }

    /// The document element (local name and namespace) its standard.toml says documents of the pack have.
    pub fn xml_root(&self) -> Option<(String, String)> {
        let manifest = self.manifest_table()?;
        let xml = manifest.get("xml")?;
        let namespace = xml.get("namespace").and_then(toml::Value::as_str).unwrap_or_default();
        Some((xml.get("root")?.as_str()?.to_string(), namespace.to_string()))
    }

    /// The standard's id and version as standard.toml says them, before the pack is compiled.
    pub fn id_version(&self) -> Option<(String, String)> {
        let manifest = self.manifest_table()?;
        let text = |key: &str| Some(manifest.get(key)?.as_str()?.to_string());
        Some((text("id")?, text("version")?))
    }

    /// Whether the pack's returns are sent as tables (`[tables]`), and the element of their XML form.
    pub fn tables(&self) -> Option<Option<String>> {
        let manifest = self.manifest_table()?;
        let tables = manifest.get("tables")?;
        Some(tables.get("xml").and_then(|x| x.get("root")).and_then(toml::Value::as_str).map(str::to_string))
    }

    /// The pack with its standard.toml only: enough to say what it is, for choosing packs before the rest of
    /// each is read.
    fn manifest_only(&self) -> PackFiles {
        let files = self.files.iter().filter(|(name, _)| *name == "standard.toml");
        PackFiles { origin: self.origin.clone(), files: files.map(|(k, v)| (k.clone(), v.clone())).collect() }
    }

    /// `id@version`, as standard.toml says them.
    pub(crate) fn reference(&self) -> Option<String> {
        self.id_version().map(|(id, version)| format!("{id}@{version}"))
    }

    fn manifest_table(&self) -> Option<toml::Table> {
        toml::from_str(self.text("standard.toml").ok()??).ok()
    }

    /// Whether documents of the pack may hold documents of other standards (`x-embedded` in its schema).
    pub fn embeds_documents(&self) -> bool {
        self.files.get("schema.json").is_some_and(|bytes| bytes.windows(10).any(|w| w == b"x-embedded"))
    }

    /// SHA-256 over the files in path order, each as `path NUL bytes NUL`.
    pub fn digest(&self) -> String {
        crate::digest::files(&self.files)
    }

    /// Reads a pack folder from disk (every file below it).
    pub fn from_dir(dir: &Path) -> Result<PackFiles, PackError> {
        let mut files = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(folder) = stack.pop() {
            let entries =
                std::fs::read_dir(&folder).map_err(|source| PackError::Io { path: folder.clone(), source })?;
            for entry in entries {
                let entry = entry.map_err(|source| PackError::Io { path: folder.clone(), source })?;
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let bytes = std::fs::read(&path).map_err(|source| PackError::Io { path: path.clone(), source })?;
                    let relative = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                    files.insert(relative, bytes);
                }
            }
        }
        Ok(PackFiles { origin: dir.display().to_string(), files })
    }

    fn from_embedded(dir: &Dir<'static>) -> PackFiles {
        let mut files = BTreeMap::new();
        collect_embedded(dir, dir.path(), &mut files);
        PackFiles { origin: format!("embedded:{}", dir.path().display()), files }
    }
}

/// Every file below an embedded folder, by its path relative to `base`.
pub fn collect_embedded(dir: &Dir<'static>, base: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for file in dir.files() {
        let relative = file.path().strip_prefix(base).unwrap_or(file.path()).to_string_lossy().replace('\\', "/");
        files.insert(relative, file.contents().to_vec());
    }
    for sub in dir.dirs() {
        collect_embedded(sub, base, files);
    }
}

/// A standard, compiled and ready to check documents.
pub struct StandardPack {
    pub manifest: Manifest,
    /// The schema as written, with each code list's `enum` injected.
    pub schema: Value,
    pub validator: jsonschema::Validator,
    /// For bulk standards: the schema location of one record, and a validator of one record.
    pub record_schema: Option<(String, jsonschema::Validator)>,
    pub binding: Binding,
    pub codelists: CodeLists,
    pub rules: Vec<Rule>,
    /// The rules grouped by context (indices into `rules`), so that each context is walked once.
    pub rule_groups: Vec<RuleGroup>,
    pub aggregates: Vec<Aggregate>,
    /// For bulk standards: where the records are (`[records] path`), as a pattern.
    pub records_pattern: Option<PathPattern>,
    pub holidays: Vec<chrono::NaiveDate>,
    /// The manifest's `[params]`, as JSON, bound to `params` in rules.
    pub params: Value,
    /// The schema's top-level `required` properties: what a JSON document without a flag must have to be
    /// taken for one of this standard (see [`Catalog::by_json_shape`]).
    pub required: Vec<String>,
    pub digest: String,
    pub files: PackFiles,
}

impl std::fmt::Debug for StandardPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardPack").field("id", &self.manifest.id).field("version", &self.manifest.version).finish()
    }
}

impl StandardPack {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }
    pub fn version(&self) -> &str {
        &self.manifest.version
    }
    /// The schema of one record of a bulk standard, as written (with its code lists' `enum`s).
    pub fn record_schema_node(&self) -> Option<&Value> {
        self.record_schema.as_ref().and_then(|(location, _)| self.schema.pointer(location))
    }

    /// `id@version`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.manifest.id, self.manifest.version)
    }
    pub fn standard_ref(&self) -> StandardRef {
        StandardRef {
            id: self.manifest.id.clone(),
            version: self.manifest.version.clone(),
            digest: self.digest.clone(),
        }
    }
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
    /// One entry per rule id (a rule said in several entries is described by its first).
    pub fn rule_infos(&self) -> Vec<RuleInfo> {
        let mut seen = std::collections::HashSet::new();
        self.rules
            .iter()
            .filter(|r| seen.insert(r.id.as_str()))
            .map(|r| RuleInfo {
                id: r.id.clone(),
                severity: r.severity,
                description: r.message.clone(),
                clause: r.clause.clone(),
                help: r.fix.clone(),
            })
            .collect()
    }
    /// The code list a schema location (a JSON Schema keyword location) declares with `x-codelist`.
    pub fn codelist_at(&self, schema_pointer: &str) -> Option<&CodeList> {
        let node = self.schema.pointer(schema_pointer)?;
        let name = node.get("x-codelist")?.as_str()?;
        self.codelists.get(name)
    }

    /// Compiles a pack from its files.
    pub fn compile(files: PackFiles) -> Result<StandardPack, PackError> {
        StandardPack::compile_with(files, Rules::Compiled)
    }

    fn compile_with(files: PackFiles, with: Rules) -> Result<StandardPack, PackError> {
        let manifest: Manifest = toml::from_str(files.required_text("standard.toml")?)
            .map_err(|e| files.error("standard.toml", e.to_string()))?;
        let codelists: CodeLists = match files.text("codelists.toml")? {
            Some(text) => toml::from_str(text).map_err(|e| files.error("codelists.toml", e.to_string()))?,
            None => CodeLists::new(),
        };
        let mut schema: Value = serde_json::from_str(files.required_text("schema.json")?)
            .map_err(|e| files.error("schema.json", e.to_string()))?;
        inject_codelists(&mut schema, &codelists, "").map_err(|m| files.error("schema.json", m))?;
        // A pack compiled for conversion checks nothing: its validators take every document, and compiling the
        // schema's (a third of a conversion's start) is left out.
        let validator = match with {
            Rules::Compiled => schema_options()
                .build(&schema)
                .map_err(|e| files.error("schema.json", format!("is not a valid JSON Schema: {e}")))?,
            Rules::Skipped => permissive().map_err(|m| files.error("schema.json", m))?,
        };
        let mut binding = Binding::compile(
            &schema,
            &manifest.xml.root,
            &manifest.xml.namespace,
            manifest.xml.naming,
            manifest.xml.blank,
        )
        .map_err(|e| files.error("schema.json", e.to_string()))?;
        if manifest.xml.elements == manifest::ElementForm::Unqualified {
            // Records are read one by one in the standard's namespace; a bulk return of unqualified elements
            // would be read as if they were qualified.
            if manifest.records.is_some() {
                return Err(
                    files.error("standard.toml", "`[records]` cannot be read with `[xml] elements = \"unqualified\"`")
                );
            }
            binding.elements_namespace = String::new();
        }
        let record_schema = match &manifest.records {
            Some(records) => Some(
                record_validator(&schema, &records.path, with == Rules::Compiled)
                    .map_err(|m| files.error("schema.json", m))?,
            ),
            None => None,
        };
        if let Some(tables) = &manifest.tables {
            check_tables(tables, &manifest, &schema, record_schema.as_ref())
                .map_err(|m| files.error("standard.toml", m))?;
        }
        let holidays = match files.text("calendar.toml")? {
            Some(text) => rulebook::parse_calendar(text).map_err(|m| files.error("calendar.toml", m))?,
            None => Vec::new(),
        };
        // What stays the same while the records of a bulk return are checked: the variables other than
        // `self`, `root` and `agg`, and every part of `root` but the one holding the records.
        let stable: Vec<String> = match &manifest.records {
            Some(records) => {
                let top = records.path.split('/').find(|s| !s.is_empty()).unwrap_or_default();
                let fields = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default();
                ["asOf", "now", "params"]
                    .iter()
                    .map(|v| v.to_string())
                    .chain(fields.into_iter().filter(|f| f != top).map(|f| format!("root.{f}")))
                    .collect()
            }
            None => Vec::new(),
        };
        let (rules, aggregates) = match files.text("rules.toml")?.filter(|_| with == Rules::Compiled) {
            Some(text) => {
                rulebook::compile_rules(text, &holidays, &stable).map_err(|m| files.error("rules.toml", m))?
            }
            None => (Vec::new(), Vec::new()),
        };
        lint::check_rules(&schema, &rules).map_err(|m| files.error("rules.toml", m))?;
        // A rule that does not cite its clause is cited as the standard's rule of its id (`clause_prefix`).
        let mut rules = rules;
        if let Some(prefix) = &manifest.clause_prefix {
            for rule in rules.iter_mut().filter(|r| r.clause.is_none()) {
                rule.clause = Some(format!("{prefix} rule {}", rule.id));
            }
        }
        let records_path = match &manifest.records {
            Some(records) => Some(PathPattern::parse(&records.path).map_err(|m| files.error("standard.toml", m))?),
            None => None,
        };
        // Records are checked in batches: a rule or aggregate inside them reads its own record (`self`), the parts
        // of the return outside the records (`root.Header`) and `agg`, never the records through `root`.
        if let (Some(records), Some(top)) =
            (&records_path, manifest.records.as_ref().and_then(|r| r.path.split('/').find(|s| !s.is_empty())))
        {
            let inside =
                rules.iter().filter(|r| r.context.starts_with(records)).map(|r| (format!("rule {}", r.id), &r.program));
            let gathered = aggregates
                .iter()
                .filter(|a| a.context.starts_with(records))
                .map(|a| (format!("aggregate {}", a.name), &a.value));
            for (what, program) in inside.chain(gathered) {
                if program.may_read_field("root", top) {
                    return Err(files.error(
                        "rules.toml",
                        format!(
                            "{what} is checked inside each record but reads `root.{top}`, where the records are; inside a record read `self` (the record), the rest of the return through `root` (e.g. the header) and other records only through `agg`"
                        ),
                    ));
                }
            }
        }
        // A rule's need of a column (`Header.UASC`) names an optional column of a table: a column every file
        // has is always given, and a name of no column would leave the rule never run.
        for rule in rules.iter().filter(|_| with == Rules::Compiled) {
            for need in rule.needs.iter().filter(|n| crate::reference::Need::of(n) == crate::reference::Need::Column) {
                let optional = need.split_once('.').is_some_and(|(table, column)| {
                    manifest
                        .tables
                        .iter()
                        .flat_map(|t| &t.table)
                        .any(|t| t.name == table && t.optional.iter().any(|c| c == column))
                });
                if !optional {
                    return Err(files.error(
                        "rules.toml",
                        format!("rule {}: `needs` names `{need}`, which is not an optional column of a table", rule.id),
                    ));
                }
            }
        }
        if let Some(tables) = manifest.tables.as_ref().filter(|_| with == Rules::Compiled) {
            let record = record_schema.as_ref().and_then(|(location, _)| schema.pointer(location));
            for table in &tables.table {
                for column in &table.columns {
                    let pointer = format!("/properties/{}/items/properties/{column}/x-format-rule", table.name);
                    let Some(id) = record.and_then(|r| r.pointer(&pointer)) else { continue };
                    if !rules.iter().any(|r| Some(r.id.as_str()) == id.as_str()) {
                        return Err(files.error(
                            "schema.json",
                            format!("{}/{column}: `x-format-rule` {id} is not a rule of rules.toml", table.name),
                        ));
                    }
                }
            }
        }
        let rule_groups = RuleGroup::of(&rules, records_path.as_ref());
        let aggregates: Vec<Aggregate> = aggregates
            .into_iter()
            .map(|mut a| {
                a.in_records = records_path.as_ref().is_some_and(|r| a.context.starts_with(r));
                a
            })
            .collect();
        // A `records` aggregate names records by their keys, so it lies inside them; a rule names the records
        // behind it only when it is about the whole return (a rule inside a record is about that record).
        if let Some(aggregate) = aggregates.iter().find(|a| a.kind == AggregateKind::Records && !a.in_records) {
            return Err(files.error(
                "rules.toml",
                format!(
                    "aggregate {} is of kind `records` but its context `{}` is not inside the records of the standard (standard.toml's [records] path)",
                    aggregate.name, aggregate.context.text
                ),
            ));
        }
        let inside = |context: &PathPattern| records_path.as_ref().is_some_and(|r| context.starts_with(r));
        if let Some(rule) = rules.iter().find(|r| r.records.is_some() && inside(&r.context)) {
            return Err(files.error(
                "rules.toml",
                format!(
                    "rule {} names the records behind it (`records = …`) but is checked inside each record (context `{}`); only a rule about the whole return names them",
                    rule.id, rule.context.text
                ),
            ));
        }
        let params = serde_json::to_value(&manifest.params).map_err(|e| files.error("standard.toml", e.to_string()))?;
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let digest = files.digest();
        Ok(StandardPack {
            manifest,
            schema,
            validator,
            record_schema,
            binding,
            codelists,
            rules,
            rule_groups,
            records_pattern: records_path,
            aggregates,
            holidays,
            params,
            required,
            digest,
            files,
        })
    }
}

/// A return sent as tables has one level of records, keyed by the tables' key column, and the schema of a
/// record names every table and, for each, every column.
fn check_tables(
    tables: &manifest::Tables,
    manifest: &Manifest,
    schema: &Value,
    record_schema: Option<&(String, jsonschema::Validator)>,
) -> Result<(), String> {
    let records = manifest.records.as_ref().ok_or("[tables] needs [records]: where the records are, and their key")?;
    let steps: Vec<&str> = records.path.split('/').filter(|s| !s.is_empty()).collect();
    if steps.len() != 2 || steps[1] != "*" || records.key != tables.key {
        return Err(format!(
            "with [tables], [records] path is `/NAME/*` and key is the tables' key `{}` (not `{}` and `{}`)",
            tables.key, records.path, records.key
        ));
    }
    let record = record_schema.and_then(|(location, _)| schema.pointer(location)).ok_or("no schema for a record")?;
    for table in &tables.table {
        let row = record.pointer(&format!("/properties/{}/items/properties", table.name)).ok_or_else(|| {
            format!("table {}: the record's schema has no array `{}` of rows", table.name, table.name)
        })?;
        if let Some(column) = table.columns.iter().find(|c| row.get(c.as_str()).is_none()) {
            return Err(format!("table {}: its rows' schema has no column `{column}`", table.name));
        }
        if let Some(column) = table.optional.iter().find(|c| !table.columns.contains(c) || **c == tables.key) {
            return Err(format!(
                "table {}: optional column `{column}` is not one of its columns other than the key",
                table.name
            ));
        }
    }
    Ok(())
}

/// A validator of one record of a bulk standard: the record's schema (found by following the records path
/// through `properties` and `items`), with the pack's `$defs` beside it so references still resolve.
/// A validator that takes every document, for packs compiled for conversion.
fn permissive() -> Result<jsonschema::Validator, String> {
    jsonschema::options().build(&Value::Bool(true)).map_err(|e| e.to_string())
}

/// Where one record's schema is in `schema`, and its validator (when `checking`; else one that takes every
/// record).
fn record_validator(
    schema: &Value,
    records_path: &str,
    checking: bool,
) -> Result<(String, jsonschema::Validator), String> {
    let mut location = String::new();
    let mut node = schema;
    for step in records_path.split('/').filter(|s| !s.is_empty()) {
        node = resolve_local(schema, node)?;
        if step == "*" {
            location.push_str("/items");
            node =
                node.get("items").ok_or_else(|| format!("records path `{records_path}`: no `items` at {location}"))?;
        } else {
            location.push_str(&format!("/properties/{step}"));
            node = node
                .get("properties")
                .and_then(|p| p.get(step))
                .ok_or_else(|| format!("records path `{records_path}`: no property `{step}` at {location}"))?;
        }
    }
    let node = resolve_local(schema, node)?;
    if !checking {
        return Ok((location, permissive()?));
    }
    let mut record = node.clone();
    if let (Some(map), Some(defs)) = (record.as_object_mut(), schema.get("$defs")) {
        map.insert("$defs".into(), defs.clone());
    }
    let validator = schema_options().build(&record).map_err(|e| format!("the record schema does not compile: {e}"))?;
    Ok((location, validator))
}

/// The pack folders `dir` holds: itself when it is one (it has a standard.toml), else each `<id>/<version>/`
/// below it that is one, in path order (so that a version comes before a later one that extends it).
pub fn pack_folders(dir: &Path) -> Result<Vec<PathBuf>, PackError> {
    if dir.join("standard.toml").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let ids = std::fs::read_dir(dir).map_err(|source| PackError::Io { path: dir.into(), source })?;
    let mut folders: Vec<PathBuf> = Vec::new();
    for id in ids.flatten() {
        if id.path().is_dir() {
            if let Ok(versions) = std::fs::read_dir(id.path()) {
                for version in versions.flatten() {
                    if version.path().join("standard.toml").is_file() {
                        folders.push(version.path());
                    }
                }
            }
        }
    }
    folders.sort();
    Ok(folders)
}

/// `node` with its local `$ref`s (`#/$defs/…`) followed to what they name in `schema`.
pub fn resolve_local<'a>(schema: &'a Value, mut node: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..32 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                node = schema
                    .pointer(reference.trim_start_matches('#'))
                    .ok_or_else(|| format!("`{reference}` names nothing in the schema"))?;
            }
            None => return Ok(node),
        }
    }
    Err("references nest too deeply".into())
}

/// Replaces each `x-codelist` with the list's codes as `enum` (kept beside it, so findings can name the list).
fn inject_codelists(node: &mut Value, lists: &CodeLists, at: &str) -> Result<(), String> {
    match node {
        Value::Object(map) => {
            if let Some(name) = map.get("x-codelist").and_then(Value::as_str) {
                let list =
                    lists.get(name).ok_or_else(|| format!("{at}: code list `{name}` is not in codelists.toml"))?;
                let codes: Vec<Value> = list.codes.iter().map(|c| Value::String(c.code.clone())).collect();
                map.insert("enum".into(), Value::Array(codes));
            }
            for (key, child) in map.iter_mut() {
                inject_codelists(child, lists, &format!("{at}/{key}"))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                inject_codelists(child, lists, &format!("{at}/{i}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// How every pack's JSON Schema is compiled: 2020-12, formats checked, with the XSD datatypes an imported pack
/// keeps as text among them.
pub fn schema_options() -> jsonschema::ValidationOptions<'static> {
    xsd::FORMATS.iter().fold(
        jsonschema::options().with_draft(jsonschema::Draft::Draft202012).should_validate_formats(true),
        |options, (name, check)| options.with_format(*name, *check),
    )
}

/// Whether a pack is compiled with its rules, or without them for a use that never evaluates one (a
/// conversion), as compiling the rules is most of a short command's time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rules {
    Compiled,
    Skipped,
}

/// Every standard caregate knows: the embedded packs, and packs added from disk.
#[derive(Default, Clone)]
pub struct Catalog {
    packs: Vec<Arc<StandardPack>>,
}

impl Catalog {
    /// The packs embedded in the binary.
    pub fn embedded() -> Result<Catalog, PackError> {
        Catalog::embedded_where(|_| true)
    }

    /// The embedded packs `keep` chooses by their files (each year as written whole, `extends` resolved),
    /// compiled: for a command that needs only some of them (converting a document of one standard), as
    /// compiling every pack's rules is most of a short command's time.
    pub fn embedded_where(keep: impl Fn(&PackFiles) -> bool) -> Result<Catalog, PackError> {
        Catalog::embedded_with(keep, Rules::Compiled)
    }

    /// The embedded packs `keep` chooses, compiled for converting documents: without their rules, which a
    /// conversion never evaluates. Such a catalog is for converting only; its packs find nothing wrong.
    pub fn embedded_for_conversion(keep: impl Fn(&PackFiles) -> bool) -> Result<Catalog, PackError> {
        Catalog::embedded_with(keep, Rules::Skipped)
    }

    fn embedded_with(keep: impl Fn(&PackFiles) -> bool, with: Rules) -> Result<Catalog, PackError> {
        let mut catalog = Catalog::default();
        let folders: Vec<PackFiles> = EMBEDDED
            .dirs()
            .flat_map(|standard| standard.dirs())
            .filter(|version| version.get_file(version.path().join("standard.toml")).is_some())
            .map(PackFiles::from_embedded)
            .collect();
        // Which packs are wanted is judged on each one's standard.toml alone, resolved through its `extends`
        // (cheap), so that only the packs kept have their rules and schema merged (not: a CIN conversion
        // merging the SSDA903 years' rules).
        let manifests: Vec<PackFiles> = folders.iter().map(PackFiles::manifest_only).collect();
        let wanted: Vec<bool> = extends::resolve_all(manifests, &|_| None)?.iter().map(&keep).collect();
        let find = |reference: &str| folders.iter().find(|f| f.reference().as_deref() == Some(reference)).cloned();
        let kept = folders.iter().zip(wanted).filter(|(_, wanted)| *wanted).map(|(f, _)| f.clone()).collect();
        let folders: Vec<PackFiles> = extends::resolve_all(kept, &find)?;
        // Each pack compiles on its own thread: loading is most of a small validation's time.
        let packs: Vec<Result<StandardPack, PackError>> = crate::workers::scope(|scope| {
            let handles: Vec<_> =
                folders.into_iter().map(|files| scope.spawn(move || StandardPack::compile_with(files, with))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(PackError::Pack { pack: "embedded".into(), message: "compiling a pack failed".into() })
                    })
                })
                .collect()
        });
        for pack in packs {
            catalog.insert(pack?);
        }
        Ok(catalog)
    }

    /// Adds packs from a folder: either one pack (it holds `standard.toml`) or a tree `<id>/<version>/`.
    /// A pack with the same id and version as one already known replaces it.
    pub fn add_dir(&mut self, dir: &Path) -> Result<usize, PackError> {
        let known = |reference: &str| self.find(reference).map(|p| p.files.clone());
        let mut added = 0;
        let folders = pack_folders(dir)?;
        let files = folders.iter().map(|folder| PackFiles::from_dir(folder)).collect::<Result<Vec<_>, _>>()?;
        let files = extends::resolve_all(files, &known)?;
        for files in files {
            self.insert(StandardPack::compile(files)?);
            added += 1;
        }
        if added == 0 {
            return Err(PackError::Pack {
                pack: dir.display().to_string(),
                message: "holds no standard pack (no standard.toml in it or in <id>/<version>/ below it)".into(),
            });
        }
        Ok(added)
    }

    pub fn insert(&mut self, pack: StandardPack) {
        self.packs.retain(|p| !(p.id() == pack.id() && p.version() == pack.version()));
        self.packs.push(Arc::new(pack));
        self.packs
            .sort_by(|a, b| a.id().cmp(b.id()).then_with(|| version_key(a.version()).cmp(&version_key(b.version()))));
    }

    pub fn packs(&self) -> &[Arc<StandardPack>] {
        &self.packs
    }

    /// `id` or `id@version`; without a version, the newest active one (or newest of any status).
    pub fn find(&self, reference: &str) -> Option<Arc<StandardPack>> {
        let (id, version) = match reference.split_once('@') {
            Some((id, version)) => (id, Some(version)),
            None => (reference, None),
        };
        let mut candidates = self.packs.iter().filter(|p| p.id() == id);
        match version {
            Some(v) => candidates.find(|p| p.version() == v).cloned(),
            None => {
                let all: Vec<_> = candidates.collect();
                all.iter()
                    .rev()
                    .find(|p| p.manifest.status == Status::Active)
                    .or_else(|| all.last())
                    .map(|p| Arc::clone(p))
            }
        }
    }

    /// The pack whose XML root element is this one.
    pub fn by_xml_root(&self, local: &str, namespace: &str) -> Option<Arc<StandardPack>> {
        self.packs.iter().rev().find(|p| p.binding.root == local && p.binding.namespace == namespace).cloned()
    }

    /// A JSON document without a flag: the packs whose top-level required properties it all has.
    pub fn by_json_shape(&self, value: &Value) -> Vec<Arc<StandardPack>> {
        let Some(object) = value.as_object() else { return Vec::new() };
        let mut found: Vec<Arc<StandardPack>> = Vec::new();
        for pack in self.packs.iter().rev() {
            if !pack.required.is_empty()
                && pack.required.iter().all(|k| object.contains_key(k))
                && !found.iter().any(|f| f.id() == pack.id())
            {
                found.push(Arc::clone(pack));
            }
        }
        found
    }
}

/// Orders versions like `1.0` < `1.10` and `2024-25` < `2025-26`.
fn version_key(version: &str) -> Vec<u64> {
    version.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded SSDA903 2025-26 pack with `from` replaced by `to` in its file `name`, compiled.
    fn ssda903_changed(name: &str, from: &str, to: &str) -> Result<StandardPack, PackError> {
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("ssda903@2025-26").expect("ssda903 2025-26 is embedded");
        let mut files = pack.files.clone();
        let text = String::from_utf8(files.files.get(name).cloned().unwrap_or_default()).expect("text");
        assert!(text.contains(from), "{name} has `{from}`");
        files.files.insert(name.to_string(), text.replacen(from, to, 1).into_bytes());
        StandardPack::compile(files)
    }

    #[test]
    fn an_optional_column_is_a_column_and_a_column_need_names_one() {
        let refused = |r: Result<StandardPack, PackError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(ssda903_changed("standard.toml", "optional = [\"UASC\"]", "optional = [\"UASC\"]").is_ok());
        let e = refused(ssda903_changed("standard.toml", "optional = [\"UASC\"]", "optional = [\"DUC\"]"));
        assert!(e.contains("optional column `DUC` is not one of its columns"), "{e}");
        let e = refused(ssda903_changed("standard.toml", "optional = [\"UASC\"]", "optional = [\"CHILD\"]"));
        assert!(e.contains("optional column `CHILD`"), "{e}");
        let e = refused(ssda903_changed("rules.toml", "needs = [\"Header.UASC\"]", "needs = [\"Header.SEX\"]"));
        assert!(e.contains("`needs` names `Header.SEX`, which is not an optional column of a table"), "{e}");
    }

    #[test]
    fn version_order_is_numeric() {
        assert!(version_key("1.10") > version_key("1.9"));
        assert!(version_key("2025-26") > version_key("2024-25"));
    }
}
