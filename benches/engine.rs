//! Engine throughput beside quick-xml's raw tokenizer on the same bytes, in the same run.
//!
//! Generates a ~10 MB batch of referrals (reproducible, seed 7), then measures, as medians of several runs:
//! - the baseline: quick-xml's tokenizer reading every event of the XML batch to the end;
//! - XML → JSON conversion (parse with spans, hostile-input checks, binding-driven instance, JSON text);
//! - validation in documents per second, XML and JSON (parse, instance, structure, all rules, locations).
//!
//! Run: `cargo bench --bench engine` (set CAREGATE_BENCH_MB to change the batch size).

use std::time::{Duration, Instant};

// The same allocator as the `caregate` binary, so that the figures are the binary's (BENCHMARKS.md records
// the system allocator's figures from before it was chosen).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use caregate_engine::convert::{self, Target};
use caregate_engine::document::Limits;
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};
use caregate_generate::Generator;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    f(); // warm up
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let target_mb: f64 = std::env::var("CAREGATE_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(10.0);
    let catalog = Catalog::embedded().expect("embedded packs load");
    let pack = catalog.find("referral").expect("referral pack");
    let generator = Generator::new(&pack, &catalog, 7, 0.1).expect("generator");
    let mut xml_docs: Vec<Vec<u8>> = Vec::new();
    let mut json_docs: Vec<Vec<u8>> = Vec::new();
    let mut total = 0usize;
    let mut docs = generator.documents(usize::MAX);
    while (total as f64) < target_mb * 1_000_000.0 {
        let doc = docs.next().expect("endless");
        let xml = doc.render(Target::Xml, &pack, &catalog).into_bytes();
        total += xml.len();
        xml_docs.push(xml);
        json_docs.push(doc.render(Target::Json, &pack, &catalog).into_bytes());
    }
    let xml_bytes: usize = xml_docs.iter().map(Vec::len).sum();
    let json_bytes: usize = json_docs.iter().map(Vec::len).sum();
    let n = xml_docs.len();
    println!("batch: {n} referrals, XML {:.1} MB, JSON {:.1} MB", xml_bytes as f64 / 1e6, json_bytes as f64 / 1e6);

    let runs = 7;
    let tokenizer = time(runs, || {
        for doc in &xml_docs {
            let mut reader = quick_xml::Reader::from_reader(doc.as_slice());
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(event) => {
                        std::hint::black_box(event);
                    }
                    Err(_) => break,
                }
            }
        }
    });
    let limits = Limits::default();
    let conversion = time(runs, || {
        for doc in &xml_docs {
            let c = convert::convert(doc, Target::Json, Some(pack.clone()), &catalog, &limits).expect("converts");
            std::hint::black_box(c.output);
        }
    });
    let options = Options {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").expect("date"),
        ..Options::default()
    };
    let validator = Validator::new(&catalog, options);
    let validate_xml = time(runs, || {
        for doc in &xml_docs {
            std::hint::black_box(validator.check(doc));
        }
    });
    let validate_json = time(runs, || {
        for doc in &json_docs {
            std::hint::black_box(validator.check(doc));
        }
    });
    // The gateway's intake parses every clean JSON envelope without spans; serde_json reading the same bytes
    // into the same `Value` is its baseline.
    let parse_ours = time(runs, || {
        for doc in &json_docs {
            std::hint::black_box(caregate_engine::document::parse_json_value(doc, &limits).expect("parses"));
        }
    });
    let parse_serde = time(runs, || {
        for doc in &json_docs {
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(doc).expect("parses"));
        }
    });
    let mbps = |bytes: usize, d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    let dps = |d: Duration| n as f64 / d.as_secs_f64();
    let base = mbps(xml_bytes, tokenizer);
    println!("median of {runs} runs each:");
    println!("  quick-xml tokenizer (baseline)  {:>9.1} MB/s", base);
    println!(
        "  XML -> JSON conversion          {:>9.1} MB/s   ratio to tokenizer {:.2}x",
        mbps(xml_bytes, conversion),
        mbps(xml_bytes, conversion) / base
    );
    println!(
        "  validate referral XML           {:>9.0} documents/s ({:.1} MB/s, ratio to tokenizer {:.2}x)",
        dps(validate_xml),
        mbps(xml_bytes, validate_xml),
        mbps(xml_bytes, validate_xml) / base
    );
    println!(
        "  validate referral JSON          {:>9.0} documents/s ({:.1} MB/s)",
        dps(validate_json),
        mbps(json_bytes, validate_json)
    );
    let serde = mbps(json_bytes, parse_serde);
    println!("  serde_json::from_slice (baseline) {:>7.1} MB/s", serde);
    println!(
        "  parse JSON, no spans            {:>9.1} MB/s   ratio to serde_json {:.2}x",
        mbps(json_bytes, parse_ours),
        mbps(json_bytes, parse_ours) / serde
    );
}
