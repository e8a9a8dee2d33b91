//! Bulk returns (a census of tens of thousands of children) validated record by record as the file is read:
//! memory holds the parts outside the records (the header), the aggregates, the findings, where each record
//! starts (4 bytes a record) and a few records in flight — never the return — and records are checked on
//! every core.
//!
//! One pass when the rules inside records read the aggregates only as duplicate checks (`self.key in
//! agg.keys`, a `repeats` aggregate of that same key): the aggregates are gathered as the records are checked,
//! and afterwards the few records whose key repeats are read again, from where they start, and checked with the
//! duplicates known. Two passes when a rule inside records reads the aggregates in any other way: the first
//! gathers them, the second checks every record with them known. Rules are split by where their context
//! lies: inside records (checked per record, with `root` holding the header and that one record) or outside
//! (checked once, with `root` holding the header and `agg`).

use std::io::BufRead;
use std::sync::{mpsc, Arc};

use serde_json::{Map, Value};

use crate::convert::{from_xml_part, SourceMap};
use crate::document::records::{Piece, PieceKind, Splitter, TextPosition};
use crate::document::{self, Format, LineIndex};
use crate::finding::{Excerpt, Finding, Location};
use crate::standard::{AggUse, Node, ObjectNode, Repeat, StandardPack};

use super::aggregate::{observe, observe_per_record, Accumulator, Observed};
use super::rules::{Context, Memos, Scope};
use super::{structure, Checked, Locate, Located, Validator};

/// Opens the return afresh, reading from the byte offset given (0 for a whole pass; a record's offset to read
/// that record again).
pub type Opener<'a> = dyn Fn(u64) -> std::io::Result<Box<dyn BufRead + Send + 'a>> + Sync + 'a;

/// Where a record starts in the file, found again for the few records checked a second time.
#[derive(Clone, Copy)]
struct RecordAt {
    offset: u64,
    line: u32,
    column: u32,
}

/// Where every record of a one-pass check starts, in 4 bytes a record (the distance from the record before):
/// 3 MB for a return of 800,000 children. A distance of 4 GB or more (only possible with that much between two
/// records) is kept aside in full.
#[derive(Default)]
struct RecordStarts {
    gaps: Vec<u32>,
    wide: std::collections::BTreeMap<usize, u64>,
    last: u64,
}

impl RecordStarts {
    fn push(&mut self, offset: u64) {
        let gap = offset.saturating_sub(self.last);
        match u32::try_from(gap) {
            Ok(gap) => self.gaps.push(gap),
            Err(_) => {
                self.wide.insert(self.gaps.len(), gap);
                self.gaps.push(0);
            }
        }
        self.last = offset;
    }

    /// The file offsets of the records `wanted` (ascending), with their lines and columns, counted by reading
    /// the file once up to the last of them.
    fn find(&self, open: &Opener<'_>, wanted: &std::collections::BTreeSet<usize>) -> std::io::Result<Vec<(usize, RecordAt)>> {
        let mut offsets = Vec::with_capacity(wanted.len());
        let mut offset = 0u64;
        for (index, gap) in self.gaps.iter().enumerate() {
            offset += self.wide.get(&index).copied().unwrap_or(u64::from(*gap));
            if wanted.contains(&index) {
                offsets.push((index, offset));
            }
        }
        let mut found = Vec::with_capacity(offsets.len());
        let mut reader = open(0)?;
        let (mut read, mut position) = (0u64, TextPosition::default());
        let mut next = offsets.iter().peekable();
        while let Some(&&(index, at)) = next.peek() {
            let block = reader.fill_buf()?;
            if block.is_empty() {
                break;
            }
            let take = block.len().min(usize::try_from(at - read).unwrap_or(usize::MAX));
            position.advance(&block[..take]);
            reader.consume(take);
            read += take as u64;
            if read == at {
                let (line, column) = position.at();
                found.push((index, RecordAt { offset: at, line, column }));
                next.next();
            }
        }
        Ok(found)
    }
}

/// Where the records of a pack are, in its instance and in its XML.
struct RecordsLayout<'p> {
    /// JSON Pointer of the records array: `/Children/Child`.
    pointer: String,
    /// Local names from the document element down to the record element.
    xml_path: Vec<String>,
    node: &'p Node,
    /// Pointer from a record to its key: `/ChildIdentifiers/LAchildID`.
    key: String,
    min_items: u64,
}

fn layout(pack: &StandardPack) -> Option<RecordsLayout<'_>> {
    let records = pack.manifest.records.as_ref()?;
    let mut pointer = String::new();
    let mut xml_path = vec![pack.binding.root.clone()];
    let mut node: &Node = &pack.binding.node;
    let mut last = None;
    for name in records.path.split('/').filter(|s| !s.is_empty() && *s != "*") {
        let Node::Object(object) = node else { return None };
        let (_, field) = object.field_by_json(name)?;
        pointer.push('/');
        pointer.push_str(name);
        xml_path.push(field.xml.clone());
        if field.repeat == Repeat::Wrapped {
            xml_path.push(field.item_xml.clone());
        }
        node = &field.node;
        last = Some(field);
    }
    let field = last?;
    if field.repeat == Repeat::One {
        return None;
    }
    let key = records.key.split('/').filter(|s| !s.is_empty()).map(|s| format!("/{s}")).collect();
    Some(RecordsLayout { pointer, xml_path, node, key, min_items: if field.required { field.min_items.unwrap_or(1) } else { 0 } })
}

