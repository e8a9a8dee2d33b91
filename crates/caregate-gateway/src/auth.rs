//! Who is calling: a bearer token, hashed and compared in constant time with every configured hash, names an
//! organisation (or the administrator). Tokens are held only as hashes. Handlers name their caller with an
//! extractor — [`Principal`], [`AsOrganisation`] or [`AsAdmin`] — whose refusal is the answer to send, so that
//! every route refuses alike and a refused token is always counted and audited.
//!
//! Not for: what the caller may do with a message (that is `intake`'s authorisation, from the sender's
//! configuration).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::audit::{Event, Record};
use super::config::Config;
use super::problem::Problem;
use super::App;

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

/// The caller of a request. Refused with `401` when the request names no known token: counted as `http-401` and
/// audited as a refusal by "anonymous", since the token named no one to blame.
impl FromRequestParts<Arc<App>> for Principal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Principal, Response> {
        if let Some(principal) = app.tokens.authenticate(&parts.headers) {
            return Ok(principal);
        }
        app.metrics.rejected("http-401");
        if let Err(error) = app.store.audit(vec![Record::new(Event::Reject, "anonymous").detail("401")]).await {
            tracing::error!(%error, "auditing a refusal failed");
        }
        Err(Problem::unauthorised().into_response())
    }
}

/// A caller that is an organisation, by code. The admin token is known, so it is refused `403`, not `401`: it
/// has its own routes and reads or acknowledges no organisation's messages.
pub struct AsOrganisation(pub String);

impl FromRequestParts<Arc<App>> for AsOrganisation {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<AsOrganisation, Response> {
        match Principal::from_request_parts(parts, app).await? {
            Principal::Organisation(code) => Ok(AsOrganisation(code)),
            Principal::Admin => {
                Err(Problem::forbidden("This route is for organisations; the admin token has its own routes.")
                    .into_response())
            }
        }
    }
}

/// A caller that is the administrator. An organisation's token is refused `403`. The admin's routes are the
/// dead-letter ones, so the refusal names them.
pub struct AsAdmin;

impl FromRequestParts<Arc<App>> for AsAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<AsAdmin, Response> {
        match Principal::from_request_parts(parts, app).await? {
            Principal::Admin => Ok(AsAdmin),
            Principal::Organisation(_) => {
                Err(Problem::forbidden("Only the admin token may manage dead letters.").into_response())
            }
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
