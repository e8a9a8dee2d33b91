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
fn as_xml(header: &'static [&'static str], episodes: &'static [&'static str]) -> String {
    Year { header, episodes, uasc: &[], missing: &[], adoption: &[], oc3: &[] }.xml()
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

/// Rule 1000 reads this year's episodes always, and last year's when given: care leaver information for a young
/// person who died in care last year is flagged only with last year's return.
#[test]
fn care_leaver_information_after_a_death_in_care_last_year_is_flagged_with_last_years_return() {
    let oc3 = "CHILD,DOB,IN_TOUCH,ACTIV,ACCOM\nF6,01/02/2006,YES,F1,D1\nG7,01/02/2006,YES,F1,D1\n";
    let header = table(HEADER_COLUMNS, &["F6,M,01/02/2006,WBRI,UN1,,", "G7,M,01/02/2006,WBRI,UN1,,"]);
    // G7's episode this year ended in death (E2): flagged with or without last year's return.
    let episodes = table(EPISODE_COLUMNS, &["G7,01/05/2024,S,C2,N1,U1,PR1,01/05/2025,E2,,,,"]);
    let last = tempfile::tempdir().unwrap();
    std::fs::write(last.path().join("header.csv"), table(HEADER_COLUMNS, &["F6,1,01/02/2006,WBRI,UN1,,"])).unwrap();
    std::fs::write(
        last.path().join("episodes.csv"),
        table(EPISODE_COLUMNS, &["F6,01/05/2023,S,C2,N1,U1,PR1,01/01/2025,E2,,,,"]),
    )
    .unwrap();
    let rule_1000 = |args: &[&str]| -> Vec<String> {
        let files = [("header.csv", header.as_str()), ("episodes.csv", episodes.as_str()), ("oc3.csv", oc3)];
        let (_, report) = validate_with(args, &files);
        let mut children: Vec<String> = findings(&report).into_iter().filter(|f| f.1 == "1000").map(|f| f.4).collect();
        children.sort();
        children
    };
    assert_eq!(rule_1000(&[]), ["G7"]);
    assert_eq!(rule_1000(&["--previous", last.path().to_str().unwrap()]), ["F6", "G7"]);
}

/// The rules of the second set that need last year's return: UASC, the episode carried over with its postcodes,
/// adoption decisions, missing periods, mothers and care leavers.
const MORE_RULES: [&str; 21] = [
    "205A", "205B", "205D", "452", "453", "502", "503G", "503H", "503J", "559", "560", "561", "562", "576", "584",
    "624", "626", "1001", "1002", "1010", "NoE",
];

const UASC_COLUMNS: &str = "CHILD,SEX,DOB,DUC";
const MISSING_COLUMNS: &str = "CHILD,DOB,MISSING,MIS_START,MIS_END";
const ADOPTION_COLUMNS: &str = "CHILD,DOB,DATE_PLACED,DATE_PLACED_CEASED,REASON_PLACED_CEASED";
const OC3_COLUMNS: &str = "CHILD,DOB,IN_TOUCH,ACTIV,ACCOM";

/// One year's return of the second set, as rows of each table. Children named P… (postcodes and UASC), A…
/// (adoption), M… (mothers) and L… (care leavers); those ending in `ok` are consistent across the years.
struct Year {
    header: &'static [&'static str],
    episodes: &'static [&'static str],
    uasc: &'static [&'static str],
    missing: &'static [&'static str],
    adoption: &'static [&'static str],
    oc3: &'static [&'static str],
}

