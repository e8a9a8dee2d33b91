//! The HTTP surface: the router assembled in one place, and the handlers of every route but intake's. Each
//! handler names its caller with an extractor of `auth` (which answers a refusal itself), checks what the caller
//! may see, calls the store, and answers.
//!
//! Extractors run in argument order, so each handler names its caller after its path and query: a malformed
//! request is refused as malformed (`400`) before its token is looked at, and only token refusals are audited.
//!
//! Not for: the policy itself (`policy`, `intake`) or storage (`store`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::audit::{Event, Record};
use super::auth::{AsAdmin, AsOrganisation, Principal};
use super::limits::{read_body, BodyError};
use super::problem::Problem;
use super::store::{CopyRecord, Transition};
use super::{intake, openapi, App};
use caregate_engine::convert::{self, ConvertError, Target};
use caregate_engine::validate::{Options, Validator};

type Shared = State<Arc<App>>;

/// The routes [`described`], `/openapi.json`, which serves the description and is not in it, and the pages
/// (not API operations, so not described): the validation site at `/` and the gateway console at `/console`.
pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/", get(|| async { page(caregate_console::site_file, "index.html") }))
        .route("/{file}", get(|Path(file): Path<String>| async move { page(caregate_console::site_file, &file) }))
        .route("/console", get(|| async { page(caregate_console::gateway_file, "index.html") }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>| async move { page(caregate_console::gateway_file, &file) }),
        );
    for route in described() {
        router = router.route(route.path, route.handler);
    }
    router.with_state(app)
}

/// A file of the browser pages, with headers that keep the page to its own origin: it may fetch, run and
/// frame nothing from elsewhere (a council's files are checked in the page and never sent).
fn page(find: fn(&str) -> Option<&'static [u8]>, file: &str) -> Response {
    let Some(bytes) = find(file) else {
        if file == caregate_console::WASM_NAME {
            return Problem::not_found(caregate_console::WASM_MISSING).into_response();
        }
        return Problem::not_found(format!("There is no page `{file}`.")).into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, caregate_console::content_type(file)),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; \
             img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, bytes).into_response()
}

/// A route: its method, its path (axum's `{name}` captures are OpenAPI's path templates too) and its handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<Arc<App>>,
}

fn route<H, T>(method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, Arc<App>>,
    T: 'static,
{
    // `described` names only methods axum routes by (GET, POST); the test in `openapi` builds that list, so a
    // method it could not route would fail there before it could fail a start.
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route by");
    Route { method, path, handler: on(filter, handler) }
}

/// The routes the OpenAPI document describes: the router is built from this list, and a test in `openapi` holds
/// it equal to the document's operations, so that neither can gain or lose a route alone.
pub fn described() -> Vec<Route> {
    vec![
        route(Method::GET, "/healthz", healthz),
        route(Method::GET, "/metrics", metrics),
        route(Method::POST, "/v1/messages", submit),
        route(Method::GET, "/v1/messages/{id}", message_status),
        route(Method::GET, "/v1/mailbox", mailbox),
        route(Method::GET, "/v1/mailbox/{id}", mailbox_copy),
        route(Method::POST, "/v1/mailbox/{id}/ack", acknowledge),
        route(Method::POST, "/v1/validate", validate),
        route(Method::POST, "/v1/convert", convert_route),
        route(Method::GET, "/v1/standards", standards),
        route(Method::GET, "/v1/standards/{id}/{version}", standard),
        route(Method::GET, "/v1/admin/dead-letters", dead_letters),
        route(Method::POST, "/v1/admin/dead-letters/{id}/replay", replay),
        route(Method::GET, "/v1/admin/audit", audit_status),
    ]
}

/// `T`, extracted before the request's body is read: its refusal also closes the connection (see [`closing`]).
/// For the routes that take a body.
struct BeforeBody<T>(T);

impl<S, T> FromRequestParts<S> for BeforeBody<T>
where
    S: Send + Sync,
    T: FromRequestParts<S>,
    T::Rejection: IntoResponse,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<BeforeBody<T>, Response> {
        T::from_request_parts(parts, state).await.map(BeforeBody).map_err(|refusal| closing(refusal.into_response()))
    }
}

