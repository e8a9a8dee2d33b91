//! A pack imported from an XSD judges documents as libxml2 judges them with the XSD itself: for each XSD under
//! `xsd_import/` (one per construct, and a small census return combining them), documents generated from the
//! imported pack, the same broken as suppliers break them (`xsd::mutate`), and values aimed at each construct
//! (a number just outside or on a bound, a text one character too long, a pattern broken, a code not in the
//! list, a date with a time zone or none such, both branches of a choice, an attribute left out) are checked by caregate, by
//! `xmllint --schema` with the XSD, and by `xmllint --schema` with the pack's own export of an XSD; the three
//! verdicts must be the same. Constructs the importer does not read are refused
//! with their line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock};

use caregate_engine::instance::to_xml;
use caregate_engine::standard::xsd::{self, ImportOptions};
use caregate_engine::standard::{Catalog, PackFiles, StandardPack};
use caregate_engine::validate::{Options, Validator};
use rand::{Rng, RngExt, SeedableRng};
use serde_json::{json, Value};

use crate::xsd::mutate;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engine/xsd_import")
}

fn import(name: &str) -> Result<Arc<StandardPack>, String> {
    import_root(name, None)
}

/// Imports `name` with `root` as the document element (`--root`).
fn import_root(name: &str, root: Option<&str>) -> Result<Arc<StandardPack>, String> {
    let path = folder().join(name);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    import_bytes(&bytes, name, root)
}

fn import_bytes(bytes: &[u8], name: &str, root: Option<&str>) -> Result<Arc<StandardPack>, String> {
    let options = ImportOptions {
        id: name.trim_end_matches(".xsd").replace('/', "-"),
        version: "1".into(),
        root: root.map(str::to_string),
        source_name: name.into(),
        ..ImportOptions::default()
    };
    let imported = xsd::import(bytes, &options).map_err(|e| e.to_string())?;
    let files = PackFiles { origin: name.to_string(), files: imported.files };
    StandardPack::compile(files).map(Arc::new).map_err(|e| e.to_string())
}

/// libxml2's verdict on each document, from one `xmllint` run over all of them.
fn xmllint_verdicts(xsd: &Path, documents: &[String]) -> Vec<bool> {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..documents.len()).map(|i| dir.path().join(format!("d{i}.xml"))).collect();
    for (path, document) in paths.iter().zip(documents) {
        std::fs::write(path, document).unwrap();
    }
    let output =
        Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(xsd).args(&paths).output().expect(
            "xmllint must be installed for this test (Debian: apt-get install libxml2-utils; .ci/run installs it)",
        );
    let report = String::from_utf8_lossy(&output.stderr);
    let mut verdicts: HashMap<String, bool> = HashMap::new();
    for line in report.lines() {
        if let Some(path) = line.strip_suffix(" validates") {
            verdicts.insert(path.to_string(), true);
        } else if let Some(path) = line.strip_suffix(" fails to validate") {
            verdicts.insert(path.to_string(), false);
        }
    }
    paths.iter().map(|p| verdicts.get(&p.display().to_string()).copied().unwrap_or(false)).collect()
}

/// A scalar of the instance: its JSON Pointer and its schema.
struct Site<'s> {
    pointer: String,
    schema: &'s Value,
}

/// Every scalar of `value`, and every object holding a choice, with their schemas.
fn sites<'s>(
    schema: &'s Value,
    value: &Value,
    pointer: &str,
    scalars: &mut Vec<Site<'s>>,
    choices: &mut Vec<Site<'s>>,
) {
    match value {
        Value::Object(map) => {
            if schema.get("allOf").is_some() {
                choices.push(Site { pointer: pointer.to_string(), schema });
            }
            for (name, member) in map {
                let Some(member_schema) = schema.pointer(&format!("/properties/{name}")) else { continue };
                let here = format!("{pointer}/{name}");
                match (member, member_schema.get("items")) {
                    (Value::Array(items), Some(item_schema)) => {
                        for (i, item) in items.iter().enumerate() {
                            sites(item_schema, item, &format!("{here}/{i}"), scalars, choices);
                        }
                    }
                    _ => sites(member_schema, member, &here, scalars, choices),
                }
            }
        }
        _ => scalars.push(Site { pointer: pointer.to_string(), schema }),
    }
}

