//! The SSDA903 rules that check a placement's URN against Ofsted's provider lists (`--reference
//! ofsted-providers=FILE`), through the real binary, with the project's made-up list (as CSV and as a workbook
//! of two sheets, as Ofsted publishes its social care providers list) and made-up postcode directory.

use std::path::Path;

use super::ssda903::{findings, not_run, refused_reference, validate_with};

/// The rules this file is about.
const OFSTED_RULES: [&str; 8] = ["219", "221", "224", "227", "228", "229", "241", "1008"];

fn sample(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/ssda903").join(file).display().to_string()
}

/// A return of twelve children placed with the sample list's providers (council E09000027, Richmond upon
/// Thames), each breaking one rule or none: its header and episodes.
fn ofsted_return() -> (String, &'static str) {
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n".to_string()
        + &(1..=12).map(|i| format!("C{i},M,01/02/2008,WBRI,UN1,,\n")).collect::<String>();
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/05/2025,S,C2,N1,K2,PR1,01/09/2025,E4A,,TW9 1AA,tw92bb,sc100001\n\
        C2,01/05/2025,S,C2,N1,U1,PR4,01/09/2025,E4A,,TW9 1AA,M1 9ZZ,SC100002\n\
        C3,01/05/2025,S,C2,N1,K2,PR4,01/09/2025,E4A,,TW9 1AA,TW9 1AA,SC100002\n\
        C4,01/05/2025,S,C2,N1,K2,PR2,01/09/2025,E4A,,TW9 1AA,M1 9ZZ,SC100002\n\
        C5,01/05/2025,S,C2,N1,K2,PR4,01/08/2025,E4A,,TW9 1AA,CT1 9ZZ,SC100003\n\
        C6,01/07/2025,S,C2,N1,K2,PR4,01/08/2025,E4A,,TW9 1AA,CT1 9ZZ,SC100003\n\
        C7,01/05/2025,S,C2,N1,K2,PR4,01/09/2025,E4A,,TW9 1AA,M1 9ZZ,SC999999\n\
        C8,01/05/2025,S,C2,N1,K2,PR1,01/09/2025,E4A,,TW9 1AA,M1 9ZZ,SC100006\n\
        C9,01/05/2025,S,C2,N1,K2,PR2,01/09/2025,E4A,,TW9 1AA,TW9 2BB,SC100001\n\
        C10,01/05/2025,S,C2,N1,K3,PR4,01/09/2025,E4A,,TW9 1AA,TW9 1AA,SA100001\n\
        C11,01/05/2025,S,C2,N1,K3,PR4,01/09/2025,E4A,,TW9 1AA,SW1A 9ZZ,SA100001\n\
        C12,01/05/2025,S,C2,N1,K2,PR4,01/09/2025,E4A,,TW9 1AA,M1 9ZZ,XXXXXXX\n";
    (header, episodes)
}

/// The findings of the Ofsted rules as (rule, child, line, column), in the report's order.
fn ofsted_findings(report: &serde_json::Value) -> Vec<(String, String, u64, u64)> {
    findings(report)
        .into_iter()
        .filter(|f| OFSTED_RULES.contains(&f.1.as_str()))
        .map(|(_, rule, line, column, child)| (rule, child, line, column))
        .collect()
}

fn expected(rows: &[(&str, &str, u64, u64)]) -> Vec<(String, String, u64, u64)> {
    rows.iter().map(|(rule, child, line, column)| (rule.to_string(), child.to_string(), *line, *column)).collect()
}

/// Each rule at the child whose episode breaks it, at the cell of the field it names; C1 (the council's own
/// home, its URN and postcode in lower case), C11 (supported accommodation in one of the councils it has
/// premises in) and C12 (no URN Ofsted registers) break none. The workbook gives the same as the CSV.
#[test]
fn the_urn_rules_find_each_broken_placement_with_the_list() {
    let (header, episodes) = ofsted_return();
    let files = [("header.csv", header.as_str()), ("episodes.csv", episodes)];
    let postcodes = format!("postcodes={}", sample("postcodes-sample.csv"));
    let want = expected(&[
        // A placement type the provider is not registered for.
        ("219", "C2", 3, 23),
        // Placed at a postcode where the provider has no premises.
        ("221", "C3", 4, 54),
        // Another council's provision (PR2) at a private provider (PR4).
        ("224", "C4", 5, 26),
        // The home closed on 30 June 2025: C5 left after, C6 arrived after.
        ("228", "C5", 6, 62),
        ("227", "C6", 7, 4),
        ("228", "C6", 7, 62),
        // A URN no list names: 1008 alone, not 219, 221 and 224 besides.
        ("1008", "C7", 8, 61),
        // The council's own provision (PR1) at Manchester's home; another council's (PR2) at its own.
        ("229", "C8", 9, 26),
        ("229", "C9", 10, 26),
        // Supported accommodation in Richmond, where the provider has no premises (Kent and Westminster).
        ("221", "C10", 11, 55),
        ("241", "C10", 11, 63),
    ]);
    for list in ["ofsted-providers-sample.csv", "ofsted-providers-sample.xlsx"] {
        let ofsted = format!("ofsted-providers={}", sample(list));
        let (_, report) =
            validate_with(&["--param", "la_code=E09000027", "--reference", &postcodes, "--reference", &ofsted], &files);
        assert!(not_run(&report).iter().all(|r| !OFSTED_RULES.contains(&r.as_str())), "{list}: {:?}", not_run(&report));
        assert_eq!(ofsted_findings(&report), want, "{list}");
    }
}

