//! caregate's standards engine: bytes in, findings and instances out, with no server, database or network
//! crate beneath it (so it builds for wasm32 too).
//!
//! The data path is the module list: bytes → [`document`] (parsed, with spans, hostile input refused) →
//! [`standard`] (the pack: binding, rules, code lists) → instance through the binding ([`convert`]) →
//! findings ([`validate`], using the rule language of [`expr`]) → [`report`] (one writer per format); [`run`]
//! puts a run's inputs through that path into one report, the same for files on disk and bytes in memory.
//! [`finding`] and [`model`] are the vocabulary every stage shares; [`digest`] the hashing every layer uses;
//! [`names`] how the enums users type and read are named and refused; [`reference`] the reference data a run is
//! given beside its documents (the postcode directory, Ofsted's provider lists), which rules read through
//! functions of [`expr`]. Threads and scratch files are the target's: on wasm32 the work runs in turn and
//! scratch text stays in memory.
#![forbid(unsafe_code)]

pub mod convert;
pub mod digest;
pub mod document;
pub mod expr;
pub mod finding;
pub mod instance;
pub mod model;
pub mod names;
pub mod reference;
pub mod report;
pub mod run;
mod scratch;
pub mod standard;
pub mod validate;
mod workers;
