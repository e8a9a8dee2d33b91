//! The Children in Need census 2025-26 pack: it loads, its valid examples give no structure finding, they
//! round-trip XML → JSON → XML, and the XSD caregate exports judges the examples and their mutations (an
//! element dropped, duplicated, reordered; a code, a date, a number corrupted; stray text) exactly as
//! caregate's structure check does, with `xmllint --schema` (libxml2) as the other judge.

use std::io::Write as _;
use std::process::Command;
use std::sync::{Arc, LazyLock};

use caregate_engine::convert::{convert, Target};
use caregate_engine::document::{parse_xml, Limits, LineIndex};
use caregate_engine::finding::Finding;
use caregate_engine::instance::from_xml;
use caregate_engine::standard::{export, Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};
use serde_json::Value;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

fn pack() -> Arc<StandardPack> {
    CATALOG.find("cin-census@2025-26").expect("cin-census 2025-26 is embedded")
}

fn example(name: &str) -> String {
    let pack = pack();
    let bytes = pack.files.files.get(name).unwrap_or_else(|| panic!("the pack has no {name}"));
    String::from_utf8(bytes.clone()).expect("examples are UTF-8")
}

/// Findings that are not the pack's business rules: the structure check's and the conversion's.
fn structure_findings(pack: &StandardPack, findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| pack.rule(&f.rule).is_none())
        .map(|f| {
            let at = f.location.as_ref().map(|l| format!("{}:{}", l.line, l.column)).unwrap_or_default();
            format!("{} {at} {}", f.rule, f.message)
        })
        .collect()
}

fn check(bytes: &[u8]) -> Vec<String> {
    let pack = pack();
    let validator = Validator::new(&CATALOG, Options { standard: Some(Arc::clone(&pack)), ..Options::default() });
    let mut found = structure_findings(&pack, &validator.check(bytes).findings);
    // A structural fault that one of the pack's rules also reports is reported once, by the rule; the verdict
    // of the structure itself is the conversion's and the schema's, asked directly.
    if let Ok(doc) = parse_xml(bytes, &Limits::default()) {
        let converted = from_xml(&doc.root, &pack, &CATALOG, &LineIndex::new(bytes));
        found.extend(converted.findings.iter().map(|f| format!("{} {}", f.rule, f.message)));
        found.extend(
            pack.validator.iter_errors(&converted.value).map(|e| format!("schema {} at {}", e, e.instance_path())),
        );
    }
    found
}

/// The structure findings of `bytes` read as a bulk return, record by record, as a census is checked: the
/// parts outside the records (the header) are read one by one, and judged as the whole document is.
fn check_bulk(bytes: &[u8]) -> Vec<String> {
    // Without its rules: a fault a rule also reports is reported by the rule alone.
    let mut files = pack().files.clone();
    files.files.remove("rules.toml");
    let pack = Arc::new(StandardPack::compile(files).expect("the pack compiles without its rules"));
    let validator = Validator::new(&CATALOG, Options { standard: Some(Arc::clone(&pack)), ..Options::default() });
    let open = |offset: u64| -> std::io::Result<Box<dyn std::io::BufRead + Send>> {
        let from = usize::try_from(offset).map_err(std::io::Error::other)?.min(bytes.len());
        Ok(Box::new(std::io::Cursor::new(bytes[from..].to_vec())))
    };
    let checked = validator.check_bulk(&pack, &open).expect("an in-memory return reads");
    structure_findings(&pack, &checked.findings)
}

/// The exported XSD, written once to a temporary file.
static XSD: LazyLock<tempfile::NamedTempFile> = LazyLock::new(|| {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(export::xsd(&pack(), &CATALOG).as_bytes()).expect("write the XSD");
    file
});

/// Whether `xmllint --schema` accepts `xml`, with its complaint when it does not. Fails the test, with a
/// clear message, when xmllint is not installed.
fn xmllint(xml: &str) -> Result<(), String> {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(xml.as_bytes()).expect("write the document");
    let output = match Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(XSD.path())
        .arg(file.path())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("xmllint is not installed; this test needs it (Debian/Ubuntu: apt-get install libxml2-utils)")
        }
        Err(e) => panic!("cannot run xmllint: {e}"),
    };
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

#[test]
fn the_pack_loads_with_its_records_binding_and_calendar() {
    let pack = pack();
    assert_eq!(pack.manifest.title, "Children in Need census 2025-26");
    assert_eq!(pack.binding.root, "Message");
    assert_eq!(pack.binding.namespace, "");
    let records = pack.manifest.records.as_ref().expect("a bulk standard has records");
    assert_eq!(records.path, "/Children/Child/*");
    assert_eq!(records.key, "ChildIdentifiers/LAchildID");
    // England and Wales bank holidays 2019-2027: 8 a year, and 2020, 2022 and 2023 had extra or moved ones.
    assert!(pack.holidays.len() >= 9 * 8, "{} holidays", pack.holidays.len());
    let christmas_2025 = chrono::NaiveDate::from_ymd_opt(2025, 12, 25).expect("a date");
    assert!(pack.holidays.contains(&christmas_2025));
    for list in [
        "sex",
        "ethnicity",
        "disability",
        "referral-source",
        "primary-need",
        "reason-for-closure",
        "category-of-abuse",
        "assessment-factor",
        "upn-unknown",
        "yes-no",
    ] {
        assert!(pack.codelists.contains_key(list), "code list {list} is missing");
    }
    let sex: Vec<&str> =
        pack.codelists.get("sex").map(|l| l.codes.iter().map(|c| c.code.as_str()).collect()).unwrap_or_default();
    assert_eq!(sex, ["M", "F", "U"]);
}

