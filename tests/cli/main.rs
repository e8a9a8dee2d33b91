//! The command line as a user runs it: standards, conformance runs and supplier certification.

#[path = "../common/mod.rs"]
mod common;

mod certify;
mod cli;
mod conformance;
mod console;
mod dfe_payload;
mod import_openapi;
mod import_xsd;
