//! The command line as a user runs it: exit codes, every report format, conversion, the standards commands
//! and the generator.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

const NOW: &str = "2026-11-20T10:00:00Z";
const BROKEN: &str = "schemas/referral/1.0/examples/invalid/REF-005.xml";
const VALID: &str = "schemas/referral/1.0/examples/valid/full.xml";

fn caregate() -> Command {
    let mut cmd = Command::cargo_bin("caregate").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn exit_codes_say_valid_invalid_or_could_not_run() {
    caregate().args(["validate", "--now", NOW, VALID]).assert().code(0);
    caregate().args(["validate", "--now", NOW, BROKEN]).assert().code(1);
    caregate().args(["validate", "no/such/file.xml"]).assert().code(2);
    caregate().args(["validate", "--standard", "no-such-standard", VALID]).assert().code(2);
    caregate().args(["validate", "--format", "yaml", VALID]).assert().code(2);
}

#[test]
fn human_output_shows_the_line_a_caret_the_rule_and_help() {
    let out = caregate().args(["validate", "--now", NOW, BROKEN]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("error[REF-005]"), "{text}");
    assert!(text.contains("REF-005.xml:10:5 (/Referral/Child/NhsNumber)"), "{text}");
    assert!(text.contains("<NhsNumber>9990000019</NhsNumber>"), "{text}");
    assert!(text.contains("    ^^^^"), "{text}");
    assert!(text.contains("= help:"), "{text}");
}

#[test]
fn json_report_keeps_its_contract() {
    let out = caregate().args(["validate", "--now", NOW, "--format", "json", BROKEN, VALID]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tool"]["name"], "caregate");
    assert_eq!(report["standard"]["id"], "referral");
    assert!(report["standard"]["digest"].as_str().is_some_and(|d| d.len() == 71 && d.starts_with("sha256:")));
    let docs = report["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["valid"], false);
    assert_eq!(docs[0]["format"], "xml");
    assert_eq!(docs[0]["counts"]["error"], 1);
    let f = &docs[0]["findings"][0];
    assert_eq!(f["rule"], "REF-005");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["location"]["line"], 10);
    assert_eq!(f["location"]["column"], 5);
    assert_eq!(f["location"]["path"], "/Referral/Child/NhsNumber");
    assert_eq!(f["location"]["pointer"], "/child/nhsNumber");
    assert_eq!(f["clause"], "referral 1.0 REF-005");
    assert_eq!(docs[1]["valid"], true);
}

#[test]
fn junit_sarif_and_html_reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["junit", "sarif", "html"] {
        let path = dir.path().join(format!("report.{format}"));
        caregate()
            .args(["validate", "--now", NOW, "--format", format, "--output"])
            .arg(&path)
            .arg(BROKEN)
            .assert()
            .code(1);
        let text = std::fs::read_to_string(&path).unwrap();
        match format {
            "junit" => {
                let doc = roxmltree::Document::parse(&text).unwrap();
                assert!(doc.descendants().any(|n| n.has_tag_name("failure") && n.attribute("type") == Some("REF-005")));
            }
            "sarif" => {
                let sarif: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(sarif["version"], "2.1.0");
                assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "REF-005");
                assert_eq!(
                    sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
                    10
                );
            }
            _ => assert!(text.contains("REF-005") && text.contains("<html"), "HTML report"),
        }
    }
}

#[test]
fn folders_and_standard_input_are_validated() {
    let out = caregate()
        .args(["validate", "--now", NOW, "--format", "json", "schemas/referral/1.0/examples/valid"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["documents"].as_array().unwrap().len() >= 6);
    assert_eq!(out.status.code(), Some(0));
    let bytes = std::fs::read(BROKEN).unwrap();
    let out = caregate().args(["validate", "--now", NOW, "--format", "json", "-"]).write_stdin(bytes).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["documents"][0]["path"], "-");
    assert_eq!(report["documents"][0]["findings"][0]["rule"], "REF-005");
}

