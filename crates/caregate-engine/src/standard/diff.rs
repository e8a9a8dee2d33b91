//! What changed between two versions of a standard: its fields (added, removed, or changed in type,
//! cardinality or restriction), its code lists' codes (added, removed, relabelled) and its rules (added,
//! removed, changed), each change saying whether it can break a document that conformed to the earlier
//! version.
//!
//! Fields are read from each pack's JSON Schema (references into `$defs` followed, `items` of an array taken
//! as the array's field, alternatives of `oneOf`/`anyOf` read as one), so that a pack written by hand and one
//! imported from an XSD or an OpenAPI document are compared alike.
//!
//! Not for: telling what a change of a rule's expression means (the change is reported with both texts).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::StandardPack;

/// Added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Added,
    Removed,
    Changed,
}

/// One change from the earlier version to the later.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: Kind,
    /// `element` (a field of the document), `codelist`, `code` or `rule`.
    pub what: &'static str,
    /// The field's path (`/Children/Child/LAchildID`), or the code list's name, or the rule's context.
    pub path: String,
    /// The code, or the rule's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Whether a document that conformed to the earlier version may not conform to the later.
    pub breaking: bool,
    pub detail: String,
}

/// The changes from one version of a standard to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub from: String,
    pub to: String,
    pub changes: Vec<Change>,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Changed => "changed",
        }
    }
}

impl Diff {
    /// The diff as pretty JSON: `{"from", "to", "changes": [{"kind", "what", "path", "code", "breaking",
    /// "detail"}]}`.
    pub fn to_json(&self) -> String {
        // Strings, booleans and lists only: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// How many of the changes may break documents of the earlier version.
    pub fn breaking(&self) -> usize {
        self.changes.iter().filter(|c| c.breaking).count()
    }
}

/// What the schema says of one field.
#[derive(Debug, Clone, Default, PartialEq)]
struct Field {
    /// `string`, `integer`, `object`…, as the schema types the field's values (`any` when it does not).
    kind: String,
    required: bool,
    /// For a field that repeats (an array): its least and greatest number of items.
    repeats: Option<(u64, Option<u64>)>,
    /// The restrictions on its values, by keyword: pattern, lengths, bounds, format, enum, code list, const.
    restrictions: BTreeMap<String, Value>,
}

/// The keywords that restrict a value, as compared.
const RESTRICTIONS: [&str; 10] = [
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "enum",
    "const",
];

/// Schemas deeper than this are not followed (a `$ref` loop, or a schema no standard writes).
const DEEPEST: usize = 64;

/// The changes from `from` to `to`, fields first (in path order), then code lists, then rules.
pub fn diff(from: &StandardPack, to: &StandardPack) -> Diff {
    let mut changes = Vec::new();
    fields_changed(&fields(&from.schema), &fields(&to.schema), &mut changes);
    codes_changed(from, to, &mut changes);
    rules_changed(from, to, &mut changes);
    Diff { from: from.reference(), to: to.reference(), changes }
}

/// Every field the schema describes, by path.
fn fields(schema: &Value) -> BTreeMap<String, Field> {
    let mut out = BTreeMap::new();
    walk(schema, schema, "", &mut out, 0);
    out
}

/// The schema `node` stands for, its `$ref`s followed as the pack's compilation follows them (a reference
/// that names nothing, which no compiled pack has, leaves the node as it is).
fn resolve<'s>(root: &'s Value, node: &'s Value) -> &'s Value {
    super::resolve_local(root, node).unwrap_or(node)
}

/// Records the properties of the object schema `node` (at `path`) and walks into each.
fn walk(root: &Value, node: &Value, path: &str, out: &mut BTreeMap<String, Field>, depth: usize) {
    if depth > DEEPEST {
        return;
    }
    let node = resolve(root, node);
    for alternatives in ["oneOf", "anyOf", "allOf"] {
        for alternative in node.get(alternatives).and_then(Value::as_array).into_iter().flatten() {
            walk(root, alternative, path, out, depth + 1);
        }
    }
    let required: Vec<&str> =
        node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let Some(properties) = node.get("properties").and_then(Value::as_object) else { return };
    for (name, property) in properties {
        // A member a branch of a choice forbids (`false`) is no field of its own; the object's own says what it is.
        if property == &Value::Bool(false) {
            continue;
        }
        let at = format!("{path}/{name}");
        let mut value = resolve(root, property);
        let mut field = Field { required: required.contains(&name.as_str()), ..Field::default() };
        if value.get("type").and_then(Value::as_str) == Some("array") {
            let count = |key: &str| value.get(key).and_then(Value::as_u64);
            field.repeats = Some((count("minItems").unwrap_or(0), count("maxItems")));
            value = resolve(root, value.get("items").unwrap_or(&Value::Null));
        }
        field.kind = match value.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
            _ if value.get("properties").is_some() => "object".into(),
            _ => "any".into(),
        };
        for keyword in RESTRICTIONS.iter().chain(&["x-codelist"]) {
            if let Some(v) = value.get(*keyword) {
                field.restrictions.insert((*keyword).to_string(), v.clone());
            }
        }
        // A code list's values are compared as codes, not as the `enum` injected from it.
        if field.restrictions.contains_key("x-codelist") {
            field.restrictions.remove("enum");
        }
        let merged = out.entry(at.clone()).or_insert_with(|| field.clone());
        // A field met again (under an alternative) is required only if required everywhere.
        merged.required &= field.required;
        walk(root, value, &at, out, depth + 1);
    }
}

