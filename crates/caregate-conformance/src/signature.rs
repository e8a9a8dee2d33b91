//! Signed evidence. A report is signed with Ed25519 over its canonical form: the report's JSON with the
//! `signature` member removed, every object's members sorted by name (by UTF-16 code units, as JCS; for the
//! ASCII names of a report the same as bytes), no whitespace, strings and numbers as serde_json writes them.
//! Verification also requires `report.json` to be byte for byte as caregate writes it (pretty, in field
//! order, one final newline), so that any edit of the file — even one the canonical form would not see —
//! fails. Keys are PEM: PKCS#8 for the private key, SubjectPublicKeyInfo for the public one.
//!
//! Not for: what the report says (`evidence`).

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::Value;

use super::evidence::{Evidence, Signature};
use super::ConformanceError;
use caregate_engine::digest::sha256;

pub const ALGORITHM: &str = "ed25519";

/// Why a report does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the report is not JSON: {0}")]
    NotJson(String),
    #[error("the report is not byte for byte as caregate wrote it: it has been edited")]
    Edited,
    #[error("the report is not signed")]
    Unsigned,
    #[error("the report was signed with the key {signed} but the key given is {given}")]
    OtherKey { signed: String, given: String },
    #[error("the signature is not valid for this report: the report or its signature has been changed")]
    BadSignature,
}

/// The bytes that are signed.
pub fn canonical(report: &Value) -> String {
    let mut value = report.clone();
    if let Some(object) = value.as_object_mut() {
        object.remove("signature");
    }
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `sha256:` of the public key's bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    sha256(key.as_bytes())
}

/// The signature of `value`'s canonical form (its `signature` member left out).
fn signature_of(value: &Value, key: &SigningKey) -> Signature {
    let signature = key.sign(canonical(value).as_bytes());
    Signature {
        algorithm: ALGORITHM.into(),
        key_id: key_id(&key.verifying_key()),
        value: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
    }
}

/// Signs the evidence in place (replacing any earlier signature).
pub fn sign(evidence: &mut Evidence, key: &SigningKey) {
    evidence.signature = None;
    let value = serde_json::to_value(&*evidence).unwrap_or(Value::Null);
    evidence.signature = Some(signature_of(&value, key));
}

/// Signs any JSON object in place (a `signature` member over its canonical form, as [`sign`] signs a report),
/// so that [`verify`] checks it once written pretty-printed with a final newline.
pub fn sign_value(value: &mut Value, key: &SigningKey) {
    let signature = signature_of(value, key);
    if let (Some(object), Ok(signed)) = (value.as_object_mut(), serde_json::to_value(signature)) {
        object.insert("signature".into(), signed);
    }
}

/// Checks `report.json`'s bytes against a public key.
pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<(), VerifyError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| VerifyError::NotJson(e.to_string()))?;
    let mut rewritten = serde_json::to_string_pretty(&value).map_err(|e| VerifyError::NotJson(e.to_string()))?;
    rewritten.push('\n');
    if rewritten.as_bytes() != bytes {
        return Err(VerifyError::Edited);
    }
    let signature = value.get("signature").ok_or(VerifyError::Unsigned)?;
    let signed_key = signature.get("key_id").and_then(Value::as_str).unwrap_or_default();
    let given = key_id(key);
    if signed_key != given {
        return Err(VerifyError::OtherKey { signed: signed_key.to_string(), given });
    }
    if signature.get("algorithm").and_then(Value::as_str) != Some(ALGORITHM) {
        return Err(VerifyError::BadSignature);
    }
    let raw = signature
        .get("value")
        .and_then(Value::as_str)
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .ok_or(VerifyError::BadSignature)?;
    let raw: [u8; 64] = raw.try_into().map_err(|_| VerifyError::BadSignature)?;
    let signature = ed25519_dalek::Signature::from_bytes(&raw);
    key.verify(canonical(&value).as_bytes(), &signature).map_err(|_| VerifyError::BadSignature)
}

/// A new key pair.
pub fn generate() -> SigningKey {
    use rand::RngExt as _;
    let secret: [u8; 32] = rand::rng().random();
    SigningKey::from_bytes(&secret)
}

/// The private key as PKCS#8 PEM and the public key as SPKI PEM.
pub fn to_pem(key: &SigningKey) -> Result<(String, String), ConformanceError> {
    let private = key.to_pkcs8_pem(Default::default()).map_err(|e| ConformanceError::Key(e.to_string()))?;
    let public =
        key.verifying_key().to_public_key_pem(Default::default()).map_err(|e| ConformanceError::Key(e.to_string()))?;
    Ok((private.to_string(), public))
}

pub fn read_private(path: &Path) -> Result<SigningKey, ConformanceError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConformanceError::io(path, e))?;
    SigningKey::from_pkcs8_pem(&text)
        .map_err(|e| ConformanceError::file(path, format!("not an Ed25519 private key (PKCS#8 PEM): {e}")))
}

pub fn read_public(path: &Path) -> Result<VerifyingKey, ConformanceError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConformanceError::io(path, e))?;
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|e| ConformanceError::file(path, format!("not an Ed25519 public key (SPKI PEM): {e}")))
}

/// Writes a new key pair: `PREFIX.key` (private, readable by the owner only) and `PREFIX.pub`.
pub fn keygen(prefix: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf), ConformanceError> {
    let key = generate();
    let (private, public) = to_pem(&key)?;
    let private_path = prefix.with_extension("key");
    let public_path = prefix.with_extension("pub");
    if let Some(parent) = prefix.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ConformanceError::io(parent, e))?;
    }
    if private_path.exists() {
        return Err(ConformanceError::file(&private_path, "exists already; not overwritten"));
    }
    write_private(&private_path, &private)?;
    std::fs::write(&public_path, public).map_err(|e| ConformanceError::io(&public_path, e))?;
    Ok((private_path, public_path))
}

fn write_private(path: &Path, text: &str) -> Result<(), ConformanceError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| ConformanceError::io(path, e))?;
    file.write_all(text.as_bytes()).map_err(|e| ConformanceError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_members_and_drops_the_signature() {
        let value: Value =
            serde_json::from_str(r#"{"b": [1, {"z": 1, "a": "x"}], "signature": {"v": 1}, "a": null}"#).unwrap();
        assert_eq!(canonical(&value), r#"{"a":null,"b":[1,{"a":"x","z":1}]}"#);
    }

    #[test]
    fn pem_keys_round_trip() {
        let key = generate();
        let (private, public) = to_pem(&key).unwrap();
        assert_eq!(SigningKey::from_pkcs8_pem(&private).unwrap().to_bytes(), key.to_bytes());
        assert_eq!(VerifyingKey::from_public_key_pem(&public).unwrap(), key.verifying_key());
    }
}
