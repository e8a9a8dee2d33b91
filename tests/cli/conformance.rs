//! Self-conformance in CI: every shipped suite, run through the real binary (`caregate suite run`) and through
//! the library, must pass; every requirement must have a case; and the run must be able to fail — a suite with
//! a wrong expectation fails it. Signed evidence verifies, and any changed byte does not.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use caregate_conformance::evidence::{Evidence, Status};
use caregate_conformance::{run, signature, suite, waiver};
use caregate_engine::standard::Catalog;

fn caregate() -> Command {
    Command::cargo_bin("caregate").expect("binary")
}

fn suites_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite")
}

fn run_dir(output: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(output).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    assert_eq!(dirs.len(), 1, "one run folder expected in {}", output.display());
    dirs.remove(0)
}

#[test]
fn every_suite_passes_self_conformance_through_the_binary() {
    let out = tempfile::tempdir().unwrap();
    let assert = caregate().args(["suite", "run", "--output"]).arg(out.path()).assert();
    let output = assert.get_output().clone();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "suite run failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for reference in [
        "cin-census@2025-26",
        "dfe-csc-api@1.0.1",
        "envelope@1.0",
        "escr-document@1.0",
        "referral@1.0",
        "ssda903@2025-26",
    ] {
        assert!(stdout.contains(&format!("engine {reference} (caregate")), "no run of {reference}:\n{stdout}");
    }
    // One report folder per suite, each with the three reports.
    let runs: Vec<PathBuf> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 6);
    for dir in runs {
        for name in ["report.json", "report.html", "junit.xml"] {
            assert!(dir.join(name).is_file(), "{} has no {name}", dir.display());
        }
    }
}

#[test]
fn every_case_passes_and_every_requirement_has_a_case() {
    let catalog = Catalog::embedded().unwrap();
    let suites = suite::load_all(&catalog, Some(&suites_dir())).unwrap();
    let embedded = suite::load_all(&catalog, None).unwrap();
    assert_eq!(suites.len(), 6);
    for (disk, built_in) in suites.iter().zip(&embedded) {
        assert_eq!(disk.digest, built_in.digest, "the embedded suite {} is not the one on disk", disk.reference());
    }
    for s in &suites {
        let evidence = run::run(s, &catalog, &run::engine(), &[]);
        let failed: Vec<String> = evidence
            .cases
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.id, c.problems.join("; ")))
            .collect();
        assert!(failed.is_empty(), "{}:\n{}", s.reference(), failed.join("\n"));
        assert!(s.uncovered().is_empty(), "{}: requirements without a case: {:?}", s.reference(), s.uncovered());
        // Every rule of the standard is a requirement with a case.
        for info in s.pack.rule_infos() {
            let r = evidence
                .requirement(&info.id)
                .unwrap_or_else(|| panic!("{}: rule {} is not a requirement", s.reference(), info.id));
            assert_eq!(r.status, Status::Pass, "{}: rule {}", s.reference(), info.id);
        }
        // Every input is named with its digest, and so are the pack and the suite.
        assert!(evidence.inputs.iter().all(|i| i.sha256.starts_with("sha256:") && i.sha256.len() == 71));
        assert_eq!(evidence.standard.digest, s.pack.digest);
        assert_eq!(evidence.suite.sha256, s.digest);
    }
    caregate().args(["suite", "coverage"]).assert().success();
}

/// A copy of the shipped suites in a temporary folder, with `edit` applied to the referral manifest.
fn edited_suites(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    edited_suite("referral/1.0", edit)
}

/// The shipped suites with the manifest of one (`id/version`) edited.
fn edited_suite(folder: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(&suites_dir(), dir.path());
    let manifest = dir.path().join(folder).join("suite.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&manifest, edited).unwrap();
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

const WRONG: (&str, &str) = ("id = \"REF-007-xml\"\ntitle = \"Breaks REF-007 (XML)\"\ndocument = \"pack:examples/invalid/REF-007.xml\"\nverdict = \"invalid\"", "id = \"REF-007-xml\"\ntitle = \"Breaks REF-007 (XML)\"\ndocument = \"pack:examples/invalid/REF-007.xml\"\nverdict = \"valid\"");

#[test]
fn a_wrong_expectation_fails_the_run_and_a_requirement_without_a_case_is_listed() {
    let wrong = edited_suites(|t| t.replace(WRONG.0, WRONG.1));
    let out = tempfile::tempdir().unwrap();
    let assert = caregate()
        .args(["suite", "run", "--standard", "referral", "--suites"])
        .arg(wrong.path())
        .arg("--output")
        .arg(out.path())
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("FAIL REF-007-xml: expected valid but the document is invalid"), "{stdout}");
    let evidence = Evidence::read(&run_dir(out.path()).join("report.json")).unwrap();
    assert_eq!(evidence.with_status(Status::Fail), vec!["REF-007"]);
    assert!(!evidence.conformant);

    // Remove both REF-013 cases: coverage names REF-013.
    let uncovered = edited_suites(|t| t.replace("rules = [\"REF-013\"]", "rules = [\"REF-007\"]"));
    let assert = caregate()
        .args(["suite", "coverage", "--standard", "referral", "--suites"])
        .arg(uncovered.path())
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("1 without a case") && stdout.contains("REF-013 [rules]"), "{stdout}");
}

