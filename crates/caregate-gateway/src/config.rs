//! The gateway's configuration: where it listens, its limits, its store, the organisations it serves (role,
//! delivery, preferred format), the senders (token hash, standards, recipients) and policy overrides. Read from
//! TOML, or the embedded demo of six organisations. [`Config::check`] explains everything wrong at once.
//!
//! Not for: enforcing anything (that is `auth`, `intake` and `policy`), or holding tokens in clear: only their
//! SHA-256 is configured.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rand::RngExt as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

use caregate_engine::document::Limits;
use caregate_engine::standard::Catalog;

/// The roles of the security policy's clearance table.
pub const ROLES: [&str; 7] = ["social-care", "health", "police", "education", "early-help", "housing", "other"];
/// The sensitivity classes of the security policy.
pub const CLASSES: [&str; 5] = ["identity", "contact", "health", "case", "sensitive-services"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: the configuration is not usable:\n{}", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, problems: Vec<String> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// SHA-256 of the admin token (`sha256:<hex>`); without it the admin routes answer 401.
    #[serde(default)]
    pub admin_token_hash: Option<String>,
    #[serde(default)]
    pub organisations: Vec<Organisation>,
    #[serde(default)]
    pub senders: Vec<Sender>,
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Routes out of the gateway to national collections (`[outbound.dfe-csc-api]`).
    #[serde(default, skip_serializing_if = "Outbound::is_empty")]
    pub outbound: Outbound,
}

/// Routes out of the gateway to national collections.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    /// DfE's CSC API: the council's daily children's social care data.
    #[serde(rename = "dfe-csc-api", default, skip_serializing_if = "Option::is_none")]
    pub dfe_csc_api: Option<DfeOutbound>,
}

impl Outbound {
    fn is_empty(&self) -> bool {
        self.dfe_csc_api.is_none()
    }
}

/// `[outbound.dfe-csc-api]`: where and as whom the council sends its children to DfE. Secrets are in files
/// named here, never in the configuration itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DfeOutbound {
    /// The council's three-digit DfE code (the `{la_code}` of the operation's path).
    pub la_code: u32,
    /// DfE's base URL; the operation's path (`/children_social_care_data/{la_code}/children`) is appended.
    pub endpoint: String,
    /// The OAuth2 token endpoint (client credentials grant).
    pub token_url: String,
    pub client_id: String,
    pub client_secret_file: PathBuf,
    pub supplier_key_file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The standard the children are validated against and sent as.
    #[serde(default = "default_dfe_standard")]
    pub standard: String,
    /// Children in one request (default and most: the standard's `maxItems`, 100 for DfE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Retries of one batch (429, 5xx, network errors, lost answers) before the run gives up.
    #[serde(default = "default_dfe_retries")]
    pub max_retries: u32,
    /// Time allowed for one request, answer included.
    #[serde(default = "default_dfe_timeout_ms")]
    pub timeout_ms: u64,
    /// The first retry's delay, doubled for each retry after, at most `max_delay_ms`, with jitter.
    #[serde(default = "default_dfe_base_delay_ms")]
    pub base_delay_ms: u64,
    #[serde(default = "default_dfe_max_delay_ms")]
    pub max_delay_ms: u64,
}

fn default_dfe_standard() -> String {
    "dfe-csc-api@1.0.1".into()
}
fn default_dfe_retries() -> u32 {
    10
}
fn default_dfe_timeout_ms() -> u64 {
    30_000
}
fn default_dfe_base_delay_ms() -> u64 {
    500
}
fn default_dfe_max_delay_ms() -> u64 {
    60_000
}