/// Values aimed at the constraint of a scalar: on its bounds and just past them, at its length and one over,
/// its pattern broken, a code not in its list, dates XSD reads otherwise than RFC 3339.
fn aimed_values(schema: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let integer = schema.get("type") == Some(&json!("integer"));
    let step = if integer { 1.0 } else { 0.5 };
    let number = |n: f64| if integer { json!(n as i64) } else { json!(n) };
    for (key, outward) in [("minimum", -step), ("maximum", step), ("exclusiveMinimum", 0.0), ("exclusiveMaximum", 0.0)]
    {
        if let Some(bound) = schema.get(key).and_then(Value::as_f64) {
            out.push(number(bound));
            out.push(number(bound + outward));
            out.push(number(bound - outward.signum() * step));
        }
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        out.push(json!("A".repeat(max as usize)));
        out.push(json!("A".repeat(max as usize + 1)));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        out.push(json!("A".repeat(min.saturating_sub(1) as usize)));
    }
    if schema.get("pattern").is_some() {
        out.push(json!("a-b"));
        out.push(json!(""));
    }
    if schema.get("enum").is_some() {
        out.push(json!("ZZ"));
    }
    match schema.get("format").and_then(Value::as_str) {
        Some("xsd:date") => out.extend(
            ["2024-02-29Z", "2023-02-29", "2024-01-31+14:30", "2024-01-31-05:00", "12024-01-31", "0000-01-01"]
                .map(Value::from),
        ),
        Some("xsd:dateTime") => out.extend(
            [
                "2024-01-31T24:00:00",
                "2024-01-31T24:00:01",
                "2024-01-31T23:59:59.125Z",
                "2024-01-31T12:00",
                "2024-01-31T12:00:00+14:00",
            ]
            .map(Value::from),
        ),
        Some("xsd:gYear") => out.extend(["2024Z", "-0044", "0000", "24", "02024"].map(Value::from)),
        _ => {}
    }
    out
}

/// The instance with one member of another branch of one of its choices added: both branches present.
fn both_branches(pack: &StandardPack, value: &Value, site: &Site, rng: &mut impl Rng) -> Option<Value> {
    let object = value.pointer(&site.pointer)?.as_object()?;
    let properties = site.schema.get("properties")?.as_object()?;
    let absent: Vec<&String> = properties.keys().filter(|k| !object.contains_key(*k)).collect();
    let name = absent.get(rng.random_range(0..absent.len().max(1)))?;
    let member = caregate_generate::schema::value(&pack.schema, &properties[*name], rng);
    let mut changed = value.clone();
    changed.pointer_mut(&site.pointer)?.as_object_mut()?.insert((*name).clone(), member);
    Some(changed)
}

