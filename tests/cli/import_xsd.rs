//! `caregate standards import xsd` end to end, as a standards officer runs it: the census-shaped XSD of the
//! engine's agreement test imported into a packs folder, then every command on the pack — `generate`,
//! `validate` (a generated return, and one broken, its findings at their line and column), `convert` to JSON
//! and back, `standards export --as xsd` — and the import again keeping what the author wrote.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn caregate() -> Command {
    let mut cmd = Command::cargo_bin("caregate").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

fn census_xsd() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engine/xsd_import/census.xsd")
}

fn import(packs: &Path) -> String {
    let out = caregate()
        .args(["standards", "import", "xsd"])
        .arg(census_xsd())
        .args(["--id", "census-xsd", "--version", "1.0", "--output"])
        .arg(packs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `caregate --standards PACKS ARGS…`: its exit code and standard output.
fn run(packs: &Path, args: &[&str], file: Option<&Path>) -> (i32, String) {
    let mut cmd = caregate();
    cmd.arg("--standards").arg(packs).args(args);
    if let Some(file) = file {
        cmd.arg(file);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn an_imported_xsd_works_with_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let packs = dir.path().join("packs");
    let said = import(&packs);
    let folder = packs.join("census-xsd/1.0");
    for file in ["standard.toml", "schema.json", "codelists.toml"] {
        assert!(folder.join(file).is_file(), "{file} written");
    }
    // What the XSD cannot say is named: the publisher, the records of a bulk return (with the candidate), rules.
    assert!(said.contains("`publisher`"), "{said}");
    assert!(said.contains("`[records] path` and `key`") && said.contains("/Children/Child/*"), "{said}");
    assert!(said.contains("rules.toml"), "{said}");

    // generate: documents drawn from the pack's schema, valid for caregate and for the XSD.
    let generated = dir.path().join("generated");
    let (code, text) = run(
        &packs,
        &["generate", "census-xsd", "--count", "3", "--seed", "5", "--output", generated.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{text}");
    let first = generated.join("census-xsd-000001.xml");
    let (code, text) = run(&packs, &["validate", "--standard", "census-xsd"], Some(&generated));
    assert_eq!(code, 0, "{text}");

    // validate: a broken return, each finding at its line and column.
    let xml = std::fs::read_to_string(&first).unwrap();
    let broken_xml = xml.replacen("<Sex>", "<Sex>X", 1);
    assert_ne!(broken_xml, xml);
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, &broken_xml).unwrap();
    let (code, text) = run(&packs, &["validate", "--format", "json"], Some(&broken));
    assert_eq!(code, 1, "{text}");
    let report: Value = serde_json::from_str(&text[..text.rfind('}').unwrap() + 1]).unwrap();
    let findings = report["documents"][0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["rule"], "enum");
    let line = broken_xml.lines().position(|l| l.contains("<Sex>X")).unwrap() + 1;
    let column = broken_xml.lines().nth(line - 1).unwrap().find("<Sex>").unwrap() + 1;
    assert_eq!(findings[0]["location"]["line"], line as u64);
    assert_eq!(findings[0]["location"]["column"], column as u64);

    // convert: to JSON and back, the same document.
    let (code, json) = run(&packs, &["convert", "--to", "json"], Some(&first));
    assert_eq!(code, 0, "{json}");
    let json_file = dir.path().join("return.json");
    std::fs::write(&json_file, &json[..json.rfind('}').unwrap() + 1]).unwrap();
    let (code, back) = run(&packs, &["convert", "--standard", "census-xsd", "--to", "xml"], Some(&json_file));
    assert_eq!(code, 0, "{back}");
    assert!(back.contains(xml.trim_end()), "XML → JSON → XML changed the document:\n{xml}\n---\n{back}");

    // export --as xsd: an XSD that libxml2 compiles and that accepts the generated return.
    let (code, exported) = run(&packs, &["standards", "export", "census-xsd", "--as", "xsd"], None);
    assert_eq!(code, 0, "{exported}");
    let exported_file = dir.path().join("exported.xsd");
    std::fs::write(&exported_file, &exported).unwrap();
    let lint = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&exported_file)
        .arg(&first)
        .arg(&broken)
        .output()
        .expect("xmllint must be installed for this test (Debian: apt-get install libxml2-utils)");
    let lint = String::from_utf8_lossy(&lint.stderr);
    assert!(lint.contains(&format!("{} validates", first.display())), "{lint}");
    assert!(lint.contains(&format!("{} fails to validate", broken.display())), "{lint}");

    // Importing again keeps the author's answers and files, and asks again for what is still unanswered.
    let said = import(&packs);
    assert!(said.contains("`publisher`"), "{said}");
    let manifest = folder.join("standard.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace("publisher = \"not stated by the XSD\"", "publisher = \"Example Council\"");
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(folder.join("rules.toml"), "").unwrap();
    let said = import(&packs);
    assert!(!said.contains("`publisher`"), "{said}");
    assert!(std::fs::read_to_string(&manifest).unwrap().contains("publisher = \"Example Council\""));
    assert!(folder.join("rules.toml").is_file());
}

#[test]
fn an_unsupported_construct_is_refused_with_its_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engine/xsd_import/unsupported/any.xsd");
    let out = caregate()
        .args(["standards", "import", "xsd"])
        .arg(&xsd)
        .args(["--id", "any", "--version", "1", "--output"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("line 7: xs:any is not supported"), "{said}");
    assert!(!dir.path().join("any").exists());
}
