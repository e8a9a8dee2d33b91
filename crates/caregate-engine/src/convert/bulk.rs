//! A bulk return (a census of tens of thousands of children) converted from XML to JSON as the file is read,
//! one record at a time, so that a return of any size converts in bounded memory: a few batches of records in
//! flight, the parts of the return outside its records, and the bytes since the last record ended.
//!
//! The output is the text that converting the whole document gives ([`super::convert`]): the records are
//! converted on their own — the fast path ([`crate::instance::stream`]), or the tree path ([`crate::instance::from_xml_part`])
//! when it declines — on several threads, and written in file order; everything outside the records (the
//! header, the document element and the elements that hold the records, any text or stray elements among
//! them) is gathered into a small XML document of its own and converted whole by the tree path, so that it
//! is read, checked and reported as in the whole document. Findings are located in the file and come in file
//! order, except that those of anything between records come once the records are written.
//!
//! One departure, for returns that do not conform anyway: an element that stands after the records but that
//! the standard puts before them (a header at the end) is written after them in the JSON, which has been
//! written up to the records by then; the value is the same, and the conversion reports the element as out
//! of order, as the whole document's conversion does. Records of a second record container (a repeated
//! `<Children>`) are written with the others, where the whole document's conversion drops them; both report
//! the repeated container.
//!
//! For: `caregate convert RETURN --to json`. Not for: JSON input (read whole by [`super::convert`]), or
//! validation (`validate` streams returns with its own record loop).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::rc::Rc;
use std::sync::{mpsc, Arc};

use quick_xml::events::Event;
use serde_json::{Map, Value};

use crate::document::records::{Piece, PieceKind, Splitter, TextPosition};
use crate::document::{self, Format, Limits, LineIndex};
use crate::finding::{Finding, Location, Span};
use crate::standard::{Catalog, Node, ObjectNode, Repeat, StandardPack};

use crate::instance::{from_xml, from_xml_part, stream};

/// How much of the start of an input is enough to tell whether it is a bulk return to stream.
pub const HEAD_BYTES: usize = 64 * 1024;

/// Where the records of a bulk standard are, in its instance and in its XML.
pub struct RecordsLayout<'p> {
    /// JSON names from the document's value down to the records array: `Children`, `Child`.
    pub pointer: Vec<String>,
    /// Local names from the document element down to the record element: `Message`, `Children`, `Child`.
    pub xml_path: Vec<String>,
    /// The binding of one record.
    pub node: &'p Node,
}

/// The layout of `pack`'s records, when its manifest names them and every field on the way to them but the
/// last (the records themselves, repeated or wrapped) is a single element.
pub fn records_layout(pack: &StandardPack) -> Option<RecordsLayout<'_>> {
    let records = pack.manifest.records.as_ref()?;
    let names: Vec<&str> = records.path.split('/').filter(|s| !s.is_empty() && *s != "*").collect();
    let mut pointer = Vec::with_capacity(names.len());
    let mut xml_path = vec![pack.binding.root.clone()];
    let mut node: &Node = &pack.binding.node;
    for (i, name) in names.iter().enumerate() {
        let Node::Object(object) = node else {
            return None;
        };
        let (_, field) = object.field_by_json(name)?;
        let last = i + 1 == names.len();
        if field.attribute || (field.repeat == Repeat::One) == last {
            return None;
        }
        pointer.push(field.json.clone());
        xml_path.push(field.xml.clone());
        if field.repeat == Repeat::Wrapped {
            xml_path.push(field.item_xml.clone());
        }
        node = &field.node;
    }
    (!pointer.is_empty()).then_some(RecordsLayout { pointer, xml_path, node })
}

/// The standard whose bulk return an input is, judged from its first bytes (up to [`HEAD_BYTES`]), when it
/// can be streamed: XML whose document element is the standard's, in no namespace (a record read on its own
/// is then in the namespace it is in within the document). `standard` is the one the user named, if any.
pub fn streamed_pack(
    head: &[u8],
    standard: Option<&Arc<StandardPack>>,
    catalog: &Catalog,
) -> Option<Arc<StandardPack>> {
    if document::sniff(head) != Some(Format::Xml) {
        return None;
    }
    let (local, namespace) = document::tokens::peek_root(&head[..head.len().min(HEAD_BYTES)])?;
    let pack = match standard {
        Some(pack) => Arc::clone(pack),
        None => catalog.by_xml_root(&local, &namespace)?,
    };
    let streams = pack.binding.namespace.is_empty()
        && namespace.is_empty()
        && local == pack.binding.root
        && records_layout(&pack).is_some();
    streams.then_some(pack)
}

