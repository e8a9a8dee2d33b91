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
