//! Validation: a document's bytes → located findings. Parses (refusing hostile input first), recognises the
//! standard, builds the instance through the binding, runs the structure check and the rules — also of an
//! envelope's body, against the body's own standard — and points every finding into the user's file.
//!
//! Not for: rendering (`report`) or deciding what a gateway does with the result (`gateway`).

pub mod aggregate;
pub mod bulk;
pub mod business;
pub mod payload;
pub mod structure;
pub mod tables;

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::document::{self, Format, Limits, LineIndex};
use crate::finding::{Excerpt, Finding, Location, Severity};
use crate::instance::{self, SourceMap};
use crate::model::DocumentResult;
use crate::standard::binding::unescape_pointer_token;
use crate::standard::{Catalog, Node, StandardPack};

/// How to validate.
#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    /// The validation time: rules compare dates with it (`now`, and `asOf` when there is no envelope).
    pub now: DateTime<FixedOffset>,
    /// Validate against this standard instead of recognising one.
    pub standard: Option<Arc<StandardPack>>,
}

impl Default for Options {
    fn default() -> Self {
        Options { limits: Limits::default(), now: chrono::Utc::now().fixed_offset(), standard: None }
    }
}

/// One part of a bulk return, for runs that share its checking and share no memory (the browser's Web Workers,
/// each with its own engine): the records that start at bytes `from..until` of the file (to its end when
/// `until` is `None`). Records go in runs of a few dozen, and a run belongs to the share its first record
/// starts in, so that every record falls in exactly one share of a partition of the file.
///
/// The reports of a partition's shares, each document's findings put one after the other in the order of the
/// shares and its counts added, are the report of the whole return: the share from byte 0 gives what comes
/// before the records (the header's findings), each share its records' findings, and the share to the end
/// what only the whole return tells (aggregates, duplicates, the parts after the records). That last share
/// reads the records before its own too, when the return's aggregates need them, without checking them.
/// Documents that are not bulk returns are checked whole by the share to the end, and left out of the
/// other shares' reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub from: u64,
    #[serde(default)]
    pub until: Option<u64>,
}

impl Share {
    /// Whether this share gives the findings of the return's parts before its records.
    pub fn gives_head(self) -> bool {
        self.from == 0
    }

    /// Whether this share gives what only the whole return tells, and the documents that are not bulk returns.
    pub fn gives_end(self) -> bool {
        self.until.is_none()
    }

    /// What this share does with the run of records that starts at byte `offset`.
    pub(crate) fn batch(self, offset: u64) -> ShareOf {
        if self.until.is_some_and(|until| offset >= until) {
            ShareOf::After
        } else if offset < self.from {
            ShareOf::Before
        } else {
            ShareOf::Mine
        }
    }
}

/// Where a run of records lies for a [`Share`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShareOf {
    /// Before the share: another share checks it (this one may read it for the aggregates).
    Before,
    Mine,
    /// After the share: nothing more of the return is this share's.
    After,
}

/// A validated document: its findings, and what was made of it on the way.
pub struct Checked {
    pub format: Option<Format>,
    pub pack: Option<Arc<StandardPack>>,
    /// The instance (the standard's JSON form), when the document could be read.
    pub instance: Option<Value>,
    /// The standard of an embedded body (an envelope's), when there is one.
    pub body_pack: Option<Arc<StandardPack>>,
    pub findings: Vec<Finding>,
    /// Records checked, for bulk returns.
    pub records: Option<usize>,
}