/// Last year (2024-25). The postcodes are the sample directory's (conformance-suite/ssda903/postcodes-sample.csv):
/// TW9 1AA and TW9 2BB in the council's own area 0.3 miles apart, SW1A 9ZZ another borough 7.3 miles away,
/// EH1 9ZZ and KW15 9ZZ two Scottish councils.
const LAST: Year = Year {
    header: &[
        "Pok,M,01/01/2009,WBRI,UN1,,",
        "P1,M,01/01/2009,WBRI,UN1,,",
        "P2,M,01/01/2009,WBRI,UN1,,",
        "P3,M,01/01/2009,WBRI,UN1,,",
        "P4,M,01/01/2009,WBRI,UN1,,",
        "P5,M,01/01/2009,WBRI,UN1,,",
        "P6,M,01/01/2009,WBRI,UN1,,",
        "Aok,F,01/01/2023,WBRI,UN1,,",
        "A1,F,01/01/2023,WBRI,UN1,,",
        "A2,F,01/01/2023,WBRI,UN1,,",
        "A3,F,01/01/2023,WBRI,UN1,,",
        "A4,F,01/01/2023,WBRI,UN1,,",
        "Mok,F,01/01/2008,WBRI,UN1,0,",
        "M1,F,01/01/2008,WBRI,UN1,1,01/01/2024",
        "M2,F,01/01/2008,WBRI,UN1,0,",
        "Lok,F,01/06/2007,WBRI,UN1,,",
        "L1,F,01/06/2007,WBRI,UN1,,",
        "L2,F,01/06/2007,WBRI,UN1,,",
        "L3,F,01/06/2007,WBRI,UN1,,",
        "L4,F,01/01/2005,WBRI,UN1,,",
    ],
    episodes: &[
        "Pok,01/06/2024,S,C2,N1,U1,PR1,,,,TW9 1AA,SW1A 9ZZ,",
        "P1,01/06/2024,S,C2,N1,U1,PR1,,,,TW9 1AA,TW9 2BB,",
        "P2,01/06/2024,S,C2,N1,U1,PR1,,,,TW9 1AA,EH1 9ZZ,",
        "Aok,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A1,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A2,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A3,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A4,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "Mok,01/06/2024,S,C2,N1,U1,PR1,,,,,,",
        "M1,01/06/2024,S,C2,N1,U1,PR1,,,,,,",
        "M2,01/06/2024,S,C2,N1,U1,PR1,,,,,,",
        "Lok,01/05/2022,S,C2,N1,U1,PR1,01/06/2024,E8,,,,",
        "L1,01/05/2022,S,C2,N1,U1,PR1,,,,,,",
        "L3,01/05/2024,S,C2,N1,U1,PR1,01/06/2024,E8,,,,",
        "L4,01/05/2024,S,C2,N1,U1,PR1,01/06/2024,E8,,,,",
    ],
    uasc: &[
        "Pok,M,01/01/2009,01/01/2027",
        "P4,M,01/01/2009,01/01/2027",
        "P5,M,01/01/2009,",
        "P6,M,01/01/2009,01/10/2024",
    ],
    missing: &["Pok,01/01/2009,M,20/03/2025,", "P3,01/01/2009,M,20/03/2025,"],
    adoption: &[
        "Aok,01/01/2023,01/02/2025,,",
        "A2,01/01/2023,01/02/2025,,",
        "A3,01/01/2023,01/02/2025,01/03/2025,RD1",
        "A4,01/01/2023,01/02/2025,01/03/2025,RD1",
    ],
    oc3: &[],
};

