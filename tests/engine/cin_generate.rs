//! The Children in Need census generator: one return of N children, reproducible by seed, structurally valid
//! at invalid rate 0 (by caregate and by the exported XSD under xmllint), of a realistic size, and — at a
//! positive rate — breaking every business rule the pack holds. The messy profile: the same children with a
//! first submission's mistakes, about two findings a child.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::Command;
use std::sync::{Arc, LazyLock};

use assert_cmd::cargo::CommandCargoExt as _;
use caregate_engine::document::Limits;
use caregate_engine::standard::{export, Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};
use caregate_generate::cin::{write_return, write_return_with, FaultLists, Profile};
use sha2::Digest as _;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

fn pack() -> Arc<StandardPack> {
    CATALOG.find("cin-census@2025-26").expect("cin-census 2025-26 is embedded")
}

fn generate(count: usize, seed: u64, rate: f64) -> Vec<u8> {
    let mut out = Vec::new();
    let summary = write_return(&pack(), count, seed, rate, &mut out).expect("the return is generated");
    assert_eq!(summary.children, count);
    assert_eq!(summary.bytes, out.len() as u64);
    out
}

fn validator() -> Validator<'static> {
    let options = Options {
        standard: Some(pack()),
        limits: Limits { max_bytes: 1 << 30, ..Limits::default() },
        now: chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").expect("a time"),
    };
    Validator::new(&CATALOG, options)
}

#[test]
fn same_seed_same_bytes_and_different_seeds_differ() {
    let a = generate(50, 42, 0.1);
    assert_eq!(a, generate(50, 42, 0.1));
    assert_ne!(a, generate(50, 43, 0.1));
    assert_ne!(generate(50, 42, 0.0), generate(50, 43, 0.0));
}

