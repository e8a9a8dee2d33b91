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

/// `sha256:<hex>` of bytes: how every digest in the evidence is written.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::with_capacity("sha256:".len() + 64);
    out.push_str("sha256:");
    push_hex(&mut out, &Sha256::digest(bytes));
    out
}

/// Appends `bytes` in lower-case hex. Written into the string as it grows: the gateway makes four of these
/// per message, where `hex::encode` collects a string of its own a character at a time.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_written_as_sha256_and_lower_case_hex() {
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(sha256(b"abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    proptest::proptest! {
        #[test]
        fn push_hex_writes_what_hex_encode_does(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let mut out = String::from("x");
            push_hex(&mut out, &bytes);
            proptest::prop_assert_eq!(out, format!("x{}", hex::encode(&bytes)));
        }
    }
}
