//! What a standard looks like to the people who build against it: a readable description (`standards show`),
//! its JSON Schema, and an XSD of exactly the XML structure caregate's structure check accepts — generated
//! from the same binding, so the two cannot drift.

use std::fmt::Write as _;

use serde_json::Value;

use super::binding::{Choice, Field, Node, ObjectNode, Repeat, ScalarType};
use super::{Catalog, StandardPack};

/// The JSON Schema of the instance, with code lists as `enum` and caregate's annotations kept.
pub fn json_schema(pack: &StandardPack) -> String {
    let mut schema = pack.schema.clone();
    if let Some(map) = schema.as_object_mut() {
        map.entry("$schema").or_insert_with(|| Value::String("https://json-schema.org/draft/2020-12/schema".into()));
        map.entry("title").or_insert_with(|| Value::String(pack.manifest.title.clone()));
    }
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// An XSD (1.0) of the standard's XML form.
pub fn xsd(pack: &StandardPack, _catalog: &Catalog) -> String {
    let binding = &pack.binding;
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<!-- {} {} ({}), exported by caregate {} from pack digest {} -->",
        pack.manifest.title,
        pack.version(),
        pack.id(),
        env!("CARGO_PKG_VERSION"),
        pack.digest
    );
    if binding.namespace.is_empty() {
        out.push_str("<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n");
    } else {
        let ns = attr(&binding.namespace);
        let form = if binding.elements_namespace.is_empty() { "unqualified" } else { "qualified" };
        let _ = writeln!(
            out,
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"{ns}\" xmlns=\"{ns}\" elementFormDefault=\"{form}\">"
        );
    }
    let _ = writeln!(out, "  <xs:element name=\"{}\">", attr(&binding.root));
    if let Node::Object(object) = &*binding.node {
        complex_type(object, 2, &mut out);
    }
    out.push_str("  </xs:element>\n</xs:schema>\n");
    out
}

fn pad(depth: usize) -> String {
    "  ".repeat(depth)
}

fn complex_type(object: &ObjectNode, depth: usize, out: &mut String) {
    let p = pad(depth);
    let _ = writeln!(out, "{p}<xs:complexType>");
    if object.fields.iter().any(|f| !f.attribute) {
        let _ = writeln!(out, "{p}  <xs:sequence>");
        let mut index = 0;
        while index < object.fields.len() {
            // A choice stands where its first field does and takes all of its fields.
            let choice =
                object.choices.iter().find(|c| c.branches.iter().flat_map(|b| &b.fields).min() == Some(&index));
            match choice {
                Some(choice) => index = write_choice(object, choice, depth + 2, out),
                None => {
                    let field = &object.fields[index];
                    if !field.attribute {
                        element(field, depth + 2, out);
                    }
                    index += 1;
                }
            }
        }
        let _ = writeln!(out, "{p}  </xs:sequence>");
    }
    for field in object.fields.iter().filter(|f| f.attribute) {
        let use_ = if field.required { "required" } else { "optional" };
        let _ = writeln!(out, "{p}  <xs:attribute name=\"{}\" use=\"{use_}\">", attr(&field.xml));
        if let Node::Scalar(kind) = &*field.node {
            simple_type(*kind, &field.schema, depth + 2, out);
        }
        let _ = writeln!(out, "{p}  </xs:attribute>");
    }
    let _ = writeln!(out, "{p}</xs:complexType>");
}

