//! Crash: the real `caregate serve` is killed with SIGKILL while messages stream in, then restarted on the same
//! store. Every message that was answered 202 must be there after the restart and reach its push recipient;
//! a push recipient may see a message twice only under the same idempotency key (its message id). And a
//! SIGTERM, as a service manager sends, stops it cleanly.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{serve, write_demo_config};
use serde_json::{json, Value};

const FULL: &str = include_str!("../../schemas/envelope/1.0/examples/valid/full.json");

/// A JSON envelope posted to `/v1/messages` with a bearer token and, when given, an idempotency key.
fn post(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    key: Option<&str>,
    body: String,
) -> reqwest::RequestBuilder {
    let request = client
        .post(format!("http://{address}/v1/messages"))
        .bearer_auth(token)
        .header("content-type", "application/json");
    match key {
        Some(key) => request.header("idempotency-key", key),
        None => request,
    }
    .body(body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_gateway_loses_no_accepted_message_and_delivers_each_after_restart() {
    // The push recipient: records every idempotency key it is sent.
    let (received, inbox) = common::recording_inbox().await;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut concurrency = 0;
    let config_path = write_demo_config(dir.path(), "crash", |config| {
        config.delivery.base_delay_ms = 20;
        if let Some(org) = config.organisations.iter_mut().find(|o| o.code == "RJ1") {
            (org.delivery, org.push_url) = ("push".into(), Some(inbox));
        }
        concurrency = config.delivery.concurrency;
    });
    let data = dir.path().join("data");

    let (mut gateway, address) = serve(&config_path, &data);
    let mut envelope: Value = serde_json::from_str(FULL).expect("parses");
    envelope["sender"]["organisation"] = "201".into();
    envelope["recipients"] =
        json!([{"organisation": "RJ1", "role": "health"}, {"organisation": "POL01", "role": "police"}]);
    let client = reqwest::Client::new();
    // Each accepted message's id, to the body that was sent.
    let accepted: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (client, mut envelope, accepted, address) =
            (client.clone(), envelope.clone(), Arc::clone(&accepted), address.clone());
        senders.push(tokio::spawn(async move {
            for _ in 0..2000 {
                // Each a new message: a messageId is the sender's once.
                envelope["messageId"] = uuid::Uuid::new_v4().to_string().into();
                let body = envelope.to_string();
                // With its messageId as its idempotency key, as a supplier that retries safely would send it.
                let key = envelope["messageId"].as_str().unwrap_or_default().to_string();
                let response = post(&client, &address, "crash-201", Some(&key), body.clone()).send().await;
                let Ok(response) = response else { break };
                if response.status() != reqwest::StatusCode::ACCEPTED {
                    break;
                }
                let Ok(answer) = response.json::<Value>().await else { break };
                accepted.lock().expect("lock").insert(answer["id"].as_str().unwrap_or("").to_string(), body);
            }
        }));
    }
    // Kill it mid-stream, once a few hundred are in.
    for _ in 0..400 {
        if accepted.lock().expect("lock").len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.kill().expect("SIGKILL");
    gateway.wait().expect("reaped");
    for sender in senders {
        sender.await.expect("sender task");
    }
    let bodies: BTreeMap<String, String> = accepted.lock().expect("lock").clone();
    let accepted: BTreeSet<String> = bodies.keys().cloned().collect();
    assert!(accepted.len() >= 300, "only {} accepted before the kill", accepted.len());

    let (mut gateway, address) = serve(&config_path, &data);
    // Each idempotency key and messageId is still known (the store's indexes of them, partly kept in memory, are
    // made again from the messages): the same request again, or the same envelope without its key, is answered as
    // the first; another envelope under its messageId is refused.
    for (id, body) in &bodies {
        let mut other: Value = serde_json::from_str(body).expect("parses");
        let key = other["messageId"].as_str().unwrap_or_default().to_string();
        for key in [Some(key.as_str()), None] {
            let again = post(&client, &address, "crash-201", key, body.clone()).send().await.expect("request");
            assert_eq!(again.status(), reqwest::StatusCode::ACCEPTED);
            let answer: Value = again.json().await.expect("json");
            assert_eq!(answer["id"].as_str(), Some(id.as_str()), "{id} sent again became another message");
        }
        other["body"]["child"]["name"]["family"] = "Otherchild".into();
        let conflict = post(&client, &address, "crash-201", None, other.to_string()).send().await.expect("request");
        assert_eq!(conflict.status(), reqwest::StatusCode::CONFLICT, "another envelope under {id}'s messageId");
    }
    // Every 202'd message is in the store after the restart, for both recipients.
    for id in &accepted {
        let status: Value = client
            .get(format!("http://{address}/v1/messages/{id}"))
            .bearer_auth("crash-201")
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert_eq!(status["recipients"].as_array().map(Vec::len), Some(2), "{id} lost: {status}");
    }
    // And every one reaches the push recipient.
    let mut delivered = BTreeSet::new();
    for _ in 0..600 {
        delivered = received.lock().expect("lock").iter().cloned().collect();
        if accepted.is_subset(&delivered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<&String> = accepted.difference(&delivered).collect();
    assert!(missing.is_empty(), "{} accepted messages never delivered, e.g. {:?}", missing.len(), missing.first());
    // Anything delivered is a stored message (a 202 may have been lost in the kill, never a message).
    for key in delivered.difference(&accepted) {
        let response = client
            .get(format!("http://{address}/v1/messages/{key}"))
            .bearer_auth("crash-201")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "delivered {key}, which the store does not hold");
    }
    let total = received.lock().expect("lock").len();
    // Repeats are only the pushes in flight when the gateway was killed (at most the delivery concurrency).
    assert!(total - delivered.len() <= concurrency, "{} repeated pushes", total - delivered.len());
    eprintln!(
        "accepted {} before the kill; delivered {} distinct, {} pushes in all",
        accepted.len(),
        delivered.len(),
        total
    );
    gateway.kill().expect("stops");
    gateway.wait().expect("reaped");
    let verify = Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

/// A service manager stops the gateway with SIGTERM: it exits at once and cleanly (status 0), having committed,
/// checkpointed and closed its store, whose log is then gone; started again, it has the message.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_gateway_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = write_demo_config(dir.path(), "term", |_| {});
    let data = dir.path().join("data");
    let (mut gateway, address) = serve(&config_path, &data);
    let mut envelope: Value = serde_json::from_str(FULL).expect("parses");
    envelope["sender"]["organisation"] = "201".into();
    envelope["recipients"] = json!([{"organisation": "POL01", "role": "police"}]);
    let client = reqwest::Client::new();
    const KEY: &str = "b1946ac9-2f0c-4b3a-9f1e-5d6c7b8a9e0f";
    let sent = post(&client, &address, "term-201", Some(KEY), envelope.to_string()).send().await.expect("request");
    assert_eq!(sent.status(), reqwest::StatusCode::ACCEPTED);
    let id = sent.json::<Value>().await.expect("json")["id"].as_str().unwrap_or_default().to_string();
    let term = Command::new("kill").args(["-TERM", &gateway.id().to_string()]).status().expect("kill runs");
    assert!(term.success());
    let mut status = None;
    for _ in 0..100 {
        status = gateway.try_wait().expect("waits");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.unwrap_or_else(|| {
        drop(gateway.kill());
        panic!("the gateway did not stop within 5 s of SIGTERM")
    });
    assert!(status.success(), "{status}");
    assert!(!data.join("caregate.db-wal").exists(), "the store was checkpointed and closed");
    let (mut gateway, address) = serve(&config_path, &data);
    let again = post(&client, &address, "term-201", Some(KEY), envelope.to_string()).send().await.expect("request");
    assert_eq!(again.json::<Value>().await.expect("json")["id"].as_str(), Some(id.as_str()));
    gateway.kill().expect("stops");
    gateway.wait().expect("reaped");
}
