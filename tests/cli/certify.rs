//! Certifying suppliers, end to end over HTTP. Receiver certification against caregate's own gateway passes;
//! against a deliberately lax receiver (accepts everything) and a deliberately strict one (refuses everything)
//! it fails exactly the requirements it should. Producer certification reports each mistake of a submission
//! with its diff. Gateway certification passes against caregate's own gateway.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use caregate_conformance::evidence::{Evidence, Outcome, Status};
use caregate_conformance::suite::{self, Suite, Verdict};
use caregate_conformance::{gateway as gateway_check, producer, receiver};
use caregate_engine::standard::Catalog;
use caregate_gateway::{self as gateway, config::Config};

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}/inbox")
}

/// Accepts everything it is sent.
async fn lax_receiver() -> String {
    serve(Router::new().route("/inbox", axum::routing::post(|| async { StatusCode::ACCEPTED }))).await
}

/// Refuses everything it is sent, in plain text.
async fn strict_receiver() -> String {
    serve(Router::new().route("/inbox", axum::routing::post(|| async { (StatusCode::BAD_REQUEST, "refused") }))).await
}

fn suites(catalog: &Catalog) -> Vec<Suite> {
    suite::load_all(catalog, None).unwrap()
}

fn target(endpoint: &str, supplier: &str) -> receiver::Target {
    receiver::Target { endpoint: endpoint.to_string(), supplier: supplier.to_string(), ..receiver::Target::default() }
}

/// The requirements of the receiver cases with this verdict.
fn covered_by(suite: &Suite, verdict: Verdict) -> BTreeSet<String> {
    suite
        .manifest
        .cases
        .iter()
        .filter(|c| c.receiver && c.verdict == verdict)
        .flat_map(|c| c.covers().iter().cloned())
        .collect()
}

fn failed(evidence: &Evidence) -> BTreeSet<String> {
    evidence.with_status(Status::Fail).into_iter().map(String::from).collect()
}

#[tokio::test]
async fn a_lax_receiver_fails_every_refusal_requirement_and_nothing_else() {
    let catalog = Catalog::embedded().unwrap();
    let suites = suites(&catalog);
    let transport = suite::find(&suites, "envelope").unwrap().requirements.clone();
    let endpoint = lax_receiver().await;
    for standard in ["referral", "escr-document", "envelope"] {
        let s = suite::find(&suites, standard).unwrap();
        let evidence = receiver::certify(s, &transport, &catalog, &target(&endpoint, "Lax Ltd"), &[]).await.unwrap();
        let mut expected = covered_by(s, Verdict::Invalid);
        expected.insert(receiver::REFUSES.into());
        assert_eq!(failed(&evidence), expected, "{standard}");
        assert_eq!(evidence.requirement(receiver::ACCEPTS).unwrap().status, Status::Pass);
        assert!(!evidence.conformant);
        let refused = evidence
            .cases
            .iter()
            .find(|c| c.id.starts_with("REF-005") || c.id.starts_with("ESCR-007") || c.id.starts_with("ENV-001"))
            .unwrap();
        assert!(refused.problems[0].contains("was answered 202 instead of being refused"), "{:?}", refused.problems);
    }
}

#[tokio::test]
async fn a_strict_receiver_fails_every_acceptance_requirement_and_nothing_else() {
    let catalog = Catalog::embedded().unwrap();
    let suites = suites(&catalog);
    let transport = suite::find(&suites, "envelope").unwrap().requirements.clone();
    let endpoint = strict_receiver().await;
    for standard in ["referral", "escr-document", "envelope"] {
        let s = suite::find(&suites, standard).unwrap();
        let evidence = receiver::certify(s, &transport, &catalog, &target(&endpoint, "Strict Ltd"), &[]).await.unwrap();
        let mut expected = covered_by(s, Verdict::Valid);
        expected.insert(receiver::ACCEPTS.into());
        assert_eq!(failed(&evidence), expected, "{standard}");
        assert_eq!(evidence.requirement(receiver::REFUSES).unwrap().status, Status::Pass);
        // A plain-text refusal is not problem+json, so whether it names the rule is not tested.
        assert_eq!(evidence.requirement(receiver::NAMES_RULES).unwrap().status, Status::Untested);
    }
    // --format json sends only the JSON cases.
    let referral = suite::find(&suites, "referral").unwrap();
    let json_only = receiver::Target { format: Some("json".into()), ..target(&endpoint, "Strict Ltd") };
    let evidence = receiver::certify(referral, &transport, &catalog, &json_only, &[]).await.unwrap();
    assert!(!evidence.cases.is_empty() && evidence.cases.iter().all(|c| c.document.ends_with(".json")));
}