fn fields_changed(from: &BTreeMap<String, Field>, to: &BTreeMap<String, Field>, out: &mut Vec<Change>) {
    let element = |kind, path: &str, breaking, detail: String| Change {
        kind,
        what: "element",
        path: path.to_string(),
        code: None,
        breaking,
        detail,
    };
    for (path, old) in from {
        let Some(new) = to.get(path) else {
            // A document that has it is refused where unknown fields are (caregate's packs refuse them).
            out.push(element(Kind::Removed, path, true, format!("{} field removed", old.kind)));
            continue;
        };
        let mut said = Vec::new();
        let mut breaking = false;
        if old.kind != new.kind {
            said.push(format!("type {} → {}", old.kind, new.kind));
            breaking = true;
        }
        if old.required != new.required {
            said.push(if new.required { "now required".to_string() } else { "now optional".to_string() });
            breaking |= new.required;
        }
        if old.repeats != new.repeats {
            let show = |r: Option<(u64, Option<u64>)>| match r {
                None => "one".to_string(),
                Some((min, Some(max))) => format!("{min}..{max}"),
                Some((min, None)) => format!("{min}.."),
            };
            said.push(format!("occurs {} → {}", show(old.repeats), show(new.repeats)));
            breaking |= match (old.repeats, new.repeats) {
                (Some(_), None) => true,
                (None, Some((min, _))) => min > 1,
                (Some((a, x)), Some((b, y))) => {
                    b > a || matches!((x, y), (None, Some(_))) || matches!((x, y), (Some(x), Some(y)) if y < x)
                }
                (None, None) => false,
            };
        }
        let keys: std::collections::BTreeSet<&String> =
            old.restrictions.keys().chain(new.restrictions.keys()).collect();
        for key in keys {
            let (a, b) = (old.restrictions.get(key), new.restrictions.get(key));
            if a == b {
                continue;
            }
            let show = |v: Option<&Value>| v.map_or("none".to_string(), Value::to_string);
            said.push(format!("{key} {} → {}", show(a), show(b)));
            breaking |= tightens(key, a, b);
        }
        if !said.is_empty() {
            out.push(element(Kind::Changed, path, breaking, said.join("; ")));
        }
    }
    for (path, new) in to {
        if !from.contains_key(path) {
            let detail = format!("{} field added, {}", new.kind, if new.required { "required" } else { "optional" });
            out.push(element(Kind::Added, path, new.required, detail));
        }
    }
}

/// Whether a restriction changed from `a` to `b` can refuse a value it took.
fn tightens(key: &str, a: Option<&Value>, b: Option<&Value>) -> bool {
    let number = |v: Option<&Value>| v.and_then(Value::as_f64);
    match key {
        "maxLength" | "maximum" | "exclusiveMaximum" => match (number(a), number(b)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => b < a,
        },
        "minLength" | "minimum" | "exclusiveMinimum" => match (number(a), number(b)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => b > a,
        },
        "enum" => match (a.and_then(Value::as_array), b.and_then(Value::as_array)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a.iter().any(|v| !b.contains(v)),
        },
        // A pattern, format, constant or code list that is new or different may refuse what it took.
        _ => b.is_some(),
    }
}

