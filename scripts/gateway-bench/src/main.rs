//! A bare axum handler for `POST /v1/messages`: reads the body and answers 202 with a JSON body of the same
//! shape as the gateway's, doing nothing else. The ceiling the gateway is compared with.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18182".into());
    let router = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/v1/messages",
            post(|body: Bytes| async move {
                let answer = format!(
                    "{{\"id\":\"00000000-0000-4000-8000-000000000000\",\"status\":\"accepted\",\"receivedAt\":\"2026-01-01T00:00:00.000Z\",\"digest\":\"{}\"}}",
                    body.len()
                );
                (StatusCode::ACCEPTED, [("content-type", "application/json")], answer)
            }),
        );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await
}
