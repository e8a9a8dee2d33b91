//! A standard pack made from an XSD (XML Schema 1.0): the structure of the document element's type becomes
//! `schema.json` with caregate's XML binding, enumerations become `codelists.toml` (each code labelled from its
//! `xs:annotation/xs:documentation`), and `standard.toml` says what the XSD says — root element, namespace,
//! whether local elements are qualified — leaving what it cannot know (publisher, effective dates, where the
//! records of a bulk return are and what names each, rules) to the author, who is told.
//!
//! For: `caregate standards import xsd`. A pack imported from an XSD accepts the documents the XSD accepts,
//! as libxml2 judges them (`tests/engine/xsd_import.rs` holds the two to the same verdicts): sequences in
//! order, cardinalities, `xs:choice`, named and anonymous types, and the facets of the simple types it reads.
//! Not for: what the binding cannot express. Every such construct is refused with its name and its line, never
//! left out: `xs:any`, `xs:all`, groups, attribute groups, mixed and simple content, type derivation of complex
//! types, lists and unions, substitution groups, identity constraints, `nillable`, `default` and `fixed`,
//! `xs:include`/`xs:import`/`xs:redefine`, and the datatypes and facets not listed in [`Builtin`] and
//! [`Simple`].
//!
//! Hand-written rather than through a crate: no maintained Rust crate compiles XSD into a model one can walk
//! (the XSD crates either generate Rust types at build time or validate through libxml2's C library); the
//! document is read with roxmltree, which gives each node's position.

mod datatypes;
pub mod pattern;

pub use datatypes::FORMATS;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use roxmltree::{Document, Node};
use serde_json::{json, Map, Value};

const XS: &str = "http://www.w3.org/2001/XMLSchema";

/// What to import and how to name the pack.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub id: String,
    pub version: String,
    /// The global element that is the document element; needed only when the XSD declares several that no
    /// other refers to.
    pub root: Option<String>,
    /// The XSD's file name, said in the manifest.
    pub source_name: String,
    /// The pack's `standard.toml` as it is now, when the XSD is imported again: the author's answers to what the
    /// XSD cannot say (publisher, status, dates, records, params) are kept.
    pub previous_manifest: Option<String>,
}

/// A construct of the XSD the importer cannot carry into a pack, and where it is.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the XSD is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the document is not an XSD: its element is `{0}`, not `xs:schema`")]
    NotXsd(String),
    #[error("line {line}: {construct} is not supported: {reason}")]
    Unsupported { line: u32, construct: String, reason: String },
    #[error("{0}")]
    Root(String),
}

/// The pack's files (by path in the pack folder) and what the author must still supply.
#[derive(Debug)]
pub struct Imported {
    pub files: BTreeMap<String, Vec<u8>>,
    /// One line per thing the XSD cannot say, each naming the file and key to write it in.
    pub left_for_author: Vec<String>,
}

/// Imports `xsd` (the document's bytes).
pub fn import(xsd: &[u8], options: &ImportOptions) -> Result<Imported, ImportError> {
    let text = std::str::from_utf8(xsd).map_err(|e| ImportError::NotXml(e.to_string()))?;
    let doc = Document::parse(text).map_err(|e| ImportError::NotXml(e.to_string()))?;
    let schema = doc.root_element();
    if schema.tag_name().namespace() != Some(XS) || schema.tag_name().name() != "schema" {
        return Err(ImportError::NotXsd(schema.tag_name().name().to_string()));
    }
    let mut importer = Importer::new(&doc, schema)?;
    importer.globals()?;
    let root = importer.root(options.root.as_deref())?;
    let root_schema = importer.global_element_type(root)?;
    if root_schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(importer.unsupported(
            root,
            "a document element of a simple type",
            "the pack's document must hold elements (a complex type)",
        ));
    }
    let mut top = Map::new();
    top.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    let title = documentation(root).or_else(|| documentation(schema));
    if let Some(title) = &title {
        top.insert("title".into(), json!(first_line(title)));
    }
    if let Value::Object(map) = root_schema {
        for (k, v) in map {
            if k != "description" || title.as_deref().map(first_line) != v.as_str().map(first_line) {
                top.insert(k, v);
            }
        }
    }
    let root_name = attribute(root, "name").unwrap_or_default().to_string();
    let records = first_repeated(&top, "");
    let digest = crate::digest::sha256(xsd);
    let (manifest, left_for_author) = manifest(&importer, options, &root_name, title.as_deref(), &digest, records)?;
    let mut files = BTreeMap::new();
    files.insert("standard.toml".to_string(), manifest.into_bytes());
    let mut schema_text = serde_json::to_string_pretty(&Value::Object(top)).unwrap_or_default();
    schema_text.push('\n');
    files.insert("schema.json".to_string(), schema_text.into_bytes());
    if !importer.codelists.is_empty() {
        files.insert(
            "codelists.toml".to_string(),
            codelists_toml(&importer.codelists, &options.source_name).into_bytes(),
        );
    }
    Ok(Imported { files, left_for_author })
}

/// The XSD datatypes a pack can hold, each read by the binding or checked by a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `xs:string`: whitespace preserved, so the text is the value.
    String,
    Boolean,
    Decimal,
    /// `xs:integer` and the unbounded types derived from it (`xs:positiveInteger`, …), with their bounds.
    Integer,
    Date,
    DateTime,
    GYear,
}

impl Builtin {
    fn from_name(name: &str) -> Option<(Builtin, Option<i128>, Option<i128>)> {
        let integer = |low: Option<i128>, high: Option<i128>| Some((Builtin::Integer, low, high));
        match name {
            "string" => Some((Builtin::String, None, None)),
            "boolean" => Some((Builtin::Boolean, None, None)),
            "decimal" => Some((Builtin::Decimal, None, None)),
            "integer" => integer(None, None),
            // Not the fixed-width ones (`xs:int`, `xs:unsignedByte`, …): libxml2 reads them without collapsing
            // whitespace and refuses a sign on the unsigned ones, where a pack's integer takes both.
            "nonNegativeInteger" => integer(Some(0), None),
            "positiveInteger" => integer(Some(1), None),
            "nonPositiveInteger" => integer(None, Some(0)),
            "negativeInteger" => integer(None, Some(-1)),
            "date" => Some((Builtin::Date, None, None)),
            "dateTime" => Some((Builtin::DateTime, None, None)),
            "gYear" => Some((Builtin::GYear, None, None)),
            _ => None,
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Builtin::Integer | Builtin::Decimal)
    }
}

