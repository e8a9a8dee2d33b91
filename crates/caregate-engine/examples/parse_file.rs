//! The gateway's JSON parse (`parse_json_value`, no spans) of one file, beside `serde_json::from_slice` into the
//! same `Value`, on one thread with the binary's allocator: microseconds per parse, medians of 5 rounds of
//! 20,000 parses each (set `ROUNDS` for more).
//!
//! Run with `cargo run --release -p caregate-engine --example parse_file -- FILE`, e.g. a gateway benchmark envelope.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

const PARSES: u32 = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: parse_file FILE")?;
    let bytes = std::fs::read(&path)?;
    let limits = caregate_engine::document::Limits::default();
    caregate_engine::document::parse_json_value(&bytes, &limits).map_err(|f| f.message)?;
    serde_json::from_slice::<serde_json::Value>(&bytes)?;
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    let time = |parse: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..PARSES {
            parse();
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(PARSES)
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(time(&|| drop(std::hint::black_box(caregate_engine::document::parse_json_value(&bytes, &limits)))));
        theirs.push(time(&|| drop(std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&bytes)))));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    println!("{path}: {} bytes", bytes.len());
    println!("  caregate parse_json_value      {ours:>7.2} µs");
    println!("  serde_json::from_slice (base)  {theirs:>7.2} µs   ratio {:.2}x", ours / theirs);
    Ok(())
}