impl DfeOutbound {
    /// Everything wrong with the section, one sentence each.
    pub fn check(&self, catalog: &Catalog) -> Vec<String> {
        let mut problems = Vec::new();
        let at = "outbound.dfe-csc-api";
        match catalog.find(&self.standard) {
            None => problems.push(format!("{at}.standard `{}` is not a standard caregate holds", self.standard)),
            Some(pack) => match &pack.manifest.payload {
                None => problems.push(format!("{at}.standard `{}` is not a standard an API takes", self.standard)),
                Some(payload) => {
                    let bound = payload.parameter.iter().find(|p| p.name == "la_code");
                    let (lo, hi) = (bound.and_then(|p| p.minimum).unwrap_or(0), bound.and_then(|p| p.maximum));
                    let code = i64::from(self.la_code);
                    if code < lo || hi.is_some_and(|hi| code > hi) {
                        problems.push(format!(
                            "{at}.la_code {} is not a DfE local authority code (from {lo} to {})",
                            self.la_code,
                            hi.map_or("any".to_string(), |h| h.to_string())
                        ));
                    }
                    let most = payload.max_items.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
                    if let Some(size) = self.batch_size {
                        if size == 0 || size > most {
                            problems.push(format!("{at}.batch_size must be from 1 to {most}, not {size}"));
                        }
                    }
                }
            },
        }
        for (name, url) in [("endpoint", &self.endpoint), ("token_url", &self.token_url)] {
            let parsed = reqwest::Url::parse(url);
            if !parsed.as_ref().is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()) {
                problems.push(format!("{at}.{name} `{url}` is not an http or https URL"));
            }
        }
        if self.client_id.trim().is_empty() {
            problems.push(format!("{at}.client_id is empty"));
        }
        for (name, path) in
            [("client_secret_file", &self.client_secret_file), ("supplier_key_file", &self.supplier_key_file)]
        {
            if let Err(why) = read_secret(path) {
                problems.push(format!("{at}.{name}: {why}"));
            }
        }
        if self.timeout_ms == 0 {
            problems.push(format!("{at}.timeout_ms must be above 0"));
        }
        if self.base_delay_ms > self.max_delay_ms {
            problems.push(format!("{at}.base_delay_ms must not be above max_delay_ms"));
        }
        problems
    }
}

/// A secret kept in a file of its own: its text, without the line ending; the reason when it cannot be used.
pub fn read_secret(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let secret = text.trim_end_matches(['\n', '\r']).to_string();
    if secret.trim().is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(secret)
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite` (the embedded store in `data`, the default) or `postgres` (a database that several gateways
    /// share, at `url`).
    #[serde(default = "default_store_kind")]
    pub kind: String,
    /// The SQLite store's folder; with PostgreSQL, the folder of what stays local (the DfE route's outbox).
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Most accepts committed in one transaction (group commit).
    #[serde(default = "default_batch")]
    pub max_batch: usize,
    /// PostgreSQL: `postgres://user@host:port/database`, without a password (it would then be kept in the
    /// configuration file): the password comes from `password_file`, the variable `password_env` names, or
    /// `PGPASSWORD`, in that order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The name of an environment variable holding the password (PGPASSWORD when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// TLS to PostgreSQL: `disable`, `prefer` (TLS when the server offers it; the default) or `require`. When
    /// TLS is used the server's certificate is verified against the platform's roots and `ca_file`.
    #[serde(default = "default_sslmode")]
    pub sslmode: String,
    /// A PEM file of CA certificates trusted for the database's certificate, beside the platform's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PostgreSQL connections this gateway keeps open at most.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// How long an instance holds a push copy it took for delivery: another instance takes the copy up only
    /// after this, so it must be longer than `delivery.timeout_ms` (a dead instance's copies wait this long).
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
}

/// The TLS modes of `store.sslmode`.
pub const SSLMODES: [&str; 3] = ["disable", "prefer", "require"];

fn default_sslmode() -> String {
    "prefer".into()
}
fn default_pool_size() -> usize {
    16
}
fn default_lease_ms() -> u64 {
    60_000
}

