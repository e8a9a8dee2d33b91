//! Reference data a run is given beside the documents it checks: tables that no return carries and that rules
//! look values up in, such as the ONS Postcode Directory (`--reference postcodes=FILE`).
//!
//! For: holding the reference data of one run, loaded once and shared read-only by every rule and thread, and
//! naming each kind, so that a rule can say it `needs` one and be reported as not run without it.
//!
//! Not for: run-time values that are a single text (the council's code is a `--param`), or reading the
//! documents being checked. The rule language reads reference data only through its functions
//! (`postcode_la`, `postcode_known`, `postcode_miles`), never as a variable.

pub mod postcodes;

use std::sync::Arc;

pub use postcodes::{PostcodeDirectory, PostcodeError};

/// Every kind of reference data, by the name `--reference NAME=FILE` and a rule's `needs` give it.
pub const NAMES: [&str; 1] = [POSTCODES];

/// The ONS Postcode Directory.
pub const POSTCODES: &str = "postcodes";

/// The reference data of one run; each kind is absent until given.
#[derive(Debug, Clone, Default)]
pub struct References {
    pub postcodes: Option<Arc<PostcodeDirectory>>,
}

impl References {
    /// No reference data at all.
    pub fn none() -> &'static References {
        static NONE: References = References { postcodes: None };
        &NONE
    }

    /// Whether `name` is the name of a kind of reference data (rather than of a `params` value).
    pub fn is_reference(name: &str) -> bool {
        NAMES.contains(&name)
    }

    /// Whether this run was given the reference data called `name`.
    pub fn has(&self, name: &str) -> bool {
        match name {
            POSTCODES => self.postcodes.is_some(),
            _ => false,
        }
    }
}
