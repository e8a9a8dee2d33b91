//! A new pack to start a standard from (`caregate standards new`): every file a pack has, each explaining
//! itself, holding a small working standard (a record of a child and its visits) that loads, validates,
//! converts and passes `caregate standards check` as written, for the author to change into theirs.
//!
//! Not for: importing a published schema (`standards import`), or guessing a standard's content.

use std::collections::BTreeMap;

/// The files of a new pack `id` at `version` (paths inside the pack's folder), ready to write. `id` is
/// checked by the caller to be a pack id (lower-case letters, digits and `-`).
pub fn new_pack(id: &str, version: &str) -> BTreeMap<String, String> {
    let root: String = id
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let prefix = id.to_ascii_uppercase();
    let fill = |text: &str| {
        text.replace("{id}", id).replace("{version}", version).replace("{Root}", &root).replace("{PREFIX}", &prefix)
    };
    let mut files = BTreeMap::new();
    for (path, text) in [
        ("standard.toml", STANDARD),
        ("schema.json", SCHEMA),
        ("codelists.toml", CODELISTS),
        ("rules.toml", RULES),
        ("README.md", README),
        ("examples/valid/minimal.json", VALID),
        ("examples/invalid/{PREFIX}-001.json", INVALID_1),
        ("examples/invalid/{PREFIX}-002.json", INVALID_2),
    ] {
        files.insert(fill(path), fill(text));
    }
    files
}

/// Whether `id` can name a pack: lower-case letters and digits, words joined by single `-`.
pub fn is_pack_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && id.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

const STANDARD: &str = r#"# The standard's manifest: who it is, which version, and how caregate recognises its documents.
# Every key is explained in schemas/README.md of caregate's repository ("standard.toml").

# The pack's id and version: a document names its standard as id@version. A new year is a new folder
# (<id>/<version>/), which may say `extends = "{id}@{version}"` and hold only what changed.
id = "{id}"
version = "{version}"
title = "{id} {version}"                 # how lists and reports name it
publisher = "Replace with who publishes the standard"
status = "draft"                         # draft | active | retired
effective_from = "2026-04-01"            # documents dated before this are of an earlier version
clause_prefix = "{id} {version}"         # a rule without `clause` is cited "{id} {version} rule ID"

# A document of the standard sent as XML is known by its root element and namespace; sent as JSON, by the
# shape schema.json gives it (or name the standard with `--standard {id}@{version}`).
[xml]
root = "{Root}"
namespace = "urn:example:{id}:{version}"
"#;

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "{id} {version}",
  "description": "A record of a child and the visits made to them. Replace with your standard's structure (see README.md beside this file).",
  "type": "object",
  "additionalProperties": false,
  "required": ["recorded", "child"],
  "properties": {
    "recorded": {"type": "string", "format": "date", "description": "The day the record was made."},
    "child": {
      "type": "object",
      "additionalProperties": false,
      "required": ["id", "dateOfBirth"],
      "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9]{1,20}$", "description": "The child's identifier in the sender's system."},
        "dateOfBirth": {"type": "string", "format": "date"},
        "sex": {"type": "string", "x-codelist": "sex", "description": "The child's sex, from the code list `sex`."}
      }
    },
    "visits": {
      "type": "array",
      "description": "The visits made to the child.",
      "xml": {"wrapped": true},
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["date"],
        "xml": {"name": "Visit"},
        "properties": {
          "date": {"type": "string", "format": "date"},
          "seen": {"type": "boolean", "description": "Whether the child was seen."}
        }
      }
    }
  }
}
"#;

const CODELISTS: &str = r#"# Code lists: each [name] is a list a field of schema.json names with "x-codelist": "name". A value not in
# its list is reported with the list's title; the labels are what reports and `standards show` say a code means.

[sex]
title = "Sex"
codes = [
  { code = "M", label = "Male" },
  { code = "F", label = "Female" },
  { code = "U", label = "Not known" },
]
"#;

const RULES: &str = r#"# Business rules: what the structure cannot say. Each rule is a CEL expression that is true when the rule
# holds, checked at every node its `context` matches (a JSON path into the document, `*` for each item of a
# list). In the expression, `self` is that node, `root` the whole document, `asOf` the day the document is
# judged as at. `at` names the field (below the context) a finding points at; `{value}` in the message is that
# field's value. A rule that reads a field the schema does not have, or whose context matches nothing, stops
# the pack from loading (`caregate standards check` says which, and the nearest name).

