//! Scale out: real `caregate serve` processes on one PostgreSQL database. Two instances under load, one killed
//! with SIGKILL midway: every message that got a 202 is in its recipient's mailbox exactly once, read through
//! the survivor, and reaches its push recipient, which sees a message twice only under the same
//! Idempotency-Key. The database going away mid-load: intake answers 503 with Retry-After while it is away,
//! then carries on by itself, and nothing that got a 202 is lost. The same message sent to both instances at
//! once is one message. And `config check` names a database it cannot reach.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::postgres::TestDatabase;
use common::{serve, write_demo_config};
use serde_json::{json, Value};

const FULL: &str = include_str!("../../schemas/envelope/1.0/examples/valid/full.json");

/// An envelope from 201 to RJ1 (push, or mailbox when `push` is `None`) and POL01 (mailbox).
fn envelope() -> Value {
    let mut envelope: Value = serde_json::from_str(FULL).expect("parses");
    envelope["sender"]["organisation"] = "201".into();
    envelope["recipients"] =
        json!([{"organisation": "RJ1", "role": "health"}, {"organisation": "POL01", "role": "police"}]);
    envelope
}

/// A new message: a new `messageId`, which is also its idempotency key (as a supplier that retries sends it).
fn new_message(envelope: &mut Value) -> (String, String) {
    let key = uuid::Uuid::new_v4().to_string();
    envelope["messageId"] = key.clone().into();
    (key, envelope.to_string())
}

async fn post(client: &reqwest::Client, address: &str, key: &str, body: &str) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("http://{address}/v1/messages"))
        .bearer_auth("scale-201")
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_string())
        .send()
        .await
}

