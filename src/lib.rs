//! caregate: a standards-conformance validator and message gateway for children's and adult social-care data.
//!
//! The data path is the module tree: bytes → [`document`] (parsed, with spans, hostile input refused) →
//! instance through the standard's binding ([`convert`], [`standard`]) → findings ([`validate`], using the
//! expression language of [`rules`]) → [`report`] (one renderer per format). [`cli`] is the only place that
//! knows about terminals and exit codes.
#![forbid(unsafe_code)]

pub mod cli;
pub mod conformance;
pub mod convert;
pub mod document;
pub mod finding;
pub mod gateway;
pub mod generate;
pub mod report;
pub mod rules;
pub mod standard;
pub mod validate;