#[test]
fn convert_goes_both_ways_and_back() {
    let json = caregate().args(["convert", VALID, "--to", "json"]).output().unwrap();
    assert!(json.status.success());
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["child"]["name"]["given"][0], "Oliver");
    let xml = caregate().args(["convert", "-", "--to", "xml"]).write_stdin(json.stdout.clone()).output().unwrap();
    assert!(xml.status.success(), "{}", String::from_utf8_lossy(&xml.stderr));
    let again = caregate().args(["convert", "-", "--to", "json"]).write_stdin(xml.stdout).output().unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&again.stdout).unwrap(), value);
}

/// A conversion compiles only the packs of the document's element (or every pack, for an envelope, whose body
/// is another standard's, and for a document of no known standard); its output is that of a conversion with
/// every pack, which naming the standard gives.
#[test]
fn a_conversion_with_only_its_standard_loaded_is_the_same() {
    for (file, standard) in [
        (VALID, "referral@1.0"),
        ("schemas/envelope/1.0/examples/valid/full.xml", "envelope@1.0"),
        ("schemas/escr-document/1.0/examples/valid/full.xml", "escr-document@1.0"),
    ] {
        let narrow = caregate().args(["convert", file, "--to", "json"]).output().unwrap();
        let whole = caregate().args(["convert", file, "--to", "json", "--standard", standard]).output().unwrap();
        assert!(narrow.status.success(), "{file}: {}", String::from_utf8_lossy(&narrow.stderr));
        assert_eq!((narrow.stdout, narrow.stderr), (whole.stdout, whole.stderr), "{file}");
    }
    let unknown = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(unknown.path(), "<Note xmlns=\"urn:example:other\"><To>Ann</To></Note>").unwrap();
    let out = caregate().arg("convert").arg(unknown.path()).args(["--to", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Ann"));
}

#[test]
fn a_new_year_of_a_standard_is_diffed_against_the_last() {
    let json = caregate()
        .args(["standards", "diff", "ssda903@2025-26", "ssda903@2026-27", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(0));
    let diff: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((diff["from"].as_str(), diff["to"].as_str()), (Some("ssda903@2025-26"), Some("ssda903@2026-27")));
    let changes = diff["changes"].as_array().unwrap();
    let has = |kind: &str, what: &str, path: &str, code: Option<&str>, breaking: bool| {
        changes.iter().any(|c| {
            c["kind"] == kind
                && c["what"] == what
                && c["path"] == path
                && c["code"].as_str() == code
                && c["breaking"] == breaking
        })
    };
    // 2026-27 brings the DoLo table (optional, so no return of 2025-26 breaks on it) and its rules (errors).
    assert!(has("added", "element", "/children/DoLo", None, false), "{changes:#?}");
    assert!(has("added", "rule", "/children/*/DoLo/*", Some("700"), true), "{changes:#?}");
    let human = caregate().args(["standards", "diff", "ssda903@2025-26", "ssda903@2026-27"]).output().unwrap();
    let human = String::from_utf8(human.stdout).unwrap();
    assert!(human.starts_with(&format!("ssda903@2025-26 → ssda903@2026-27: {} changes", changes.len())), "{human}");
    assert!(human.contains("+ rule /children/*/DoLo/* 700 BREAKING: error rule added"), "{human}");
    let same =
        caregate().args(["standards", "diff", "referral@1.0", "referral@1.0", "--format", "json"]).output().unwrap();
    let same: Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(same["changes"], serde_json::json!([]));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("diff.html");
    caregate()
        .args(["standards", "diff", "ssda903@2025-26", "ssda903@2026-27", "--format", "html", "-o"])
        .arg(&page)
        .assert()
        .code(0);
    let page = std::fs::read_to_string(page).unwrap();
    assert!(page.contains("<tr class=\"breaking\"><td>added</td><td>rule</td>"), "{page}");
    caregate().args(["standards", "diff", "ssda903@2025-26", "nonesuch@1"]).assert().code(2);
}

#[test]
fn standards_are_listed_shown_and_exported() {
    let list = String::from_utf8(caregate().args(["standards", "list"]).output().unwrap().stdout).unwrap();
    for id in ["envelope", "referral", "escr-document"] {
        assert!(list.contains(id), "{list}");
    }
    let show = String::from_utf8(caregate().args(["standards", "show", "referral"]).output().unwrap().stdout).unwrap();
    assert!(show.contains("/child/nhsNumber") && show.contains("REF-005"), "{show}");
    let schema: Value = serde_json::from_slice(
        &caregate().args(["standards", "export", "referral", "--as", "json-schema"]).output().unwrap().stdout,
    )
    .unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let xsd = caregate().args(["standards", "export", "referral@1.0", "--as", "xsd"]).output().unwrap().stdout;
    roxmltree::Document::parse(std::str::from_utf8(&xsd).unwrap()).unwrap();
}

#[test]
fn generate_is_reproducible_by_seed_and_faults_at_the_asked_rate() {
    let run = |seed: &str| {
        let dir = tempfile::tempdir().unwrap();
        caregate()
            .args(["generate", "referral", "--count", "40", "--seed", seed, "--invalid-rate", "0.5", "--output"])
            .arg(dir.path())
            .assert()
            .success();
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        (dir, files)
    };
    let (dir, a) = run("42");
    let (_, b) = run("42");
    let (_, c) = run("43");
    assert_eq!(a, b, "the same seed gives the same documents");
    assert_ne!(a, c, "another seed gives other documents");
    let faulty = a.iter().filter(|(name, _)| name.contains("-REF-")).count();
    assert!((8..=32).contains(&faulty), "{faulty} of 40 faulty at rate 0.5");
    // Each faulty document breaks the rule its name says; the others are valid.
    let out = caregate().args(["validate", "--now", NOW, "--format", "json"]).arg(dir.path()).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for doc in report["documents"].as_array().unwrap() {
        let path = doc["path"].as_str().unwrap();
        let rules: Vec<&str> =
            doc["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
        match path.split("-REF-").nth(1) {
            Some(rest) => {
                let rule = format!("REF-{}", rest.trim_end_matches(".xml"));
                assert_eq!(rules, vec![rule.as_str()], "{path}");
            }
            None => assert!(rules.is_empty(), "{path}: {rules:?}"),
        }
    }
}

#[test]
fn a_misspelt_element_is_one_finding_with_the_right_name_suggested() {
    let xml = "<Referral xmlns=\"urn:caregate:referral:1\">\n  <Child>\n    <Name><Given>Amy</Given><Famly>Test</Famly></Name>\n    <DateOfBirth>2015-01-01</DateOfBirth>\n    <Sex>F</Sex>\n  </Child>\n</Referral>\n";
    let out = caregate().args(["validate", "--now", NOW, "--format", "json", "-"]).write_stdin(xml).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["documents"][0]["findings"].as_array().unwrap();
    let about_name: Vec<&Value> = findings
        .iter()
        .filter(|f| f["location"]["path"].as_str().unwrap_or("").starts_with("/Referral/Child/Name"))
        .collect();
    assert_eq!(about_name.len(), 1, "{findings:#?}");
    assert_eq!(about_name[0]["rule"], "unknown-element");
    assert_eq!(about_name[0]["fix"], "Did you mean `<Family>`?");
    assert_eq!(
        (about_name[0]["location"]["line"].as_u64(), about_name[0]["location"]["column"].as_u64()),
        (Some(3), Some(29))
    );
}

/// `caregate standards check` loads each pack below a folder and says what is wrong with each: a rule reading a
/// field the schema lacks is named with the field the schema has nearest; sound packs are OK.
#[test]
fn standards_check_names_each_pack_s_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/referral/1.0");
    for version in ["1.0", "1.1"] {
        let pack = dir.path().join("referral").join(version);
        std::fs::create_dir_all(&pack).unwrap();
        for entry in std::fs::read_dir(&source).unwrap().flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), pack.join(entry.file_name())).unwrap();
            }
        }
    }
    let manifest = dir.path().join("referral/1.1/standard.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replacen("version = \"1.0\"", "version = \"1.1\"", 1);
    std::fs::write(&manifest, text).unwrap();
    let rules = dir.path().join("referral/1.1/rules.toml");
    let mut text = std::fs::read_to_string(&rules).unwrap();
    text.push_str("\n[[rule]]\nid = \"X1\"\nseverity = \"error\"\ncontext = \"/child\"\nexpression = \"!has(self.upnn) || true\"\nmessage = \"m\"\n");
    std::fs::write(&rules, text).unwrap();
    let out = caregate().args(["standards", "check"]).arg(dir.path()).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("OK: {}", dir.path().join("referral/1.0").display())), "{said}");
    assert!(
        said.contains("rules.toml: rule X1: the expression reads `self.upnn`, but the schema has no `upnn` there")
            && said.contains("did you mean `upn`?"),
        "{said}"
    );
    assert!(said.contains("2 packs checked, 1 with mistakes"), "{said}");
    // The packs caregate ships are sound.
    let shipped =
        caregate().args(["standards", "check", "schemas"]).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    assert_eq!(shipped.status.code(), Some(0), "{}", String::from_utf8_lossy(&shipped.stdout));
}

