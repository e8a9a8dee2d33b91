//! Authoring checks: the mistakes in a pack's rules that would otherwise load without a word and then pass
//! every document. A rule whose context or `at` names nothing in the schema, that reads a field the schema
//! does not have (a misspelling: `self.upnn`), or whose expression plainly cannot be true or false is refused
//! when the pack loads, with the nearest name the schema has.
//!
//! For: rules read against the pack's JSON Schema, following `$ref`s and the branches of `allOf`, `anyOf`,
//! `oneOf` and `if`/`then`/`else`.
//!
//! Not for: what only evaluation shows (a rule failing on a document is said as a `rule-error` finding), or
//! paths through nodes the schema leaves open (no `properties`: any member may be there), which are not judged.

use serde_json::Value;

use super::rulebook::{Rule, Step};

/// What the schema says is at a path.
enum At<'s> {
    /// The schema node of what is there.
    Node(&'s Value),
    /// Nothing: the schema names the members an object has, and this is not one. Holds the step that failed
    /// and the names the schema has there.
    Missing { step: String, names: Vec<String> },
    /// The schema leaves this open (or gives no node to follow): not judged.
    Open,
}

/// Checks every rule of a pack against its schema; the first mistake found, as a sentence, is the error.
pub(crate) fn check_rules(schema: &Value, rules: &[Rule]) -> Result<(), String> {
    for rule in rules {
        let context = rule.context.steps.iter().map(|s| match s {
            Step::Name(name) => Some(name.as_str()),
            Step::Any => None,
        });
        let node = match walk(schema, schema, context) {
            At::Node(node) => node,
            At::Open => continue,
            At::Missing { step, names } => {
                return Err(format!(
                    "rule {}: its context `{}` matches nothing in the schema: there is no `{step}` there{}",
                    rule.id,
                    rule.context.text,
                    suggestion(&step, &names)
                ));
            }
        };
        if let At::Missing { step, names } = walk(schema, node, rule.at.iter().map(|t| Some(t.as_str()))) {
            return Err(format!(
                "rule {}: `at = \"{}\"` names no field below its context `{}`: there is no `{step}`{}",
                rule.id,
                rule.at.join("/"),
                rule.context.text,
                suggestion(&step, &names)
            ));
        }
        for path in rule.program.paths_of("self") {
            if let At::Missing { step, names } = walk(schema, node, path.iter().map(|f| Some(f.as_str()))) {
                return Err(format!(
                    "rule {}: the expression reads `self.{}`, but the schema has no `{step}` there (at its context `{}`){}",
                    rule.id,
                    path.join("."),
                    rule.context.text,
                    suggestion(&step, &names)
                ));
            }
        }
        if let Some(what) = rule.program.plainly_not_bool() {
            return Err(format!(
                "rule {}: the expression gives {what}, never true or false, so the rule could never hold or fail; write a condition (e.g. `… > 0`, `has(…)`)",
                rule.id
            ));
        }
    }
    Ok(())
}

