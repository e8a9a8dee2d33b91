//! The SSDA903 rules that compare a child with last year's return (`--previous`), through the real binary:
//! each fires at the child that breaks it, at the field in this year's file, and at no consistent child nor at
//! a child last year's return does not have; without last year's return they are reported as not run.

use super::ssda903::{findings, not_run, validate_with};

/// The rules written that need last year's return.
const PREVIOUS_RULES: [&str; 12] =
    ["202", "203", "204", "207", "208", "348", "503A", "503B", "503C", "503D", "503E", "503F"];

const HEADER_COLUMNS: &str = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB";
const EPISODE_COLUMNS: &str =
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN";

/// Last year (2024-25): sex still written 1/2; B2 a mother; D4's latest episode open, an earlier one closed;
/// E5's latest episode closed.
const HEADER_LAST: [&str; 4] = [
    "A1,1,01/02/2010,WBRI,UN2,,",
    "B2,2,15/06/2008,BAFR,UN2,1,01/01/2024",
    "D4,1,03/03/2012,WBRI,UN1,,",
    "E5,2,04/04/2011,WBRI,UN1,,",
];
const EPISODES_LAST: [&str; 5] = [
    "A1,01/05/2024,S,C2,N1,Z1,PR1,,,,,,",
    "B2,01/03/2024,S,C2,N1,U1,PR1,,,,,,",
    "D4,01/06/2023,S,C2,N1,U1,PR1,01/06/2024,X1,,,,",
    "D4,01/06/2024,P,C2,N1,U1,PR1,,,,,,",
    "E5,01/07/2024,S,C2,N1,U1,PR1,01/01/2025,E4A,,,,",
];

/// This year: A1 and E5 consistent with last year (A1's Z1 placement now Z11, which 2025-26 allows); B2 and D4
/// not; C3 new this year.
const HEADER: [&str; 5] = [
    "A1,M,01/02/2010,WBRI,UN2,,",
    "B2,F,16/06/2008,BAFR,UN3,0,",
    "C3,M,05/05/2013,WBRI,UN1,,",
    "D4,F,03/03/2012,WIRI,UN2,,",
    "E5,F,04/04/2011,WBRI,UN1,,",
];
const EPISODES: [&str; 6] = [
    "A1,01/05/2024,S,C2,N1,Z11,PR1,,,,,,",
    "B2,01/03/2024,P,C2,N1,U1,PR1,01/06/2025,X1,,,,",
    "B2,01/06/2025,S,C1,N2,U2,PR2,,,,,,",
    "C3,01/05/2025,S,C2,N1,U1,PR1,,,,,,",
    "D4,01/06/2024,P,C1,N2,U2,PR2,,,,,,SC123456",
    "E5,01/05/2025,S,C1,N2,U2,PR2,,,,,,",
];

