//! The fast path of XML → JSON conversion: quick-xml's events turned straight into JSON text by the binding,
//! with no tree in between. It takes only documents it can convert exactly as the tree path would (elements
//! known, in order, values of their datatype, no attributes or embedded documents); for anything else it
//! declines and the tree path — which also says what is wrong — converts instead. Both give the same text.

use std::borrow::Cow;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;

use crate::document::Limits;
use crate::standard::{Field, Node, ObjectNode, Repeat, ScalarType, StandardPack};

use super::from_xml::parse_typed;

enum Frame<'p> {
    Object {
        node: &'p ObjectNode,
        indent: usize,
        members: usize,
        furthest: Option<usize>,
        /// The unwrapped array being written (its field index) and how many items it has.
        open_array: Option<(usize, usize)>,
    },
    Wrapped {
        field: &'p Field,
        indent: usize,
        items: usize,
    },
    Scalar {
        kind: ScalarType,
        /// The element's text: borrowed from the input when it is one piece, as it usually is.
        text: Cow<'p, str>,
    },
}

/// The pretty JSON (as `serde_json::to_string_pretty` writes it) of a document of `pack`, or `None` when the
/// document needs the tree path.
pub fn xml_to_json<'p>(bytes: &'p [u8], pack: &'p StandardPack, limits: &Limits) -> Option<String> {
    element_to_json(bytes, &pack.binding.root, &pack.binding.node, &pack.binding.namespace, limits)
}

/// As [`xml_to_json`], for an element that stands for a value of `node` (a record of a bulk return): its
/// name must be `root` and it must be in `namespace` (declared on it, or none).
pub fn element_to_json<'p>(bytes: &'p [u8], root: &str, node: &'p Node, namespace: &str, limits: &Limits) -> Option<String> {
    if bytes.len() > limits.max_bytes {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Namespaces are not resolved per element: the fast path takes only documents whose one namespace
    // declaration is the default one on the document element and whose names have no prefix, so that every
    // element is in that namespace.
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut stack: Vec<Frame<'p>> = Vec::with_capacity(16);
    let mut done = false;
    loop {
        let event = reader.read_event().ok()?;
        match event {
            Event::Start(_) | Event::Empty(_) if done => return None,
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.name().into_inner();
                if local.contains(':') {
                    return None;
                }
                if stack.is_empty() {
                    let mut declared = String::new();
                    for attribute in e.attributes() {
                        let attribute = attribute.ok()?;
                        if attribute.key.into_inner() != "xmlns" {
                            return None;
                        }
                        declared = attribute.value.into_owned();
                    }
                    if declared != namespace {
                        return None;
                    }
                } else if e.attributes().next().is_some() {
                    return None;
                }
                if stack.len() >= limits.max_depth {
                    return None;
                }
                let child: Frame<'p> = match stack.last_mut() {
                    None => {
                        if local != root {
                            return None;
                        }
                        let Node::Object(object) = node else { return None };
                        out.push(b'{');
                        Frame::Object { node: object, indent: 0, members: 0, furthest: None, open_array: None }
                    }
                    Some(Frame::Scalar { .. }) => return None,
                    Some(Frame::Wrapped { field, indent, items }) => {
                        if local != field.item_xml {
                            return None;
                        }
                        if *items > 0 {
                            out.push(b',');
                        }
                        *items += 1;
                        newline(&mut out, *indent + 1);
                        open_value(&mut out, &field.node, *indent + 1)?
                    }
                    Some(Frame::Object { node, indent, members, furthest, open_array }) => {
                        let (index, field) = node.field_by_element(local)?;
                        if field.attribute {
                            return None;
                        }
                        if let Some(f) = *furthest {
                            if index < f || (index == f && field.repeat != Repeat::Repeated) {
                                return None;
                            }
                        }
                        *furthest = Some(index);
                        if let Some((open, _)) = *open_array {
                            if open != index {
                                newline(&mut out, *indent + 1);
                                out.push(b']');
                                *open_array = None;
                            }
                        }
                        match field.repeat {
                            Repeat::One => {
                                member(&mut out, members, *indent + 1, &field.json);
                                open_value(&mut out, &field.node, *indent + 1)?
                            }
                            Repeat::Repeated => {
                                let items = match open_array {
                                    Some((_, items)) => items,
                                    None => {
                                        member(&mut out, members, *indent + 1, &field.json);
                                        out.push(b'[');
                                        *open_array = Some((index, 0));
                                        match open_array {
                                            Some((_, items)) => items,
                                            None => return None,
                                        }
                                    }
                                };
                                if *items > 0 {
                                    out.push(b',');
                                }
                                *items += 1;
                                newline(&mut out, *indent + 2);
                                open_value(&mut out, &field.node, *indent + 2)?
                            }
                            Repeat::Wrapped => {
                                member(&mut out, members, *indent + 1, &field.json);
                                out.push(b'[');
                                Frame::Wrapped { field, indent: *indent + 1, items: 0 }
                            }
                        }
                    }
                };
                stack.push(child);
                if empty {
                    close(&mut out, &mut stack)?;
                    done = stack.is_empty();
                }
            }
            Event::End(_) => {
                close(&mut out, &mut stack)?;
                done = stack.is_empty();
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(Frame::Scalar { text, .. }) => append(text, content),
                    _ if content.trim().is_empty() => {}
                    _ => return None,
                }
            }
            Event::CData(t) => match stack.last_mut() {
                Some(Frame::Scalar { text, .. }) => append(text, t.xml10_content()),
                _ => return None,
            },
            Event::GeneralRef(r) => {
                let Some(Frame::Scalar { text, .. }) = stack.last_mut() else { return None };
                if r.is_char_ref() {
                    let c = r.resolve_char_ref().ok()??;
                    text.to_mut().push(c);
                } else {
                    let name: &str = &r;
                    append(text, Cow::Borrowed(resolve_predefined_entity(name)?));
                }
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::DocType(_) => return None,
            Event::Eof => break,
        }
    }
    if !done {
        return None;
    }
    out.push(b'\n');
    String::from_utf8(out).ok()
}