/// An `xs:choice`; returns the index of the first field after it.
fn write_choice(object: &ObjectNode, choice: &Choice, depth: usize, out: &mut String) -> usize {
    let p = pad(depth);
    let min = if choice.optional { " minOccurs=\"0\"" } else { "" };
    let _ = writeln!(out, "{p}<xs:choice{min}>");
    for branch in &choice.branches {
        let wrap = branch.fields.len() > 1;
        if wrap {
            let _ = writeln!(out, "{p}  <xs:sequence>");
        }
        for &index in &branch.fields {
            // Within its branch, a field is as required as the branch says.
            let field = &object.fields[index];
            let required = field.required || branch.required.contains(&index);
            element_occurring(field, required, depth + if wrap { 2 } else { 1 }, out);
        }
        if wrap {
            let _ = writeln!(out, "{p}  </xs:sequence>");
        }
    }
    let _ = writeln!(out, "{p}</xs:choice>");
    choice.branches.iter().flat_map(|b| &b.fields).max().map_or(0, |m| m + 1)
}

fn occurs(min: u64, max: Option<u64>) -> String {
    let max = match max {
        None => "unbounded".to_string(),
        Some(m) => m.to_string(),
    };
    format!(" minOccurs=\"{min}\" maxOccurs=\"{max}\"")
}

fn element(field: &Field, depth: usize, out: &mut String) {
    element_occurring(field, field.required, depth, out);
}

/// An element, at least once when `required`.
fn element_occurring(field: &Field, required: bool, depth: usize, out: &mut String) {
    let p = pad(depth);
    match field.repeat {
        Repeat::One => {
            let min = if required { 1 } else { 0 };
            let _ = writeln!(out, "{p}<xs:element name=\"{}\" minOccurs=\"{min}\">", attr(&field.xml));
            content(&field.node, &field.schema, depth + 1, out);
            let _ = writeln!(out, "{p}</xs:element>");
        }
        Repeat::Repeated => {
            let min = if required { field.min_items.unwrap_or(1) } else { 0 };
            let _ = writeln!(out, "{p}<xs:element name=\"{}\"{}>", attr(&field.xml), occurs(min, field.max_items));
            content(&field.node, &field.schema, depth + 1, out);
            let _ = writeln!(out, "{p}</xs:element>");
        }
        Repeat::Wrapped => {
            let min = if required { 1 } else { 0 };
            let _ = writeln!(out, "{p}<xs:element name=\"{}\" minOccurs=\"{min}\">", attr(&field.xml));
            let _ = writeln!(out, "{p}  <xs:complexType>");
            let _ = writeln!(out, "{p}    <xs:sequence>");
            let _ = writeln!(
                out,
                "{p}      <xs:element name=\"{}\"{}>",
                attr(&field.item_xml),
                occurs(field.min_items.unwrap_or(0), field.max_items)
            );
            content(&field.node, &field.schema, depth + 4, out);
            let _ = writeln!(out, "{p}      </xs:element>");
            let _ = writeln!(out, "{p}    </xs:sequence>");
            let _ = writeln!(out, "{p}  </xs:complexType>");
            let _ = writeln!(out, "{p}</xs:element>");
        }
    }
}

fn content(node: &Node, schema: &Value, depth: usize, out: &mut String) {
    match node {
        Node::Object(object) => complex_type(object, depth, out),
        Node::Scalar(kind) => simple_type(*kind, schema, depth, out),
        Node::Embedded { by } => {
            let p = pad(depth);
            let _ = writeln!(out, "{p}<xs:annotation><xs:documentation>A whole document of the standard named by `{}`; caregate checks it against that standard.</xs:documentation></xs:annotation>", text(by));
            let _ = writeln!(out, "{p}<xs:complexType>");
            let _ = writeln!(out, "{p}  <xs:sequence>");
            let _ = writeln!(out, "{p}    <xs:any namespace=\"##other\" processContents=\"lax\"/>");
            let _ = writeln!(out, "{p}  </xs:sequence>");
            let _ = writeln!(out, "{p}</xs:complexType>");
        }
    }
}

