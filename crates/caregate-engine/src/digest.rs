//! SHA-256 digests, written the ways caregate's files and logs carry them: `sha256:` and lower-case hex for
//! whatever a report or an answer names (a body, an evidence item, a standard pack, a suite), bare hex inside
//! the stores (an audit link, what DfE acknowledged of a child).
//!
//! Every layer hashes with these: the engine names a pack by [`files`], the gateway a message by [`sha256`],
//! conformance evidence by both.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<hex>` over a set of files in path order, each as `path NUL bytes NUL`: how a standard pack and a
/// conformance suite are named.
pub fn files(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    for (path, bytes) in files {
        hasher.update(path.as_bytes());
        hasher.update([0u8]);
        hasher.update(bytes);
        hasher.update([0u8]);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Lower-case hex SHA-256 of a JSON value written canonically: members in name order, no white space. Two
/// values that differ only in member order or layout have the same digest (what an API receiving a record
/// holds of it does not depend on how the record was laid out).
pub fn json(value: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    canonical(value, &mut hasher);
    hex::encode(hasher.finalize())
}

/// Writes into the hash what is written to it (JSON text, without an intermediate string).
struct HashWriter<'h>(&'h mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn canonical(value: &serde_json::Value, hasher: &mut Sha256) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut names: Vec<&String> = map.keys().collect();
            names.sort();
            hasher.update(b"{");
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                // Writing JSON into a hash cannot fail.
                let _ = serde_json::to_writer(HashWriter(hasher), name);
                hasher.update(b":");
                if let Some(member) = map.get(name) {
                    canonical(member, hasher);
                }
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                canonical(item, hasher);
            }
            hasher.update(b"]");
        }
        scalar => {
            let _ = serde_json::to_writer(HashWriter(hasher), scalar);
        }
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

    #[test]
    fn a_json_digest_does_not_depend_on_member_order_or_layout() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": [1, {"y": 2, "x": "t"}], "a": null}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":null,"b":[1,{"x":"t","y":2}]}"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"a":null,"b":[{"x":"t","y":2},1]}"#).unwrap();
        assert_eq!(json(&a), json(&b));
        assert_ne!(json(&a), json(&c));
    }

    #[test]
    fn a_set_of_files_is_hashed_with_its_paths() {
        let one = BTreeMap::from([("a".to_string(), b"x".to_vec())]);
        let renamed = BTreeMap::from([("b".to_string(), b"x".to_vec())]);
        assert_eq!(files(&one).len(), 71);
        assert!(files(&one).starts_with("sha256:"));
        assert_ne!(files(&one), files(&renamed));
    }
}
