//! The XML reader (`document::parse_xml`) on any bytes: a tree or exactly one located refusal, never a
//! panic. A tree's spans lie inside the input and nest (each node inside its parent, each attribute inside
//! its element), and its depth is what the depth limit counts: read again with a limit one below that depth,
//! the same bytes are refused as `too-deep`.
#![no_main]

use caregate_engine::document::{parse_xml, Element, Limits, XmlNode};
use caregate_engine::finding::Span;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match parse_xml(data, &limits) {
        Ok(doc) => {
            let depth = depth_within(&doc.root, Span::new(0, data.len()));
            assert!(depth <= limits.max_depth, "a tree {depth} deep passed a limit of {}", limits.max_depth);
            let tighter = Limits { max_depth: depth - 1, ..limits };
            match parse_xml(data, &tighter) {
                Ok(_) => panic!("a tree {depth} deep passed a limit of {}", depth - 1),
                Err(refusal) => assert_eq!(refusal.rule, "too-deep", "{refusal:?}"),
            }
        }
        Err(refusal) => {
            let location = refusal.location.as_ref().expect("a refusal is located");
            assert!(location.line >= 1 && location.column >= 1, "{location:?}");
            if let Some(span) = location.span {
                assert!(span.start <= span.end && span.end <= data.len(), "{span:?} outside {} bytes", data.len());
            }
        }
    }
});

/// Checks that `element` and everything in it lie within `outer`; gives the depth of the tree (1 for a leaf).
fn depth_within(element: &Element, outer: Span) -> usize {
    let span = element.span;
    assert!(outer.start <= span.start && span.start < span.end && span.end <= outer.end, "{span:?} outside {outer:?}");
    for attribute in &element.attributes {
        let a = attribute.span;
        assert!(span.start < a.start && a.start <= a.end && a.end < span.end, "attribute {a:?} outside {span:?}");
    }
    let mut deepest = 0;
    for child in &element.children {
        match child {
            XmlNode::Element(e) => deepest = deepest.max(depth_within(e, span)),
            XmlNode::Text(t) => {
                let s = t.span;
                assert!(span.start < s.start && s.start <= s.end && s.end < span.end, "text {s:?} outside {span:?}");
            }
        }
    }
    deepest + 1
}