fn simple_type(kind: ScalarType, schema: &Value, depth: usize, out: &mut String) {
    let p = pad(depth);
    let format = schema.get("format").and_then(Value::as_str);
    let (base, mut patterns): (&str, Vec<String>) = match (kind, format) {
        (ScalarType::String, Some("date")) => ("xs:date", vec!["[0-9]{4}-[0-9]{2}-[0-9]{2}".into()]),
        (ScalarType::String, Some("date-time")) => (
            "xs:dateTime",
            vec!["[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+\\-][0-9]{2}:[0-9]{2})".into()],
        ),
        // An imported XSD's own datatypes, checked as XSD has them (time zones allowed).
        (ScalarType::String, Some("xsd:date")) => ("xs:date", Vec::new()),
        (ScalarType::String, Some("xsd:dateTime")) => ("xs:dateTime", Vec::new()),
        (ScalarType::String, Some("xsd:gYear")) => ("xs:gYear", Vec::new()),
        (ScalarType::String, Some("uuid")) => {
            ("xs:string", vec!["[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}".into()])
        }
        (ScalarType::String, _) => ("xs:string", Vec::new()),
        (ScalarType::Integer, _) => ("xs:integer", Vec::new()),
        (ScalarType::Number, _) => ("xs:decimal", Vec::new()),
        (ScalarType::Boolean, _) => ("xs:boolean", Vec::new()),
    };
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        patterns.push(super::xsd::pattern::to_xsd(pattern));
    }
    // Further patterns (an imported XSD's derivation steps), each of which must hold too.
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        if let Some(pattern) = part.get("pattern").and_then(Value::as_str) {
            patterns.push(super::xsd::pattern::to_xsd(pattern));
        }
    }
    let enums: Vec<String> = schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(super::super::instance::to_xml::scalar_text).collect())
        .unwrap_or_default();
    let mut facets = Vec::new();
    for e in &enums {
        facets.push(format!("<xs:enumeration value=\"{}\"/>", attr(e)));
    }
    // Several patterns must all hold: XSD ORs patterns in one step, so each goes in its own derivation step.
    let (first_pattern, more_patterns) = match patterns.split_first() {
        Some((first, rest)) => (Some(first.clone()), rest.to_vec()),
        None => (None, Vec::new()),
    };
    if let Some(pattern) = &first_pattern {
        facets.push(format!("<xs:pattern value=\"{}\"/>", attr(pattern)));
    }
    for (key, facet) in [
        ("minLength", "minLength"),
        ("maxLength", "maxLength"),
        ("minimum", "minInclusive"),
        ("maximum", "maxInclusive"),
        ("exclusiveMinimum", "minExclusive"),
        ("exclusiveMaximum", "maxExclusive"),
    ] {
        if let Some(n) = schema.get(key).filter(|v| v.is_number()) {
            facets.push(format!("<xs:{facet} value=\"{n}\"/>"));
        }
    }
    if facets.is_empty() && more_patterns.is_empty() {
        let _ = writeln!(out, "{p}<xs:simpleType><xs:restriction base=\"{base}\"/></xs:simpleType>");
        return;
    }
    let _ = writeln!(out, "{p}<xs:simpleType>");
    let mut depth_open = 0;
    for pattern in more_patterns.iter().rev() {
        let q = pad(depth + 1 + depth_open * 2);
        let _ = writeln!(out, "{q}<xs:restriction>");
        let _ = writeln!(out, "{q}  <xs:simpleType>");
        let _ = pattern;
        depth_open += 1;
    }
    let q = pad(depth + 1 + depth_open * 2);
    let _ = writeln!(out, "{q}<xs:restriction base=\"{base}\">");
    for facet in &facets {
        let _ = writeln!(out, "{q}  {facet}");
    }
    let _ = writeln!(out, "{q}</xs:restriction>");
    for pattern in &more_patterns {
        depth_open -= 1;
        let q = pad(depth + 1 + depth_open * 2);
        let _ = writeln!(out, "{q}  </xs:simpleType>");
        let _ = writeln!(out, "{q}  <xs:pattern value=\"{}\"/>", attr(pattern));
        let _ = writeln!(out, "{q}</xs:restriction>");
    }
    let _ = writeln!(out, "{p}</xs:simpleType>");
}

