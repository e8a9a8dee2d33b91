//! Where each part of an instance came from in the file the user sent: its byte span and its path there
//! (XPath for XML, JSON Pointer for JSON), so that every finding — also one found on the converted instance —
//! points into the user's file.

use serde_json::Value;

use crate::document::{LineIndex, SpanTree};
use crate::finding::{Location, Span};

use crate::standard::binding::{escape_pointer_token, unescape_pointer_token};

/// The source of one instance node converted from XML. Children are aligned with the node's value: the
/// members of an object in the map's order, or the items of an array.
#[derive(Debug, Clone, Default)]
pub struct SourceNode {
    pub span: Span,
    /// XPath step(s) this node adds (`Child`, `Given[2]`, `@id`, `Body/Referral`); empty for an unwrapped
    /// array, whose items carry the steps.
    pub step: String,
    pub children: Vec<SourceNode>,
}

/// Maps instance pointers to source locations.
#[derive(Debug, Clone)]
pub enum SourceMap {
    Xml(SourceNode),
    Json(SpanTree),
}

/// A resolved place in the source.
#[derive(Debug, Clone)]
pub struct SourcePlace {
    pub span: Span,
    pub path: String,
    /// False when the pointer named something absent and the place is its nearest present ancestor.
    pub exact: bool,
}

impl SourceMap {
    /// The source place of `pointer` (a JSON Pointer into `value`, the instance this map belongs to).
    pub fn place(&self, value: &Value, pointer: &str) -> SourcePlace {
        match self {
            SourceMap::Json(tree) => {
                let (node, exact) = tree.resolve(value, pointer);
                let path = if exact { pointer.to_string() } else { resolved_prefix(value, pointer) };
                SourcePlace { span: node.span, path, exact }
            }
            SourceMap::Xml(root) => {
                let mut node = root;
                let mut value = value;
                let mut path = String::new();
                push_step(&mut path, &root.step);
                let mut exact = true;
                for token in pointer.split('/').skip(1) {
                    let token = unescape_pointer_token(token);
                    let next = match value {
                        Value::Object(map) => map.iter().position(|(k, _)| *k == token).and_then(|i| {
                            let child = map.get(&token)?;
                            Some((i, child))
                        }),
                        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| Some((i, items.get(i)?))),
                        _ => None,
                    };
                    match next.and_then(|(i, child)| Some((node.children.get(i)?, child))) {
                        Some((child_node, child_value)) => {
                            node = child_node;
                            value = child_value;
                            push_step(&mut path, &node.step);
                        }
                        None => {
                            exact = false;
                            break;
                        }
                    }
                }
                SourcePlace { span: node.span, path, exact }
            }
        }
    }

    /// A finding's location for `pointer`.
    pub fn locate(&self, value: &Value, pointer: &str, lines: &LineIndex) -> Location {
        let place = self.place(value, pointer);
        let (line, column) = lines.locate(place.span.start);
        Location { line, column, path: place.path, pointer: Some(pointer.to_string()), span: Some(place.span) }
    }
}

fn push_step(path: &mut String, step: &str) {
    if !step.is_empty() {
        path.push('/');
        path.push_str(step);
    }
}

/// The longest prefix of `pointer` that exists in `value`.
fn resolved_prefix(value: &Value, pointer: &str) -> String {
    let mut node = value;
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let key = unescape_pointer_token(token);
        let next = match node {
            Value::Object(map) => map.get(&key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(child) => {
                node = child;
                out.push('/');
                out.push_str(&escape_pointer_token(&key));
            }
            None => break,
        }
    }
    out
}