/// caregate's gateway, configured with the organisations the suites address: RJ1 (health) and 318 (social
/// care) send; 318, POL01, RJ1 and Y01234 receive. Returns it with its tokens.
async fn caregate_gateway(data: &Path) -> (gateway::Running, BTreeMap<String, String>) {
    let catalog = Arc::new(Catalog::embedded().unwrap());
    let tokens: BTreeMap<String, String> = ["201", "202", "RJ1", "POL01", "SCH001", "EH201", "admin", "318", "Y01234"]
        .iter()
        .map(|c| (c.to_string(), format!("token-of-{c}")))
        .collect();
    let (mut config, _) = Config::demo(&catalog, Some(tokens.clone()));
    config.listen = "127.0.0.1:0".into();
    config.store.data = data.to_path_buf();
    let template = config.organisations[0].clone();
    for (code, role) in [("318", "social-care"), ("Y01234", "health")] {
        let mut org = template.clone();
        org.code = code.into();
        org.name = format!("Test organisation {code}");
        org.role = role.into();
        config.organisations.push(org);
    }
    let mut sender_318 = config.senders[0].clone();
    sender_318.organisation = "318".into();
    sender_318.token_hash = gateway::config::hash_token(&tokens["318"]);
    config.senders.push(sender_318);
    let mut sender_y = config.senders[0].clone();
    sender_y.organisation = "Y01234".into();
    sender_y.token_hash = gateway::config::hash_token(&tokens["Y01234"]);
    config.senders.push(sender_y);
    for sender in &mut config.senders {
        sender.recipients = vec!["*".into()];
    }
    let running = gateway::start(config, catalog).await.expect("the gateway starts");
    (running, tokens)
}

// Multi-threaded: the binary's requests are served while the test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caregates_own_gateway_passes_receiver_certification() {
    let catalog = Catalog::embedded().unwrap();
    let suites = suites(&catalog);
    let transport = suite::find(&suites, "envelope").unwrap().requirements.clone();
    let data = tempfile::tempdir().unwrap();
    let (running, tokens) = caregate_gateway(data.path()).await;
    let endpoint = format!("http://{}/v1/messages", running.address);
    let target = receiver::Target {
        token: Some(tokens["RJ1"].clone()),
        tokens_by_sender: ["RJ1", "318"].iter().map(|o| (o.to_string(), tokens[*o].clone())).collect(),
        ..target(&endpoint, "caregate gateway")
    };
    for standard in ["referral", "escr-document", "envelope"] {
        let s = suite::find(&suites, standard).unwrap();
        let evidence = receiver::certify(s, &transport, &catalog, &target, &[]).await.unwrap();
        let problems: Vec<String> = evidence
            .cases
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {} ({})", c.id, c.problems.join("; "), c.observed))
            .collect();
        assert!(problems.is_empty(), "{standard}:\n{}", problems.join("\n"));
        assert!(evidence.conformant, "{standard}: {:?} untested", evidence.untested);
        for id in [receiver::ACCEPTS, receiver::REFUSES, receiver::NAMES_RULES] {
            assert_eq!(evidence.requirement(id).unwrap().status, Status::Pass, "{standard} {id}");
        }
    }
    // And through the binary, with reports written.
    let out = tempfile::tempdir().unwrap();
    let (token, path) = (tokens["RJ1"].clone(), out.path().to_path_buf());
    let endpoint_for_binary = endpoint.clone();
    let assert = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("caregate")
            .unwrap()
            .args([
                "certify",
                "receiver",
                "--standard",
                "referral",
                "--endpoint",
                &endpoint_for_binary,
                "--token",
                &token,
                "--format",
                "xml",
                "--supplier",
                "caregate",
                "--output",
            ])
            .arg(&path)
            .timeout(std::time::Duration::from_secs(120))
            .assert()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(assert.get_output().status.success(), "{stdout}");
    assert!(stdout.contains("Receiver certification referral@1.0 (caregate): CONFORMANT"), "{stdout}");
    let run = std::fs::read_dir(out.path()).unwrap().next().unwrap().unwrap().path();
    let evidence = Evidence::read(&run.join("report.json")).unwrap();
    assert!(evidence.cases.iter().all(|c| c.document.ends_with(".xml")) && evidence.summary.cases > 10);
    running.stop();
}

#[tokio::test]
async fn caregates_own_gateway_passes_gateway_certification() {
    let catalog = Catalog::embedded().unwrap();
    let suites = suites(&catalog);
    let envelope = suite::find(&suites, "envelope").unwrap();
    let data = tempfile::tempdir().unwrap();
    let (running, tokens) = caregate_gateway(data.path()).await;
    let target = gateway_check::Target {
        url: format!("http://{}", running.address),
        token: tokens["RJ1"].clone(),
        sender: "RJ1".into(),
        recipient: "318".into(),
        role: "social-care".into(),
        recipient_token: Some(tokens["318"].clone()),
        supplier: "caregate gateway".into(),
    };
    let evidence = gateway_check::certify(envelope, &catalog, &target, &[]).await.unwrap();
    let problems: Vec<String> = evidence
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {} ({})", c.id, c.problems.join("; "), c.observed))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(evidence.summary.passed, gateway_check::CHECKS.len());
    // A lax "gateway" that accepts everything fails the refusals.
    let lax = lax_receiver().await;
    let lax_target = gateway_check::Target { url: lax.trim_end_matches("/inbox").to_string(), ..target.clone() };
    let evidence = gateway_check::certify(envelope, &catalog, &lax_target, &[]).await.unwrap();
    let failed = failed(&evidence);
    for id in ["GW-AUTH-01", "GW-AUTH-02", "GW-PROB-01", "GW-IDEM-02", "GW-MBX-02"] {
        assert!(failed.contains(id), "{id} should fail against a server that accepts nothing properly: {failed:?}");
    }
    running.stop();
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/referral/1.0/scenarios")
}

