//! A finding about a whole census return names the children behind it (`Finding::records`): all of them, in
//! file order, however the return is checked — as one document, record by record from a file, or through the
//! command line's JSON report. Returns are written here, small enough to read.

use std::io::BufRead;
use std::path::Path;

use assert_cmd::Command;
use caregate_engine::finding::Finding;
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};

const NOW: &str = "2026-05-15T10:00:00Z";
const PACK: &str = "cin-census@2025-26";

/// How a child of the test returns is born and recorded.
enum Sex {
    Known(&'static str),
    Unknown,
    Missing,
    Unborn,
}

fn child(id: &str, sex: Sex) -> String {
    let (birth, sex) = match sex {
        Sex::Known(code) => ("<PersonBirthDate>2014-06-12</PersonBirthDate>", format!("<Sex>{code}</Sex>")),
        Sex::Unknown => ("<PersonBirthDate>2014-06-12</PersonBirthDate>", "<Sex>U</Sex>".to_string()),
        Sex::Missing => ("<PersonBirthDate>2014-06-12</PersonBirthDate>", String::new()),
        Sex::Unborn => ("<ExpectedPersonBirthDate>2026-06-01</ExpectedPersonBirthDate>", "<Sex>U</Sex>".to_string()),
    };
    format!(
        "    <Child>
      <ChildIdentifiers>
        <LAchildID>{id}</LAchildID>
        {birth}{sex}
      </ChildIdentifiers>
      <ChildCharacteristics>
        <Ethnicity>WBRI</Ethnicity>
      </ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>2025-05-06</CINreferralDate>
        <ReferralSource>2A</ReferralSource>
        <PrimaryNeedCode>N4</PrimaryNeedCode>
        <ReferralNFA>false</ReferralNFA>
      </CINdetails>
    </Child>
"
    )
}

fn census(children: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails>
      <Collection>CIN</Collection>
      <Year>2026</Year>
      <ReferenceDate>2026-03-31</ReferenceDate>
    </CollectionDetails>
    <Source>
      <SourceLevel>L</SourceLevel>
      <LEA>873</LEA>
      <SoftwareCode>caregate tests</SoftwareCode>
      <Release>1.0</Release>
      <SerialNo>001</SerialNo>
      <DateTime>2026-04-15T09:30:00</DateTime>
    </Source>
  </Header>
  <Children>
{}  </Children>
</Message>
"#,
        children.concat()
    )
}

/// Five children, two of them born with no sex recorded (40%, over 2886Q's 2%); the unborn child with sex U
/// is not counted. Their ids are out of order, so that file order is not the ids' order.
fn small_return() -> String {
    census(&[
        child("C9", Sex::Known("M")),
        child("C4", Sex::Unknown),
        child("C7", Sex::Unborn),
        child("C2", Sex::Missing),
        child("C5", Sex::Known("F")),
    ])
}

const SMALL_BEHIND: [&str; 2] = ["C4", "C2"];

fn options(catalog: &Catalog) -> Options {
    Options {
        now: chrono::DateTime::parse_from_rfc3339(NOW).unwrap(),
        standard: Some(catalog.find(PACK).expect("the census pack")),
        ..Options::default()
    }
}

/// The `records` of the one finding of `rule`.
fn behind(findings: &[Finding], rule: &str) -> Vec<String> {
    let of_rule: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(of_rule.len(), 1, "one finding of {rule}: {of_rule:#?}");
    of_rule[0].records.clone()
}

#[test]
fn a_return_level_query_names_exactly_its_children_in_file_order() {
    let catalog = Catalog::embedded().unwrap();
    let validator = Validator::new(&catalog, options(&catalog));
    // XML: checked record by record, as a bulk return.
    let findings = validator.check(small_return().as_bytes()).findings;
    assert_eq!(behind(&findings, "2886Q"), SMALL_BEHIND);
    // A finding about one child names no others.
    assert!(findings.iter().filter(|f| f.rule != "2886Q").all(|f| f.records.is_empty()), "{findings:#?}");
    // The same return as one JSON document, checked whole.
    let json = caregate_engine::convert::convert(
        small_return().as_bytes(),
        caregate_engine::convert::Target::Json,
        options(&catalog).standard,
        &catalog,
        &Default::default(),
    )
    .expect("converts");
    let findings = validator.check(json.output.as_bytes()).findings;
    assert_eq!(behind(&findings, "2886Q"), SMALL_BEHIND);
}

