//! A table return written as one XML file (`[tables.xml]`): read record element by record element with the
//! bulk splitter, so that memory holds one record at a time whatever the file's size; each record's rows are
//! taken from the elements the standard names (`HEADER/AREVIEW` for Reviews) and checked as the CSV form's are.

use std::io::BufRead;
use std::sync::Arc;

use serde_json::Value;

use super::{date_columns, Cell, Places, RecordRows, Row};
use crate::document::records::{Piece, PieceKind, Splitter};
use crate::document::{parse_xml, Element, LineIndex};
use crate::finding::{Counts, Finding, Location, Span};
use crate::standard::manifest::{Tables, TablesXml};
use crate::standard::StandardPack;
use crate::validate::aggregate::Accumulator;
use crate::validate::Validator;

/// What checking an XML table return came to.
pub struct TablesSummary {
    /// Records read (children).
    pub records: usize,
    pub counts: Counts,
}

impl Validator<'_> {
    /// The standard an XML file of this start is the table return of (its document element is a pack's
    /// `[tables.xml] root`), if any.
    pub fn tables_xml_pack(&self, start: &[u8]) -> Option<Arc<StandardPack>> {
        let head = &start[..start.len().min(64 * 1024)];
        let (local, _) = crate::document::tokens::peek_root(head)?;
        let fits = |p: &Arc<StandardPack>| {
            p.manifest.tables.as_ref().and_then(|t| t.xml.as_ref()).is_some_and(|x| x.root == local)
        };
        match &self.options.standard {
            Some(pack) => fits(pack).then(|| Arc::clone(pack)),
            // As a document is recognised by its element: the newest year.
            None => self.catalog.packs().iter().rev().find(|p| fits(p)).cloned(),
        }
    }

    /// The aggregates of `pack` over every record of an XML table return read from `input`, when any gathers
    /// inside the records (a UPN that two children give, rule 444): a first pass over the file, a record at a
    /// time, before [`Validator::check_tables_xml`] checks it with them. `None` when no aggregate gathers
    /// inside records (then `input` is not read). What cannot be read is said by the check, not here.
    pub fn gather_tables_xml(&self, pack: &StandardPack, input: impl BufRead) -> Option<Value> {
        let (tables, form) = pack.manifest.tables.as_ref().and_then(|t| Some((t, t.xml.as_ref()?)))?;
        let mut accumulator = Accumulator::new(pack);
        if !accumulator.any_in_records() {
            return None;
        }
        let params = self.params_for(pack);
        let null = Value::Null;
        let context = super::super::business::Context::new(&null, None, &self.clock, &params, &self.references);
        let dates = date_columns(pack, tables);
        self.each_record(tables, form, input, &mut |read| {
            let RecordRead::Record { key, rows, .. } = read else { return };
            let root = super::record_root(pack, tables, key, rows, &dates, &mut Vec::new());
            accumulator.add(&root, context.envelope, &context.as_of, &context.now, context.params);
        });
        Some(accumulator.finish())
    }

    /// Checks an XML table return read from `input`, giving each finding to `sink` in file order; the rules
    /// read the aggregates `agg` when given (gathered by [`Validator::gather_tables_xml`] over the whole
    /// return), else each record's own.
    pub fn check_tables_xml(
        &self,
        pack: &StandardPack,
        input: impl BufRead,
        agg: Option<&Value>,
        sink: &mut dyn FnMut(Finding),
    ) -> TablesSummary {
        let mut counts = Counts::default();
        let mut give = |finding: Finding| {
            counts.add(finding.severity);
            sink(finding);
        };
        let Some((tables, form)) = pack.manifest.tables.as_ref().and_then(|t| Some((t, t.xml.as_ref()?))) else {
            give(Finding::error("not-tables", format!("{} has no XML form of its tables.", pack.reference())));
            return TablesSummary { records: 0, counts };
        };
        if let Some(finding) = super::super::business::not_run(pack, &self.params_for(pack), &self.references) {
            give(finding);
        }
        let dates = date_columns(pack, tables);
        let records = self.each_record(tables, form, input, &mut |read| match read {
            RecordRead::Refused(finding) => give(*finding),
            RecordRead::Record { key, rows, places } => {
                for (_, finding) in self.check_record(pack, tables, &dates, key, rows, places, agg) {
                    give(finding);
                }
            }
        });
        TablesSummary { records, counts }
    }

    /// Reads an XML table return record element by record element, giving `read` each record's key and rows,
    /// or what stopped one being read (the file's or the record's XML, a record without its key), in file
    /// order. Says how many records were read.
    fn each_record(
        &self,
        tables: &Tables,
        form: &TablesXml,
        input: impl BufRead,
        read: &mut dyn FnMut(RecordRead<'_>),
    ) -> usize {
        let mut splitter = Splitter::new(input, vec![form.root.clone(), form.record.clone()], self.options.limits);
        let mut records = 0;
        loop {
            let piece = match splitter.next_piece() {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(finding) => {
                    read(RecordRead::Refused(Box::new(finding)));
                    break;
                }
            };
            if !matches!(piece.kind, PieceKind::Record(_)) {
                continue;
            }
            records += 1;
            let places = PiecePlaces::new(&piece);
            let element = match parse_xml(&piece.bytes, &self.options.limits) {
                Ok(doc) => doc.root,
                Err(finding) => {
                    read(RecordRead::Refused(Box::new(places.shifted(finding))));
                    continue;
                }
            };
            let (key, rows) = record_rows(tables, form, &element, piece.offset);
            let Some(key) = key else {
                let span = Span::new(piece.offset as usize, piece.offset as usize);
                let (line, column) = places.locate(0, span.start);
                read(RecordRead::Refused(Box::new(
                    Finding::error(
                        "table-no-key",
                        format!(
                            "This {} has no {}: its rows cannot be checked as one record.",
                            form.record, tables.key
                        ),
                    )
                    .with_location(Location {
                        line,
                        column,
                        path: format!("/{}/{}", form.root, form.record),
                        pointer: None,
                        span: Some(span),
                    }),
                )));
                continue;
            };
            read(RecordRead::Record { key: &key, rows: &rows, places: &places });
        }
        records
    }
}