impl Checked {
    /// A document refused before it was read, with the one finding that says why.
    pub fn refused(finding: Finding) -> Checked {
        Checked { format: None, pack: None, instance: None, body_pack: None, findings: vec![finding], records: None }
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn into_result(self, path: &str) -> DocumentResult {
        let format = self.format.map(|f| f.as_str()).unwrap_or("unknown");
        let mut result = DocumentResult::new(path, format, self.findings);
        result.standard = self.pack.as_ref().map(|p| p.standard_ref());
        result.records = self.records;
        result
    }
}

/// The validation engine over a catalogue of standards.
pub struct Validator<'c> {
    pub catalog: &'c Catalog,
    pub options: Options,
    /// Told how many bytes of a bulk return have been read, as reading goes on (for a progress bar).
    pub progress: Option<Box<dyn Fn(u64) + Send + Sync + 'c>>,
    /// Whether findings carry the source lines around them ([`Finding::excerpt`]); on by default. A caller
    /// that never shows them (the gateway answers in JSON) turns it off and keeps none.
    pub excerpts: bool,
    /// `options.now` as the rules read it.
    clock: business::Clock,
    /// Values of the packs' `params` given for this run (`--param la_code=E09000027`), over standard.toml's.
    params: serde_json::Map<String, Value>,
    /// The part of each bulk return this run checks, when several runs share one (see [`Share`]).
    pub share: Option<Share>,
    /// The reference data given for this run (`--reference postcodes=FILE`, `--reference ofsted-providers=FILE`).
    references: crate::reference::References,
}

/// Where an instance's pointers are in the user's file.
pub trait Locator {
    /// The location of `pointer` (a JSON Pointer into the instance being checked, as the checks see it).
    fn locate(&self, pointer: &str) -> Location;
    /// The source lines around `line`, windowed around `column`, when they can be shown.
    fn excerpt(&self, line: u32, column: u32) -> Option<Excerpt>;
}

/// One whole document held in memory.
pub struct DocumentLocator<'a> {
    pub value: &'a Value,
    pub map: &'a SourceMap,
    pub lines: &'a LineIndex,
}

/// Locates nothing: for a first look whose findings, if any, are thrown away and made again with locations.
struct NoLocator;

impl Locator for NoLocator {
    fn locate(&self, pointer: &str) -> Location {
        Location { line: 0, column: 0, path: pointer.to_string(), pointer: Some(pointer.to_string()), span: None }
    }
    fn excerpt(&self, _line: u32, _column: u32) -> Option<Excerpt> {
        None
    }
}

impl Locator for DocumentLocator<'_> {
    fn locate(&self, pointer: &str) -> Location {
        self.map.locate(self.value, pointer, self.lines)
    }
    fn excerpt(&self, line: u32, column: u32) -> Option<Excerpt> {
        (line > 0).then(|| self.lines.excerpt(line, column, 1))
    }
}

/// How the checks name and locate fields of the document being checked.
pub struct SourceView<'a> {
    pub locator: &'a dyn Locator,
    pub format: Format,
    /// Where the document being checked sits in the located instance (`/body` for an envelope's body).
    pub prefix: String,
}

impl SourceView<'_> {
    pub fn locate(&self, pointer: &str) -> Location {
        self.locator.locate(pointer)
    }

    /// How a field is called in the user's document: `<NhsNumber>` for XML, `nhsNumber` for JSON.
    /// `pointer` is a pointer into the located instance; the part before `prefix` is not the pack's.
    pub fn display_name(&self, pack: &StandardPack, pointer: &str) -> String {
        let inner_pointer = pointer.strip_prefix(self.prefix.as_str()).unwrap_or(pointer);
        match self.format {
            Format::Json => {
                let last = inner_pointer.rsplit('/').next().map(unescape_pointer_token).unwrap_or_default();
                if inner_pointer.is_empty() {
                    "the document".to_string()
                } else if last.parse::<usize>().is_ok() {
                    format!("item {} of `{}`", last, inner_pointer)
                } else {
                    format!("`{last}`")
                }
            }
            Format::Xml => {
                let fields = pack.binding.fields_along(inner_pointer);
                let is_item = inner_pointer.rsplit('/').next().is_some_and(|t| t.parse::<usize>().is_ok());
                match fields.last() {
                    Some(field) if is_item && !field.item_xml.is_empty() => format!("`<{}>`", field.item_xml),
                    Some(field) if field.attribute => format!("attribute `{}`", field.xml),
                    Some(field) => format!("`<{}>`", field.xml),
                    None => format!("`<{}>`", pack.binding.root),
                }
            }
        }
    }
}