/// A request body within the size and time limits (413, 408 otherwise).
async fn body(app: &App, headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Response> {
    let max = app.config.limits.max_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        app.metrics.rejected("http-413");
        return Err(too_large(max));
    }
    match read_body(body, max, Duration::from_millis(app.config.limits.body_timeout_ms)).await {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge(_)) => {
            app.metrics.rejected("http-413");
            Err(too_large(max))
        }
        Err(error @ BodyError::TooSlow(_)) => {
            app.metrics.rejected("http-408");
            Err(closing(
                Problem::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", error.to_string()).into_response(),
            ))
        }
        Err(error) => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-request", error.to_string()).into_response()),
    }
}

fn too_large(max: usize) -> Response {
    closing(
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("The request body is larger than the limit of {max} bytes; it was refused unread."),
        )
        .into_response(),
    )
}

/// A refusal sent before the request's body was read to its end: the rest of the body is still on the
/// connection, so it cannot carry another request. Saying so lets the client open a new one rather than find
/// out by a broken pipe on its next request.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(State(app): Shared) -> Response {
    let depth = app.store.queue_depth().await.unwrap_or(0);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render(depth)).into_response()
}

async fn submit(
    State(app): Shared,
    BeforeBody(principal): BeforeBody<Principal>,
    headers: HeaderMap,
    request: Body,
) -> Response {
    if let Err(wait) = app.rate.take(principal.actor()) {
        app.metrics.rejected("http-429");
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "This sender is over its rate limit; retry later.",
        );
        problem.retry_after = Some(wait.as_secs().max(1));
        return closing(problem.into_response());
    }
    let bytes = match body(&app, &headers, request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    intake::submit(app, principal, headers, bytes).await
}

