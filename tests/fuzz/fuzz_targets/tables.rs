//! A return sent as CSV tables (`Validator::check_tables`, SSDA903): the input is split at each form feed into
//! up to four files, each read as a table; one report entry per file and never a panic. Each file that reads
//! as CSV keeps its fields inside its bytes, and every finding located in a file lies on one of its lines.
#![no_main]

use std::sync::{Arc, LazyLock};

use caregate_engine::document::csv::parse_csv;
use caregate_engine::document::Limits;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::tables::TableFile;
use caregate_engine::validate::{Options, Validator};
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("the embedded packs load"));
static SSDA903: LazyLock<Arc<StandardPack>> =
    LazyLock::new(|| CATALOG.find("ssda903@2025-26").expect("the SSDA903 pack"));

fuzz_target!(|data: &[u8]| {
    let files: Vec<TableFile> = data
        .split(|&b| b == 0x0c)
        .take(4)
        .enumerate()
        .map(|(i, bytes)| TableFile { path: format!("t{i}.csv"), bytes: bytes.to_vec() })
        .collect();
    for file in &files {
        if let Ok(table) = parse_csv(&file.bytes, &Limits::default()) {
            for field in table.rows.iter().chain([&table.header]).flat_map(|r| &r.fields) {
                let span = field.span();
                assert!(span.start <= span.end && span.end <= file.bytes.len(), "{field:?}");
                let value = table.value(field);
                assert_eq!(value, value.trim(), "a value keeps no spaces around it");
            }
        }
    }
    let now = DateTime::parse_from_rfc3339("2026-04-15T09:00:00+01:00").expect("a timestamp");
    let options = Options { limits: Limits::default(), now, standard: Some(Arc::clone(&SSDA903)) };
    let validator = Validator::new(&CATALOG, options).with_params([("la_code".to_string(), "E09000027".to_string())]);
    let results = validator.check_tables(&SSDA903, &files);
    assert_eq!(results.len(), files.len(), "one report entry per file");
    for (result, file) in results.iter().zip(&files) {
        let lines = 1 + file.bytes.iter().filter(|&&b| b == b'\n').count();
        for finding in &result.findings {
            if let Some(location) = &finding.location {
                let line = usize::try_from(location.line).unwrap_or(usize::MAX);
                assert!(line <= lines, "{finding:?} past the {lines} lines of {}", file.path);
            }
        }
    }
});