#[test]
fn the_ssda903_cases_are_run_with_the_suites_inputs_and_fail_without_them() {
    let out = tempfile::tempdir().unwrap();
    // `suite run` of the SSDA903 suite in `suites`, which must exit with `code`: its stdout and stderr.
    let run_suite = |suites: &std::path::Path, code: i32| {
        let assert = caregate()
            .args(["suite", "run", "--standard", "ssda903@2025-26", "--suites"])
            .arg(suites)
            .arg("--output")
            .arg(out.path())
            .assert()
            .code(code);
        let output = assert.get_output();
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    };

    // Without last year's return, the rules that read it are not run: their fail cases find nothing, and the
    // base return (expected to give no finding at all) says that they were not run.
    let without = edited_suite("ssda903/2025-26", |t| t.replace("previous = [\"previous.xml\"]\n", ""));
    let (stdout, _) = run_suite(without.path(), 1);
    assert!(stdout.contains("FAIL 202-fail: rule 202 was not found"), "{stdout}");
    assert!(stdout.contains("FAIL base-return: other rules were found: rules-not-run"), "{stdout}");
    assert!(!stdout.contains("FAIL 1015-fail"), "the postcode rules still have their inputs:\n{stdout}");

    // Without Ofsted's provider list, the URN rules are not run, and the rest still are.
    let without = edited_suite("ssda903/2025-26", |t| t.replace(", ofsted-providers = \"ofsted-providers.csv\"", ""));
    let (stdout, _) = run_suite(without.path(), 1);
    assert!(
        stdout.contains("FAIL 1008-fail: expected invalid but the document is valid; rule 1008 was not found"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL base-return: other rules were found: rules-not-run"), "{stdout}");
    assert!(!stdout.contains("FAIL 202-fail"), "last year's rules still have their input:\n{stdout}");

    // An input the suite folder does not hold is refused when the suite is read.
    let missing = edited_suite("ssda903/2025-26", |t| t.replace("\"postcodes.csv\"", "\"no-such.csv\""));
    let (_, stderr) = run_suite(missing.path(), 2);
    assert!(stderr.contains("the suite has no input file `no-such.csv`"), "{stderr}");
}

#[test]
fn waived_failures_show_as_waived_until_the_waiver_expires() {
    let wrong = edited_suites(|t| t.replace(WRONG.0, WRONG.1));
    let catalog = Catalog::embedded().unwrap();
    let suites = suite::load_all(&catalog, Some(wrong.path())).unwrap();
    let referral = suite::find(&suites, "referral").unwrap();
    let supplier = format!("caregate {}", env!("CARGO_PKG_VERSION"));
    let waivers = |expires: &str| {
        waiver::parse(&format!("[[waiver]]\nrequirement = \"REF-007\"\nsupplier = \"{supplier}\"\nreason = \"Overseas postcodes\"\nexpires = \"{expires}\"\n")).unwrap()
    };
    let current = run::run(referral, &catalog, &supplier, &waivers("2999-12-31"));
    assert_eq!(current.requirement("REF-007").unwrap().status, Status::Waived);
    assert!(current.conformant, "a waived failure does not make the run non-conformant");
    let expired = run::run(referral, &catalog, &supplier, &waivers("2020-01-31"));
    let r = expired.requirement("REF-007").unwrap();
    assert_eq!(r.status, Status::Fail);
    assert!(r.note.as_deref().unwrap_or("").contains("expired on 2020-01-31"), "{r:?}");
    assert!(!expired.conformant);
    let other = waiver::parse("[[waiver]]\nrequirement = \"REF-007\"\nsupplier = \"Someone else\"\nreason = \"r\"\nexpires = \"2999-12-31\"\n").unwrap();
    assert_eq!(run::run(referral, &catalog, &supplier, &other).requirement("REF-007").unwrap().status, Status::Fail);
}

#[test]
fn a_signed_report_verifies_and_a_changed_byte_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("keys/officer");
    caregate().args(["keygen", "--out"]).arg(&prefix).assert().success();
    let (private, public) = (prefix.with_extension("key"), prefix.with_extension("pub"));
    assert!(std::fs::read_to_string(&private).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    let out = dir.path().join("reports");
    caregate()
        .args(["suite", "run", "--standard", "escr-document", "--sign"])
        .arg(&private)
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let report = run_dir(&out).join("report.json");
    caregate().args(["report", "verify"]).arg(&report).arg("--key").arg(&public).assert().success();
    // The HTML report is covered too: a changed verdict in it fails, and so does a changed JUnit file.
    for name in ["report.html", "junit.xml"] {
        let path = run_dir(&out).join(name);
        let original = std::fs::read_to_string(&path).unwrap();
        let edited = original.replacen("</", " </", 1);
        assert_ne!(edited, original);
        std::fs::write(&path, edited).unwrap();
        let assert = caregate().args(["report", "verify"]).arg(&report).arg("--key").arg(&public).assert().code(1);
        let said = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        assert!(said.contains(&format!("but {name} beside it is not what it renders as")), "{said}");
        std::fs::write(&path, original).unwrap();
    }
    caregate().args(["report", "verify"]).arg(&report).arg("--key").arg(&public).assert().success();

    let bytes = std::fs::read(&report).unwrap();
    let key = signature::read_public(&public).unwrap();
    assert_eq!(signature::verify(&bytes, &key), Ok(()));
    // A changed verdict, a changed digit, a changed space: each fails.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let forged = text.replacen("\"passed\": true", "\"passed\": false", 1);
    assert_ne!(forged, text);
    assert_eq!(signature::verify(forged.as_bytes(), &key), Err(signature::VerifyError::BadSignature));
    for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 2] {
        let mut changed = bytes.clone();
        changed[at] = if changed[at] == b'1' {
            b'2'
        } else if changed[at] == b' ' {
            b'\t'
        } else {
            b'1'
        };
        assert!(signature::verify(&changed, &key).is_err(), "a change at byte {at} was not noticed");
    }
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, forged).unwrap();
    let assert = caregate().args(["report", "verify"]).arg(&tampered).arg("--key").arg(&public).assert().code(1);
    assert!(String::from_utf8_lossy(&assert.get_output().stdout).contains("FAILED"));
    // Another key does not verify it.
    let other = dir.path().join("other");
    caregate().args(["keygen", "--out"]).arg(&other).assert().success();
    caregate().args(["report", "verify"]).arg(&report).arg("--key").arg(other.with_extension("pub")).assert().code(1);
    // An unsigned report does not verify.
    let unsigned = dir.path().join("unsigned");
    caregate().args(["suite", "run", "--standard", "escr-document", "--output"]).arg(&unsigned).assert().success();
    caregate()
        .args(["report", "verify"])
        .arg(run_dir(&unsigned).join("report.json"))
        .arg("--key")
        .arg(&public)
        .assert()
        .code(1);
}