#[test]
fn valid_examples_give_no_structure_finding() {
    for name in ["examples/valid/return.xml", "examples/valid/return.json"] {
        let found = check(example(name).as_bytes());
        assert!(found.is_empty(), "{name}:\n{}", found.join("\n"));
        assert_eq!(xmllint(&example("examples/valid/return.xml")), Ok(()));
    }
}

#[test]
fn examples_round_trip_xml_json_xml() {
    let limits = Limits::default();
    let xml = example("examples/valid/return.xml");
    let to_json = convert(xml.as_bytes(), Target::Json, Some(pack()), &CATALOG, &limits).expect("XML converts");
    assert!(to_json.round_trip && to_json.findings.is_empty());
    let value: Value = serde_json::from_str(&to_json.output).expect("JSON output");
    let expected: Value = serde_json::from_str(&example("examples/valid/return.json")).expect("the JSON example");
    assert_eq!(value, expected, "the JSON example is the instance the XML example binds to");
    let back = convert(to_json.output.as_bytes(), Target::Xml, Some(pack()), &CATALOG, &limits).expect("JSON converts");
    assert!(back.round_trip && back.findings.is_empty());
    assert_eq!(back.output, xml);
}

/// Replaces the `nth` (0-based) occurrence of `from` in `text`.
fn replace_nth(text: &str, from: &str, to: &str, nth: usize) -> String {
    let (at, _) = text.match_indices(from).nth(nth).unwrap_or_else(|| panic!("the example has no {nth}th `{from}`"));
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

/// The whole line holding the `nth` occurrence of `needle`, newline included.
fn line_of(text: &str, needle: &str, nth: usize) -> String {
    let (at, _) = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("the example has no `{needle}`"));
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
    text[start..end].to_string()
}

fn drop_line(text: &str, needle: &str) -> String {
    let line = line_of(text, needle, 0);
    text.replacen(&line, "", 1)
}

fn duplicate_line(text: &str, needle: &str) -> String {
    let line = line_of(text, needle, 0);
    text.replacen(&line, &format!("{line}{line}"), 1)
}

/// Swaps the first line holding `a` with the first line holding `b` (adjacent or not).
fn swap_lines(text: &str, a: &str, b: &str) -> String {
    let (la, lb) = (line_of(text, a, 0), line_of(text, b, 0));
    text.replacen(&la, "\u{0}", 1).replacen(&lb, &la, 1).replacen('\u{0}', &lb, 1)
}