fn codes_changed(from: &StandardPack, to: &StandardPack, out: &mut Vec<Change>) {
    let change = |kind, path: &str, code: Option<&str>, breaking, detail: String| Change {
        kind,
        what: if code.is_some() { "code" } else { "codelist" },
        path: path.to_string(),
        code: code.map(str::to_string),
        breaking,
        detail,
    };
    for (name, old) in &from.codelists {
        let Some(new) = to.codelists.get(name) else {
            out.push(change(Kind::Removed, name, None, false, format!("code list `{}` removed", old.title)));
            continue;
        };
        for code in &old.codes {
            match new.codes.iter().find(|c| c.code == code.code) {
                None => {
                    out.push(change(Kind::Removed, name, Some(&code.code), true, format!("`{}` removed", code.label)))
                }
                Some(now) if now.label != code.label => out.push(change(
                    Kind::Changed,
                    name,
                    Some(&code.code),
                    false,
                    format!("relabelled `{}` → `{}`", code.label, now.label),
                )),
                Some(_) => {}
            }
        }
        for code in new.codes.iter().filter(|c| !old.codes.iter().any(|o| o.code == c.code)) {
            out.push(change(Kind::Added, name, Some(&code.code), false, format!("`{}` added", code.label)));
        }
    }
    for (name, new) in to.codelists.iter().filter(|(name, _)| !from.codelists.contains_key(*name)) {
        out.push(change(
            Kind::Added,
            name,
            None,
            false,
            format!("code list `{}` added, {} codes", new.title, new.codes.len()),
        ));
    }
}

/// A pack's rule entries by id and their order among the entries of that id: a rule may be said in several
/// entries (one per field it checks), and entries are matched so.
fn entries(pack: &StandardPack) -> BTreeMap<(String, usize), &super::Rule> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    pack.rules
        .iter()
        .map(|r| {
            let n = seen.entry(r.id.as_str()).or_insert(0);
            *n += 1;
            ((r.id.clone(), *n), r)
        })
        .collect()
}