/// `caregate standards new` writes a pack that checks out, validates its own examples as they say, and
/// converts to XML and back: where a standards body starts.
#[test]
fn a_new_pack_is_a_working_standard_to_start_from() {
    let dir = tempfile::tempdir().unwrap();
    caregate().args(["standards", "new", "visit-record", "--output"]).arg(dir.path()).assert().success();
    let pack = dir.path().join("visit-record/1.0");
    for file in ["standard.toml", "schema.json", "codelists.toml", "rules.toml", "README.md"] {
        assert!(pack.join(file).is_file(), "{file}");
    }
    caregate().args(["standards", "check"]).arg(dir.path()).assert().success();
    let validate = |example: &str| {
        let out = caregate()
            .args(["validate", "--format", "json", "--standard", "visit-record@1.0", "--standards"])
            .arg(dir.path())
            .arg(pack.join("examples").join(example))
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rules: Vec<String> = report["documents"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
            .collect();
        (out.status.code(), rules)
    };
    assert_eq!(validate("valid/minimal.json"), (Some(0), vec![]));
    assert_eq!(validate("invalid/VISIT-RECORD-001.json"), (Some(1), vec!["VISIT-RECORD-001".to_string()]));
    assert_eq!(validate("invalid/VISIT-RECORD-002.json"), (Some(0), vec!["VISIT-RECORD-002".to_string()]));
    let xml = caregate()
        .args(["convert", "--standard", "visit-record@1.0", "--to", "xml", "--standards"])
        .arg(dir.path())
        .arg(pack.join("examples/valid/minimal.json"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&xml.stdout).contains("<DateOfBirth>2016-03-14</DateOfBirth>"));
    // With its examples gone (as a pack just imported has none), documents are drawn from its schema: valid by
    // structure, only its business rules finding fault.
    std::fs::remove_dir_all(pack.join("examples")).unwrap();
    let out = dir.path().join("generated");
    caregate()
        .args(["generate", "visit-record@1.0", "--count", "20", "--seed", "3", "--format", "json", "--standards"])
        .arg(dir.path())
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let report = caregate()
        .args(["validate", "--format", "json", "--standard", "visit-record@1.0", "--standards"])
        .arg(dir.path())
        .arg(&out)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let documents = report["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 20);
    for document in documents {
        for finding in document["findings"].as_array().unwrap() {
            assert!(finding["rule"].as_str().unwrap().starts_with("VISIT-RECORD-"), "{finding}");
        }
    }
    // Not over an existing pack, and not with an id that cannot name one.
    caregate().args(["standards", "new", "visit-record", "--output"]).arg(dir.path()).assert().code(2);
    caregate().args(["standards", "new", "Visit Record", "--output"]).arg(dir.path()).assert().code(2);
}

/// A reader that closes caregate's output early (`| head -1`) stops it quietly, as it stops a Unix tool: the
/// status of a process ended by SIGPIPE, and no crash report.
#[test]
fn output_closed_by_its_reader_ends_the_command_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["standards", "check", "schemas"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before caregate has loaded its packs, so every write it makes finds no reader.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
