//! The fast path of XML → JSON conversion: quick-xml's events turned straight into JSON (text, or a
//! `serde_json::Value`) by the binding, with no tree in between. It takes only documents it can convert exactly
//! as the tree path would (elements known, in order, values of their datatype, no attributes or embedded
//! documents); for anything else it declines and the tree path — which also says what is wrong — converts
//! instead. Both give the same JSON.

use std::borrow::Cow;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use serde_json::{Map, Value};

use crate::document::tokens::{PlainTokens, TokenSource, XmlTokens};
use crate::document::Limits;
use crate::finding::{Finding, Location, Span};
use crate::standard::{Field, Node, ObjectNode, Repeat, ScalarType, StandardPack};

use crate::instance::from_xml::{not_of_type, parse_typed, unknown_element};
use crate::instance::SourceNode;

/// Where the binding is, for each open element.
enum Frame<'p> {
    Object {
        node: &'p ObjectNode,
        /// The element's name, for a finding about an element it does not have.
        name: &'p str,
        furthest: Option<usize>,
        /// The unwrapped array being written (its field index), if any, and how many items it has.
        open_array: Option<usize>,
        items: usize,
    },
    Wrapped {
        field: &'p Field,
        items: usize,
    },
    Scalar {
        kind: ScalarType,
        /// The element's text: borrowed from the input when it is one piece, as it usually is.
        text: Cow<'p, str>,
        /// Where the element starts, and what a blank one becomes.
        at: usize,
        blank: Blank,
    },
    /// An element the standard does not have, skipped to its end (`depth` elements open inside it).
    Unknown {
        at: usize,
        name: &'p str,
        parent: &'p ObjectNode,
        parent_name: &'p str,
        depth: usize,
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
    /// Whether faults of the values (text not of its datatype, an element the standard does not have) are
    /// reported through [`Sink::fault`] and the walk goes on; otherwise the walk declines at the first.
    fn tolerant(&self) -> bool {
        false
    }
    /// A node of the value starts at byte `at` of the element's source; `step` makes its XPath step (only a
    /// sink that traces the source pays for making it).
    fn enter(&mut self, _at: usize, _step: impl FnOnce() -> String) {}
    /// The node last entered ends at byte `end` (`None`: where its last child ends, for an unwrapped array).
    fn leave(&mut self, _end: Option<usize>) {}
    /// The member whose key was given last is not provided after all (a blank element): forget its key and
    /// the node entered for it.
    fn discard(&mut self) {}
    /// The item last entered is left out of its list after all (a blank item): forget the node entered for it.
    /// Nothing of it has been written (an item's separator is written with its value).
    fn drop_item(&mut self) {}
    /// A fault at `span` of the source, in the node last entered (`step`: one more step below it).
    fn fault(&mut self, _rule: &str, _message: String, _fix: Option<String>, _span: Span, _step: Option<&str>) {}
}

/// Pretty JSON text, laid out exactly as `serde_json::to_string_pretty` writes the value (two spaces a level,
/// `"key": value`, an empty object or array as `{}` or `[]`), one event at a time. Laid out here rather than by
/// serde_json's `PrettyFormatter` because that writes each level of indentation as a write of its own, which
/// was most of the cost of a key; a line's indentation here is one copy from [`SPACES`].
struct Text {
    out: Vec<u8>,
    /// Levels of indentation of the next line.
    indent: usize,
    /// For each open object or array: whether it is an array, and whether it has a member yet.
    open: Vec<(bool, bool)>,
    /// Where the last key began and whether its object had a member before it, to take the key back.
    last_key: (usize, bool),
}

/// Indentation, copied a slice at a time.
const SPACES: [u8; 128] = [b' '; 128];

impl Text {
    fn new(capacity: usize) -> Text {
        Text::nested(Vec::with_capacity(capacity), 0)
    }

    /// Text appended to `out`, laid out as a value `depth` levels deep in a pretty document, so that each new
    /// line it writes is indented as it would be there.
    fn nested(out: Vec<u8>, depth: usize) -> Text {
        Text { out, indent: depth, open: Vec::with_capacity(16), last_key: (0, false) }
    }

    /// A new line, indented to the current level.
    fn newline(&mut self) {
        self.out.push(b'\n');
        let mut left = self.indent * 2;
        while left > 0 {
            let n = left.min(SPACES.len());
            self.out.extend_from_slice(&SPACES[..n]);
            left -= n;
        }
    }