/// Locates pointers of one piece (a record or a part) of a return in the file.
struct PieceLocator<'a> {
    value: &'a Value,
    map: &'a SourceMap,
    lines: &'a LineIndex,
    /// The piece's pointer as the checks see it, and as the user's file has it.
    strip: String,
    replace: String,
    line: u32,
    column: u32,
    xpath_prefix: String,
}

impl PieceLocator<'_> {
    fn shift(&self, mut location: Location) -> Location {
        if location.line == 1 {
            location.column += self.column.saturating_sub(1);
        }
        location.line += self.line.saturating_sub(1);
        location
    }
}

impl Locate for PieceLocator<'_> {
    fn locate(&self, pointer: &str) -> Location {
        let inner = pointer.strip_prefix(self.strip.as_str()).unwrap_or("");
        let mut location = self.shift(self.map.locate(self.value, inner, self.lines));
        location.path = format!("{}{}", self.xpath_prefix, location.path);
        location.pointer = Some(format!("{}{inner}", self.replace));
        location
    }

    fn excerpt(&self, line: u32) -> Option<Excerpt> {
        let local = line.checked_sub(self.line.saturating_sub(1)).filter(|l| *l > 0)?;
        let mut excerpt = self.lines.excerpt(local, 1);
        if excerpt.first_line == 1 {
            if let Some(first) = excerpt.lines.first_mut() {
                *first = format!("{}{}", " ".repeat(self.column.saturating_sub(1) as usize), first);
            }
        }
        excerpt.first_line += self.line.saturating_sub(1);
        Some(excerpt)
    }
}

/// A piece read and converted.
struct Converted {
    value: Value,
    map: SourceMap,
    lines: LineIndex,
    findings: Vec<Finding>,
}

/// A part of a return outside its records: where it sits in the instance, its bytes, and what it became.
type Part = (Vec<String>, Piece, Converted);

/// Parses and converts one piece; its own findings (not well-formed, unknown elements) are located in the file.
#[allow(clippy::result_large_err)] // one finding, once per record that cannot be read
fn convert_piece(validator: &Validator<'_>, pack: &StandardPack, piece: &Piece, node: &Node, xpath: &str, step: &str) -> Result<Converted, Finding> {
    let lines = LineIndex::new(&piece.bytes);
    let shift = |mut location: Location| {
        if location.line == 1 {
            location.column += piece.column.saturating_sub(1);
        }
        location.line += piece.line.saturating_sub(1);
        location
    };
    let element = match document::parse_xml(&piece.bytes, &validator.options.limits) {
        Ok(doc) => doc.root,
        Err(mut finding) => {
            if let Some(location) = finding.location.take() {
                let rest = location.path.splitn(3, '/').nth(2).map(|r| format!("/{r}")).unwrap_or_default();
                let mut location = shift(location);
                location.path = format!("{xpath}/{step}{rest}");
                finding.location = Some(location);
            }
            return Err(finding);
        }
    };
    let converted = from_xml_part(&element, node, &pack.binding.namespace, validator.catalog, &lines, &format!("{xpath}/{step}"));
    let findings = converted
        .findings
        .into_iter()
        .map(|mut f| {
            f.location = f.location.map(shift);
            f
        })
        .collect();
    let mut source = converted.source;
    source.step = step.to_string();
    Ok(Converted { value: converted.value, map: SourceMap::Xml(source), lines, findings })
}

fn with_excerpt(mut finding: Finding, locator: &dyn Locate) -> Finding {
    if finding.excerpt.is_none() {
        if let Some(line) = finding.location.as_ref().map(|l| l.line) {
            finding.excerpt = locator.excerpt(line);
        }
    }
    finding
}

/// Puts `value` at `pointer` in `root`, making the objects on the way.
fn insert_at(root: &mut Value, pointer: &[String], value: Value) {
    let Some((last, path)) = pointer.split_last() else { return };
    let mut node = root;
    for name in path {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Some(map) = node.as_object_mut() else { return };
        node = map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    if let Some(map) = node.as_object_mut() {
        map.insert(last.clone(), value);
    }
}

/// The JSON names of the fields that the XML element names `names` (below the document element) are.
fn json_path<'p>(pack: &'p StandardPack, names: &[String]) -> Option<(Vec<String>, &'p Node)> {
    let mut node: &Node = &pack.binding.node;
    let mut out = Vec::new();
    for name in names {
        let Node::Object(object): &Node = node else { return None };
        let object: &ObjectNode = object;
        let (_, field) = object.field_by_element(name)?;
        out.push(field.json.clone());
        node = &field.node;
    }
    Some((out, node))
}