impl<'c> Validator<'c> {
    pub fn new(catalog: &'c Catalog, options: Options) -> Self {
        let clock = business::Clock::new(&options.now);
        Validator {
            catalog,
            options,
            progress: None,
            excerpts: true,
            clock,
            params: serde_json::Map::new(),
            references: Default::default(),
            share: None,
        }
    }

    /// Gives the rules' `params` values for this run, over (or beside) those the packs' standard.toml set:
    /// what a return does not carry, such as the council's own code.
    pub fn with_params(mut self, params: impl IntoIterator<Item = (String, String)>) -> Self {
        self.params = params.into_iter().map(|(name, value)| (name, Value::String(value))).collect();
        self
    }

    /// Gives the reference data the rules' lookup functions read in this run (the postcode directory, Ofsted's
    /// provider lists). Rules that need reference data not given are reported as not run.
    pub fn with_references(mut self, references: crate::reference::References) -> Self {
        self.references = references;
        self
    }

    /// This validator for one return that lacks the optional columns `absent` (`Header.UASC`): the rules
    /// that need one are reported as not run. The same catalogue, options, params and reference data.
    fn lacking_columns(&self, absent: Vec<String>) -> Validator<'c> {
        let mut references = self.references.clone();
        references.absent_columns = absent;
        Validator {
            catalog: self.catalog,
            options: self.options.clone(),
            progress: None,
            excerpts: self.excerpts,
            clock: business::Clock::new(&self.options.now),
            params: self.params.clone(),
            references,
            share: self.share,
        }
    }

    /// Gives last year's return (read by [`Validator::read_previous`]), which rules read as `previous`. Rules
    /// that need it are reported as not run without it.
    pub fn with_previous(mut self, previous: Arc<dyn crate::reference::PreviousReturn>) -> Self {
        self.references.previous = Some(previous);
        self
    }

    /// The `params` the rules of `pack` read in this run.
    fn params_for<'p>(&self, pack: &'p StandardPack) -> std::borrow::Cow<'p, Value> {
        if self.params.is_empty() {
            return std::borrow::Cow::Borrowed(&pack.params);
        }
        let mut merged = pack.params.as_object().cloned().unwrap_or_default();
        merged.extend(self.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        std::borrow::Cow::Owned(Value::Object(merged))
    }

    /// Validates one document's bytes.
    pub fn check(&self, bytes: &[u8]) -> Checked {
        let mut checked =
            Checked { format: None, pack: None, instance: None, body_pack: None, findings: Vec::new(), records: None };
        if bytes.len() > self.options.limits.max_bytes {
            // Refused before anything else is done, parsing included.
            checked.findings.push(document::too_large(u64::try_from(bytes.len()).ok(), &self.options.limits));
            return checked;
        }
        let Some(format) = document::sniff(bytes) else {
            checked.findings.push(
                Finding::error(
                    "unknown-format",
                    "The file is neither XML nor JSON (it must start with `<`, `{` or `[`).",
                )
                .with_location(Location {
                    line: 1,
                    column: 1,
                    path: String::new(),
                    pointer: None,
                    span: None,
                }),
            );
            return checked;
        };
        checked.format = Some(format);
        if format == Format::Xml {
            // A table return in its XML form (SSDA903's EXPSSDA903), read record by record.
            if let Some(pack) = self.tables_xml_pack(bytes) {
                let mut findings = Vec::new();
                let agg = self.gather_tables_xml(&pack, bytes);
                let summary = self.check_tables_xml(&pack, bytes, agg.as_ref(), &mut |finding| findings.push(finding));
                checked.findings = findings;
                checked.records = Some(summary.records);
                checked.pack = Some(pack);
                return checked;
            }
            if let Some(pack) = self.bulk_pack(bytes) {
                let open = |offset: u64| -> std::io::Result<Box<dyn std::io::BufRead + Send + '_>> {
                    Ok(Box::new(bytes.get(offset as usize..).unwrap_or_default()))
                };
                if let Ok(mut checked) = self.check_bulk(&pack, &open) {
                    if !self.excerpts {
                        checked.findings.iter_mut().for_each(|f| f.excerpt = None);
                    }
                    return checked;
                }
            }
        }
        if format == Format::Json {
            if let Some(clean) = self.check_clean_json(bytes) {
                return clean;
            }
        }
        let lines = LineIndex::new(bytes);
        let (value, map, mut findings, pack) = match format {
            Format::Xml => match document::parse_xml(bytes, &self.options.limits) {
                Err(finding) => {
                    checked.findings.push(self.with_excerpt(finding, &lines));
                    return checked;
                }
                Ok(doc) => {
                    let pack = self
                        .options
                        .standard
                        .clone()
                        .or_else(|| self.catalog.by_xml_root(&doc.root.local, &doc.root.namespace));
                    let Some(pack) = pack else {
                        let (line, column) = lines.locate(doc.root.span.start);
                        let known: Vec<String> = self
                            .catalog
                            .packs()
                            .iter()
                            .map(|p| format!("`<{}>` ({})", p.binding.root, p.reference()))
                            .collect();
                        checked.findings.push(self.with_excerpt(
                            Finding::error(
                                "unknown-standard",
                                format!(
                                    "No standard known has the document element `<{}>`{}; known: {}.",
                                    doc.root.local,
                                    if doc.root.namespace.is_empty() {
                                        " without a namespace".to_string()
                                    } else {
                                        format!(" in namespace `{}`", doc.root.namespace)
                                    },
                                    known.join(", ")
                                ),
                            )
                            .with_fix("Name the standard with --standard, or check the namespace on the document element.")
                            .with_location(Location {
                                line,
                                column,
                                path: format!("/{}", doc.root.local),
                                pointer: None,
                                span: Some(doc.root.span),
                            }),
                            &lines,
                        ));
                        return checked;
                    };
                    let converted = instance::from_xml(&doc.root, &pack, self.catalog, &lines);
                    (converted.value, SourceMap::Xml(converted.source), converted.findings, pack)
                }
            },
            Format::Json => match document::parse_json(bytes, &self.options.limits) {
                Err(finding) => {
                    checked.findings.push(self.with_excerpt(finding, &lines));
                    return checked;
                }
                Ok(doc) => {
                    let Some(pack) = self.json_pack(&doc.value) else {
                        checked.findings.push(self.with_excerpt(
                            Finding::error(
                                "unknown-standard",
                                "caregate cannot tell which standard this JSON document follows.",
                            )
                            .with_fix("Name it with --standard ID (see `caregate standards list`), or send it inside an envelope.")
                            .with_location(Location { line: 1, column: 1, path: String::new(), pointer: Some(String::new()), span: Some(doc.spans.span) }),
                            &lines,
                        ));
                        return checked;
                    };
                    (doc.value, SourceMap::Json(doc.spans), Vec::new(), pack)
                }
            },
        };
        let locator = DocumentLocator { value: &value, map: &map, lines: &lines };
        let view = SourceView { locator: &locator, format, prefix: String::new() };
        let mut found = self.check_instance(&pack, &value, "", None, &view, &mut checked.body_pack, None);
        // A value that is not of its datatype was reported by the conversion; the schema's `type` error for
        // the same element is the same cause.
        found.retain(|f| {
            !(f.rule == "type"
                && findings.iter().any(|c| {
                    c.rule == "type" && c.location.as_ref().map(|l| &l.path) == f.location.as_ref().map(|l| &l.path)
                }))
        });
        findings.extend(found);
        let findings = one_cause_once(findings);
        let mut findings: Vec<Finding> = findings.into_iter().map(|f| self.with_excerpt(f, &lines)).collect();
        findings.sort_by_key(|f| f.location.as_ref().map(|l| (l.line, l.column)).unwrap_or((0, 0)));
        checked.findings = findings;
        checked.pack = Some(pack);
        checked.instance = Some(value);
        checked
    }

    /// The standard a JSON document follows: the one named in the options, or the only one its shape fits.
    fn json_pack(&self, value: &Value) -> Option<Arc<StandardPack>> {
        if let Some(pack) = &self.options.standard {
            return Some(Arc::clone(pack));
        }
        let mut candidates = self.catalog.by_json_shape(value);
        if candidates.len() == 1 {
            candidates.pop()
        } else {
            None
        }
    }

    /// A JSON document checked without spans or a line index, which is all a document with no finding at all
    /// needs (most messages a gateway is sent). `None` when it has a finding, or cannot be read or placed: it is
    /// then checked again, the whole way, with locations — so the findings are the same either way.
    fn check_clean_json(&self, bytes: &[u8]) -> Option<Checked> {
        let value = document::parse_json_value(bytes, &self.options.limits).ok()?;
        let pack = self.json_pack(&value)?;
        let view = SourceView { locator: &NoLocator, format: Format::Json, prefix: String::new() };
        let mut body_pack = None;
        let found = self.check_instance(&pack, &value, "", None, &view, &mut body_pack, None);
        found.is_empty().then(|| Checked {
            format: Some(Format::Json),
            pack: Some(pack),
            instance: Some(value),
            body_pack,
            findings: Vec::new(),
            records: None,
        })
    }

    /// The bulk standard (one with records) a document of this start is of, if any. Only XML is checked
    /// record by record: a return in its JSON form, even of a standard named in the options, has none.
    pub fn bulk_pack(&self, start: &[u8]) -> Option<Arc<StandardPack>> {
        if document::sniff(start) != Some(Format::Xml) {
            return None;
        }
        let pack = match &self.options.standard {
            Some(pack) => Some(Arc::clone(pack)),
            None => {
                let head = &start[..start.len().min(64 * 1024)];
                let (local, namespace) = document::tokens::peek_root(head)?;
                self.catalog.by_xml_root(&local, &namespace)
            }
        };
        pack.filter(|p| p.manifest.records.is_some())
    }

    /// Structure, rules and embedded documents of `value`, a document of `pack` at `prefix` of the whole. The
    /// rules read the aggregates `agg` when given (gathered over a whole return of which `value` holds one
    /// record), else those gathered over `value` itself.
    #[allow(clippy::too_many_arguments)]
    fn check_instance(
        &self,
        pack: &StandardPack,
        value: &Value,
        prefix: &str,
        envelope: Option<&Value>,
        whole: &SourceView<'_>,
        body_pack: &mut Option<Arc<StandardPack>>,
        agg: Option<&Value>,
    ) -> Vec<Finding> {
        let view = SourceView { locator: whole.locator, format: whole.format, prefix: prefix.to_string() };
        let mut findings = structure::check(pack, &pack.validator, value, prefix, &view);
        let params = self.params_for(pack);
        let mut context = business::Context::new(value, envelope, &self.clock, &params, &self.references);
        match agg {
            Some(agg) => context.agg = std::borrow::Cow::Borrowed(agg),
            None => context.gather(pack),
        }
        business::check(pack, &context, &view, business::Scope::All, &mut findings);
        if let (Node::Object(object), Some(map)) = (&*pack.binding.node, value.as_object()) {
            for field in &object.fields {
                let Node::Embedded { by } = &*field.node else { continue };
                let Some(body) = map.get(&field.json) else { continue };
                let reference = map.get(by).and_then(Value::as_str).unwrap_or_default();
                match self.catalog.find(reference) {
                    Some(inner) => {
                        let inner_prefix = format!("{prefix}/{}", field.json);
                        let found =
                            self.check_instance(&inner, body, &inner_prefix, Some(value), whole, &mut None, None);
                        findings.extend(found);
                        *body_pack = Some(inner);
                    }
                    None => {
                        let known: Vec<String> = self.catalog.packs().iter().map(|p| p.reference()).collect();
                        findings.push(
                            Finding::error(
                                "unknown-standard",
                                format!("`{reference}` is not a standard caregate holds, so the body cannot be checked; known: {}.", known.join(", ")),
                            )
                            .with_location(view.locate(&format!("{prefix}/{by}"))),
                        );
                    }
                }
            }
        }
        findings
    }

    /// `finding` with the source lines around it, when findings carry them; without any otherwise (a parser's
    /// refusal comes with its own).
    fn with_excerpt(&self, mut finding: Finding, lines: &LineIndex) -> Finding {
        if self.excerpts {
            with_excerpt(finding, lines)
        } else {
            finding.excerpt = None;
            finding
        }
    }

    /// Validates one document and returns its report entry.
    pub fn validate(&self, path: &str, bytes: &[u8]) -> DocumentResult {
        self.check(bytes).into_result(path)
    }
}

