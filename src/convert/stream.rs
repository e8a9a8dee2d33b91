//! The fast path of XML → JSON conversion: quick-xml's events turned straight into JSON (text, or a
//! `serde_json::Value`) by the binding, with no tree in between. It takes only documents it can convert exactly
//! as the tree path would (elements known, in order, values of their datatype, no attributes or embedded
//! documents); for anything else it declines and the tree path — which also says what is wrong — converts
//! instead. Both give the same JSON.

use std::borrow::Cow;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

use crate::document::Limits;
use crate::standard::{Field, Node, ObjectNode, Repeat, ScalarType, StandardPack};

use super::from_xml::parse_typed;

/// Where the binding is, for each open element.
enum Frame<'p> {
    Object {
        node: &'p ObjectNode,
        furthest: Option<usize>,
        /// The unwrapped array being written (its field index), if any.
        open_array: Option<usize>,
    },
    Wrapped {
        field: &'p Field,
    },
    Scalar {
        kind: ScalarType,
        /// The element's text: borrowed from the input when it is one piece, as it usually is.
        text: Cow<'p, str>,
    },
}

/// What the walk over the events builds: JSON text or a value.
trait Sink {
    /// Opens an object that may have up to `fields` members.
    fn open_object(&mut self, fields: usize);
    fn close_object(&mut self);
    fn open_array(&mut self);
    fn close_array(&mut self);
    fn key(&mut self, key: &str);
    fn string(&mut self, text: &str);
    fn typed(&mut self, value: Value);
}

/// Pretty JSON text, exactly as `serde_json::to_string_pretty` writes it.
struct Text {
    out: Vec<u8>,
    /// For each open object or array: whether it is an array, and whether it has a member yet.
    open: Vec<(bool, bool)>,
}

impl Text {
    fn newline(&mut self, indent: usize) {
        self.out.push(b'\n');
        for _ in 0..indent {
            self.out.extend_from_slice(b"  ");
        }
    }

    /// Before a value: in an array, the comma and new line of an item.
    fn item(&mut self) {
        let depth = self.open.len();
        if let Some((true, has)) = self.open.last_mut() {
            let comma = std::mem::replace(has, true);
            if comma {
                self.out.push(b',');
            }
            self.newline(depth);
        }
    }

    fn close(&mut self, bracket: u8) {
        if let Some((_, has)) = self.open.pop() {
            if has {
                self.newline(self.open.len());
            }
        }
        self.out.push(bracket);
    }
}

impl Sink for Text {
    fn open_object(&mut self, _fields: usize) {
        self.item();
        self.out.push(b'{');
        self.open.push((false, false));
    }
    fn close_object(&mut self) {
        self.close(b'}');
    }
    fn open_array(&mut self) {
        self.item();
        self.out.push(b'[');
        self.open.push((true, false));
    }
    fn close_array(&mut self) {
        self.close(b']');
    }
    fn key(&mut self, key: &str) {
        let depth = self.open.len();
        if let Some((_, has)) = self.open.last_mut() {
            if std::mem::replace(has, true) {
                self.out.push(b',');
            }
        }
        self.newline(depth);
        let _ = serde_json::to_writer(&mut self.out, key);
        self.out.extend_from_slice(b": ");
    }
    fn string(&mut self, text: &str) {
        self.item();
        let _ = serde_json::to_writer(&mut self.out, text);
    }
    fn typed(&mut self, value: Value) {
        self.item();
        let _ = serde_json::to_writer(&mut self.out, &value);
    }
}

/// A `serde_json::Value`, built as the events come.
#[derive(Default)]
struct Built {
    open: Vec<(Value, Option<String>)>,
    done: Option<Value>,
}

impl Built {
    fn put(&mut self, value: Value) {
        match self.open.last_mut() {
            Some((Value::Object(map), key)) => {
                map.insert(key.take().unwrap_or_default(), value);
            }
            Some((Value::Array(items), _)) => items.push(value),
            Some(_) => {}
            None => self.done = Some(value),
        }
    }

    fn close(&mut self) {
        if let Some((value, _)) = self.open.pop() {
            self.put(value);
        }
    }
}

impl Sink for Built {
    fn open_object(&mut self, fields: usize) {
        self.open.push((Value::Object(Map::with_capacity(fields.min(32))), None));
    }
    fn close_object(&mut self) {
        self.close();
    }
    fn open_array(&mut self) {
        self.open.push((Value::Array(Vec::new()), None));
    }
    fn close_array(&mut self) {
        self.close();
    }
    fn key(&mut self, key: &str) {
        if let Some((_, pending)) = self.open.last_mut() {
            *pending = Some(key.to_string());
        }
    }
    fn string(&mut self, text: &str) {
        self.put(Value::String(text.to_string()));
    }
    fn typed(&mut self, value: Value) {
        self.put(value);
    }
}