/// When the rules inside records may be checked: as each record is read (one pass), or only once the
/// aggregates of the whole return are known (a first pass to gather them).
enum Plan {
    /// One pass: no rule inside records reads the aggregates except as a duplicate check (`self.key in
    /// agg.keys` over a `repeats` aggregate of that key). Those rules are checked with the aggregates still
    /// empty, and the few records whose key turns out repeated are checked again once the pass is done.
    OnePass { recheck_by: Vec<usize> },
    /// Two passes: some rule inside records reads the aggregates otherwise.
    TwoPass,
}

impl Plan {
    fn of(pack: &StandardPack) -> Plan {
        let mut recheck_by = Vec::new();
        for group in pack.rule_groups.iter().filter(|g| g.in_records) {
            for rule in group.rules.iter().filter_map(|&i| pack.rules.get(i)) {
                match &rule.agg_use {
                    AggUse::None => {}
                    AggUse::Repeats(indices) => recheck_by.extend(indices.iter().copied()),
                    AggUse::Any => return Plan::TwoPass,
                }
            }
        }
        recheck_by.sort_unstable();
        recheck_by.dedup();
        Plan::OnePass { recheck_by }
    }
}

/// What a worker sends back for one record.
struct RecordResult {
    index: usize,
    findings: Vec<Finding>,
    /// What the aggregates inside records saw in it (gathered in the same pass).
    seen: Vec<(usize, Observed)>,
}

/// How many records go to a worker at a time.
const RECORDS_PER_BATCH: usize = 32;

/// What a streamed check of a bulk return says once its findings have all been given.
#[derive(Debug, Clone)]
pub struct BulkSummary {
    pub pack: Arc<StandardPack>,
    /// Records read (children in a census return).
    pub records: usize,
    /// Findings given, by severity.
    pub counts: crate::finding::Counts,
}

impl Validator<'_> {
    /// Validates a bulk return as [`Validator::check_bulk`] does, giving each finding to `sink` as it is made
    /// instead of holding them: the findings of the records in file order, then those about the return as a
    /// whole. Memory is bounded by the largest record and the return-level state, not by the findings.
    pub fn check_bulk_streaming(&self, pack: &Arc<StandardPack>, open: &Opener<'_>, sink: &mut dyn FnMut(Finding)) -> std::io::Result<BulkSummary> {
        let checked = self.check_bulk(pack, open)?;
        let mut counts = crate::finding::Counts::default();
        for finding in checked.findings {
            counts.add(finding.severity);
            sink(finding);
        }
        Ok(BulkSummary { pack: Arc::clone(pack), records: checked.records.unwrap_or(0), counts })
    }
}