/// One cause is reported once. Works on the findings of a whole document, or of one record of a bulk return
/// at a time (the pairs it looks for never span two records); keeps the order of those it keeps.
///
/// - A misspelt element is one mistake, not two: when an unknown element is a near miss for a required one that
///   is then missing from the same parent, only the unknown element is reported (its fix names the right name).
/// - A field that one of the standard's rules and the structure check both find wrong (DfE rule 4180 and
///   `required` for a missing `<Sex>`) is reported by the rule, in the standard's own words: a structural
///   finding about a field (`required`, `enum`, `pattern`, `format`, … each located at the field's pointer,
///   a missing field's included) is left out when a rule's finding at least as severe points at that field.
///   A query or warning of a rule never hides a structural error.
pub fn one_cause_once(findings: Vec<Finding>) -> Vec<Finding> {
    let findings = misspelt_once(findings);
    let about_field = |f: &Finding| structure::FIELD_CODES.contains(&f.rule.as_str());
    if !findings.iter().any(about_field) {
        return findings;
    }
    // The fields that rules found wrong, each with the most severe rule finding there (`Error` orders first).
    let mut ruled: std::collections::HashMap<&str, Severity> = std::collections::HashMap::new();
    for finding in findings.iter().filter(|f| from_rules(f)) {
        if let Some(pointer) = finding.location.as_ref().and_then(|l| l.pointer.as_deref()) {
            let severity = ruled.entry(pointer).or_insert(finding.severity);
            *severity = (*severity).min(finding.severity);
        }
    }
    if ruled.is_empty() {
        return findings;
    }
    let keep: Vec<bool> = findings
        .iter()
        .map(|f| {
            let pointer = f.location.as_ref().and_then(|l| l.pointer.as_deref());
            !(about_field(f) && pointer.and_then(|p| ruled.get(p)).is_some_and(|&rule| rule <= f.severity))
        })
        .collect();
    findings.into_iter().zip(keep).filter_map(|(f, keep)| keep.then_some(f)).collect()
}

