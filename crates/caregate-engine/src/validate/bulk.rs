//! Bulk returns (a census of tens of thousands of children) validated record by record as the file is read:
//! memory holds the parts outside the records (the header), the aggregates, where each record
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
#[cfg(not(target_family = "wasm"))]
use std::sync::mpsc;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::document::records::{Piece, PieceKind, Splitter, TextPosition};
use crate::document::{self, Format, LineIndex};
use crate::finding::{Excerpt, Finding, Location};
use crate::instance::{from_xml_part, SourceMap};
use crate::standard::{AggUse, Node, ObjectNode, Repeat, StandardPack};

use super::aggregate::{observe, observe_per_record, Accumulator, Observed};
use super::business::{Context, Memos, Scope};
use super::{structure, Checked, Locator, Share, ShareOf, SourceView, Validator};

/// Opens the return afresh, reading from the byte offset given (0 for a whole pass; a record's offset to read
/// that record again).
pub type Opener<'a> = dyn Fn(u64) -> std::io::Result<Opened<'a>> + Sync + 'a;

/// The return, opened by an [`Opener`].
pub type Opened<'a> = Box<dyn BufRead + Send + 'a>;

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
    fn find(
        &self,
        open: &Opener<'_>,
        wanted: &std::collections::BTreeSet<usize>,
    ) -> std::io::Result<Vec<(usize, RecordAt)>> {
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
    Some(RecordsLayout {
        pointer,
        xml_path,
        node,
        key,
        min_items: if field.required { field.min_items.unwrap_or(1) } else { 0 },
    })
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

impl Locator for PieceLocator<'_> {
    fn locate(&self, pointer: &str) -> Location {
        let inner = pointer.strip_prefix(self.strip.as_str()).unwrap_or("");
        let mut location = self.shift(self.map.locate(self.value, inner, self.lines));
        location.path = format!("{}{}", self.xpath_prefix, location.path);
        location.pointer = Some(format!("{}{inner}", self.replace));
        location
    }

    fn excerpt(&self, line: u32, column: u32) -> Option<Excerpt> {
        let local = line.checked_sub(self.line.saturating_sub(1)).filter(|l| *l > 0)?;
        let column = if local == 1 { column.saturating_sub(self.column.saturating_sub(1)) } else { column };
        Some(self.lines.excerpt(local, column, 1).placed_at(self.line, self.column))
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
fn convert_piece(
    validator: &Validator<'_>,
    pack: &StandardPack,
    piece: &Piece,
    node: &Node,
    xpath: &str,
    step: &str,
) -> Result<Converted, Finding> {
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
    let converted =
        from_xml_part(&element, node, &pack.binding.namespace, validator.catalog, &lines, &format!("{xpath}/{step}"));
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

impl Validator<'_> {
    /// `finding` with its excerpt, when the run's findings carry them.
    fn excerpt(&self, finding: Finding, locator: &dyn Locator) -> Finding {
        if self.excerpts {
            with_excerpt(finding, locator)
        } else {
            finding
        }
    }
}

fn with_excerpt(mut finding: Finding, locator: &dyn Locator) -> Finding {
    if finding.excerpt.is_none() {
        if let Some((line, column)) = finding.location.as_ref().map(|l| (l.line, l.column)) {
            finding.excerpt = locator.excerpt(line, column);
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

/// What a streamed check of a bulk return says once its findings have all been given.
#[derive(Debug, Clone)]
pub struct BulkSummary {
    pub pack: Arc<StandardPack>,
    /// Records read (children in a census return).
    pub records: usize,
    /// Findings given, by severity.
    pub counts: crate::finding::Counts,
}

/// What a worker sends back for one batch of records: their findings, and what the aggregates inside records
/// saw in each.
#[cfg(not(target_family = "wasm"))]
struct BatchResult {
    /// The batch's place in the file (0 for the first batch).
    seq: usize,
    records: Vec<RecordResult>,
}

/// How many records go to a worker at a time.
const RECORDS_PER_BATCH: usize = 32;

/// How many batches may wait for each worker, and for the collector: what is in flight is bounded by these.
#[cfg(not(target_family = "wasm"))]
const BATCHES_QUEUED: usize = 4;

/// What the splitter's thread hands back once the return has been read.
#[derive(Default)]
struct Split {
    records: usize,
    late_parts: Vec<Piece>,
    starts: RecordStarts,
    fatal: Option<Finding>,
}

impl Validator<'_> {
    /// Validates a bulk return of `pack` record by record, reading it through `open` (once, or twice when its
    /// rules need the aggregates of the whole return first); the findings all together, in file order.
    pub fn check_bulk(&self, pack: &Arc<StandardPack>, open: &Opener<'_>) -> std::io::Result<Checked> {
        let mut findings = Vec::new();
        let summary = self.check_bulk_streaming(pack, open, &mut |finding| findings.push(finding))?;
        findings.sort_by_key(|f| f.location.as_ref().map(|l| (l.line, l.column)).unwrap_or((0, 0)));
        Ok(Checked {
            format: Some(Format::Xml),
            pack: Some(summary.pack),
            instance: None,
            body_pack: None,
            findings,
            records: Some(summary.records),
        })
    }

    /// Validates a bulk return, giving each finding to `sink` as soon as it is known: first those of the parts
    /// before the records (the header), then each record's in file order, then those only the whole return
    /// can tell (rules over the aggregates, duplicates, parts after the records). Records are read once each
    /// and checked on every core; the findings come back through bounded channels and are put in file order
    /// here, so memory holds a few batches of records and the return-level state, never the findings.
    pub fn check_bulk_streaming(
        &self,
        pack: &Arc<StandardPack>,
        open: &Opener<'_>,
        sink: &mut dyn FnMut(Finding),
    ) -> std::io::Result<BulkSummary> {
        let mut counts = crate::finding::Counts::default();
        let mut give = |finding: Finding| {
            counts.add(finding.severity);
            sink(finding);
        };
        let Some(layout) = layout(pack) else {
            give(Finding::error(
                "standard",
                format!("{}: its records path does not name a repeating field of its schema.", pack.reference()),
            ));
            return Ok(BulkSummary { pack: Arc::clone(pack), records: 0, counts });
        };
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
        let params = self.params_for(pack);
        let base_context = Context::new(&Value::Null, None, &self.clock, &params, &self.references);
        let plan = Plan::of(pack);

        // With two passes the first gathers the aggregates inside records; with one they are gathered as the
        // records are checked, and the rules inside records see them empty.
        let mut gathered = Accumulator::new(pack);
        let gather_in_records = gathered.any_in_records();
        let record_agg = match plan {
            Plan::TwoPass if gather_in_records => {
                self.gather_pass(pack, &layout, open, workers, &base_context, &mut gathered)?;
                // The records' aggregates serve the rules inside records now, and those outside them at the end.
                Some(gathered.clone())
            }
            _ => None,
        };

        let mut frame = Value::Object(Map::new());
        let mut parts: Vec<Part> = Vec::new();
        let share = self.share.unwrap_or(Share { from: 0, until: None });
        let mut head_give = |finding: Finding| {
            if share.gives_head() {
                give(finding);
            }
        };
        let (splitter, pending) = self.read_head(pack, &layout, open, &mut frame, &mut parts, &mut head_give)?;
        // The aggregates the rules inside records see: all of them (two passes, with those outside records
        // from the frame as far as it is known now), or none yet (one pass).
        let record_agg = match record_agg {
            Some(mut early) => {
                early.merge(outside_records(pack, &frame, &base_context));
                early.finish()
            }
            None => Accumulator::new(pack).finish(),
        };
        let container_xpath = format!("/{}", layout.xml_path[..layout.xml_path.len() - 1].join("/"));
        let reader = Reader { pack, layout: &layout, base: &base_context, container_xpath: &container_xpath };
        let split = match pending {
            None => Split::default(),
            Some(first) => {
                let records = Records {
                    frame: &frame,
                    agg: &record_agg,
                    workers,
                    observe: gather_in_records && matches!(plan, Plan::OnePass { .. }),
                    keep_positions: matches!(&plan, Plan::OnePass { recheck_by } if !recheck_by.is_empty()),
                    share,
                };
                self.check_records(&reader, &records, first, splitter, &mut gathered, &mut give)
            }
        };
        let records = split.records;
        if share.gives_end() {
            let end = ReturnEnd { plan: &plan, split, frame, parts, gathered };
            self.check_return(&reader, open, end, &mut give)?;
        }
        Ok(BulkSummary { pack: Arc::clone(pack), records, counts })
    }

    /// The parts of the return before its first record (the header), read into `frame` and `parts`, and their
    /// findings given; then the splitter, positioned at the first record (`None`: the return has none).
    fn read_head<'o>(
        &self,
        pack: &StandardPack,
        layout: &RecordsLayout<'_>,
        open: &Opener<'o>,
        frame: &mut Value,
        parts: &mut Vec<Part>,
        give: &mut dyn FnMut(Finding),
    ) -> std::io::Result<(Splitter<Opened<'o>>, Option<Piece>)> {
        let mut splitter = Splitter::new(open(0)?, layout.xml_path.clone(), self.options.limits);
        let root_name = &pack.binding.root;
        let mut head_findings: Vec<Finding> = Vec::new();
        let pending = self.read_frame(pack, &mut splitter, frame, parts, &mut head_findings);
        if splitter.root.as_deref().is_some_and(|r| r != root_name) {
            head_findings.push(
                Finding::error(
                    "root-element",
                    format!(
                        "The document element is `{}`; a {} starts with `{}`.",
                        splitter.root.clone().unwrap_or_default(),
                        pack.manifest.title,
                        root_name
                    ),
                )
                .with_location(Location {
                    line: 1,
                    column: 1,
                    path: String::new(),
                    pointer: None,
                    span: None,
                }),
            );
        }
        let frame_located = FrameLocator { parts, root: root_name };
        let mut head: Vec<Finding> = head_findings.into_iter().map(|f| self.excerpt(f, &frame_located)).collect();
        head.sort_by_key(|f| f.location.as_ref().map(|l| (l.line, l.column)).unwrap_or((0, 0)));
        head.into_iter().for_each(give);
        Ok((splitter, pending))
    }

    /// The records, split on a thread of their own and checked on `records.workers` threads, their findings
    /// given in file order (and what they add to the aggregates gathered, when `records.observe`).
    fn check_records<R: BufRead + Send>(
        &self,
        reader: &Reader<'_>,
        records: &Records<'_>,
        first: Piece,
        splitter: Splitter<R>,
        gathered: &mut Accumulator,
        give: &mut dyn FnMut(Finding),
    ) -> Split {
        #[cfg(target_family = "wasm")]
        return self.check_records_in_turn(reader, records, first, splitter, gathered, give);
        #[cfg(not(target_family = "wasm"))]
        self.check_records_on_threads(reader, records, first, splitter, gathered, give)
    }

    /// [`Self::check_records`] where there are no threads (wasm32): each batch checked as it is split, so the
    /// findings come in file order without reordering.
    #[cfg(target_family = "wasm")]
    fn check_records_in_turn<R: BufRead>(
        &self,
        reader: &Reader<'_>,
        records: &Records<'_>,
        first: Piece,
        splitter: Splitter<R>,
        gathered: &mut Accumulator,
        give: &mut dyn FnMut(Finding),
    ) -> Split {
        let mut root = records.frame.clone();
        let memos = Memos::new(reader.pack);
        let mut aggregate_memos = Vec::new();
        self.split_records(first, splitter, records.keep_positions, &mut |_, batch| {
            let Some(check) = records.checks(&batch) else { return false };
            if !check && !records.observe {
                return true;
            }
            let observe = records.observe.then_some(&mut aggregate_memos);
            let purpose = if check { Purpose::Check(observe) } else { Purpose::Observe(observe) };
            for record in self.check_batch(reader, &mut root, records.agg, &memos, batch, purpose) {
                if !record.seen.is_empty() {
                    gathered.apply_record(record.index, record.seen);
                }
                record.findings.into_iter().for_each(&mut *give);
            }
            true
        })
    }

    #[cfg(not(target_family = "wasm"))]
    fn check_records_on_threads<R: BufRead + Send>(
        &self,
        reader: &Reader<'_>,
        records: &Records<'_>,
        first: Piece,
        splitter: Splitter<R>,
        gathered: &mut Accumulator,
        give: &mut dyn FnMut(Finding),
    ) -> Split {
        let pack = reader.pack;
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..records.workers).map(|_| mpsc::sync_channel::<(usize, Vec<Piece>, bool)>(BATCHES_QUEUED)).unzip();
        let (results, collected) = mpsc::sync_channel::<BatchResult>(records.workers * BATCHES_QUEUED);
        let keep_positions = records.keep_positions;
        std::thread::scope(|scope| {
            for receiver in receivers {
                let results = results.clone();
                let (frame, agg, observe) = (records.frame, records.agg, records.observe);
                scope.spawn(move || {
                    let mut root = frame.clone();
                    let memos = Memos::new(pack);
                    let mut aggregate_memos = Vec::new();
                    while let Ok((seq, batch, check)) = receiver.recv() {
                        let observing = observe.then_some(&mut aggregate_memos);
                        let purpose = if check { Purpose::Check(observing) } else { Purpose::Observe(observing) };
                        let records = self.check_batch(reader, &mut root, agg, &memos, batch, purpose);
                        if results.send(BatchResult { seq, records }).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(results);
            let splitting = scope.spawn(move || {
                self.split_records(first, splitter, keep_positions, &mut |seq, batch| {
                    let Some(check) = records.checks(&batch) else { return false };
                    // A run another share checks, and whose aggregates are not wanted, goes empty: the
                    // collector gives the runs in turn, and waits for each.
                    let batch = if check || records.observe { batch } else { Vec::new() };
                    senders[seq % senders.len()].send((seq, batch, check)).is_ok()
                })
            });
            // Batches come back in any order; each is given when those before it have been.
            let mut deliver = |records: Vec<RecordResult>| {
                for record in records {
                    if !record.seen.is_empty() {
                        gathered.apply_record(record.index, record.seen);
                    }
                    record.findings.into_iter().for_each(&mut *give);
                }
            };
            let mut waiting: std::collections::BTreeMap<usize, Vec<RecordResult>> = std::collections::BTreeMap::new();
            let mut next = 0usize;
            while let Ok(result) = collected.recv() {
                waiting.insert(result.seq, result.records);
                while let Some(records) = waiting.remove(&next) {
                    next += 1;
                    deliver(records);
                }
            }
            // Only a batch lost by a worker that stopped leaves a gap; what came after it is still given.
            waiting.into_values().for_each(&mut deliver);
            splitting.join().unwrap_or_else(|_| Split {
                fatal: Some(Finding::error("internal", "Reading the return stopped unexpectedly.")),
                ..Split::default()
            })
        })
    }

    /// What only the whole return can tell, given once its records are: the parts after the records, the
    /// duplicate checks of records whose key repeats (read again), the frame's structure, the number of
    /// records, and the rules outside records over the aggregates of the whole return.
    fn check_return(
        &self,
        reader: &Reader<'_>,
        open: &Opener<'_>,
        end: ReturnEnd<'_>,
        give: &mut dyn FnMut(Finding),
    ) -> std::io::Result<()> {
        let (pack, layout, base_context) = (reader.pack, reader.layout, reader.base);
        let ReturnEnd { plan, split, mut frame, mut parts, mut gathered } = end;
        let Split { records, late_parts, starts, fatal } = split;
        let root_name = &pack.binding.root;
        let mut late_findings: Vec<Finding> = Vec::new();
        if let Some(finding) = fatal {
            late_findings.push(finding);
        }
        for piece in late_parts {
            if let PieceKind::Part { parents, name } = piece.kind.clone() {
                self.frame_part(pack, &mut frame, &mut parts, &mut late_findings, &parents, &name, piece);
            }
        }
        // The aggregates of the whole return: those inside records (gathered in the first pass, or in this
        // one) and those outside them, from the whole frame.
        let (recheck, recheck_rules) = match plan {
            Plan::OnePass { recheck_by } => (gathered.records_with_repeats(recheck_by), repeat_rules(pack)),
            Plan::TwoPass => Default::default(),
        };
        gathered.merge(outside_records(pack, &frame, base_context));
        let agg = gathered.finish();
        // The records whose key repeats, read again now that the duplicates are known: their duplicate checks
        // (the only rules inside records that read the aggregates in one pass, and that saw them empty) are
        // checked again; everything else about them was given with the record.
        let mut root = frame.clone();
        let memos = Memos::new(pack);
        let again = if recheck.is_empty() { Vec::new() } else { starts.find(open, &recheck)? };
        for (index, at) in again {
            let Some(piece) = self.record_at(open, layout, index, at)? else { continue };
            for record in self.check_batch(reader, &mut root, &agg, &memos, vec![piece], Purpose::Check(None)) {
                late_findings.extend(record.findings.into_iter().filter(|f| recheck_rules.contains(&f.rule)));
            }
        }
        // The frame's own checks: structure (records aside) and the rules outside records.
        set_records(&mut frame, &layout.pointer, Vec::new());
        let params = self.params_for(pack);
        let mut context = Context::new(&frame, None, &self.clock, &params, &self.references);
        context.agg = std::borrow::Cow::Borrowed(&agg);
        let frame_located = FrameLocator { parts: &parts, root: root_name };
        let view = SourceView { locator: &frame_located, format: Format::Xml, prefix: String::new() };
        let records_prefix = format!("{}/", layout.pointer);
        // A value not of its datatype was reported by the conversion of its part already.
        let typed: Vec<&str> = parts
            .iter()
            .flat_map(|(_, _, converted)| &converted.findings)
            .filter(|f| f.rule == "type")
            .filter_map(|f| f.location.as_ref().map(|l| l.path.as_str()))
            .collect();
        for finding in structure::check(pack, &pack.validator, &frame, "", &view) {
            let pointer = finding.location.as_ref().and_then(|l| l.pointer.clone()).unwrap_or_default();
            let about_records = pointer == layout.pointer || pointer.starts_with(&records_prefix);
            let reported =
                finding.rule == "type" && finding.location.as_ref().is_some_and(|l| typed.contains(&l.path.as_str()));
            if !about_records && !reported {
                late_findings.push(finding);
            }
        }
        if (records as u64) < layout.min_items {
            late_findings.push(
                Finding::error(
                    "minItems",
                    format!(
                        "The return has {records} `<{}>` record(s); at least {} is required.",
                        layout.xml_path.last().cloned().unwrap_or_default(),
                        layout.min_items
                    ),
                )
                .with_location(Location {
                    line: 1,
                    column: 1,
                    path: reader.container_xpath.to_string(),
                    pointer: Some(layout.pointer.clone()),
                    span: None,
                }),
            );
        }
        super::business::check(pack, &context, &view, Scope::Frame, &mut late_findings);
        let mut late: Vec<Finding> = late_findings.into_iter().map(|f| self.excerpt(f, &frame_located)).collect();
        late.sort_by_key(|f| f.location.as_ref().map(|l| (l.line, l.column)).unwrap_or((0, 0)));
        late.into_iter().for_each(give);
        Ok(())
    }

    /// The splitter's thread: reads the records after the first and hands them (`hand`: to the workers, or to
    /// be checked at once) in numbered batches, in turn (fewer hand-overs between threads); keeps the parts
    /// after the records for later. `hand` answering `false` (the checking stopped) stops the reading.
    fn split_records<R: BufRead>(
        &self,
        first: Piece,
        mut splitter: Splitter<R>,
        keep_positions: bool,
        hand: &mut dyn FnMut(usize, Vec<Piece>) -> bool,
    ) -> Split {
        let mut split = Split::default();
        let mut batch: Vec<Piece> = Vec::with_capacity(RECORDS_PER_BATCH);
        let mut seq = 0usize;
        let mut next = Some(first);
        while let Some(piece) = next.take() {
            match &piece.kind {
                PieceKind::Record(_) => {
                    if keep_positions {
                        split.starts.push(piece.offset);
                    }
                    split.records += 1;
                    if split.records % 256 == 0 {
                        if let Some(progress) = &self.progress {
                            progress(piece.offset);
                        }
                    }
                    batch.push(piece);
                    if batch.len() == RECORDS_PER_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(RECORDS_PER_BATCH));
                        if !hand(seq, full) {
                            break;
                        }
                        seq += 1;
                    }
                }
                // A part after the records: checked with the frame once the records are done.
                PieceKind::Part { .. } => split.late_parts.push(piece),
            }
            match splitter.next_piece() {
                Ok(piece) => next = piece,
                Err(finding) => split.fatal = Some(finding),
            }
        }
        if !batch.is_empty() {
            hand(seq, batch);
        }
        split
    }

    /// Checks a batch of records, each read once: converted with the source of every node (the tree path
    /// only for XML the fast path cannot follow), checked for structure, and checked by the rules inside
    /// records all at once in `root` (each rule over all of the batch's records before the next rule: its
    /// code stays in the caches). Findings are located from the spans of that one parse; a line index of a
    /// record is made only when it has a finding.
    fn check_batch(
        &self,
        reader: &Reader<'_>,
        root: &mut Value,
        agg: &Value,
        memos: &Memos,
        batch: Vec<Piece>,
        purpose: Purpose<'_>,
    ) -> Vec<RecordResult> {
        let (observe, check) = match purpose {
            Purpose::Check(observe) => (observe, true),
            Purpose::Observe(observe) => (observe, false),
        };
        let Reader { pack, layout, base, container_xpath } = *reader;
        let name = layout.xml_path.last().cloned().unwrap_or_default();
        let mut results: Vec<RecordResult> = Vec::with_capacity(batch.len());
        let mut slots: Vec<Slot> = Vec::with_capacity(batch.len());
        let mut values: Vec<Value> = Vec::with_capacity(batch.len());
        for piece in batch {
            let PieceKind::Record(index) = piece.kind else { continue };
            let step = format!("{name}[{}]", index + 1);
            let read = match crate::instance::stream::element_to_record(
                &piece.bytes,
                &name,
                layout.node,
                &pack.binding.namespace,
                &self.options.limits,
            ) {
                Some(traced) => {
                    let mut source = traced.source;
                    source.step = step;
                    Some((traced.value, SourceMap::Xml(source), traced.faults, None))
                }
                None => match convert_piece(self, pack, &piece, layout.node, container_xpath, &step) {
                    Ok(converted) => Some((converted.value, converted.map, converted.findings, Some(converted.lines))),
                    Err(finding) => {
                        // Not well-formed: the record cannot be read, and is not counted in the aggregates.
                        results.push(RecordResult { index, findings: vec![finding], seen: Vec::new() });
                        None
                    }
                },
            };
            if let Some((value, map, faults, lines)) = read {
                let key = value.pointer(&layout.key).map(super::structure::display_value);
                let slot = Slot { index, piece, map, lines: std::cell::OnceCell::new(), faults, key };
                if let Some(lines) = lines {
                    let _ = slot.lines.set(lines);
                }
                slots.push(slot);
                values.push(value);
            }
        }
        let count = values.len();
        set_records(root, &layout.pointer, values);
        if !check {
            // Read for the aggregates alone (another share checks these records): what each adds, no findings.
            let Some(aggregate_memos) = observe else { return Vec::new() };
            let seen =
                observe_per_record(pack, root, count, &base.as_of, &base.now, base.params, Some(aggregate_memos));
            return slots
                .iter()
                .zip(seen)
                .filter(|(_, seen)| !seen.is_empty())
                .map(|(slot, seen)| RecordResult { index: slot.index, findings: Vec::new(), seen })
                .collect();
        }
        let no_records = Vec::new();
        let records = match root.pointer(&layout.pointer) {
            Some(Value::Array(records)) => records,
            _ => &no_records,
        };
        // Faults of the conversion, then structure, then the rules: each record's findings in that order.
        let mut found: Vec<Vec<Finding>> = slots.iter_mut().map(|slot| std::mem::take(&mut slot.faults)).collect();
        let locator = BatchLocator { slots: &slots, records, pointer: &layout.pointer, container_xpath };
        let view = SourceView { locator: &locator, format: Format::Xml, prefix: String::new() };
        for (at, theirs) in found.iter_mut().enumerate() {
            let Some(slot) = slots.get(at) else { continue };
            for fault in theirs.iter_mut() {
                locator.place_fault(slot, fault);
            }
            let (Some((_, validator)), Some(record)) = (&pack.record_schema, records.get(at)) else { continue };
            let structural = structure::check(pack, validator, record, &format!("{}/{at}", layout.pointer), &view);
            // A value not of its datatype was reported by the conversion already.
            let typed: Vec<String> = theirs
                .iter()
                .filter(|f| f.rule == "type")
                .filter_map(|f| f.location.as_ref().map(|l| l.path.clone()))
                .collect();
            theirs.extend(
                structural
                    .into_iter()
                    .filter(|f| !(f.rule == "type" && f.location.as_ref().is_some_and(|l| typed.contains(&l.path)))),
            );
        }
        let context = base.over(root, agg, memos);
        let mut ruled = Vec::new();
        super::business::check(pack, &context, &view, Scope::Records, &mut ruled);
        let mut astray = Vec::new();
        for finding in ruled {
            let index =
                finding_pointer(&finding).and_then(|p| record_position(&layout.pointer, p)).map(|(index, _)| index);
            match index
                .and_then(|index| slots.binary_search_by_key(&index, |s| s.index).ok())
                .and_then(|at| found.get_mut(at))
            {
                Some(theirs) => theirs.push(finding),
                None => astray.push(finding),
            }
        }
        let mut seen = match observe {
            Some(aggregate_memos) => {
                observe_per_record(pack, root, count, &base.as_of, &base.now, base.params, Some(aggregate_memos))
            }
            None => Vec::new(),
        }
        .into_iter();
        for (at, (slot, theirs)) in slots.iter().zip(found).enumerate() {
            let seen = seen.next().unwrap_or_default();
            // A record's lines are indexed only for the excerpts of its findings, when they are wanted.
            let piece_locator = if self.excerpts { locator.piece(at) } else { None };
            let mut findings: Vec<Finding> = super::one_cause_once(theirs)
                .into_iter()
                .map(|mut f| {
                    if f.record.is_none() {
                        f.record = slot.key.clone();
                    }
                    match &piece_locator {
                        Some(piece_locator) => with_excerpt(f, piece_locator),
                        None => f,
                    }
                })
                .collect();
            findings.sort_by_key(|f| f.location.as_ref().map(|l| (l.line, l.column)).unwrap_or((0, 0)));
            if !findings.is_empty() || !seen.is_empty() {
                results.push(RecordResult { index: slot.index, findings, seen });
            }
        }
        if !astray.is_empty() {
            match results.first_mut() {
                Some(first) => first.findings.extend(astray),
                None => results.push(RecordResult {
                    index: slots.first().map_or(0, |s| s.index),
                    findings: astray,
                    seen: Vec::new(),
                }),
            }
        }
        results.sort_by_key(|r| r.index);
        results
    }

    /// Reads the record numbered `index` again, from where it starts.
    fn record_at(
        &self,
        open: &Opener<'_>,
        layout: &RecordsLayout<'_>,
        index: usize,
        at: RecordAt,
    ) -> std::io::Result<Option<Piece>> {
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
        let step = layout.xml_path.last().cloned().unwrap_or_default();
        // Without threads (wasm32) each record is observed as it is read, on this thread.
        #[cfg(target_family = "wasm")]
        {
            let _ = workers;
            let (mut root, mut aggregate_memos) = (frame, Vec::new());
            let mut next = first;
            while let Some(piece) = next.take() {
                let seen =
                    self.observe_record(pack, layout, base_context, &step, &mut root, &piece, &mut aggregate_memos);
                if let Some((index, seen)) = seen {
                    gathered.apply_record(index, seen);
                }
                next = splitter.next_piece().ok().flatten();
            }
            Ok(())
        }
        #[cfg(not(target_family = "wasm"))]
        self.gather_on_threads(pack, first, splitter, &frame, &step, layout, workers, base_context, gathered)
    }

    /// What the aggregates see in one record of the first pass (`None`: not a record, or one not converted).
    #[allow(clippy::too_many_arguments)]
    fn observe_record(
        &self,
        pack: &StandardPack,
        layout: &RecordsLayout<'_>,
        base_context: &Context<'_>,
        step: &str,
        root: &mut Value,
        piece: &Piece,
        aggregate_memos: &mut Vec<crate::expr::Memo>,
    ) -> Option<(usize, Vec<(usize, Observed)>)> {
        let PieceKind::Record(index) = piece.kind else { return None };
        let value = match self.fast_value(pack, layout, piece, step) {
            Some(value) => value,
            None => convert_piece(self, pack, piece, layout.node, "", step).ok()?.value,
        };
        set_records(root, &layout.pointer, vec![value]);
        let seen = observe(
            pack,
            root,
            &Value::Null,
            &base_context.as_of,
            &base_context.now,
            base_context.params,
            Some(true),
            Some(aggregate_memos),
        );
        (!seen.is_empty()).then_some((index, seen))
    }

    /// The first pass's records observed on `workers` threads, the aggregates gathered on this one.
    #[cfg(not(target_family = "wasm"))]
    #[allow(clippy::too_many_arguments)]
    fn gather_on_threads<R: BufRead + Send>(
        &self,
        pack: &StandardPack,
        first: Option<Piece>,
        mut splitter: Splitter<R>,
        frame: &Value,
        step: &str,
        layout: &RecordsLayout<'_>,
        workers: usize,
        base_context: &Context<'_>,
        gathered: &mut Accumulator<'_>,
    ) -> std::io::Result<()> {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::sync_channel::<Piece>(8)).unzip();
        let (results, observed) = mpsc::channel::<(usize, Vec<(usize, Observed)>)>();
        std::thread::scope(|scope| {
            for receiver in receivers {
                let results = results.clone();
                let mut root = frame.clone();
                scope.spawn(move || {
                    let mut aggregate_memos = Vec::new();
                    while let Ok(piece) = receiver.recv() {
                        let seen = self.observe_record(
                            pack,
                            layout,
                            base_context,
                            step,
                            &mut root,
                            &piece,
                            &mut aggregate_memos,
                        );
                        if let Some(seen) = seen {
                            if results.send(seen).is_err() {
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
                while let Ok((index, seen)) = observed.try_recv() {
                    gathered.apply_record(index, seen);
                }
                next = splitter.next_piece().ok().flatten();
            }
            drop(senders);
            while let Ok((index, seen)) = observed.recv() {
                gathered.apply_record(index, seen);
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
                    // What the conversion found (elements out of order, unknown or repeated, values not of
                    // their datatype) is the part's to report; the part keeps them too, so that the frame's
                    // structure check does not report a datatype twice.
                    findings.extend(converted.findings.iter().cloned());
                    insert_at(frame, &pointer, converted.value.clone());
                    parts.push((pointer, piece, converted));
                }
                Err(finding) => findings.push(finding),
            },
            None => findings.push(
                Finding::error(
                    "unknown-element",
                    format!(
                        "`<{name}>` is not part of `<{}>` in this standard.",
                        parents.last().cloned().unwrap_or_default()
                    ),
                )
                .with_location(Location {
                    line: piece.line,
                    column: piece.column,
                    path: format!("{xpath}/{name}"),
                    pointer: None,
                    span: None,
                }),
            ),
        }
    }

    /// A record's value by the streaming fast path, or `None` when it declines (the tree path then converts).
    fn fast_value(&self, pack: &StandardPack, layout: &RecordsLayout<'_>, piece: &Piece, name: &str) -> Option<Value> {
        crate::instance::stream::element_to_value(
            &piece.bytes,
            name,
            layout.node,
            &pack.binding.namespace,
            &self.options.limits,
        )
    }
}

/// How the records of a return are checked: against the frame (the header, with no records), with the
/// aggregates the rules inside records see, on so many threads; whether the records' own aggregates are
/// gathered as they are checked (one pass), and whether each record's start is kept to read it again.
struct Records<'a> {
    frame: &'a Value,
    agg: &'a Value,
    /// Without threads (wasm32) the records are checked in turn, whatever this says.
    #[cfg_attr(target_family = "wasm", allow(dead_code))]
    workers: usize,
    observe: bool,
    keep_positions: bool,
    share: Share,
}

/// What a batch of records is read for; either way, what they add to the aggregates is gathered with the memos
/// given.
enum Purpose<'m> {
    /// Checked: their findings.
    Check(Option<&'m mut Vec<crate::expr::Memo>>),
    /// Only what they add to the aggregates (another share checks them).
    Observe(Option<&'m mut Vec<crate::expr::Memo>>),
}

impl Records<'_> {
    /// Whether the run of records `batch` is checked (`Some(true)`), only read for the aggregates or passed over
    /// (`Some(false)`: another share checks it), or is past this share (`None`: stop reading).
    fn checks(&self, batch: &[Piece]) -> Option<bool> {
        match batch.first().map_or(ShareOf::Mine, |first| self.share.batch(first.offset)) {
            ShareOf::Before => Some(false),
            ShareOf::Mine => Some(true),
            ShareOf::After => None,
        }
    }
}

/// What the return-level checks take over once the records have been read.
struct ReturnEnd<'a> {
    plan: &'a Plan,
    split: Split,
    frame: Value,
    parts: Vec<Part>,
    gathered: Accumulator<'a>,
}

/// The aggregates gathered from the parts of the return outside its records.
fn outside_records<'p>(pack: &'p StandardPack, frame: &Value, base: &Context<'_>) -> Accumulator<'p> {
    let mut outside = Accumulator::new(pack);
    outside.add_in(frame, &Value::Null, &base.as_of, &base.now, base.params, Some(false));
    outside
}

/// What checking a record needs of the return: its pack, where its records are, the rules' context.
#[derive(Clone, Copy)]
struct Reader<'a> {
    pack: &'a StandardPack,
    layout: &'a RecordsLayout<'a>,
    base: &'a Context<'a>,
    container_xpath: &'a str,
}

/// A record of a batch, read: where it is in the file and where each node of its value came from.
struct Slot {
    index: usize,
    piece: Piece,
    map: SourceMap,
    /// The record's line index, made when the first of its findings is located.
    lines: std::cell::OnceCell<LineIndex>,
    /// What the conversion found (not yet located in the file, when the fast path read the record).
    faults: Vec<Finding>,
    key: Option<String>,
}

impl Slot {
    fn lines(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(&self.piece.bytes))
    }
}

/// Locates pointers into a batch of records (`/Children/Child/3/…`: the batch's fourth record) in the file.
struct BatchLocator<'a> {
    slots: &'a [Slot],
    records: &'a [Value],
    pointer: &'a str,
    container_xpath: &'a str,
}

impl BatchLocator<'_> {
    /// The locator of the batch's record at `at` (its place in the batch's records).
    fn piece(&self, at: usize) -> Option<PieceLocator<'_>> {
        let slot = self.slots.get(at)?;
        Some(PieceLocator {
            value: self.records.get(at)?,
            map: &slot.map,
            lines: slot.lines(),
            strip: format!("{}/{at}", self.pointer),
            replace: format!("{}/{}", self.pointer, slot.index),
            line: slot.piece.line,
            column: slot.piece.column,
            xpath_prefix: self.container_xpath.to_string(),
        })
    }

    /// Locates a fault the fast path found (a span in the record's bytes and a path below the record).
    fn place_fault(&self, slot: &Slot, fault: &mut Finding) {
        let Some(location) = fault.location.as_mut() else { return };
        if location.line > 0 {
            return;
        }
        let Some(span) = location.span else { return };
        let (line, column) = slot.lines().locate(span.start);
        let step = match &slot.map {
            SourceMap::Xml(node) => node.step.as_str(),
            SourceMap::Json(_) => "",
        };
        location.path = format!("{}/{step}{}", self.container_xpath, location.path);
        location.column = if line == 1 { column + slot.piece.column.saturating_sub(1) } else { column };
        location.line = line + slot.piece.line.saturating_sub(1);
    }
}

impl Locator for BatchLocator<'_> {
    fn locate(&self, pointer: &str) -> Location {
        match record_position(self.pointer, pointer).and_then(|(at, _)| self.piece(at)) {
            Some(locator) => locator.locate(pointer),
            None => Location { pointer: Some(pointer.to_string()), ..Location::default() },
        }
    }

    fn excerpt(&self, _line: u32, _column: u32) -> Option<Excerpt> {
        // Each record's findings take their excerpt from that record's own locator.
        None
    }
}

