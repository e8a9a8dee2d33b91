//! SHA-256 digests, written the ways caregate's files and logs carry them: `sha256:` and lower-case hex for
//! a body or evidence item, bare hex for a standard pack or an audit link.
//!
//! Every layer hashes with these: the engine names a pack by [`files`], the gateway a message by [`sha256`],
//! conformance evidence by both.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Lower-case hex SHA-256 over a set of files in path order, each as `path NUL bytes NUL`: how a standard pack
/// and a conformance suite are named.
pub fn files(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    for (path, bytes) in files {
        hasher.update(path.as_bytes());
        hasher.update([0u8]);
        hasher.update(bytes);
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
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
    fn a_set_of_files_is_hashed_with_its_paths() {
        let one = BTreeMap::from([("a".to_string(), b"x".to_vec())]);
        let renamed = BTreeMap::from([("b".to_string(), b"x".to_vec())]);
        assert_eq!(files(&one).len(), 64);
        assert_ne!(files(&one), files(&renamed));
    }
}