/// The pretty JSON (as `serde_json::to_string_pretty` writes it) of a document of `pack`, or `None` when the
/// document needs the tree path.
pub fn xml_to_json<'p>(bytes: &'p [u8], pack: &'p StandardPack, limits: &Limits) -> Option<String> {
    element_to_json(bytes, &pack.binding.root, &pack.binding.node, &pack.binding.namespace, limits)
}

/// As [`xml_to_json`], for an element that stands for a value of `node` (a record of a bulk return): its
/// name must be `root` and it must be in `namespace` (declared on it, or none).
pub fn element_to_json<'p>(bytes: &'p [u8], root: &str, node: &'p Node, namespace: &str, limits: &Limits) -> Option<String> {
    let mut text = Text { out: Vec::with_capacity(bytes.len()), open: Vec::with_capacity(16) };
    walk(bytes, root, node, namespace, limits, &mut text)?;
    text.out.push(b'\n');
    String::from_utf8(text.out).ok()
}

/// As [`element_to_json`], giving the value itself.
pub fn element_to_value<'p>(bytes: &'p [u8], root: &str, node: &'p Node, namespace: &str, limits: &Limits) -> Option<Value> {
    let mut built = Built::default();
    walk(bytes, root, node, namespace, limits, &mut built)?;
    built.done
}

fn walk<'p>(bytes: &'p [u8], root: &str, node: &'p Node, namespace: &str, limits: &Limits, sink: &mut impl Sink) -> Option<()> {
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
                        sink.open_object(object.fields.len());
                        Frame::Object { node: object, furthest: None, open_array: None }
                    }
                    Some(Frame::Scalar { .. }) => return None,
                    Some(Frame::Wrapped { field }) => {
                        if local != field.item_xml {
                            return None;
                        }
                        open_value(sink, &field.node)?
                    }
                    Some(Frame::Object { node, furthest, open_array }) => {
                        // Elements come in the binding's order: look from the last one on before asking the map.
                        let from = furthest.unwrap_or(0);
                        let ahead = node.fields.get(from..).and_then(|rest| rest.iter().position(|f| !f.attribute && f.xml == local));
                        let (index, field) = match ahead {
                            Some(p) => (from + p, &node.fields[from + p]),
                            None => node.field_by_element(local)?,
                        };
                        if field.attribute {
                            return None;
                        }
                        if let Some(f) = *furthest {
                            if index < f || (index == f && field.repeat != Repeat::Repeated) {
                                return None;
                            }
                        }
                        *furthest = Some(index);
                        if open_array.is_some_and(|open| open != index) {
                            sink.close_array();
                            *open_array = None;
                        }
                        match field.repeat {
                            Repeat::One => {
                                sink.key(&field.json);
                                open_value(sink, &field.node)?
                            }
                            Repeat::Repeated => {
                                if open_array.is_none() {
                                    sink.key(&field.json);
                                    sink.open_array();
                                    *open_array = Some(index);
                                }
                                open_value(sink, &field.node)?
                            }
                            Repeat::Wrapped => {
                                sink.key(&field.json);
                                sink.open_array();
                                Frame::Wrapped { field }
                            }
                        }
                    }
                };
                stack.push(child);
                if empty {
                    close(sink, &mut stack)?;
                    done = stack.is_empty();
                }
            }
            Event::End(_) => {
                close(sink, &mut stack)?;
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
    done.then_some(())
}

/// Adds a piece of text to an element's text, borrowing while it is the only piece.
fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

/// Starts a value of `node`.
fn open_value<'p>(sink: &mut impl Sink, node: &'p Node) -> Option<Frame<'p>> {
    match node {
        Node::Object(object) => {
            sink.open_object(object.fields.len());
            Some(Frame::Object { node: object, furthest: None, open_array: None })
        }
        Node::Scalar(kind) => Some(Frame::Scalar { kind: *kind, text: Cow::Borrowed("") }),
        Node::Embedded { .. } => None,
    }
}

fn close(sink: &mut impl Sink, stack: &mut Vec<Frame<'_>>) -> Option<()> {
    match stack.pop()? {
        Frame::Scalar { kind: ScalarType::String, text } => sink.string(&text),
        Frame::Scalar { kind, text } => sink.typed(parse_typed(&text, kind)?),
        Frame::Object { open_array, .. } => {
            if open_array.is_some() {
                sink.close_array();
            }
            sink.close_object();
        }
        Frame::Wrapped { .. } => sink.close_array(),
    }
    Some(())
}