/// This year (2025-26); P7 is new this year, its episodes all this year's.
const THIS: Year = Year {
    header: &[
        "Pok,M,01/01/2009,WBRI,UN1,,",
        "P1,M,01/01/2009,WBRI,UN1,,",
        "P2,M,01/01/2009,WBRI,UN1,,",
        "P3,M,01/01/2009,WBRI,UN1,,",
        "P4,M,01/01/2009,WBRI,UN1,,",
        "P5,M,01/01/2009,WBRI,UN1,,",
        "P6,M,01/01/2009,WBRI,UN1,,",
        "P7,M,01/01/2009,WBRI,UN1,,",
        "Aok,F,01/01/2023,WBRI,UN1,,",
        "A1,F,01/01/2023,WBRI,UN1,,",
        "A2,F,01/01/2023,WBRI,UN1,,",
        "A3,F,01/01/2023,WBRI,UN1,,",
        "A4,F,01/01/2023,WBRI,UN1,,",
        "Mok,F,01/01/2008,WBRI,UN1,1,01/06/2025",
        "M1,F,01/01/2008,WBRI,UN1,1,02/01/2024",
        "M2,F,01/01/2008,WBRI,UN1,1,01/01/2025",
        "Lok,F,01/06/2007,WBRI,UN1,,",
        "L1,F,01/06/2007,WBRI,UN1,,",
        "L2,F,01/06/2007,WBRI,UN1,,",
        "L3,F,01/06/2007,WBRI,UN1,,",
        "L4,F,01/01/2005,WBRI,UN1,,",
    ],
    episodes: &[
        // Pok carries last year's open episode on; P1's first episode starts on another day, in another
        // borough, and P2's in another Scottish council (the same placement LA: Scotland).
        "Pok,01/06/2024,S,C2,N1,U1,PR1,01/09/2025,E4A,,TW9 1AA,SW1A 9ZZ,",
        "P1,01/07/2024,S,C2,N1,U1,PR1,01/09/2025,E4A,,TW9 1AA,SW1A 9ZZ,",
        "P2,01/06/2024,S,C2,N1,U1,PR1,01/09/2025,E4A,,TW9 1AA,KW15 9ZZ,",
        // P3 was in last year's return without episodes.
        "P3,01/02/2025,S,C2,N1,U1,PR1,01/09/2025,E4A,,,,",
        "P7,01/05/2025,S,C2,N1,U1,PR1,,,,,,",
        "Aok,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A1,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A2,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A3,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "A4,01/02/2024,S,E1,N1,A3,PR1,,,,,,",
        "Mok,01/06/2024,S,C2,N1,U1,PR1,,,,,,",
        "M1,01/06/2024,S,C2,N1,U1,PR1,,,,,,",
        "M2,01/06/2024,S,C2,N1,U1,PR1,,,,,,",
    ],
    // Pok is UASC in both years, its DUC the 18th birthday; P4 no longer UASC, though last year's DUC is not
    // of last year; P5's last year's DUC is blank; P6 ceased to be UASC last year; P7 is new.
    uasc: &["Pok,M,01/01/2009,01/01/2027", "P5,M,01/01/2009,01/01/2027", "P3,M,01/01/2009,01/01/2027"],
    // P3's period open at the end of last year is not reported this year.
    missing: &["Pok,01/01/2009,M,20/03/2025,02/04/2025"],
    // A1's decision of last year is not in last year's return; A2's has another date; A3's ceased last year and
    // is reported again; A4's ceased and a new one is dated before it.
    adoption: &[
        "Aok,01/01/2023,01/02/2025,,",
        "A1,01/01/2023,01/01/2025,,",
        "A2,01/01/2023,05/02/2025,,",
        "A3,01/01/2023,01/02/2025,,",
        "A4,01/01/2023,10/01/2025,,",
    ],
    // Lok left care last year after years in it; L1's episode open at the end of last year is not reported; L2
    // has no episode in either year; L3 was looked after 31 days since 16; L4, 20 at the end of the year, is not
    // judged (most of their care would be older than last year's return).
    oc3: &[
        "Lok,01/06/2007,YES,F2,H1",
        "L1,01/06/2007,YES,F2,H1",
        "L2,01/06/2007,YES,F2,H1",
        "L3,01/06/2007,YES,F2,H1",
        "L4,01/01/2005,YES,F2,H1",
    ],
};

impl Year {
    /// The year's tables as CSV files, only the rows of the children `keep` keeps.
    fn files(&self, keep: impl Fn(&str) -> bool) -> Vec<(&'static str, String)> {
        let rows = |rows: &[&str]| -> Vec<String> {
            rows.iter().filter(|r| keep(r.split(',').next().unwrap())).map(|r| r.to_string()).collect()
        };
        let table = |columns: &str, rows: Vec<String>| {
            let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
            table(columns, &rows)
        };
        vec![
            ("header.csv", table(HEADER_COLUMNS, rows(self.header))),
            ("episodes.csv", table(EPISODE_COLUMNS, rows(self.episodes))),
            ("uasc.csv", table(UASC_COLUMNS, rows(self.uasc))),
            ("missing.csv", table(MISSING_COLUMNS, rows(self.missing))),
            ("placed_for_adoption.csv", table(ADOPTION_COLUMNS, rows(self.adoption))),
            ("oc3.csv", table(OC3_COLUMNS, rows(self.oc3))),
        ]
    }