    /// Before a value: in an array, the separator and indentation of an item.
    fn item(&mut self) {
        if let Some((true, has)) = self.open.last_mut() {
            if std::mem::replace(has, true) {
                self.out.push(b',');
            }
            self.newline();
        }
    }

    fn open(&mut self, array: bool) {
        self.item();
        self.out.push(if array { b'[' } else { b'{' });
        self.indent += 1;
        self.open.push((array, false));
    }

    fn close(&mut self, array: bool) {
        let has = self.open.pop().is_some_and(|(_, has)| has);
        self.indent = self.indent.saturating_sub(1);
        if has {
            self.newline();
        }
        self.out.push(if array { b']' } else { b'}' });
    }

    /// A string as JSON: copied between quotes when nothing in it needs escaping, as names and most values.
    fn quoted(&mut self, text: &str) {
        // A fold without an early exit, which the compiler vectorises.
        let escapes = text.bytes().fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\'));
        if !escapes {
            self.out.reserve(text.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(text.as_bytes());
            self.out.push(b'"');
        } else {
            let _ = serde_json::to_writer(&mut self.out, text);
        }
    }
}

impl Sink for Text {
    fn open_object(&mut self, _fields: usize) {
        self.open(false);
    }
    fn close_object(&mut self) {
        self.close(false);
    }
    fn open_array(&mut self) {
        self.open(true);
    }
    fn close_array(&mut self) {
        self.close(true);
    }
    fn key(&mut self, key: &str) {
        let at = self.out.len();
        let before = match self.open.last_mut() {
            Some((_, has)) => std::mem::replace(has, true),
            None => false,
        };
        self.last_key = (at, before);
        if before {
            self.out.push(b',');
        }
        self.newline();
        self.quoted(key);
        self.out.extend_from_slice(b": ");
    }
    fn string(&mut self, text: &str) {
        self.item();
        self.quoted(text);
    }
    fn typed(&mut self, value: Value) {
        self.item();
        let _ = serde_json::to_writer(&mut self.out, &value);
    }
    /// Takes back the key last written: cutting the text and forgetting that its object had a member.
    fn discard(&mut self) {
        let (at, before) = self.last_key;
        self.out.truncate(at);
        if let Some((_, has)) = self.open.last_mut() {
            *has = before;
        }
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
    fn discard(&mut self) {
        if let Some((_, pending)) = self.open.last_mut() {
            *pending = None;
        }
    }
}

/// A value with the source of each of its nodes, and the faults found on the way: all that locating a finding
/// in a record needs, from the one parse of it.
struct Traced {
    built: Built,
    /// The source nodes open, innermost last.
    open: Vec<SourceNode>,
    done: Option<SourceNode>,
    faults: Vec<Finding>,
}

impl Sink for Traced {
    fn open_object(&mut self, fields: usize) {
        self.built.open_object(fields);
    }
    fn close_object(&mut self) {
        self.built.close_object();
    }
    fn open_array(&mut self) {
        self.built.open_array();
    }
    fn close_array(&mut self) {
        self.built.close_array();
    }
    fn key(&mut self, key: &str) {
        self.built.key(key);
    }
    fn string(&mut self, text: &str) {
        self.built.string(text);
    }
    fn typed(&mut self, value: Value) {
        self.built.typed(value);
    }
    fn tolerant(&self) -> bool {
        true
    }
    fn enter(&mut self, at: usize, step: impl FnOnce() -> String) {
        self.open.push(SourceNode { span: Span::point(at), step: step(), children: Vec::new() });
    }
    fn leave(&mut self, end: Option<usize>) {
        let Some(mut node) = self.open.pop() else { return };
        if let Some(end) = end {
            node.span.end = end.max(node.span.start);
        }
        match self.open.last_mut() {
            Some(parent) => {
                parent.span.end = parent.span.end.max(node.span.end);
                parent.children.push(node);
            }
            None => self.done = Some(node),
        }
    }
    fn discard(&mut self) {
        self.built.discard();
        self.open.pop();
    }
    fn drop_item(&mut self) {
        self.open.pop();
    }
    fn fault(&mut self, rule: &str, message: String, fix: Option<String>, span: Span, step: Option<&str>) {
        let mut path = String::new();
        for node in self.open.iter().skip(1) {
            if !node.step.is_empty() {
                path.push('/');
                path.push_str(&node.step);
            }
        }
        if let Some(step) = step {
            path.push('/');
            path.push_str(step);
        }
        let mut finding = Finding::error(rule, message).with_location(Location {
            line: 0,
            column: 0,
            path,
            pointer: None,
            span: Some(span),
        });
        finding.fix = fix;
        self.faults.push(finding);
    }
}

/// The pretty JSON (as `serde_json::to_string_pretty` writes it) of a document of `pack`, or `None` when the
/// document needs the tree path.
pub fn xml_to_json<'p>(bytes: &'p [u8], pack: &'p StandardPack, limits: &Limits) -> Option<String> {
    // The walk takes every element to be in the document element's namespace.
    if pack.binding.elements_namespace != pack.binding.namespace {
        return None;
    }
    element_to_json(bytes, &pack.binding.root, &pack.binding.node, &pack.binding.namespace, limits)
}

/// As [`xml_to_json`], for an element that stands for a value of `node` (a record of a bulk return): its
/// name must be `root` and it must be in `namespace` (declared on it, or none).
pub fn element_to_json<'p>(
    bytes: &'p [u8],
    root: &str,
    node: &'p Node,
    namespace: &str,
    limits: &Limits,
) -> Option<String> {
    let mut text = Text::new(bytes.len());
    walk(bytes, root, node, namespace, limits, &mut text)?;
    text.out.push(b'\n');
    String::from_utf8(text.out).ok()
}

