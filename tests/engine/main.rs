//! The engine as a library and as the `caregate` command: parsing, standards, validation, conversion,
//! reports, hostile input and the CIN census.

#[path = "../common/mod.rs"]
mod common;

mod cin_batches;
mod cin_blank;
mod cin_generate;
mod cin_passes;
mod cin_records_behind;
mod cin_rules;
mod cin_structure;
mod convert_bulk;
mod deepest;
mod examples;
mod fuzz_regressions;
mod hostile;
mod one_cause;
mod reports;
mod roundtrip;
mod rule_cases;
mod schema_generate;
mod ssda903;
mod ssda903_generate;
mod ssda903_ofsted;
mod ssda903_previous;
mod ssda903_rules;
mod xsd;
mod xsd_import;