#[test]
fn a_return_under_the_threshold_gives_no_finding_to_name_children_in() {
    let catalog = Catalog::embedded().unwrap();
    let validator = Validator::new(&catalog, options(&catalog));
    // One child of 50 with sex U is 2%, which 2886Q allows.
    let children: Vec<String> =
        (0..50).map(|i| child(&format!("K{i:02}"), if i == 17 { Sex::Unknown } else { Sex::Known("F") })).collect();
    let findings = validator.check(census(&children).as_bytes()).findings;
    assert!(findings.iter().all(|f| f.rule != "2886Q" && f.records.is_empty()), "{findings:#?}");
}

/// Three hundred children, across many batches and every worker, with ids descending: every seventh child
/// born without sex recorded.
fn large_return() -> (String, Vec<String>) {
    let mut children = Vec::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        let id = format!("L{:03}", 999 - i);
        let sex = if i % 7 == 3 {
            expected.push(id.clone());
            if i % 2 == 0 {
                Sex::Unknown
            } else {
                Sex::Missing
            }
        } else {
            Sex::Known("M")
        };
        children.push(child(&id, sex));
    }
    (census(&children), expected)
}

#[test]
fn the_streamed_check_of_a_file_names_every_child_in_file_order() {
    let catalog = Catalog::embedded().unwrap();
    let validator = Validator::new(&catalog, options(&catalog));
    let (xml, expected) = large_return();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("return.xml");
    std::fs::write(&path, &xml).unwrap();
    let open = |offset: u64| -> std::io::Result<Box<dyn BufRead + Send>> {
        let mut file = std::fs::File::open(&path)?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset))?;
        Ok(Box::new(std::io::BufReader::new(file)))
    };
    let pack = catalog.find(PACK).unwrap();
    let mut given = Vec::new();
    let summary = validator.check_bulk_streaming(&pack, &open, &mut |f| given.push(f)).expect("read");
    assert_eq!(summary.records, 300);
    assert_eq!(behind(&given, "2886Q"), expected);
    assert_eq!(behind(&validator.check_bulk(&pack, &open).expect("read").findings, "2886Q"), expected);
}

#[test]
fn the_json_report_carries_every_child_behind_a_finding() {
    let (xml, expected) = large_return();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("return.xml");
    std::fs::write(&path, &xml).unwrap();
    let out = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--now", NOW, "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["documents"][0]["findings"].as_array().unwrap();
    let query: Vec<&serde_json::Value> = findings.iter().filter(|f| f["rule"] == "2886Q").collect();
    assert_eq!(query.len(), 1, "{findings:#?}");
    assert_eq!(query[0]["records"], serde_json::json!(expected));
    // Findings about one child carry no `records` at all.
    assert!(findings.iter().filter(|f| f["rule"] != "2886Q").all(|f| f.get("records").is_none()));
}

#[test]
fn plans_without_conferences_and_single_disabilities_name_their_children() {
    let catalog = Catalog::embedded().unwrap();
    let validator = Validator::new(&catalog, options(&catalog));
    let plan = "<ChildProtectionPlans>
          <CPPstartDate>2025-06-02</CPPstartDate>
          <InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
          <LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>
          <NumberOfPreviousCPP>0</NumberOfPreviousCPP>
        </ChildProtectionPlans>";
    let conference = "<DateOfInitialCPC>2025-06-02</DateOfInitialCPC>";
    let disability = "<Disabilities><Disability>LD</Disability></Disabilities>";
    let mut children = vec![
        // A plan after its conference: not behind 2883.
        child("P1", Sex::Known("M"))
            .replace("<ReferralNFA>", &format!("{conference}<ReferralNFA>"))
            .replace("</ReferralNFA>", &format!("</ReferralNFA>{plan}")),
        // Plans without a conference.
        child("P3", Sex::Known("F")).replace("</ReferralNFA>", &format!("</ReferralNFA>{plan}")),
        child("P2", Sex::Known("M")).replace("</ReferralNFA>", &format!("</ReferralNFA>{plan}")),
    ];
    children[1] = children[1].replace("</Ethnicity>", &format!("</Ethnicity>{disability}"));
    children[0] = children[0].replace("</Ethnicity>", &format!("</Ethnicity>{disability}"));
    let findings = validator.check(census(&children).as_bytes()).findings;
    assert_eq!(behind(&findings, "2883"), ["P3", "P2"]);
    // No child has two disabilities: those with one are where to look.
    assert_eq!(behind(&findings, "2888Q"), ["P1", "P3"]);
    // Too few distinct codes is about the codes, not about children.
    assert!(behind(&findings, "2887Q").is_empty());
}