/// Enumerated values, each with its label when the XSD documents it.
type Codes = Vec<(String, Option<String>)>;

/// A bound of a number range, as the facet wrote it.
#[derive(Debug, Clone)]
struct Bound {
    value: f64,
    json: Value,
    exclusive: bool,
}

/// A simple type: its builtin base and the facets of every derivation step, combined as XSD combines them
/// (enumerations: the last step's; patterns: every step's must hold; lengths and bounds: the tightest).
#[derive(Debug, Clone)]
pub struct Simple {
    base: Builtin,
    /// Values and their labels; `None` when no step enumerates.
    enumeration: Option<Vec<(String, Option<String>)>>,
    /// One translated pattern per derivation step (the patterns of one step joined with `|`).
    patterns: Vec<String>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min: Option<Bound>,
    max: Option<Bound>,
    /// The name of the named type that enumerates, for its code list.
    list_name: Option<String>,
    documentation: Option<String>,
}

impl Simple {
    fn of(base: Builtin, low: Option<i128>, high: Option<i128>) -> Simple {
        let bound = |n: i128| Bound { value: n as f64, json: integer_json(n), exclusive: false };
        Simple {
            base,
            enumeration: None,
            patterns: Vec::new(),
            min_length: None,
            max_length: None,
            min: low.map(bound),
            max: high.map(bound),
            list_name: None,
            documentation: None,
        }
    }
}

fn integer_json(n: i128) -> Value {
    if let Ok(i) = i64::try_from(n) {
        json!(i)
    } else if let Ok(u) = u64::try_from(n) {
        json!(u)
    } else {
        json!(n as f64)
    }
}

struct Importer<'a, 'input> {
    doc: &'a Document<'input>,
    schema: Node<'a, 'input>,
    target_namespace: String,
    /// `elementFormDefault="qualified"`: local elements are in the target namespace.
    qualified: bool,
    elements: HashMap<String, Node<'a, 'input>>,
    complex_types: HashMap<String, Node<'a, 'input>>,
    simple_types: HashMap<String, Node<'a, 'input>>,
    /// Global elements another element refers to (so not document elements).
    referenced: HashSet<String>,
    /// Code lists by name: title and codes with labels.
    codelists: BTreeMap<String, (String, Codes)>,
    /// Named types being expanded, to refuse a recursive structure.
    expanding: Vec<String>,
}

/// Attributes of XSD constructs that change nothing a document is checked against.
const HARMLESS: &[&str] = &["id", "name", "final", "block", "blockDefault", "finalDefault", "version"];

impl<'a, 'input> Importer<'a, 'input> {
    fn new(doc: &'a Document<'input>, schema: Node<'a, 'input>) -> Result<Self, ImportError> {
        let mut importer = Importer {
            doc,
            schema,
            target_namespace: attribute(schema, "targetNamespace").unwrap_or_default().to_string(),
            qualified: false,
            elements: HashMap::new(),
            complex_types: HashMap::new(),
            simple_types: HashMap::new(),
            referenced: HashSet::new(),
            codelists: BTreeMap::new(),
            expanding: Vec::new(),
        };
        for a in schema.attributes() {
            match (a.namespace(), a.name(), a.value()) {
                (None, "elementFormDefault", "qualified") => importer.qualified = true,
                (None, "elementFormDefault", "unqualified") => {}
                (None, "attributeFormDefault", "unqualified") => {}
                (None, "attributeFormDefault", _) => {
                    return Err(importer.unsupported(
                        schema,
                        "attributeFormDefault=\"qualified\"",
                        "attributes are read in no namespace",
                    ))
                }
                (None, "targetNamespace", _) => {}
                (None, name, _) if HARMLESS.contains(&name) => {}
                (None, name, _) if name.starts_with("xml") => {}
                (Some(_), _, _) => {}
                (None, name, _) => {
                    return Err(importer.unsupported(schema, &format!("the schema's `{name}`"), "it is not read"))
                }
            }
        }
        Ok(importer)
    }

