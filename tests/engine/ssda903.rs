//! SSDA903 returns as councils send them: CSV tables joined on CHILD, through the real binary. Every finding
//! is in the file that holds the field, at its line and column, and names the child.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const HEADER: &str = "\u{FEFF}CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\r\n\
    C1,M,01/02/2012,WBRI,UN2,,\r\n\
    C2,1,15/06/2010,BAFR,UN2,,\r\n\
    \r\n\
    C3,F,\"03/03/2015\",WBRI,UN2,,\r\n\
    C3,F,03/03/2015,WBRI,UN2,,\r\n";
const EPISODES: &str =
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
    C1,01/05/2025,S,C2,N1,U1,PR1,,,,AB1 2CD,EF3 4GH,SC123456\n\
    C2,2025-06-01,S,C2,N1,U1,PR1,,,,AB1 2CD,EF3 4GH,\n\
    C9,01/07/2025,S,C2,N1,U1,PR1,,,,AB1 2CD,EF3 4GH,\n";
const REVIEWS: &str = "CHILD,DOB,REVIEW,REVIEW_CODE,NOTE\n\
    C1,01/02/2012,01/06/2025,PN1,x\n\
    C2,16/06/2010,01/07/2025,PN9,y\n\
    ,01/01/2011,01/07/2025,PN1,z\n";

fn validate(files: &[(&str, &str)]) -> (i32, Value) {
    validate_with(&[], files)
}

/// The project's own made-up postcode directory (ten postcodes, some far apart, some outside England).
fn sample_postcodes() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/ssda903/postcodes-sample.csv");
    format!("postcodes={}", path.display())
}

