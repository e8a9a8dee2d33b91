//! A pack's whole `rules.toml` (`standard::rulebook::compile_rules`): its rules and aggregates, or one error
//! message, never a panic. Whatever compiles is then run as validation runs it, over the valid examples of
//! the packs: every rule and aggregate checked at each node its context names.
#![no_main]

use std::sync::LazyLock;

use caregate_engine::standard::rulebook::compile_rules;
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

static EXAMPLES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../../schemas/cin-census/2025-26/examples/valid/return.json"),
        include_str!("../../../schemas/referral/1.0/examples/valid/full.json"),
        include_str!("../../../schemas/envelope/1.0/examples/valid/full.json"),
        include_str!("../../../schemas/escr-document/1.0/examples/valid/full.json"),
    ]
    .iter()
    .map(|text| serde_json::from_str(text).expect("the packs' examples are JSON"))
    .collect()
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let holidays: Vec<NaiveDate> = ["2025-12-25", "2025-12-26", "2026-01-01"]
        .iter()
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect();
    let stable: Vec<String> = ["asOf", "now", "params", "root.Header"].iter().map(|s| s.to_string()).collect();
    let Ok((rules, aggregates)) = compile_rules(text, &holidays, &stable) else {
        return;
    };
    let as_of = json!("2026-03-31");
    let now = json!("2026-03-31T12:00:00Z");
    let params = json!({"referenceDate": "2026-03-31", "collectionStart": "2025-04-01"});
    let agg = json!({});
    for root in EXAMPLES.iter() {
        for aggregate in &aggregates {
            aggregate.context.for_each(root, |_, node| {
                let _ = aggregate.value.eval(&[node, root, &Value::Null, &as_of, &now, &params, &agg]);
            });
        }
        for rule in &rules {
            rule.context.for_each(root, |_, node| {
                let _ = rule.program.check(&[node, root, &Value::Null, &as_of, &now, &params, &agg]);
            });
        }
    }
});