fn table(columns: &str, rows: &[&str]) -> String {
    let mut text = format!("{columns}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

/// The line and column of `column`'s cell in the `row`-th row (0-based) of a table written by [`table`].
fn cell(columns: &str, rows: &[&str], row: usize, column: &str) -> (u64, u64) {
    let index = columns.split(',').position(|c| c == column).unwrap();
    let before: usize = rows[row].split(',').take(index).map(|c| c.len() + 1).sum();
    (row as u64 + 2, before as u64 + 1)
}

/// Last year's return as DfE's XML file, from the same rows.
fn as_xml(header: &[&str], episodes: &[&str]) -> String {
    let element = |columns: &str, row: &str, skip: &[&str]| -> String {
        columns
            .split(',')
            .zip(row.split(','))
            .filter(|(c, _)| !skip.contains(c))
            .map(|(c, v)| {
                let name = match c {
                    "CHILD" => "CHILDID",
                    "PLACE" => "PL",
                    other => other,
                };
                format!("<{name}>{v}</{name}>")
            })
            .collect()
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EXPSSDA903>\n");
    for row in header {
        let child = row.split(',').next().unwrap();
        xml.push_str(&format!("<CHILD><HEADER>{}</HEADER>", element(HEADER_COLUMNS, row, &[])));
        for episode in episodes.iter().filter(|e| e.split(',').next() == Some(child)) {
            xml.push_str(&format!("<EPISODE>{}</EPISODE>", element(EPISODE_COLUMNS, episode, &["CHILD"])));
        }
        xml.push_str("</CHILD>\n");
    }
    xml.push_str("</EXPSSDA903>\n");
    xml
}

/// A finding as (file, rule, line, column, child).
type Found = (String, String, u64, u64, String);

/// The findings of the rules that need last year's return, sorted; and the rules not run.
fn previous_findings(args: &[&str]) -> (Vec<Found>, Vec<String>) {
    let header = table(HEADER_COLUMNS, &HEADER);
    let episodes = table(EPISODE_COLUMNS, &EPISODES);
    let (_, report) = validate_with(args, &[("header.csv", &header), ("episodes.csv", &episodes)]);
    let mut found: Vec<_> = findings(&report).into_iter().filter(|f| PREVIOUS_RULES.contains(&f.1.as_str())).collect();
    found.sort();
    (found, not_run(&report))
}

fn expected() -> Vec<Found> {
    let at = |file: &str, rule: &str, (line, column): (u64, u64), child: &str| {
        (file.to_string(), rule.to_string(), line, column, child.to_string())
    };
    let h = |row, column| cell(HEADER_COLUMNS, &HEADER, row, column);
    let e = |row, column| cell(EPISODE_COLUMNS, &EPISODES, row, column);
    let mut expected = vec![
        // B2: another date of birth, no longer a mother, UN2 (a reason for no UPN) become UN3.
        at("header.csv", "203", h(1, "DOB"), "B2"),
        at("header.csv", "207", h(1, "MOTHER"), "B2"),
        at("header.csv", "208", h(1, "UPN"), "B2"),
        // D4: sex 1 (male) last year, F now; another ethnic origin. UN1 become UN2 is allowed.
        at("header.csv", "202", h(3, "SEX"), "D4"),
        at("header.csv", "204", h(3, "ETHNIC"), "D4"),
        // B2's first episode only (its second differs in everything).
        at("episodes.csv", "503A", e(1, "RNE"), "B2"),
        // D4's first episode against last year's latest, open one (not its earlier, closed one); a URN given
        // now where last year's was blank.
        at("episodes.csv", "503B", e(4, "LS"), "D4"),
        at("episodes.csv", "503C", e(4, "CIN"), "D4"),
        at("episodes.csv", "503D", e(4, "PLACE"), "D4"),
        at("episodes.csv", "503E", e(4, "PLACE_PROVIDER"), "D4"),
        at("episodes.csv", "503F", e(4, "URN"), "D4"),
    ];
    expected.sort();
    expected
}

#[test]
fn each_rule_fires_at_the_child_that_changed_and_nowhere_else() {
    let last = tempfile::tempdir().unwrap();
    std::fs::write(last.path().join("header.csv"), table(HEADER_COLUMNS, &HEADER_LAST)).unwrap();
    std::fs::write(last.path().join("episodes.csv"), table(EPISODE_COLUMNS, &EPISODES_LAST)).unwrap();
    // Last year's return as a folder, and as its files one by one.
    let folder = last.path().to_str().unwrap();
    let (found, not_run) = previous_findings(&["--previous", folder]);
    assert_eq!(found, expected());
    assert!(!not_run.iter().any(|r| PREVIOUS_RULES.contains(&r.as_str())), "{not_run:?}");
    let header = last.path().join("header.csv");
    let episodes = last.path().join("episodes.csv");
    let (found, _) =
        previous_findings(&["--previous", header.to_str().unwrap(), "--previous", episodes.to_str().unwrap()]);
    assert_eq!(found, expected());
}

#[test]
fn last_years_xml_file_gives_the_same_findings() {
    let last = tempfile::tempdir().unwrap();
    let path = last.path().join("last.xml");
    std::fs::write(&path, as_xml(&HEADER_LAST, &EPISODES_LAST)).unwrap();
    let (found, _) = previous_findings(&["--previous", path.to_str().unwrap()]);
    assert_eq!(found, expected());
}

#[test]
fn without_last_years_return_the_rules_are_not_run() {
    let (found, not_run) = previous_findings(&[]);
    assert_eq!(found, Vec::new());
    for rule in PREVIOUS_RULES {
        assert!(not_run.contains(&rule.to_string()), "{rule} not listed: {not_run:?}");
    }
    // The warning says how to run them.
    let header = table(HEADER_COLUMNS, &HEADER);
    let (_, report) = validate_with(&[], &[("header.csv", &header)]);
    let warning = report["documents"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "rules-not-run")
        .cloned()
        .unwrap();
    assert!(warning["fix"].as_str().unwrap().contains("--previous"), "{warning:#}");
}

#[test]
fn a_child_not_in_last_years_return_is_not_judged() {
    // Last year's return holds only A1: B2 and D4, which break the rules against their own last year, are
    // not judged; A1 is consistent.
    let last = tempfile::tempdir().unwrap();
    std::fs::write(last.path().join("header.csv"), table(HEADER_COLUMNS, &HEADER_LAST[..1])).unwrap();
    std::fs::write(last.path().join("episodes.csv"), table(EPISODE_COLUMNS, &EPISODES_LAST[..1])).unwrap();
    let (found, not_run) = previous_findings(&["--previous", last.path().to_str().unwrap()]);
    assert_eq!(found, Vec::new());
    assert!(!not_run.iter().any(|r| PREVIOUS_RULES.contains(&r.as_str())), "{not_run:?}");
}

#[test]
fn a_file_of_last_year_that_is_no_table_is_refused() {
    let last = tempfile::tempdir().unwrap();
    let path = last.path().join("notes.csv");
    std::fs::write(&path, "NAME,NOTE\nx,y\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("header.csv"), table(HEADER_COLUMNS, &HEADER)).unwrap();
    let output = assert_cmd::Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--standard", "ssda903@2025-26", "--previous"])
        .arg(&path)
        .arg(dir.path().join("header.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("notes.csv") && stderr.contains("not a table"), "{stderr}");
}

#[test]
fn a_care_leaver_who_died_last_year_is_reported_unless_still_so() {
    const OC3_COLUMNS: &str = "CHILD,DOB,IN_TOUCH,ACTIV,ACCOM";
    // F6 and G7 died last year; H8 was in touch. This year F6 is written in touch, G7 still died, H8 not in
    // touch: only F6 is reported, at its IN_TOUCH.
    let last = tempfile::tempdir().unwrap();
    let oc3_last = ["F6,01/01/2006,DIED,0,0", "G7,02/02/2006,DIED,0,0", "H8,03/03/2006,YES,F1,B1"];
    std::fs::write(last.path().join("oc3.csv"), table(OC3_COLUMNS, &oc3_last)).unwrap();
    let oc3 = ["F6,01/01/2006,YES,F1,B1", "G7,02/02/2006,DIED,0,0", "H8,03/03/2006,NO,0,0"];
    let header = ["F6,M,01/01/2006,WBRI,UN2,,", "G7,F,02/02/2006,WBRI,UN2,,", "H8,M,03/03/2006,WBRI,UN2,,"];
    let (_, report) = validate_with(
        &["--previous", last.path().to_str().unwrap()],
        &[("header.csv", &table(HEADER_COLUMNS, &header)), ("oc3.csv", &table(OC3_COLUMNS, &oc3))],
    );
    let found: Vec<Found> = findings(&report).into_iter().filter(|f| f.1 == "348").collect();
    let (line, column) = cell(OC3_COLUMNS, &oc3, 0, "IN_TOUCH");
    assert_eq!(found, vec![("oc3.csv".to_string(), "348".to_string(), line, column, "F6".to_string())]);
}
