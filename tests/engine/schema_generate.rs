//! Documents generated from a pack's schema alone, for a pack with no examples: valid by structure (only the
//! pack's business rules, which the schema does not state, may find fault), as JSON and as XML, the same for the
//! same seed.

use std::sync::{Arc, LazyLock};

use caregate_engine::convert::Target;
use caregate_engine::standard::{Catalog, PackFiles, StandardPack};
use caregate_engine::validate::{Options, Validator};
use caregate_generate::Generator;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

/// `pack` without its examples and its generate.toml.
fn bare(reference: &str) -> Arc<StandardPack> {
    let pack = CATALOG.find(reference).expect("embedded");
    let mut files: PackFiles = pack.files.clone();
    files.files.retain(|path, _| !path.starts_with("examples/") && path != "generate.toml");
    Arc::new(StandardPack::compile(files).expect("the bare pack compiles"))
}

/// The structural findings (any finding that is not one of the pack's rules) of `count` documents generated
/// from `pack`'s schema, as JSON and as XML.
fn structural_findings(pack: &Arc<StandardPack>, count: usize, seed: u64) -> Vec<String> {
    let options = Options { standard: Some(Arc::clone(pack)), ..Options::default() };
    let validator = Validator::new(&CATALOG, options);
    let generator = Generator::new(pack, &CATALOG, seed, 0.5).expect("a generator");
    let mut found = Vec::new();
    for (i, doc) in generator.documents(count).enumerate() {
        assert!(doc.fault.is_none(), "a schema-made document carries no fault");
        for target in [Target::Json, Target::Xml] {
            let text = doc.render(target, pack, &CATALOG);
            let result = validator.validate("generated", text.as_bytes());
            for f in result.findings.iter().filter(|f| pack.rule(&f.rule).is_none()) {
                found.push(format!(
                    "{} document {i} as {target:?}: {} {}\n{text}",
                    pack.reference(),
                    f.rule,
                    f.message
                ));
            }
        }
    }
    found
}

#[test]
fn documents_drawn_from_the_schemas_of_the_packs_are_valid_by_structure() {
    // (Not the envelope: its body is a document of another standard, which a schema-made envelope cannot name.)
    for reference in ["referral@1.0", "escr-document@1.0", "dfe-csc-api@1.0.1"] {
        let pack = bare(reference);
        let found = structural_findings(&pack, 40, 7);
        assert!(found.is_empty(), "{}", found.iter().take(3).cloned().collect::<Vec<_>>().join("\n\n"));
    }
}

/// Each construct a schema may use to say what a value is.
const CONSTRUCTS: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["id", "code", "count", "score", "when", "at", "ref", "tags", "either", "both", "flag", "email"],
  "properties": {
    "id": {"type": "string", "pattern": "^[A-Z][0-9]{12}$|^[A-Z]{2}[0-9]{2}-[a-z]{3,5}$"},
    "short": {"type": "string", "minLength": 2, "maxLength": 4},
    "code": {"type": "string", "enum": ["A1", "B2", "C3"]},
    "count": {"type": "integer", "minimum": 3, "maximum": 9},
    "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "when": {"type": "string", "format": "date"},
    "at": {"type": "string", "format": "date-time"},
    "ref": {"type": "string", "format": "uuid"},
    "email": {"type": "string", "format": "email"},
    "tags": {"type": "array", "minItems": 2, "maxItems": 4, "uniqueItems": true, "items": {"type": "string", "pattern": "^[a-z]{3}$"}},
    "either": {"oneOf": [{"$ref": "#/$defs/Person"}, {"type": "string", "const": "withheld"}]},
    "both": {"allOf": [{"$ref": "#/$defs/Person"}, {"type": "object", "required": ["role"], "properties": {"role": {"type": "string", "enum": ["x"]}}}]},
    "flag": {"type": ["boolean", "null"]}
  },
  "$defs": {
    "Person": {
      "type": "object",
      "required": ["name"],
      "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 40}, "age": {"type": "integer", "minimum": 0, "maximum": 120}}
    }
  }
}"##;

#[test]
fn every_construct_of_a_schema_gives_values_it_allows() {
    let schema: serde_json::Value = serde_json::from_str(CONSTRUCTS).expect("JSON");
    let documents: Vec<_> = caregate_generate::schema::documents(&schema, 11).take(200).collect();
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).expect("compiles");
    for doc in &documents {
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{doc}: {errors:?}");
    }
    // Both branches of the pattern's alternation, and optional members both given and left out, are drawn.
    let ids: Vec<&str> = documents.iter().filter_map(|d| d["id"].as_str()).collect();
    assert!(ids.iter().any(|i| i.len() == 13) && ids.iter().any(|i| i.contains('-')), "{ids:?}");
    assert!(documents.iter().any(|d| d.get("short").is_some()) && documents.iter().any(|d| d.get("short").is_none()));
    // The same seed gives the same documents.
    let again: Vec<_> = caregate_generate::schema::documents(&schema, 11).take(200).collect();
    assert_eq!(documents, again);
}