    fn line(&self, node: Node) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }

    fn unsupported(&self, node: Node, construct: &str, reason: &str) -> ImportError {
        ImportError::Unsupported { line: self.line(node), construct: construct.to_string(), reason: reason.to_string() }
    }

    /// The schema's global declarations, each top-level construct read or refused.
    fn globals(&mut self) -> Result<(), ImportError> {
        for child in xs_children(self.schema) {
            let name = attribute(child, "name").unwrap_or_default().to_string();
            match child.tag_name().name() {
                "annotation" => {}
                "element" => {
                    self.check_element_attributes(child, true)?;
                    self.elements.insert(name, child);
                }
                "complexType" => {
                    self.complex_types.insert(name, child);
                }
                "simpleType" => {
                    self.simple_types.insert(name, child);
                }
                other => return Err(self.refused(child, other)),
            }
        }
        for node in self.schema.descendants().filter(|n| is_xs(*n, "element")) {
            if let Some(reference) = attribute(node, "ref") {
                self.referenced.insert(local_name(reference).to_string());
            }
        }
        self.check_foreign(self.schema)
    }

    /// Elements in no XSD namespace are not part of a schema's meaning unless inside annotations; anything
    /// else is refused where it stands.
    fn check_foreign(&self, node: Node<'a, 'input>) -> Result<(), ImportError> {
        for child in node.children().filter(Node::is_element) {
            if is_xs(child, "annotation") {
                continue;
            }
            if child.tag_name().namespace() != Some(XS) {
                return Err(self.unsupported(child, &format!("`<{}>`", child.tag_name().name()), "it is not XSD"));
            }
            self.check_foreign(child)?;
        }
        Ok(())
    }

    /// The refusal of an XSD construct the importer does not read.
    fn refused(&self, node: Node, construct: &str) -> ImportError {
        let reason = match construct {
            "any" | "anyAttribute" => "a pack knows each element and attribute it accepts",
            "all" => "elements in any order cannot be bound (caregate's binding keeps one order)",
            "group" | "attributeGroup" => "named groups are not read; write their content in place",
            "include" | "import" | "redefine" | "override" => "the XSD must be one self-contained file",
            "simpleContent" => "an element with both text and attributes cannot be bound",
            "complexContent" | "extension" => "type derivation of complex types is not read",
            "list" | "union" => "list and union types cannot be bound",
            "key" | "keyref" | "unique" => "identity constraints are not checked by a pack's structure",
            "notation" => "notations are not read",
            _ => "it is not read",
        };
        self.unsupported(node, &format!("xs:{construct}"), reason)
    }

    /// The document element: the one given, or the one global element no other refers to.
    fn root(&self, given: Option<&str>) -> Result<Node<'a, 'input>, ImportError> {
        if let Some(name) = given {
            return self
                .elements
                .get(name)
                .copied()
                .ok_or_else(|| ImportError::Root(format!("the XSD declares no global element `{name}`")));
        }
        let mut candidates: Vec<&String> = self.elements.keys().filter(|n| !self.referenced.contains(*n)).collect();
        candidates.sort();
        match candidates.as_slice() {
            [one] => Ok(self.elements[*one]),
            [] => Err(ImportError::Root("the XSD declares no global element to be the document element".into())),
            many => Err(ImportError::Root(format!(
                "the XSD declares several global elements ({}); name the document element with --root",
                many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    fn global_element_type(&mut self, element: Node<'a, 'input>) -> Result<Value, ImportError> {
        self.check_element_attributes(element, true)?;
        let mut value = self.element_type(element)?;
        if let (Some(doc), Value::Object(map)) = (documentation(element), &mut value) {
            map.entry("description").or_insert(json!(doc));
        }
        Ok(value)
    }

    fn check_element_attributes(&self, element: Node, global: bool) -> Result<(), ImportError> {
        for a in element.attributes().filter(|a| a.namespace().is_none()) {
            match (a.name(), a.value()) {
                ("name" | "type" | "ref" | "minOccurs" | "maxOccurs", _) => {}
                ("nillable" | "abstract", "false") => {}
                ("form", form) if !global => {
                    if (form == "qualified") != self.qualified {
                        return Err(self.unsupported(
                            element,
                            &format!("form=\"{form}\""),
                            "an element qualified otherwise than elementFormDefault says cannot be bound",
                        ));
                    }
                }
                ("nillable", _) => {
                    return Err(self.unsupported(element, "nillable=\"true\"", "xsi:nil cannot be bound"))
                }
                ("substitutionGroup", _) | ("abstract", _) => {
                    return Err(self.unsupported(
                        element,
                        "substitution groups",
                        "an element stands for itself in a pack",
                    ))
                }
                ("default" | "fixed", _) => {
                    return Err(self.unsupported(
                        element,
                        &format!("an element's `{}`", a.name()),
                        "a value supplied for an empty element cannot be bound",
                    ))
                }
                (name, _) if HARMLESS.contains(&name) => {}
                (name, _) => {
                    return Err(self.unsupported(element, &format!("an element's `{name}`"), "it is not read"))
                }
            }
        }
        Ok(())
    }

    /// The JSON Schema of an element's type (its `type` attribute, or its inline type).
    fn element_type(&mut self, element: Node<'a, 'input>) -> Result<Value, ImportError> {
        let name = attribute(element, "name").unwrap_or_default().to_string();
        let mut inline = None;
        for child in xs_children(element) {
            match child.tag_name().name() {
                "annotation" => {}
                "complexType" | "simpleType" => inline = Some(child),
                other => return Err(self.refused(child, other)),
            }
        }
        match (attribute(element, "type"), inline) {
            (Some(_), Some(child)) => {
                Err(self.unsupported(child, "an element with both a `type` and an inline type", "it is not valid XSD"))
            }
            (Some(type_name), None) => self.named_type(element, type_name, &name),
            (None, Some(child)) if is_xs(child, "complexType") => self.complex_type(child),
            (None, Some(child)) => {
                let simple = self.simple_type(child)?;
                Ok(self.simple_schema(&simple, &name))
            }
            (None, None) => Err(self.unsupported(
                element,
                &format!("element `{name}` without a type (xs:anyType)"),
                "any content cannot be bound",
            )),
        }
    }

    /// The named type or global element `name` (`what` says which; declared at `node`) read by `read`, refused
    /// when it is being read already (a recursive structure, which a pack cannot bind).
    fn expand<T>(
        &mut self,
        what: &str,
        name: &str,
        node: Node<'a, 'input>,
        read: impl FnOnce(&mut Self, Node<'a, 'input>) -> Result<T, ImportError>,
    ) -> Result<T, ImportError> {
        let key = format!("{what} {name}");
        if self.expanding.contains(&key) {
            return Err(self.unsupported(node, &format!("recursive {what} `{name}`"), "a pack's structure is finite"));
        }
        self.expanding.push(key);
        let read = read(self, node);
        self.expanding.pop();
        read
    }

    /// A type named by a QName: a builtin, or one of the schema's own.
    fn named_type(&mut self, at: Node<'a, 'input>, qname: &str, element: &str) -> Result<Value, ImportError> {
        let (namespace, local) = self.resolve_qname(at, qname)?;
        if namespace == XS {
            let simple = self.builtin(at, local)?;
            return Ok(self.simple_schema(&simple, element));
        }
        if namespace != self.target_namespace {
            return Err(self.unsupported(at, &format!("type `{qname}`"), "it is in another schema's namespace"));
        }
        if let Some(&node) = self.complex_types.get(local) {
            return self.expand("type", local, node, Self::complex_type);
        }
        if let Some(&node) = self.simple_types.get(local) {
            let simple = self.simple_type(node)?;
            return Ok(self.simple_schema(&simple, element));
        }
        Err(self.unsupported(at, &format!("type `{qname}`"), "the XSD declares no such type"))
    }

    fn resolve_qname<'q>(&self, at: Node, qname: &'q str) -> Result<(String, &'q str), ImportError> {
        let (prefix, local) = match qname.split_once(':') {
            Some((prefix, local)) => (Some(prefix), local),
            None => (None, qname),
        };
        match at.lookup_namespace_uri(prefix) {
            Some(uri) => Ok((uri.to_string(), local)),
            None if prefix.is_none() => Ok((String::new(), local)),
            None => Err(self.unsupported(at, &format!("`{qname}`"), "its prefix is not declared")),
        }
    }

    fn builtin(&self, at: Node, local: &str) -> Result<Simple, ImportError> {
        match Builtin::from_name(local) {
            Some((base, low, high)) => Ok(Simple::of(base, low, high)),
            None => Err(self.unsupported(
                at,
                &format!("datatype xs:{local}"),
                "the importer reads xs:string, xs:boolean, xs:decimal, xs:integer, xs:nonNegativeInteger, xs:positiveInteger, xs:nonPositiveInteger, xs:negativeInteger, xs:date, xs:dateTime and xs:gYear (for xs:int and the other fixed-width integers, restrict xs:integer with bounds)",
            )),
        }
    }

    /// A complex type as an object schema: its elements in order, its attributes, its choices.
    fn complex_type(&mut self, node: Node<'a, 'input>) -> Result<Value, ImportError> {
        for a in node.attributes().filter(|a| a.namespace().is_none()) {
            match (a.name(), a.value()) {
                ("mixed", "false") | ("abstract", "false") => {}
                ("mixed", _) => {
                    return Err(self.unsupported(node, "mixed=\"true\"", "text between elements cannot be bound"))
                }
                ("abstract", _) => {
                    return Err(self.unsupported(node, "abstract=\"true\"", "type substitution is not read"))
                }
                (name, _) if HARMLESS.contains(&name) => {}
                (name, _) => {
                    return Err(self.unsupported(node, &format!("a complex type's `{name}`"), "it is not read"))
                }
            }
        }
        let mut object = ObjectBuilder::default();
        for child in xs_children(node) {
            match child.tag_name().name() {
                "annotation" => {}
                "sequence" => {
                    self.occurs_once(child, "an xs:sequence")?;
                    self.sequence(child, &mut object)?;
                }
                "choice" => self.choice(child, &mut object)?,
                "attribute" => self.attribute(child, &mut object)?,
                other => return Err(self.refused(child, other)),
            }
        }
        Ok(object.finish())
    }

    /// Refuses a particle that may be left out or repeated where the binding needs it exactly once.
    fn occurs_once(&self, node: Node, what: &str) -> Result<(), ImportError> {
        let (min, max) = self.occurs(node)?;
        if min != 1 || max != Some(1) {
            return Err(self.unsupported(
                node,
                &format!("{what} with minOccurs/maxOccurs other than 1"),
                "only elements and choices may be optional or repeat",
            ));
        }
        Ok(())
    }

    fn occurs(&self, node: Node) -> Result<(u64, Option<u64>), ImportError> {
        let min = match attribute(node, "minOccurs") {
            None => 1,
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| self.unsupported(node, &format!("minOccurs=\"{text}\""), "it is not a count"))?,
        };
        let max = match attribute(node, "maxOccurs").map(str::trim) {
            None => Some(1),
            Some("unbounded") => None,
            Some(text) => Some(
                text.parse()
                    .map_err(|_| self.unsupported(node, &format!("maxOccurs=\"{text}\""), "it is not a count"))?,
            ),
        };
        if max.is_some_and(|m| m < min) {
            return Err(self.unsupported(node, "maxOccurs less than minOccurs", "it is not valid XSD"));
        }
        Ok((min, max))
    }

    fn sequence(&mut self, node: Node<'a, 'input>, object: &mut ObjectBuilder) -> Result<(), ImportError> {
        for child in xs_children(node) {
            match child.tag_name().name() {
                "annotation" => {}
                "element" => {
                    self.element(child, object, true)?;
                }
                "sequence" => {
                    self.occurs_once(child, "a nested xs:sequence")?;
                    self.sequence(child, object)?;
                }
                "choice" => self.choice(child, object)?,
                other => return Err(self.refused(child, other)),
            }
        }
        Ok(())
    }

    /// One element particle: a member of the object, required (outside a choice) as its minOccurs says.
    /// Returns its member name and whether it must be there.
    fn element(
        &mut self,
        node: Node<'a, 'input>,
        object: &mut ObjectBuilder,
        required_here: bool,
    ) -> Result<Option<(String, bool)>, ImportError> {
        self.check_element_attributes(node, false)?;
        let (min, max) = self.occurs(node)?;
        let (name, mut schema) = match (attribute(node, "name"), attribute(node, "ref")) {
            (Some(name), None) => (name.to_string(), self.element_type(node)?),
            (None, Some(reference)) => {
                let (namespace, local) = self.resolve_qname(node, reference)?;
                let target = self.elements.get(local).copied().filter(|_| namespace == self.target_namespace);
                let Some(target) = target else {
                    return Err(self.unsupported(
                        node,
                        &format!("ref=\"{reference}\""),
                        "the XSD declares no such element",
                    ));
                };
                if !self.qualified && !self.target_namespace.is_empty() {
                    return Err(self.unsupported(
                        node,
                        &format!("ref=\"{reference}\" with unqualified local elements"),
                        "a referenced global element is qualified while its siblings are not, which the binding cannot say",
                    ));
                }
                self.check_element_attributes(target, true)?;
                (local.to_string(), self.expand("element", local, target, Self::element_type)?)
            }
            _ => {
                return Err(self.unsupported(
                    node,
                    "an element with neither or both of `name` and `ref`",
                    "it is not valid XSD",
                ))
            }
        };
        if max == Some(0) {
            // An element that may not appear: the binding refuses it as unknown, as libxml2 does.
            return Ok(None);
        }
        if let (Some(doc), Value::Object(map)) = (documentation(node), &mut schema) {
            map.entry("description").or_insert(json!(doc));
        }
        let line = self.line(node);
        let repeats = max != Some(1);
        let member = if repeats {
            let mut array = Map::new();
            array.insert("type".into(), json!("array"));
            // The binding's repeated element: present at least once when the member is there at all.
            array.insert("minItems".into(), json!(min.max(1)));
            if let Some(max) = max {
                array.insert("maxItems".into(), json!(max));
            }
            let description = schema.as_object_mut().and_then(|m| m.remove("description"));
            if let Some(description) = description {
                array.insert("description".into(), description);
            }
            array.insert("items".into(), schema);
            Value::Object(array)
        } else {
            schema
        };
        let required = min >= 1;
        object.add(&name, member, required && required_here).map_err(|reason| ImportError::Unsupported {
            line,
            construct: format!("element `{name}` declared twice in one content model"),
            reason,
        })?;
        Ok(Some((name, required)))
    }

    /// An `xs:choice`: its branches' elements become optional members, and one `anyOf` says that exactly the
    /// members of one branch may be there (with its required ones), or none when the choice may be left out.
    fn choice(&mut self, node: Node<'a, 'input>, object: &mut ObjectBuilder) -> Result<(), ImportError> {
        let (min, max) = self.occurs(node)?;
        if max != Some(1) {
            return Err(self.unsupported(
                node,
                "an xs:choice that repeats (maxOccurs > 1)",
                "elements of several branches interleaved cannot be bound",
            ));
        }
        // Each branch: its members, and which of them it requires.
        let mut branches: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        for child in xs_children(node) {
            let mut members = Vec::new();
            let mut required = Vec::new();
            match child.tag_name().name() {
                "annotation" => continue,
                "element" => {
                    if let Some((name, needed)) = self.element(child, object, false)? {
                        if needed {
                            required.push(name.clone());
                        }
                        members.push(name);
                    }
                }
                "sequence" => {
                    self.occurs_once(child, "an xs:sequence in a choice")?;
                    for element in xs_children(child) {
                        match element.tag_name().name() {
                            "annotation" => {}
                            "element" => {
                                if let Some((name, needed)) = self.element(element, object, false)? {
                                    if needed {
                                        required.push(name.clone());
                                    }
                                    members.push(name);
                                }
                            }
                            "choice" | "sequence" => {
                                return Err(self.unsupported(
                                    element,
                                    "a choice or sequence in a sequence in a choice",
                                    "a branch of a choice is one element or a sequence of elements",
                                ))
                            }
                            other => return Err(self.refused(element, other)),
                        }
                    }
                }
                "choice" => {
                    return Err(self.unsupported(
                        child,
                        "an xs:choice directly in an xs:choice",
                        "write its branches in the outer choice",
                    ))
                }
                other => return Err(self.refused(child, other)),
            }
            branches.push((members, required));
        }
        let everything: Vec<&String> = branches.iter().flat_map(|(m, _)| m).collect();
        let forbid = |keep: &[String]| {
            let mut properties = Map::new();
            for name in everything.iter().filter(|n| !keep.contains(n)) {
                properties.insert((*name).clone(), Value::Bool(false));
            }
            properties
        };
        let mut alternatives = Vec::new();
        for (members, required) in &branches {
            let mut branch = Map::new();
            if !required.is_empty() {
                branch.insert("required".into(), json!(required));
            }
            branch.insert("properties".into(), Value::Object(forbid(members)));
            alternatives.push(Value::Object(branch));
        }
        if min == 0 || branches.is_empty() {
            alternatives.push(json!({"properties": forbid(&[])}));
        }
        object.choices.push(json!({"anyOf": alternatives}));
        Ok(())
    }

    fn attribute(&mut self, node: Node<'a, 'input>, object: &mut ObjectBuilder) -> Result<(), ImportError> {
        let mut required = false;
        for a in node.attributes().filter(|a| a.namespace().is_none()) {
            match (a.name(), a.value()) {
                ("name" | "type", _) => {}
                ("use", "required") => required = true,
                ("use", "optional") => {}
                ("use", _) => return Ok(()),
                ("form", "unqualified") => {}
                ("form", _) => {
                    return Err(self.unsupported(node, "a qualified attribute", "attributes are read in no namespace"))
                }
                ("ref", _) => {
                    return Err(self.unsupported(node, "an attribute `ref`", "global attributes are not read"))
                }
                ("default" | "fixed", _) => {
                    return Err(self.unsupported(
                        node,
                        &format!("an attribute's `{}`", a.name()),
                        "a value supplied for an absent attribute cannot be bound",
                    ))
                }
                (name, _) if HARMLESS.contains(&name) => {}
                (name, _) => return Err(self.unsupported(node, &format!("an attribute's `{name}`"), "it is not read")),
            }
        }
        let name = attribute(node, "name").unwrap_or_default().to_string();
        let inline = xs_children(node).find(|c| is_xs(*c, "simpleType"));
        let simple = match (attribute(node, "type"), inline) {
            (Some(qname), None) => {
                let (namespace, local) = self.resolve_qname(node, qname)?;
                if namespace == XS {
                    self.builtin(node, local)?
                } else if let Some(&named) = self.simple_types.get(local).filter(|_| namespace == self.target_namespace)
                {
                    self.simple_type(named)?
                } else {
                    return Err(self.unsupported(
                        node,
                        &format!("attribute type `{qname}`"),
                        "the XSD declares no such simple type",
                    ));
                }
            }
            (None, Some(inline)) => self.simple_type(inline)?,
            (None, None) => Simple::of(Builtin::String, None, None),
            (Some(_), Some(_)) => {
                return Err(self.unsupported(
                    node,
                    "an attribute with both a `type` and an inline type",
                    "it is not valid XSD",
                ))
            }
        };
        let mut schema = self.simple_schema(&simple, &name);
        if let Value::Object(map) = &mut schema {
            map.insert("xml".into(), json!({"attribute": true}));
        }
        let line = self.line(node);
        object.add(&name, schema, required).map_err(|reason| ImportError::Unsupported {
            line,
            construct: format!("attribute `{name}` named as another member"),
            reason,
        })
    }

    /// A simple type: a restriction of a builtin or of a named simple type, with facets.
    fn simple_type(&mut self, node: Node<'a, 'input>) -> Result<Simple, ImportError> {
        let mut restriction = None;
        for child in xs_children(node) {
            match child.tag_name().name() {
                "annotation" => {}
                "restriction" => restriction = Some(child),
                other => return Err(self.refused(child, other)),
            }
        }
        let Some(restriction) = restriction else {
            return Err(self.unsupported(node, "a simple type without xs:restriction", "it is not valid XSD"));
        };
        let inline_base = xs_children(restriction).find(|c| is_xs(*c, "simpleType"));
        let mut simple = match (attribute(restriction, "base"), inline_base) {
            (Some(base), None) => {
                let (namespace, local) = self.resolve_qname(restriction, base)?;
                if namespace == XS {
                    self.builtin(restriction, local)?
                } else if let Some(&named) = self.simple_types.get(local).filter(|_| namespace == self.target_namespace)
                {
                    self.expand("type", local, named, Self::simple_type)?
                } else {
                    return Err(self.unsupported(
                        restriction,
                        &format!("base `{base}`"),
                        "the XSD declares no such simple type",
                    ));
                }
            }
            (None, Some(inline)) => self.simple_type(inline)?,
            _ => return Err(self.unsupported(restriction, "a restriction without one base", "it is not valid XSD")),
        };
        simple.documentation = documentation(node);
        let mut enumeration = Vec::new();
        let mut patterns = Vec::new();
        for facet in xs_children(restriction) {
            let name = facet.tag_name().name();
            if name == "annotation" || name == "simpleType" {
                continue;
            }
            let value = attribute(facet, "value").unwrap_or_default();
            if attribute(facet, "fixed").is_some_and(|f| f == "true") {
                return Err(self.unsupported(
                    facet,
                    &format!("xs:{name} fixed=\"true\""),
                    "fixing a facet for derived types is not read",
                ));
            }
            let refuse = |why: &str| self.unsupported(facet, &format!("xs:{name} on {:?}", simple.base), why);
            match name {
                "enumeration" => {
                    if matches!(simple.base, Builtin::Boolean | Builtin::Date | Builtin::DateTime | Builtin::GYear) {
                        return Err(refuse("only text and numbers can be enumerated in a pack"));
                    }
                    if simple.base.numeric() && number(value, simple.base).is_none() {
                        return Err(refuse(&format!("`{value}` is not a number of the type")));
                    }
                    enumeration.push((value.to_string(), documentation(facet)));
                }
                "pattern" => {
                    if simple.base != Builtin::String {
                        return Err(refuse(
                            "a pattern applies to the text of a value, which a pack holds only for xs:string",
                        ));
                    }
                    // Checked here, to refuse it at its own line; translated with the step's others below.
                    pattern::translate(value)
                        .map_err(|why| self.unsupported(facet, &format!("pattern `{value}`"), &why))?;
                    patterns.push(value);
                }
                "length" | "minLength" | "maxLength" => {
                    if simple.base != Builtin::String {
                        return Err(refuse("lengths are read for xs:string only"));
                    }
                    let n: u64 = value.trim().parse().map_err(|_| refuse("the length is not a count"))?;
                    if name != "maxLength" {
                        simple.min_length = Some(simple.min_length.map_or(n, |m| m.max(n)));
                    }
                    if name != "minLength" {
                        simple.max_length = Some(simple.max_length.map_or(n, |m| m.min(n)));
                    }
                }
                "minInclusive" | "minExclusive" | "maxInclusive" | "maxExclusive" => {
                    if !simple.base.numeric() {
                        return Err(refuse("bounds are read for numbers only"));
                    }
                    let (value, json) =
                        number(value, simple.base).ok_or_else(|| refuse("the bound is not a number of the type"))?;
                    let bound = Bound { value, json, exclusive: name.ends_with("Exclusive") };
                    if name.starts_with("min") {
                        if simple.min.as_ref().is_none_or(|m| tighter_low(&bound, m)) {
                            simple.min = Some(bound);
                        }
                    } else if simple.max.as_ref().is_none_or(|m| tighter_high(&bound, m)) {
                        simple.max = Some(bound);
                    }
                }
                "whiteSpace" => {
                    let natural = if simple.base == Builtin::String { "preserve" } else { "collapse" };
                    if value != natural {
                        return Err(refuse(&format!("whitespace `{value}` is not the type's own (`{natural}`)")));
                    }
                }
                other => return Err(self.unsupported(facet, &format!("xs:{other}"), "this facet is not read")),
            }
        }
        if !enumeration.is_empty() {
            simple.enumeration = Some(enumeration);
            simple.list_name = attribute(node, "name").map(str::to_string);
        }
        if !patterns.is_empty() {
            // The patterns of one step: any may match (XSD ORs them); the steps' all must.
            let joined = pattern::translate_any(&patterns)
                .map_err(|why| self.unsupported(restriction, "the patterns of a restriction", &why))?;
            simple.patterns.push(joined);
        }
        Ok(simple)
    }

    /// The JSON Schema of a value of `simple`; an enumeration of text becomes a code list named after the
    /// type, or after `element` for an anonymous one.
    fn simple_schema(&mut self, simple: &Simple, element: &str) -> Value {
        let mut map = Map::new();
        let kind = match simple.base {
            Builtin::String | Builtin::Date | Builtin::DateTime | Builtin::GYear => "string",
            Builtin::Boolean => "boolean",
            Builtin::Decimal => "number",
            Builtin::Integer => "integer",
        };
        map.insert("type".into(), json!(kind));
        if let Some(doc) = &simple.documentation {
            map.insert("description".into(), json!(doc));
        }
        match simple.base {
            Builtin::Date => {
                map.insert("format".into(), json!("xsd:date"));
            }
            Builtin::DateTime => {
                map.insert("format".into(), json!("xsd:dateTime"));
            }
            Builtin::GYear => {
                map.insert("format".into(), json!("xsd:gYear"));
            }
            _ => {}
        }
        if let Some(n) = simple.min_length {
            map.insert("minLength".into(), json!(n));
        }
        if let Some(n) = simple.max_length {
            map.insert("maxLength".into(), json!(n));
        }
        let mut patterns = simple.patterns.iter();
        if let Some(first) = patterns.next() {
            map.insert("pattern".into(), json!(first));
        }
        let more: Vec<Value> = patterns.map(|p| json!({"pattern": p})).collect();
        if !more.is_empty() {
            map.insert("allOf".into(), Value::Array(more));
        }
        if let Some(min) = &simple.min {
            map.insert(if min.exclusive { "exclusiveMinimum" } else { "minimum" }.into(), min.json.clone());
        }
        if let Some(max) = &simple.max {
            map.insert(if max.exclusive { "exclusiveMaximum" } else { "maximum" }.into(), max.json.clone());
        }
        if let Some(values) = &simple.enumeration {
            if simple.base == Builtin::String {
                let name = self.codelist(simple.list_name.as_deref().unwrap_or(element), simple, values);
                map.insert("x-codelist".into(), json!(name));
            } else {
                let numbers: Vec<Value> =
                    values.iter().filter_map(|(v, _)| number(v, simple.base)).map(|(_, j)| j).collect();
                map.insert("enum".into(), Value::Array(numbers));
            }
        }
        Value::Object(map)
    }

    /// The name of the code list of `values`: `wanted`, or `wanted_2`… when another list has that name.
    fn codelist(&mut self, wanted: &str, simple: &Simple, values: &[(String, Option<String>)]) -> String {
        let title =
            simple.documentation.as_deref().map(|d| first_line(d).to_string()).unwrap_or_else(|| format!("`{wanted}`"));
        let mut name = codelist_name(wanted);
        let mut n = 1;
        loop {
            match self.codelists.get(&name) {
                Some((t, v)) if *t == title && v == values => return name,
                Some(_) => {
                    n += 1;
                    name = format!("{}_{n}", codelist_name(wanted));
                }
                None => {
                    self.codelists.insert(name.clone(), (title, values.to_vec()));
                    return name;
                }
            }
        }
    }
}

/// A name usable as a TOML bare key and a code list name: letters, digits, `_` and `-`.
fn codelist_name(name: &str) -> String {
    let cleaned: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if cleaned.is_empty() {
        "values".to_string()
    } else {
        cleaned
    }
}

fn tighter_low(new: &Bound, old: &Bound) -> bool {
    new.value > old.value || (new.value == old.value && new.exclusive)
}

fn tighter_high(new: &Bound, old: &Bound) -> bool {
    new.value < old.value || (new.value == old.value && new.exclusive)
}

/// A facet's number of a numeric base, as XSD reads it (whitespace collapsed, no exponent).
fn number(text: &str, base: Builtin) -> Option<(f64, Value)> {
    let kind = if base == Builtin::Integer {
        crate::standard::ScalarType::Integer
    } else {
        crate::standard::ScalarType::Number
    };
    let value = crate::instance::from_xml::parse_typed(text, kind)?;
    Some((value.as_f64()?, value))
}

/// What a finding says of an imported `xs:choice` (an `anyOf` whose branches only require members and forbid
/// others) that `instance` breaks: its branches (`A`, or `B and C`, or nothing) and the members it holds.
pub fn describe_choice(branches: &Value, instance: &Value) -> Option<(String, String)> {
    let branches = branches.as_array()?;
    let mut members: Vec<&str> = Vec::new();
    for branch in branches {
        let branch = branch.as_object()?;
        if branch.keys().any(|k| k != "required" && k != "properties") {
            return None;
        }
        for (name, schema) in branch.get("properties").and_then(Value::as_object)? {
            if schema != &Value::Bool(false) {
                return None;
            }
            if !members.contains(&name.as_str()) {
                members.push(name);
            }
        }
    }
    // Each branch by the members it allows (those no other branch's forbidding leaves it).
    let described: Vec<String> = branches
        .iter()
        .map(|branch| {
            let forbidden = branch.get("properties").and_then(Value::as_object);
            let allowed: Vec<String> = members
                .iter()
                .filter(|m| forbidden.is_none_or(|f| !f.contains_key(**m)))
                .map(|m| format!("`{m}`"))
                .collect();
            if allowed.is_empty() {
                "nothing".to_string()
            } else {
                allowed.join(" and ")
            }
        })
        .collect();
    let held: Vec<String> = members.iter().filter(|m| instance.get(**m).is_some()).map(|m| format!("`{m}`")).collect();
    let held = if held.is_empty() { "none of them".to_string() } else { held.join(", ") };
    Some((described.join(", or "), held))
}

/// Object members in XML order, which are required, and the choices among them.
#[derive(Default)]
struct ObjectBuilder {
    properties: Map<String, Value>,
    required: Vec<String>,
    choices: Vec<Value>,
}

impl ObjectBuilder {
    fn add(&mut self, name: &str, schema: Value, required: bool) -> Result<(), String> {
        if self.properties.contains_key(name) {
            return Err("a pack's member names are unique within an element".into());
        }
        self.properties.insert(name.to_string(), schema);
        if required {
            self.required.push(name.to_string());
        }
        Ok(())
    }

    fn finish(self) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), json!("object"));
        if !self.required.is_empty() {
            map.insert("required".into(), json!(self.required));
        }
        map.insert("properties".into(), Value::Object(self.properties));
        map.insert("additionalProperties".into(), json!(false));
        if !self.choices.is_empty() {
            map.insert("allOf".into(), Value::Array(self.choices));
        }
        Value::Object(map)
    }
}

