//! A stand-in for DfE's CSC API, as faithful as its published document and its behaviour let it be: an OAuth2
//! token endpoint (client credentials), and `POST …/children_social_care_data/{la_code}/children`, which checks
//! the bearer token, the `SupplierKey` header, the batch size and every child against the published schema,
//! holds what it accepted (by `la_child_id`; a purge removes the child) and answers with a receipt (a UUID).
//!
//! It can be told to misbehave, request by request: a 429 with `Retry-After`, a 500, a 401 (the token it
//! issued revoked), or an answer lost after the batch was stored (a 200 whose receipt breaks off). What it holds
//! and what it saw are at `GET /_double/state`, so that a test can check that nothing was lost or sent twice.
//!
//! For: the tests of `caregate send dfe-csc-api`, the certification suite of a supplier's own sender, and the
//! benchmark (`caregate dfe-double`). Not for: anything in production.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};

/// What the stand-in does with one request to the children endpoint (after checking the token and the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers as DfE does.
    None,
    /// 429 Too Many Requests, with `Retry-After`.
    TooMany,
    /// 500, nothing stored.
    ServerError,
    /// The token used is revoked: 401, nothing stored.
    Unauthorised,
    /// The batch is stored, and the 200's receipt breaks off: the sender cannot know it was stored.
    Lost,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "ok" => Ok(Fault::None),
            "429" => Ok(Fault::TooMany),
            "500" => Ok(Fault::ServerError),
            "401" => Ok(Fault::Unauthorised),
            "lost" => Ok(Fault::Lost),
            other => Err(format!("`{other}` is not a fault (ok, 429, 500, 401 or lost)")),
        }
    }
}

/// How the stand-in is set up.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    pub client_id: String,
    pub client_secret: String,
    pub supplier_key: String,
    /// How long a token it issues is good for.
    pub token_ttl: Duration,
    /// The `Retry-After` of a 429, in seconds.
    pub retry_after: u64,
    /// The fault of each request to the children endpoint, in order; past the end, none (or again from the start
    /// with `cycle`).
    pub faults: Vec<Fault>,
    pub cycle: bool,
    /// Most children in one request, below the schema's `maxItems` (to make a sender split its batches).
    pub max_items: Option<usize>,
    /// Time taken before answering a request to the children endpoint: a network and a service far away.
    pub latency: Duration,
}

/// What the stand-in saw.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Seen {
    /// Requests to the children endpoint, by status answered.
    pub statuses: BTreeMap<u16, usize>,
    /// Batches stored (a lost answer's included), and the children in them.
    pub batches: usize,
    pub children: usize,
    /// The largest batch received.
    pub largest_batch: usize,
    /// Children stored again with the content they already had.
    pub repeated: usize,
    pub purged: usize,
    pub tokens_issued: usize,
}

struct Double {
    config: DoubleConfig,
    pack: Arc<StandardPack>,
    catalog: Arc<Catalog>,
    max_items: usize,
    tokens: Mutex<HashMap<String, Instant>>,
    /// What it holds: the digest of each child's content, by `la_child_id`, for each `la_code`.
    held: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    seen: Mutex<Seen>,
    requests: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A stand-in that is listening.
pub struct RunningDouble {
    pub address: SocketAddr,
    pub server: tokio::task::JoinHandle<()>,
}

/// Binds `listen` (port 0 picks one) and serves the stand-in for `pack` (a pack with `[payload]`).
pub async fn start(
    config: DoubleConfig,
    pack: Arc<StandardPack>,
    catalog: Arc<Catalog>,
    listen: &str,
) -> std::io::Result<RunningDouble> {
    let published = pack.manifest.payload.as_ref().and_then(|p| p.max_items).map_or(usize::MAX, |m| m as usize);
    let max_items = config.max_items.map_or(published, |m| m.min(published));
    let double = Arc::new(Double {
        config,
        pack,
        catalog,
        max_items,
        tokens: Mutex::new(HashMap::new()),
        held: Mutex::new(BTreeMap::new()),
        seen: Mutex::new(Seen::default()),
        requests: AtomicUsize::new(0),
    });
    let router = Router::new()
        .route("/oauth2/v2.0/token", post(token))
        .route("/_double/state", get(state))
        .fallback(post(children))
        .with_state(double);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the DfE stand-in stopped");
        }
    });
    Ok(RunningDouble { address, server })
}

async fn token(State(double): State<Arc<Double>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let given = |name: &str| form.get(name).map(String::as_str);
    if given("grant_type") != Some("client_credentials") {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "unsupported_grant_type"}))).into_response();
    }
    if given("client_id") != Some(double.config.client_id.as_str())
        || given("client_secret") != Some(double.config.client_secret.as_str())
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    lock(&double.tokens).insert(token.clone(), Instant::now() + double.config.token_ttl);
    lock(&double.seen).tokens_issued += 1;
    Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": double.config.token_ttl.as_secs(),
    }))
    .into_response()
}

async fn state(State(double): State<Arc<Double>>) -> Json<Value> {
    let seen = lock(&double.seen).clone();
    let held = lock(&double.held).clone();
    Json(json!({"seen": seen, "held": held}))
}

fn answer(double: &Double, status: StatusCode, body: Value) -> Response {
    *lock(&double.seen).statuses.entry(status.as_u16()).or_default() += 1;
    (status, Json(body)).into_response()
}

