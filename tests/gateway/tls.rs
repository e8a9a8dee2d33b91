//! End to end: push delivery over https. Each push recipient is a real TLS server on a random port, its
//! certificate issued by a CA made in the test (a council's internal CA); the gateway trusts that CA through
//! `push_ca_file` or `delivery.ca_file`, and refuses a recipient whose CA it was not given.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use caregate_engine::standard::Catalog;
use caregate_gateway::{self as gateway, config::Config};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_rustls::rustls;

const FULL: &str = include_str!("../../schemas/envelope/1.0/examples/valid/full.json");

/// A CA, written to `DIR/NAME.pem`, and a server certificate it issued for 127.0.0.1 and localhost.
struct TestCa {
    pem: std::path::PathBuf,
    server: rustls::ServerConfig,
}

fn test_ca(dir: &std::path::Path, name: &str) -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.distinguished_name.push(DnType::CommonName, format!("{name} internal CA"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).expect("CA signs itself");
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, ca.pem()).expect("writes the CA");

    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    let leaf = params.signed_by(&key, &Issuer::new(ca_params, ca_key)).expect("CA signs");
    let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server certificate");
    TestCa { pem, server }
}

/// A TCP listener that hands axum only connections whose TLS handshake completed.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    refused: Arc<Mutex<usize>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, address)) = self.tcp.accept().await else { continue };
            match tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, address),
                _ => *self.refused.lock().expect("lock") += 1,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An https push recipient: records the idempotency key and body of every push, and counts the handshakes
/// that failed (the gateway refusing its certificate).
#[derive(Clone, Default)]
struct Receiver {
    pushes: Arc<Mutex<Vec<(String, Value)>>>,
    refused: Arc<Mutex<usize>>,
}

async fn spawn_receiver(ca: &TestCa) -> (String, Receiver) {
    use axum::http::HeaderMap;
    let receiver = Receiver::default();
    let state = receiver.clone();
    let router = axum::Router::new().route(
        "/inbox",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                state.pushes.lock().expect("lock").push((key, body));
                StatusCode::OK
            }
        }),
    );
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = tcp.local_addr().expect("address");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server.clone()));
    let listener = TlsListener { tcp, acceptor, refused: Arc::clone(&receiver.refused) };
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("https://{address}/inbox"), receiver)
}

fn demo_tokens() -> std::collections::BTreeMap<String, String> {
    ["201", "202", "RJ1", "POL01", "SCH001", "EH201", "admin"]
        .iter()
        .map(|c| (c.to_string(), format!("token-of-{c}")))
        .collect()
}

fn push_to(config: &mut Config, code: &str, url: &str, ca: Option<&std::path::Path>) {
    let org = config.organisations.iter_mut().find(|o| o.code == code).expect("demo organisation");
    (org.delivery, org.push_url, org.push_ca_file) = ("push".into(), Some(url.into()), ca.map(Into::into));
}