/// What [`Validator::each_record`] read next.
enum RecordRead<'r> {
    Record {
        key: &'r str,
        rows: &'r RecordRows<'static>,
        places: &'r PiecePlaces,
    },
    /// Boxed: a finding is large, and most of what is read is records.
    Refused(Box<Finding>),
}

/// The record's key and rows: for each table with an XML form, a row per element at its path (when one of its
/// `when` elements is there, not blank and not a value of `unless`), each column the row element's child of that name, else the inherited
/// element's.
pub(super) fn record_rows(
    tables: &Tables,
    form: &TablesXml,
    record: &Element,
    offset: u64,
) -> (Option<String>, RecordRows<'static>) {
    let base = usize::try_from(offset).unwrap_or(usize::MAX);
    let column_of = |element: &str| form.rename.get(element).map_or(element, String::as_str).to_string();
    let leaves = |element: &Element| -> Vec<(String, Cell<'static>)> {
        element
            .elements()
            .filter(|e| e.elements().next().is_none())
            .map(|e| {
                let span = Span::new(base + e.span.start, base + e.span.end);
                (column_of(&e.local), Cell { value: e.text().trim().to_string().into(), span })
            })
            .collect()
    };
    let inherited: Vec<(String, Cell<'static>)> =
        record.elements().find(|e| e.local == form.inherit).map(&leaves).unwrap_or_default();
    let key = inherited
        .iter()
        .find(|(c, _)| *c == tables.key)
        .map(|(_, cell)| cell.value.to_string())
        .filter(|k| !k.is_empty());
    let rows = tables
        .table
        .iter()
        .map(|spec| {
            let Some(at) = &spec.xml else { return Vec::new() };
            let mut found: Vec<&Element> = vec![record];
            for step in at.path.split('/').filter(|s| !s.is_empty()) {
                found = found.into_iter().flat_map(|e| e.elements().filter(move |c| c.local == step)).collect();
            }
            found
                .into_iter()
                .filter_map(|element| {
                    let own = leaves(element);
                    let cell = |column: &str| {
                        own.iter().chain(inherited.iter()).find(|(c, _)| c == column).map(|(_, cell)| cell)
                    };
                    let says_yes = |c: &&Cell| !c.value.is_empty() && !at.unless.iter().any(|u| *u == c.value);
                    if !at.when.is_empty() && !at.when.iter().any(|when| cell(when).filter(says_yes).is_some()) {
                        return None;
                    }
                    let cells = spec
                        .columns
                        .iter()
                        .map(|column| cell(column).map(|c| Cell { value: c.value.clone(), span: c.span }))
                        .collect();
                    let span = Span::new(base + element.span.start, base + element.span.end);
                    Some(Row { file: 0, span, cells })
                })
                .collect()
        })
        .collect();
    (key, rows)
}

/// Positions in the file from one record's bytes: its own line index, moved to where the record starts.
struct PiecePlaces {
    lines: LineIndex,
    offset: usize,
    line: u32,
    column: u32,
}

impl PiecePlaces {
    fn new(piece: &Piece) -> PiecePlaces {
        PiecePlaces {
            lines: LineIndex::new(&piece.bytes),
            offset: usize::try_from(piece.offset).unwrap_or(usize::MAX),
            line: piece.line,
            column: piece.column,
        }
    }

    /// `(line, column)` within the record to the file's.
    fn shift(&self, (line, column): (u32, u32)) -> (u32, u32) {
        let column = if line == 1 { column + self.column.saturating_sub(1) } else { column };
        (line + self.line.saturating_sub(1), column)
    }

    /// A refusal of the record's bytes, located in the file.
    fn shifted(&self, mut finding: Finding) -> Finding {
        if let Some(location) = finding.location.as_mut() {
            (location.line, location.column) = self.shift((location.line, location.column));
            location.span = location.span.map(|s| Span::new(s.start + self.offset, s.end + self.offset));
        }
        finding
    }
}

impl Places for PiecePlaces {
    fn locate(&self, _file: usize, offset: usize) -> (u32, u32) {
        self.shift(self.lines.locate(offset.saturating_sub(self.offset)))
    }

    fn with_excerpt(&self, _file: usize, mut finding: Finding) -> Finding {
        let Some(span) = finding.location.as_ref().and_then(|l| l.span) else { return finding };
        let (line, column) = self.lines.locate(span.start.saturating_sub(self.offset));
        let mut excerpt = self.lines.excerpt(line, column, 1);
        excerpt.first_line += self.line.saturating_sub(1);
        finding.excerpt = Some(excerpt);
        finding
    }
}