#[test]
fn the_matrix_has_one_row_per_supplier_and_one_column_per_requirement() {
    let wrong = edited_suites(|t| t.replace(WRONG.0, WRONG.1));
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
    caregate()
        .args(["suite", "run", "--standard", "referral", "--supplier", "Good Ltd", "--output"])
        .arg(&good)
        .assert()
        .success();
    caregate()
        .args(["suite", "run", "--standard", "referral", "--supplier", "Bad Ltd", "--suites"])
        .arg(wrong.path())
        .arg("--output")
        .arg(&bad)
        .assert()
        .code(1);
    let out = dir.path().join("matrix");
    caregate().args(["report", "matrix"]).arg(&good).arg(&bad).arg("--output").arg(&out).assert().success();
    let matrix: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("matrix.json")).unwrap()).unwrap();
    let rows = matrix["suppliers"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row = |name: &str| rows.iter().find(|r| r["supplier"] == name).unwrap().clone();
    assert_eq!(row("Good Ltd")["cells"]["referral@1.0 REF-007"], "pass");
    assert_eq!(row("Bad Ltd")["cells"]["referral@1.0 REF-007"], "fail");
    assert_eq!(row("Bad Ltd")["conformant"], false);
    assert_eq!(matrix["requirements"].as_array().unwrap().len(), 17);
    let html = std::fs::read_to_string(out.join("matrix.html")).unwrap();
    assert!(html.contains("Bad Ltd") && html.contains("1 failed") && !html.contains("<script"));
}