    /// The year's return as DfE's XML file: a child's Header columns, UASC and OC3 in <HEADER>, with its
    /// missing periods (<AMISSING>) and adoption decisions (<AD_PLACED>) inside; its episodes beside.
    fn xml(&self) -> String {
        let of = |rows: &[&'static str], child: &str| -> Vec<&'static str> {
            rows.iter().copied().filter(|r| r.split(',').next() == Some(child)).collect()
        };
        let elements = |columns: &str, row: &str, skip: &[&str]| -> String {
            columns
                .split(',')
                .zip(row.split(','))
                .filter(|(c, _)| !skip.contains(c))
                .map(|(c, v)| {
                    let name = if c == "CHILD" {
                        "CHILDID"
                    } else if c == "PLACE" {
                        "PL"
                    } else {
                        c
                    };
                    format!("<{name}>{v}</{name}>")
                })
                .collect()
        };
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EXPSSDA903>\n");
        for row in self.header {
            let child = row.split(',').next().unwrap();
            xml.push_str(&format!("<CHILD><HEADER>{}", elements(HEADER_COLUMNS, row, &[])));
            for uasc in of(self.uasc, child) {
                xml.push_str(&format!("<UASC>1</UASC>{}", elements(UASC_COLUMNS, uasc, &["CHILD", "SEX", "DOB"])));
            }
            for oc3 in of(self.oc3, child) {
                xml.push_str(&elements(OC3_COLUMNS, oc3, &["CHILD", "DOB"]));
            }
            for missing in of(self.missing, child) {
                xml.push_str(&format!(
                    "<AMISSING>{}</AMISSING>",
                    elements(MISSING_COLUMNS, missing, &["CHILD", "DOB"])
                ));
            }
            for adoption in of(self.adoption, child) {
                let cells = elements(ADOPTION_COLUMNS, adoption, &["CHILD", "DOB"]);
                xml.push_str(&format!("<AD_PLACED>{cells}</AD_PLACED>"));
            }
            xml.push_str("</HEADER>");
            for episode in of(self.episodes, child) {
                xml.push_str(&format!("<EPISODE>{}</EPISODE>", elements(EPISODE_COLUMNS, episode, &["CHILD"])));
            }
            xml.push_str("</CHILD>\n");
        }
        xml.push_str("</EXPSSDA903>\n");
        xml
    }
}

/// The findings of the second set's rules as sorted (rule, child) pairs, with postcodes and the council's code
/// given; and the rules not run.
fn more_findings(this: &[(&str, String)], args: &[&str]) -> (Vec<(String, String)>, Vec<String>) {
    let directory =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/ssda903/postcodes-sample.csv");
    let postcodes = format!("postcodes={}", directory.display());
    let mut all = vec!["--reference", &postcodes, "--param", "la_code=E09000027"];
    all.extend_from_slice(args);
    let files: Vec<(&str, &str)> = this.iter().map(|(name, text)| (*name, text.as_str())).collect();
    let (_, report) = validate_with(&all, &files);
    let mut found: Vec<_> = findings(&report)
        .into_iter()
        .filter(|f| MORE_RULES.contains(&f.1.as_str()))
        .map(|(_, rule, _, _, child)| (rule, child))
        .collect();
    found.sort();
    (found, not_run(&report))
}

fn write_last(dir: &std::path::Path, year: &Year, keep: impl Fn(&str) -> bool) {
    for (name, text) in year.files(keep) {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn more_expected() -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = [
        // P1's first episode: another start, another borough (LA and location), another distance.
        ("452", "P1"),
        ("453", "P1"),
        ("502", "P1"),
        ("503G", "P1"),
        ("503H", "P1"),
        ("503J", "P1"),
        ("562", "P1"),
        // P2 moved within Scotland: the distance changed, not the placement LA (SCO) nor the location (OUT).
        ("453", "P2"),
        ("503G", "P2"),
        // P3: an episode begun before the year and none in last year's return; a missing period not carried on;
        // UASC this year, not last.
        ("562", "P3"),
        ("NoE", "P3"),
        ("576", "P3"),
        ("205D", "P3"),
        ("205A", "P4"),
        ("205B", "P5"),
        ("559", "A1"),
        ("560", "A2"),
        ("561", "A3"),
        ("584", "A4"),
        ("624", "M1"),
        ("626", "M2"),
        ("1010", "L1"),
        // L2 was never looked after in either year: no episode (1002), so not a relevant child either (1001).
        ("1001", "L2"),
        ("1002", "L2"),
        ("1001", "L3"),
    ]
    .iter()
    .map(|(rule, child)| (rule.to_string(), child.to_string()))
    .collect();
    expected.sort();
    expected
}

#[test]
fn each_rule_of_the_second_set_fires_at_the_child_that_breaks_it() {
    let last = tempfile::tempdir().unwrap();
    write_last(last.path(), &LAST, |_| true);
    let (found, not_run) = more_findings(&THIS.files(|_| true), &["--previous", last.path().to_str().unwrap()]);
    assert_eq!(found, more_expected());
    assert!(!not_run.iter().any(|r| MORE_RULES.contains(&r.as_str())), "{not_run:?}");
}

#[test]
fn last_years_xml_file_gives_the_second_set_the_same_findings() {
    let last = tempfile::tempdir().unwrap();
    let path = last.path().join("last.xml");
    std::fs::write(&path, LAST.xml()).unwrap();
    let (found, _) = more_findings(&THIS.files(|_| true), &["--previous", path.to_str().unwrap()]);
    assert_eq!(found, more_expected());
}

#[test]
fn the_consistent_children_pass_the_second_set() {
    // This year's return of the children consistent with last year, and of P7, new this year.
    let last = tempfile::tempdir().unwrap();
    write_last(last.path(), &LAST, |_| true);
    let keep = |child: &str| child.ends_with("ok") || child == "P7";
    let (found, _) = more_findings(&THIS.files(keep), &["--previous", last.path().to_str().unwrap()]);
    assert_eq!(found, Vec::new());
}

#[test]
fn the_second_set_needs_last_years_return_and_the_postcodes() {
    // Without last year's return none is run; without the postcode directory, those that derive the placement
    // LA, distance or location from the postcodes are not run, and the others are.
    let (found, without_last) = more_findings(&THIS.files(|_| true), &[]);
    assert_eq!(found, Vec::new());
    for rule in MORE_RULES {
        assert!(without_last.contains(&rule.to_string()), "{rule} not listed: {without_last:?}");
    }
    let last = tempfile::tempdir().unwrap();
    write_last(last.path(), &LAST, |_| true);
    let files: Vec<(&str, String)> = THIS.files(|_| true);
    let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (*name, text.as_str())).collect();
    let (_, report) = validate_with(&["--previous", last.path().to_str().unwrap()], &files);
    let without_postcodes = not_run(&report);
    let postcode_rules = ["452", "453", "503G", "503H", "503J"];
    for rule in MORE_RULES {
        let listed = without_postcodes.contains(&rule.to_string());
        assert_eq!(listed, postcode_rules.contains(&rule), "{rule}: {without_postcodes:?}");
    }
}

/// Rule 706 of 2026-27: a deprivation of liberty order open at the end of last year is reported again.
#[test]
fn an_order_open_at_the_end_of_last_year_is_reported_again() {
    let dolo_columns = "CHILD,DOB,DOLO_START,DOLO_END";
    let header = ["D1,F,01/01/2010,WBRI,UN1,,", "D2,F,01/01/2010,WBRI,UN1,,", "D3,F,01/01/2010,WBRI,UN1,,"];
    // D1's open order carries on; D2's is not reported this year; D3's ended last year.
    let last_dolo = ["D1,01/01/2010,01/03/2026,", "D2,01/01/2010,01/03/2026,", "D3,01/01/2010,01/01/2026,01/03/2026"];
    let this_dolo = ["D1,01/01/2010,01/03/2026,"];
    let last = tempfile::tempdir().unwrap();
    std::fs::write(last.path().join("header.csv"), table(HEADER_COLUMNS, &header)).unwrap();
    std::fs::write(last.path().join("dolo.csv"), table(dolo_columns, &last_dolo)).unwrap();
    let this = tempfile::tempdir().unwrap();
    std::fs::write(this.path().join("header.csv"), table(HEADER_COLUMNS, &header)).unwrap();
    std::fs::write(this.path().join("dolo.csv"), table(dolo_columns, &this_dolo)).unwrap();
    let run = |previous: Option<&std::path::Path>| {
        let mut cmd = assert_cmd::Command::cargo_bin("caregate").unwrap();
        cmd.args(["validate", "--standard", "ssda903@2026-27", "--format", "json"]);
        if let Some(previous) = previous {
            cmd.arg("--previous").arg(previous);
        }
        let output = cmd.arg(this.path().join("header.csv")).arg(this.path().join("dolo.csv")).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let found: Vec<String> =
            findings(&report).into_iter().filter(|f| f.1 == "706").map(|f| format!("{}:{}", f.4, f.2)).collect();
        (found, not_run(&report))
    };
    let (found, not_run) = run(Some(last.path()));
    // At D2's Header row (line 3).
    assert_eq!(found, vec!["D2:3".to_string()]);
    assert!(!not_run.contains(&"706".to_string()));
    let (found, not_run) = run(None);
    assert_eq!(found, Vec::<String>::new());
    assert!(not_run.contains(&"706".to_string()), "{not_run:?}");
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
