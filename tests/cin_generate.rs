//! The Children in Need census generator: one return of N children, reproducible by seed, structurally valid
//! at invalid rate 0 (by caregate and by the exported XSD under xmllint), of a realistic size, and — at a
//! positive rate — breaking every business rule the pack holds.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::Command;
use std::sync::{Arc, LazyLock};

use assert_cmd::cargo::CommandCargoExt as _;
use caregate::document::Limits;
use caregate::generate::cin::{fault_rules, write_return};
use caregate::standard::{export, Catalog, StandardPack};
use caregate::validate::{Options, Validator};

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
    let faults: BTreeSet<&str> = fault_rules().into_iter().collect();
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
