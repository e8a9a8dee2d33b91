//! The exported XSD accepts exactly the documents caregate's structure check accepts: both judge the same
//! generated documents — conforming ones, and the same ones broken in the ways suppliers break them (an
//! element dropped, duplicated, moved, renamed; a code, a date, a number corrupted; stray text) — with
//! `xmllint --schema` (libxml2) as the other judge.

use crate::common;

use std::io::Write as _;
use std::process::Command;
use std::sync::{Arc, LazyLock};

use caregate_engine::finding::Finding;
use caregate_engine::instance::to_xml;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

fn xmllint_accepts(xsd: &std::path::Path, xml: &str) -> bool {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(xml.as_bytes()).unwrap();
    let output =
        Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(xsd).arg(file.path()).output().expect(
            "xmllint must be installed for this test (Debian: apt-get install libxml2-utils; .ci/run installs it)",
        );
    output.status.success()
}

/// Structure findings only: a pack's business rules are not the XSD's business.
/// The pack with its rules left out. A field that a rule and the structure check both fault is reported by the
/// rule alone, so with the rules in, a document the structure check rejects could show only rule findings.
fn structure_only(pack: &StandardPack) -> Arc<StandardPack> {
    let mut files = pack.files.clone();
    files.files.remove("rules.toml");
    Arc::new(StandardPack::compile(files).expect("the pack compiles without its rules"))
}

fn structure_findings(pack: &StandardPack, findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| pack.rule(&f.rule).is_none() && !CATALOG.packs().iter().any(|p| p.rule(&f.rule).is_some()))
        .map(|f| format!("{} {}", f.rule, f.message))
        .collect()
}

/// Ways to break a document's XML text, each applied at the n-th place it can be: kinds 0 to 8 break it as
/// suppliers do; 9 to 11 write a value otherwise that XSD may still read as the same (whitespace around it, a
/// boolean as a digit, a number with an exponent).
pub(crate) fn mutate(xml: &str, kind: usize, n: usize) -> Option<String> {
    let lines: Vec<&str> = xml.lines().collect();
    let leaf_lines: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let t = lines[i].trim_start();
            t.starts_with('<') && !t.starts_with("</") && t.contains("</")
        })
        .collect();
    if leaf_lines.is_empty() {
        return None;
    }
    let at = leaf_lines[n % leaf_lines.len()];
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let line = lines[at];
    let open_end = line.find('>')?;
    let value_end = line.rfind("</")?;
    let value = &line[open_end + 1..value_end];
    match kind {
        0 => {
            out.remove(at); // element dropped
        }
        1 => out.insert(at, line.to_string()), // element duplicated
        2 => {
            if at + 1 >= out.len() {
                return None;
            }
            out.swap(at, at + 1); // moved past its next sibling (or its parent's end)
        }
        3 => out[at] = format!("{}ZZ{}{}", &line[..open_end + 1], value, &line[value_end..]), // value corrupted
        4 => out[at] = format!("{}2026-02-30{}", &line[..open_end + 1], &line[value_end..]),  // an impossible date
        5 => out[at] = format!("{}{}", &line[..open_end + 1], &line[value_end..]),            // emptied
        6 => out[at] = line.replacen('<', "<X", 1).replacen("</", "</X", 1),                  // renamed
        7 => out.insert(at, "stray text".to_string()), // text where elements belong
        8 => out[at] = format!("{}{}{}", &line[..open_end + 1], value.repeat(3), &line[value_end..]), // lengthened
        9 => out[at] = format!("{} \n\t{value} {}", &line[..open_end + 1], &line[value_end..]), // padded
        10 => {
            let digit = match value {
                "true" => "1",
                "false" => "0",
                _ => return None,
            };
            out[at] = format!("{}{digit}{}", &line[..open_end + 1], &line[value_end..]);
        }
        11 => {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
                return None;
            }
            out[at] = format!("{}{value}E0{}", &line[..open_end + 1], &line[value_end..]);
        }
        _ => return None,
    }
    Some(out.join("\n"))
}

fn agree(reference: &str, cases: u32) {
    let pack = CATALOG.find(reference).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let xsd = dir.path().join(format!("{reference}.xsd"));
    std::fs::write(&xsd, caregate_engine::standard::export::xsd(&pack, &CATALOG)).unwrap();
    let validator = Validator::new(&CATALOG, Options { standard: Some(structure_only(&pack)), ..Options::default() });
    let strategy = common::instance(&pack.schema, &pack.schema, 0);
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let (mut accepted, mut rejected) = (0, 0);
    for case in 0..cases as usize {
        let value: Value = strategy.new_tree(&mut runner).unwrap().current();
        let xml = to_xml(&value, &pack, &CATALOG).xml;
        let mut documents = vec![xml.clone()];
        documents.extend((0..9).filter_map(|kind| mutate(&xml, kind, case * 7 + kind)));
        for document in documents {
            let checked = validator.check(document.as_bytes());
            let ours = structure_findings(&pack, &checked.findings);
            let theirs = xmllint_accepts(&xsd, &document);
            assert_eq!(
                ours.is_empty(),
                theirs,
                "{reference}: caregate {} but xmllint {} this document:\n{document}\ncaregate found: {ours:#?}",
                if ours.is_empty() { "accepts" } else { "rejects" },
                if theirs { "accepts" } else { "rejects" }
            );
            if theirs {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
    }
    eprintln!("{reference}: {accepted} accepted, {rejected} rejected by both");
    assert!(accepted >= cases as usize, "{reference}: too few accepted documents ({accepted})");
    assert!(rejected >= cases as usize * 3, "{reference}: too few rejected documents ({rejected})");
}

#[test]
fn referral_xsd_agrees_with_the_structure_check() {
    agree("referral", 60);
}

#[test]
fn escr_document_xsd_agrees_with_the_structure_check() {
    agree("escr-document", 60);
}

#[test]
fn envelope_xsd_describes_the_envelope() {
    // The envelope's body is checked against its own standard; the envelope XSD leaves it open (xs:any, lax),
    // so here only documents whose body is left intact are compared.
    let pack = CATALOG.find("envelope").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let xsd = dir.path().join("envelope.xsd");
    std::fs::write(&xsd, caregate_engine::standard::export::xsd(&pack, &CATALOG)).unwrap();
    for (path, bytes) in &pack.files.files {
        if path.starts_with("examples/valid/") && path.ends_with(".xml") {
            assert!(xmllint_accepts(&xsd, std::str::from_utf8(bytes).unwrap()), "{path} rejected by the exported XSD");
        }
    }
}