impl Validator<'_> {
    /// Validates a bulk return of `pack` record by record, reading it through `open` (once, or twice when its
    /// rules need the aggregates of the whole return first).
    pub fn check_bulk(&self, pack: &Arc<StandardPack>, open: &Opener<'_>) -> std::io::Result<Checked> {
        let mut checked = Checked {
            format: Some(Format::Xml),
            pack: Some(Arc::clone(pack)),
            instance: None,
            body_pack: None,
            findings: Vec::new(),
            records: None,
        };
        let Some(layout) = layout(pack) else {
            checked.findings.push(Finding::error(
                "standard",
                format!("{}: its records path does not name a repeating field of its schema.", pack.reference()),
            ));
            return Ok(checked);
        };
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
        let base_context = Context::new(&Value::Null, None, &self.clock, &pack.params);
        let plan = Plan::of(pack);

        // With two passes the first gathers the aggregates inside records; with one they are gathered as the
        // records are checked, and the rules inside records see them empty.
        let mut gathered = Accumulator::new(pack);
        let gather_in_records = gathered.any_in_records();
        let record_agg = match plan {
            Plan::TwoPass if gather_in_records => {
                self.gather_pass(pack, &layout, open, workers, &base_context, &mut gathered)?;
                let mut early = Accumulator::new(pack);
                std::mem::swap(&mut early, &mut gathered);
                Some(early)
            }
            _ => None,
        };

        let mut splitter = Splitter::new(open(0)?, layout.xml_path.clone(), self.options.limits);
        let root_name = pack.binding.root.clone();
        let container_xpath = format!("/{}", layout.xml_path[..layout.xml_path.len() - 1].join("/"));
        let mut frame = Value::Object(Map::new());
        let mut parts: Vec<Part> = Vec::new();
        let mut frame_findings: Vec<Finding> = Vec::new();
        let pending = self.read_frame(pack, &mut splitter, &mut frame, &mut parts, &mut frame_findings);
        if splitter.root.as_deref().is_some_and(|r| r != root_name) {
            frame_findings.push(Finding::error(
                "root-element",
                format!("The document element is `{}`; a {} starts with `{}`.", splitter.root.clone().unwrap_or_default(), pack.manifest.title, root_name),
            ).with_location(Location { line: 1, column: 1, path: String::new(), pointer: None, span: None }));
        }
        // The aggregates the rules inside records see: all of them (two passes, with those outside records
        // from the frame as far as it is known now), or none yet (one pass).
        let record_agg = match record_agg {
            Some(mut early) => {
                let mut outside = Accumulator::new(pack);
                outside.add_in(&frame, &Value::Null, &base_context.as_of, &base_context.now, &pack.params, Some(false));
                early.merge(outside);
                early.finish()
            }
            None => Accumulator::new(pack).finish(),
        };
        let observe_records = gather_in_records && matches!(plan, Plan::OnePass { .. });
        let mut record_findings: Vec<(usize, Vec<Finding>)> = Vec::new();
        let mut fatal: Option<Finding> = None;
        let mut late_parts: Vec<Piece> = Vec::new();
        let mut records = 0usize;
        let keep_positions = matches!(&plan, Plan::OnePass { recheck_by } if !recheck_by.is_empty());
        let mut starts = RecordStarts::default();
        if let Some(first) = pending {
            let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::sync_channel::<Vec<Piece>>(4)).unzip();
            let (results, collected) = mpsc::channel::<Vec<RecordResult>>();
            std::thread::scope(|scope| {
                for receiver in receivers {
                    let results = results.clone();
                    let layout = &layout;
                    let frame = &frame;
                    let agg = &record_agg;
                    let container_xpath = &container_xpath;
                    let base_context = &base_context;
                    scope.spawn(move || {
                        let mut root = frame.clone();
                        let memos = Memos::new(pack);
                        let mut aggregate_memos = Vec::new();
                        while let Ok(batch) = receiver.recv() {
                            let mut out = Vec::new();
                            let looked = self.first_look(pack, layout, base_context, &mut root, agg, &memos, batch, observe_records.then_some(&mut aggregate_memos));
                            for (index, piece, look) in looked {
                                let known = match look {
                                    Look::Clean(seen) => {
                                        if !seen.is_empty() {
                                            out.push(RecordResult { index, findings: Vec::new(), seen });
                                        }
                                        continue;
                                    }
                                    Look::Again(known) => known,
                                };
                                let (findings, converted) = self.check_record(pack, layout, base_context, &mut root, agg, &memos, container_xpath, index, &piece, known);
                                let seen = if observe_records && converted {
                                    observe(pack, &root, &Value::Null, &base_context.as_of, &base_context.now, &pack.params, Some(true), Some(&mut aggregate_memos))
                                } else {
                                    Vec::new()
                                };
                                if !findings.is_empty() || !seen.is_empty() {
                                    out.push(RecordResult { index, findings, seen });
                                }
                            }
                            if !out.is_empty() && results.send(out).is_err() {
                                break;
                            }
                        }
                    });
                }
                drop(results);
                let mut take = |out: Vec<RecordResult>, gathered: &mut Accumulator<'_>| {
                    for result in out {
                        if !result.seen.is_empty() {
                            gathered.apply_record(result.index, result.seen);
                        }
                        if !result.findings.is_empty() {
                            record_findings.push((result.index, result.findings));
                        }
                    }
                };
                // Records go to the workers in batches: fewer hand-overs between threads.
                let mut batch: Vec<Piece> = Vec::with_capacity(RECORDS_PER_BATCH);
                let mut batches = 0usize;
                let mut next = Some(first);
                while let Some(piece) = next.take() {
                    match &piece.kind {
                        PieceKind::Record(_) => {
                            if keep_positions {
                                starts.push(piece.offset);
                            }
                            records += 1;
                            if records % 256 == 0 {
                                if let Some(progress) = &self.progress {
                                    progress(piece.offset);
                                }
                            }
                            batch.push(piece);
                            if batch.len() == RECORDS_PER_BATCH {
                                batches += 1;
                                let full = std::mem::replace(&mut batch, Vec::with_capacity(RECORDS_PER_BATCH));
                                if senders[batches % senders.len()].send(full).is_err() {
                                    break;
                                }
                            }
                        }
                        // A part after the records: checked with the frame once the records are done.
                        PieceKind::Part { .. } => late_parts.push(piece),
                    }
                    while let Ok(result) = collected.try_recv() {
                        take(result, &mut gathered);
                    }
                    match splitter.next_piece() {
                        Ok(piece) => next = piece,
                        Err(finding) => fatal = Some(finding),
                    }
                }
                if !batch.is_empty() {
                    let _ = senders[(batches + 1) % senders.len()].send(batch);
                }
                drop(senders);
                while let Ok(result) = collected.recv() {
                    take(result, &mut gathered);
                }
            });
        }
        if let Some(finding) = fatal {
            frame_findings.push(finding);
        }
        for piece in late_parts {
            if let PieceKind::Part { parents, name } = piece.kind.clone() {
                self.frame_part(pack, &mut frame, &mut parts, &mut frame_findings, &parents, &name, piece);
            }
        }
        // The aggregates of the whole return: those inside records (gathered in the first pass, or in this
        // one) and those outside them, from the whole frame.
        let recheck = match &plan {
            Plan::OnePass { recheck_by } => gathered.records_with_repeats(recheck_by),
            Plan::TwoPass => Default::default(),
        };
        let mut outside = Accumulator::new(pack);
        outside.add_in(&frame, &Value::Null, &base_context.as_of, &base_context.now, &pack.params, Some(false));
        gathered.merge(outside);
        let agg = gathered.finish();
        // The records whose key repeats, checked again now that the duplicates are known.
        let mut root = frame.clone();
        let memos = Memos::new(pack);
        let again = if recheck.is_empty() { Vec::new() } else { starts.find(open, &recheck)? };
        for (index, at) in again {
            let Some(piece) = self.record_at(open, &layout, index, at)? else { continue };
            record_findings.retain(|(i, _)| *i != index);
            for (index, piece, look) in self.first_look(pack, &layout, &base_context, &mut root, &agg, &memos, vec![piece], None) {
                let Look::Again(known) = look else { continue };
                let (findings, _) = self.check_record(pack, &layout, &base_context, &mut root, &agg, &memos, &container_xpath, index, &piece, known);
                if !findings.is_empty() {
                    record_findings.push((index, findings));
                }
            }
        }
        // The frame's own checks: structure (records aside) and the rules outside records.
        set_records(&mut frame, &layout.pointer, Vec::new());
        let mut context = Context::new(&frame, None, &self.clock, &pack.params);
        context.agg = std::borrow::Cow::Borrowed(&agg);
        let frame_located = FrameLocator { parts: &parts, root: &root_name };
        let located = Located { locator: &frame_located, format: Format::Xml, prefix: String::new() };
        let records_prefix = format!("{}/", layout.pointer);
        for finding in structure::check(pack, &pack.validator, &frame, "", &located) {
            let pointer = finding.location.as_ref().and_then(|l| l.pointer.clone()).unwrap_or_default();
            let about_records = pointer == layout.pointer || pointer.starts_with(&records_prefix);
            if !about_records {
                frame_findings.push(finding);
            }
        }
        if (records as u64) < layout.min_items {
            frame_findings.push(
                Finding::error(
                    "minItems",
                    format!("The return has {records} `<{}>` record(s); at least {} is required.", layout.xml_path.last().cloned().unwrap_or_default(), layout.min_items),
                )
                .with_location(Location { line: 1, column: 1, path: container_xpath.clone(), pointer: Some(layout.pointer.clone()), span: None }),
            );
        }
        super::rules::check(pack, &context, &located, Scope::Frame, &mut frame_findings);
        let mut findings: Vec<Finding> = frame_findings.into_iter().map(|f| with_excerpt(f, &frame_located)).collect();
        record_findings.sort_by_key(|(i, _)| *i);
        for (_, found) in record_findings {
            findings.extend(found);
        }
        findings.sort_by_key(|f| f.location.as_ref().map(|l| (l.line, l.column)).unwrap_or((0, 0)));
        checked.findings = findings;
        checked.records = Some(records);
        Ok(checked)
    }

    /// Reads the record numbered `index` again, from where it starts.
    fn record_at(&self, open: &Opener<'_>, layout: &RecordsLayout<'_>, index: usize, at: RecordAt) -> std::io::Result<Option<Piece>> {
        let name = layout.xml_path.last().cloned().unwrap_or_default();
        let mut splitter = Splitter::new(open(at.offset)?, vec![name], self.options.limits);
        let Ok(Some(mut piece)) = splitter.next_piece() else { return Ok(None) };
        if piece.line == 1 {
            piece.column += at.column.saturating_sub(1);
        }
        piece.line += at.line.saturating_sub(1);
        piece.offset += at.offset;
        piece.kind = PieceKind::Record(index);
        Ok(Some(piece))
    }

    /// Reads the parts before the first record into the frame; gives the first record, if any.
    fn read_frame<R: BufRead>(
        &self,
        pack: &StandardPack,
        splitter: &mut Splitter<R>,
        frame: &mut Value,
        parts: &mut Vec<Part>,
        findings: &mut Vec<Finding>,
    ) -> Option<Piece> {
        loop {
            match splitter.next_piece() {
                Ok(Some(piece)) => match &piece.kind {
                    PieceKind::Record(_) => return Some(piece),
                    PieceKind::Part { parents, name } => {
                        let (parents, name) = (parents.clone(), name.clone());
                        self.frame_part(pack, frame, parts, findings, &parents, &name, piece)
                    }
                },
                Ok(None) => return None,
                Err(finding) => {
                    findings.push(finding);
                    return None;
                }
            }
        }
    }

    /// The first of two passes: gathers the aggregates inside records (they may read the header, so the
    /// frame comes first). Workers convert records and send back what the aggregates see in each; this thread
    /// holds the one set of aggregates, so nothing is gathered twice or merged.
    fn gather_pass(
        &self,
        pack: &StandardPack,
        layout: &RecordsLayout<'_>,
        open: &Opener<'_>,
        workers: usize,
        base_context: &Context<'_>,
        gathered: &mut Accumulator<'_>,
    ) -> std::io::Result<()> {
        let mut splitter = Splitter::new(open(0)?, layout.xml_path.clone(), self.options.limits);
        let mut frame = Value::Object(Map::new());
        let first = self.read_frame(pack, &mut splitter, &mut frame, &mut Vec::new(), &mut Vec::new());
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::sync_channel::<Piece>(8)).unzip();
        let (results, observed) = mpsc::channel::<Vec<(usize, Observed)>>();
        std::thread::scope(|scope| {
            for receiver in receivers {
                let results = results.clone();
                let mut root = frame.clone();
                scope.spawn(move || {
                    let step = layout.xml_path.last().cloned().unwrap_or_default();
                    let mut aggregate_memos = Vec::new();
                    while let Ok(piece) = receiver.recv() {
                        let value = match self.fast_value(pack, layout, &piece, &step) {
                            Some(value) => Some(value),
                            None => convert_piece(self, pack, &piece, layout.node, "", &step).ok().map(|c| c.value),
                        };
                        if let Some(value) = value {
                            set_records(&mut root, &layout.pointer, vec![value]);
                            let seen = observe(pack, &root, &Value::Null, &base_context.as_of, &base_context.now, &pack.params, Some(true), Some(&mut aggregate_memos));
                            if !seen.is_empty() && results.send(seen).is_err() {
                                break;
                            }
                        }
                    }
                });
            }
            drop(results);
            let mut next = first;
            let mut turn = 0usize;
            while let Some(piece) = next.take() {
                if matches!(piece.kind, PieceKind::Record(_)) {
                    turn += 1;
                    if senders[turn % senders.len()].send(piece).is_err() {
                        break;
                    }
                }
                while let Ok(seen) = observed.try_recv() {
                    gathered.apply(seen);
                }
                next = splitter.next_piece().ok().flatten();
            }
            drop(senders);
            while let Ok(seen) = observed.recv() {
                gathered.apply(seen);
            }
        });
        Ok(())
    }

    /// Converts a part outside the records and puts it in the frame.
    #[allow(clippy::too_many_arguments)]
    fn frame_part(
        &self,
        pack: &StandardPack,
        frame: &mut Value,
        parts: &mut Vec<Part>,
        findings: &mut Vec<Finding>,
        parents: &[String],
        name: &str,
        piece: Piece,
    ) {
        let names: Vec<String> = parents.iter().skip(1).cloned().chain(std::iter::once(name.to_string())).collect();
        let xpath = format!("/{}", parents.join("/"));
        match json_path(pack, &names) {
            Some((pointer, node)) => match convert_piece(self, pack, &piece, node, &xpath, name) {
                Ok(converted) => {
                    insert_at(frame, &pointer, converted.value.clone());
                    parts.push((pointer, piece, converted));
                }
                Err(finding) => findings.push(finding),
            },
            None => findings.push(
                Finding::error("unknown-element", format!("`<{name}>` is not part of `<{}>` in this standard.", parents.last().cloned().unwrap_or_default()))
                    .with_location(Location { line: piece.line, column: piece.column, path: format!("{xpath}/{name}"), pointer: None, span: None }),
            ),
        }
    }

    /// A record's value by the streaming fast path, or `None` when it declines (the tree path then converts).
    fn fast_value(&self, pack: &StandardPack, layout: &RecordsLayout<'_>, piece: &Piece, name: &str) -> Option<Value> {
        crate::convert::stream::element_to_value(&piece.bytes, name, layout.node, &pack.binding.namespace, &self.options.limits)
    }

    /// A first look at a batch of records, all at once in `root` (each rule is checked over all of them before
    /// the next), on the fast path's values: each record with what the look says of it ([`Look`]). Also the
    /// look at a record read again on its own (a batch of one).
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn first_look(
        &self,
        pack: &StandardPack,
        layout: &RecordsLayout<'_>,
        base: &Context<'_>,
        root: &mut Value,
        agg: &Value,
        memos: &Memos,
        batch: Vec<Piece>,
        observe: Option<&mut Vec<crate::rules::Memo>>,
    ) -> Vec<(usize, Piece, Look)> {
        let name = layout.xml_path.last().cloned().unwrap_or_default();
        let mut looked = Vec::with_capacity(batch.len());
        let mut fast = Vec::with_capacity(batch.len());
        let mut values = Vec::with_capacity(batch.len());
        for piece in batch {
            let PieceKind::Record(index) = piece.kind else { continue };
            match self.fast_value(pack, layout, &piece, &name) {
                Some(value) => {
                    values.push(value);
                    fast.push((index, piece));
                }
                None => looked.push((index, piece, Look::Again(None))),
            }
        }
        if fast.is_empty() {
            return looked;
        }
        let count = values.len();
        set_records(root, &layout.pointer, values);
        let mut clean = vec![pack.record_schema.is_some(); count];
        if let (Some((_, validator)), Some(Value::Array(records))) = (&pack.record_schema, root.pointer(&layout.pointer)) {
            for (ok, record) in clean.iter_mut().zip(records) {
                *ok = *ok && validator.is_valid(record);
            }
        }
        let context = base.over(root, agg, memos);
        let located = Located { locator: &Positions, format: Format::Xml, prefix: String::new() };
        let mut findings = Vec::new();
        super::rules::check(pack, &context, &located, Scope::Records, &mut findings);
        let mut found: Vec<Vec<Finding>> = (0..count).map(|_| Vec::new()).collect();
        let mut placed = true;
        for finding in findings {
            let position = finding_pointer(&finding).and_then(|p| record_position(&layout.pointer, p)).map(|(at, _)| at);
            match position.and_then(|at| Some((clean.get_mut(at)?, found.get_mut(at)?))) {
                Some((ok, theirs)) => {
                    *ok = false;
                    theirs.push(finding);
                }
                // A finding that cannot be placed: look at every record of the batch again, rules and all.
                None => placed = false,
            }
        }
        if !placed {
            clean.iter_mut().for_each(|ok| *ok = false);
        }
        let mut seen = match observe {
            Some(aggregate_memos) => observe_per_record(pack, root, count, &base.as_of, &base.now, &pack.params, Some(aggregate_memos)),
            None => Vec::new(),
        }
        .into_iter();
        for (((index, piece), ok), theirs) in fast.into_iter().zip(clean).zip(found) {
            let seen = seen.next().unwrap_or_default();
            let look = match (ok, placed) {
                (true, _) => Look::Clean(seen),
                (false, true) => Look::Again(Some(theirs)),
                (false, false) => Look::Again(None),
            };
            looked.push((index, piece, look));
        }
        looked
    }

    /// Everything about one record: conversion, structure, the rules inside records; located in the file.
    /// Also says whether the record could be read (`root` then holds it).
    #[allow(clippy::too_many_arguments)]
    fn check_record(
        &self,
        pack: &StandardPack,
        layout: &RecordsLayout<'_>,
        base: &Context<'_>,
        root: &mut Value,
        agg: &Value,
        memos: &Memos,
        container_xpath: &str,
        index: usize,
        piece: &Piece,
        known: Option<Vec<Finding>>,
    ) -> (Vec<Finding>, bool) {
        let name = layout.xml_path.last().cloned().unwrap_or_default();
        let step = format!("{name}[{}]", index + 1);
        let converted = match convert_piece(self, pack, piece, layout.node, container_xpath, &step) {
            Ok(c) => c,
            Err(finding) => return (vec![finding], false),
        };
        let key = converted.value.pointer(&layout.key).map(super::structure::display_value);
        set_records(root, &layout.pointer, vec![converted.value]);
        let Some(record) = root.pointer(&format!("{}/0", layout.pointer)) else { return (Vec::new(), true) };
        let locator = PieceLocator {
            value: record,
            map: &converted.map,
            lines: &converted.lines,
            strip: format!("{}/0", layout.pointer),
            replace: format!("{}/{index}", layout.pointer),
            line: piece.line,
            column: piece.column,
            xpath_prefix: container_xpath.to_string(),
        };
        let located = Located { locator: &locator, format: Format::Xml, prefix: String::new() };
        let mut findings = converted.findings;
        if let Some((_, validator)) = &pack.record_schema {
            let found = structure::check(pack, validator, record, &format!("{}/0", layout.pointer), &located);
            // A value not of its datatype was reported by the conversion already.
            let typed: Vec<String> = findings
                .iter()
                .filter(|f| f.rule == "type")
                .filter_map(|f| f.location.as_ref().map(|l| l.path.clone()))
                .collect();
            findings.extend(found.into_iter().filter(|f| {
                !(f.rule == "type" && f.location.as_ref().is_some_and(|l| typed.contains(&l.path)))
            }));
        }
        match known {
            // The first look found these on the same value: only their locations are new.
            Some(known) => {
                for mut finding in known {
                    let inside = finding_pointer(&finding).and_then(|p| record_position(&layout.pointer, p)).map_or("", |(_, inside)| inside);
                    finding.location = Some(located.locate(&format!("{}/0{inside}", layout.pointer)));
                    findings.push(finding);
                }
            }
            None => {
                let context = base.over(root, agg, memos);
                super::rules::check(pack, &context, &located, Scope::Records, &mut findings);
            }
        }
        let findings = findings
            .into_iter()
            .map(|mut f| {
                if f.record.is_none() {
                    f.record = key.clone();
                }
                with_excerpt(f, &locator)
            })
            .collect();
        (findings, true)
    }
}