fn is_xs(node: Node, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(XS) && node.tag_name().name() == name
}

/// The XSD element children of a node (annotations included, foreign elements are refused elsewhere).
fn xs_children<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(|c| c.is_element() && c.tag_name().namespace() == Some(XS))
}

fn attribute<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes().find(|a| a.namespace().is_none() && a.name() == name).map(|a| a.value())
}

fn local_name(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

/// The text of a node's `xs:annotation/xs:documentation`, whitespace collapsed.
fn documentation(node: Node) -> Option<String> {
    let annotation = xs_children(node).find(|c| is_xs(*c, "annotation"))?;
    let texts: Vec<String> = xs_children(annotation)
        .filter(|c| is_xs(*c, "documentation"))
        .map(|d| d.descendants().filter(Node::is_text).filter_map(|t| t.text()).collect::<String>())
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .collect();
    (!texts.is_empty()).then(|| texts.join(" "))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// The candidate for a bulk return's records, as `[records] path` has it: the repeated element of complex
/// type (outside any other) with the most content, `/Children/Child/*` rather than `/Header/Source/*`.
fn first_repeated(schema: &Map<String, Value>, prefix: &str) -> Option<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    repeated(schema, prefix, &mut found);
    found.into_iter().max_by_key(|(size, _)| *size).map(|(_, path)| path)
}

fn repeated(schema: &Map<String, Value>, prefix: &str, found: &mut Vec<(usize, String)>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    for (name, member) in properties {
        let path = format!("{prefix}/{name}");
        let items = member.get("items").and_then(Value::as_object);
        match items {
            Some(items) if items.get("type").and_then(Value::as_str) == Some("object") => {
                found.push((member.to_string().len(), format!("{path}/*")));
            }
            _ => {
                if let Some(inner) = member.as_object() {
                    repeated(inner, &path, found);
                }
            }
        }
    }
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The publisher written until the author says who it is.
const UNSTATED_PUBLISHER: &str = "not stated by the XSD";

/// Keys of `standard.toml` the XSD cannot say; an author's values survive a new import.
const AUTHOR_KEYS: &[&str] = &["publisher", "status", "effective_from", "effective_to", "clause_prefix"];

fn manifest(
    importer: &Importer,
    options: &ImportOptions,
    root: &str,
    title: Option<&str>,
    digest: &str,
    records: Option<String>,
) -> Result<(String, Vec<String>), ImportError> {
    let previous: toml::Table =
        options.previous_manifest.as_deref().and_then(|text| text.parse::<toml::Table>().ok()).unwrap_or_default();
    let mut left = Vec::new();
    let mut out = String::new();
    out.push_str("# Written by `caregate standards import xsd`: import the XSD again rather than edit what it says.\n");
    out.push_str("# The author's answers to what the XSD cannot say (publisher, status, dates, records, params) are\n");
    out.push_str("# kept when it is imported again.\n");
    let _ = writeln!(out, "id = {}", quoted(&options.id));
    let _ = writeln!(out, "version = {}", quoted(&options.version));
    let title = title.map(first_line).map(str::to_string).unwrap_or_else(|| format!("{root} (imported from an XSD)"));
    let _ = writeln!(out, "title = {}", quoted(&title));
    for key in AUTHOR_KEYS {
        // The placeholder this import writes is no answer of the author's.
        let answered = previous.get(*key).filter(|v| v.as_str() != Some(UNSTATED_PUBLISHER));
        match answered {
            Some(value) => {
                let _ = writeln!(out, "{key} = {value}");
            }
            None => match *key {
                "publisher" => {
                    let _ = writeln!(out, "publisher = {}", quoted(UNSTATED_PUBLISHER));
                    left.push("standard.toml `publisher`: who publishes the standard (the XSD does not say)".into());
                }
                "status" => {
                    out.push_str("status = \"draft\"\n");
                    left.push("standard.toml `status`: `draft` until the standard is in force, then `active`".into());
                }
                "effective_from" => {
                    left.push("standard.toml `effective_from`/`effective_to`: when the standard applies (the XSD does not say)".into());
                }
                _ => {}
            },
        }
    }
    let namespace = if importer.target_namespace.is_empty() {
        "no target namespace".to_string()
    } else {
        format!("target namespace {}", importer.target_namespace)
    };
    let description = format!(
        "Imported from the XSD `{}` (document element `{root}`, {namespace}, document {digest}).",
        options.source_name
    );
    let _ = writeln!(out, "description = {}", quoted(&description));
    out.push_str("\n[xml]\n");
    let _ = writeln!(out, "root = {}", quoted(root));
    if !importer.target_namespace.is_empty() {
        let _ = writeln!(out, "namespace = {}", quoted(&importer.target_namespace));
        if !importer.qualified {
            out.push_str("# elementFormDefault=\"unqualified\": only the document element is in the namespace.\n");
            out.push_str("elements = \"unqualified\"\n");
        }
    }
    out.push_str("naming = \"as-is\"\n");
    out.push_str(
        "# An empty element holds the empty string, as XSD reads it (a required date left blank is invalid).\n",
    );
    out.push_str("blank = \"value\"\n");
    match previous.get("records") {
        Some(records) => {
            let mut table = toml::Table::new();
            table.insert("records".into(), records.clone());
            out.push('\n');
            out.push_str(&toml::to_string(&table).unwrap_or_default());
        }
        None => {
            let path = records.as_deref().unwrap_or("/Parent/Record/*");
            out.push_str("\n# For a bulk return, where its records are and what names each (the XSD cannot say):\n");
            out.push_str("# [records]\n");
            let _ = writeln!(out, "# path = {}", quoted(path));
            out.push_str("# key = \"Path/From/Record/To/Key\"\n");
            left.push(match records {
                Some(path) => format!(
                    "standard.toml `[records] path` and `key`, if documents are bulk returns: `{path}` repeats and may be the records; the key is the element that names each"
                ),
                None => "standard.toml `[records] path` and `key`, if documents are bulk returns (nothing in the XSD repeats records)".into(),
            });
        }
    }
    if let Some(params) = previous.get("params") {
        let mut table = toml::Table::new();
        table.insert("params".into(), params.clone());
        out.push('\n');
        out.push_str(&toml::to_string(&table).unwrap_or_default());
    }
    left.push("rules.toml: the standard's business rules (an XSD states structure only)".into());
    Ok((out, left))
}

fn codelists_toml(lists: &BTreeMap<String, (String, Codes)>, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `caregate standards import xsd` from the enumerations of `{source}`, each labelled by its\n# xs:documentation (or by the code itself where it has none): import the XSD again rather than edit this file."
    );
    for (name, (title, codes)) in lists {
        let _ = writeln!(out, "\n[{name}]\ntitle = {}\ncodes = [", quoted(title));
        for (code, label) in codes {
            let label = label.as_deref().unwrap_or(code);
            let _ = writeln!(out, "  {{ code = {}, label = {} }},", quoted(code), quoted(label));
        }
        out.push_str("]\n");
    }
    out
}
