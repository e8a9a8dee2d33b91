//! Instance → XML, driven by the binding. Writes the standard's namespace as the default namespace of the
//! document element, elements in binding order, wrapped and repeated arrays as the binding says, and embedded
//! documents in their own namespace.

use serde_json::Value;

use crate::standard::{Catalog, Field, Node, ObjectNode, Repeat, StandardPack};

/// Something in the instance that the binding has no place for; it is left out of the XML.
#[derive(Debug, Clone, PartialEq)]
pub struct Omission {
    pub pointer: String,
    pub reason: String,
}

/// The prefix of the document element of a standard whose other elements are in no namespace.
const UNQUALIFIED_PREFIX: &str = "doc";

pub struct ToXml {
    pub xml: String,
    pub omissions: Vec<Omission>,
}

/// Writes `value` as an XML document of `pack`, indented by two spaces.
pub fn to_xml(value: &Value, pack: &StandardPack, catalog: &Catalog) -> ToXml {
    let mut writer = Writer { out: String::with_capacity(4096), omissions: Vec::new(), catalog };
    writer.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    writer.document(value, pack, 0, "");
    writer.out.push('\n');
    ToXml { xml: writer.out, omissions: writer.omissions }
}

struct Writer<'a> {
    out: String,
    omissions: Vec<Omission>,
    catalog: &'a Catalog,
}

impl Writer<'_> {
    fn omit(&mut self, pointer: String, reason: impl Into<String>) {
        self.omissions.push(Omission { pointer, reason: reason.into() });
    }

    fn indent(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn document(&mut self, value: &Value, pack: &StandardPack, depth: usize, pointer: &str) {
        let binding = &pack.binding;
        if binding.namespace.is_empty() {
            self.element(&binding.root, "", value, &binding.node, depth, pointer);
        } else if binding.elements_namespace.is_empty() {
            // Only the document element is in the namespace: it takes a prefix, so that its children, which
            // have none, stay in no namespace.
            let ns = format!(" xmlns:{UNQUALIFIED_PREFIX}=\"{}\"", escape_attribute(&binding.namespace));
            let name = format!("{UNQUALIFIED_PREFIX}:{}", binding.root);
            self.element(&name, &ns, value, &binding.node, depth, pointer);
        } else {
            let ns = format!(" xmlns=\"{}\"", escape_attribute(&binding.namespace));
            self.element(&binding.root, &ns, value, &binding.node, depth, pointer);
        }
    }

    /// `<name extra attrs>content</name>` for a value of `node`.
    fn element(&mut self, name: &str, extra: &str, value: &Value, node: &Node, depth: usize, pointer: &str) {
        match node {
            Node::Object(object) => {
                let Some(map) = value.as_object() else {
                    self.omit(pointer.to_string(), "expected an object");
                    return;
                };
                self.out.push('<');
                self.out.push_str(name);
                self.out.push_str(extra);
                self.attributes(map, object);
                let before = self.out.len();
                self.out.push('>');
                let wrote = self.members(map, object, depth + 1, pointer);
                if wrote {
                    self.indent(depth);
                    self.out.push_str("</");
                    self.out.push_str(name);
                    self.out.push('>');
                } else {
                    self.out.truncate(before);
                    self.out.push_str("/>");
                }
            }
            Node::Scalar(_) => {
                let Some(text) = scalar_text(value) else {
                    self.omit(pointer.to_string(), "expected a single value");
                    return;
                };
                self.out.push('<');
                self.out.push_str(name);
                self.out.push_str(extra);
                self.out.push('>');
                escape_text_into(&text, &mut self.out);
                self.out.push_str("</");
                self.out.push_str(name);
                self.out.push('>');
            }
            Node::Embedded { .. } => {
                self.omit(pointer.to_string(), "an embedded document needs its holder");
            }
        }
    }

    fn attributes(&mut self, map: &serde_json::Map<String, Value>, object: &ObjectNode) {
        for field in object.fields.iter().filter(|f| f.attribute) {
            if let Some(text) = map.get(&field.json).and_then(scalar_text) {
                self.out.push(' ');
                self.out.push_str(&field.xml);
                self.out.push_str("=\"");
                self.out.push_str(&escape_attribute(&text));
                self.out.push('"');
            }
        }
    }

    /// Writes the element members of an object; returns whether any was written.
    fn members(
        &mut self,
        map: &serde_json::Map<String, Value>,
        object: &ObjectNode,
        depth: usize,
        pointer: &str,
    ) -> bool {
        for key in map.keys() {
            if object.field_by_json(key).is_none() {
                self.omit(
                    format!("{pointer}/{}", crate::standard::binding::escape_pointer_token(key)),
                    "not a field of this standard",
                );
            }
        }
        let mut wrote = false;
        for field in object.fields.iter().filter(|f| !f.attribute) {
            let Some(value) = map.get(&field.json) else { continue };
            let here = format!("{pointer}/{}", crate::standard::binding::escape_pointer_token(&field.json));
            wrote = true;
            self.field(field, value, map, object, depth, &here);
        }
        wrote
    }

    fn field(
        &mut self,
        field: &Field,
        value: &Value,
        siblings: &serde_json::Map<String, Value>,
        object: &ObjectNode,
        depth: usize,
        pointer: &str,
    ) {
        match field.repeat {
            Repeat::One => {
                if let Node::Embedded { by } = &*field.node {
                    let reference =
                        object.field_by_json(by).and_then(|(_, f)| siblings.get(&f.json)).and_then(Value::as_str);
                    match reference.and_then(|r| self.catalog.find(r)) {
                        Some(pack) => {
                            self.indent(depth);
                            self.out.push('<');
                            self.out.push_str(&field.xml);
                            self.out.push('>');
                            self.indent(depth + 1);
                            self.document(value, &pack, depth + 1, pointer);
                            self.indent(depth);
                            self.out.push_str("</");
                            self.out.push_str(&field.xml);
                            self.out.push('>');
                        }
                        None => self.omit(
                            pointer.to_string(),
                            format!("the standard `{}` is not known", reference.unwrap_or("(none)")),
                        ),
                    }
                    return;
                }
                self.indent(depth);
                self.element(&field.xml, "", value, &field.node, depth, pointer);
            }
            Repeat::Repeated => {
                let Some(items) = value.as_array() else {
                    self.omit(pointer.to_string(), "expected a list");
                    return;
                };
                for (i, item) in items.iter().enumerate() {
                    self.indent(depth);
                    self.element(&field.xml, "", item, &field.node, depth, &format!("{pointer}/{i}"));
                }
            }
            Repeat::Wrapped => {
                let Some(items) = value.as_array() else {
                    self.omit(pointer.to_string(), "expected a list");
                    return;
                };
                self.indent(depth);
                if items.is_empty() {
                    self.out.push('<');
                    self.out.push_str(&field.xml);
                    self.out.push_str("/>");
                    return;
                }
                self.out.push('<');
                self.out.push_str(&field.xml);
                self.out.push('>');
                for (i, item) in items.iter().enumerate() {
                    self.indent(depth + 1);
                    self.element(&field.item_xml, "", item, &field.node, depth + 1, &format!("{pointer}/{i}"));
                }
                self.indent(depth);
                self.out.push_str("</");
                self.out.push_str(&field.xml);
                self.out.push('>');
            }
        }
    }
}

/// The XML text of a scalar instance value.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn escape_text_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

pub fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}
