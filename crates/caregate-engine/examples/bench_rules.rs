//! Times rule evaluation: `cargo run --release -p caregate-engine --example bench_rules`.
//! Prints the median ns per evaluation over several runs for each expression.

use std::hint::black_box;
use std::time::Instant;

use caregate_engine::expr::{Compiler, Outcome};
use serde_json::json;

fn main() {
    let compiler = Compiler::new(&["self", "root", "envelope", "asOf", "params"], Vec::new());
    let record = json!({
        "nhs": "9434765919",
        "referral": "2025-01-10",
        "x": 1,
        "assessments": [
            {"start": "2025-01-12", "kind": "initial"},
            {"start": "2025-02-01", "kind": "core"},
            {"start": "2025-03-05", "kind": "review"}
        ]
    });
    let root = json!({});
    let envelope = json!({});
    let as_of = json!("2025-06-01");
    let params = json!({});
    let vars = [&record, &root, &envelope, &as_of, &params];

    let cases = [
        "self.assessments.all(a, date(a.start) >= date(self.referral))",
        "nhs_number_valid(self.nhs)",
        "has(self.x) != has(self.y)",
        "self.assessments.exists(a, a.kind == 'review')",
        "years_between(date(self.referral), date(asOf)) < 18",
        "self.missing == 1",
        "self.nhs == '9434765919'",
        "true",
    ];
    let only: Option<String> = std::env::args().nth(1);
    const ITERS: u32 = 200_000;
    const RUNS: usize = 9;
    for src in cases {
        if only.as_deref().is_some_and(|o| !src.contains(o)) {
            continue;
        }
        let program = match compiler.compile(src) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{src}: {e}");
                std::process::exit(1);
            }
        };
        let outcome = program.check(&vars);
        let mut per_run = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let start = Instant::now();
            for _ in 0..ITERS {
                let o = program.check(black_box(&vars));
                black_box(matches!(o, Outcome::Holds));
            }
            per_run.push(start.elapsed().as_nanos() as f64 / f64::from(ITERS));
        }
        per_run.sort_by(f64::total_cmp);
        println!("{:>8.1} ns  {:?}  {src}", per_run[RUNS / 2], outcome);
    }
}
