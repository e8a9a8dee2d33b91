//! caregate: a standards-conformance validator and message gateway for children's and adult social-care data.
//!
//! The data path is the module tree: bytes → [`document`] (parsed, with spans, hostile input refused) →
//! instance through the standard's binding ([`convert`], [`standard`]) → findings ([`validate`], using the
//! expression language of [`rules`]) → [`report`] (one renderer per format). [`cli`] is the only place that
//! knows about terminals and exit codes.
#![forbid(unsafe_code)]

pub mod finding;
pub mod document;
pub mod rules;
pub mod standard;
pub mod convert;
pub mod generate;
pub mod validate;
pub mod report;
pub mod gateway;
pub mod conformance;
pub mod cli;