/// As [`element_to_json`], appending the JSON to `out` as it stands `depth` levels deep in a pretty document
/// (each line after its first indented by as many levels, and no new line after it), with no copy of its own:
/// for the records of a bulk return, written one after another into one buffer. False, with `out` as it was,
/// when the element needs the tree path. What is appended is UTF-8: the text the walk writes is all `&str`.
pub fn element_to_json_into<'p>(
    bytes: &'p [u8],
    root: &str,
    node: &'p Node,
    namespace: &str,
    limits: &Limits,
    depth: usize,
    out: &mut Vec<u8>,
) -> bool {
    let mark = out.len();
    let mut text = Text::nested(std::mem::take(out), depth);
    let converted = walk(bytes, root, node, namespace, limits, &mut text).is_some();
    *out = text.out;
    if !converted {
        out.truncate(mark);
    }
    converted
}

/// As [`element_to_json`], giving the value itself.
pub fn element_to_value<'p>(
    bytes: &'p [u8],
    root: &str,
    node: &'p Node,
    namespace: &str,
    limits: &Limits,
) -> Option<Value> {
    let mut built = Built::default();
    walk(bytes, root, node, namespace, limits, &mut built)?;
    built.done
}

/// A record of a bulk return converted in one parse: its value, the source of each node of it (spans are
/// byte offsets into the record's bytes), and the faults found on the way — values not of their datatype
/// (kept as text, as the tree path keeps them) and elements the standard does not have (left out) — as
/// findings whose location holds the span and the XPath below the record, but no line yet.
pub struct TracedRecord {
    pub value: Value,
    pub source: SourceNode,
    pub faults: Vec<Finding>,
}

/// As [`element_to_value`], also for a record with faults in its values, with the source of every node. `None`
/// for XML the binding cannot follow exactly (attributes, prefixes, elements out of order or repeated where
/// one is allowed, text beside elements, blank items of a list, not well-formed): the tree path, which says
/// what is wrong, converts those instead.
pub fn element_to_record<'p>(
    bytes: &'p [u8],
    root: &str,
    node: &'p Node,
    namespace: &str,
    limits: &Limits,
) -> Option<TracedRecord> {
    let mut traced = Traced { built: Built::default(), open: Vec::with_capacity(16), done: None, faults: Vec::new() };
    walk(bytes, root, node, namespace, limits, &mut traced)?;
    Some(TracedRecord { value: traced.built.done?, source: traced.done?, faults: traced.faults })
}