/// What the first look at a batch says of one record.
enum Look {
    /// No finding: what the aggregates inside records see in it.
    Clean(Vec<(usize, Observed)>),
    /// Something to report: the record is converted again, with its source map, to locate it; with the
    /// findings of the rules when the first look could make them.
    Again(Option<Vec<Finding>>),
}

/// The pointer a finding of the first look carries (see [`Positions`]).
fn finding_pointer(finding: &Finding) -> Option<&str> {
    finding.location.as_ref().and_then(|l| l.pointer.as_deref())
}

/// Which record of the records at `records` (a pointer) `pointer` lies in, and the rest of it inside that record:
/// `/Children/Child/3/CINdetails/0` → (3, `/CINdetails/0`).
fn record_position<'p>(records: &str, pointer: &'p str) -> Option<(usize, &'p str)> {
    let rest = pointer.strip_prefix(records)?.strip_prefix('/')?;
    let (position, inside) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    Some((position.parse().ok()?, inside))
}

/// For a first look at a batch of records: a finding says only which record it is in (its pointer).
struct Positions;

impl Locate for Positions {
    fn locate(&self, pointer: &str) -> Location {
        Location { pointer: Some(pointer.to_string()), ..Location::default() }
    }
    fn excerpt(&self, _line: u32) -> Option<Excerpt> {
        None
    }
}