pub(crate) fn validate_with(args: &[&str], files: &[(&str, &str)]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("caregate").unwrap();
    cmd.args(["validate", "--standard", "ssda903@2025-26", "--format", "json"]).args(args);
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

/// Each finding about the return as (file, rule, line, column, child). The warning that rules were not run (for
/// want of `--reference postcodes=…` and `--param la_code=…`) is about the run: see [`not_run`].
pub(crate) fn findings(report: &Value) -> Vec<(String, String, u64, u64, String)> {
    let mut out = Vec::new();
    for document in report["documents"].as_array().unwrap() {
        let file = Path::new(document["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
        for f in document["findings"].as_array().unwrap().iter().filter(|f| f["rule"] != "rules-not-run") {
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

/// The rules the report says were not run, from its `rules-not-run` warning ("…: 164, 169.").
pub(crate) fn not_run(report: &Value) -> Vec<String> {
    let documents = report["documents"].as_array().unwrap();
    let warnings: Vec<&Value> = documents
        .iter()
        .flat_map(|d| d["findings"].as_array().unwrap())
        .filter(|f| f["rule"] == "rules-not-run")
        .collect();
    assert!(warnings.len() <= 1, "one warning a run: {warnings:#?}");
    let Some(message) = warnings.first().and_then(|w| w["message"].as_str()) else { return Vec::new() };
    let list = message.rsplit(": ").next().unwrap_or_default().trim_end_matches('.');
    list.split(", ").map(str::to_string).collect()
}

pub(crate) fn has(
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
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN2,,\n";
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/05/2025,S,C2,N1,U1,PR1,01/09/2025,E4A,,AB1 2CD,EF3 4GH,\n";
    // A child who started to be looked after in the year has a previous permanence option (630): Z1, none.
    let prev_perm = "CHILD,DOB,PREV_PERM,LA_PERM,DATE_PERM\nC1,01/02/2012,Z1,,\n";
    let (code, report) =
        validate(&[("header.csv", header), ("episodes.csv", episodes), ("previous_permanence.csv", prev_perm)]);
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
    // C1 and C9 started to be looked after in the year (RNE S) with no previous permanence option (PrevPerm).
    assert!(has(&found, "episodes.csv", "630", 2, 15, "C1"), "{found:#?}");
    assert!(has(&found, "episodes.csv", "630", 4, 15, "C9"), "{found:#?}");
    // Nothing else: the date's `format` is said once, by rule 141.
    assert_eq!(found.len(), 13, "{found:#?}");
}

#[test]
fn a_file_that_is_no_table_and_a_table_given_twice_are_said_so() {
    let (_, report) = validate(&[
        ("header.csv", "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN2,,\n"),
        ("again.csv", "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN2,,\n"),
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
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN2,,\n";
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
        let rules = findings(&report).into_iter().map(|f| f.1).collect::<Vec<_>>();
        (rules, not_run(&report).contains(&"LA-TEST".to_string()))
    };
    // The child has a Header row only, so the portal's warning that episodes are needed (EPI) is always there.
    assert_eq!(run(&[]), (vec!["EPI".to_string()], true));
    assert_eq!(run(&["--param", "la_code=E09000027"]), (vec!["EPI".to_string()], false));
    assert_eq!(run(&["--param", "la_code=E08000001"]), (vec!["EPI".to_string(), "LA-TEST".to_string()], false));
}

/// A return whose episodes break each rule that looks postcodes up in the sample directory: its header,
/// episodes and UASC tables.
fn postcode_return() -> (String, &'static str, &'static str) {
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n".to_string()
        + &(1..=9).map(|i| format!("C{i},M,01/02/2012,WBRI,UN1,,\n")).collect::<String>();
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/05/2025,S,C2,N1,U1,PR1,01/09/2025,E4A,,TW9 2BB,tw91aa,XXXXXXX\n\
        C2,01/05/2025,S,C2,N1,U1,PR1,01/09/2025,E4A,,TW9 2BB,AB1 2CD,XXXXXXX\n\
        C3,01/05/2025,S,C2,N1,U1,PR1,01/09/2025,E4A,,TW9 1AA,KW15 9ZZ,\n\
        C4,01/05/2025,S,C2,N1,K2,PR2,01/09/2025,E4A,,TW9 1AA,EH1 9ZZ,SC000001\n\
        C5,01/05/2025,S,C2,N1,K2,PR1,01/09/2025,E4A,,TW9 1AA,M1 9ZZ,SC000002\n\
        C6,01/05/2025,S,C2,N1,K2,PR2,01/09/2025,E4A,,TW9 1AA,SW1A 9ZZ,SC000003\n\
        C7,01/05/2025,S,V3,N1,U1,PR1,01/09/2025,E4A,,,TW9 1AA,\n\
        C8,01/05/2025,S,C2,N1,K2,PR2,01/09/2025,E4A,,TW9 1AA,SW1A 9ZZ,\n\
        C9,01/05/2025,S,C2,N1,U1,PR1,01/09/2025,E4A,,TW9 1AA,ZZ9 9ZZ,XXXXXXX\n";
    let uasc = "CHILD,SEX,DOB,DUC\nC6,M,01/02/2012,\n";
    (header, episodes, uasc)
}

/// The rules that look postcodes up, each at the child whose episode breaks it, at the postcode's cell; without
/// the directory (or the council's code) they are reported as not run, never passed or failed.
#[test]
fn the_postcode_rules_run_with_the_directory_and_are_not_run_without_it() {
    let (header, episodes, uasc) = postcode_return();
    let files = [("header.csv", header.as_str()), ("episodes.csv", episodes), ("uasc.csv", uasc)];
    let postcodes = sample_postcodes();
    let (_, report) = validate_with(&["--param", "la_code=E09000027", "--reference", &postcodes], &files);
    // Only the rules that compare with last year's return or look URNs up in Ofsted's lists (neither given, and
    // tested in ssda903_previous.rs and ssda903_ofsted.rs), and those that read the UASC status, which a CSV
    // Header file does not give, are not run.
    let pack = caregate_engine::standard::Catalog::embedded().unwrap().find("ssda903@2025-26").unwrap();
    let not_run = |report: &Value| -> Vec<String> {
        let elsewhere = |id: &str| {
            pack.rules.iter().any(|r| {
                r.id == id
                    && (r.reads_previous
                        || r.needs
                            .iter()
                            .any(|n| n == caregate_engine::reference::OFSTED_PROVIDERS || n == "Header.UASC"))
            })
        };
        not_run(report).into_iter().filter(|id| !elsewhere(id)).collect()
    };
    assert_eq!(not_run(&report), Vec::<String>::new());
    let found: Vec<(u64, u64, String, String)> = findings(&report)
        .into_iter()
        .filter(|f| {
            ["164", "169", "179", "218", "243", "392a", "392c", "406", "420", "454", "1015"].contains(&f.1.as_str())
        })
        .map(|f| (f.2, f.3, f.1, f.4))
        .collect();
    let expected: Vec<(u64, u64, String, String)> = [
        // C1's placement postcode, in lower case without its space, is listed: nothing.
        // C2's is not: no LA, no location, no distance.
        (3, 54, "169", "C2"),
        (3, 54, "179", "C2"),
        (3, 54, "392a", "C2"),
        (3, 54, "392c", "C2"),
        // Richmond to Orkney: 530 miles.
        (4, 54, "454", "C3"),
        // Placed in Scotland with an Ofsted URN.
        (5, 62, "243", "C4"),
        // The council's own provision, in Manchester.
        (6, 54, "1015", "C5"),
        // A UASC child has no distance: the home postcode is reported.
        (7, 46, "406", "C6"),
        // A short break with a placement postcode (214, the pack's own, says so too).
        (8, 47, "420", "C7"),
        // In England, the episode open in the year, no URN: for C7's short break, and C8's children's home.
        (8, 55, "218", "C7"),
        (9, 63, "218", "C8"),
        // No real place: more than 999.9 miles, and so over 350 too.
        (10, 54, "164", "C9"),
        (10, 54, "454", "C9"),
    ]
    .iter()
    .map(|(line, column, rule, child)| (*line, *column, rule.to_string(), child.to_string()))
    .collect();
    assert_eq!(found, expected);

    // Without the directory the eleven rules are not run; with it but without the council's code, only 1015.
    let (_, report) = validate_with(&[], &files);
    assert_eq!(not_run(&report), ["164", "169", "179", "218", "243", "392a", "392c", "406", "420", "454", "1015"]);
    assert!(findings(&report).iter().all(|f| !["164", "392c", "1015"].contains(&f.1.as_str())));
    let (_, report) = validate_with(&["--reference", &postcodes], &files);
    assert_eq!(not_run(&report), ["1015"]);
    let message = report["documents"][0]["findings"][0]["fix"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        message,
        "Run again with --param la_code=… --previous FILES --reference ofsted-providers=FILE. Send the return with \
         the Header table's column UASC, or in a form that carries it."
    );
}

/// A postcode directory that cannot be read stops the run (exit 2) with the line and the reason, before any
/// return is read.
#[test]
fn a_malformed_postcode_directory_is_refused_with_its_line() {
    let stderr = refused_reference(
        "postcodes",
        "pcd,oseast1m,osnrth1m,laua\nTW9 1AA,518000,175000,E09000027\nTW9 1AB,east,175000,E09000027\n",
    );
    assert!(
        stderr.contains("line 3 of the postcode directory: oseast1m `east` is not an easting in metres"),
        "{stderr}"
    );
    let stderr = refused_reference("ofsted", "");
    assert!(stderr.contains("`ofsted` is not reference data caregate knows"), "{stderr}");
}

/// Runs `validate` on a one-child Header with `--reference NAME=FILE`, FILE holding `text`: the run must be
/// refused (exit 2) before any return is read. Returns what it said.
pub(crate) fn refused_reference(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reference.csv");
    std::fs::write(&file, text).unwrap();
    std::fs::write(
        dir.path().join("header.csv"),
        "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN2,,\n",
    )
    .unwrap();
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--standard", "ssda903@2025-26", "--reference"])
        .arg(format!("{name}={}", file.display()))
        .arg(dir.path().join("header.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `caregate reference index postcodes` writes the directory as an index that `--reference postcodes=` takes in
/// place of the CSV, with the same findings; a damaged index stops the run (exit 2) as a malformed CSV does.
#[test]
fn an_index_of_the_directory_gives_the_same_findings_as_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/ssda903/postcodes-sample.csv");
    let index = dir.path().join("postcodes.idx");
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["reference", "index", "postcodes"])
        .arg(&csv)
        .arg("-o")
        .arg(&index)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("indexed 10 postcodes"));
    assert!(!dir.path().join("postcodes.idx.partial").exists());

    let (header, episodes, uasc) = postcode_return();
    let files = [("header.csv", header.as_str()), ("episodes.csv", episodes), ("uasc.csv", uasc)];
    let with = |directory: &Path| {
        let reference = format!("postcodes={}", directory.display());
        let (code, report) = validate_with(&["--param", "la_code=E09000027", "--reference", &reference], &files);
        (code, findings(&report), not_run(&report))
    };
    let from_csv = with(&csv);
    assert!(from_csv.1.iter().any(|f| f.1 == "454"), "the postcode rules ran: {:?}", from_csv.1);
    assert_eq!(with(&index), from_csv);

    // Truncated: refused, naming the file, before any return is read.
    let bytes = std::fs::read(&index).unwrap();
    std::fs::write(&index, &bytes[..bytes.len() - 3]).unwrap();
    std::fs::write(dir.path().join("header.csv"), &header).unwrap();
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--standard", "ssda903@2025-26", "--reference"])
        .arg(format!("postcodes={}", index.display()))
        .arg(dir.path().join("header.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot load") && stderr.contains("the postcode index is not sound: it is"), "{stderr}");

    // Damaged inside its blocks, which are checked as lookups read them: the run fails and leaves no report
    // (its postcode findings would rest on lookups that found nothing).
    let mut damaged = bytes.clone();
    if let Some(last) = damaged.last_mut() {
        // The last place's top byte: a council far beyond the index's table.
        *last = 0x7f;
    }
    std::fs::write(&index, &damaged).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let report = dir.path().join("report.json");
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--standard", "ssda903@2025-26", "--param", "la_code=E09000027", "--format", "json"])
        .arg("--reference")
        .arg(format!("postcodes={}", index.display()))
        .arg("-o")
        .arg(&report)
        .args(files.map(|(name, _)| dir.path().join(name)))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the postcode index is not sound: postcode 10 (") && stderr.contains("cannot stand"),
        "{stderr}"
    );
    assert!(!report.exists(), "a report resting on a damaged index was left");

    // Only reference data caregate knows can be indexed.
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["reference", "index", "ofsted"])
        .arg(&csv)
        .arg("-o")
        .arg(&index)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// DfE's XML form of a return (EXPSSDA903) gives the same findings, for the same children, as its CSV tables,
/// each located at its element.
#[test]
fn the_xml_form_gives_the_same_findings_as_the_tables() {
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN2,,\nC2,1,15/06/2010,XXXX,UN2,,\n";
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/05/2025,S,C2,N1,U1,PR1,,,,,,\n\
        C2,2025-06-01,S,C2,N9,U1,PR1,01/07/2025,,,,,\n";
    let reviews = "CHILD,DOB,REVIEW,REVIEW_CODE\nC1,01/02/2012,01/06/2025,PN9\n";
    let uasc = "CHILD,SEX,DOB,DUC\nC2,1,15/06/2010,31/02/2027\n";
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EXPSSDA903>\n\
        <CHILD><HEADER><CHILDID>C1</CHILDID><UPN>UN2</UPN><SEX>M</SEX><DOB>01/02/2012</DOB><ETHNIC>WBRI</ETHNIC><UASC/>\n\
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
    let expected: Vec<(String, String)> = [
        ("101", "C2"),
        ("103", "C2"),
        ("104", "C2"),
        ("141", "C2"),
        ("145", "C2"),
        ("148", "C2"),
        ("167", "C1"),
        ("392b", "C1"),
        ("630", "C1"),
    ]
    .iter()
    .map(|(r, c)| (r.to_string(), c.to_string()))
    .collect();
    assert_eq!(pairs(&tables), expected);
    // The XML form gives the UASC status, which C1 leaves blank (rule 105); the CSV form does not give it, and
    // does not run the rule.
    let mut with_status = expected.clone();
    with_status.push(("105".to_string(), "C1".to_string()));
    with_status.sort();
    assert_eq!(pairs(&from_xml), with_status);
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
    let mut from_engine: Vec<(String, String)> = checked
        .findings
        .into_iter()
        .filter(|f| f.rule != "rules-not-run")
        .map(|f| (f.rule, f.record.unwrap_or_default()))
        .collect();
    from_engine.sort();
    // Read as 2026-27, whose collection year begins 1 April 2026: C1, looked after since May 2025, has been so for
    // 12 months at 31 March 2027 and has no OC2 row (191); its episode started before the year, so 630 (a child
    // who started to be looked after in the year) does not judge it.
    let mut expected_2026_27: Vec<(String, String)> =
        with_status.into_iter().filter(|(rule, _)| rule != "630").collect();
    expected_2026_27.push(("191".to_string(), "C1".to_string()));
    expected_2026_27.sort();
    assert_eq!(from_engine, expected_2026_27);
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

/// Rules 709 and 710 judge each placement that overlaps an order with both its dates: 709 expects K2, Z12 or Z13;
/// 710 refuses secure children's homes, parents, young offender institutions and supported accommodation.
#[test]
fn a_placement_during_a_dolo_is_judged_by_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\nC2,F,01/02/2012,WBRI,UN1,0,\n\
        C3,M,01/02/2012,WBRI,UN1,,\nC4,M,01/02/2012,WBRI,UN1,,\n";
    // C1 in a secure children's home (K1) during the order; C2 in a children's home (K2); C3 placed with parents
    // (P1) only before the order starts; C4's order has no end date, so neither rule judges it.
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/04/2026,S,C2,N1,K1,PR1,,,,,,\n\
        C2,01/04/2026,S,C2,N1,K2,PR1,,,,,,\n\
        C3,01/04/2026,S,C2,N1,P1,PR1,01/05/2026,X1,CARPL,,,\n\
        C3,01/05/2026,P,C2,N1,Z12,PR1,,,,,,\n\
        C4,01/04/2026,S,C2,N1,K1,PR1,,,,,,\n";
    let dolo =
        "CHILD,DOB,DOLO_START,DOLO_END\nC1,01/02/2012,01/06/2026,01/09/2026\nC2,01/02/2012,01/06/2026,01/09/2026\n\
        C3,01/02/2012,02/05/2026,01/09/2026\nC4,01/02/2012,01/06/2026,\n";
    for (name, text) in [("header.csv", header), ("episodes.csv", episodes), ("dolo.csv", dolo)] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--standard", "ssda903@2026-27", "--format", "json"])
        .args(["header.csv", "episodes.csv", "dolo.csv"].map(|f| dir.path().join(f)))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut dolo_rules: Vec<(String, String)> =
        findings(&report).into_iter().filter(|f| f.1 == "709" || f.1 == "710").map(|f| (f.1, f.4)).collect();
    dolo_rules.sort();
    let expected = [("709", "C1"), ("710", "C1")].map(|(r, c)| (r.to_string(), c.to_string()));
    assert_eq!(dolo_rules, expected, "{report:#}");
    assert!(has(&findings(&report), "dolo.csv", "709", 2, 15, "C1"), "at the order's start: {report:#}");
}

/// The social worker rules read SW_REASON as why an episode began, and judge a child looked after on 31 March
/// by its latest episode.
#[test]
fn social_worker_episodes_are_judged_by_the_episode_before_them() {
    let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,M,01/02/2012,WBRI,UN1,,\nC2,M,01/02/2012,WBRI,UN1,,\n\
        C3,M,01/02/2012,WBRI,UN1,,\n";
    let episodes = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
        C1,01/01/2025,S,C2,N1,U1,PR1,,,,,,\n\
        C2,01/01/2025,S,C2,N1,U1,PR1,,,,,,\n\
        C3,01/01/2025,S,C2,N1,U1,PR1,01/10/2025,E8,,,,\n";
    // C1: a change within the week (fine), then first contact on the day the episode before it ended (SW10b),
    // and no reason (SW13). C2: a change 20 days after the end of the one before (SW10a), the latest episode
    // ended before 31 March (SW11b, SW17) while the child is looked after. C3 left care: its last episode ends.
    let sw = "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON\n\
        C1,01/02/2012,SW1,01/01/2025,01/06/2025,FCONTA\n\
        C1,01/02/2012,SW2,05/06/2025,01/09/2025,LEFTRL\n\
        C1,01/02/2012,SW3,01/09/2025,01/12/2025,FCONTA\n\
        C1,01/02/2012,SW4,01/12/2025,,\n\
        C2,01/02/2012,SW5,01/01/2025,01/06/2025,FCONTA\n\
        C2,01/02/2012,SW6,21/06/2025,01/03/2026,MANAGE\n\
        C3,01/02/2012,XX7,01/01/2025,01/10/2025,FCONTA\n";
    let (_, report) = validate(&[("header.csv", header), ("episodes.csv", episodes), ("sw_episodes.csv", sw)]);
    let mut sw_rules: Vec<(String, u64, String)> =
        findings(&report).into_iter().filter(|f| f.1.starts_with("SW")).map(|f| (f.1, f.2, f.4)).collect();
    sw_rules.sort();
    let expected = [
        ("SW10aSTG2", 7, "C2"),
        ("SW10bSTG2", 4, "C1"),
        ("SW11bSTG2", 7, "C2"),
        ("SW13STG1", 5, "C1"),
        ("SW17STG2", 7, "C2"),
    ]
    .map(|(r, l, c)| (r.to_string(), l, c.to_string()));
    assert_eq!(sw_rules, expected, "{report:#}");
}
