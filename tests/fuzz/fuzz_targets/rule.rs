//! One expression of the packs' rule language, compiled and evaluated (`rules::Compiler`, `Program`): a
//! program or a compile error, then a value or an evaluation error, never a panic.
//!
//! Input: the expression, a NUL byte, and a JSON object binding the rule variables (`self`, `root`, `agg`,
//! `params`, …) by name; a variable it does not name, or all of them when there is no NUL or the JSON does not
//! read, is `null`. The seeds (`scripts/fuzz.sh`) pair each rule of the packs with a record of its example.
//!
//! The memo of stable sub-expressions must not change an answer: the expression is compiled twice, with and
//! without stable variables, and evaluated without a memo, with a fresh one and with the one just filled;
//! all four answers must be the same.
#![no_main]

use caregate_engine::expr::{Compiler, Memo};
use caregate_engine::standard::rulebook::VARIABLES;
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static NULL: Value = Value::Null;

fuzz_target!(|data: &[u8]| {
    let (source, bindings) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], serde_json::from_slice(&data[nul + 1..]).unwrap_or(Value::Null)),
        None => (data, Value::Null),
    };
    let Ok(source) = std::str::from_utf8(source) else {
        return;
    };
    let holidays: Vec<NaiveDate> = ["2025-12-25", "2025-12-26", "2026-01-01", "2026-04-03"]
        .iter()
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect();
    let stable: Vec<String> = ["asOf", "now", "params", "root.Header"].iter().map(|s| s.to_string()).collect();
    let plain = Compiler::new(&VARIABLES, holidays.clone()).compile(source);
    let memoised = Compiler::new(&VARIABLES, holidays).with_stable(&stable).compile(source);
    let (plain, memoised) = match (plain, memoised) {
        (Ok(p), Ok(m)) => (p, m),
        (Err(p), Err(m)) => {
            assert_eq!(p, m, "the stable variables change the compile error");
            let (line, column) = p.position();
            assert!(line >= 1 && column >= 1, "{p:?}");
            return;
        }
        (p, m) => panic!("the stable variables change whether `{source}` compiles: {p:?} / {m:?}"),
    };
    let vars: Vec<&Value> = VARIABLES.iter().map(|v| bindings.get(v).unwrap_or(&NULL)).collect();
    let expected = format!("{:?}", plain.eval(&vars));
    let mut memo = Memo::default();
    assert_eq!(format!("{:?}", memoised.eval(&vars)), expected, "`{source}` without a memo");
    assert_eq!(format!("{:?}", memoised.eval_with(&vars, &mut memo)), expected, "`{source}` with a fresh memo");
    assert_eq!(format!("{:?}", memoised.eval_with(&vars, &mut memo)), expected, "`{source}` with a filled memo");
    let _ = plain.check(&vars);
    let _ = (plain.reads("agg"), plain.may_read_field("self", "ChildIdentifiers"), plain.dotted_path());
});