/// Imports `name`, and checks that caregate and libxml2 agree on `count` generated documents and their
/// mutations; returns how many documents both accepted and both rejected.
fn agree(name: &str, count: usize) -> (usize, usize) {
    let pack = import(name).unwrap_or_else(|e| panic!("{name} imports: {e}"));
    let validator = Validator::new(&CATALOG, Options { standard: Some(Arc::clone(&pack)), ..Options::default() });
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let mut documents = Vec::new();
    // Which documents are as generated: each must be valid, for both.
    let mut generated = Vec::new();
    for (case, value) in caregate_generate::schema::documents(&pack.schema, 7).take(count).enumerate() {
        let xml = to_xml(&value, &pack, &CATALOG).xml;
        generated.push(documents.len());
        documents.push(xml.clone());
        documents.extend((0..12).filter_map(|kind| mutate(&xml, kind, case * 7 + kind)));
        let (mut scalars, mut choices) = (Vec::new(), Vec::new());
        sites(&pack.schema, &value, "", &mut scalars, &mut choices);
        for site in &scalars {
            for aimed in aimed_values(site.schema) {
                if rng.random_bool(0.5) {
                    continue;
                }
                let mut changed = value.clone();
                if let Some(slot) = changed.pointer_mut(&site.pointer) {
                    *slot = aimed;
                    documents.push(to_xml(&changed, &pack, &CATALOG).xml);
                }
            }
        }
        // A member left out (an attribute, which the text mutations do not reach, or an element).
        for site in scalars.iter().filter(|_| rng.random_bool(0.3)) {
            let Some((parent, name)) = site.pointer.rsplit_once('/') else { continue };
            let mut changed = value.clone();
            if let Some(object) = changed.pointer_mut(parent).and_then(Value::as_object_mut) {
                object.remove(name);
                documents.push(to_xml(&changed, &pack, &CATALOG).xml);
            }
        }
        for site in &choices {
            if let Some(changed) = both_branches(&pack, &value, site, &mut rng) {
                documents.push(to_xml(&changed, &pack, &CATALOG).xml);
            }
        }
    }
    let xsd = folder().join(name);
    let theirs = xmllint_verdicts(&xsd, &documents);
    // The pack's own XSD export (`standards export --as xsd`) judges them as the XSD it was imported from.
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("exported.xsd");
    std::fs::write(&exported, caregate_engine::standard::export::xsd(&pack, &CATALOG)).unwrap();
    let exported_verdicts = xmllint_verdicts(&exported, &documents);
    let mut disagreements = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for (i, ((document, theirs), exported)) in documents.iter().zip(theirs).zip(exported_verdicts).enumerate() {
        let findings = validator.check(document.as_bytes()).findings;
        let ours = findings.is_empty();
        if generated.contains(&i) && !theirs {
            disagreements.push(format!("a generated document is not valid for xmllint:\n{document}"));
        } else if exported != theirs {
            disagreements.push(format!(
                "the exported XSD {} but the imported one {} this document:\n{document}",
                if exported { "accepts" } else { "rejects" },
                if theirs { "accepts" } else { "rejects" },
            ));
        } else if ours != theirs {
            let found: Vec<String> = findings.iter().map(|f| format!("{} {}", f.rule, f.message)).collect();
            disagreements.push(format!(
                "caregate {} but xmllint {} this document:\n{document}\ncaregate found: {found:#?}",
                if ours { "accepts" } else { "rejects" },
                if theirs { "accepts" } else { "rejects" },
            ));
        } else if ours {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    assert!(
        disagreements.is_empty(),
        "{name}: {} of {} documents judged otherwise; the first:\n{}",
        disagreements.len(),
        documents.len(),
        disagreements.iter().take(2).cloned().collect::<Vec<_>>().join("\n\n")
    );
    eprintln!("{name}: {accepted} accepted, {rejected} rejected by both");
    assert!(accepted >= count, "{name}: too few accepted documents ({accepted})");
    assert!(rejected >= count * 3, "{name}: too few rejected documents ({rejected})");
    (accepted, rejected)
}

#[test]
fn sequences_and_cardinalities_agree_with_libxml2() {
    agree("sequence.xsd", 30);
}

#[test]
fn choices_agree_with_libxml2() {
    agree("choice.xsd", 40);
}

#[test]
fn patterns_lengths_and_ranges_agree_with_libxml2() {
    agree("facets.xsd", 30);
}

#[test]
fn datatypes_and_enumerations_agree_with_libxml2() {
    agree("datatypes.xsd", 30);
}

#[test]
fn qualified_elements_and_attributes_agree_with_libxml2() {
    agree("qualified.xsd", 30);
}

#[test]
fn unqualified_local_elements_agree_with_libxml2() {
    agree("unqualified.xsd", 30);
}

#[test]
fn a_census_return_agrees_with_libxml2() {
    agree("census.xsd", 30);
}

#[test]
fn enumerations_become_code_lists_labelled_from_the_documentation() {
    let pack = import("census.xsd").unwrap();
    let sex = &pack.codelists["sextype"];
    assert_eq!(sex.label("U"), Some("Not known or unborn"));
    assert_eq!(pack.codelists["unknowntype"].label("UN2"), Some("Child has never attended school"));
    let datatypes = import("datatypes.xsd").unwrap();
    let factors = &datatypes.codelists["factortype"];
    assert_eq!(factors.title, "Factors identified at assessment");
    assert_eq!(factors.label("21"), Some("No factors identified"));
    // A code without documentation is labelled by itself; numbers are enumerated in the schema, not listed.
    assert_eq!(datatypes.codelists["Sex"].label("U"), Some("U"));
    assert_eq!(datatypes.schema.pointer("/properties/Level/enum"), Some(&json!([1, 2, 5])));
}

#[test]
fn unsupported_constructs_are_refused_with_their_line() {
    for (name, construct, line) in [
        ("unsupported/any.xsd", "xs:any", 7),
        ("unsupported/all.xsd", "xs:all", 5),
        ("unsupported/group.xsd", "xs:group", 6),
        ("unsupported/substitution.xsd", "substitution groups", 11),
        ("unsupported/redefine.xsd", "xs:redefine", 3),
        ("unsupported/key.xsd", "xs:unique", 9),
        ("unsupported/subtraction.xsd", "character class subtraction", 9),
        ("unsupported/mixed.xsd", "mixed=\"true\"", 4),
        ("unsupported/token.xsd", "xs:token", 6),
        ("unsupported/recursive.xsd", "recursive type `parttype`", 10),
    ] {
        let error = import(name).expect_err(name);
        assert!(error.starts_with(&format!("line {line}: ")), "{name}: {error}");
        assert!(error.contains(construct), "{name}: {error}");
        assert!(error.contains("not supported"), "{name}: {error}");
    }
}

#[test]
fn the_document_element_is_the_one_global_element_not_referred_to_or_the_one_named() {
    assert_eq!(import("sequence.xsd").unwrap().binding.root, "Visit");
    let error = import("two_roots.xsd").unwrap_err();
    assert!(error.contains("Request, Response") && error.contains("--root"), "{error}");
    let pack = import_root("two_roots.xsd", Some("Response")).unwrap();
    assert_eq!(pack.binding.root, "Response");
    assert!(pack.schema.pointer("/properties/Accepted").is_some());
    assert!(import_root("two_roots.xsd", Some("Reply")).unwrap_err().contains("no global element `Reply`"));
}

/// Patterns written the ways XSD differs from other regex dialects, and text that tells the differences apart.
const PATTERNS: &[&str] = &[
    r"\d{3}",
    r"[^\s]+",
    r"\S+",
    r".+",
    r"[a-z]*",
    r"\w+",
    r"\W",
    r"\p{Lu}+",
    r"\P{L}+",
    r"(ab|c)+",
    r"a?b{2,}",
    r"[\]\[]",
    r"\^$",
    r"[.]",
    r"x|",
    r"[+\-*/]",
    r"\D\D",
    r"[\d-]+",
    r"\.\\",
    r"[^a-c]{2}",
    r"\s*y",
    r"[\w.]+",
    r"(a|b)(c|d)?",
    r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}",
];
const TEXTS: &[&str] = &[
    "", "abc", "123", "1234", "A", "AB", "a b", " ", "\t", "ab ab", "$", "^$", "[", "]", "-", ".", "\\", "x", "٣٤٥",
    "ÀÉ", "_", "a\nb", "£", "+", "*", "bbb", "abcab", "ad", "de", " \ny", "a.b_c", "SW1A 1AA", "1-2", "xx",
];

#[test]
fn patterns_are_judged_as_libxml2_judges_them() {
    let mut disagreements = Vec::new();
    for pattern in PATTERNS {
        let escaped = pattern.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
        let xsd = format!(
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:element name=\"D\"><xs:complexType>\
             <xs:sequence><xs:element name=\"V\"><xs:simpleType><xs:restriction base=\"xs:string\">\
             <xs:pattern value=\"{escaped}\"/></xs:restriction></xs:simpleType></xs:element></xs:sequence>\
             </xs:complexType></xs:element></xs:schema>"
        );
        let pack = import_bytes(xsd.as_bytes(), "pattern.xsd", None).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let validator = Validator::new(&CATALOG, Options { standard: Some(Arc::clone(&pack)), ..Options::default() });
        let dir = tempfile::tempdir().unwrap();
        let xsd_path = dir.path().join("pattern.xsd");
        std::fs::write(&xsd_path, &xsd).unwrap();
        let documents: Vec<String> =
            TEXTS.iter().map(|t| format!("<D><V>{}</V></D>", t.replace('&', "&amp;").replace('<', "&lt;"))).collect();
        let theirs = xmllint_verdicts(&xsd_path, &documents);
        for ((text, document), theirs) in TEXTS.iter().zip(&documents).zip(theirs) {
            let ours = validator.check(document.as_bytes()).findings.is_empty();
            if ours != theirs {
                disagreements.push(format!("pattern {pattern:?}, text {text:?}: caregate {ours}, xmllint {theirs}"));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn a_choice_given_a_new_branch_diffs_as_a_field_of_its_type() {
    let text = std::fs::read_to_string(folder().join("census.xsd")).unwrap();
    let with_branch = text.replace(
        r#"<xs:element name="UPNunknown" type="unknowntype"/>"#,
        r#"<xs:element name="UPNunknown" type="unknowntype"/><xs:element name="UPNpending" type="xs:boolean"/>"#,
    );
    assert_ne!(with_branch, text);
    let from = import("census.xsd").unwrap();
    let to = import_bytes(with_branch.as_bytes(), "census.xsd", None).unwrap();
    let diff = caregate_engine::standard::diff::diff(&from, &to);
    let details: Vec<String> = diff.changes.iter().map(|c| format!("{} {}", c.path, c.detail)).collect();
    assert_eq!(details.len(), 1, "{details:#?}");
    assert!(details[0].starts_with("/Children/Child/UPNpending") && details[0].contains("boolean"), "{details:#?}");
}
