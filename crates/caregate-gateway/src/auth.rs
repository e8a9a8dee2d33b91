//! Who is calling: a bearer token, hashed and compared in constant time with every configured hash, names an
//! organisation (or the administrator). Tokens are held only as hashes.
//!
//! Not for: what the caller may do with a message (that is `intake`'s authorisation, from the sender's
//! configuration).

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::Config;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A sender/recipient organisation, by code.
    Organisation(String),
    Admin,
}

impl Principal {
    /// How the caller appears in the audit log.
    pub fn actor(&self) -> &str {
        match self {
            Principal::Organisation(code) => code,
            Principal::Admin => "admin",
        }
    }
}

/// The configured token hashes.
pub struct Tokens {
    entries: Vec<([u8; 32], Principal)>,
}

impl Tokens {
    pub fn from_config(config: &Config) -> Tokens {
        let mut entries = Vec::new();
        for sender in &config.senders {
            if let Some(hash) = decode(&sender.token_hash) {
                entries.push((hash, Principal::Organisation(sender.organisation.clone())));
            }
        }
        if let Some(hash) = config.admin_token_hash.as_deref().and_then(decode) {
            entries.push((hash, Principal::Admin));
        }
        Tokens { entries }
    }

    /// The caller a request's `Authorization: Bearer` names, if any. Every hash is compared, found or not.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<Principal> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let mut found = None;
        for (hash, principal) in &self.entries {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some(principal.clone());
            }
        }
        found
    }
}

fn decode(hash: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(hash.strip_prefix("sha256:")?).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hash_token;
    use caregate_engine::standard::Catalog;

    #[test]
    fn tokens_name_their_organisation_and_nothing_else_does() {
        let catalog = Catalog::embedded().expect("packs load");
        let (config, tokens) = Config::demo(&catalog, None);
        let known = Tokens::from_config(&config);
        let bearer = |t: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, format!("Bearer {t}").parse().expect("header"));
            headers
        };
        assert_eq!(known.authenticate(&bearer(&tokens["RJ1"])), Some(Principal::Organisation("RJ1".into())));
        assert_eq!(known.authenticate(&bearer(&tokens["admin"])), Some(Principal::Admin));
        assert_eq!(known.authenticate(&bearer("guess")), None);
        assert_eq!(known.authenticate(&bearer(&hash_token(&tokens["RJ1"]))), None, "the hash is not the token");
        assert_eq!(known.authenticate(&HeaderMap::new()), None);
    }
}
