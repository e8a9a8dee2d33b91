//! The message gateway: `caregate serve`. Organisations send envelopes over HTTP; the gateway validates each
//! with the standards engine, applies the security policy (who may send what to whom; what each recipient may
//! see), stores the envelope and one copy per recipient durably (each copy as the list of what it loses), and
//! delivers each copy — to a mailbox the recipient reads, or by push with retries — recording every step in a
//! hash-chained audit log.
//!
//! The path of a message is the module list: [`routes`] → [`auth`] and [`limits`] → [`intake`] (the engine's
//! validation) → [`policy`] (redaction) → [`store`] → [`delivery`]; [`audit`] and [`metrics`] watch every
//! step. [`config`] says who is who.
//!
//! Not for: validating or converting documents (the engine does that; the gateway calls it), terminals and
//! exit codes (`cli`).

pub mod audit;
pub mod auth;
pub mod config;
pub mod delivery;
pub mod dfe;
pub mod intake;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod problem;
pub mod routes;
pub mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Notify;

use caregate_engine::document::Limits;
use caregate_engine::standard::{Catalog, StandardPack};
use config::Config;
use store::Store;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("the catalogue holds no envelope@1.0 standard")]
    NoEnvelope,
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Tokens { path: PathBuf, source: std::io::Error },
    #[error("the route to DfE: {0}")]
    Dfe(String),
    #[error("{0}")]
    Busy(String),
}

/// Everything a request needs, built once.
pub struct App {
    pub catalog: Arc<Catalog>,
    pub envelope: Arc<StandardPack>,
    pub config: Config,
    pub limits: Limits,
    pub tokens: auth::Tokens,
    pub clearance: policy::Clearance,
    pub store: Arc<dyn Store>,
    pub metrics: metrics::Metrics,
    pub rate: limits::RateLimiter,
    /// Woken when a message is accepted, so that push delivery starts at once.
    pub delivery_wake: Notify,
    /// The route to DfE's CSC API, when `[outbound.dfe-csc-api]` is configured.
    pub dfe: Option<dfe::route::DfeRoute>,
    /// The data folder, held by this gateway alone while it runs.
    _lock: store::lock::DataLock,
}

impl App {
    /// A stored copy in a format: the bytes and their content type.
    pub fn render(&self, content: &Value, format: &str) -> Result<(Vec<u8>, &'static str), String> {
        match format {
            "xml" => {
                let written = caregate_engine::instance::to_xml(content, &self.envelope, &self.catalog);
                if written.omissions.is_empty() {
                    Ok((written.xml.into_bytes(), "application/xml"))
                } else {
                    let what: Vec<String> =
                        written.omissions.iter().map(|o| format!("{}: {}", o.pointer, o.reason)).collect();
                    Err(format!("the copy has no XML form ({})", what.join("; ")))
                }
            }
            _ => serde_json::to_vec_pretty(content).map(|b| (b, "application/json")).map_err(|e| e.to_string()),
        }
    }
}

/// A gateway that is listening.
pub struct Running {
    pub address: SocketAddr,
    pub app: Arc<App>,
    pub server: tokio::task::JoinHandle<()>,
    pub delivery: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops serving and delivering (the store's writer finishes what it holds).
    pub fn stop(self) {
        self.server.abort();
        self.delivery.abort();
    }
}

/// Opens the store, binds `config.listen` (port 0 picks one) and starts serving and delivering.
pub async fn start(config: Config, catalog: Arc<Catalog>) -> Result<Running, GatewayError> {
    let problems = config.check(&catalog);
    if !problems.is_empty() {
        return Err(config::ConfigError::Invalid { path: "(configuration)".into(), problems }.into());
    }
    let envelope = catalog.find("envelope@1.0").ok_or(GatewayError::NoEnvelope)?;
    let lock = store::lock::DataLock::take(&config.store.data, "the gateway").map_err(GatewayError::Busy)?;
    let store: Arc<dyn Store> = match config.store.kind.as_str() {
        "postgres" => Arc::new(store::postgres::PostgresStore::open(&config.store).await?),
        _ => Arc::new(store::sqlite::SqliteStore::open(&config.store.data, config.store.max_batch)?),
    };
    let dfe = dfe::route::DfeRoute::new(&config, &catalog).map_err(GatewayError::Dfe)?;
    let app = Arc::new(App {
        _lock: lock,
        dfe,
        envelope,
        limits: Limits { max_bytes: config.limits.max_bytes, max_depth: config.limits.max_depth },
        tokens: auth::Tokens::from_config(&config),
        clearance: policy::Clearance::new(config.policy.clearance.clone()),
        store,
        metrics: metrics::Metrics::default(),
        rate: limits::RateLimiter::new(config.limits.rate_per_second, config.limits.burst),
        delivery_wake: Notify::new(),
        catalog,
        config,
    });
    let listener = tokio::net::TcpListener::bind(&app.config.listen)
        .await
        .map_err(|source| GatewayError::Listen { address: app.config.listen.clone(), source })?;
    let address =
        listener.local_addr().map_err(|source| GatewayError::Listen { address: app.config.listen.clone(), source })?;
    let router = routes::router(Arc::clone(&app));
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the server stopped");
        }
    });
    let delivery = tokio::spawn(delivery::run(Arc::clone(&app)));
    Ok(Running { address, app, server, delivery })
}

/// The demo configuration for a data folder: its tokens are kept in `DATA/demo-tokens.json`, made on the first
/// start and reused after, so that a restart keeps them.
pub fn demo(catalog: &Catalog, data: &Path) -> Result<(Config, BTreeMap<String, String>), GatewayError> {
    let path = data.join("demo-tokens.json");
    let earlier: Option<BTreeMap<String, String>> =
        std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let (mut config, tokens) = Config::demo(catalog, earlier);
    config.store.data = data.to_path_buf();
    std::fs::create_dir_all(data).map_err(|source| GatewayError::Tokens { path: data.into(), source })?;
    let text = serde_json::to_string_pretty(&tokens).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|source| GatewayError::Tokens { path: path.clone(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let owner_only = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&path, owner_only)
            .map_err(|source| GatewayError::Tokens { path: path.clone(), source })?;
    }
    Ok((config, tokens))
}
