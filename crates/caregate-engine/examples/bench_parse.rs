//! Throughput of the document stage on ~10 MB inputs: quick-xml's raw tokenizer, `parse_xml`,
//! `parse_json`, and `serde_json::from_slice::<Value>` as a baseline. Median of 5 runs.
//!
//! Run with `cargo run --release -p caregate-engine --example bench_parse`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use caregate_engine::document::{parse_json, parse_xml, Limits};

const RECORDS: usize = 20_000;

fn xml_doc() -> String {
    let mut s = String::with_capacity(11 << 20);
    s.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Return xmlns=\"urn:example:return\" xmlns:x=\"urn:example:x\">\n",
    );
    for i in 0..RECORDS {
        let _ = writeln!(s, "  <Record id=\"{i}\" x:status=\"open\">");
        let _ = writeln!(s, "    <ChildId>CH{i:08}</ChildId>");
        let _ = writeln!(s, "    <Forename>Forename {i} &amp; co</Forename>");
        let _ = writeln!(s, "    <Surname>Surname-{i}</Surname>");
        let _ = writeln!(s, "    <DateOfBirth>2015-03-{:02}</DateOfBirth>", i % 28 + 1);
        let _ = writeln!(s, "    <Gender>{}</Gender>", i % 3);
        let _ = writeln!(s, "    <Ethnicity>WBRI</Ethnicity>");
        let _ = writeln!(s, "    <Postcode>AB1 {}CD</Postcode>", i % 10);
        let _ = writeln!(s, "    <ReferralDate>2024-01-{:02}</ReferralDate>", i % 28 + 1);
        let _ = writeln!(s, "    <Source>1A</Source>");
        let _ = writeln!(s, "    <NFA>false</NFA>");
        let _ = writeln!(s, "    <Assessment><Start>2024-02-01</Start><End>2024-03-01</End></Assessment>");
        let _ = writeln!(s, "    <Factors><Factor>1A</Factor><Factor>2B</Factor><Factor>3C</Factor></Factors>");
        let _ = writeln!(s, "    <Notes>Free text note number {i}, with a few more words in it.</Notes>");
        let _ = writeln!(s, "    <x:Extra>{}</x:Extra>", i * 7);
        let _ = writeln!(s, "  </Record>");
    }
    s.push_str("</Return>\n");
    s
}

fn json_doc() -> String {
    let mut s = String::with_capacity(11 << 20);
    s.push_str("{\n  \"return\": {\n    \"records\": [\n");
    for i in 0..RECORDS {
        if i > 0 {
            s.push_str(",\n");
        }
        let _ = write!(
            s,
            "      {{\"id\": {i}, \"status\": \"open\", \"childId\": \"CH{i:08}\", \"forename\": \"Forename {i} & co\", \
             \"surname\": \"Surname-{i}\", \"dateOfBirth\": \"2015-03-{:02}\", \"gender\": {}, \"ethnicity\": \"WBRI\", \
             \"postcode\": \"AB1 {}CD\", \"referralDate\": \"2024-01-{:02}\", \"source\": \"1A\", \"nfa\": false, \
             \"assessment\": {{\"start\": \"2024-02-01\", \"end\": \"2024-03-01\"}}, \"factors\": [\"1A\", \"2B\", \"3C\"], \
             \"notes\": \"Free text note number {i}, with a few more words in it.\\n\", \"weight\": {}.5, \"extra\": {}}}",
            i % 28 + 1,
            i % 3,
            i % 10,
            i % 28 + 1,
            i % 50,
            i * 7
        );
    }
    s.push_str("\n    ]\n  }\n}\n");
    s
}

fn median_mb_s(name: &str, bytes: usize, mut f: impl FnMut()) {
    f(); // warm up
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[2];
    let mb = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{name:<40} {:>8.1} MB/s   ({:.1} ms for {mb:.1} MB)",
        mb / median.as_secs_f64(),
        median.as_secs_f64() * 1000.0
    );
}

fn main() {
    let xml = xml_doc();
    let json = json_doc();
    let limits = Limits { max_bytes: 64 << 20, ..Limits::default() };
    println!("XML input {} bytes, JSON input {} bytes; median of 5 runs\n", xml.len(), json.len());

    median_mb_s("quick-xml raw tokenizer (events to Eof)", xml.len(), || {
        let mut reader = quick_xml::Reader::from_reader(xml.as_bytes());
        reader.config_mut().check_end_names = false;
        let mut n = 0usize;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(e) => {
                    n += 1;
                    black_box(e);
                }
                Err(e) => panic!("{e}"),
            }
        }
        black_box(n);
    });
    let mut kept = Vec::new();
    median_mb_s("caregate parse_xml", xml.len(), || {
        let doc = parse_xml(xml.as_bytes(), &limits).expect("bench XML parses");
        black_box(doc);
    });
    median_mb_s("caregate parse_xml, drop not timed", xml.len(), || {
        let doc = parse_xml(xml.as_bytes(), &limits).expect("bench XML parses");
        kept.push(doc);
    });
    drop(kept);
    median_mb_s("caregate parse_json", json.len(), || {
        let doc = parse_json(json.as_bytes(), &limits).expect("bench JSON parses");
        black_box(doc);
    });
    median_mb_s("serde_json::from_slice::<Value> (baseline)", json.len(), || {
        let v: serde_json::Value = serde_json::from_slice(json.as_bytes()).expect("bench JSON parses");
        black_box(v);
    });
}
