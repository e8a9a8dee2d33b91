//! SSDA903 returns as councils send them: CSV tables joined on CHILD, through the real binary. Every finding
//! is in the file that holds the field, at its line and column, and names the child.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const HEADER: &str = "\u{FEFF}CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\r\n\
    C1,M,01/02/2012,WBRI,UN1,,\r\n\
    C2,1,15/06/2010,BAFR,UN2,,\r\n\
    \r\n\
    C3,F,\"03/03/2015\",WBRI,UN1,,\r\n\
    C3,F,03/03/2015,WBRI,UN1,,\r\n";
const EPISODES: &str =
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
    C1,01/05/2025,S,C2,N1,U1,PR1,,,,AB1 2CD,EF3 4GH,SC123456\n\
    C2,2025-06-01,S,C2,N1,U1,PR1,,,,,,\n\
    C9,01/07/2025,S,C2,N1,U1,PR1,,,,,,\n";
const REVIEWS: &str = "CHILD,DOB,REVIEW,REVIEW_CODE,NOTE\n\
    C1,01/02/2012,01/06/2025,PN1,x\n\
    C2,16/06/2010,01/07/2025,PN9,y\n\
    ,01/01/2011,01/07/2025,PN1,z\n";

fn validate(files: &[(&str, &str)]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("caregate").unwrap();
    cmd.args(["validate", "--standard", "ssda903@2025-26", "--format", "json"]);
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        cmd.arg(&path);
    }
    let output = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap_or(-1), report)
}