fn default_store_kind() -> String {
    "sqlite".into()
}
fn default_data() -> PathBuf {
    PathBuf::from("./caregate-data")
}
fn default_batch() -> usize {
    512
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: default_store_kind(),
            data: default_data(),
            max_batch: default_batch(),
            url: None,
            password_file: None,
            password_env: None,
            sslmode: default_sslmode(),
            ca_file: None,
            pool_size: default_pool_size(),
            lease_ms: default_lease_ms(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body, in bytes (413 beyond it).
    pub max_bytes: usize,
    /// Deepest nesting of a document (at most `Limits::DEEPEST`, 256).
    pub max_depth: usize,
    /// Time allowed to receive a whole request body, slow uploads included (408 beyond it).
    pub body_timeout_ms: u64,
    /// Messages per second each sender may send, on average (at least one a day).
    pub rate_per_second: f64,
    /// Messages a sender may send at once before the rate applies.
    pub burst: f64,
}

/// The slowest rate a sender may be given: one message a day.
pub const MIN_RATE_PER_SECOND: f64 = 1.0 / 86_400.0;

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_bytes: 10 * 1024 * 1024,
            max_depth: 64,
            body_timeout_ms: 10_000,
            rate_per_second: 1000.0,
            burst: 2000.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts before a push delivery is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay; doubled each attempt, with jitter.
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Time allowed for one push request.
    pub timeout_ms: u64,
    /// Push requests in flight at once, over all recipients.
    pub concurrency: usize,
    /// A PEM file of CA certificates trusted for every https push, beside the platform's roots (for a region's
    /// shared internal CA). A recipient's own `push_ca_file` replaces both for that recipient.
    pub ca_file: Option<PathBuf>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 8,
            base_delay_ms: 500,
            max_delay_ms: 300_000,
            timeout_ms: 10_000,
            concurrency: 32,
            ca_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub code: String,
    pub name: String,
    /// One of [`ROLES`]; decides what the organisation is cleared to receive.
    pub role: String,
    /// `mailbox`, or `push` with `push_url`.
    #[serde(default = "default_delivery")]
    pub delivery: String,
    #[serde(default)]
    pub push_url: Option<String>,
    /// A PEM file of the CA certificates that sign this recipient's https push endpoint (a council's internal
    /// CA); when set, only these are trusted for it.
    #[serde(default)]
    pub push_ca_file: Option<PathBuf>,
    /// `json` or `xml`.
    #[serde(default = "default_format")]
    pub format: String,
}

fn default_delivery() -> String {
    "mailbox".into()
}
fn default_format() -> String {
    "json".into()
}

/// What a copy's push URL holds when it goes to DfE's CSC API by `[outbound.dfe-csc-api]` rather than by push.
pub const DFE_ROUTE: &str = "dfe-csc-api:";

