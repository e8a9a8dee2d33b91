//! Blank elements in the DfE Children in Need census 2025-26. DfE reads an element written blank (`<X></X>`,
//! `<X/>`, or only whitespace) as not provided, and so does the pack (`[xml] blank = "absent"` in its
//! standard.toml): a blank element gives exactly the findings of the same return without it, wherever it is.
//!
//! The blank-element cases of the conformance suite (`cases/<code>/blank-*.xml`, written by
//! `tools/make_blank_cases.py`) are checked here in all three blank forms and with their blank elements removed,
//! and every rule that reads a field the schema makes optional, or tests one with `has(...)`, must have one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use assert_cmd::Command;
use caregate_engine::document::{Limits, LineIndex};
use caregate_engine::finding::Finding;
use caregate_engine::instance::{from_xml, stream};
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};
use regex::Regex;
use serde_json::Value;

const NOW: &str = "2026-05-15T10:00:00Z";

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

fn pack() -> Arc<StandardPack> {
    CATALOG.find("cin-census@2025-26").expect("cin-census 2025-26 is embedded")
}

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/cin-census/2025-26")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn base() -> String {
    read(&suite().join("base.xml"))
}

fn pack_text(name: &str) -> String {
    let bytes = pack().files.files.get(name).unwrap_or_else(|| panic!("the pack has no {name}")).clone();
    String::from_utf8(bytes).expect("pack files are UTF-8")
}

fn check(xml: &str) -> Vec<Finding> {
    let options = Options {
        now: chrono::DateTime::parse_from_rfc3339(NOW).unwrap(),
        standard: Some(pack()),
        ..Options::default()
    };
    Validator::new(&CATALOG, options).check(xml.as_bytes()).findings
}

/// What the findings say, without their line and column: severity, rule, record, XPath and message.
fn said(findings: &[Finding]) -> Vec<String> {
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| {
            let path = f.location.as_ref().map(|l| l.path.as_str()).unwrap_or("-");
            format!("{} {} [{}] {path}: {}", f.severity, f.rule, f.record.as_deref().unwrap_or("-"), f.message)
        })
        .collect();
    lines.sort();
    lines
}

fn rules_of(findings: &[Finding]) -> BTreeSet<(String, Option<String>)> {
    findings.iter().map(|f| (f.rule.clone(), f.record.clone())).collect()
}

/// The three ways of writing a blank element, and leaving it out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Empty,
    SelfClosing,
    Whitespace,
    Removed,
}

const FORMS: [Form; 4] = [Form::Empty, Form::SelfClosing, Form::Whitespace, Form::Removed];

impl Form {
    /// The line(s) of element `name` indented by `indent`, in this form.
    fn line(self, indent: &str, name: &str) -> String {
        match self {
            Form::Empty => format!("{indent}<{name}></{name}>\n"),
            Form::SelfClosing => format!("{indent}<{name}/>\n"),
            Form::Whitespace => format!("{indent}<{name}> \t\n{indent}  </{name}>\n"),
            Form::Removed => String::new(),
        }
    }
}

/// A blank element on lines of its own, in any of the three forms.
static BLANK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^([ \t]*)<(\w+)(?:\s*/>|>\s*</(\w+)>)[ \t]*\r?\n").expect("pattern compiles"));

/// The names of the blank elements of `xml`.
fn blank_elements(xml: &str) -> Vec<String> {
    BLANK
        .captures_iter(xml)
        .filter(|c| c.get(3).is_none_or(|close| close.as_str() == &c[2]))
        .map(|c| c[2].to_string())
        .collect()
}

/// `xml` with every blank element written in `form`.
fn rewrite(xml: &str, form: Form) -> String {
    BLANK
        .replace_all(xml, |c: &regex::Captures| match c.get(3) {
            Some(close) if close.as_str() != &c[2] => c[0].to_string(),
            _ => form.line(&c[1], &c[2]),
        })
        .into_owned()
}