#[test]
fn exported_xsd_and_caregate_agree_on_mutations() {
    let xml = example("examples/valid/return.xml");
    // (what was done, whether the document stays structurally valid, the document)
    let mutations: Vec<(&str, bool, String)> = vec![
        ("unchanged", true, xml.clone()),
        ("required element dropped (Sex)", false, drop_line(&xml, "<Sex>")),
        ("required element dropped (ReferralNFA)", false, drop_line(&xml, "<ReferralNFA>")),
        ("required element dropped (LEA)", false, drop_line(&xml, "<LEA>")),
        ("optional element dropped (UPN)", true, drop_line(&xml, "<UPN>")),
        ("optional element dropped (Header/Year)", true, drop_line(&xml, "<Year>")),
        ("single element duplicated (Sex)", false, duplicate_line(&xml, "<Sex>")),
        ("single element duplicated (CINreferralDate)", false, duplicate_line(&xml, "<CINreferralDate>")),
        ("repeating element duplicated (Disability)", true, duplicate_line(&xml, "<Disability>")),
        ("repeating element duplicated (CPPreviewDate)", true, duplicate_line(&xml, "<CPPreviewDate>")),
        ("elements reordered (UPN before LAchildID)", false, swap_lines(&xml, "<LAchildID>", "<UPN>")),
        (
            "elements reordered (ReferralNFA before Assessments)",
            false,
            swap_lines(&xml, "<ReferralNFA>false", "<ReasonForClosure>"),
        ),
        ("repeated items reordered (Disability)", true, swap_lines(&xml, "<Disability>LD", "<Disability>COMM")),
        ("old sex code", false, replace_nth(&xml, "<Sex>M</Sex>", "<Sex>1</Sex>", 0)),
        (
            "GenderCurrent in place of Sex",
            false,
            replace_nth(&xml, "<Sex>M</Sex>", "<GenderCurrent>1</GenderCurrent>", 0),
        ),
        ("ethnicity code corrupted", false, replace_nth(&xml, "WBRI", "WBRX", 0)),
        ("assessment factor 18A (not in the code set)", false, replace_nth(&xml, ">3A<", ">18A<", 0)),
        ("referral source corrupted", false, replace_nth(&xml, "<ReferralSource>2A", "<ReferralSource>2Z", 0)),
        ("flag in capitals (allowed)", true, replace_nth(&xml, "<ReferralNFA>false", "<ReferralNFA>TRUE", 0)),
        ("flag as 0 (allowed)", true, replace_nth(&xml, "<ICPCnotRequired>false", "<ICPCnotRequired>0", 0)),
        ("flag as yes", false, replace_nth(&xml, "<ReferralNFA>false", "<ReferralNFA>yes", 0)),
        ("date with a month 13", false, replace_nth(&xml, "2025-05-06", "2025-13-06", 0)),
        ("date 30 February", false, replace_nth(&xml, "2025-05-06", "2025-02-30", 0)),
        ("date in UK order", false, replace_nth(&xml, "2025-05-06", "06/05/2025", 0)),
        (
            "review date corrupted",
            false,
            replace_nth(&xml, "<CPPreviewDate>2025-07-24", "<CPPreviewDate>2025-07-32", 0),
        ),
        (
            "previous plans 0 (not a positive integer)",
            false,
            replace_nth(&xml, "<NumberOfPreviousCPP>1", "<NumberOfPreviousCPP>0", 0),
        ),
        (
            "previous plans not a number",
            false,
            replace_nth(&xml, "<NumberOfPreviousCPP>1", "<NumberOfPreviousCPP>one", 0),
        ),
        ("LEA of two digits", false, replace_nth(&xml, "<LEA>873", "<LEA>87", 0)),
        ("UPN too short", false, replace_nth(&xml, "R873260114101", "R87326011410", 0)),
        ("UPN with a letter at the end (allowed)", true, replace_nth(&xml, "R873260114101", "R87326011410A", 0)),
        ("empty LAchildID", false, replace_nth(&xml, "EX0000001", "", 0)),
        (
            "empty Disabilities",
            false,
            replace_nth(&xml, "<Disabilities>\n          <Disability>MOB</Disability>\n          <Disability>HAND</Disability>\n          <Disability>PC</Disability>\n          <Disability>INC</Disability>\n        </Disabilities>", "<Disabilities/>", 0),
        ),
        ("stray text", false, replace_nth(&xml, "<Sex>F</Sex>", "<Sex>F</Sex>PersonBirthDate", 0)),
        ("header elements reordered (Year before Collection)", false, swap_lines(&xml, "<Collection>", "<Year>")),
        ("unknown element in the header", false, replace_nth(&xml, "<LEA>", "<Region>9</Region><LEA>", 0)),
        ("header element duplicated (LEA)", false, duplicate_line(&xml, "<LEA>")),
        (
            "unknown element",
            false,
            replace_nth(&xml, "<ReferralNFA>true", "<PPStartDate>2026-01-01</PPStartDate><ReferralNFA>true", 0),
        ),
        ("date-time without seconds", false, replace_nth(&xml, "2026-04-15T09:30:00", "2026-04-15T09:30", 0)),
        (
            "date-time with offset (allowed)",
            true,
            replace_nth(&xml, "2026-04-15T09:30:00", "2026-04-15T09:30:00+01:00", 0),
        ),
    ];
    let mut disagreements = Vec::new();
    for (name, valid, text) in &mutations {
        let ours = check(text.as_bytes());
        let theirs = xmllint(text);
        let bulk = check_bulk(text.as_bytes());
        if bulk.is_empty() != theirs.is_ok() {
            disagreements.push(format!(
                "{name}, read as a bulk return: caregate {}; xmllint {}",
                if bulk.is_empty() { "accepts".to_string() } else { format!("rejects: {}", bulk.join(" | ")) },
                if theirs.is_ok() { "accepts" } else { "rejects" }
            ));
        }
        if ours.is_empty() != theirs.is_ok() {
            disagreements.push(format!(
                "{name}: caregate {}; xmllint {}",
                if ours.is_empty() { "accepts".to_string() } else { format!("rejects: {}", ours.join(" | ")) },
                match &theirs {
                    Ok(()) => "accepts".to_string(),
                    Err(e) => format!("rejects: {e}"),
                }
            ));
        }
        if theirs.is_ok() != *valid {
            disagreements.push(format!(
                "{name}: expected {}, but xmllint {}",
                if *valid { "valid" } else { "invalid" },
                if theirs.is_ok() { "accepts it" } else { "rejects it" }
            ));
        }
    }
    assert!(disagreements.is_empty(), "caregate and the exported XSD disagree:\n{}", disagreements.join("\n"));
}
