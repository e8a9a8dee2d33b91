//! Conformance: what a standards body runs to say whether a product meets a standard, and what caregate runs
//! on itself. A [`suite`] (`conformance-suite/<id>/<version>/suite.toml`) lists a standard's requirements and
//! the cases that test them; [`run`] checks the cases against caregate's own engine (self-conformance);
//! [`receiver`], [`producer`] and [`gateway`] certify a supplier's product; every run ends as one
//! [`evidence::Evidence`] — digests of everything it read, optionally signed ([`signature`]) — with
//! [`waiver`]s applied, drawn by [`render`] as HTML and JUnit, and compared across suppliers by [`matrix`].
//!
//! Not for: validating documents (that is `validate`; this module calls it), terminals and exit codes (`cli`).

pub mod carry;
pub mod evidence;
pub mod gateway;
pub mod matrix;
pub mod producer;
pub mod receiver;
pub mod render;
pub mod run;
pub mod signature;
pub mod suite;
pub mod waiver;

use std::path::PathBuf;

/// Why a conformance run could not be made (a failing case is not an error: it is in the evidence).
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error("{suite}: {message}")]
    Suite { suite: String, message: String },
    #[error("no conformance suite for `{0}`; known: {1}")]
    UnknownSuite(String, String),
    #[error("the standard `{0}` is not in the catalogue")]
    UnknownStandard(String),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("key: {0}")]
    Key(String),
    #[error("HTTP: {0}")]
    Http(String),
}

impl ConformanceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ConformanceError::Io { path: path.into(), source }
    }
    pub(crate) fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ConformanceError::File { path: path.into(), message: message.into() }
    }
}