#[test]
fn the_command_writes_one_return_of_count_children() {
    let run = |seed: &str| {
        let output = Command::cargo_bin("caregate")
            .expect("the binary")
            .args(["generate", "cin-census", "--count", "30", "--seed", seed])
            .output()
            .expect("caregate runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let first = run("9");
    assert_eq!(first, run("9"));
    assert_eq!(first.matches("<Message>").count(), 1);
    assert_eq!(first.matches("<Child>").count(), 30);
    assert_eq!(first.as_bytes(), generate(30, 9, 0.0).as_slice());
}

#[test]
fn a_return_at_rate_zero_is_structurally_valid_for_caregate_and_the_exported_xsd() {
    let pack = pack();
    let xml = generate(200, 7, 0.0);
    let checked = validator().check(&xml);
    let structure: Vec<String> = checked
        .findings
        .iter()
        .filter(|f| pack.rule(&f.rule).is_none())
        .map(|f| format!("{} {}", f.rule, f.message))
        .collect();
    assert!(structure.is_empty(), "structure findings:\n{}", structure.join("\n"));

    let mut xsd = tempfile::NamedTempFile::new().expect("temporary file");
    xsd.write_all(export::xsd(&pack, &CATALOG).as_bytes()).expect("write the XSD");
    let mut doc = tempfile::NamedTempFile::new().expect("temporary file");
    doc.write_all(&xml).expect("write the return");
    let output =
        match Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(xsd.path()).arg(doc.path()).output()
        {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("xmllint is not installed; this test needs it (Debian/Ubuntu: apt-get install libxml2-utils)")
            }
            Err(e) => panic!("cannot run xmllint: {e}"),
        };
    assert!(output.status.success(), "xmllint rejects the return: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn sizes_are_realistic() {
    let per_child = generate(500, 11, 0.0).len() as f64 / 500.0;
    assert!((1000.0..1800.0).contains(&per_child), "{per_child:.0} bytes per child");
}

#[test]
fn every_rule_of_the_pack_has_a_fault_and_a_faulty_return_breaks_each() {
    let pack = pack();
    let faults = FaultLists::of(&pack).expect("the pack's generate.toml").all();
    let faults: BTreeSet<&str> = faults.iter().map(String::as_str).collect();
    let rules: BTreeSet<&str> = pack.rules.iter().map(|r| r.id.as_str()).collect();
    let without: Vec<&&str> = rules.difference(&faults).collect();
    assert!(without.is_empty(), "rules the generator cannot break: {without:?}");
    if rules.is_empty() {
        return;
    }
    let xml = generate(1200, 5, 0.3);
    let found: BTreeSet<String> = validator().check(&xml).findings.into_iter().map(|f| f.rule).collect();
    let unbroken: Vec<&&str> = rules.iter().filter(|r| !found.contains(**r)).collect();
    assert!(unbroken.is_empty(), "rules no generated fault broke: {unbroken:?}");
}

fn generate_messy(count: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let summary =
        write_return_with(&pack(), count, seed, 0.0, Profile::Messy, &mut out).expect("the return is generated");
    assert_eq!(summary.children, count);
    assert_eq!(summary.bytes, out.len() as u64);
    out
}

/// The SHA-256 of a return, as written by version 0.1.0 (the header names the version that wrote it).
fn digest(xml: &[u8]) -> String {
    let text = String::from_utf8(xml.to_vec()).expect("UTF-8");
    let text = text.replace(&format!("<Release>{}</Release>", env!("CARGO_PKG_VERSION")), "<Release>0.1.0</Release>");
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[test]
fn the_clean_profile_writes_the_returns_it_always_has() {
    // Digests of returns written before profiles existed: the clean profile is that generator, unchanged.
    assert_eq!(digest(&generate(50, 42, 0.1)), "f4f9f24e924fee6e61b237ec3817579b11b329a6cfc11277a271c386cdbb6327");
    assert_eq!(digest(&generate(200, 7, 0.0)), "9d26d3c88c070fecd9d20bed40eeae4f9774154006acc8bc06f292333b1e5675");
    let mut explicit = Vec::new();
    write_return_with(&pack(), 200, 7, 0.0, Profile::Clean, &mut explicit).expect("the return is generated");
    assert_eq!(explicit, generate(200, 7, 0.0));
}

#[test]
fn a_messy_return_is_reproducible_and_holds_the_clean_returns_children() {
    let a = generate_messy(80, 42);
    assert_eq!(a, generate_messy(80, 42));
    assert_ne!(a, generate_messy(80, 43));
    let clean = generate(80, 42, 0.0);
    assert_ne!(a, clean);
    let header = |xml: &[u8]| {
        let text = String::from_utf8(xml.to_vec()).expect("UTF-8");
        text[..text.find("<Children>").expect("a Children element")].to_string()
    };
    assert_eq!(header(&a), header(&clean));
    assert_eq!(String::from_utf8_lossy(&a).matches("<Child>").count(), 80);
}

#[test]
fn a_messy_return_reads_like_a_first_submission() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("messy.xml");
    let output = Command::cargo_bin("caregate")
        .expect("the binary")
        .args(["generate", "cin-census", "--count", "500", "--seed", "2026", "--profile", "messy", "--output"])
        .arg(&path)
        .output()
        .expect("caregate runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let xml = std::fs::read_to_string(&path).expect("the return");
    assert_eq!(
        xml.as_bytes(),
        generate_messy(500, 2026).as_slice(),
        "the command and the library write the same return"
    );

    // Blank elements in each of the spellings extracts use, a date written day first.
    let blank_pair = regex::Regex::new(r"<(\w+)></(\w+)>").expect("regex");
    assert!(blank_pair.is_match(&xml), "no <X></X>");
    assert!(regex::Regex::new(r"<\w+/>").expect("regex").is_match(&xml), "no <X/>");
    assert!(regex::Regex::new(r"<(\w+)> +</\w+>").expect("regex").is_match(&xml), "no whitespace-only element");
    assert!(regex::Regex::new(r">\d\d/\d\d/\d{4}<").expect("regex").is_match(&xml), "no dd/mm/yyyy date");
    // A child id given to two children.
    let ids = regex::Regex::new(r"<LAchildID>([^<]+)</LAchildID>").expect("regex");
    let mut seen = BTreeSet::new();
    assert!(ids.captures_iter(&xml).any(|c| !seen.insert(c[1].to_string())), "no repeated LAchildID");

    let output = Command::cargo_bin("caregate")
        .expect("the binary")
        .args(["validate", "--format", "json", "--now", "2026-05-01T10:00:00Z"])
        .arg(&path)
        .output()
        .expect("caregate runs");
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let document = &report["documents"][0];
    let records = document["records"].as_u64().expect("records counted");
    assert_eq!(records, 500);
    let findings = document["findings"].as_array().expect("findings");
    let per_child = findings.len() as f64 / records as f64;
    assert!((1.5..=3.0).contains(&per_child), "{per_child:.2} findings a child");
    let rules: BTreeSet<&str> = findings.iter().filter_map(|f| f["rule"].as_str()).collect();
    assert!(rules.len() >= 20, "only {} rules broken: {rules:?}", rules.len());
}