/// The ids of the rules inside records that read the aggregates as duplicate checks.
fn repeat_rules(pack: &StandardPack) -> std::collections::HashSet<String> {
    pack.rule_groups
        .iter()
        .filter(|g| g.in_records)
        .flat_map(|g| g.rules.iter().filter_map(|&i| pack.rules.get(i)))
        .filter(|rule| matches!(rule.agg_use, AggUse::Repeats(_)))
        .map(|rule| rule.id.clone())
        .collect()
}

/// The pointer a located finding carries (its record's place in the return, as the user's file has it).
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

impl Locator for FrameLocator<'_> {
    fn locate(&self, pointer: &str) -> Location {
        match self.part_for(pointer) {
            Some((prefix, part)) => self.locator(&prefix, part).locate(pointer),
            None => Location {
                line: 1,
                column: 1,
                path: format!("/{}", self.root),
                pointer: Some(pointer.to_string()),
                span: None,
            },
        }
    }

    fn excerpt(&self, line: u32, column: u32) -> Option<Excerpt> {
        self.parts.iter().find_map(|part| {
            let lines = part.2.lines.line_count();
            (line >= part.1.line && line < part.1.line + lines).then_some(()).and_then(|_| {
                let prefix: String = part.0.iter().map(|n| format!("/{n}")).collect();
                self.locator(&prefix, part).excerpt(line, column)
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
        let starts_at: Vec<u64> =
            (0..text.len()).filter(|&i| text[i..].starts_with(b"<C/>")).map(|i| i as u64).collect();
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
        let found: Vec<(usize, u64, u32, u32)> = starts
            .find(&open, &wanted)
            .unwrap()
            .into_iter()
            .map(|(i, at)| (i, at.offset, at.line, at.column))
            .collect();
        // `é` is two bytes and one character.
        assert_eq!(found, vec![(1, starts_at[1], 2, 8), (2, starts_at[2], 4, 1)]);
    }
}