/// The demo configuration on `database`, RJ1 pushed to `push` when given; its path.
fn config(dir: &Path, database: &TestDatabase, push: Option<String>) -> std::path::PathBuf {
    write_demo_config(dir, "scale", |config| {
        config.store = database.store_config(dir);
        config.store.lease_ms = 3000;
        config.delivery.timeout_ms = 1000;
        config.delivery.base_delay_ms = 20;
        if let (Some(url), Some(org)) = (push, config.organisations.iter_mut().find(|o| o.code == "RJ1")) {
            (org.delivery, org.push_url) = ("push".into(), Some(url));
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_lose_nothing_when_one_is_killed() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let (received, url) = common::recording_inbox().await;
    let config_path = config(dir.path(), &database, Some(url));
    let (mut one, one_address) = serve(&config_path, &dir.path().join("one"));
    let (mut two, two_address) = serve(&config_path, &dir.path().join("two"));
    let client = reqwest::Client::new();
    // Each accepted message's gateway id, by its messageId.
    let accepted: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut senders = Vec::new();
    for sender in 0..8 {
        let (client, accepted) = (client.clone(), Arc::clone(&accepted));
        let addresses = [one_address.clone(), two_address.clone()];
        senders.push(tokio::spawn(async move {
            let mut envelope = envelope();
            for i in 0..250 {
                let (key, body) = new_message(&mut envelope);
                // Alternating between the instances; one that does not answer is skipped for the other, as a
                // load balancer would, with the same key.
                let first = (sender + i) % 2;
                for address in [&addresses[first], &addresses[1 - first]] {
                    let Ok(response) = post(&client, address, &key, &body).await else { continue };
                    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED, "{key}");
                    let answer: Value = response.json().await.expect("json");
                    let id = answer["id"].as_str().expect("an id").to_string();
                    accepted.lock().expect("lock").insert(key.clone(), id);
                    break;
                }
            }
        }));
    }
    // Kill the first midway.
    for _ in 0..3000 {
        if accepted.lock().expect("lock").len() >= 700 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_kill = accepted.lock().expect("lock").len();
    one.kill().expect("SIGKILL");
    one.wait().expect("reaped");
    assert!((700..2000).contains(&at_kill), "killed midway, not at {at_kill} accepted");
    for sender in senders {
        sender.await.expect("sender task");
    }
    let accepted = accepted.lock().expect("lock").clone();
    assert_eq!(accepted.len(), 2000, "every message got a 202 from one instance or the other");
    let ids: BTreeSet<&String> = accepted.values().collect();
    assert_eq!(ids.len(), 2000, "a message sent again after the kill is the message first stored");

    // In POL01's mailbox exactly once each, read through the survivor.
    assert_eq!(database.count("SELECT count(*) FROM messages"), 2000);
    assert_eq!(database.count("SELECT count(*) FROM copies WHERE recipient = 'POL01'"), 2000);
    let listed: Value = client
        .get(format!("http://{two_address}/v1/mailbox?limit=1000"))
        .bearer_auth("scale-POL01")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let listed: Vec<&str> =
        listed["messages"].as_array().expect("a list").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), 1000, "newest thousand, each once");
    for id in &ids {
        let copy = client
            .get(format!("http://{two_address}/v1/mailbox/{id}"))
            .bearer_auth("scale-POL01")
            .send()
            .await
            .expect("request");
        assert_eq!(copy.status(), reqwest::StatusCode::OK, "{id} is not in POL01's mailbox");
    }

    // Pushed to RJ1, each under its message id; the dead instance's copies taken up once its leases ran out.
    let mut delivered = BTreeMap::<String, usize>::new();
    for _ in 0..600 {
        delivered.clear();
        for key in received.lock().expect("lock").iter() {
            *delivered.entry(key.clone()).or_default() += 1;
        }
        if ids.iter().all(|id| delivered.contains_key(*id)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<&&String> = ids.iter().filter(|id| !delivered.contains_key(**id)).collect();
    assert!(missing.is_empty(), "{} accepted messages never reached RJ1", missing.len());
    // Twice only what the killed instance had sent without recording it: at most its pushes in flight.
    let twice = delivered.values().filter(|n| **n > 1).count();
    assert!(twice <= 32, "{twice} messages pushed twice");
    assert!(delivered.keys().all(|key| ids.contains(key)), "pushed only under message ids");

    // One audit chain for both instances.
    let verified = Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["audit", "verify", "--config"])
        .arg(&config_path)
        .output()
        .expect("runs");
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && said.starts_with("OK: ") && said.contains("chain intact"), "{said}");
    two.kill().expect("stops");
    two.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread")]
async fn intake_answers_503_while_the_database_is_away_then_carries_on() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = config(dir.path(), &database, None);
    let (mut gateway, address) = serve(&config_path, &dir.path().join("data"));
    let client = reqwest::Client::new();
    let accepted: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let unavailable: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (client, address, accepted, unavailable) =
            (client.clone(), address.clone(), Arc::clone(&accepted), Arc::clone(&unavailable));
        senders.push(tokio::spawn(async move {
            let mut envelope = envelope();
            for _ in 0..150 {
                let (key, body) = new_message(&mut envelope);
                // Until it is accepted, the same request again after Retry-After.
                for _ in 0..100 {
                    let response = post(&client, &address, &key, &body).await.expect("the gateway answers");
                    if response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                        let wait =
                            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
                        unavailable.lock().expect("lock").push(wait);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED, "{key}");
                    let answer: Value = response.json().await.expect("json");
                    accepted.lock().expect("lock").insert(key.clone(), answer["id"].as_str().unwrap_or("").into());
                    break;
                }
            }
        }));
    }
    for _ in 0..3000 {
        if accepted.lock().expect("lock").len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Away for two seconds: every connection to it ended, new ones refused.
    database.go_down();
    tokio::time::sleep(Duration::from_secs(2)).await;
    database.come_back();
    for sender in senders {
        sender.await.expect("sender task");
    }
    let unavailable = unavailable.lock().expect("lock").clone();
    assert!(!unavailable.is_empty(), "no 503 while the database was away");
    assert!(unavailable.iter().all(|wait| wait.as_deref() == Some("1")), "each 503 says Retry-After: {unavailable:?}");
    let accepted = accepted.lock().expect("lock").clone();
    assert_eq!(accepted.len(), 600, "every message accepted once the database was back");
    assert_eq!(accepted.values().collect::<BTreeSet<_>>().len(), 600);
    // Nothing half-written: each message with both copies and its audit entries, the chain intact.
    assert_eq!(database.count("SELECT count(*) FROM messages"), 600);
    assert_eq!(database.count("SELECT count(*) FROM copies"), 1200);
    assert_eq!(
        database.count("SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM audit a WHERE a.message = m.id AND a.event = 'accept')"),
        0
    );
    gateway.kill().expect("stops");
    gateway.wait().expect("reaped");
    // The chain, and an anchor of its head, on PostgreSQL: its last two entries deleted (and the head row set
    // back, as one who meant to hide them would), the chain is intact but short of the anchor.
    let audit = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_caregate"))
            .arg("audit")
            .args(args)
            .arg("--config")
            .arg(&config_path)
            .output()
            .expect("runs");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, said) = audit(&["verify"]);
    assert!(code == Some(0) && said.contains("chain intact"), "{said}");
    let anchor = dir.path().join("anchor.json");
    let (code, said) = audit(&["anchor", "-o", anchor.to_str().expect("a path")]);
    assert!(code == Some(0) && said.starts_with("anchored entry"), "{said}");
    let (code, said) = audit(&["verify", "--anchor", anchor.to_str().expect("a path")]);
    assert!(code == Some(0) && said.contains("holds the entry its anchor vouches for"), "{said}");
    database.in_database(
        "DELETE FROM audit WHERE seq > (SELECT max(seq) - 2 FROM audit); \
         UPDATE audit_head SET seq = a.seq, hash = a.hash FROM (SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1) a",
    );
    let (code, said) = audit(&["verify"]);
    assert!(code == Some(0), "without the anchor the shorter chain is intact: {said}");
    let (code, said) = audit(&["verify", "--anchor", anchor.to_str().expect("a path")]);
    assert!(code == Some(1) && said.contains("entries were deleted from its end"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_key_sent_to_both_instances_at_once_is_one_message() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = config(dir.path(), &database, None);
    let (mut one, one_address) = serve(&config_path, &dir.path().join("one"));
    let (mut two, two_address) = serve(&config_path, &dir.path().join("two"));
    let client = reqwest::Client::new();
    let mut envelope = envelope();
    for _ in 0..50 {
        let (key, body) = new_message(&mut envelope);
        let (a, b) = tokio::join!(post(&client, &one_address, &key, &body), post(&client, &two_address, &key, &body));
        let (a, b) = (a.expect("answers"), b.expect("answers"));
        assert_eq!((a.status(), b.status()), (reqwest::StatusCode::ACCEPTED, reqwest::StatusCode::ACCEPTED));
        let (a, b): (Value, Value) = (a.json().await.expect("json"), b.json().await.expect("json"));
        assert_eq!(a["id"], b["id"], "{key}: both answers name the one message");
    }
    assert_eq!(database.count("SELECT count(*) FROM messages"), 50);
    for gateway in [&mut one, &mut two] {
        gateway.kill().expect("stops");
        gateway.wait().expect("reaped");
    }
}

#[test]
fn config_check_names_a_database_it_cannot_reach_and_never_its_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("db-password");
    std::fs::write(&secret, "not-to-be-shown").expect("writes");
    let config_path = write_demo_config(dir.path(), "check", |config| {
        config.store.kind = "postgres".into();
        // Port 9 (discard) on this machine: nothing listens there.
        config.store.url = Some("postgres://gateway@127.0.0.1:9/exchange".into());
        config.store.password_file = Some(secret.clone());
        config.store.sslmode = "disable".into();
    });
    let checked = Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["config", "check"])
        .arg(&config_path)
        .output()
        .expect("runs");
    let said = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{said}");
    assert!(
        said.contains("127.0.0.1:9, database exchange as gateway") && said.contains("Connection refused"),
        "{said}"
    );
    assert!(!said.contains("not-to-be-shown"));
    // A password in the URL is refused: it would be kept in the configuration file.
    let config_path = write_demo_config(dir.path(), "check", |config| {
        config.store.kind = "postgres".into();
        config.store.url = Some("postgres://gateway:hunter2@127.0.0.1:9/exchange".into());
    });
    let checked = Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["config", "check"])
        .arg(&config_path)
        .output()
        .expect("runs");
    let said = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{said}");
    assert!(said.contains("store.url holds a password") && !said.contains("hunter2"), "{said}");
}