impl Organisation {
    /// Where copies to the organisation are pushed: its `push_url`, or [`DFE_ROUTE`] for DfE.
    pub fn push_url(&self) -> Option<&str> {
        match self.delivery.as_str() {
            "push" => self.push_url.as_deref(),
            "dfe-csc-api" => Some(DFE_ROUTE),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    pub organisation: String,
    /// `sha256:<64 hex digits>` of the bearer token.
    pub token_hash: String,
    /// `id@version` of each standard it may send, or `*`.
    pub standards: Vec<String>,
    /// Organisation codes it may address, or `*`.
    pub recipients: Vec<String>,
}

impl Sender {
    pub fn may_send(&self, standard: &str) -> bool {
        self.standards.iter().any(|s| s == "*" || s == standard)
    }
    pub fn may_address(&self, organisation: &str) -> bool {
        self.recipients.iter().any(|r| r == "*" || r == organisation)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Replaces the default clearance of a role: the classes it may receive unconditionally.
    #[serde(default)]
    pub clearance: BTreeMap<String, Vec<String>>,
}

/// The CA certificates in a PEM file, each checked to be a usable trust anchor; the reason, in a sentence
/// fragment, when there are none or one is not.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not PEM ({e})"))?;
    if certificates.is_empty() {
        return Err("holds no PEM `CERTIFICATE`".into());
    }
    let mut roots = rustls::RootCertStore::empty();
    for (i, certificate) in certificates.iter().enumerate() {
        roots
            .add(certificate.clone())
            .map_err(|e| format!("certificate {} is not a usable CA certificate ({e})", i + 1))?;
    }
    Ok(certificates)
}

/// `sha256:<hex>` of a token.
pub fn hash_token(token: &str) -> String {
    caregate_engine::digest::sha256(token.as_bytes())
}

/// A fresh random bearer token (256 bits, hex).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

impl Config {
    /// Reads and checks a TOML configuration file.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let config: Config =
            toml::from_str(&text).map_err(|e| ConfigError::Syntax { path: path.into(), message: e.to_string() })?;
        let problems = config.check(catalog);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { path: path.into(), problems })
        }
    }

    /// What is wrong with `[store]`, reading no file and reaching no database (`caregate config check` tries
    /// the database itself).
    fn check_store(&self, problems: &mut Vec<String>) {
        let store = &self.store;
        match store.kind.as_str() {
            "sqlite" => {
                if store.url.is_some() {
                    problems.push("store.url is for kind = \"postgres\"; the SQLite store lives in store.data".into());
                }
            }
            "postgres" => {
                match &store.url {
                    None => problems
                        .push("store.kind = \"postgres\" needs store.url (postgres://user@host:port/database)".into()),
                    Some(url) => {
                        if let Err(why) = crate::store::postgres::check_url(url) {
                            problems.push(format!("store.url {why}"));
                        }
                    }
                }
                if !SSLMODES.contains(&store.sslmode.as_str()) {
                    problems.push(format!("store.sslmode `{}` is not one of {}", store.sslmode, SSLMODES.join(", ")));
                }
                if let Some(path) = &store.ca_file {
                    if let Err(why) = read_ca_file(path) {
                        problems.push(format!("store.ca_file `{}` {why}", path.display()));
                    }
                }
                if let Some(path) = &store.password_file {
                    if let Err(why) = read_secret(path) {
                        problems.push(format!("store.password_file: {why}"));
                    }
                }
                if store.pool_size == 0 {
                    problems.push("store.pool_size must be at least 1".into());
                }
                if store.lease_ms <= self.delivery.timeout_ms {
                    problems.push(format!(
                        "store.lease_ms ({}) must be longer than delivery.timeout_ms ({}): a push still in hand would be taken up by another instance",
                        store.lease_ms, self.delivery.timeout_ms
                    ));
                }
            }
            other => problems.push(format!("store.kind `{other}` is not supported (`sqlite` or `postgres`)")),
        }
    }

    pub fn organisation(&self, code: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.code == code)
    }

    /// Everything wrong with the configuration, one sentence each; empty when it is usable.
    pub fn check(&self, catalog: &Catalog) -> Vec<String> {
        let mut problems = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("listen `{}` is not an address and port such as 127.0.0.1:8080", self.listen));
        }
        self.check_store(&mut problems);
        if self.store.max_batch == 0 {
            problems.push("store.max_batch must be at least 1".into());
        }
        if self.limits.max_bytes == 0 {
            problems.push("limits.max_bytes must be above 0".into());
        }
        if let Some(why) = Limits::depth_problem(self.limits.max_depth) {
            problems.push(format!("limits.max_depth {why}"));
        }
        let rate = self.limits.rate_per_second;
        if !(rate.is_finite() && rate >= MIN_RATE_PER_SECOND) {
            problems.push(format!(
                "limits.rate_per_second must be a number of messages a second of at least 1/86400 (one a day), not {rate:?}"
            ));
        }
        let burst = self.limits.burst;
        if !(burst.is_finite() && burst >= 1.0) {
            problems.push(format!("limits.burst must be a number of messages of at least 1, not {burst:?}"));
        }
        if self.delivery.max_attempts == 0 || self.delivery.concurrency == 0 {
            problems.push("delivery.max_attempts and delivery.concurrency must be at least 1".into());
        }
        if let Some(path) = &self.delivery.ca_file {
            if let Err(why) = read_ca_file(path) {
                problems.push(format!("delivery.ca_file `{}` {why}", path.display()));
            }
        }
        if let Some(hash) = &self.admin_token_hash {
            if !is_token_hash(hash) {
                problems.push("admin_token_hash must be `sha256:` and 64 lower-case hex digits".into());
            }
        }
        // A configuration for `caregate send` alone (`[store]` and an outbound route) routes nothing inbound.
        if self.organisations.is_empty() && self.outbound.is_empty() {
            problems.push("no [[organisations]]: the gateway would have no one to route to".into());
        }
        let mut codes = BTreeSet::new();
        for org in &self.organisations {
            let at = format!("organisation `{}`", org.code);
            if !codes.insert(org.code.as_str()) {
                problems.push(format!("{at} is configured twice"));
            }
            if !is_organisation_code(&org.code) {
                problems.push(format!("{at}: the code must be three digits or 3–6 upper-case letters and digits"));
            }
            if !ROLES.contains(&org.role.as_str()) {
                problems.push(format!("{at}: role `{}` is not one of {}", org.role, ROLES.join(", ")));
            }
            match (org.delivery.as_str(), &org.push_url) {
                ("mailbox", None) => {}
                ("mailbox", Some(_)) => problems.push(format!("{at}: push_url is set but delivery is `mailbox`")),
                ("push", Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {}
                ("push", Some(url)) => {
                    problems.push(format!("{at}: push_url `{url}` must start with http:// or https://"))
                }
                ("push", None) => problems.push(format!("{at}: delivery is `push` but there is no push_url")),
                ("dfe-csc-api", None) if self.outbound.dfe_csc_api.is_some() => {}
                ("dfe-csc-api", None) => problems
                    .push(format!("{at}: delivery is `dfe-csc-api` but there is no [outbound.dfe-csc-api] section")),
                ("dfe-csc-api", Some(_)) => {
                    problems.push(format!("{at}: push_url is set but delivery is `dfe-csc-api`"))
                }
                (other, _) => {
                    problems.push(format!("{at}: delivery `{other}` must be `mailbox`, `push` or `dfe-csc-api`"))
                }
            }
            if let Some(path) = &org.push_ca_file {
                match org.push_url() {
                    Some(url) if url.starts_with("https://") => {}
                    _ => problems
                        .push(format!("{at}: push_ca_file is set but there is no https:// push_url to use it for")),
                }
                if let Err(why) = read_ca_file(path) {
                    problems.push(format!("{at}: push_ca_file `{}` {why}", path.display()));
                }
            }
            if org.format != "json" && org.format != "xml" {
                problems.push(format!("{at}: format `{}` must be `json` or `xml`", org.format));
            }
        }
        let mut hashes = BTreeSet::new();
        for (i, sender) in self.senders.iter().enumerate() {
            let at = format!("sender {} (`{}`)", i + 1, sender.organisation);
            if !codes.contains(sender.organisation.as_str()) {
                problems.push(format!("{at}: organisation `{}` is not among [[organisations]]", sender.organisation));
            }
            if !is_token_hash(&sender.token_hash) {
                problems.push(format!(
                    "{at}: token_hash must be `sha256:` and 64 lower-case hex digits (tokens are never configured in clear)"
                ));
            } else if !hashes.insert(sender.token_hash.as_str()) {
                problems.push(format!("{at}: the same token hash is given to two senders"));
            }
            for standard in &sender.standards {
                if standard != "*" && catalog.find(standard).is_none() {
                    let known: Vec<String> = catalog.packs().iter().map(|p| p.reference()).collect();
                    problems.push(format!("{at}: standard `{standard}` is not held; known: {}", known.join(", ")));
                }
            }
            for recipient in &sender.recipients {
                if recipient != "*" && !codes.contains(recipient.as_str()) {
                    problems.push(format!("{at}: recipient `{recipient}` is not among [[organisations]]"));
                }
            }
        }
        for (role, classes) in &self.policy.clearance {
            if !ROLES.contains(&role.as_str()) {
                problems.push(format!("policy.clearance: `{role}` is not a role ({})", ROLES.join(", ")));
            }
            for class in classes {
                if !CLASSES.contains(&class.as_str()) {
                    problems
                        .push(format!("policy.clearance.{role}: `{class}` is not a class ({})", CLASSES.join(", ")));
                }
            }
        }
        if let Some(dfe) = &self.outbound.dfe_csc_api {
            problems.extend(dfe.check(catalog));
        }
        problems
    }

    /// The demo: six organisations that may each send every standard held to every other, all by mailbox.
    /// Returns the configuration and the tokens in clear (`admin` included), to print and write once.
    pub fn demo(catalog: &Catalog, tokens: Option<BTreeMap<String, String>>) -> (Config, BTreeMap<String, String>) {
        let organisations = [
            ("201", "Demo Borough Council children's services", "social-care"),
            ("202", "Demo County Council children's services", "social-care"),
            ("RJ1", "Demo NHS Foundation Trust", "health"),
            ("POL01", "Demo Police", "police"),
            ("SCH001", "Demo Academy", "education"),
            ("EH201", "Demo Family Hub (early help)", "early-help"),
        ];
        let mut tokens = tokens.unwrap_or_default();
        for (code, _, _) in organisations {
            tokens.entry(code.to_string()).or_insert_with(new_token);
        }
        tokens.entry("admin".to_string()).or_insert_with(new_token);
        let standards: Vec<String> =
            catalog.packs().iter().filter(|p| p.id() != "envelope").map(|p| p.reference()).collect();
        let config = Config {
            listen: default_listen(),
            store: StoreConfig::default(),
            limits: LimitsConfig::default(),
            delivery: DeliveryConfig::default(),
            admin_token_hash: tokens.get("admin").map(|t| hash_token(t)),
            organisations: organisations
                .iter()
                .map(|(code, name, role)| Organisation {
                    code: code.to_string(),
                    name: name.to_string(),
                    role: role.to_string(),
                    delivery: default_delivery(),
                    push_url: None,
                    push_ca_file: None,
                    format: default_format(),
                })
                .collect(),
            senders: organisations
                .iter()
                .map(|(code, _, _)| Sender {
                    organisation: code.to_string(),
                    token_hash: hash_token(tokens.get(*code).map(String::as_str).unwrap_or_default()),
                    standards: standards.clone(),
                    recipients: organisations.iter().map(|(c, _, _)| c.to_string()).filter(|c| c != code).collect(),
                })
                .collect(),
            policy: PolicyConfig::default(),
            outbound: Outbound::default(),
        };
        (config, tokens)
    }
}