fn set_records(root: &mut Value, pointer: &str, records: Vec<Value>) {
    let path: Vec<String> = pointer.split('/').skip(1).map(str::to_string).collect();
    insert_at(root, &path, Value::Array(records));
}

/// Locates pointers of the frame in the part they fall in.
struct FrameLocator<'a> {
    parts: &'a [Part],
    root: &'a str,
}

impl FrameLocator<'_> {
    fn part_for(&self, pointer: &str) -> Option<(String, &Part)> {
        self.parts.iter().find_map(|part| {
            let prefix: String = part.0.iter().map(|n| format!("/{n}")).collect();
            (pointer == prefix || pointer.starts_with(&format!("{prefix}/"))).then_some((prefix, part))
        })
    }

    fn locator<'b>(&self, prefix: &str, part: &'b Part) -> PieceLocator<'b> {
        let xpath = format!("/{}", self.root);
        let depth = part.0.len().saturating_sub(1);
        let _ = depth;
        PieceLocator {
            value: &part.2.value,
            map: &part.2.map,
            lines: &part.2.lines,
            strip: prefix.to_string(),
            replace: prefix.to_string(),
            line: part.1.line,
            column: part.1.column,
            xpath_prefix: xpath,
        }
    }
}

impl Locate for FrameLocator<'_> {
    fn locate(&self, pointer: &str) -> Location {
        match self.part_for(pointer) {
            Some((prefix, part)) => self.locator(&prefix, part).locate(pointer),
            None => Location { line: 1, column: 1, path: format!("/{}", self.root), pointer: Some(pointer.to_string()), span: None },
        }
    }

    fn excerpt(&self, line: u32) -> Option<Excerpt> {
        self.parts.iter().find_map(|part| {
            let lines = part.2.lines.line_count();
            (line >= part.1.line && line < part.1.line + lines).then_some(()).and_then(|_| {
                let prefix: String = part.0.iter().map(|n| format!("/{n}")).collect();
                self.locator(&prefix, part).excerpt(line)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_names_its_record_and_the_rest_inside_it() {
        assert_eq!(record_position("/Children/Child", "/Children/Child/3/CINdetails/0"), Some((3, "/CINdetails/0")));
        assert_eq!(record_position("/Children/Child", "/Children/Child/12"), Some((12, "")));
        assert_eq!(record_position("/Children/Child", "/Children/Childs/1"), None);
        assert_eq!(record_position("/Children/Child", "/Header/x"), None);
    }

    #[test]
    fn record_starts_give_offsets_lines_and_columns_in_characters() {
        let text = "<R>\n  <C/>é<C/>\r\n\n<C/>\n".as_bytes().to_vec();
        let starts_at: Vec<u64> = (0..text.len()).filter(|&i| text[i..].starts_with(b"<C/>")).map(|i| i as u64).collect();
        assert_eq!(starts_at.len(), 3);
        let mut starts = RecordStarts::default();
        for &offset in &starts_at {
            starts.push(offset);
        }
        let bytes = text.clone();
        let open = move |offset: u64| -> std::io::Result<Box<dyn BufRead + Send>> {
            Ok(Box::new(std::io::Cursor::new(bytes.get(offset as usize..).unwrap_or_default().to_vec())))
        };
        let wanted: std::collections::BTreeSet<usize> = [1, 2].into_iter().collect();
        let found: Vec<(usize, u64, u32, u32)> =
            starts.find(&open, &wanted).unwrap().into_iter().map(|(i, at)| (i, at.offset, at.line, at.column)).collect();
        // `é` is two bytes and one character.
        assert_eq!(found, vec![(1, starts_at[1], 2, 8), (2, starts_at[2], 4, 1)]);
    }
}
