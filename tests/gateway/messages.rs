//! End to end: the real gateway on a random port, spoken to over HTTP. Each test starts its own gateway with
//! its own store, from the demo configuration with known tokens (and whatever the test changes in it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caregate_engine::standard::Catalog;
use caregate_gateway::{self as gateway, config::Config};
use reqwest::StatusCode;
use serde_json::{json, Value};

const FULL: &str = include_str!("../../schemas/envelope/1.0/examples/valid/full.json");

struct TestApp {
    base: String,
    client: reqwest::Client,
    tokens: BTreeMap<String, String>,
    data: tempfile::TempDir,
    running: Option<gateway::Running>,
}

fn demo_tokens() -> BTreeMap<String, String> {
    ["201", "202", "RJ1", "POL01", "SCH001", "EH201", "admin"]
        .iter()
        .map(|c| (c.to_string(), format!("token-of-{c}")))
        .collect()
}

async fn spawn_app(change: impl FnOnce(&mut Config)) -> TestApp {
    let catalog = Arc::new(Catalog::embedded().expect("packs load"));
    let data = tempfile::tempdir().expect("temp dir");
    let (mut config, tokens) = Config::demo(&catalog, Some(demo_tokens()));
    config.listen = "127.0.0.1:0".into();
    config.store.data = data.path().to_path_buf();
    change(&mut config);
    let running = gateway::start(config, catalog).await.expect("gateway starts");
    TestApp {
        base: format!("http://{}", running.address),
        client: reqwest::Client::new(),
        tokens,
        data,
        running: Some(running),
    }
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn token(&self, who: &str) -> &str {
        &self.tokens[who]
    }
    async fn send_as(&self, who: &str, envelope: &Value, key: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/v1/messages"))
            .bearer_auth(self.token(who))
            .header("content-type", "application/json")
            .body(envelope.to_string());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("request")
    }
    async fn send(&self, who: &str, envelope: &Value) -> Value {
        let response = self.send_as(who, envelope, None).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::ACCEPTED, "{body:#}");
        body
    }
    async fn get(&self, who: &str, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(self.token(who)).send().await.expect("request")
    }
    async fn read_copy(&self, who: &str, id: &str) -> Value {
        let response = self.get(who, &format!("/v1/mailbox/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    }
    async fn status(&self, id: &str, sender: &str) -> Value {
        let response = self.get(sender, &format!("/v1/messages/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    }
}

/// The shipped full referral, from `sender` to `recipients` (organisation, role), under a new messageId.
fn referral(sender: &str, recipients: &[(&str, &str)]) -> Value {
    let mut envelope: Value = serde_json::from_str(FULL).expect("example parses");
    envelope["messageId"] = uuid::Uuid::new_v4().to_string().into();
    envelope["sender"]["organisation"] = sender.into();
    envelope["recipients"] = recipients.iter().map(|(o, r)| json!({"organisation": o, "role": r})).collect();
    envelope
}

fn redacted(copy: &Value) -> Vec<(String, String)> {
    copy["redactions"]
        .as_array()
        .expect("redactions listed")
        .iter()
        .map(|r| (r["reason"].as_str().unwrap_or("").to_string(), r["path"].as_str().unwrap_or("").to_string()))
        .collect()
}

fn need_to_know(paths: &[&str]) -> Vec<(String, String)> {
    paths.iter().map(|p| ("need-to-know".to_string(), p.to_string())).collect()
}

const EVERYONE: [(&str, &str); 5] =
    [("201", "social-care"), ("RJ1", "health"), ("POL01", "police"), ("SCH001", "education"), ("EH201", "early-help")];

#[tokio::test(flavor = "multi_thread")]
async fn each_recipient_reads_only_its_own_copy_redacted_for_its_role() {
    let app = spawn_app(|_| {}).await;
    // From the other council, so that every role is a recipient. Consent not sought, CA2004-S11: social care
    // may see sensitive services, health (no consent) may not.
    let accepted = app.send("202", &referral("202", &EVERYONE)).await;
    let id = accepted["id"].as_str().expect("id");
    assert_eq!(accepted["status"], "accepted");
    assert!(accepted["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")));
    assert!(accepted["receivedAt"].as_str().is_some());

    let expected: [(&str, Vec<(String, String)>); 5] = [
        ("201", vec![]),
        ("RJ1", need_to_know(&["/body/sensitiveServices"])),
        ("POL01", need_to_know(&["/body/child/disabilities", "/body/sensitiveServices"])),
        (
            "SCH001",
            need_to_know(&[
                "/body/child/disabilities",
                "/body/concern",
                "/body/sensitiveServices",
                "/body/previousInvolvement",
            ]),
        ),
        ("EH201", need_to_know(&["/body/sensitiveServices"])),
    ];
    for (who, removed) in expected {
        let copy = app.read_copy(who, id).await;
        assert_eq!(redacted(&copy), removed, "{who}");
        for (_, path) in &removed {
            assert!(copy.pointer(path).is_none(), "{who} still has {path}");
        }
        assert_eq!(copy["body"]["child"]["name"]["family"], "Samplechild", "{who} keeps identity");
    }
    // Not a recipient: nothing to read, not even that it exists.
    assert_eq!(app.get("202", &format!("/v1/mailbox/{id}")).await.status(), StatusCode::NOT_FOUND);
    let mailbox: Value = app.get("202", "/v1/mailbox").await.json().await.expect("json");
    assert_eq!(mailbox["messages"], json!([]));
    let mailbox: Value = app.get("POL01", "/v1/mailbox").await.json().await.expect("json");
    assert_eq!(mailbox["messages"][0]["id"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn police_see_health_only_when_urgency_is_immediate_and_consent_opens_sensitive_services_to_health() {
    let app = spawn_app(|_| {}).await;
    let mut envelope = referral("202", &[("201", "social-care"), ("POL01", "police"), ("RJ1", "health")]);
    envelope["urgency"] = "immediate".into();
    envelope["legalBasis"] = json!({"consent": "given", "statute": ["CA1989-S17"]});
    let id = app.send("202", &envelope).await["id"].as_str().expect("id").to_string();
    assert_eq!(redacted(&app.read_copy("POL01", &id).await), need_to_know(&["/body/sensitiveServices"]));
    assert_eq!(redacted(&app.read_copy("RJ1", &id).await), vec![]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shielded_childs_whereabouts_reach_social_care_only() {
    let app = spawn_app(|_| {}).await;
    let mut envelope = referral("RJ1", &[("201", "social-care"), ("SCH001", "education"), ("EH201", "early-help")]);
    envelope["body"]["child"]["shielded"] = true.into();
    let id = app.send("RJ1", &envelope).await["id"].as_str().expect("id").to_string();
    assert_eq!(redacted(&app.read_copy("201", &id).await), vec![]);
    let shielded: Vec<(String, String)> =
        ["/body/child/address", "/body/child/school", "/body/child/gpPractice", "/body/household/1/address"]
            .iter()
            .map(|p| ("shielded".to_string(), p.to_string()))
            .collect();
    let early_help = app.read_copy("EH201", &id).await;
    let mut expected = shielded.clone();
    expected.extend(need_to_know(&["/body/sensitiveServices"]));
    assert_eq!(redacted(&early_help), expected);
    assert!(early_help.pointer("/body/household/1/name").is_some());
    let school = app.read_copy("SCH001", &id).await;
    assert_eq!(&redacted(&school)[..4], &shielded[..]);
    assert!(school.pointer("/body/child/address").is_none() && school.pointer("/body/child/school").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn xml_in_and_out_by_preference_or_accept() {
    let app = spawn_app(|config| {
        if let Some(org) = config.organisations.iter_mut().find(|o| o.code == "POL01") {
            org.format = "xml".into();
        }
    })
    .await;
    let xml = include_str!("../../schemas/envelope/1.0/examples/valid/full.xml")
        .replace(
            "<Organisation>318</Organisation>\n      <Role>early-help</Role>",
            "<Organisation>EH201</Organisation>\n      <Role>early-help</Role>",
        )
        .replace("<Organisation>318</Organisation>", "<Organisation>201</Organisation>");
    let response = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(app.token("RJ1"))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::ACCEPTED, "{body:#}");
    let id = body["id"].as_str().expect("id");
    let response = app.get("POL01", &format!("/v1/mailbox/{id}")).await;
    assert_eq!(response.headers()["content-type"], "application/xml");
    let text = response.text().await.expect("text");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "Envelope");
    let paths: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("Path")).filter_map(|n| n.text()).collect();
    assert_eq!(paths, ["/body/child/disabilities", "/body/sensitiveServices"]);
    assert!(!doc.descendants().any(|n| n.has_tag_name("SensitiveServices")));
    let json_copy: Value = app
        .client
        .get(app.url(&format!("/v1/mailbox/{id}")))
        .bearer_auth(app.token("POL01"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(redacted(&json_copy).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_carry_their_status_and_a_problem() {
    let app = spawn_app(|config| {
        config.limits.max_bytes = 64 * 1024;
        if let Some(sender) = config.senders.iter_mut().find(|s| s.organisation == "SCH001") {
            sender.standards = vec!["escr-document@1.0".into()];
            sender.recipients = vec!["201".into()];
        }
    })
    .await;
    let ok = referral("RJ1", &[("201", "social-care")]);
    let problem = |response: reqwest::Response| async move {
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let status = response.status();
        (status, response.json::<Value>().await.expect("problem json"))
    };

    // 401: no token, a wrong token.
    let response = app
        .client
        .post(app.url("/v1/messages"))
        .header("content-type", "application/json")
        .body(ok.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(problem(response).await.0, StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth("nope")
        .header("content-type", "application/json")
        .body(ok.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(problem(response).await.0, StatusCode::UNAUTHORIZED);

    // 403: as another organisation; a standard or a recipient not configured.
    let (status, body) = problem(app.send_as("POL01", &ok, None).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("only as itself")), "{body}");
    let (status, _) = problem(app.send_as("SCH001", &referral("SCH001", &[("201", "social-care")]), None).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut escr: Value =
        serde_json::from_str(include_str!("../../schemas/envelope/1.0/examples/valid/escr-document.json"))
            .expect("parses");
    escr["sender"]["organisation"] = "SCH001".into();
    escr["recipients"] = json!([{"organisation": "RJ1", "role": "health"}]);
    assert_eq!(problem(app.send_as("SCH001", &escr, None).await).await.0, StatusCode::FORBIDDEN);
    escr["recipients"] = json!([{"organisation": "201", "role": "social-care"}]);
    assert_eq!(app.send_as("SCH001", &escr, None).await.status(), StatusCode::ACCEPTED);

    // 413: over the limit, refused unread.
    let big = vec![b' '; 70 * 1024];
    let response = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(app.token("RJ1"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("request");
    assert_eq!(problem(response).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    // 415: not XML or JSON; or not what it says.
    let response = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(app.token("RJ1"))
        .header("content-type", "text/plain")
        .body(ok.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(problem(response).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(app.token("RJ1"))
        .header("content-type", "application/xml")
        .body(ok.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(problem(response).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // 422: the legal basis rules, with findings in the JSON report's shape.
    let mut no_basis = ok.clone();
    no_basis["legalBasis"] = json!({"consent": "refused"});
    let (status, body) = problem(app.send_as("RJ1", &no_basis, None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let rules: Vec<&str> =
        body["findings"].as_array().expect("findings").iter().filter_map(|f| f["rule"].as_str()).collect();
    assert!(rules.contains(&"ENV-001") && rules.contains(&"ENV-002"), "{rules:?}");
    let finding = body["findings"].as_array().and_then(|f| f.iter().find(|f| f["rule"] == "ENV-001")).expect("ENV-001");
    assert_eq!(finding["severity"], "error");
    assert!(finding["message"].as_str().is_some() && finding["location"]["line"].as_u64().is_some_and(|l| l > 0));
    // ENV-004: sensitive services must travel OFFICIAL-SENSITIVE.
    let mut marking = ok.clone();
    marking["protectiveMarking"] = "OFFICIAL".into();
    let (_, body) = problem(app.send_as("RJ1", &marking, None).await).await;
    assert!(body["findings"].as_array().is_some_and(|f| f.iter().any(|f| f["rule"] == "ENV-004")), "{body}");
    // A sender may not send redactions.
    let mut forged = ok.clone();
    forged["redactions"] = json!([{"path": "/body/concern", "reason": "need-to-know"}]);
    let (status, body) = problem(app.send_as("RJ1", &forged, None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["findings"][0]["rule"], "redactions-from-sender");
    // A recipient addressed in a role it does not hold (a school as social care would see everything).
    let (status, body) =
        problem(app.send_as("RJ1", &referral("RJ1", &[("SCH001", "social-care"), ("201", "social-care")]), None).await)
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["findings"][0]["rule"], "recipient-role");
    // Hostile input is refused before anything else.
    let doctype = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Envelope xmlns=\"urn:caregate:envelope:1\">&e;</Envelope>";
    let response = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(app.token("RJ1"))
        .header("content-type", "application/xml")
        .body(doctype)
        .send()
        .await
        .expect("request");
    assert_eq!(problem(response).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // A bare referral is not an envelope.
    let (status, body) = problem(app.send_as("RJ1", &ok["body"], None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Nothing of the above reached a mailbox.
    let mailbox: Value = app.get("201", "/v1/mailbox").await.json().await.expect("json");
    assert_eq!(mailbox["messages"].as_array().map(Vec::len), Some(1), "only the escr document");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_over_its_rate_gets_429_with_retry_after() {
    let app = spawn_app(|config| {
        config.limits.rate_per_second = 0.5;
        config.limits.burst = 2.0;
    })
    .await;
    let envelope = referral("RJ1", &[("201", "social-care")]);
    assert_eq!(app.send_as("RJ1", &envelope, None).await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.send_as("RJ1", &envelope, None).await.status(), StatusCode::ACCEPTED);
    let response = app.send_as("RJ1", &envelope, None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    assert_eq!(
        app.send_as("201", &referral("201", &[("RJ1", "health")]), None).await.status(),
        StatusCode::ACCEPTED,
        "other senders are not held up"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_upload_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(|config| config.limits.body_timeout_ms = 300).await;
    let address = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connects");
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"messageId\"",
        app.token("RJ1")
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered in time")
        .expect("reads");
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_idempotency_key_returns_the_first_answer_and_another_body_conflicts() {
    let app = spawn_app(|_| {}).await;
    let envelope = referral("RJ1", &[("201", "social-care")]);
    let first = app.send_as("RJ1", &envelope, Some("key-1")).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.expect("json");
    let again = app.send_as("RJ1", &envelope, Some("key-1")).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.json::<Value>().await.expect("json"), first);
    let mut other = referral("RJ1", &[("201", "social-care")]);
    other["urgency"] = "routine".into();
    assert_eq!(app.send_as("RJ1", &other, Some("key-1")).await.status(), StatusCode::CONFLICT);
    // A body that would be refused is a conflict too under a used key (422 under a new one, 403 for another
    // sender's envelope), and stores nothing.
    let mut invalid = envelope.clone();
    invalid.as_object_mut().expect("object").remove("body");
    assert_eq!(app.send_as("RJ1", &invalid, Some("key-1")).await.status(), StatusCode::CONFLICT);
    assert_eq!(app.send_as("RJ1", &invalid, Some("key-3")).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let not_theirs = referral("201", &[("RJ1", "health")]);
    assert_eq!(app.send_as("RJ1", &not_theirs, Some("key-1")).await.status(), StatusCode::CONFLICT);
    assert_eq!(app.send_as("RJ1", &not_theirs, Some("key-4")).await.status(), StatusCode::FORBIDDEN);
    // Keys are per sender.
    assert_eq!(
        app.send_as("201", &referral("201", &[("RJ1", "health")]), Some("key-1")).await.status(),
        StatusCode::ACCEPTED
    );
    // Concurrent repeats of one key store one message.
    let repeats = (0..8).map(|_| {
        let request = app
            .client
            .post(app.url("/v1/messages"))
            .bearer_auth(app.token("RJ1"))
            .header("content-type", "application/json")
            .header("idempotency-key", "key-2")
            .body(other.to_string());
        async move { request.send().await.expect("request") }
    });
    let mut ids = std::collections::BTreeSet::new();
    for response in futures_all(repeats).await {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        ids.insert(response.json::<Value>().await.expect("json")["id"].clone().to_string());
    }
    assert_eq!(ids.len(), 1);
    let mailbox: Value = app.get("201", "/v1/mailbox").await.json().await.expect("json");
    assert_eq!(mailbox["messages"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_messageid_sent_again_is_the_same_message_or_a_conflict() {
    let app = spawn_app(|_| {}).await;
    let envelope = referral("RJ1", &[("201", "social-care")]);
    let first = app.send("RJ1", &envelope).await;
    // The same envelope again, without a key, as the same bytes or laid out anew: the first answer.
    assert_eq!(app.send("RJ1", &envelope).await, first);
    let pretty = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(app.token("RJ1"))
        .header("content-type", "application/json")
        .body(serde_json::to_string_pretty(&envelope).expect("serialises"))
        .send()
        .await
        .expect("request");
    assert_eq!(pretty.status(), StatusCode::ACCEPTED);
    assert_eq!(pretty.json::<Value>().await.expect("json"), first);
    // With its members in another order, and as XML: still that message.
    let reordered = match &envelope {
        Value::Object(members) => Value::Object(members.iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect()),
        other => other.clone(),
    };
    assert_ne!(reordered.to_string(), envelope.to_string());
    assert_eq!(app.send("RJ1", &reordered).await, first);
    let xml = app
        .client
        .post(app.url("/v1/convert?to=xml"))
        .bearer_auth(app.token("RJ1"))
        .body(envelope.to_string())
        .send()
        .await
        .expect("request");
    let xml = xml.text().await.expect("text");
    let as_xml = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(app.token("RJ1"))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .expect("request");
    assert_eq!(as_xml.status(), StatusCode::ACCEPTED);
    assert_eq!(as_xml.json::<Value>().await.expect("json"), first);
    // Under a new Idempotency-Key it is still that message, and the key names it from now on.
    assert_eq!(app.send_as("RJ1", &envelope, Some("late-key")).await.json::<Value>().await.expect("json"), first);
    assert_eq!(app.send_as("RJ1", &envelope, Some("late-key")).await.json::<Value>().await.expect("json"), first);
    // The same messageId with anything changed is another message under a used id: 409, nothing stored.
    let mut changed = envelope.clone();
    changed["urgency"] = "routine".into();
    let conflict = app.send_as("RJ1", &changed, None).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert_eq!(
        conflict.json::<Value>().await.expect("problem")["type"].as_str().map(|t| t.ends_with("message-id-reused")),
        Some(true)
    );
    // A messageId is unique per sender: another sender may use the same one.
    let mut from_201 = referral("201", &[("RJ1", "health")]);
    from_201["messageId"] = envelope["messageId"].clone();
    assert_ne!(app.send("201", &from_201).await["id"], first["id"]);
    let mailbox: Value = app.get("201", "/v1/mailbox").await.json().await.expect("json");
    assert_eq!(mailbox["messages"].as_array().map(Vec::len), Some(1), "one message, however often it was sent");
    // Each repeat and the conflict are audited like any request; the accepted message once.
    let running = app.running.as_ref().expect("running");
    assert_eq!(running.app.metrics.accepted.load(Ordering::Relaxed), 2);
}

async fn futures_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sender_follows_each_copy_from_pending_to_acknowledged() {
    let app = spawn_app(|_| {}).await;
    let id = app.send("RJ1", &referral("RJ1", &[("201", "social-care"), ("POL01", "police")])).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let states = |status: &Value| -> Vec<(String, String)> {
        status["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .map(|r| (r["organisation"].as_str().unwrap_or("").into(), r["state"].as_str().unwrap_or("").into()))
            .collect()
    };
    let pending = vec![("201".to_string(), "pending".to_string()), ("POL01".to_string(), "pending".to_string())];
    assert_eq!(states(&app.status(&id, "RJ1").await), pending);
    app.read_copy("201", &id).await;
    let response = app
        .client
        .post(app.url(&format!("/v1/mailbox/{id}/ack")))
        .bearer_auth(app.token("POL01"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let status = app.status(&id, "RJ1").await;
    assert_eq!(
        states(&status),
        [("201".to_string(), "delivered".to_string()), ("POL01".to_string(), "acknowledged".to_string())]
    );
    assert_eq!(status["recipients"][0]["attempts"], 0);
    // Only the sender may ask; a recipient may not ack what it was not sent.
    assert_eq!(app.get("201", &format!("/v1/messages/{id}")).await.status(), StatusCode::NOT_FOUND);
    let response = app
        .client
        .post(app.url(&format!("/v1/mailbox/{id}/ack")))
        .bearer_auth(app.token("SCH001"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.client.get(app.url(&format!("/v1/messages/{id}"))).send().await.expect("request").status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A push recipient for tests: fails the first `failures` requests (all when `None`), records every
/// idempotency key it is sent.
#[derive(Clone, Default)]
struct Receiver {
    failures: Arc<Mutex<Option<usize>>>,
    calls: Arc<AtomicUsize>,
    delivered: Arc<Mutex<Vec<String>>>,
    fixed: Arc<AtomicBool>,
}

async fn spawn_receiver(failures: Option<usize>) -> (String, Receiver) {
    use axum::http::HeaderMap;
    let receiver = Receiver { failures: Arc::new(Mutex::new(failures)), ..Receiver::default() };
    let state = receiver.clone();
    let router = axum::Router::new().route(
        "/inbox",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let call = state.calls.fetch_add(1, Ordering::SeqCst);
                let failing = match *state.failures.lock().expect("lock") {
                    Some(n) => call < n,
                    None => !state.fixed.load(Ordering::SeqCst),
                };
                if failing {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                assert!(body.contains("\"redactions\""));
                state.delivered.lock().expect("lock").push(key);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/inbox"), receiver)
}

/// How many 25 ms waits a test gives the delivery worker: 30 s, for a machine busy with other builds (a wait
/// ends as soon as its condition holds).
const WAITS: usize = 1200;

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..WAITS {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn push_recipients_get_retries_then_dead_letters_and_replay() {
    let (flaky_url, flaky) = spawn_receiver(Some(2)).await;
    let (down_url, down) = spawn_receiver(None).await;
    let app = spawn_app(|config| {
        config.delivery.base_delay_ms = 20;
        config.delivery.max_attempts = 3;
        for org in &mut config.organisations {
            match org.code.as_str() {
                "RJ1" => (org.delivery, org.push_url) = ("push".into(), Some(flaky_url.clone())),
                "POL01" => (org.delivery, org.push_url) = ("push".into(), Some(down_url.clone())),
                _ => {}
            }
        }
    })
    .await;
    let id = app
        .send("201", &referral("201", &[("RJ1", "health"), ("POL01", "police"), ("EH201", "early-help")]))
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    wait_for("the flaky recipient to succeed", || flaky.delivered.lock().expect("lock").len() == 1).await;
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3, "two failures, then success");
    assert_eq!(
        *flaky.delivered.lock().expect("lock"),
        std::slice::from_ref(&id),
        "the message id is the idempotency key"
    );
    let mut status = Value::Null;
    for _ in 0..WAITS {
        status = app.status(&id, "201").await;
        if status["recipients"][1]["state"] == "dead" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status["recipients"][0]["state"], "delivered");
    assert_eq!(status["recipients"][0]["attempts"], 3);
    assert_eq!(status["recipients"][1]["state"], "dead", "{status:#}");
    assert_eq!(status["recipients"][1]["attempts"], 3);
    assert!(status["recipients"][1]["lastError"].as_str().is_some_and(|e| e.contains("503")));
    assert_eq!(status["recipients"][2]["state"], "pending", "the mailbox copy waits, untouched by the failures");

    // Dead letters are the administrator's.
    assert_eq!(app.get("201", "/v1/admin/dead-letters").await.status(), StatusCode::FORBIDDEN);
    let dead: Value = app.get("admin", "/v1/admin/dead-letters").await.json().await.expect("json");
    assert_eq!(dead["deadLetters"][0]["id"], id.as_str());
    assert_eq!(dead["deadLetters"][0]["recipient"], "POL01");
    down.fixed.store(true, Ordering::SeqCst);
    let replay = |who: &'static str| {
        app.client.post(app.url(&format!("/v1/admin/dead-letters/{id}/replay"))).bearer_auth(app.token(who)).send()
    };
    assert_eq!(replay("POL01").await.expect("request").status(), StatusCode::FORBIDDEN);
    assert_eq!(replay("admin").await.expect("request").status(), StatusCode::ACCEPTED);
    wait_for("the replayed delivery", || down.delivered.lock().expect("lock").len() == 1).await;
    assert_eq!(*down.delivered.lock().expect("lock"), std::slice::from_ref(&id));
    assert_eq!(replay("admin").await.expect("request").status(), StatusCode::NOT_FOUND, "nothing left to replay");
    let metrics = app.client.get(app.url("/metrics")).send().await.expect("request").text().await.expect("text");
    assert!(metrics.contains("caregate_deliveries_total{outcome=\"dead\"} 1"), "{metrics}");
    assert!(metrics.contains("caregate_deliveries_total{outcome=\"retry\"} 4"), "{metrics}");
}

fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("reads") {
        let entry = entry.expect("entry");
        if entry.file_name().to_string_lossy().starts_with("caregate.db") {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copies");
        }
    }
}

fn audit_verify(data: &std::path::Path) -> (bool, String) {
    let output = assert_cmd::Command::cargo_bin("caregate")
        .expect("binary")
        .args(["audit", "verify", "--data"])
        .arg(data)
        .output()
        .expect("runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_chain_verifies_and_names_an_edited_a_deleted_and_a_reordered_entry() {
    let mut app = spawn_app(|_| {}).await;
    let id = app.send("RJ1", &referral("RJ1", &[("201", "social-care"), ("POL01", "police")])).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.read_copy("201", &id).await;
    app.client
        .post(app.url(&format!("/v1/mailbox/{id}/ack")))
        .bearer_auth(app.token("201"))
        .send()
        .await
        .expect("request");
    let mut refused = referral("RJ1", &[("201", "social-care")]);
    refused["legalBasis"] = json!({"consent": "refused"});
    assert_eq!(app.send_as("RJ1", &refused, None).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    if let Some(running) = app.running.take() {
        running.stop();
    }
    let entries = caregate_gateway::store::sqlite::read_audit(app.data.path()).expect("reads");
    let events: Vec<&str> = entries.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["accept", "redaction", "redaction", "read", "ack", "reject"]);
    // Digests and codes, never content.
    let text = serde_json::to_string(&entries).expect("json");
    assert!(!text.contains("Samplechild") && !text.contains("Oliver"));
    assert!(entries[2].detail.contains("need-to-know /body/sensitiveServices"));
    let (ok, out) = audit_verify(app.data.path());
    assert!(ok && out.starts_with("OK: 6 audit entries"), "{out}");

    let tamper = |sql: &str| {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_store(app.data.path(), dir.path());
        let conn = rusqlite::Connection::open(dir.path().join("caregate.db")).expect("opens");
        conn.execute_batch(sql).expect("tampers");
        drop(conn);
        audit_verify(dir.path())
    };
    let (ok, out) = tamper("UPDATE audit SET actor = 'POL01' WHERE seq = 4");
    assert!(!ok && out.contains("(seq 4)") && out.contains("edited"), "{out}");
    let (ok, out) = tamper("DELETE FROM audit WHERE seq = 3");
    assert!(!ok && out.contains("(seq 4)") && out.contains("deleted"), "{out}");
    let (ok, out) = tamper("UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 100;");
    assert!(!ok && out.contains("BROKEN at entry 2"), "{out}");

    // Deleting the chain's last entries leaves a chain that is intact on its own; a signed anchor of its head,
    // kept apart, shows it.
    let keys = tempfile::tempdir().expect("temp dir");
    let caregate = || assert_cmd::Command::cargo_bin("caregate").expect("binary");
    caregate().args(["keygen", "--out"]).arg(keys.path().join("auditor")).assert().success();
    let anchor = keys.path().join("anchor.json");
    caregate()
        .args(["audit", "anchor", "--data"])
        .arg(app.data.path())
        .arg("--sign")
        .arg(keys.path().join("auditor.key"))
        .arg("-o")
        .arg(&anchor)
        .assert()
        .success();
    let with_anchor = |data: &std::path::Path| {
        let out = caregate()
            .args(["audit", "verify", "--data"])
            .arg(data)
            .arg("--anchor")
            .arg(&anchor)
            .arg("--key")
            .arg(keys.path().join("auditor.pub"))
            .output()
            .expect("runs");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = with_anchor(app.data.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("OK: 6 audit entries, chain intact, and it holds the entry its anchor vouches for"), "{out}");
    let cut = tempfile::tempdir().expect("temp dir");
    copy_store(app.data.path(), cut.path());
    let conn = rusqlite::Connection::open(cut.path().join("caregate.db")).expect("opens");
    conn.execute_batch("DELETE FROM audit WHERE seq >= 5").expect("tampers");
    drop(conn);
    assert!(audit_verify(cut.path()).0, "without the anchor the shortened chain looks intact");
    let (code, out) = with_anchor(cut.path());
    assert_eq!(code, Some(1));
    assert!(out.contains("the chain has 4 entries, but the anchor taken at") && out.contains("vouches for 6"), "{out}");
    // A changed anchor fails its signature.
    let text = std::fs::read_to_string(&anchor).expect("reads").replacen("\"seq\": 6", "\"seq\": 4", 1);
    std::fs::write(&anchor, text).expect("writes");
    let (code, out) = with_anchor(cut.path());
    assert_eq!(code, Some(1));
    assert!(out.contains("FAILED: the anchor") && out.contains("signature"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_routes_standards_health_openapi_and_metrics() {
    let app = spawn_app(|_| {}).await;
    let envelope = referral("RJ1", &[("201", "social-care")]);
    let response = app
        .client
        .post(app.url("/v1/validate"))
        .bearer_auth(app.token("RJ1"))
        .body(envelope.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let result: Value = response.json().await.expect("json");
    assert_eq!(result["valid"], true);
    assert!(result["findings"].as_array().is_some());
    let mut invalid = envelope.clone();
    invalid["legalBasis"] = json!({"consent": "refused"});
    let result: Value = app
        .client
        .post(app.url("/v1/validate"))
        .bearer_auth(app.token("RJ1"))
        .body(invalid.to_string())
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(result["valid"], false);
    assert_eq!(
        app.client.post(app.url("/v1/validate")).body("{}").send().await.expect("request").status(),
        StatusCode::UNAUTHORIZED
    );

    let response = app
        .client
        .post(app.url("/v1/convert?to=xml"))
        .bearer_auth(app.token("RJ1"))
        .body(envelope.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let xml = response.text().await.expect("text");
    assert!(xml.contains("<Envelope") && xml.contains("<Referral"));
    let back: Value = app
        .client
        .post(app.url("/v1/convert?to=json"))
        .bearer_auth(app.token("RJ1"))
        .body(xml)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(back, envelope);

    let standards: Value =
        app.client.get(app.url("/v1/standards")).send().await.expect("request").json().await.expect("json");
    let ids: Vec<&str> =
        standards["standards"].as_array().expect("list").iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(ids.contains(&"referral") && ids.contains(&"envelope"));
    let referral_pack: Value = app
        .client
        .get(app.url("/v1/standards/referral/1.0"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(referral_pack["schema"]["type"], "object");
    assert_eq!(
        app.client.get(app.url("/v1/standards/referral/9.9")).send().await.expect("request").status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(app.client.get(app.url("/healthz")).send().await.expect("request").status(), StatusCode::OK);
    let openapi: Value =
        app.client.get(app.url("/openapi.json")).send().await.expect("request").json().await.expect("json");
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/v1/messages"]["post"]["responses"]["422"].is_object());

    app.send("RJ1", &envelope).await;
    let metrics = app.client.get(app.url("/metrics")).send().await.expect("request").text().await.expect("text");
    assert!(metrics.contains("caregate_messages_accepted_total 1"), "{metrics}");
    assert!(metrics.contains("caregate_queue_depth 1"), "{metrics}");
    assert!(metrics.contains("caregate_accept_seconds_count 1"));
}

#[test]
fn config_check_explains_a_bad_configuration_and_passes_a_good_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "listen = \"127.0.0.1:8080\"\n[[organisations]]\ncode = \"201\"\nname = \"A\"\nrole = \"social-care\"\n\
         [[senders]]\norganisation = \"201\"\ntoken_hash = \"secret-in-clear\"\nstandards = [\"referral@1.0\"]\nrecipients = [\"RJ1\"]\n",
    )
    .expect("writes");
    let output = assert_cmd::Command::cargo_bin("caregate")
        .expect("binary")
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("never configured in clear") && text.contains("recipient `RJ1` is not among"), "{text}");
    let catalog = Catalog::embedded().expect("packs load");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, toml::to_string(&Config::demo(&catalog, None).0).expect("serialises")).expect("writes");
    let output = assert_cmd::Command::cargo_bin("caregate")
        .expect("binary")
        .args(["config", "check"])
        .arg(&good)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
}

/// `caregate serve` on a free port, in `dir`, with `args` after its own: the process, its base URL (from the
/// first line it prints) and the lines it prints after.
fn serve_demo(
    dir: &std::path::Path,
    args: &[&std::ffi::OsStr],
) -> (std::process::Child, String, std::io::Lines<std::io::BufReader<std::process::ChildStdout>>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("readable");
    let base = format!("http://{}", first.rsplit("http://").next().expect("address").trim());
    (child, base, lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_without_a_config_runs_the_demo_and_writes_its_tokens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("caregate-data");
    let (mut child, base, mut lines) = serve_demo(dir.path(), &["--data".as_ref(), data.as_os_str()]);
    let printed: Vec<String> = lines.by_ref().take(9).map_while(Result::ok).collect();
    let tokens: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(data.join("demo-tokens.json")).expect("written")).expect("json");
    let codes: Vec<&str> = tokens.keys().map(String::as_str).collect();
    assert_eq!(codes, ["201", "202", "EH201", "POL01", "RJ1", "SCH001", "admin"]);
    assert!(printed.iter().any(|l| l.contains(&tokens["SCH001"])), "tokens are printed: {printed:?}");
    let client = reqwest::Client::new();
    let envelope = referral("SCH001", &[("201", "social-care"), ("POL01", "police")]);
    let response = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth(&tokens["SCH001"])
        .header("content-type", "application/json")
        .body(envelope.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mailbox: Value = client
        .get(format!("{base}/v1/mailbox"))
        .bearer_auth(&tokens["201"])
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(mailbox["messages"].as_array().map(Vec::len), Some(1));
    child.kill().expect("stops");
    child.wait().expect("reaped");
    std::thread::spawn(move || for _ in lines {});
}

/// `caregate certify gateway` with its defaults, run in the folder where `caregate serve` runs its demo, takes
/// the demo's tokens and addresses its council, and finds the gateway conformant on every requirement.
#[test]
fn the_demo_gateway_is_certified_with_the_command_s_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base, lines) = serve_demo(dir.path(), &[]);
    std::thread::spawn(move || for _ in lines {});
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["certify", "gateway", "--url", &base, "--output", "reports"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    child.kill().expect("stops");
    child.wait().expect("reaped");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("CONFORMANT — requirements: 10 passed, 0 failed, 0 waived, 0 untested"), "{said}");
    // Elsewhere, with no tokens file and no --token, it says what it needs.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["certify", "gateway", "--url", &base])
        .current_dir(elsewhere.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --token given, and cannot read the tokens file"));
}

/// `GET /v1/admin/audit` verifies the chain as `caregate audit verify` does, for the operators' console: its
/// entries, intact, and its head; the admin token only.
#[tokio::test(flavor = "multi_thread")]
async fn the_admin_sees_the_audit_chain_verified_with_its_head() {
    let app = spawn_app(|_| {}).await;
    app.send("RJ1", &referral("RJ1", &[("201", "social-care")])).await;
    let status: Value = app.get("admin", "/v1/admin/audit").await.json().await.expect("json");
    let entries = caregate_gateway::store::sqlite::read_audit(app.data.path()).expect("reads");
    assert_eq!(status["intact"], true, "{status}");
    assert_eq!(status["entries"].as_u64(), Some(entries.len() as u64));
    let last = entries.last().expect("an entry");
    assert_eq!(
        (status["head"]["seq"].as_i64(), status["head"]["hash"].as_str()),
        (Some(last.seq), Some(last.hash.as_str()))
    );
    assert_eq!(app.get("SCH001", "/v1/admin/audit").await.status(), StatusCode::FORBIDDEN);
}