/// Adds a piece of text to an element's text, borrowing while it is the only piece.
fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

fn newline(out: &mut Vec<u8>, indent: usize) {
    out.push(b'\n');
    for _ in 0..indent {
        out.extend_from_slice(b"  ");
    }
}

fn member(out: &mut Vec<u8>, members: &mut usize, indent: usize, key: &str) {
    if *members > 0 {
        out.push(b',');
    }
    *members += 1;
    newline(out, indent);
    let _ = serde_json::to_writer(&mut *out, key);
    out.extend_from_slice(b": ");
}

/// Starts the JSON of a value of `node` at `indent`.
fn open_value<'p>(out: &mut Vec<u8>, node: &'p Node, indent: usize) -> Option<Frame<'p>> {
    match node {
        Node::Object(object) => {
            out.push(b'{');
            Some(Frame::Object { node: object, indent, members: 0, furthest: None, open_array: None })
        }
        Node::Scalar(kind) => Some(Frame::Scalar { kind: *kind, text: Cow::Borrowed("") }),
        Node::Embedded { .. } => None,
    }
}

fn close(out: &mut Vec<u8>, stack: &mut Vec<Frame<'_>>) -> Option<()> {
    match stack.pop()? {
        Frame::Scalar { kind: ScalarType::String, text } => serde_json::to_writer(&mut *out, text.as_ref()).ok()?,
        Frame::Scalar { kind, text } => {
            let value: Value = parse_typed(&text, kind)?;
            serde_json::to_writer(&mut *out, &value).ok()?
        }
        Frame::Object { indent, members, open_array, .. } => {
            if open_array.is_some() {
                newline(out, indent + 1);
                out.push(b']');
            }
            if members > 0 {
                newline(out, indent);
            }
            out.push(b'}');
        }
        Frame::Wrapped { indent, items, .. } => {
            if items > 0 {
                newline(out, indent);
            }
            out.push(b']');
        }
    }
    Some(())
}