fn is_token_hash(hash: &str) -> bool {
    hash.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn is_organisation_code(code: &str) -> bool {
    (3..=6).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().expect("embedded packs load")
    }

    #[test]
    fn the_demo_is_a_valid_configuration() {
        let catalog = catalog();
        let (config, tokens) = Config::demo(&catalog, None);
        assert_eq!(config.check(&catalog), Vec::<String>::new());
        assert_eq!(tokens.len(), 7);
        assert!(config.senders.iter().all(|s| !s.may_address(&s.organisation)));
        assert!(config.senders.iter().all(|s| s.may_send("referral@1.0") && !s.may_send("envelope@1.0")));
    }

    #[test]
    fn a_bad_configuration_is_explained() {
        let text = r#"
            listen = "nowhere"
            [[organisations]]
            code = "201"
            name = "A"
            role = "wizard"
            delivery = "push"
            [[senders]]
            organisation = "999"
            token_hash = "letmein"
            standards = ["referral@9.9"]
            recipients = ["XYZ"]
        "#;
        let config: Config = toml::from_str(text).expect("parses");
        let problems = config.check(&catalog()).join("\n");
        for expected in [
            "listen `nowhere`",
            "role `wizard`",
            "no push_url",
            "`999` is not among",
            "never configured in clear",
            "`referral@9.9` is not held",
            "recipient `XYZ`",
        ] {
            assert!(problems.contains(expected), "missing {expected:?} in:\n{problems}");
        }
    }

    #[test]
    fn limits_that_could_crash_the_gateway_are_explained() {
        let catalog = catalog();
        let (config, _) = Config::demo(&catalog, None);
        let demo = toml::to_string(&config).expect("serialises");
        // The demo with `limits` (TOML, as a file would say them) in its [limits] section: what check says.
        let with_limits = |limits: &str| -> String {
            let mut table: toml::Table = toml::from_str(&demo).expect("parses");
            let changes: toml::Table = toml::from_str(limits).expect("parses");
            match table.get_mut("limits") {
                Some(toml::Value::Table(section)) => section.extend(changes),
                _ => panic!("the demo has a [limits] section"),
            }
            let config: Config = toml::from_str(&toml::to_string(&table).expect("serialises")).expect("parses");
            config.check(&catalog).join("\n")
        };
        assert_eq!(with_limits("max_depth = 256\nrate_per_second = 0.0000116\nburst = 1.0"), "");
        for (limits, expected) in [
            ("max_depth = 100000", "limits.max_depth must be from 1 to 256 levels, not 100000"),
            ("max_depth = 0", "limits.max_depth must be from 1 to 256 levels, not 0"),
            ("rate_per_second = 1e-300", "limits.rate_per_second must be a number of messages a second of at least 1/86400 (one a day), not 1e-300"),
            ("rate_per_second = nan", "not NaN"),
            ("rate_per_second = inf", "not inf"),
            ("rate_per_second = 0.0", "not 0.0"),
            ("burst = nan", "limits.burst must be a number of messages of at least 1, not NaN"),
            ("burst = inf", "limits.burst must be a number of messages of at least 1, not inf"),
            ("burst = 0.5", "limits.burst must be a number of messages of at least 1, not 0.5"),
        ] {
            let problems = with_limits(limits);
            assert!(problems.contains(expected), "{limits}: {problems}");
        }
    }

    #[test]
    fn ca_files_are_read_and_used_only_for_an_https_push() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, params.self_signed(&key).expect("signs").pem()).expect("writes");
        let not_pem = dir.path().join("notes.txt");
        std::fs::write(&not_pem, "the council's CA, to follow").expect("writes");
        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("writes");

        let catalog = catalog();
        let (mut config, _) = Config::demo(&catalog, None);
        config.delivery.ca_file = Some(ca.clone());
        let push = |org: &mut Organisation, url: &str, ca: &Path| {
            (org.delivery, org.push_url, org.push_ca_file) = ("push".into(), Some(url.into()), Some(ca.into()));
        };
        push(&mut config.organisations[0], "https://201.example/inbox", &ca);
        assert_eq!(config.check(&catalog), Vec::<String>::new());
        assert_eq!(read_ca_file(&ca).map(|c| c.len()), Ok(1));

        config.delivery.ca_file = Some(dir.path().join("missing.pem"));
        push(&mut config.organisations[0], "http://201.example/inbox", &ca);
        push(&mut config.organisations[1], "https://202.example/inbox", &not_pem);
        push(&mut config.organisations[2], "https://rj1.example/inbox", &broken);
        config.organisations[3].push_ca_file = Some(ca.clone());
        let problems = config.check(&catalog).join("\n");
        for expected in [
            "delivery.ca_file `",
            "missing.pem` cannot be read",
            "organisation `201`: push_ca_file is set but there is no https:// push_url",
            "organisation `202`: push_ca_file `",
            "notes.txt` holds no PEM `CERTIFICATE`",
            "broken.pem` certificate 1 is not a usable CA certificate",
            "organisation `POL01`: push_ca_file is set but there is no https:// push_url",
        ] {
            assert!(problems.contains(expected), "missing {expected:?} in:\n{problems}");
        }
        assert_eq!(problems.lines().count(), 5, "{problems}");
    }

    #[test]
    fn token_hashes_are_sha256_hex() {
        let hash = hash_token("abc");
        assert!(is_token_hash(&hash));
        assert_eq!(hash, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(new_token(), new_token());
    }
}