fn walk<'p>(
    bytes: &'p [u8],
    root: &'p str,
    node: &'p Node,
    namespace: &str,
    limits: &Limits,
    sink: &mut impl Sink,
) -> Option<()> {
    if bytes.len() > limits.max_bytes {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let stripped = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Offsets in the events are into the text without its byte order mark; spans are into `bytes`.
    let shift = text.len() - stripped.len();
    // Line ends are normalised (XML 1.0 § 2.11) only where there is a carriage return to normalise: most
    // records have none, and are read by the plain tokenizer, their text taken as it stands.
    let carriage_returns = memchr::memchr(b'\r', stripped.as_bytes()).is_some();
    // Namespaces are not resolved per element: the fast path takes only documents whose one namespace
    // declaration is the default one on the document element and whose names have no prefix, so that every
    // element is in that namespace.
    if carriage_returns {
        let tokens = XmlTokens::plain(stripped, shift, limits);
        walk_tokens(tokens, stripped, shift, true, root, node, namespace, sink)
    } else {
        let tokens = PlainTokens::new(stripped, shift, limits);
        walk_tokens(tokens, stripped, shift, false, root, node, namespace, sink)
    }
}

/// The walk over the events of `stripped` (the record's text without its byte order mark, `shift` bytes
/// into the record), whose text needs its line ends normalised when `carriage_returns`.
#[allow(clippy::too_many_arguments)]
fn walk_tokens<'p>(
    mut tokens: impl TokenSource<'p>,
    stripped: &'p str,
    shift: usize,
    carriage_returns: bool,
    root: &'p str,
    node: &'p Node,
    namespace: &str,
    sink: &mut impl Sink,
) -> Option<()> {
    let tolerant = sink.tolerant();
    let mut stack: Vec<Frame<'p>> = Vec::with_capacity(16);
    let mut done = false;
    loop {
        let (event, Span { start: at, end }) = tokens.next_token().ok()?;
        if let Some(Frame::Unknown { depth, .. }) = stack.last_mut() {
            match &event {
                Event::Start(_) => *depth += 1,
                Event::End(_) if *depth > 0 => *depth -= 1,
                Event::End(_) => {
                    let Some(Frame::Unknown { at: from, name, parent, parent_name, .. }) = stack.pop() else {
                        return None;
                    };
                    let (message, fix) = unknown_element(name, parent_name, parent);
                    sink.fault("unknown-element", message, fix, Span::new(from, end), Some(name));
                }
                Event::Eof | Event::DocType(_) => return None,
                _ => {}
            }
            continue;
        }
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
                } else if !e.attributes_raw().trim_start_matches([' ', '\t', '\r', '\n']).is_empty() {
                    // Any attribute (or anything quick-xml would read as one): the tree path converts it.
                    return None;
                }
                let child: Frame<'p> = match stack.last_mut() {
                    None => {
                        if local != root {
                            return None;
                        }
                        let Node::Object(object) = node else { return None };
                        sink.enter(at, String::new);
                        sink.open_object(object.fields.len());
                        Frame::Object { node: object, name: root, furthest: None, open_array: None, items: 0 }
                    }
                    Some(Frame::Scalar { .. } | Frame::Unknown { .. }) => return None,
                    Some(Frame::Wrapped { field, items }) => {
                        if local != field.item_xml {
                            return None;
                        }
                        *items += 1;
                        sink.enter(at, || format!("{}[{items}]", field.item_xml));
                        open_value(sink, field, &field.item_xml, at, Blank::item(field))?
                    }
                    Some(Frame::Object { node, name, furthest, open_array, items }) => {
                        // Elements come in the binding's order: look from the last one on before asking the map.
                        let from = furthest.unwrap_or(0);
                        let ahead = node
                            .fields
                            .get(from..)
                            .and_then(|rest| rest.iter().position(|f| !f.attribute && f.xml == local));
                        let found = match ahead {
                            Some(p) => Some((from + p, &node.fields[from + p])),
                            None => node.field_by_element(local).filter(|(_, f)| !f.attribute),
                        };
                        let Some((index, field)) = found else {
                            if !tolerant {
                                return None;
                            }
                            let (parent, parent_name) = (*node, *name);
                            // The name as the standard does not have it: borrowed from the input.
                            let name = field_name_in(stripped, at - shift, local)?;
                            if empty {
                                let (message, fix) = unknown_element(name, parent_name, parent);
                                sink.fault("unknown-element", message, fix, Span::new(at, end), Some(name));
                                continue;
                            }
                            stack.push(Frame::Unknown { at, name, parent, parent_name, depth: 0 });
                            continue;
                        };
                        if let Some(f) = *furthest {
                            if index < f || (index == f && field.repeat != Repeat::Repeated) {
                                return None;
                            }
                        }
                        *furthest = Some(index);
                        if open_array.is_some_and(|open| open != index) {
                            sink.close_array();
                            sink.leave(None);
                            *open_array = None;
                        }
                        match field.repeat {
                            Repeat::One => {
                                sink.key(&field.json);
                                sink.enter(at, || field.xml.clone());
                                open_value(sink, field, &field.xml, at, Blank::one(field))?
                            }
                            Repeat::Repeated => {
                                if open_array.is_none() {
                                    sink.key(&field.json);
                                    sink.open_array();
                                    sink.enter(at, String::new);
                                    *open_array = Some(index);
                                    *items = 0;
                                }
                                *items += 1;
                                sink.enter(at, || format!("{}[{items}]", field.xml));
                                open_value(sink, field, &field.xml, at, Blank::item(field))?
                            }
                            Repeat::Wrapped => {
                                sink.key(&field.json);
                                sink.open_array();
                                sink.enter(at, || field.xml.clone());
                                Frame::Wrapped { field, items: 0 }
                            }
                        }
                    }
                };
                stack.push(child);
                if empty {
                    close(sink, &mut stack, end)?;
                    done = stack.is_empty();
                }
            }
            Event::End(_) => {
                close(sink, &mut stack, end)?;
                done = stack.is_empty();
            }
            Event::Text(t) => {
                let content = if carriage_returns { t.xml10_content() } else { t.into_inner() };
                match stack.last_mut() {
                    Some(Frame::Scalar { text, .. }) => append(text, content),
                    _ if blank(&content) => {}
                    _ => return None,
                }
            }
            Event::CData(t) => match stack.last_mut() {
                Some(Frame::Scalar { text, .. }) => {
                    append(text, if carriage_returns { t.xml10_content() } else { t.into_inner() })
                }
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

/// The element name `local` as it stands in `text` at the tag starting at byte `at` (`<` then the name), so
/// that it can be borrowed for as long as the text.
fn field_name_in<'t>(text: &'t str, at: usize, local: &str) -> Option<&'t str> {
    let name = text.get(at + 1..at + 1 + local.len())?;
    (name == local).then_some(name)
}

