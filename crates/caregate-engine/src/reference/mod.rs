//! What a run is given beside the documents it checks: reference data, tables that no return carries and that
//! rules look values up in, such as the ONS Postcode Directory (`--reference postcodes=FILE`) and Ofsted's lists of
//! registered providers (`--reference ofsted-providers=FILE`); and last year's
//! return of a standard sent as tables (`--previous FILES`), that rules compare this year's records with.
//!
//! For: holding the inputs of one run, loaded once and shared read-only by every rule and thread, and naming
//! each kind, so that a rule can say it `needs` one and be reported as not run without it.
//!
//! Not for: run-time values that are a single text (the council's code is a `--param`), or reading the
//! documents being checked. The rule language reads reference data only through its functions
//! (`postcode_la`, `postcode_known`, `postcode_miles`, `ofsted_known`, …), never as a variable; last year's
//! return it reads as the variable `previous`, one record at a time. How last year's files are read is the
//! validator's (`validate::tables::previous`): this module only names what it gives.

pub mod ofsted;
pub mod postcodes;

use std::sync::Arc;

pub use ofsted::{OfstedError, OfstedProviders};
pub use postcodes::{Listed, PostcodeDirectory, PostcodeError};

/// Every kind of reference data, by the name `--reference NAME=FILE` and a rule's `needs` give it.
pub const NAMES: [&str; 2] = [POSTCODES, OFSTED_PROVIDERS];

/// The kinds of reference data `caregate reference index` writes an index of (the others load fast enough
/// as they are).
pub const INDEXED: [&str; 1] = [POSTCODES];

/// The ONS Postcode Directory.
pub const POSTCODES: &str = "postcodes";

/// Ofsted's lists of registered children's homes and social care providers (one file or several).
pub const OFSTED_PROVIDERS: &str = "ofsted-providers";

/// Last year's return, by the name a rule's `needs` and its expression (the variable `previous`) give it.
pub const PREVIOUS: &str = "previous";

/// Last year's return of a standard sent as tables, record by record.
pub trait PreviousReturn: Send + Sync + std::fmt::Debug {
    /// The record of `key` in last year's return (the same shape as this year's `record`), built when asked
    /// for; `None` when the return has no record of that key.
    fn record(&self, key: &str) -> Option<serde_json::Value>;
    /// How many records the return holds.
    fn len(&self) -> usize;
    /// Whether it holds none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a rule's `needs` names: reference data, last year's return, an optional column of a table
/// (`Header.UASC`: a table's name, a dot, the column's), or else a `params` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Reference,
    Previous,
    Column,
    Param,
}

impl Need {
    pub fn of(name: &str) -> Need {
        if NAMES.contains(&name) {
            Need::Reference
        } else if name == PREVIOUS {
            Need::Previous
        } else if name.contains('.') {
            Need::Column
        } else {
            Need::Param
        }
    }
}

/// The inputs of one run beside its documents; each kind is absent until given.
#[derive(Debug, Clone, Default)]
pub struct References {
    pub postcodes: Option<Arc<PostcodeDirectory>>,
    pub ofsted_providers: Option<Arc<OfstedProviders>>,
    pub previous: Option<Arc<dyn PreviousReturn>>,
    /// The optional columns (`Header.UASC`) that the return being checked does not give: no file of their
    /// table has them. Set per return sent as tables; every other form gives them all.
    pub absent_columns: Vec<String>,
}

impl References {
    /// No reference data at all.
    pub fn none() -> &'static References {
        static NONE: References =
            References { postcodes: None, ofsted_providers: None, previous: None, absent_columns: Vec::new() };
        &NONE
    }

    /// Whether `name` is the name of a kind of reference data (rather than of last year's return or of a
    /// `params` value).
    pub fn is_reference(name: &str) -> bool {
        Need::of(name) == Need::Reference
    }

    /// Whether this run was given the reference data or return called `name`, or (for an optional column,
    /// `Header.UASC`) whether the return gives that column.
    pub fn has(&self, name: &str) -> bool {
        match name {
            POSTCODES => self.postcodes.is_some(),
            OFSTED_PROVIDERS => self.ofsted_providers.is_some(),
            PREVIOUS => self.previous.is_some(),
            _ if Need::of(name) == Need::Column => !self.absent_columns.iter().any(|c| c == name),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_need_is_an_optional_column_given_unless_the_return_lacks_it() {
        assert_eq!(Need::of("Header.UASC"), Need::Column);
        assert_eq!(Need::of("la_code"), Need::Param);
        assert_eq!(Need::of(POSTCODES), Need::Reference);
        assert_eq!(Need::of(PREVIOUS), Need::Previous);
        let mut refs = References::default();
        assert!(refs.has("Header.UASC"));
        refs.absent_columns.push("Header.UASC".to_string());
        assert!(!refs.has("Header.UASC"));
        assert!(refs.has("Episodes.URN"));
        assert!(!References::none().has(POSTCODES));
    }
}