/// Whether a finding is one of a standard's rules', not one of caregate's own checks: structure (its field codes,
/// `unknown-property`, `structure`) or recognising an embedded document's standard (`unknown-standard`, at the
/// field naming it). caregate's other findings (reading, converting) have no pointer, so they never match one.
fn from_rules(finding: &Finding) -> bool {
    let code = finding.rule.as_str();
    !(structure::FIELD_CODES.contains(&code) || matches!(code, "unknown-property" | "structure" | "unknown-standard"))
}

/// The misspelt-element half of [`one_cause_once`].
fn misspelt_once(findings: Vec<Finding>) -> Vec<Finding> {
    let misspelt: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f.rule == "unknown-element")
        .filter_map(|f| {
            let path = &f.location.as_ref()?.path;
            let parent = path.rsplit_once('/')?.0.to_string();
            let near = f.fix.as_ref()?.strip_prefix("Did you mean ")?.trim_end_matches('?').to_string();
            Some((parent, near))
        })
        .collect();
    if misspelt.is_empty() {
        return findings;
    }
    findings
        .into_iter()
        .filter(|f| {
            !(f.rule == "required"
                && f.location.as_ref().is_some_and(|l| {
                    misspelt
                        .iter()
                        .any(|(parent, near)| *parent == l.path && f.message.contains(&structure::must_contain(near)))
                }))
        })
        .collect()
}