/// What a streamed conversion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    pub records: usize,
    /// Findings reported (each once, through the caller's callback).
    pub findings: usize,
}

/// Why a streamed conversion stopped; the JSON written so far is then incomplete.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The return is not well-formed, or breaks a limit: the one finding that says where.
    #[error("{}", .0.message)]
    Unreadable(Box<Finding>),
    #[error("the standard's records path does not name a repeating field of its schema")]
    NoRecords,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Converts the bulk return read from `input` (a document of `pack`) to JSON written to `out`, record by
/// record. Each conversion finding is given to `report` as it is made, in file order.
pub fn bulk_to_json(
    input: impl Read,
    pack: &StandardPack,
    catalog: &Catalog,
    limits: &Limits,
    out: &mut dyn Write,
    report: &mut dyn FnMut(Finding),
) -> Result<Streamed, BulkError> {
    let layout = records_layout(pack).ok_or(BulkError::NoRecords)?;
    let kept = Rc::new(RefCell::new(Kept::new(limits)));
    let reader = BufReader::with_capacity(READ_CHUNK, Tee { inner: input, kept: Rc::clone(&kept) });
    let mut splitter = Splitter::new(reader, layout.xml_path.clone(), *limits);
    let mut stream = Stream {
        pack,
        catalog,
        limits,
        layout: &layout,
        out,
        report,
        kept,
        frame: Frame::default(),
        head: None,
        records: 0,
        findings: 0,
        last_end: None,
        unplaced: None,
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let fatal = std::thread::scope(|scope| stream.records(scope, &mut splitter, workers))?;
    if let Some(finding) = fatal {
        return Err(BulkError::Unreadable(Box::new(finding)));
    }
    stream.finish()?;
    Ok(Streamed { records: stream.records, findings: stream.findings })
}

/// Bytes read from the input at a time.
const READ_CHUNK: usize = 1 << 16;

/// How many records go to a worker at a time: enough that a batch of census children makes tens of kilobytes
/// of JSON, written to the output in one call, and that handing batches over costs little beside them.
const RECORDS_PER_BATCH: usize = 64;

/// Bytes forgotten at the front of [`Kept`] are dropped once this many have gathered.
const COMPACT_AT: usize = 1 << 20;

/// The bytes read from the input since the end of the last record (and up to [`COMPACT_AT`] bytes before it):
/// the splitter hands over records and the elements outside them, but the document element, the elements that
/// hold the records and any text among them are found only here.
struct Kept {
    bytes: Vec<u8>,
    /// File offset of `bytes[0]`.
    base: u64,
    /// File offset before which nothing is needed any more.
    from: u64,
    /// Most bytes held from `from` on: a record and the parts outside the records, each within the limit.
    most: u64,
    /// Set when more than `most` would have been held; the read that would have exceeded it failed.
    overflow: bool,
}

impl Kept {
    fn new(limits: &Limits) -> Self {
        let most = (limits.max_bytes as u64).saturating_mul(2).saturating_add(2 * READ_CHUNK as u64);
        Kept { bytes: Vec::new(), base: 0, from: 0, most, overflow: false }
    }

    fn end(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    fn index(&self, offset: u64) -> usize {
        usize::try_from(offset.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.bytes.len())
    }

    /// The bytes from file offset `from` to `to` (both already read and not forgotten).
    fn slice(&self, from: u64, to: u64) -> &[u8] {
        &self.bytes[self.index(from)..self.index(to).max(self.index(from))]
    }

    fn forget_before(&mut self, offset: u64) {
        self.from = offset;
        let dead = self.index(offset);
        if dead >= COMPACT_AT {
            self.bytes.drain(..dead);
            self.base += dead as u64;
        }
    }
}

/// The input, as it is read, copied into [`Kept`].
struct Tee<R> {
    inner: R,
    kept: Rc<RefCell<Kept>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut kept = self.kept.borrow_mut();
        if kept.end() + n as u64 - kept.from > kept.most {
            kept.overflow = true;
            return Err(std::io::Error::other("too much of the return outside its records"));
        }
        kept.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// The parts of the return outside its records, as one XML document: what comes before the first record, any
/// content between records, and what comes after the last, each piece remembered with where it stands in the
/// file.
#[derive(Default)]
struct Frame {
    doc: Vec<u8>,
    segments: Vec<Segment>,
}

/// Where a piece of the frame document stands in the file.
struct Segment {
    /// Offset in the frame document.
    at: usize,
    /// File offset, line and column of its first byte.
    offset: u64,
    position: TextPosition,
}

impl Frame {
    fn push(&mut self, bytes: &[u8], offset: u64, position: TextPosition) {
        self.segments.push(Segment { at: self.doc.len(), offset, position });
        self.doc.extend_from_slice(bytes);
    }

    /// The file offset of an offset in the frame document, with its line and column — `None` in the frame's
    /// first segment, which starts where the file does, so that the frame's own line index places it right.
    fn place(&self, at: usize) -> (u64, Option<(u32, u32)>) {
        let i = self.segments.partition_point(|s| s.at <= at).saturating_sub(1);
        let Some(segment) = self.segments.get(i) else {
            return (at as u64, None);
        };
        let at = at.min(self.doc.len()).max(segment.at);
        let offset = segment.offset + (at - segment.at) as u64;
        if segment.at == 0 && segment.offset == 0 {
            return (offset, None);
        }
        let mut position = segment.position;
        position.advance(&self.doc[segment.at..at]);
        (offset, Some(position.at()))
    }

    /// `doc` (the frame document, or its start with end tags that close it) converted by the tree path, as the
    /// whole document would be; a refusal is located in the file.
    fn convert(
        &self,
        doc: &[u8],
        pack: &StandardPack,
        catalog: &Catalog,
        limits: &Limits,
    ) -> Result<crate::instance::FromXml, BulkError> {
        let limits = Limits { max_bytes: limits.max_bytes.max(doc.len()), ..*limits };
        let parsed = document::parse_xml(doc, &limits)
            .map_err(|finding| BulkError::Unreadable(Box::new(self.locate(finding))))?;
        Ok(from_xml(&parsed.root, pack, catalog, &LineIndex::new(doc)))
    }

    /// A finding of the frame document, located in the file.
    fn locate(&self, mut finding: Finding) -> Finding {
        if let Some(location) = finding.location.as_mut() {
            if let Some(span) = location.span {
                let (start, position) = self.place(span.start);
                let (end, _) = self.place(span.end);
                if let Some((line, column)) = position {
                    location.line = line;
                    location.column = column;
                }
                location.span = Some(Span::new(file_offset(start), file_offset(end)));
            }
        }
        finding.excerpt = None;
        finding
    }
}

fn file_offset(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// The JSON of the frame, cut where the records go.
struct Cut {
    /// Up to and including the records' key (`"Child": `).
    prefix: String,
    /// From just after the records array to the end, with the final newline.
    suffix: String,
}

/// What the frame before the first record became.
struct Head {
    /// Length of the frame document that precedes the first record.
    len: usize,
    value: Value,
    prefix: String,
}

/// Records handed to a worker, numbered in file order, with a buffer to write their JSON into.
struct Batch {
    seq: usize,
    pieces: Vec<Piece>,
    /// Empty; the buffer of a batch already written, when there is one, so that its memory is used again.
    json: Vec<u8>,
}

/// A batch converted: each record's JSON preceded by `,` and its indented new line.
struct Written {
    seq: usize,
    json: Vec<u8>,
    findings: Vec<Finding>,
    /// A record that could not be read: the conversion stops at it.
    fatal: Option<Finding>,
}

struct Stream<'a, 'p> {
    pack: &'p StandardPack,
    catalog: &'p Catalog,
    limits: &'p Limits,
    layout: &'p RecordsLayout<'p>,
    out: &'a mut dyn Write,
    report: &'a mut dyn FnMut(Finding),
    kept: Rc<RefCell<Kept>>,
    frame: Frame,
    head: Option<Head>,
    records: usize,
    findings: usize,
    /// File offset, line and column just past the last record read.
    last_end: Option<(u64, TextPosition)>,
    /// Where the first of the records read since the frame's last piece starts; they have no stand-in yet.
    unplaced: Option<(u64, TextPosition)>,
}

impl<'p> Stream<'_, 'p> {
    fn report(&mut self, finding: Finding) {
        self.findings += 1;
        (self.report)(finding);
    }

    /// Reads the return to its end, converting its records on `workers` threads and writing them in file order;
    /// gives the finding that stopped it, if one did.
    fn records<'s, R: std::io::BufRead>(
        &mut self,
        scope: &'s std::thread::Scope<'s, '_>,
        splitter: &mut Splitter<R>,
        workers: usize,
    ) -> Result<Option<Finding>, BulkError>
    where
        'p: 's,
    {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::sync_channel::<Batch>(4)).unzip();
        let (results, written) = mpsc::channel::<Written>();
        let indent = "  ".repeat(self.layout.pointer.len() + 1);
        for receiver in receivers {
            let results = results.clone();
            let (pack, catalog, limits, layout, indent) =
                (self.pack, self.catalog, self.limits, self.layout, indent.clone());
            scope.spawn(move || {
                while let Ok(batch) = receiver.recv() {
                    if results.send(convert_batch(pack, catalog, limits, layout, &indent, batch)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        let mut order = InOrder::default();
        let mut batch = Vec::with_capacity(RECORDS_PER_BATCH);
        let mut sent = 0usize;
        let mut fatal = None;
        loop {
            let piece = match splitter.next_piece() {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(finding) => {
                    fatal = Some(self.refusal(finding));
                    break;
                }
            };
            // Elements outside the records stay in the kept bytes, and join the frame with what surrounds them.
            let PieceKind::Record(_) = piece.kind else {
                continue;
            };
            match self.passed(&piece) {
                Ok(()) => {}
                Err(BulkError::Unreadable(finding)) => {
                    fatal = Some(*finding);
                    break;
                }
                Err(e) => return Err(e),
            }
            self.records += 1;
            batch.push(piece);
            if batch.len() == RECORDS_PER_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(RECORDS_PER_BATCH));
                let json = order.spare.pop().unwrap_or_default();
                if senders[sent % workers].send(Batch { seq: sent, pieces: full, json }).is_err() {
                    break;
                }
                sent += 1;
            }
            while let Ok(done) = written.try_recv() {
                if let Some(finding) = self.write_in_order(&mut order, done)? {
                    fatal = Some(finding);
                }
            }
            if fatal.is_some() {
                break;
            }
        }
        // The records before a refusal are still written (and one of them that cannot be read, coming before the
        // refusal in the file, is the one reported).
        if !batch.is_empty() {
            let json = order.spare.pop().unwrap_or_default();
            let _ = senders[sent % workers].send(Batch { seq: sent, pieces: batch, json });
        }
        drop(senders);
        let mut record_fatal = None;
        for done in written {
            if let Some(finding) = self.write_in_order(&mut order, done)? {
                record_fatal = Some(finding);
            }
        }
        Ok(record_fatal.or(fatal))
    }

    /// The splitter's refusal, or that of the copy of what it read when too much stood outside the records.
    fn refusal(&self, finding: Finding) -> Finding {
        if !self.kept.borrow().overflow {
            return finding;
        }
        let mut refused = Finding::error(
            "input-too-large",
            format!(
                "More than {} bytes of the return stand outside its records in one place; it was refused.",
                self.limits.max_bytes
            ),
        );
        refused.location = finding.location;
        refused
    }

    /// Takes note of a record as the splitter passes it: the bytes before it join the frame (all of them before
    /// the first record, then anything but blanks and comments), and the first record opens the JSON.
    fn passed(&mut self, piece: &Piece) -> Result<(), BulkError> {
        let start = (piece.offset, TextPosition { line: u64::from(piece.line), column: u64::from(piece.column) });
        match self.last_end {
            None => {
                let head = self.kept.borrow().slice(0, piece.offset).to_vec();
                self.add_to_frame(&head, 0, TextPosition::default())?;
                self.open()?;
            }
            Some((from, position)) => {
                let gap = {
                    let kept = self.kept.borrow();
                    let gap = kept.slice(from, piece.offset);
                    carries_content(gap).then(|| gap.to_vec())
                };
                if let Some(gap) = gap {
                    self.stand_in()?;
                    self.add_to_frame(&gap, from, position)?;
                }
            }
        }
        self.unplaced.get_or_insert(start);
        let mut end = start.1;
        end.advance(&piece.bytes);
        let end_offset = piece.offset + piece.bytes.len() as u64;
        self.last_end = Some((end_offset, end));
        self.kept.borrow_mut().forget_before(end_offset);
        Ok(())
    }

    /// Adds bytes of the file to the frame, within the limit.
    fn add_to_frame(&mut self, bytes: &[u8], offset: u64, position: TextPosition) -> Result<(), BulkError> {
        if self.frame.doc.len() + bytes.len() > self.limits.max_bytes {
            let (line, column) = position.at();
            let finding = Finding::error(
                "input-too-large",
                format!(
                    "The parts of the return outside its records (its header, and whatever stands between records) come to more than {} bytes; it was refused.",
                    self.limits.max_bytes
                ),
            )
            .with_location(Location { line, column, path: String::new(), pointer: None, span: None });
            return Err(BulkError::Unreadable(Box::new(finding)));
        }
        self.frame.push(bytes, offset, position);
        Ok(())
    }

    /// An empty record element standing in the frame for the records read since its last piece: it keeps apart
    /// the text on either side of them and holds their place in the order of elements, as they do in the file.
    fn stand_in(&mut self) -> Result<(), BulkError> {
        let Some((offset, position)) = self.unplaced.take() else {
            return Ok(());
        };
        let name = self.layout.xml_path.last().map_or("", String::as_str);
        self.add_to_frame(format!("<{name}/>").as_bytes(), offset, position)
    }

    /// At the first record: converts the frame so far (the document up to the first record, its open elements
    /// closed), reports its findings and writes the JSON up to the records array.
    fn open(&mut self) -> Result<(), BulkError> {
        let len = self.frame.doc.len();
        let mut doc = self.frame.doc.clone();
        doc.extend_from_slice(&closing_tags(&doc));
        let converted = self.frame.convert(&doc, self.pack, self.catalog, self.limits)?;
        for finding in converted.findings {
            let finding = self.frame.locate(finding);
            self.report(finding);
        }
        let value = converted.value;
        let prefix = cut(&value, self.pack, self.layout).ok_or(BulkError::NoRecords)?.prefix;
        self.out.write_all(prefix.as_bytes())?;
        self.out.write_all(b"[")?;
        self.head = Some(Head { len, value, prefix });
        Ok(())
    }

    /// Writes a converted batch when its turn comes, with any that were waiting for it; gives the finding of a
    /// record that could not be read.
    fn write_in_order(&mut self, order: &mut InOrder, done: Written) -> Result<Option<Finding>, BulkError> {
        if order.stopped {
            return Ok(None);
        }
        order.waiting.insert(done.seq, done);
        while let Some(done) = order.waiting.remove(&order.next) {
            order.next += 1;
            let json = if order.first { done.json.get(1..).unwrap_or_default() } else { &done.json[..] };
            order.first &= json.is_empty();
            self.out.write_all(json)?;
            order.give_back(done.json);
            for finding in done.findings {
                self.report(finding);
            }
            if let Some(fatal) = done.fatal {
                order.waiting.clear();
                order.stopped = true;
                return Ok(Some(fatal));
            }
        }
        Ok(None)
    }

    /// After the last record: converts the whole frame, reports what it found after the first record, and
    /// closes the JSON.
    fn finish(&mut self) -> Result<(), BulkError> {
        let (from, position) = self.last_end.unwrap_or((0, TextPosition::default()));
        let tail = {
            let kept = self.kept.borrow();
            kept.slice(from, kept.end()).to_vec()
        };
        self.stand_in()?;
        self.add_to_frame(&tail, from, position)?;
        let converted = self.frame.convert(&self.frame.doc, self.pack, self.catalog, self.limits)?;
        let reported = self.head.as_ref().map_or(0, |head| head.len);
        for finding in converted.findings {
            let after_head = finding.location.as_ref().and_then(|l| l.span).is_none_or(|span| span.start >= reported);
            if self.head.is_none() || after_head {
                let finding = self.frame.locate(finding);
                self.report(finding);
            }
        }
        let mut value = converted.value;
        let Some(head) = self.head.take() else {
            // No record: nothing has been written, and the frame is the whole document.
            let text = serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?;
            self.out.write_all(text.as_bytes())?;
            self.out.write_all(b"\n")?;
            return Ok(());
        };
        let mut whole = cut(&value, self.pack, self.layout);
        if whole.as_ref().is_none_or(|cut| cut.prefix != head.prefix) {
            // Something after the records belongs before them: it follows them instead.
            let lost = keep_written_first(&mut value, &head.value, self.layout);
            for name in lost {
                let finding = Finding::error(
                    "not-converted",
                    format!("`{name}` continues after the records, where the JSON written before them cannot take it; what follows the records was left out."),
                );
                self.report(finding);
            }
            whole = cut(&value, self.pack, self.layout);
        }
        let suffix = whole.map_or_else(|| "\n".to_string(), |cut| cut.suffix);
        let indent = "  ".repeat(self.layout.pointer.len());
        self.out.write_all(b"\n")?;
        self.out.write_all(indent.as_bytes())?;
        self.out.write_all(b"]")?;
        self.out.write_all(suffix.as_bytes())?;
        Ok(())
    }
}

/// Batches that came back before their turn.
struct InOrder {
    waiting: BTreeMap<usize, Written>,
    next: usize,
    /// No record written yet: the first loses its leading comma.
    first: bool,
    /// A record could not be read: nothing after it is written.
    stopped: bool,
    /// Buffers of batches written, for batches to come: no more of them than batches were in flight at once.
    spare: Vec<Vec<u8>>,
}

impl Default for InOrder {
    fn default() -> Self {
        InOrder { waiting: BTreeMap::new(), next: 0, first: true, stopped: false, spare: Vec::new() }
    }
}

impl InOrder {
    /// Keeps a written batch's buffer to be used again, unless a batch of very large records made it large.
    fn give_back(&mut self, mut json: Vec<u8>) {
        if json.capacity() <= SPARE_BYTES {
            json.clear();
            self.spare.push(json);
        }
    }
}

/// Buffers larger than this are not kept for another batch: what is held between batches stays small.
const SPARE_BYTES: usize = 1 << 20;

/// Whether bytes between two records hold anything the conversion must see: elements, text, references or an
/// end tag (blanks, comments and processing instructions are dropped by the conversion).
fn carries_content(gap: &[u8]) -> bool {
    if gap.iter().all(u8::is_ascii_whitespace) {
        return false;
    }
    let mut reader = quick_xml::Reader::from_reader(gap);
    reader.config_mut().check_end_names = false;
    reader.config_mut().allow_unmatched_ends = true;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => return false,
            Ok(Event::Comment(_) | Event::PI(_)) => {}
            Ok(Event::Text(t)) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            Ok(_) | Err(_) => return true,
        }
    }
}

/// End tags for the elements left open at the end of `head` (the document up to its first record), innermost
/// first.
fn closing_tags(head: &[u8]) -> Vec<u8> {
    let mut reader = quick_xml::Reader::from_reader(head);
    reader.config_mut().check_end_names = false;
    reader.config_mut().allow_unmatched_ends = true;
    let mut open: Vec<Vec<u8>> = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => open.push(e.name().as_ref().as_bytes().to_vec()),
            Ok(Event::End(_)) => {
                open.pop();
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let mut tags = Vec::new();
    for name in open.iter().rev() {
        tags.extend_from_slice(b"</");
        tags.extend_from_slice(name);
        tags.push(b'>');
    }
    tags
}

/// Renders `frame` (the value of everything but the records) with the records array marked, and cuts the text
/// there. The mark goes where the binding puts the records among their siblings.
fn cut(frame: &Value, pack: &StandardPack, layout: &RecordsLayout<'_>) -> Option<Cut> {
    for attempt in 0..8 {
        let mark = format!("\u{1}records {attempt}\u{1}");
        let mut marked = frame.clone();
        place(&mut marked, &pack.binding.node, &layout.pointer, Value::String(mark.clone()))?;
        let text = serde_json::to_string_pretty(&marked).ok()?;
        let quoted = serde_json::to_string(&mark).ok()?;
        let mut found = memchr::memmem::find_iter(text.as_bytes(), quoted.as_bytes());
        let (Some(at), None) = (found.next(), found.next()) else {
            continue;
        };
        return Some(Cut { prefix: text[..at].to_string(), suffix: format!("{}\n", &text[at + quoted.len()..]) });
    }
    None
}

/// Puts `value` at `pointer` below `root` (a value of `node`), making the objects on the way; each key goes
/// where the binding orders it among its siblings.
fn place(root: &mut Value, node: &Node, pointer: &[String], value: Value) -> Option<()> {
    let (name, rest) = pointer.split_first()?;
    let Node::Object(object) = node else {
        return None;
    };
    let (_, field) = object.field_by_json(name)?;
    let map = root.as_object_mut()?;
    if rest.is_empty() {
        insert_ordered(map, object, name, value);
        return Some(());
    }
    if !map.get(name).is_some_and(Value::is_object) {
        insert_ordered(map, object, name, Value::Object(Map::new()));
    }
    place(map.get_mut(name)?, &field.node, rest, value)
}

/// Inserts `key` into `map`, whose keys follow the binding's order of `object`'s fields, keeping that order.
fn insert_ordered(map: &mut Map<String, Value>, object: &ObjectNode, key: &str, value: Value) {
    let mut rest = std::mem::take(map);
    let mut value = Some(value);
    for field in &object.fields {
        if field.json == key {
            rest.remove(key);
            if let Some(value) = value.take() {
                map.insert(field.json.clone(), value);
            }
        } else if let Some(existing) = rest.remove(&field.json) {
            map.insert(field.json.clone(), existing);
        }
    }
    map.extend(rest);
}

/// Reorders `whole` (the frame's value) so that, on the way to the records, the members written before the
/// records come first, as written (from `head`), and everything else after the records. Gives the names of
/// members written before the records whose content continued after them (left out).
fn keep_written_first(whole: &mut Value, head: &Value, layout: &RecordsLayout<'_>) -> Vec<String> {
    let mut lost = Vec::new();
    let mut whole = whole;
    let mut head = head;
    for name in &layout.pointer {
        let (Some(map), Some(written)) = (whole.as_object_mut(), head.as_object()) else {
            break;
        };
        let mut rest = std::mem::take(map);
        for (key, value) in written.iter().take_while(|(key, _)| *key != name) {
            if rest.remove(key).is_some_and(|now| &now != value) {
                lost.push(key.clone());
            }
            map.insert(key.clone(), value.clone());
        }
        if let Some(next) = rest.remove(name) {
            map.insert(name.clone(), next);
        }
        map.extend(rest);
        let (Some(next_whole), Some(next_head)) = (map.get_mut(name), written.get(name)) else {
            break;
        };
        whole = next_whole;
        head = next_head;
    }
    lost
}

/// Converts a batch of records: the fast path, or the tree path (with its findings) when it declines.
fn convert_batch(
    pack: &StandardPack,
    catalog: &Catalog,
    limits: &Limits,
    layout: &RecordsLayout<'_>,
    indent: &str,
    batch: Batch,
) -> Written {
    let name = layout.xml_path.last().map_or("", String::as_str);
    let container = format!("/{}", layout.xml_path[..layout.xml_path.len() - 1].join("/"));
    let namespace = &pack.binding.namespace;
    let mut json = batch.json;
    json.reserve(batch.pieces.iter().map(|p| p.bytes.len() * 2).sum());
    let mut written = Written { seq: batch.seq, json, findings: Vec::new(), fatal: None };
    for piece in batch.pieces {
        let PieceKind::Record(index) = piece.kind else {
            continue;
        };
        let mark = written.json.len();
        written.json.extend_from_slice(b",\n");
        written.json.extend_from_slice(indent.as_bytes());
        let depth = layout.pointer.len() + 1;
        if stream::element_to_json_into(&piece.bytes, name, layout.node, namespace, limits, depth, &mut written.json) {
            continue;
        }
        written.json.truncate(mark);
        let path = format!("{container}/{name}[{}]", index + 1);
        // A record with values not of their datatype or elements the standard does not have (a council's
        // first submission has them in most records) is read in one parse with its faults, which are the
        // tree path's findings (the same rules, messages and places: `tests/engine/roundtrip.rs`); only what
        // that declines is read as a tree.
        let value = match stream::element_to_record(&piece.bytes, name, layout.node, namespace, limits) {
            Some(record) => {
                let lines = (!record.faults.is_empty()).then(|| LineIndex::new(&piece.bytes));
                for mut fault in record.faults {
                    if let (Some(location), Some(lines)) = (fault.location.as_mut(), &lines) {
                        (location.line, location.column) = lines.locate(location.span.map_or(0, |s| s.start));
                        location.path = format!("{path}{}", location.path);
                    }
                    written.findings.push(shift(fault, &piece));
                }
                record.value
            }
            None => {
                let element = match document::parse_xml(&piece.bytes, limits) {
                    Ok(doc) => doc.root,
                    Err(finding) => {
                        written.fatal = Some(shift(finding, &piece));
                        break;
                    }
                };
                let lines = LineIndex::new(&piece.bytes);
                // The record's own namespace is checked where it stands, as the whole document's conversion does.
                if element.namespace != *namespace {
                    let (line, column) = lines.locate(element.span.start);
                    let location =
                        Location { line, column, path: path.clone(), pointer: None, span: Some(element.span) };
                    let finding =
                        Finding::error("namespace", crate::instance::from_xml::misplaced(&element, namespace))
                            .with_location(location);
                    written.findings.push(shift(finding, &piece));
                }
                let converted = from_xml_part(&element, layout.node, namespace, catalog, &lines, &path);
                written.findings.extend(converted.findings.into_iter().map(|f| shift(f, &piece)));
                converted.value
            }
        };
        match serde_json::to_string_pretty(&value) {
            Ok(text) => push_record(&mut written.json, indent, text.as_bytes()),
            Err(e) => {
                written.fatal = Some(shift(
                    Finding::error("not-converted", format!("A record could not be written as JSON: {e}.")),
                    &piece,
                ));
                break;
            }
        }
    }
    written
}

/// Appends `,`, a new line and a record's pretty JSON (written at indent 0), indented by `indent`.
fn push_record(out: &mut Vec<u8>, indent: &str, text: &[u8]) {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    out.extend_from_slice(b",\n");
    out.extend_from_slice(indent.as_bytes());
    let mut from = 0;
    // Pretty JSON escapes new lines inside strings: every new line in it is between members or items.
    for at in memchr::memchr_iter(b'\n', text) {
        out.extend_from_slice(&text[from..=at]);
        out.extend_from_slice(indent.as_bytes());
        from = at + 1;
    }
    out.extend_from_slice(&text[from..]);
}

/// A finding made in a record read on its own, located in the file.
fn shift(mut finding: Finding, piece: &Piece) -> Finding {
    if let Some(location) = finding.location.as_mut() {
        if location.line == 1 {
            location.column = location.column.saturating_add(piece.column.saturating_sub(1));
        }
        location.line = location.line.saturating_add(piece.line.saturating_sub(1));
        let base = file_offset(piece.offset);
        location.span = location.span.map(|s| Span::new(s.start.saturating_add(base), s.end.saturating_add(base)));
    }
    finding.excerpt = None;
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_indented_below_their_key() {
        let mut out = Vec::new();
        push_record(&mut out, "    ", b"{\n  \"a\": \"x\\ny\"\n}\n");
        assert_eq!(String::from_utf8(out).unwrap(), ",\n    {\n      \"a\": \"x\\ny\"\n    }");
    }

    #[test]
    fn blanks_and_comments_between_records_carry_nothing() {
        assert!(!carries_content(b"\n    "));
        assert!(!carries_content(b"\n  <!-- <Child> --> <?pi x?>\n"));
        assert!(carries_content(b"  stray  "));
        assert!(carries_content(b"</Children><Children>"));
        assert!(carries_content(b"<Other/>"));
        assert!(carries_content(b"&amp;"));
    }

    #[test]
    fn open_elements_are_closed_innermost_first() {
        let head = b"<?xml version=\"1.0\"?><!-- <x> --><m:Message xmlns:m=\"u\"><Header><A>1</A></Header>\n<Children a='>'>\n  ";
        assert_eq!(closing_tags(head), b"</Children></m:Message>");
    }

    #[test]
    fn frame_positions_map_back_to_the_file() {
        let mut frame = Frame::default();
        frame.push(b"<R>\n <C>", 0, TextPosition::default());
        frame.push(b"x\n</C></R>", 100, TextPosition { line: 9, column: 4 });
        assert_eq!(frame.place(5), (5, None));
        assert_eq!(frame.place(8), (100, Some((9, 4))));
        assert_eq!(frame.place(11), (103, Some((10, 2))));
    }
}
