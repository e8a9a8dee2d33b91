//! The browser console's engine (crates/caregate-wasm, run natively here) gives, for files in memory, the
//! JSON report `caregate validate --format json --output FILE` writes for the same files on disk, byte for
//! byte. (The .wasm build itself is compared with the command line under Node.js and Chromium in CI:
//! `scripts/console-check.sh`.)

use std::path::Path;

use assert_cmd::Command;

const NOW: &str = "2026-11-20T09:30:00Z";

fn caregate(args: &[&str]) {
    Command::cargo_bin("caregate").unwrap().args(args).assert().success();
}

/// A census return of `count` children with a first submission's mistakes, written as `dir/cin.xml`.
fn messy_census(dir: &Path, count: usize, seed: u64) -> std::path::PathBuf {
    let ret = dir.join("cin.xml");
    let (count, seed) = (count.to_string(), seed.to_string());
    caregate(&[
        "generate",
        "cin-census",
        "--count",
        &count,
        "--seed",
        &seed,
        "--profile",
        "messy",
        "--output",
        ret.to_str().unwrap(),
    ]);
    ret
}

/// The CLI's report and the console engine's for `files`, named as given.
fn both(files: &[String], standard: Option<&str>, params: &[(&str, &str)], dir: &Path) -> (String, String) {
    let out = dir.join("cli.json");
    let mut args = vec!["validate", "--now", NOW, "--format", "json", "--output", out.to_str().unwrap()];
    if let Some(standard) = standard {
        args.extend(["--standard", standard]);
    }
    let params_text: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for param in &params_text {
        args.extend(["--param", param]);
    }
    args.extend(files.iter().map(String::as_str));
    // Exit 1 (errors found) is a report too.
    let status = Command::cargo_bin("caregate").unwrap().args(&args).output().unwrap().status;
    assert!(matches!(status.code(), Some(0 | 1)), "{status}");
    let cli = std::fs::read_to_string(&out).unwrap();
    let request = caregate_wasm::Request {
        standard: standard.map(str::to_string),
        now: NOW.into(),
        params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        share: None,
    };
    let memory: Vec<(String, Vec<u8>)> = files.iter().map(|f| (f.clone(), std::fs::read(f).unwrap())).collect();
    let console = caregate_wasm::validate(memory, &request, caregate_wasm::NoProgress).unwrap();
    // One excerpt (or null) a finding, in the report's order.
    let excerpts: Vec<serde_json::Value> = serde_json::from_slice(&console.excerpts).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&console.report).unwrap();
    let findings: usize =
        report["documents"].as_array().unwrap().iter().map(|d| d["findings"].as_array().unwrap().len()).sum();
    assert_eq!(excerpts.len(), findings);
    assert!(excerpts.iter().any(|e| e["lines"][0]["text"].is_string()), "no excerpt at all");
    (cli, String::from_utf8(console.report).unwrap())
}

#[test]
fn a_census_return_and_documents_give_the_clis_report() {
    let dir = tempfile::tempdir().unwrap();
    let ret = messy_census(dir.path(), 400, 11);
    let files = vec![
        ret.to_str().unwrap().to_string(),
        "schemas/referral/1.0/examples/invalid/REF-005.xml".to_string(),
        "schemas/referral/1.0/examples/valid/full.xml".to_string(),
    ];
    let (cli, console) = both(&files, None, &[], dir.path());
    assert!(cli.contains("\"error\": "), "{cli}");
    assert_eq!(cli, console);
}

/// A run's report and its excerpts (one a finding, in the report's order).
fn run_share(
    files: &[(String, Vec<u8>)],
    share: Option<caregate_engine::validate::Share>,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let request = caregate_wasm::Request { standard: None, now: NOW.into(), params: Vec::new(), share };
    let run = caregate_wasm::validate(files.to_vec(), &request, caregate_wasm::NoProgress).unwrap();
    (serde_json::from_slice(&run.report).unwrap(), serde_json::from_slice(&run.excerpts).unwrap())
}