/// Follows `steps` (a member's name, or `None` for any item of an array) from `node` through the schema.
fn walk<'s, 'p>(schema: &'s Value, node: &'s Value, steps: impl Iterator<Item = Option<&'p str>>) -> At<'s> {
    let mut node = node;
    for step in steps {
        match child(schema, node, step, 0) {
            At::Node(next) => node = next,
            other => return other,
        }
    }
    At::Node(node)
}

/// The schema of `step` in `node`: a member of an object, or (for `None`, or an index) an item of an array.
fn child<'s>(schema: &'s Value, node: &'s Value, step: Option<&str>, depth: usize) -> At<'s> {
    if depth > 16 {
        return At::Open;
    }
    let Ok(node) = super::resolve_local(schema, node) else { return At::Open };
    let is_index = step.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    if step.is_none() || is_index {
        return match node.get("items") {
            Some(items) => At::Node(items),
            None => At::Open,
        };
    }
    let Some(name) = step else { return At::Open };
    if let Some(found) = node.get("properties").and_then(|p| p.get(name)) {
        return At::Node(found);
    }
    // The branches of a composition may declare it; while any leaves it open, it is not judged.
    let mut names: Vec<String> =
        node.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default();
    let mut declared = node.get("properties").is_some();
    for key in ["allOf", "anyOf", "oneOf"] {
        for branch in node.get(key).and_then(Value::as_array).into_iter().flatten() {
            match child(schema, branch, step, depth + 1) {
                At::Node(found) => return At::Node(found),
                At::Open => return At::Open,
                At::Missing { names: more, .. } => {
                    declared = true;
                    names.extend(more);
                }
            }
        }
    }
    for key in ["then", "else"] {
        if let Some(branch) = node.get(key) {
            if let At::Node(found) = child(schema, branch, step, depth + 1) {
                return At::Node(found);
            }
        }
    }
    // An object whose schema names no member, or allows members matched by pattern, is open.
    if !declared || node.get("patternProperties").is_some() {
        return At::Open;
    }
    names.sort();
    names.dedup();
    At::Missing { step: name.to_string(), names }
}

/// ` (did you mean `upn`?)`, or where nothing is near, the names there are (up to a dozen).
fn suggestion(step: &str, names: &[String]) -> String {
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    match crate::instance::from_xml::nearest(step, &all) {
        Some(name) => format!("; did you mean `{name}`?"),
        None if names.is_empty() => String::new(),
        None if names.len() <= 12 => format!("; it has {}", names.join(", ")),
        None => format!("; it has {}, …", names[..12].join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use crate::standard::{Catalog, StandardPack};

    /// The referral pack with one rule more, or the error its loading gives.
    fn with_rule(rule: &str) -> Result<StandardPack, String> {
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("referral@1.0").expect("referral 1.0 is embedded");
        let mut files = pack.files.clone();
        let mut rules = files.files.get("rules.toml").cloned().unwrap_or_default();
        rules.extend_from_slice(
            format!("\n[[rule]]\nid = \"MINE\"\nseverity = \"error\"\nmessage = \"m\"\n{rule}\n").as_bytes(),
        );
        files.files.insert("rules.toml".into(), rules);
        StandardPack::compile(files).map_err(|e| e.to_string())
    }

    fn refused(rule: &str) -> String {
        match with_rule(rule) {
            Ok(_) => panic!("loaded: {rule}"),
            Err(e) => e,
        }
    }

    /// `clause_prefix` cites each rule that does not cite its own clause; a rule that does keeps its own.
    #[test]
    fn a_rule_without_a_clause_is_cited_by_the_standard_s_prefix() {
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("referral@1.0").expect("referral 1.0 is embedded");
        let mut files = pack.files.clone();
        let manifest = String::from_utf8_lossy(&files.files["standard.toml"]).replacen(
            "publisher = ",
            "clause_prefix = \"Referral standard\"\npublisher = ",
            1,
        );
        files.files.insert("standard.toml".into(), manifest.into_bytes());
        let mut rules = files.files.get("rules.toml").cloned().unwrap_or_default();
        rules.extend_from_slice(b"\n[[rule]]\nid = \"MINE\"\nseverity = \"error\"\nmessage = \"m\"\ncontext = \"/child\"\nexpression = \"true\"\n");
        files.files.insert("rules.toml".into(), rules);
        let pack = StandardPack::compile(files).expect("loads");
        assert_eq!(pack.rule("MINE").and_then(|r| r.clause.clone()).as_deref(), Some("Referral standard rule MINE"));
        assert_eq!(pack.rule("REF-001").and_then(|r| r.clause.clone()).as_deref(), Some("referral 1.0 REF-001"));
    }

    /// The mistakes a standards body makes that used to load without a word and then pass every document.
    #[test]
    fn a_rule_naming_what_the_schema_lacks_is_refused_with_the_nearest_name() {
        let misspelt =
            refused("context = \"/child\"\nexpression = \"!has(self.dateOfBrith) || self.dateOfBrith != ''\"");
        assert!(
            misspelt.contains(
                "rule MINE: the expression reads `self.dateOfBrith`, but the schema has no `dateOfBrith` there"
            ) && misspelt.contains("did you mean `dateOfBirth`?"),
            "{misspelt}"
        );
        let context = refused("context = \"/chlid\"\nexpression = \"true\"");
        assert!(
            context.contains("its context `/chlid` matches nothing in the schema")
                && context.contains("did you mean `child`?"),
            "{context}"
        );
        let at = refused("context = \"/child\"\nat = \"dob\"\nexpression = \"true\"");
        assert!(at.contains("`at = \"dob\"` names no field below its context `/child`"), "{at}");
        let number = refused("context = \"/child\"\nexpression = \"size(self)\"");
        assert!(number.contains("the expression gives a number or a text, never true or false"), "{number}");
        let list = refused("context = \"/child\"\nexpression = \"[1, 2].map(x, x * 2)\"");
        assert!(list.contains("gives a list"), "{list}");
        // Deeper paths, and paths inside comprehensions, are read too; a comprehension's own variable is not
        // `self`.
        let deep = refused("context = \"/\"\nexpression = \"!has(self.child) || has(self.child.nmae)\"");
        assert!(deep.contains("reads `self.child.nmae`") && deep.contains("did you mean `name`?"), "{deep}");
        // What the schema has loads.
        with_rule("context = \"/child\"\nat = \"dateOfBirth\"\nexpression = \"!has(self.dateOfBirth) || self.dateOfBirth != ''\"")
            .expect("a sound rule loads");
    }
}