/// Without the list the eight rules are not run; with it but without the postcode directory, 229 and 241 (the
/// council of the provider's premises) are not, nor is 229 without the council's code; the others run.
#[test]
fn the_urn_rules_are_not_run_without_what_they_need() {
    let (header, episodes) = ofsted_return();
    let files = [("header.csv", header.as_str()), ("episodes.csv", episodes)];
    let postcodes = format!("postcodes={}", sample("postcodes-sample.csv"));
    let ofsted = format!("ofsted-providers={}", sample("ofsted-providers-sample.csv"));
    let not_run_of = |args: &[&str]| -> (Vec<String>, Vec<String>) {
        let (_, report) = validate_with(args, &files);
        let skipped = not_run(&report).into_iter().filter(|r| OFSTED_RULES.contains(&r.as_str())).collect();
        let found = ofsted_findings(&report).into_iter().map(|f| f.0).collect();
        (skipped, found)
    };
    let (skipped, found) = not_run_of(&["--param", "la_code=E09000027", "--reference", &postcodes]);
    assert_eq!(skipped, OFSTED_RULES);
    assert_eq!(found, Vec::<String>::new());
    let (skipped, found) = not_run_of(&["--param", "la_code=E09000027", "--reference", &ofsted]);
    assert_eq!(skipped, ["229", "241"]);
    assert_eq!(found, ["219", "221", "224", "228", "227", "228", "1008", "221"]);
    let (skipped, _) = not_run_of(&["--reference", &ofsted, "--reference", &postcodes]);
    assert_eq!(skipped, ["229"]);
}

/// The children's homes list and the social care providers list are two files: given both, each URN is
/// looked up in either.
#[test]
fn two_lists_are_read_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let homes = dir.path().join("homes.csv");
    let agencies = dir.path().join("agencies.csv");
    std::fs::write(
        &homes,
        "URN,Provider Code,Provider Placement Code,Closed Date,Setting Postcode\nSC100002,K2,PR4,-,M1 9ZZ\n",
    )
    .unwrap();
    std::fs::write(
        &agencies,
        "URN,Placement code,Placement provider code,Setting postcode\nSC100004,U4,PR4,SW1A 9ZZ\n",
    )
    .unwrap();
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\nC2,M,01/02/2012,WBRI,UN1,,\n";
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/05/2025,S,C2,N1,K2,PR4,01/09/2025,E4A,,TW9 1AA,M1 9ZZ,SC100002\n\
        C2,01/05/2025,S,C2,N1,U5,PR4,01/09/2025,E4A,,TW9 1AA,SW1A 9ZZ,SC100004\n";
    let files = [("header.csv", header), ("episodes.csv", episodes)];
    let one = format!("ofsted-providers={}", homes.display());
    let both = ["--reference", &one, "--reference"];
    let (_, report) =
        validate_with(&[&both[..], &[&format!("ofsted-providers={}", agencies.display())]].concat(), &files);
    assert_eq!(ofsted_findings(&report), expected(&[("219", "C2", 3, 23)]));
    // With the homes alone, the agency's URN is not listed.
    let (_, report) = validate_with(&["--reference", &one], &files);
    assert_eq!(ofsted_findings(&report), expected(&[("1008", "C2", 3, 63)]));
}

/// A list that cannot be read stops the run (exit 2) with the sheet, the row and the reason.
#[test]
fn a_malformed_list_is_refused_with_its_row() {
    let stderr = refused_reference("ofsted-providers", "URN,Deregistration date\nSC1,-\nSC2,soon\n");
    assert!(
        stderr.contains("sheet `CSV`, row 3 of the Ofsted provider list: the deregistration date `soon` is not a date"),
        "{stderr}"
    );
    let stderr = refused_reference("ofsted-providers", "Name,Postcode\nA home,TW9 1AA\n");
    assert!(stderr.contains("has no sheet with a `URN` column"), "{stderr}");
}