/// A copy of the census pack in a temporary folder, its rules changed by `change`.
fn pack_with(change: impl Fn(String) -> String) -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/cin-census/2025-26");
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("cin-census/2025-26");
    std::fs::create_dir_all(&pack).unwrap();
    for entry in std::fs::read_dir(&source).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), pack.join(entry.file_name())).unwrap();
        }
    }
    let rules = std::fs::read_to_string(pack.join("rules.toml")).unwrap();
    std::fs::write(pack.join("rules.toml"), change(rules)).unwrap();
    dir
}

#[test]
fn a_pack_naming_records_wrongly_is_refused_at_load() {
    let refused = |change: &dyn Fn(String) -> String, says: &[&str]| {
        let dir = pack_with(change);
        let mut catalog = Catalog::embedded().unwrap();
        let error = catalog.add_dir(dir.path()).expect_err("the pack is refused").to_string();
        assert!(says.iter().all(|s| error.contains(s)), "{error}");
    };
    // `records` must name an aggregate of kind `records`.
    refused(
        &|rules| rules.replace(r#"records = "sexUnknown""#, r#"records = "childCount""#),
        &["2886Q", "childCount", "kind `records`"],
    );
    // A `records` aggregate names records, so it lies inside them.
    refused(
        &|rules| {
            rules + "\n[[aggregate]]\nname = \"headers\"\ncontext = \"/Header\"\nvalue = \"true\"\nkind = \"records\"\n"
        },
        &["headers", "/Header", "inside the records"],
    );
    // A rule inside a record is about that record.
    refused(
        &|rules| {
            rules
                + "\n[[rule]]\nid = \"TEST-INSIDE\"\nseverity = \"warning\"\ncontext = \"/Children/Child/*\"\nexpression = \"true\"\nmessage = \"m\"\nrecords = \"sexUnknown\"\n"
        },
        &["TEST-INSIDE", "inside each record"],
    );
}

#[test]
fn a_return_as_a_json_file_is_checked_whole_and_names_its_children() {
    let catalog = Catalog::embedded().unwrap();
    let json = caregate_engine::convert::convert(
        small_return().as_bytes(),
        caregate_engine::convert::Target::Json,
        catalog.find(PACK),
        &catalog,
        &Default::default(),
    )
    .expect("converts");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("return.json");
    std::fs::write(&path, &json.output).unwrap();
    // Named with --standard, a JSON file is still not a stream of XML records.
    let out = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--now", NOW, "--format", "json", "--standard", PACK])
        .arg(&path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["documents"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["rule"] != "minItems"), "{findings:#?}");
    let query: Vec<&serde_json::Value> = findings.iter().filter(|f| f["rule"] == "2886Q").collect();
    assert_eq!(query.len(), 1, "{findings:#?}");
    assert_eq!(query[0]["records"], serde_json::json!(SMALL_BEHIND));
}

/// A rule inside records that reads the aggregates otherwise than as a duplicate check makes the check two passes;
/// the return-level rules still see the whole return's aggregates, and name their children in file order.
#[test]
fn with_two_passes_every_child_behind_is_still_named() {
    let dir = pack_with(|rules| {
        rules + "\n[[rule]]\nid = \"TEST-COUNT\"\nseverity = \"warning\"\ncontext = \"/Children/Child/*\"\nexpression = \"agg.childCount < 3\"\nmessage = \"m\"\n"
    });
    let mut catalog = Catalog::embedded().unwrap();
    catalog.add_dir(dir.path()).expect("the changed pack loads");
    let validator = Validator::new(&catalog, options(&catalog));
    let (xml, expected) = large_return();
    let findings = validator.check(xml.as_bytes()).findings;
    assert_eq!(findings.iter().filter(|f| f.rule == "TEST-COUNT").count(), 300, "two passes");
    assert_eq!(behind(&findings, "2886Q"), expected);
}
