//! A whole CIN census return validated record by record (`Validator::check_bulk`), as `caregate validate`
//! streams a census file: findings, never a panic. Reading from memory cannot fail, so neither may the
//! check; every finding it locates lies on a line of the input.
#![no_main]

use std::io::BufRead;
use std::sync::{Arc, LazyLock};

use caregate_engine::document::Limits;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("the embedded packs load"));
static CIN: LazyLock<Arc<StandardPack>> =
    LazyLock::new(|| CATALOG.find("cin-census@2025-26").expect("the CIN census pack"));

fuzz_target!(|data: &[u8]| {
    let now = DateTime::parse_from_rfc3339("2026-04-15T09:00:00+01:00").expect("a timestamp");
    let options = Options { limits: Limits::default(), now, standard: Some(Arc::clone(&CIN)) };
    let validator = Validator::new(&CATALOG, options);
    let open = |offset: u64| -> std::io::Result<Box<dyn BufRead + Send + '_>> {
        Ok(Box::new(usize::try_from(offset).ok().and_then(|o| data.get(o..)).unwrap_or_default()))
    };
    let checked = validator.check_bulk(&CIN, &open).expect("reading from memory does not fail");
    let lines = 1 + data.iter().filter(|&&b| b == b'\n').count();
    for finding in &checked.findings {
        if let Some(location) = &finding.location {
            let line = usize::try_from(location.line).unwrap_or(usize::MAX);
            assert!(line <= lines, "{finding:?} is past the last line ({lines})");
        }
    }
});