/// Each finding as (file, rule, line, column, child).
fn findings(report: &Value) -> Vec<(String, String, u64, u64, String)> {
    let mut out = Vec::new();
    for document in report["documents"].as_array().unwrap() {
        let file = Path::new(document["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
        for f in document["findings"].as_array().unwrap() {
            out.push((
                file.clone(),
                f["rule"].as_str().unwrap().to_string(),
                f["location"]["line"].as_u64().unwrap_or(0),
                f["location"]["column"].as_u64().unwrap_or(0),
                f["record"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

fn has(
    found: &[(String, String, u64, u64, String)],
    file: &str,
    rule: &str,
    line: u64,
    column: u64,
    child: &str,
) -> bool {
    found.iter().any(|f| (f.0.as_str(), f.1.as_str(), f.2, f.3, f.4.as_str()) == (file, rule, line, column, child))
}

#[test]
fn a_clean_return_has_no_findings() {
    // The episode ends with the child back home with parents (E4A): adoption (E11) would need an adoption placement (390).
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\n";
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/05/2025,S,C2,N1,U1,PR1,01/09/2025,E4A,,,,\n";
    let (code, report) = validate(&[("header.csv", header), ("episodes.csv", episodes)]);
    assert_eq!(findings(&report), Vec::new());
    assert_eq!(code, 0);
    assert_eq!(report["documents"][0]["format"], "csv");
    assert_eq!(report["documents"][0]["standard"]["id"], "ssda903");
}

#[test]
fn findings_are_in_the_file_the_field_is_in_and_name_the_child() {
    let (code, report) = validate(&[("header.csv", HEADER), ("episodes.csv", EPISODES), ("reviews.csv", REVIEWS)]);
    assert_eq!(code, 1);
    let found = findings(&report);
    // Sex `1` is not a code of 2025-26: the field on line 3 of header.csv (after a BOM and CRLF lines).
    assert!(has(&found, "header.csv", "101", 3, 4, "C2"), "{found:#?}");
    // C3 is in Header twice: both rows, blank line skipped.
    assert!(has(&found, "header.csv", "INT32", 5, 1, "C3"), "{found:#?}");
    assert!(has(&found, "header.csv", "INT32", 6, 1, "C3"), "{found:#?}");
    // A date not written dd/mm/yyyy; a child with no Header row.
    assert!(has(&found, "episodes.csv", "141", 3, 4, "C2"), "{found:#?}");
    assert!(has(&found, "episodes.csv", "INT03", 4, 1, "C9"), "{found:#?}");
    // Across tables: the review's DOB differs from the child's Header; an unknown participation code.
    assert!(has(&found, "reviews.csv", "INT17", 3, 4, "C2"), "{found:#?}");
    assert!(has(&found, "reviews.csv", "167", 3, 26, "C2"), "{found:#?}");
    // A row with no CHILD, and a column the table does not have.
    assert!(has(&found, "reviews.csv", "table-no-key", 4, 1, ""), "{found:#?}");
    assert!(has(&found, "reviews.csv", "table-unknown-column", 1, 30, ""), "{found:#?}");
    // C3 has no episodes (nor OC3): the portal's warning that episodes are needed, on each of its rows.
    assert!(has(&found, "header.csv", "EPI", 5, 1, "C3"), "{found:#?}");
    assert!(has(&found, "header.csv", "EPI", 6, 1, "C3"), "{found:#?}");
    // Nothing else: a clean child has no finding, and the date's `format` is said once, by rule 141.
    assert_eq!(found.len(), 11, "{found:#?}");
}

#[test]
fn a_file_that_is_no_table_and_a_table_given_twice_are_said_so() {
    let (_, report) = validate(&[
        ("header.csv", "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\n"),
        ("again.csv", "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\n"),
        ("notes.csv", "ID,TEXT\n1,hello\n"),
    ]);
    let found = findings(&report);
    assert!(found.iter().any(|f| f.0 == "notes.csv" && f.1 == "table-unknown"), "{found:#?}");
    // Files are read in the order given: header.csv is the Header table, again.csv a second one.
    assert!(found.iter().any(|f| f.0 == "again.csv" && f.1 == "table-twice"), "{found:#?}");
    // A return of a Header alone: its child has no episodes, which the portal warns of (EPI).
    assert!(has(&found, "header.csv", "EPI", 2, 1, "C1"), "{found:#?}");
    assert_eq!(found.len(), 3, "{found:#?}");
}

/// A rule that needs the council's code runs only when it is given; without it, the report says it was not
/// run (a warning), and never passes or fails it.
#[test]
fn a_rule_needing_a_run_time_input_runs_only_when_given_it() {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/ssda903/2025-26");
    let standards = tempfile::tempdir().unwrap();
    let ours = standards.path().join("ssda903/2025-26");
    std::fs::create_dir_all(&ours).unwrap();
    for name in ["standard.toml", "schema.json", "rules.toml"] {
        std::fs::copy(pack.join(name), ours.join(name)).unwrap();
    }
    let mut rules = std::fs::read_to_string(ours.join("rules.toml")).unwrap();
    rules.push_str(
        "\n[[rule]]\nid = \"LA-TEST\"\nseverity = \"error\"\ncontext = \"/children/*/Header/*\"\nat = \"UPN\"\n\
         needs = [\"la_code\"]\nexpression = \"params.la_code == 'E09000027'\"\nmessage = \"Not our council.\"\n",
    );
    std::fs::write(ours.join("rules.toml"), rules).unwrap();
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\n";
    let run = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("header.csv"), header).unwrap();
        let output = Command::cargo_bin("caregate")
            .unwrap()
            .args(["validate", "--standard", "ssda903@2025-26", "--format", "json", "--standards"])
            .arg(standards.path())
            .args(extra)
            .arg(dir.path().join("header.csv"))
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        findings(&report).into_iter().map(|f| f.1).collect::<Vec<_>>()
    };
    // The child has a Header row only, so the portal's warning that episodes are needed (EPI) is always there.
    assert_eq!(run(&[]), ["rules-not-run", "EPI"]);
    assert_eq!(run(&["--param", "la_code=E09000027"]), ["EPI"]);
    assert_eq!(run(&["--param", "la_code=E08000001"]), ["EPI", "LA-TEST"]);
}

/// DfE's XML form of a return (EXPSSDA903) gives the same findings, for the same children, as its CSV tables,
/// each located at its element.
#[test]
fn the_xml_form_gives_the_same_findings_as_the_tables() {
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\nC2,1,15/06/2010,XXXX,UN2,,\n";
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/05/2025,S,C2,N1,U1,PR1,,,,,,\n\
        C2,2025-06-01,S,C2,N9,U1,PR1,01/07/2025,,,,,\n";
    let reviews = "CHILD,DOB,REVIEW,REVIEW_CODE\nC1,01/02/2012,01/06/2025,PN9\n";
    let uasc = "CHILD,SEX,DOB,DUC\nC2,1,15/06/2010,31/02/2027\n";
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EXPSSDA903>\n\
        <CHILD><HEADER><CHILDID>C1</CHILDID><UPN>UN1</UPN><SEX>M</SEX><DOB>01/02/2012</DOB><ETHNIC>WBRI</ETHNIC><UASC/>\n\
        <AREVIEW><REVIEW>01/06/2025</REVIEW><REVIEW_CODE>PN9</REVIEW_CODE></AREVIEW><MOTHER/><MC_DOB/></HEADER>\n\
        <EPISODE><DECOM>01/05/2025</DECOM><RNE>S</RNE><LS>C2</LS><CIN>N1</CIN><PL>U1</PL><PLACE_PROVIDER>PR1</PLACE_PROVIDER><DEC/><REC/></EPISODE></CHILD>\n\
        <CHILD><HEADER><CHILDID>C2</CHILDID><UPN>UN2</UPN><SEX>1</SEX><DOB>15/06/2010</DOB><ETHNIC>XXXX</ETHNIC><UASC>1</UASC><DUC>31/02/2027</DUC><MOTHER/><MC_DOB/></HEADER>\n\
        <EPISODE><DECOM>2025-06-01</DECOM><RNE>S</RNE><LS>C2</LS><CIN>N9</CIN><PL>U1</PL><PLACE_PROVIDER>PR1</PLACE_PROVIDER><DEC>01/07/2025</DEC><REC/></EPISODE></CHILD>\n\
        </EPISODE903>";
    let xml = xml.replace("</EPISODE903>", "</EXPSSDA903>\n");
    let pairs = |report: &Value| {
        let mut pairs: Vec<(String, String)> = findings(report).into_iter().map(|f| (f.1, f.4)).collect();
        pairs.sort();
        pairs
    };
    let (_, tables) =
        validate(&[("header.csv", header), ("episodes.csv", episodes), ("reviews.csv", reviews), ("uasc.csv", uasc)]);
    let (code, from_xml) = validate(&[("return.xml", &xml)]);
    assert_eq!(code, 1);
    let expected: Vec<(String, String)> =
        [("101", "C2"), ("103", "C2"), ("104", "C2"), ("141", "C2"), ("145", "C2"), ("148", "C2"), ("167", "C1")]
            .iter()
            .map(|(r, c)| (r.to_string(), c.to_string()))
            .collect();
    assert_eq!(pairs(&tables), expected);
    assert_eq!(pairs(&from_xml), expected);
    // Located at the element: C2's <SEX> is on line 6 of return.xml.
    let found = findings(&from_xml);
    assert!(has(&found, "return.xml", "101", 6, 51, "C2"), "{found:#?}");
    assert_eq!(from_xml["documents"][0]["records"], 2);
    // Any caller of the engine recognises the XML form too (the gateway, a conformance suite), not the
    // command alone.
    let catalog = caregate_engine::standard::Catalog::embedded().unwrap();
    let validator = caregate_engine::validate::Validator::new(&catalog, Default::default());
    let checked = validator.check(xml.as_bytes());
    assert_eq!(checked.pack.map(|p| p.reference()).as_deref(), Some("ssda903@2026-27"));
    let mut from_engine: Vec<(String, String)> =
        checked.findings.into_iter().map(|f| (f.rule, f.record.unwrap_or_default())).collect();
    from_engine.sort();
    assert_eq!(from_engine, expected);
}

/// The 2026-27 pack is written as what changed from 2025-26 (`extends`): it has every rule of 2025-26 and the
/// new DoLo table with its rules, and reads a return as a pack written whole would.
#[test]
fn the_2026_27_return_extends_2025_26_with_its_dolo_table() {
    let dir = tempfile::tempdir().unwrap();
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,1,01/02/2012,WBRI,UN1,,\n";
    let dolo = "CHILD,DOB,DOLO_START,DOLO_END\nC1,01/02/2012,01/06/2026,01/05/2026\nC1,01/02/2012,2026-07-01,\n";
    std::fs::write(dir.path().join("header.csv"), header).unwrap();
    std::fs::write(dir.path().join("dolo.csv"), dolo).unwrap();
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--standard", "ssda903@2026-27", "--format", "json"])
        .arg(dir.path().join("header.csv"))
        .arg(dir.path().join("dolo.csv"))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found = findings(&report);
    // Inherited: 2025-26's rule on sex codes; new: an order ending before it starts, a start not dd/mm/yyyy.
    assert!(has(&found, "header.csv", "101", 2, 4, "C1"), "{found:#?}");
    assert!(has(&found, "dolo.csv", "702", 2, 26, "C1"), "{found:#?}");
    assert!(has(&found, "dolo.csv", "700", 3, 15, "C1"), "{found:#?}");
    assert_eq!(report["standard"]["version"], "2026-27", "{report:#}");
}