fn rules_changed(from: &StandardPack, to: &StandardPack, out: &mut Vec<Change>) {
    let (old, new) = (entries(from), entries(to));
    let rule = |kind, r: &super::Rule, breaking, detail: String| Change {
        kind,
        what: "rule",
        path: r.context.text.clone(),
        code: Some(r.id.clone()),
        breaking,
        detail,
    };
    let is_error = |r: &super::Rule| r.severity == crate::finding::Severity::Error;
    for (key, a) in &old {
        let Some(b) = new.get(key) else {
            out.push(rule(Kind::Removed, a, false, format!("{} rule removed: {}", a.severity.as_str(), a.message)));
            continue;
        };
        let mut said = Vec::new();
        if a.severity != b.severity {
            said.push(format!("severity {} → {}", a.severity.as_str(), b.severity.as_str()));
        }
        if a.context.text != b.context.text {
            said.push(format!("context {} → {}", a.context.text, b.context.text));
        }
        if a.expression.trim() != b.expression.trim() {
            said.push(format!("expression `{}` → `{}`", a.expression.trim(), b.expression.trim()));
        }
        if a.message != b.message {
            said.push(format!("message `{}` → `{}`", a.message, b.message));
        }
        if !said.is_empty() {
            // Only a rule that checks something new at error severity can refuse a document it passed.
            let checks_anew = a.expression.trim() != b.expression.trim() || a.context.text != b.context.text;
            let breaking = is_error(b) && (checks_anew || !is_error(a));
            out.push(rule(Kind::Changed, b, breaking, said.join("; ")));
        }
    }
    for (key, b) in &new {
        if !old.contains_key(key) {
            out.push(rule(Kind::Added, b, is_error(b), format!("{} rule added: {}", b.severity.as_str(), b.message)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::Catalog;

    /// The embedded referral pack with each `(file, from, to)` replacement made, compiled.
    fn referral(changes: &[(&str, &str, &str)]) -> StandardPack {
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("referral@1.0").expect("referral 1.0 is embedded");
        let mut files = pack.files.clone();
        for (name, from, to) in changes {
            let text = String::from_utf8(files.files.get(*name).cloned().unwrap_or_default()).expect("text");
            assert!(text.contains(from), "{name} has `{from}`");
            files.files.insert(name.to_string(), text.replacen(from, to, 1).into_bytes());
        }
        StandardPack::compile(files).expect("the changed pack compiles")
    }

    fn find<'d>(diff: &'d Diff, what: &str, path: &str, code: Option<&str>) -> &'d Change {
        diff.changes
            .iter()
            .find(|c| c.what == what && c.path == path && c.code.as_deref() == code)
            .unwrap_or_else(|| panic!("no {what} change at {path} {code:?} in {:#?}", diff.changes))
    }

    #[test]
    fn identical_versions_have_no_changes() {
        let pack = referral(&[]);
        let same = diff(&pack, &pack);
        assert!(same.changes.is_empty(), "{:#?}", same.changes);
        assert_eq!((same.from.as_str(), same.to.as_str()), ("referral@1.0", "referral@1.0"));
    }

    #[test]
    fn fields_codes_and_rules_are_told_apart_and_judged_breaking_or_not() {
        let old = referral(&[]);
        let new = referral(&[
            // A field made required, one added (optional), one removed; a format changed.
            ("schema.json", r#""required": ["name", "sex"],"#, r#""required": ["name", "sex", "dateOfBirth"],"#),
            (
                "schema.json",
                r#""dateOfBirth": {"#,
                r#""nickname": {"type": "string", "maxLength": 20}, "dateOfBirth": {"#,
            ),
            ("schema.json", r#""format": "date","#, r#""format": "date-time","#),
            // A code removed, one relabelled, one added.
            (
                "codelists.toml",
                r#"  { code = "U", label = "Not known or unborn" },"#,
                r#"  { code = "X", label = "Indeterminate" },"#,
            ),
            (
                "codelists.toml",
                r#"{ code = "F", label = "Female" }"#,
                r#"{ code = "F", label = "Female (as recorded)" }"#,
            ),
            // A rule's expression changed at error severity.
            ("rules.toml", "has(self.dateOfBirth) != has(self.expectedDateOfBirth)", "has(self.dateOfBirth)"),
        ]);
        let d = diff(&old, &new);
        let required = find(&d, "element", "/child/dateOfBirth", None);
        assert_eq!(required.kind, Kind::Changed);
        assert!(required.breaking && required.detail.contains("now required"), "{required:?}");
        assert!(required.detail.contains("format \"date\" → \"date-time\""), "{required:?}");
        let added = find(&d, "element", "/child/nickname", None);
        assert_eq!((added.kind, added.breaking), (Kind::Added, false));
        assert_eq!(find(&d, "code", "sex", Some("U")).kind, Kind::Removed);
        assert!(find(&d, "code", "sex", Some("U")).breaking);
        let x = find(&d, "code", "sex", Some("X"));
        assert_eq!((x.kind, x.breaking), (Kind::Added, false));
        let relabelled = find(&d, "code", "sex", Some("F"));
        assert_eq!((relabelled.kind, relabelled.breaking), (Kind::Changed, false));
        let rule = find(&d, "rule", "/child", Some("REF-001"));
        assert_eq!((rule.kind, rule.breaking), (Kind::Changed, true));
        // And the other way round: what was added is removed, a requirement dropped is not breaking.
        let back = diff(&new, &old);
        assert_eq!(find(&back, "element", "/child/nickname", None).kind, Kind::Removed);
        let optional = find(&back, "element", "/child/dateOfBirth", None);
        assert!(optional.detail.contains("now optional"), "{optional:?}");
        let json: Value = serde_json::from_str(&d.to_json()).expect("JSON");
        assert_eq!(json["from"], "referral@1.0");
        assert!(json["changes"].as_array().is_some_and(|c| c.len() == d.changes.len()));
        assert_eq!(d.breaking(), d.changes.iter().filter(|c| c.breaking).count());
    }

    #[test]
    fn restrictions_tighten_one_way_only() {
        let n = |v: u64| Some(Value::from(v));
        assert!(tightens("maxLength", n(20).as_ref(), n(10).as_ref()));
        assert!(!tightens("maxLength", n(10).as_ref(), n(20).as_ref()));
        assert!(!tightens("maxLength", n(10).as_ref(), None));
        assert!(tightens("minimum", n(1).as_ref(), n(2).as_ref()));
        let e = |v: &[&str]| Some(Value::from(v.iter().map(|s| Value::from(*s)).collect::<Vec<_>>()));
        assert!(tightens("enum", e(&["a", "b"]).as_ref(), e(&["a"]).as_ref()));
        assert!(!tightens("enum", e(&["a"]).as_ref(), e(&["a", "b"]).as_ref()));
        assert!(tightens("pattern", None, Some(&Value::from("^x$"))));
        assert!(!tightens("pattern", Some(&Value::from("^x$")), None));
    }
}