async fn message_status(State(app): Shared, Path(id): Path<String>, AsOrganisation(code): AsOrganisation) -> Response {
    match app.store.message(&id).await {
        // Another organisation's message is as absent as one that never was.
        Ok(Some(message)) if message.sender == code => Json(json!({
            "id": message.id,
            "standard": message.standard,
            "receivedAt": message.received_at,
            "digest": message.digest,
            "recipients": message.copies.iter().map(|c| json!({
                "organisation": c.recipient,
                "role": c.role,
                "delivery": if c.push_url.is_some() { "push" } else { "mailbox" },
                "state": c.state,
                "attempts": c.attempts,
                "lastError": c.last_error,
                "updatedAt": c.updated_at,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(_) => Problem::not_found(format!("You sent no message `{id}`.")).into_response(),
        Err(error) => internal(error),
    }
}

fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "a request failed");
    Problem::internal().into_response()
}

fn summary(copy: &CopyRecord) -> Value {
    json!({"id": copy.message, "sender": copy.sender, "standard": copy.standard, "receivedAt": copy.received_at, "state": copy.state})
}

#[derive(Deserialize)]
struct MailboxQuery {
    limit: Option<usize>,
}

async fn mailbox(
    State(app): Shared,
    Query(query): Query<MailboxQuery>,
    AsOrganisation(code): AsOrganisation,
) -> Response {
    match app.store.mailbox(&code, query.limit.unwrap_or(100).clamp(1, 1000)).await {
        Ok(copies) => Json(json!({"organisation": code, "messages": copies.iter().map(summary).collect::<Vec<_>>()}))
            .into_response(),
        Err(error) => internal(error),
    }
}

/// `xml` or `json`: what `Accept` asks for, else the recipient's preference.
fn negotiate(headers: &HeaderMap, preferred: &str) -> String {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if accept.contains("application/xml") || accept.contains("text/xml") {
        "xml".into()
    } else if accept.contains("application/json") {
        "json".into()
    } else {
        preferred.into()
    }
}

async fn mailbox_copy(
    State(app): Shared,
    Path(id): Path<String>,
    AsOrganisation(code): AsOrganisation,
    headers: HeaderMap,
) -> Response {
    let copy = match app.store.copy(&id, &code).await {
        Ok(Some(copy)) => copy,
        Ok(None) => return Problem::not_found(format!("Your mailbox holds no message `{id}`.")).into_response(),
        Err(error) => return internal(error),
    };
    let format = negotiate(&headers, &copy.format);
    let (bytes, content_type) = match app.render(&copy.content, &format) {
        Ok(rendered) => rendered,
        Err(error) => return internal(error),
    };
    let record = Record::new(Event::Read, &code)
        .message(&id)
        .recipient(&code)
        .digest(caregate_engine::digest::sha256(&bytes))
        .detail(format.clone());
    if let Err(error) = app.store.transition(&id, &code, Transition::Read, record).await {
        return internal(error);
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], bytes).into_response()
}

async fn acknowledge(State(app): Shared, Path(id): Path<String>, AsOrganisation(code): AsOrganisation) -> Response {
    match app.store.copy(&id, &code).await {
        Ok(Some(_)) => {}
        Ok(None) => return Problem::not_found(format!("Your mailbox holds no message `{id}`.")).into_response(),
        Err(error) => return internal(error),
    }
    let record = Record::new(Event::Ack, &code).message(&id).recipient(&code);
    match app.store.transition(&id, &code, Transition::Ack, record).await {
        Ok(true) => Json(json!({"id": id, "state": "acknowledged"})).into_response(),
        Ok(false) => Problem::new(
            StatusCode::CONFLICT,
            "not-deliverable",
            "This copy was not delivered, so it cannot be acknowledged.",
        )
        .into_response(),
        Err(error) => internal(error),
    }
}

#[derive(Deserialize)]
struct StandardQuery {
    standard: Option<String>,
}

async fn validate(
    State(app): Shared,
    Query(query): Query<StandardQuery>,
    _caller: BeforeBody<Principal>,
    headers: HeaderMap,
    request: Body,
) -> Response {
    let bytes = match body(&app, &headers, request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let standard = match query.standard.as_deref().map(|s| app.catalog.find(s).ok_or(s)) {
        None => None,
        Some(Ok(pack)) => Some(pack),
        Some(Err(s)) => return Problem::not_found(format!("No standard `{s}` is held.")).into_response(),
    };
    let app2 = Arc::clone(&app);
    let result = tokio::task::spawn_blocking(move || {
        let options = Options { limits: app2.limits, now: chrono::Utc::now().fixed_offset(), standard };
        let mut validator = Validator::new(&app2.catalog, options);
        // The answer is the JSON report, which has no source lines.
        validator.excerpts = false;
        validator.validate("request", &bytes)
    })
    .await;
    match result {
        Ok(result) => Json(result).into_response(),
        Err(error) => internal(error),
    }
}

#[derive(Deserialize)]
struct ConvertQuery {
    to: Option<String>,
    standard: Option<String>,
}

async fn convert_route(
    State(app): Shared,
    Query(query): Query<ConvertQuery>,
    _caller: BeforeBody<Principal>,
    headers: HeaderMap,
    request: Body,
) -> Response {
    let target: Target = match query.to.as_deref().unwrap_or("").parse() {
        Ok(target) => target,
        Err(message) => {
            return Problem::new(StatusCode::BAD_REQUEST, "bad-target", format!("{message}; use ?to=json or ?to=xml"))
                .into_response()
        }
    };
    let bytes = match body(&app, &headers, request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let standard = query.standard.as_deref().and_then(|s| app.catalog.find(s));
    match convert::convert(&bytes, target, standard, &app.catalog, &app.limits) {
        Ok(conversion) => {
            let content_type = if target == Target::Xml { "application/xml" } else { "application/json" };
            let mut response = ([(header::CONTENT_TYPE, content_type)], conversion.output).into_response();
            response.headers_mut().insert(
                "x-caregate-round-trip",
                HeaderValue::from_static(if conversion.round_trip { "true" } else { "false" }),
            );
            response
        }
        Err(ConvertError::Unreadable(finding)) => Problem::invalid(vec![*finding]).into_response(),
        Err(error @ ConvertError::SameFormat(_)) => {
            Problem::new(StatusCode::BAD_REQUEST, "same-format", error.to_string()).into_response()
        }
    }
}

fn pack_summary(pack: &caregate_engine::standard::StandardPack) -> Value {
    let m = &pack.manifest;
    json!({
        "id": m.id, "version": m.version, "title": m.title, "publisher": m.publisher, "status": m.status,
        "effectiveFrom": m.effective_from, "effectiveTo": m.effective_to, "digest": pack.digest,
        "xml": {"root": m.xml.root, "namespace": m.xml.namespace}, "rules": pack.rule_infos().len(),
    })
}

async fn standards(State(app): Shared) -> Json<Value> {
    Json(json!({"standards": app.catalog.packs().iter().map(|p| pack_summary(p)).collect::<Vec<_>>()}))
}

async fn standard(State(app): Shared, Path((id, version)): Path<(String, String)>) -> Response {
    match app.catalog.find(&format!("{id}@{version}")) {
        Some(pack) => {
            let mut summary = pack_summary(&pack);
            summary["schema"] =
                serde_json::from_str(&caregate_engine::standard::export::json_schema(&pack)).unwrap_or(Value::Null);
            summary["ruleList"] = serde_json::to_value(pack.rule_infos()).unwrap_or(Value::Null);
            Json(summary).into_response()
        }
        None => Problem::not_found(format!("No standard `{id}@{version}` is held.")).into_response(),
    }
}

async fn dead_letters(State(app): Shared, _admin: AsAdmin) -> Response {
    match app.store.dead_letters().await {
        Ok(copies) => Json(json!({"deadLetters": copies.iter().map(|c| json!({
            "id": c.message, "sender": c.sender, "recipient": c.recipient, "standard": c.standard,
            "receivedAt": c.received_at, "attempts": c.attempts, "lastError": c.last_error, "updatedAt": c.updated_at,
        })).collect::<Vec<_>>()}))
        .into_response(),
        Err(error) => internal(error),
    }
}

/// The audit chain verified as `caregate audit verify` does, read from the store: how many entries, whether the
/// chain is intact (else the first entry that breaks it), and its head (for an anchor).
async fn audit_status(State(app): Shared, _admin: AsAdmin) -> Response {
    let checked = match app.store.audit_log().await {
        Ok(entries) => {
            tokio::task::spawn_blocking(move || {
                let head = super::audit::head(&entries);
                Ok::<_, super::store::StoreError>((super::audit::verify(entries), head))
            })
            .await
        }
        Err(error) => Ok(Err(error)),
    };
    match checked {
        Ok(Ok((super::audit::Verdict::Intact { entries }, head))) => {
            Json(json!({"entries": entries, "intact": true, "head": head})).into_response()
        }
        Ok(Ok((super::audit::Verdict::Broken { seq, position, reason }, _))) => Json(json!({
            "entries": position.saturating_sub(1), "intact": false,
            "broken": {"position": position, "seq": seq, "reason": reason},
        }))
        .into_response(),
        Ok(Err(error)) => internal(error),
        Err(error) => internal(error),
    }
}

async fn replay(State(app): Shared, Path(id): Path<String>, _admin: AsAdmin) -> Response {
    let message = match app.store.message(&id).await {
        Ok(Some(message)) => message,
        Ok(None) => return Problem::not_found(format!("There is no message `{id}`.")).into_response(),
        Err(error) => return internal(error),
    };
    let mut replayed = Vec::new();
    for copy in message.copies.iter().filter(|c| c.state == super::store::CopyState::Dead) {
        let record = Record::new(Event::Replay, "admin").message(&id).recipient(&copy.recipient);
        match app.store.transition(&id, &copy.recipient, Transition::Replay, record).await {
            Ok(true) => replayed.push(copy.recipient.clone()),
            Ok(false) => {}
            Err(error) => return internal(error),
        }
    }
    if replayed.is_empty() {
        return Problem::not_found(format!("Message `{id}` has no dead letter.")).into_response();
    }
    app.delivery_wake.notify_one();
    (StatusCode::ACCEPTED, Json(json!({"id": id, "replayed": replayed}))).into_response()
}
