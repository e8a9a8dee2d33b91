//! The JSON reader (`document::parse_json`, and `parse_json_value`, which keeps no spans) on any bytes: a
//! value or exactly one located refusal, never a panic. Both entry points agree (the same value, or the same
//! refusal at the same place); a value read agrees with
//! serde_json's reading of the same text; a refusal of text serde_json reads is one of the refusals made on
//! purpose (a repeated key, nesting past the limit, a number too large); the span tree mirrors the value and
//! its spans lie inside the input.
#![no_main]

use caregate_engine::document::{parse_json, parse_json_value, without_bom, Limits, SpanTree};
use caregate_engine::finding::Span;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let with_spans = parse_json(data, &limits);
    let without_spans = parse_json_value(data, &limits);
    let theirs: Option<Value> = serde_json::from_slice(without_bom(data)).ok();
    match (with_spans, without_spans) {
        (Ok(doc), Ok(value)) => {
            assert_eq!(doc.value, value, "parse_json and parse_json_value disagree");
            mirrors(&doc.value, &doc.spans, Span::new(0, data.len()));
            // Within the depth limit (64) serde_json (which stops at 128) reads everything that was read.
            assert_eq!(Some(&doc.value), theirs.as_ref(), "serde_json reads the same text otherwise");
        }
        (Err(a), Err(b)) => {
            // The same refusal at the same place (a repeated key's message names its first place only when
            // spans are kept).
            assert_eq!(
                (&a.rule, &a.location),
                (&b.rule, &b.location),
                "parse_json and parse_json_value refuse differently"
            );
            let location = a.location.as_ref().expect("a refusal is located");
            assert!(location.line >= 1 && location.column >= 1, "{location:?}");
            if let Some(span) = location.span {
                assert!(span.start <= span.end && span.end <= data.len(), "{span:?} outside {} bytes", data.len());
            }
            if theirs.is_some() {
                let on_purpose = matches!(a.rule.as_str(), "json-duplicate-key" | "too-deep" | "input-too-large")
                    || a.message.contains("too large to represent");
                assert!(on_purpose, "serde_json reads what was refused: {a:?}");
            }
        }
        (a, b) => panic!("parse_json and parse_json_value disagree: {a:?} / {b:?}"),
    }
});

/// Checks that `tree` has a node for every array item and object member of `value`, and that its spans nest
/// within `outer`.
fn mirrors(value: &Value, tree: &SpanTree, outer: Span) {
    let span = tree.span;
    assert!(outer.start <= span.start && span.start < span.end && span.end <= outer.end, "{span:?} outside {outer:?}");
    let children: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(members) => members.values().collect(),
        _ => Vec::new(),
    };
    assert_eq!(children.len(), tree.children.len(), "the span tree does not mirror {value}");
    for (child, node) in children.into_iter().zip(&tree.children) {
        if value.is_object() {
            let key = node.key.expect("a member's key has a span");
            assert!(
                span.start < key.start && key.end <= node.span.start,
                "key {key:?} not before its value {:?}",
                node.span
            );
        }
        mirrors(child, node, Span::new(span.start + 1, span.end - 1));
    }
}