[[rule]]
id = "{PREFIX}-001"
severity = "error"                       # error | query | warning
context = "/child"
at = "dateOfBirth"
expression = "date(self.dateOfBirth) <= date(root.recorded)"
message = "The child's date of birth {value} is after the day the record was made."
fix = "Check the date of birth."

[[rule]]
id = "{PREFIX}-002"
severity = "query"
context = "/visits/*"
at = "date"
expression = "date(self.date) <= date(root.recorded) && date(self.date) >= date(root.child.dateOfBirth)"
message = "The visit on {value} is after the record was made, or before the child was born."
fix = "Check the visit's date."
"#;

const README: &str = r#"# {id} {version}

A standard pack, made by `caregate standards new`. Its files:

- `standard.toml`: who the standard is and how its documents are recognised.
- `schema.json`: the structure, as JSON Schema (draft 2020-12). caregate reads it for JSON and XML alike: a
  member is an XML element of its name with the first letter upper-cased (`dateOfBirth` is `<DateOfBirth>`;
  `"xml": {"name": …}` names it otherwise, `"xml": {"wrapped": true}` puts a
  list's items inside an element of the list's name), `"x-codelist"` names a list of `codelists.toml`, and
  `"x-sensitivity"` marks what the gateway's security policy may redact.
- `codelists.toml`: the code lists.
- `rules.toml`: the business rules.
- `examples/valid/`: documents that must be valid; `examples/invalid/<RULE>.json`: a document that breaks
  that rule alone.

Try it (with this folder's parent's parent as DIR):

    caregate standards check DIR
    caregate validate --standards DIR --standard {id}@{version} DIR/{id}/{version}/examples/valid/minimal.json
    caregate validate --standards DIR --standard {id}@{version} DIR/{id}/{version}/examples/invalid/{PREFIX}-001.json
    caregate convert --standards DIR --standard {id}@{version} DIR/{id}/{version}/examples/valid/minimal.json --to xml

The guide to every file and every function rules may use is schemas/README.md in caregate's repository.
"#;

const VALID: &str = r#"{
  "recorded": "2026-05-01",
  "child": {"id": "C1001", "dateOfBirth": "2016-03-14", "sex": "F"},
  "visits": [{"date": "2026-04-20", "seen": true}]
}
"#;

const INVALID_1: &str = r#"{
  "recorded": "2026-05-01",
  "child": {"id": "C1001", "dateOfBirth": "2026-06-14", "sex": "F"},
  "visits": []
}
"#;

const INVALID_2: &str = r#"{
  "recorded": "2026-05-01",
  "child": {"id": "C1001", "dateOfBirth": "2016-03-14", "sex": "F"},
  "visits": [{"date": "2026-05-20", "seen": true}]
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::{PackFiles, StandardPack};

    #[test]
    fn a_new_pack_loads_with_its_names_filled_in() {
        let files = new_pack("visit-record", "1.0");
        assert!(files.contains_key("examples/invalid/VISIT-RECORD-001.json"));
        assert!(files["standard.toml"].contains("root = \"VisitRecord\""));
        let pack =
            PackFiles { origin: "new".into(), files: files.into_iter().map(|(p, t)| (p, t.into_bytes())).collect() };
        let pack = StandardPack::compile(pack).expect("the new pack loads");
        assert_eq!(pack.reference(), "visit-record@1.0");
        assert_eq!(pack.rules.len(), 2);
        assert_eq!(
            pack.rule("VISIT-RECORD-001").and_then(|r| r.clause.clone()).as_deref(),
            Some("visit-record 1.0 rule VISIT-RECORD-001")
        );
    }

    #[test]
    fn pack_ids_are_lower_case_words_joined_by_hyphens() {
        for good in ["visit-record", "cin", "ssda903"] {
            assert!(is_pack_id(good), "{good}");
        }
        for bad in ["", "Visit", "a--b", "-a", "a-", "a b", "../x", "9lives"] {
            assert!(!is_pack_id(bad), "{bad}");
        }
    }
}