/// The reports of a partition's shares merged as the console's page merges them (site/app.js, `merge`): the
/// share to the end gives the documents; each document's findings (and their excerpts) are those of the shares
/// that report it, one share after another, its counts their sums.
fn merge(shares: Vec<(serde_json::Value, Vec<serde_json::Value>)>) -> (serde_json::Value, Vec<serde_json::Value>) {
    let split = |(report, excerpts): (serde_json::Value, Vec<serde_json::Value>)| {
        let mut excerpts = excerpts.into_iter();
        let documents: Vec<(serde_json::Value, Vec<serde_json::Value>)> = report["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d.clone(), excerpts.by_ref().take(d["findings"].as_array().unwrap().len()).collect()))
            .collect();
        assert!(excerpts.next().is_none(), "one excerpt a finding");
        (report, documents)
    };
    let mut shares: Vec<_> = shares.into_iter().map(split).collect();
    let (mut merged, last) = shares.pop().unwrap();
    let mut others: Vec<std::collections::VecDeque<_>> = shares.into_iter().map(|(_, d)| d.into()).collect();
    let mut all_excerpts = Vec::new();
    let mut documents = Vec::new();
    for (document, excerpts) in last {
        let mut parts: Vec<(serde_json::Value, Vec<serde_json::Value>)> = Vec::new();
        for other in &mut others {
            if other.front().is_some_and(|(d, _)| d["path"] == document["path"]) {
                parts.push(other.pop_front().unwrap());
            }
        }
        parts.push((document.clone(), excerpts));
        let mut merged_document = document;
        let mut findings = Vec::new();
        let mut counts = serde_json::Map::new();
        for (part, excerpts) in parts {
            findings.extend(part["findings"].as_array().unwrap().iter().cloned());
            all_excerpts.extend(excerpts);
            for (severity, n) in part["counts"].as_object().unwrap() {
                let sum = counts.get(severity).and_then(|v| v.as_u64()).unwrap_or(0) + n.as_u64().unwrap();
                counts.insert(severity.clone(), sum.into());
            }
        }
        merged_document["valid"] = (counts["error"].as_u64() == Some(0)).into();
        merged_document["findings"] = findings.into();
        merged_document["counts"] = counts.into();
        documents.push(merged_document);
    }
    assert!(others.iter().all(|o| o.is_empty()), "a share reported a document the share to the end did not");
    merged["documents"] = documents.into();
    (merged, all_excerpts)
}

/// Runs `files` whole and in the shares that `cuts` (bytes of the first file) make, and holds the merged
/// shares to the whole run's report and excerpts.
fn shares_give_the_whole(
    files: &[(String, Vec<u8>)],
    whole: &(serde_json::Value, Vec<serde_json::Value>),
    cuts: &[u64],
) {
    let mut shares = Vec::new();
    let mut from = 0;
    for &cut in cuts {
        shares.push(run_share(files, Some(caregate_engine::validate::Share { from, until: Some(cut) })));
        from = cut;
    }
    shares.push(run_share(files, Some(caregate_engine::validate::Share { from, until: None })));
    let merged = merge(shares);
    assert!(merged.0 == whole.0, "cut at {cuts:?}: the merged report differs from the whole return's");
    assert!(merged.1 == whole.1, "cut at {cuts:?}: the merged excerpts differ from the whole return's");
}

#[test]
fn shares_of_a_census_return_merge_into_the_whole_report() {
    let dir = tempfile::tempdir().unwrap();
    let ret = messy_census(dir.path(), 300, 12);
    // A fault in the header too, which the whole return's checks give.
    let census = std::fs::read_to_string(&ret).unwrap().replacen("<SourceLevel>L<", "<SourceLevel>Q<", 1);
    let len = census.len() as u64;
    let mut files = vec![("cin.xml".to_string(), census.clone().into_bytes())];
    for doc in ["schemas/referral/1.0/examples/invalid/REF-005.xml", "schemas/referral/1.0/examples/valid/full.xml"] {
        files.push((doc.to_string(), std::fs::read(doc).unwrap()));
    }
    let whole = run_share(&files, None);
    let findings = whole.0["documents"][0]["findings"].as_array().unwrap();
    assert!(findings.len() > 100, "a messy return has findings to share: {}", findings.len());
    assert!(
        findings.iter().any(|f| f["location"]["path"].as_str().unwrap_or_default().ends_with("/SourceLevel")),
        "the header's fault is found"
    );
    // Two shares as the page cuts them, with records of their own and only the return in the first.
    let two = [run_share(&files, Some(caregate_engine::validate::Share { from: 0, until: Some(len * 6 / 10) }))];
    assert_eq!(two[0].0["documents"].as_array().unwrap().len(), 1, "only the return is shared");
    assert!(two[0].0["documents"][0]["findings"].as_array().unwrap().len() > 10, "the first share checked records");
    // Cuts at odd bytes, a share with no record of its own, three shares.
    for cuts in [vec![len * 6 / 10], vec![len / 3 + 7, len * 2 / 3 + 1], vec![1], vec![len - 1], vec![len / 2, len / 2]]
    {
        shares_give_the_whole(&files, &whole, &cuts);
    }

    // A header that is not well-formed: that finding comes from the share from byte 0, the return's from the
    // share to the end.
    let broken = census.replacen("</Collection>", "</Collectio>", 1);
    let files = vec![("cin.xml".to_string(), broken.into_bytes())];
    let whole = run_share(&files, None);
    let rules: Vec<&serde_json::Value> =
        whole.0["documents"][0]["findings"].as_array().unwrap().iter().map(|f| &f["rule"]).collect();
    assert_eq!(rules, ["xml-not-well-formed", "minItems"], "{}", whole.0);
    shares_give_the_whole(&files, &whole, &[len / 2]);
}

#[test]
fn ssda903_tables_give_the_clis_report() {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join("tables");
    caregate(&[
        "generate",
        "ssda903@2025-26",
        "--count",
        "150",
        "--seed",
        "3",
        "--invalid-rate",
        "0.3",
        "--output",
        tables.to_str().unwrap(),
    ]);
    let mut files: Vec<String> =
        std::fs::read_dir(&tables).unwrap().map(|e| e.unwrap().path().to_str().unwrap().to_string()).collect();
    files.sort();
    let (cli, console) = both(&files, Some("ssda903@2025-26"), &[("la_code", "E09000027")], dir.path());
    assert!(cli.contains("\"findings\""), "{cli}");
    assert_eq!(cli, console);
}

#[test]
fn warming_checks_every_packs_valid_examples() {
    // Every embedded pack's valid examples (the census, the referral, the envelope…), each round.
    let once = caregate_wasm::warm(1).unwrap();
    assert!(once >= 10, "{once}");
    assert_eq!(caregate_wasm::warm(2).unwrap(), 2 * once);
}

#[test]
fn an_unknown_standard_is_refused_with_the_known_ones() {
    let request =
        caregate_wasm::Request { standard: Some("no-such".into()), now: NOW.into(), params: Vec::new(), share: None };
    let Err(error) = caregate_wasm::validate(Vec::new(), &request, caregate_wasm::NoProgress) else {
        panic!("an unknown standard ran")
    };
    assert!(error.contains("unknown standard `no-such`") && error.contains("cin-census@2025-26"), "{error}");
}

#[test]
fn console_export_writes_the_site_with_its_engine_or_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let out = Command::cargo_bin("caregate").unwrap().args(["console", "export"]).arg(&site).output().unwrap();
    match caregate_console::WASM {
        Some(wasm) => {
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            for file in ["index.html", "app.js", "worker.js", "engine.js", "console.css"] {
                assert_eq!(
                    std::fs::read(site.join(file)).unwrap(),
                    caregate_console::site_file(file).unwrap(),
                    "{file}"
                );
            }
            assert_eq!(std::fs::read(site.join("caregate.wasm")).unwrap(), wasm);
            let offline = std::fs::read_to_string(site.join("caregate-offline.js")).unwrap();
            assert!(offline.starts_with("// caregate's engine") && offline.contains("CAREGATE_OFFLINE_WORKER"));
            let html = std::fs::read_to_string(site.join("index.html")).unwrap();
            assert!(html.contains(r#"id="file""#) && html.contains(r#"id="summary""#), "the test contract's ids");
            assert!(html.contains("connect-src 'self'"), "the page may fetch only its own files");
        }
        None => {
            assert_eq!(out.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&out.stderr).contains("scripts/build-wasm.sh"));
            assert!(!site.join("index.html").exists(), "nothing is written without the engine");
        }
    }
}

/// `GET path` on the gateway at `address`, as (status line, headers and body).
fn get(address: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    // The engine's module is binary: only its status line is read.
    let text = String::from_utf8_lossy(&bytes);
    let (status, rest) = text.split_once("\r\n").unwrap();
    (status.to_string(), rest.to_string())
}

#[test]
fn the_gateway_serves_the_validation_page_at_root_and_its_console() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::common::write_demo_config(dir.path(), "console", |_| {});
    let (gateway, address) = crate::common::serve(&config, &dir.path().join("data"));
    // Stopped however the test ends, a failed request included.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let gateway = Stop(gateway);
    let (status, page) = get(&address, "/");
    let (console_status, console) = get(&address, "/console");
    let (script_status, script) = get(&address, "/console/console.js");
    let (wasm_status, _) = get(&address, "/caregate.wasm");
    let (missing, _) = get(&address, "/no-such-page.js");
    drop(gateway);
    assert!(status.ends_with("200 OK"), "{status}");
    let lower = page.to_ascii_lowercase();
    assert!(lower.contains("content-type: text/html"), "{page}");
    assert!(lower.contains("content-security-policy: default-src 'self'"), "{page}");
    assert!(page.contains(r#"<input type="file" id="file""#), "{page}");
    assert!(console_status.ends_with("200 OK") && console.contains("Gateway console"), "{console}");
    assert!(script_status.ends_with("200 OK") && script.contains("/v1/admin/dead-letters"), "{script}");
    let wasm_expected = if caregate_console::WASM.is_some() { "200 OK" } else { "404 Not Found" };
    assert!(wasm_status.ends_with(wasm_expected), "{wasm_status}");
    assert!(missing.ends_with("404 Not Found"), "{missing}");
}