#[test]
fn producer_certification_reports_each_mistake_with_its_diff() {
    let catalog = Catalog::embedded().unwrap();
    let suites = suites(&catalog);
    let referral = suite::find(&suites, "referral").unwrap();
    let others: Vec<_> = suites.iter().flat_map(|s| s.requirements.clone()).collect();
    // The example submissions are right.
    let good = producer::certify(
        referral,
        &others,
        &catalog,
        &scenarios(),
        &scenarios().join("example-submissions"),
        "Good Ltd",
        &[],
    )
    .unwrap();
    // Every case passed, but the scenarios test only some of the suite's requirements: the verdict says so and
    // names the others.
    assert_eq!(good.summary.failed, 0, "{:?}", good.cases.iter().map(|c| &c.problems).collect::<Vec<_>>());
    assert_eq!(good.verdict, Outcome::Incomplete);
    assert!(!good.conformant);
    assert_eq!(good.untested.len(), good.summary.untested);
    assert!(good.untested.iter().any(|r| r == "REF-002"), "{:?}", good.untested);
    assert!(!good.untested.iter().any(|r| r.starts_with("GW-") || r.starts_with("RCV-")), "{:?}", good.untested);
    assert_eq!(good.summary.cases_passed, 2);

    // A supplier whose product gets the consent and the sex wrong, records a date of birth for the unborn child,
    // and leaves out the immediate-risk submission.
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(scenarios().join("example-submissions/unborn-consent-refused-s47.json")).unwrap();
    let wrong = text
        .replace("\"consent\": \"refused\"", "\"consent\": \"not-sought\"")
        .replace("\"sex\": \"U\"", "\"sex\": \"F\"")
        .replace(
            "\"expectedDateOfBirth\": \"2027-02-15\",",
            "\"expectedDateOfBirth\": \"2027-02-15\",\n      \"dateOfBirth\": \"2026-11-01\",",
        );
    assert_ne!(wrong, text);
    std::fs::write(dir.path().join("unborn-consent-refused-s47.json"), wrong).unwrap();
    let evidence =
        producer::certify(referral, &others, &catalog, &scenarios(), dir.path(), "Mistaken Ltd", &[]).unwrap();
    assert!(!evidence.conformant);
    let unborn = evidence.cases.iter().find(|c| c.id == "unborn-consent-refused-s47").unwrap();
    let diffs: BTreeMap<&str, &str> = unborn.diffs.iter().map(|d| (d.pointer.as_str(), d.diff.as_str())).collect();
    assert_eq!(
        diffs.keys().copied().collect::<Vec<_>>(),
        vec!["/body/child/dateOfBirth", "/body/child/sex", "/legalBasis/consent"]
    );
    assert!(
        diffs["/legalBasis/consent"]
            .contains("-/legalBasis/consent: \"refused\"\n+/legalBasis/consent: \"not-sought\""),
        "{}",
        diffs["/legalBasis/consent"]
    );
    assert!(diffs["/body/child/sex"].contains("-/body/child/sex: \"U\"\n+/body/child/sex: \"F\""));
    assert!(diffs["/body/child/dateOfBirth"]
        .contains("-/body/child/dateOfBirth: (absent)\n+/body/child/dateOfBirth: \"2026-11-01\""));
    // The engine's findings are reported too: both dates of birth (REF-001), sex F for an unborn child (REF-004).
    assert!(unborn.problems.iter().any(|p| p.starts_with("REF-001")), "{:?}", unborn.problems);
    assert!(unborn.problems.iter().any(|p| p.starts_with("REF-004")), "{:?}", unborn.problems);
    let missing = evidence.cases.iter().find(|c| c.id == "immediate-risk").unwrap();
    assert!(missing.problems[0].starts_with("no submission"));
    assert_eq!(evidence.requirement(producer::AS_FIXED).unwrap().status, Status::Fail);
    // The diffs are in the HTML and JUnit reports.
    let html = caregate_conformance::render::html(&evidence);
    assert!(html.contains("<span class=\"del\">-/legalBasis/consent: &quot;refused&quot;</span>"));
    assert!(caregate_conformance::render::junit(&evidence).contains("+/body/child/sex: &quot;F&quot;"));
}