/// `base.xml` with the `nth` element holding exactly `element` (e.g. `<Sex>M</Sex>`) written blank in `form`.
fn blank_in_base(element: &str, nth: usize, form: Form) -> String {
    let xml = base();
    let name = element.trim_start_matches('<').split('>').next().expect("an element").to_string();
    let (start, _) = xml.match_indices(element).nth(nth).unwrap_or_else(|| panic!("base.xml has no {element} #{nth}"));
    let line_start = xml[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = xml[start..].find('\n').map_or(xml.len(), |i| start + i + 1);
    assert_eq!(xml[line_start..line_end].trim(), element, "{element} is not on a line of its own");
    format!("{}{}{}", &xml[..line_start], form.line(&xml[line_start..start], &name), &xml[line_end..])
}

#[test]
fn the_forms_are_recognised_and_rewritten() {
    let xml = "<A>\n  <B></B>\n  <C/>\n  <D> \n  </D>\n  <E>x</E>\n  <F></G>\n</A>\n";
    assert_eq!(blank_elements(xml), ["B", "C", "D"]);
    assert_eq!(rewrite(xml, Form::Removed), "<A>\n  <E>x</E>\n  <F></G>\n</A>\n");
    assert_eq!(rewrite(xml, Form::SelfClosing), "<A>\n  <B/>\n  <C/>\n  <D/>\n  <E>x</E>\n  <F></G>\n</A>\n");
    assert_eq!(blank_in_base("<Sex>M</Sex>", 0, Form::Empty).matches("<Sex></Sex>").count(), 1);
}

/// Through the binary, as a local authority would run it: a closed episode whose ReasonForClosure is blank has
/// no reason for closure (8805), not an invalid one (8640), and nothing else is wrong with it.
#[test]
fn blank_reason_for_closure_on_a_closed_episode_is_8805_not_8640() {
    let dir = tempfile::tempdir().unwrap();
    for form in [Form::Empty, Form::SelfClosing, Form::Whitespace] {
        let path = dir.path().join(format!("{form:?}.xml"));
        std::fs::write(&path, blank_in_base("<ReasonForClosure>RC1</ReasonForClosure>", 0, form)).unwrap();
        let output = Command::cargo_bin("caregate")
            .unwrap()
            .args(["validate", "--format", "json", "--now", NOW])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{form:?}: {}", String::from_utf8_lossy(&output.stderr));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let found: Vec<(String, String)> = report["documents"][0]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| (f["rule"].as_str().unwrap().to_string(), f["record"].as_str().unwrap_or("-").to_string()))
            .collect();
        assert_eq!(found, [("8805".to_string(), "CH001".to_string())], "{form:?}");
    }
}

/// A required element written blank is missing: the DfE rule about its absence says so, with the same findings
/// as when it is left out, and no finding judges the blank text as a value ("invalid code", "not a date").
#[test]
fn a_blank_required_element_gives_the_dfe_rule_for_its_absence() {
    let cases = [
        ("<LAchildID>CH002</LAchildID>", 0, "8500", None),
        ("<Sex>M</Sex>", 0, "4180", Some("CH001")),
        ("<Ethnicity>WBRI</Ethnicity>", 0, "4220", Some("CH001")),
        ("<CINreferralDate>2026-01-12</CINreferralDate>", 0, "8600", Some("CH001")),
        ("<ReferralSource>2A</ReferralSource>", 0, "8866", Some("CH001")),
        ("<ReferralNFA>false</ReferralNFA>", 0, "8568", Some("CH001")),
        ("<CINPlanStartDate>2026-02-23</CINPlanStartDate>", 0, "4010", Some("CH001")),
        ("<S47ActualStartDate>2025-05-12</S47ActualStartDate>", 0, "8615", Some("CH001")),
        ("<CPPstartDate>2025-06-02</CPPstartDate>", 0, "8720", Some("CH001")),
        ("<InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>", 0, "8905", Some("CH001")),
        ("<LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>", 0, "8910", Some("CH001")),
        ("<NumberOfPreviousCPP>1</NumberOfPreviousCPP>", 0, "8730", Some("CH001")),
    ];
    let mut problems = Vec::new();
    for (element, nth, rule, record) in cases {
        let name = element.trim_start_matches('<').split('>').next().unwrap();
        let left_out = check(&blank_in_base(element, nth, Form::Removed));
        for form in [Form::Empty, Form::SelfClosing, Form::Whitespace] {
            let findings = check(&blank_in_base(element, nth, form));
            let found = rules_of(&findings);
            if !found.contains(&(rule.to_string(), record.map(str::to_string))) {
                problems.push(format!("{name} {form:?}: no {rule} for {record:?}: {:#?}", said(&findings)));
            }
            let as_value: Vec<&Finding> = findings
                .iter()
                .filter(|f| ["enum", "pattern", "format", "type", "minLength"].contains(&f.rule.as_str()))
                .collect();
            if !as_value.is_empty() {
                problems.push(format!("{name} {form:?}: the blank text is judged as a value: {:#?}", said(&findings)));
            }
            if said(&findings) != said(&left_out) {
                problems.push(format!(
                    "{name} {form:?}: blank {:#?}\nleft out {:#?}",
                    said(&findings),
                    said(&left_out)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// An optional date written blank is no date: no finding of its own, and the rules read it as absent.
#[test]
fn a_blank_optional_date_behaves_as_absent() {
    // A date of death written blank, where the base return has none: still no finding at all.
    let xml = base();
    let sex = "        <Sex>M</Sex>\n";
    assert_eq!(xml.matches(sex).count(), 1);
    for form in [Form::Empty, Form::SelfClosing, Form::Whitespace] {
        let with_blank = xml.replacen(sex, &format!("{sex}{}", form.line("        ", "PersonDeathDate")), 1);
        assert!(with_blank.contains("PersonDeathDate"));
        let findings = check(&with_blank);
        assert!(findings.is_empty(), "{form:?}: {:#?}", said(&findings));
    }
    // A child protection plan whose end date is blank is open: the CIN plan that starts on its end date now
    // starts while it is open (4016), and the end date is neither the start date (8840), nor before it (8925),
    // nor outside the year (8930), nor a malformed date.
    let left_out = check(&blank_in_base("<CPPendDate>2025-10-01</CPPendDate>", 0, Form::Removed));
    assert_eq!(rules_of(&left_out), BTreeSet::from([("4016".to_string(), Some("CH001".to_string()))]));
    for form in [Form::Empty, Form::SelfClosing, Form::Whitespace] {
        let findings = check(&blank_in_base("<CPPendDate>2025-10-01</CPPendDate>", 0, form));
        assert_eq!(said(&findings), said(&left_out), "{form:?}");
    }
}

fn blank_cases() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(suite().join("cases")).unwrap() {
        for file in std::fs::read_dir(entry.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("blank-") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The instance of `xml` by the converter's tree path, and by its fast path when that takes the document.
fn instances(xml: &str) -> (Value, Option<Value>) {
    let (pack, limits) = (pack(), Limits::default());
    let doc = caregate_engine::document::parse_xml(xml.as_bytes(), &limits).expect("the cases are well-formed");
    let tree = from_xml(&doc.root, &pack, &CATALOG, &LineIndex::new(xml.as_bytes())).value;
    let fast =
        stream::xml_to_json(xml.as_bytes(), &pack, &limits).map(|json| serde_json::from_str(&json).expect("JSON"));
    (tree, fast)
}

/// Every blank-element case, in each blank form and with its blank elements removed, says the same.
#[test]
fn every_blank_case_gives_the_findings_of_the_return_without_its_blanks() {
    let files = blank_cases();
    assert!(files.len() >= 100, "only {} blank-element cases", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let name = file.strip_prefix(suite()).unwrap().display().to_string();
        let xml = read(file);
        assert!(!blank_elements(&xml).is_empty(), "{name} has no blank element");
        let left_out = said(&check(&rewrite(&xml, Form::Removed)));
        for form in FORMS {
            let findings = said(&check(&rewrite(&xml, form)));
            if findings != left_out {
                problems.push(format!("{name} {form:?}:\n  blank {findings:#?}\n  left out {left_out:#?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{} difference(s):\n{}", problems.len(), problems.join("\n"));
}

/// Both converter paths leave a blank element out alike: in each blank form, the tree path gives the instance
/// it gives for the return without the blank elements, and the fast path, where it takes a document, gives
/// the tree path's instance.
#[test]
fn both_converter_paths_leave_a_blank_element_out() {
    let mut problems = Vec::new();
    for file in blank_cases() {
        let name = file.strip_prefix(suite()).unwrap().display().to_string();
        let xml = read(&file);
        let (left_out, _) = instances(&rewrite(&xml, Form::Removed));
        for form in FORMS {
            let (tree, fast) = instances(&rewrite(&xml, form));
            if tree != left_out {
                problems.push(format!("{name} {form:?}: the tree path's instance differs from the one without blanks"));
            }
            if fast.as_ref().is_some_and(|fast| *fast != tree) {
                problems.push(format!("{name} {form:?}: the fast path's instance differs from the tree path's"));
            }
        }
    }
    assert!(problems.is_empty(), "{} difference(s):\n{}", problems.len(), problems.join("\n"));
}

/// An empty wrapper of a list of scalars (`<Reviews/>`) is an empty list, whichever converter path reads the
/// record: a blank `<Disability/>` elsewhere in the child's record sends it down the tree path, and the
/// review group with no date must still be queried (8842Q) and still need an item (minItems).
#[test]
fn an_empty_list_wrapper_is_an_empty_list_on_the_tree_path_too() {
    let fail = read(&suite().join("cases/8842Q/fail.xml"));
    assert!(fail.contains("<Reviews/>"));
    let expected = BTreeSet::from([
        ("minItems".to_string(), Some("CH001".to_string())),
        ("8842Q".to_string(), Some("CH001".to_string())),
    ]);
    assert_eq!(rules_of(&check(&fail)), expected, "cases/8842Q/fail.xml");
    let disability = "          <Disability>MOB</Disability>\n";
    assert_eq!(fail.matches(disability).count(), 1);
    let with_blank = fail.replacen(disability, &format!("{disability}          <Disability/>\n"), 1);
    assert_eq!(rules_of(&check(&with_blank)), expected, "8842Q/fail.xml with a blank <Disability/> in the same child");
    let (tree, _) = instances(&with_blank);
    let plan = &tree["Children"]["Child"][0]["CINdetails"][0]["ChildProtectionPlans"][0];
    assert_eq!(plan.get("Reviews"), Some(&serde_json::json!([])), "the tree path's plan: {plan}");
}

/// The scalar fields of the schema: property name → (the element a blank one is written as, optional
/// somewhere). A list of scalars is written as its items' elements.
fn scalar_fields(schema: &Value) -> BTreeMap<String, (String, bool)> {
    let mut fields: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let scalar = |s: &Value| matches!(s["type"].as_str(), Some("string" | "integer" | "number" | "boolean"));
    for def in schema["$defs"].as_object().expect("$defs").values() {
        let required: BTreeSet<&str> =
            def["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (name, property) in def["properties"].as_object().into_iter().flatten() {
            let element = if scalar(property) {
                name.clone()
            } else if property["type"] == "array" && scalar(&property["items"]) {
                property["items"]["xml"]["name"].as_str().unwrap_or(name).to_string()
            } else {
                continue;
            };
            let entry = fields.entry(name.clone()).or_insert((element, false));
            entry.1 |= !required.contains(name.as_str());
        }
    }
    fields
}

/// For every rule, the scalar fields it reads (itself or through its aggregates), and those of them that are
/// optional or tested with `has(...)`. The header's reference date, read by every rule that dates the census
/// year, is left aside: its blank case is rule 100's.
fn fields_read(fields: &BTreeMap<String, (String, bool)>) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let rules: toml::Table = toml::from_str(&pack_text("rules.toml")).expect("rules.toml");
    let aggregates: BTreeMap<&str, String> = rules["aggregate"]
        .as_array()
        .expect("aggregates")
        .iter()
        .map(|a| {
            let text = format!("{} {}", a["value"].as_str().unwrap(), a["context"].as_str().unwrap().replace('/', "."));
            (a["name"].as_str().unwrap(), text)
        })
        .collect();
    let member = Regex::new(r"\.(\w+)").unwrap();
    let tested = Regex::new(r"has\([\w.]*\.(\w+)\)").unwrap();
    let used = Regex::new(r"agg\.(\w+)").unwrap();
    let mut read: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for rule in rules["rule"].as_array().expect("rules") {
        let id = rule["id"].as_str().unwrap().to_string();
        let expression =
            rule["expression"].as_str().unwrap().replace("root.Header.CollectionDetails.ReferenceDate", "");
        let mut text = expression.clone();
        for name in used.captures_iter(&expression) {
            text.push(' ');
            text.push_str(&aggregates[&name[1]]);
        }
        let has: BTreeSet<&str> = tested.captures_iter(&text).map(|c| c.get(1).unwrap().as_str()).collect();
        let entry = read.entry(id).or_default();
        for name in member.captures_iter(&text) {
            if let Some((_, optional)) = fields.get(&name[1]) {
                entry.0.insert(name[1].to_string());
                if *optional || has.contains(&name[1]) {
                    entry.1.insert(name[1].to_string());
                }
            }
        }
    }
    read
}

/// Every rule that reads a field the schema makes optional, or tests one with `has(...)`, has a blank-element
/// case; every case blanks only scalar elements, at least one of them a field its rule reads; and every case is
/// listed in the suite.
#[test]
fn every_rule_reading_an_optional_field_has_a_blank_case() {
    let schema: Value = serde_json::from_str(&pack_text("schema.json")).expect("schema.json");
    let fields = scalar_fields(&schema);
    let elements: BTreeMap<&str, &str> =
        fields.iter().map(|(name, (element, _))| (element.as_str(), name.as_str())).collect();
    let reads = fields_read(&fields);
    let manifest = read(&suite().join("suite.toml"));
    let mut cases: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for file in blank_cases() {
        let code = file.parent().unwrap().file_name().unwrap().to_string_lossy().to_string();
        cases.entry(code).or_default().push(file);
    }
    let mut problems = Vec::new();
    for (code, (all, optional)) in &reads {
        let files = cases.get(code).map(Vec::as_slice).unwrap_or_default();
        if !optional.is_empty() && files.is_empty() {
            problems.push(format!("{code} reads {optional:?} but has no blank-element case"));
        }
        for file in files {
            let name = file.strip_prefix(suite()).unwrap().display().to_string();
            let blank = blank_elements(&read(file));
            if let Some(other) = blank.iter().find(|e| !elements.contains_key(e.as_str())) {
                problems.push(format!("{name}: <{other}> is not a scalar field"));
            }
            if !blank.iter().any(|e| elements.get(e.as_str()).is_some_and(|field| all.contains(*field))) {
                problems.push(format!("{name}: blanks {blank:?}, none of which {code} reads ({all:?})"));
            }
            if !manifest.contains(&format!("document = \"{name}\"")) {
                problems.push(format!("{name} is not listed in suite.toml"));
            }
        }
    }
    assert_eq!(reads.len(), 109, "the pack has 109 rules");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