/// Whether text is all white space (as `str::trim` has it): the indentation between elements, mostly, which
/// is ASCII and so told byte by byte before any character is decoded.
fn blank(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) || text.trim().is_empty()
}

/// Adds a piece of text to an element's text, borrowing while it is the only piece.
fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

/// What a blank scalar element becomes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Blank {
    /// The text it holds.
    Value,
    /// Nothing: the member is not provided.
    Absent,
    /// An item of a list that leaves blank items out: the tree path converts the record.
    Decline,
}

impl Blank {
    fn one(field: &Field) -> Blank {
        if field.blank_absent {
            Blank::Absent
        } else {
            Blank::Value
        }
    }
    fn item(field: &Field) -> Blank {
        if field.blank_absent {
            Blank::Decline
        } else {
            Blank::Value
        }
    }
}

/// Starts a value of `field`, whose element `name` starts at byte `at`.
fn open_value<'p>(sink: &mut impl Sink, field: &'p Field, name: &'p str, at: usize, blank: Blank) -> Option<Frame<'p>> {
    match &*field.node {
        Node::Object(object) => {
            sink.open_object(object.fields.len());
            Some(Frame::Object { node: object, name, furthest: None, open_array: None, items: 0 })
        }
        Node::Scalar(kind) => Some(Frame::Scalar { kind: *kind, text: Cow::Borrowed(""), at, blank }),
        Node::Embedded { .. } => None,
    }
}

/// Closes the innermost element, which ends at byte `end`.
fn close(sink: &mut impl Sink, stack: &mut Vec<Frame<'_>>, end: usize) -> Option<()> {
    match stack.pop()? {
        Frame::Scalar { text, blank: Blank::Absent, .. } if blank(&text) => {
            sink.discard();
            return Some(());
        }
        // A blank item of a wrapped list is left out, as the tree path leaves it out (the list stays, empty if
        // every item is blank); of an unwrapped list, whose key is written with its first item, the tree path
        // converts the record.
        Frame::Scalar { text, blank: Blank::Decline, .. } if blank(&text) => {
            // The items after it are numbered as the tree numbers them: among the items kept.
            let Some(Frame::Wrapped { items, .. }) = stack.last_mut() else { return None };
            *items = items.saturating_sub(1);
            sink.drop_item();
            return Some(());
        }
        Frame::Scalar { kind: ScalarType::String, text, .. } => sink.string(&text),
        Frame::Scalar { kind, text, at, .. } => match parse_typed(&text, kind) {
            Some(value) => sink.typed(value),
            None if sink.tolerant() => {
                sink.fault("type", not_of_type(&text, kind), None, Span::new(at, end), None);
                sink.string(&text);
            }
            None => return None,
        },
        Frame::Object { open_array, .. } => {
            if open_array.is_some() {
                sink.close_array();
                sink.leave(None);
            }
            sink.close_object();
        }
        Frame::Wrapped { .. } => sink.close_array(),
        Frame::Unknown { .. } => return None,
    }
    sink.leave(Some(end));
    Some(())
}