async fn status(client: &reqwest::Client, base: &str, id: &str) -> Value {
    let response =
        client.get(format!("{base}/v1/messages/{id}")).bearer_auth("token-of-201").send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn https_pushes_reach_recipients_whose_ca_is_configured_and_no_other() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (trust_rj1, trust_all, unknown) =
        (test_ca(certs.path(), "rj1"), test_ca(certs.path(), "region"), test_ca(certs.path(), "unknown"));
    let (rj1_url, rj1) = spawn_receiver(&trust_rj1).await;
    let (police_url, police) = spawn_receiver(&trust_all).await;
    let (early_help_url, early_help) = spawn_receiver(&unknown).await;

    let catalog = Arc::new(Catalog::embedded().expect("packs load"));
    let data = tempfile::tempdir().expect("temp dir");
    let (mut config, _) = Config::demo(&catalog, Some(demo_tokens()));
    config.listen = "127.0.0.1:0".into();
    config.store.data = data.path().to_path_buf();
    config.delivery.base_delay_ms = 20;
    config.delivery.max_attempts = 2;
    config.delivery.ca_file = Some(trust_all.pem.clone());
    push_to(&mut config, "RJ1", &rj1_url, Some(&trust_rj1.pem));
    push_to(&mut config, "POL01", &police_url, None);
    push_to(&mut config, "EH201", &early_help_url, None);
    let running = gateway::start(config, catalog).await.expect("gateway starts");
    let base = format!("http://{}", running.address);
    let client = reqwest::Client::new();

    let mut envelope: Value = serde_json::from_str(FULL).expect("example parses");
    envelope["sender"]["organisation"] = "201".into();
    envelope["recipients"] = json!([
        {"organisation": "RJ1", "role": "health"},
        {"organisation": "POL01", "role": "police"},
        {"organisation": "EH201", "role": "early-help"}
    ]);
    let response = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth("token-of-201")
        .header("content-type", "application/json")
        .body(envelope.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();

    let mut seen = Value::Null;
    for _ in 0..400 {
        seen = status(&client, &base, &id).await;
        let states: Vec<&str> =
            seen["recipients"].as_array().expect("recipients").iter().filter_map(|r| r["state"].as_str()).collect();
        if states == ["delivered", "delivered", "dead"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let recipients = &seen["recipients"];
    assert_eq!(recipients[0]["organisation"], "RJ1", "{seen:#}");
    assert_eq!(recipients[0]["state"], "delivered", "RJ1's own CA: {seen:#}");
    assert_eq!(recipients[1]["state"], "delivered", "the CA of delivery.ca_file: {seen:#}");
    assert_eq!(recipients[2]["state"], "dead", "a CA the gateway was not given: {seen:#}");
    let error = recipients[2]["lastError"].as_str().unwrap_or("");
    assert!(error.contains("could not be reached") && error.contains("certificate"), "{error}");

    for (who, receiver, removed) in
        [("RJ1", &rj1, "/body/sensitiveServices"), ("POL01", &police, "/body/child/disabilities")]
    {
        let pushes = receiver.pushes.lock().expect("lock").clone();
        assert_eq!(pushes.len(), 1, "{who} gets one push");
        assert_eq!(pushes[0].0, id, "{who}: the message id is the idempotency key");
        assert!(pushes[0].1.pointer(removed).is_none(), "{who}'s copy is redacted");
        assert_eq!(pushes[0].1["body"]["child"]["name"]["family"], "Samplechild", "{who} gets the copy");
        assert_eq!(*receiver.refused.lock().expect("lock"), 0, "{who}: no handshake failed");
    }
    assert!(early_help.pushes.lock().expect("lock").is_empty(), "nothing crosses a refused handshake");
    // The receiver learns of the refusal from the gateway's alert, which may land after the state is recorded.
    for _ in 0..200 {
        if *early_help.refused.lock().expect("lock") >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*early_help.refused.lock().expect("lock"), 2, "one refused handshake per attempt");
    running.stop();
}

/// `caregate config check` (the real binary) names a CA file that is not one, and accepts one that is.
#[test]
fn config_check_names_a_ca_file_that_is_not_a_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = test_ca(dir.path(), "council");
    let not_a_ca = dir.path().join("council-key.txt");
    std::fs::write(&not_a_ca, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").expect("writes");
    let catalog = Catalog::embedded().expect("packs load");
    let check = |ca_file: &std::path::Path| {
        let (mut config, _) = Config::demo(&catalog, Some(demo_tokens()));
        push_to(&mut config, "RJ1", "https://rj1.example.nhs.uk/inbox", Some(ca_file));
        let file = dir.path().join("gateway.toml");
        std::fs::write(&file, toml::to_string(&config).expect("serialises")).expect("writes");
        let output = assert_cmd::Command::cargo_bin("caregate")
            .expect("binary")
            .args(["config", "check"])
            .arg(&file)
            .output()
            .expect("runs");
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let (code, out) = check(&ca.pem);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("OK: 6 organisations"), "{out}");
    let (code, out) = check(&not_a_ca);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("organisation `RJ1`: push_ca_file `")
            && out.contains("council-key.txt` holds no PEM `CERTIFICATE`"),
        "{out}"
    );
}