/// Adds the source lines around a located finding.
pub fn with_excerpt(mut finding: Finding, lines: &LineIndex) -> Finding {
    if finding.excerpt.is_none() {
        if let Some(location) = &finding.location {
            if location.line > 0 {
                finding.excerpt = Some(lines.excerpt(location.line, location.column, 1));
            }
        }
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rule: &str, severity: Severity, pointer: &str) -> Finding {
        Finding::new(rule, severity, "m").with_location(Location {
            line: 3,
            column: 5,
            path: "/R/C".into(),
            pointer: Some(pointer.into()),
            span: None,
        })
    }

    fn rules(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn a_field_a_rule_finds_wrong_is_reported_by_the_rule_alone() {
        let sex = "/Children/Child/3/ChildIdentifiers/Sex";
        let findings = vec![
            at("required", Severity::Error, sex),
            at("pattern", Severity::Error, "/Children/Child/3/ChildIdentifiers/UPN"),
            at("4180", Severity::Error, sex),
            at("enum", Severity::Error, "/Children/Child/4/ChildIdentifiers/Sex"),
        ];
        assert_eq!(rules(&one_cause_once(findings)), ["pattern", "4180", "enum"]);
    }

    #[test]
    fn a_query_never_hides_a_structural_error() {
        let upn = "/Children/Child/0/ChildIdentifiers/UPN";
        let findings = vec![
            at("pattern", Severity::Error, upn),
            at("1530Q", Severity::Query, upn),
            at("1510", Severity::Error, "/Children/Child/0"),
        ];
        assert_eq!(rules(&one_cause_once(findings)), ["pattern", "1530Q", "1510"]);
        // A rule's error and its query at one field: the error decides.
        let findings = vec![
            at("1530Q", Severity::Query, upn),
            at("pattern", Severity::Error, upn),
            at("1510", Severity::Error, upn),
        ];
        assert_eq!(rules(&one_cause_once(findings)), ["1530Q", "1510"]);
    }

    #[test]
    fn caregate_s_own_findings_do_not_stand_for_a_rule() {
        let standard = "/standard";
        let findings =
            vec![at("pattern", Severity::Error, standard), at("unknown-standard", Severity::Error, standard)];
        assert_eq!(rules(&one_cause_once(findings)), ["pattern", "unknown-standard"]);
    }

    #[test]
    fn a_misspelt_element_hides_the_required_one_it_was_meant_to_be() {
        let unknown = Finding::error("unknown-element", "`<Famly>` is not part of `<Name>`.")
            .with_fix("Did you mean `<Family>`?")
            .with_location(Location {
                line: 3,
                column: 29,
                path: "/Referral/Child/Name/Famly".into(),
                pointer: None,
                span: None,
            });
        let required =
            Finding::error("required", format!("`<Name>` {}; it is required.", structure::must_contain("`<Family>`")))
                .with_location(Location {
                    line: 3,
                    column: 5,
                    path: "/Referral/Child/Name".into(),
                    pointer: Some("/child/name/family".into()),
                    span: None,
                });
        assert_eq!(rules(&one_cause_once(vec![unknown, required])), ["unknown-element"]);
    }
}