fn attr(s: &str) -> String {
    super::super::instance::to_xml::escape_attribute(s)
}

fn text(s: &str) -> String {
    let mut out = String::new();
    super::super::instance::to_xml::escape_text_into(s, &mut out);
    out
}

/// A readable description of a standard: identity, fields (JSON and XML names, cardinality, type,
/// sensitivity, code list), code lists and rules.
pub fn describe(pack: &StandardPack) -> String {
    let m = &pack.manifest;
    let mut out = String::new();
    let _ = writeln!(out, "{} {} — {}", m.id, m.version, m.title);
    let _ = writeln!(out, "publisher: {}   status: {:?}", m.publisher, m.status);
    if let Some(from) = &m.effective_from {
        let _ = writeln!(out, "effective: {} to {}", from, m.effective_to.as_deref().unwrap_or("(open)"));
    }
    let ns = if pack.binding.namespace.is_empty() { "(none)".to_string() } else { pack.binding.namespace.clone() };
    let _ = writeln!(out, "XML: <{}> in namespace {}", pack.binding.root, ns);
    if let Some(records) = &m.records {
        let _ = writeln!(out, "records: {} keyed by {}", records.path, records.key);
    }
    let _ = writeln!(out, "digest: {}", pack.digest);
    let _ = writeln!(out, "\nFields (JSON pointer, XML name, cardinality, type, sensitivity):");
    if let Node::Object(object) = &*pack.binding.node {
        fields(object, "", 1, &mut out);
    }
    let _ = writeln!(out, "\nCode lists:");
    for (name, list) in &pack.codelists {
        let _ = writeln!(out, "  {name} ({} codes): {}", list.codes.len(), list.title);
    }
    let _ = writeln!(out, "\nRules ({}):", pack.rules.len());
    for rule in &pack.rules {
        let _ = writeln!(out, "  {:<10} {:<8} {}", rule.id, rule.severity.as_str(), rule.message);
    }
    out
}

fn fields(object: &ObjectNode, prefix: &str, depth: usize, out: &mut String) {
    for field in &object.fields {
        let pointer = format!("{prefix}/{}", field.json);
        let card = match (field.repeat, field.required) {
            (Repeat::One, true) => "1".to_string(),
            (Repeat::One, false) => "0..1".to_string(),
            (_, required) => {
                let min = if required { field.min_items.unwrap_or(0) } else { 0 };
                let max = field.max_items.map(|m| m.to_string()).unwrap_or_else(|| "*".into());
                format!("{min}..{max}")
            }
        };
        let kind = match &*field.node {
            Node::Object(_) => "group".to_string(),
            Node::Scalar(kind) => {
                let mut k = format!("{kind:?}").to_lowercase();
                if let Some(f) = field.schema.get("format").and_then(Value::as_str) {
                    k = f.to_string();
                }
                if let Some(list) = field.schema.get("x-codelist").and_then(Value::as_str) {
                    k = format!("code ({list})");
                }
                k
            }
            Node::Embedded { by } => format!("document named by {by}"),
        };
        let xml = match field.repeat {
            Repeat::Wrapped => format!("<{}><{}>", field.xml, field.item_xml),
            _ if field.attribute => format!("@{}", field.xml),
            _ => format!("<{}>", field.xml),
        };
        let _ = writeln!(
            out,
            "{}{:<42} {:<32} {:<6} {:<22} {}",
            "  ".repeat(depth),
            pointer,
            xml,
            card,
            kind,
            field.sensitivity.as_deref().unwrap_or("")
        );
        if let Node::Object(inner) = &*field.node {
            let inner_prefix = if field.repeat == Repeat::One { pointer.clone() } else { format!("{pointer}/*") };
            fields(inner, &inner_prefix, depth + 1, out);
        }
    }
}