/// The `la_code` of `…/children_social_care_data/{la_code}/children`, whatever the endpoint's base path.
fn la_code(uri: &Uri) -> Option<&str> {
    let rest = uri.path().strip_suffix("/children")?;
    let (before, code) = rest.rsplit_once('/')?;
    before.ends_with("/children_social_care_data").then_some(code)
}

async fn children(State(double): State<Arc<Double>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    tokio::time::sleep(double.config.latency).await;
    let Some(code) = la_code(&uri) else {
        return answer(&double, StatusCode::NOT_FOUND, json!({"error": "no such operation"}));
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let live = bearer.as_ref().is_some_and(|t| lock(&double.tokens).get(t).is_some_and(|e| *e > Instant::now()));
    if !live {
        return answer(&double, StatusCode::UNAUTHORIZED, json!({"error": "no valid bearer token"}));
    }
    let key = headers.get("SupplierKey").and_then(|v| v.to_str().ok());
    if key != Some(double.config.supplier_key.as_str()) {
        return answer(&double, StatusCode::FORBIDDEN, json!({"error": "SupplierKey missing or not this supplier's"}));
    }
    match code.parse::<u16>() {
        Ok(n) if n <= 999 => {}
        _ => return answer(&double, StatusCode::BAD_REQUEST, json!({"error": "la_code is a number up to 999"})),
    }
    let n = double.requests.fetch_add(1, Ordering::SeqCst);
    let faults = &double.config.faults;
    let fault = match faults.len() {
        0 => Fault::None,
        len if double.config.cycle => faults[n % len],
        _ => faults.get(n).copied().unwrap_or(Fault::None),
    };
    match fault {
        Fault::TooMany => {
            *lock(&double.seen).statuses.entry(429).or_default() += 1;
            let retry = double.config.retry_after.to_string();
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", retry)], "slow down").into_response();
        }
        Fault::ServerError => return answer(&double, StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "injected"})),
        Fault::Unauthorised => {
            if let Some(token) = &bearer {
                lock(&double.tokens).remove(token);
            }
            return answer(&double, StatusCode::UNAUTHORIZED, json!({"error": "token revoked"}));
        }
        Fault::None | Fault::Lost => {}
    }
    let Ok(Value::Array(batch)) = serde_json::from_slice::<Value>(&body) else {
        return answer(&double, StatusCode::BAD_REQUEST, json!({"error": "the body is not a JSON array"}));
    };
    if batch.len() > double.max_items {
        return answer(
            &double,
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": format!("{} records; at most {}", batch.len(), double.max_items)}),
        );
    }
    // Every child against the published schema: one that does not conform refuses the batch, as DfE's does.
    let validator =
        Validator::new(&double.catalog, Options { standard: Some(Arc::clone(&double.pack)), ..Options::default() });
    let mut refused = Vec::new();
    for (index, child) in batch.iter().enumerate() {
        let bytes = serde_json::to_vec(child).unwrap_or_default();
        let checked = validator.check(&bytes);
        for finding in checked
            .findings
            .iter()
            .filter(|f| f.severity == caregate_engine::finding::Severity::Error && double.pack.rule(&f.rule).is_none())
        {
            let pointer = finding.location.as_ref().and_then(|l| l.pointer.clone()).unwrap_or_default();
            refused.push(json!({"index": index, "rule": finding.rule, "pointer": pointer, "message": finding.message}));
        }
    }
    if !refused.is_empty() {
        // Refused as a problem (RFC 9457), each finding naming its structural rule and the child's index.
        *lock(&double.seen).statuses.entry(400).or_default() += 1;
        let problem = json!({
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": format!("{} children do not conform to the published schema", refused.len()),
            "findings": refused,
        });
        return (StatusCode::BAD_REQUEST, [("content-type", "application/problem+json")], problem.to_string())
            .into_response();
    }
    {
        let mut held = lock(&double.held);
        let mut seen = lock(&double.seen);
        let held = held.entry(code.to_string()).or_default();
        seen.batches += 1;
        seen.children += batch.len();
        seen.largest_batch = seen.largest_batch.max(batch.len());
        for child in &batch {
            let Some(id) = child.get("la_child_id").and_then(Value::as_str) else { continue };
            if child.get("purge").and_then(Value::as_bool) == Some(true) {
                held.remove(id);
                seen.purged += 1;
                continue;
            }
            let digest = caregate_engine::digest::json(child);
            if held.get(id) == Some(&digest) {
                seen.repeated += 1;
            }
            held.insert(id.to_string(), digest);
        }
    }
    let receipt = Value::String(uuid::Uuid::new_v4().to_string()).to_string();
    if fault == Fault::Lost {
        *lock(&double.seen).statuses.entry(200).or_default() += 1;
        // Headers go out, then the body breaks off before the receipt: the connection is cut.
        let broken = body_that_breaks_off(receipt);
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(broken)
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    *lock(&double.seen).statuses.entry(200).or_default() += 1;
    (StatusCode::OK, [("content-type", "application/json")], receipt).into_response()
}

/// A body that gives the first byte of `receipt` and then fails, so that the connection is cut mid-answer.
fn body_that_breaks_off(receipt: String) -> Body {
    let first: Vec<u8> = receipt.into_bytes().into_iter().take(1).collect();
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(first)),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "answer lost (injected)")),
    ];
    Body::from_stream(futures_util::stream::iter(chunks))
}
