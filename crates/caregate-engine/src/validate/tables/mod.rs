//! Returns sent as tables: several CSV files, each a table of the standard known by its header row, whose
//! rows are joined on a key column (SSDA903's `CHILD`) into records. Each record is checked on its own — its
//! instance holds the key and every table's rows for it — by the structure check and the rules, and every
//! finding is located at the line and column of the field it is about, in the file that holds it.
//!
//! The same return written as one XML file (SSDA903's `EXPSSDA903`) is read record by record into the same rows
//! ([`xml`]), and checked alike.
//!
//! Not for: deciding which files make one return (the caller gives them together).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::document::csv::{parse_csv, CsvTable};
use crate::document::{Format, LineIndex};
use crate::finding::Counts;
use crate::finding::{Excerpt, Finding, Location, Severity, Span};
use crate::model::{DocumentEnd, DocumentResult, DocumentStart, RuleInfo, Tool};
use crate::report::ReportWriter;
use crate::standard::manifest::Tables;
use crate::standard::StandardPack;

use super::aggregate::Accumulator;
use super::{one_cause_once, Locator, SourceView, Validator};

pub mod previous;
mod waiting;
mod xml;

use waiting::{Waited, Waiting};

/// One file of a return sent as tables.
pub struct TableFile {
    /// How the report names it.
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A writer keeping each file's report, for [`Validator::check_tables`].
#[derive(Default)]
struct Collect {
    documents: Vec<DocumentResult>,
}

impl ReportWriter for Collect {
    fn begin_run(&mut self, _: &Tool, _: Option<&crate::model::StandardRef>) -> std::io::Result<()> {
        Ok(())
    }
    fn begin_document(&mut self, start: &DocumentStart<'_>) -> std::io::Result<()> {
        let mut document = DocumentResult::new(start.path, start.format, Vec::new());
        document.standard = start.standard.cloned();
        self.documents.push(document);
        Ok(())
    }
    fn finding(&mut self, finding: &Finding) -> std::io::Result<()> {
        if let Some(document) = self.documents.last_mut() {
            document.findings.push(finding.clone());
        }
        Ok(())
    }
    fn end_document(&mut self, end: &DocumentEnd) -> std::io::Result<()> {
        if let Some(document) = self.documents.last_mut() {
            document.counts = end.counts;
            document.valid = end.valid;
            document.records = end.records;
        }
        Ok(())
    }
    fn finish(&mut self, _: &[RuleInfo]) -> std::io::Result<()> {
        Ok(())
    }
}

/// A file read, and what it was taken for.
struct Read {
    lines: LineIndex,
    table: Option<CsvTable>,
    /// The standard's table this file is (index into `Tables::table`), when it is one.
    of: Option<usize>,
    /// For each of that table's columns, its index in the file.
    columns: Vec<Option<usize>>,
    findings: Vec<Finding>,
}

/// One record's rows: for each table, the rows (file, row) that belong to it, in file order.
type Rows = Vec<Vec<(usize, usize)>>;

impl Validator<'_> {
    /// Checks the files of one return of `pack` (a standard with `[tables]`), giving one report entry per
    /// file, in the order given, each with the findings located in it.
    pub fn check_tables(&self, pack: &Arc<StandardPack>, files: &[TableFile]) -> Vec<DocumentResult> {
        let mut collected = Collect::default();
        // Writing into memory cannot fail.
        let _ = self.check_tables_into(pack, files, &mut collected);
        collected.documents
    }

    /// As [`Validator::check_tables`], giving each file's report to `writer` in turn: until its turn a file's
    /// findings are held without their excerpts, each excerpt made as its finding is written, so that what
    /// a finding costs in memory does not grow with the lines it shows. Says whether any file has errors.
    pub fn check_tables_into(
        &self,
        pack: &Arc<StandardPack>,
        files: &[TableFile],
        writer: &mut dyn ReportWriter,
    ) -> std::io::Result<bool> {
        let Some(tables) = pack.manifest.tables.as_ref() else {
            for f in files {
                let finding = Finding::error(
                    "not-tables",
                    format!("{} is not sent as tables, so CSV files cannot be a return of it.", pack.reference()),
                );
                let document = DocumentResult::new(&f.path, "csv", vec![finding]);
                crate::report::replay_document(&document, writer)?;
            }
            return Ok(!files.is_empty());
        };
        // Each file is parsed on its own thread (a return is a dozen files, one of them most of its rows).
        let mut read: Vec<Read> = crate::workers::scope(|scope| {
            let handles: Vec<_> = files.iter().map(|f| scope.spawn(move || self.read_table(pack, tables, f))).collect();
            handles
                .into_iter()
                .zip(files)
                .map(|(h, f)| {
                    h.join().unwrap_or_else(|_| Read {
                        lines: LineIndex::new(&[]),
                        table: None,
                        of: None,
                        columns: Vec::new(),
                        findings: vec![at_line_one(
                            "internal-error",
                            format!("Reading {} failed inside caregate; it was not checked.", f.path),
                        )],
                    })
                })
                .collect()
        });
        // A table given twice: the first file is the table, the others are refused.
        for i in 0..read.len() {
            if let Some(of) = read[i].of {
                if let Some(first) = (0..i).find(|&j| read[j].of == Some(of)) {
                    let name = &tables.table[of].name;
                    let message = format!(
                        "This is a second {name} table (the first is {}): a return has each table once, so its rows were not read.",
                        files[first].path
                    );
                    read[i].findings.push(at_line_one("table-twice", message));
                    read[i].of = None;
                }
            }
        }

        // The optional columns no file of their table gives: the rules that need one are not run.
        let absent = absent_columns(tables, &read);
        let lacking;
        let this = if absent.is_empty() {
            self
        } else {
            lacking = self.lacking_columns(absent);
            &lacking
        };
        this.check_read_tables(pack, tables, files, read, writer)
    }

    /// [`Validator::check_tables_into`] once the files are read.
    fn check_read_tables(
        &self,
        pack: &Arc<StandardPack>,
        tables: &Tables,
        files: &[TableFile],
        mut read: Vec<Read>,
        writer: &mut dyn ReportWriter,
    ) -> std::io::Result<bool> {
        let standard = pack.standard_ref();
        let (records, blank_keys) = join(tables, &read);
        for (file, blank_keys) in blank_keys {
            let Some(of) = read[file].of else { continue };
            let Some(table) = &read[file].table else { continue };
            let key_column = read[file].columns.first().copied().flatten();
            let mut refused = Vec::new();
            for row_index in blank_keys {
                let Some(row) = table.rows.get(row_index) else { continue };
                let span = key_column.and_then(|k| row.get(k)).map_or(row.span, |f| f.span());
                let (line, column) = read[file].lines.locate(span.start);
                let finding = Finding::error(
                    "table-no-key",
                    format!(
                        "This {} row has no {}: the row cannot be joined to a record.",
                        tables.table[of].name, tables.key
                    ),
                )
                .with_location(Location {
                    line,
                    column,
                    path: tables.key.clone(),
                    pointer: None,
                    span: Some(span),
                });
                refused.push(finding);
            }
            read[file].findings.extend(refused);
        }

        let dates = date_columns(pack, tables);
        let agg = self.gather_tables(pack, tables, &dates, &records, &read);
        // Each file's own findings (a column missing, a row without its key), which have no excerpt.
        let mut own: Vec<Vec<Finding>> = read.iter_mut().map(|r| std::mem::take(&mut r.findings)).collect();
        let places = CsvPlaces { read: &read };
        // Records are checked on every core, each thread taking the next run of them until none is left (children
        // differ in how many rows they have, so halves fixed in advance would leave one core idle at the end);
        // each file's findings are put in line order after, so the order the threads finish in does not show.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let runs: Vec<&[(String, Rows)]> = records.chunks(RUN).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let waiting: Vec<std::io::Result<Waiting>> = crate::workers::scope(|scope| {
            let handles: Vec<_> = (0..threads.min(runs.len()).max(1))
                .map(|_| {
                    let (read, dates, places, agg, runs, next) = (&read, &dates, &places, agg.as_ref(), &runs, &next);
                    scope.spawn(move || {
                        let mut waiting = Waiting::new();
                        loop {
                            let r = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(run) = runs.get(r) else { break };
                            for (i, (key, rows)) in run.iter().enumerate() {
                                let rows = csv_rows(tables, read, rows);
                                for (file, finding) in self.check_record(pack, tables, dates, key, &rows, places, agg) {
                                    waiting.push(file, r * RUN + i, &finding)?;
                                }
                            }
                        }
                        Ok(waiting)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("checking records failed"))))
                .collect()
        });
        let mut threads = Vec::with_capacity(waiting.len());
        for w in waiting {
            match w {
                Ok(w) => threads.push(w),
                Err(_) if own.is_empty() => {}
                Err(_) => {
                    let message = "Checking some of the records failed inside caregate; this report is incomplete.";
                    own[0].push(Finding::error("internal-error", message));
                }
            }
        }
        let mut waited = Waited::new(threads);
        // Which rules were not run goes with the first table read.
        if let Some(first) = read.iter().position(|r| r.of.is_some()) {
            if let Some(finding) = super::business::not_run(pack, &self.params_for(pack), &self.references) {
                own[first].push(finding);
            }
        }
        let place = |f: &Finding| f.location.as_ref().map(|l| (l.line, l.column)).unwrap_or((0, 0));
        let mut has_errors = false;
        for (index, (mut own, file)) in own.into_iter().zip(files).enumerate() {
            own.sort_by_key(place);
            let mut own = own.into_iter().peekable();
            writer.begin_document(&DocumentStart { path: &file.path, format: "csv", standard: Some(&standard) })?;
            let mut counts = Counts::default();
            loop {
                // The file's own findings first at one place, then the records' (each with its excerpt).
                let finding = match (own.peek().map(place), waited.peek(index)) {
                    (Some(mine), Some(theirs)) if mine <= theirs => own.next(),
                    (Some(_), None) => own.next(),
                    (_, Some(_)) => {
                        waited.take(index)?.map(|f| if self.excerpts { places.with_excerpt(index, f) } else { f })
                    }
                    (None, None) => None,
                };
                let Some(finding) = finding else { break };
                counts.add(finding.severity);
                writer.finding(&finding)?;
            }
            let records = places.read.get(index).and_then(|r| r.table.as_ref()).map(|t| t.rows.len());
            has_errors |= counts.error > 0;
            writer.end_document(&DocumentEnd { counts, valid: counts.error == 0, records })?;
        }
        Ok(has_errors)
    }

    /// Reads one file and finds which table it is from its header row.
    fn read_table(&self, pack: &StandardPack, tables: &Tables, file: &TableFile) -> Read {
        let lines = LineIndex::new(&file.bytes);
        let table = match parse_csv(&file.bytes, &self.options.limits) {
            Ok(table) => table,
            Err(finding) => {
                let finding = if self.excerpts { super::with_excerpt(finding, &lines) } else { finding };
                return Read { lines, table: None, of: None, columns: Vec::new(), findings: vec![finding] };
            }
        };
        let mut findings = Vec::new();
        // Only the columns every file of a table has (not its optional ones) tell which table a file is.
        let present = |t: &crate::standard::manifest::Table| t.required().filter(|c| table.column(c).is_some()).count();
        let width = |t: &crate::standard::manifest::Table| t.required().count();
        // The table all of whose columns the header has, the one with most columns if several; else the one
        // with the key and most of its columns, its missing columns then reported.
        let best = tables
            .table
            .iter()
            .enumerate()
            .filter(|(_, t)| table.column(&tables.key).is_some() && present(t) * 2 > width(t))
            .max_by_key(|(_, t)| (present(t) == width(t), present(t), std::cmp::Reverse(width(t))));
        let Some((of, spec)) = best else {
            let known: Vec<String> =
                tables.table.iter().map(|t| format!("{} ({})", t.name, t.columns.join(","))).collect();
            let header: Vec<&str> = table.header.fields.iter().map(|f| table.value(f)).collect();
            let mut finding = at_line_one(
                "table-unknown",
                format!(
                    "The header row `{}` is not that of a table of {}; its tables are: {}.",
                    header.join(","),
                    pack.reference(),
                    known.join("; ")
                ),
            );
            finding.fix =
                Some("Check the file is one of the return's tables, with its header row as the first line.".into());
            let finding = if self.excerpts { super::with_excerpt(finding, &lines) } else { finding };
            return Read { lines, table: Some(table), of: None, columns: Vec::new(), findings: vec![finding] };
        };
        let header_span = table.header.span;
        for column in spec.required().filter(|c| table.column(c).is_none()) {
            let (line, col) = lines.locate(header_span.end);
            findings.push(
                Finding::error(
                    "table-missing-column",
                    format!("The {} table has no column {column}: every value of it is taken as blank.", spec.name),
                )
                .with_location(Location {
                    line,
                    column: col,
                    path: format!("{}/{column}", spec.name),
                    pointer: None,
                    span: Some(Span::new(header_span.end, header_span.end)),
                }),
            );
        }
        for field in
            table.header.fields.iter().filter(|f| !spec.columns.iter().any(|c| c.eq_ignore_ascii_case(table.value(f))))
        {
            let (line, column) = lines.locate(field.span().start);
            findings.push(
                Finding::new(
                    "table-unknown-column",
                    Severity::Warning,
                    format!(
                        "The {} table has no column `{}`; its values were not read.",
                        spec.name,
                        table.value(field)
                    ),
                )
                .with_location(Location {
                    line,
                    column,
                    path: format!("{}/{}", spec.name, table.value(field)),
                    pointer: None,
                    span: Some(field.span()),
                }),
            );
        }
        // The key first, then the table's columns in its order.
        let columns =
            std::iter::once(&tables.key).chain(spec.columns.iter()).map(|c| table.column(c)).collect::<Vec<_>>();
        let findings = findings.into_iter().map(|f| if self.excerpts { super::with_excerpt(f, &lines) } else { f });
        Read { findings: findings.collect(), lines, table: Some(table), of: Some(of), columns }
    }
}

/// The optional columns of `tables` (as `Table.COLUMN`) that no file read as that table has, a table with no
/// file included: what the return does not give.
fn absent_columns(tables: &Tables, read: &[Read]) -> Vec<String> {
    let mut absent = Vec::new();
    for (of, spec) in tables.table.iter().enumerate() {
        for column in &spec.optional {
            let Some(at) = spec.columns.iter().position(|c| c == column) else { continue };
            // `columns` holds the key first, then the table's columns.
            let given = read.iter().any(|r| r.of == Some(of) && r.columns.get(at + 1).copied().flatten().is_some());
            if !given {
                absent.push(format!("{}.{column}", spec.name));
            }
        }
    }
    absent
}

/// Records a checking thread takes at a time: small enough that the threads end together, large enough that
/// taking the next run costs nothing beside checking it.
const RUN: usize = 16;

/// Rows of a file (by its index) that have no key, by their index in it.
type NoKey = Vec<(usize, Vec<usize>)>;

/// The records of the files read, in the order their key first appears, the tables taken in the standard's
/// order; and, for each file with rows that have no key, those rows.
fn join(tables: &Tables, read: &[Read]) -> (Vec<(String, Rows)>, NoKey) {
    let mut order: Vec<(usize, usize)> = read.iter().enumerate().filter_map(|(i, r)| Some((r.of?, i))).collect();
    order.sort();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut records: Vec<(String, Rows)> = Vec::new();
    let mut no_key = Vec::new();
    for &(of, file) in &order {
        let Some(table) = &read[file].table else { continue };
        let key_column = read[file].columns.first().copied().flatten();
        let mut blank_keys = Vec::new();
        for (row_index, row) in table.rows.iter().enumerate() {
            let key = key_column.and_then(|k| row.get(k)).map(|f| table.value(f)).unwrap_or_default();
            if key.is_empty() {
                blank_keys.push(row_index);
                continue;
            }
            // Most rows are of a child already seen: look the key up before making an owned copy of it.
            let record = match index.get(key) {
                Some(&record) => record,
                None => {
                    records.push((key.to_string(), vec![Vec::new(); tables.table.len()]));
                    index.insert(key.to_string(), records.len() - 1);
                    records.len() - 1
                }
            };
            records[record].1[of].push((file, row_index));
        }
        if !blank_keys.is_empty() {
            no_key.push((file, blank_keys));
        }
    }
    (records, no_key)
}

fn at_line_one(rule: &str, message: String) -> Finding {
    Finding::error(rule, message).with_location(Location {
        line: 1,
        column: 1,
        path: String::new(),
        pointer: None,
        span: Some(Span::new(0, 0)),
    })
}

/// The rule that reports a cell of the column at `at` (`Table/row/COLUMN`) not of its form, as the schema of
/// the column names it (`"x-format-rule": "104"`).
fn format_rule<'p>(pack: &'p StandardPack, at: &str) -> Option<&'p crate::standard::Rule> {
    let mut parts = at.split('/');
    let (table, _, column) = (parts.next()?, parts.next()?, parts.next()?);
    let pointer = format!("/properties/{table}/items/properties/{column}/x-format-rule");
    let id = pack.record_schema_node()?.pointer(&pointer)?.as_str()?;
    pack.rules.iter().find(|r| r.id == id)
}

/// For each table, which of its columns hold dates (`format: date` in the schema of its rows).
fn date_columns(pack: &StandardPack, tables: &Tables) -> Vec<Vec<bool>> {
    let record = pack.record_schema_node();
    tables
        .table
        .iter()
        .map(|t| {
            let row = record.and_then(|r| r.pointer(&format!("/properties/{}/items/properties", t.name)));
            t.columns
                .iter()
                .map(|c| {
                    row.and_then(|r| r.get(c)).and_then(|s| s.get("format")).and_then(Value::as_str) == Some("date")
                })
                .collect()
        })
        .collect()
}

/// One row of a table as the checks see it: the file it is in, where, and the cell of each of its table's
/// columns (in the table's order; `None` for a column the file does not have).
struct Row<'t> {
    file: usize,
    span: Span,
    cells: Vec<Option<Cell<'t>>>,
}

/// A cell's text: borrowed from the CSV file's text (a record's rows are built for each child, and copying each
/// cell was a third of building its record), or owned where it had to be unescaped (XML).
struct Cell<'t> {
    value: std::borrow::Cow<'t, str>,
    span: Span,
}

/// A record's rows, table by table in the standard's order.
type RecordRows<'t> = Vec<Vec<Row<'t>>>;

/// The rows of one record of CSV tables, taken from the files read.
fn csv_rows<'t>(tables: &Tables, read: &'t [Read], rows: &Rows) -> RecordRows<'t> {
    rows.iter()
        .enumerate()
        .map(|(of, table_rows)| {
            let width = tables.table.get(of).map_or(0, |t| t.columns.len());
            table_rows
                .iter()
                .filter_map(|&(file, row)| {
                    let r = read.get(file)?;
                    let table = r.table.as_ref()?;
                    let csv_row = table.rows.get(row)?;
                    let cells = (0..width)
                        .map(|i| {
                            let field = r.columns.get(i + 1).copied().flatten().and_then(|c| csv_row.get(c))?;
                            Some(Cell { value: table.value(field).into(), span: field.span() })
                        })
                        .collect();
                    Some(Row { file, span: csv_row.span, cells })
                })
                .collect()
        })
        .collect()
}

/// Where a return's files' offsets are, as line and column, and their source lines.
trait Places {
    fn locate(&self, file: usize, offset: usize) -> (u32, u32);
    fn with_excerpt(&self, file: usize, finding: Finding) -> Finding;
    /// Whether a record's findings get their excerpts as it is checked, or later, as each is written.
    fn excerpt_each_record(&self) -> bool {
        true
    }
}

struct CsvPlaces<'a> {
    read: &'a [Read],
}

impl Places for CsvPlaces<'_> {
    fn locate(&self, file: usize, offset: usize) -> (u32, u32) {
        self.read.get(file).map_or((0, 0), |r| r.lines.locate(offset))
    }
    fn with_excerpt(&self, file: usize, finding: Finding) -> Finding {
        match self.read.get(file) {
            Some(r) => super::with_excerpt(finding, &r.lines),
            None => finding,
        }
    }
    /// A file's findings wait for their turn without excerpts (see [`Validator::check_tables_into`]).
    fn excerpt_each_record(&self) -> bool {
        false
    }
}

impl Validator<'_> {
    /// Checks one record (`key` and its rows): its instance through the structure check and the rules, each
    /// finding given with the file it is in.
    /// The aggregates of `pack` over every record of a return sent as CSV tables, when any gathers inside the
    /// records (a UPN that two children give, rule 444): a first pass over the records, each record's instance
    /// built and observed, before any record is checked. `None` when no aggregate gathers inside records, and
    /// each record's own aggregates (gathered as it is checked) are the return's.
    fn gather_tables(
        &self,
        pack: &StandardPack,
        tables: &Tables,
        dates: &[Vec<bool>],
        records: &[(String, Rows)],
        read: &[Read],
    ) -> Option<Value> {
        if !Accumulator::new(pack).any_in_records() {
            return None;
        }
        let params = self.params_for(pack);
        let null = Value::Null;
        let context = super::business::Context::new(&null, None, &self.clock, &params, &self.references);
        let wanted = gathered_tables(pack, tables);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let chunk = records.len().div_ceil(threads).max(64);
        let gathered: Vec<Option<Accumulator<'_>>> = crate::workers::scope(|scope| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .map(|run| {
                    let (context, wanted) = (&context, &wanted);
                    scope.spawn(move || {
                        let mut accumulator = Accumulator::new(pack);
                        let mut only = Vec::new();
                        for (key, rows) in run {
                            // Rows of the tables no aggregate reads are left out of this pass's records.
                            only.clear();
                            only.extend(rows.iter().zip(wanted).map(|(r, &w)| if w { r.clone() } else { Vec::new() }));
                            let rows = csv_rows(tables, read, &only);
                            // A date cell not a date is reported when the record is checked, not here.
                            let root = record_root(pack, tables, key, &rows, dates, &mut Vec::new());
                            accumulator.add(&root, context.envelope, &context.as_of, &context.now, context.params);
                        }
                        accumulator
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().ok()).collect()
        });
        let mut whole = Accumulator::new(pack);
        // A thread that failed leaves its records' values out; checking them fails too, and says so.
        for part in gathered.into_iter().flatten() {
            whole.merge(part);
        }
        Some(whole.finish())
    }

    /// Checks one record; `agg` holds the return's aggregates when gathered across records (else each record's
    /// own are gathered as it is checked: an XML table return is read in one pass, a record at a time).
    #[allow(clippy::too_many_arguments)]
    fn check_record(
        &self,
        pack: &StandardPack,
        tables: &Tables,
        dates: &[Vec<bool>],
        key: &str,
        rows: &RecordRows<'_>,
        places: &dyn Places,
        agg: Option<&Value>,
    ) -> Vec<(usize, Finding)> {
        let top = records_top(pack);
        let mut not_dates = Vec::new();
        let root = record_root(pack, tables, key, rows, dates, &mut not_dates);
        let locator = RowLocator { tables, rows, places };
        let view = SourceView { locator: &locator, format: Format::Json, prefix: String::new() };
        let mut found: Vec<Finding> = not_dates
            .into_iter()
            .map(|(at, text)| {
                let location = locator.locate(&format!("/{top}/0/{at}"));
                let mut finding = match format_rule(pack, &at) {
                    Some(rule) => {
                        let mut finding = Finding::new(rule.id.clone(), rule.severity, rule.message.clone());
                        finding.clause = rule.clause.clone();
                        finding.fix = rule.fix.clone();
                        finding
                    }
                    None => Finding::error(
                        "format",
                        format!("`{text}` is not a date written dd/mm/yyyy, so it was read as not provided."),
                    )
                    .with_fix("Write the date as dd/mm/yyyy, e.g. 01/04/2025."),
                };
                finding.location = Some(location);
                finding
            })
            .collect();
        found.extend(self.check_instance(pack, &root, "", None, &view, &mut None, agg));
        // A rule that reports a cell not of its form (`x-format-rule`) and also finds it missing says so once.
        let mut seen = std::collections::HashSet::new();
        found.retain(|f| {
            let pointer = f.location.as_ref().and_then(|l| l.pointer.clone());
            pointer.is_none() || seen.insert((f.rule.clone(), pointer))
        });
        let first_file = rows.iter().flat_map(|t| t.first()).map(|r| r.file).min().unwrap_or(0);
        one_cause_once(found)
            .into_iter()
            .map(|mut finding| {
                let pointer = finding.location.as_ref().and_then(|l| l.pointer.clone()).unwrap_or_default();
                let file = locator.place(&pointer).map_or(first_file, |p| p.0);
                if finding.record.is_none() {
                    finding.record = Some(key.to_string());
                }
                let finding = if self.excerpts && places.excerpt_each_record() {
                    places.with_excerpt(file, finding)
                } else {
                    finding
                };
                (file, finding)
            })
            .collect()
    }
}

/// The instance of a return holding the one record `key` with its rows, under the member of the top level
/// that holds the records (`children` for `/children/*`): what a record is checked as, and what a first pass
/// gathers aggregates over. `not_dates` as for [`record_value`].
fn record_root(
    pack: &StandardPack,
    tables: &Tables,
    key: &str,
    rows: &RecordRows<'_>,
    dates: &[Vec<bool>],
    not_dates: &mut Vec<(String, String)>,
) -> Value {
    let record = record_value(tables, key, rows, dates, not_dates);
    let mut root = Map::new();
    root.insert(records_top(pack).to_string(), Value::Array(vec![record]));
    Value::Object(root)
}

/// For each table of `tables`, whether an aggregate gathered inside the records of `pack` may read its rows:
/// its context lies in that table, or its value reads the record or the instance as a whole. A first pass
/// builds each record with those tables' rows alone.
fn gathered_tables(pack: &StandardPack, tables: &Tables) -> Vec<bool> {
    let mut wanted = vec![false; tables.table.len()];
    let depth = pack.records_pattern.as_ref().map_or(0, |p| p.steps.len());
    for aggregate in pack.aggregates.iter().filter(|a| a.in_records) {
        let reads_whole =
            ["record", "root", "previous"].iter().any(|v| !matches!(aggregate.value.reads(v), crate::expr::Reads::Not));
        let table = match aggregate.context.steps.get(depth) {
            Some(crate::standard::rulebook::Step::Name(name)) if !reads_whole => {
                tables.table.iter().position(|t| &t.name == name)
            }
            _ => None,
        };
        match table {
            Some(i) => wanted[i] = true,
            None => wanted.iter_mut().for_each(|w| *w = true),
        }
    }
    wanted
}

/// The member of the instance's top level that holds the records (`children` for `/children/*`).
fn records_top(pack: &StandardPack) -> &str {
    let top = pack.manifest.records.as_ref().and_then(|r| r.path.split('/').find(|s| !s.is_empty()));
    top.unwrap_or("records")
}

/// The instance of one record: its key, and each table's rows for it (a blank cell left out, other text as
/// written, a date written dd/mm/yyyy as an ISO date). A date cell that is not a date written so is left out
/// too, as not provided, and its place (`Table/row/COLUMN`) and text given in `not_dates`: rules read it as
/// missing, and it is reported at the cell (a rule about the same field says it instead, in the standard's
/// words).
fn record_value(
    tables: &Tables,
    key: &str,
    rows: &RecordRows<'_>,
    dates: &[Vec<bool>],
    not_dates: &mut Vec<(String, String)>,
) -> Value {
    // Maps and lists made at their size: a record is built for each child, and growing each row's map a
    // member at a time moved it several times.
    let mut record = Map::with_capacity(tables.table.len() + 1);
    record.insert(tables.key.clone(), Value::String(key.to_string()));
    for (of, spec) in tables.table.iter().enumerate() {
        let date_columns = dates.get(of).map(Vec::as_slice).unwrap_or_default();
        let of_table = rows.get(of).map(Vec::as_slice).unwrap_or_default();
        let mut items = Vec::with_capacity(of_table.len());
        for (at, row) in of_table.iter().enumerate() {
            let mut out = Map::with_capacity(spec.columns.len());
            for (i, name) in spec.columns.iter().enumerate() {
                let Some(cell) = row.cells.get(i).and_then(Option::as_ref).filter(|c| !c.value.is_empty()) else {
                    continue;
                };
                let value = if date_columns.get(i) == Some(&true) {
                    match iso_date(&cell.value) {
                        Some(date) => date,
                        None => {
                            not_dates.push((format!("{}/{at}/{name}", spec.name), cell.value.to_string()));
                            continue;
                        }
                    }
                } else {
                    cell.value.to_string()
                };
                out.insert(name.clone(), Value::String(value));
            }
            items.push(Value::Object(out));
        }
        record.insert(spec.name.clone(), Value::Array(items));
    }
    Value::Object(record)
}

/// `dd/mm/yyyy` (day and month of one or two digits) as `yyyy-mm-dd`, when it is a date of the calendar.
fn iso_date(text: &str) -> Option<String> {
    let mut parts = text.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(1..=2).contains(&d.len()) || !(1..=2).contains(&m.len()) || y.len() != 4 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    // NaiveDate shows itself as yyyy-mm-dd, written digit by digit rather than through a format string.
    Some(date.to_string())
}

/// Locates a record's pointers (`/<records>/0/<Table>/<row>/<COLUMN>`) in the files its rows came from.
struct RowLocator<'a> {
    tables: &'a Tables,
    rows: &'a RecordRows<'a>,
    places: &'a dyn Places,
}

impl RowLocator<'_> {
    /// The file and span a pointer names, and the path to show: the field, else its row, else the record's
    /// first row.
    fn place(&self, pointer: &str) -> Option<(usize, Span, String)> {
        let tokens: Vec<&str> = pointer.split('/').skip(3).collect();
        let first_row = || {
            let row = self.rows.iter().flat_map(|t| t.first()).min_by_key(|r| (r.file, r.span.start))?;
            Some((row.file, Span::new(row.span.start, row.span.start), String::new()))
        };
        let Some((of, spec)) =
            tokens.first().and_then(|name| self.tables.table.iter().enumerate().find(|(_, t)| t.name == *name))
        else {
            return first_row();
        };
        let name = spec.name.as_str();
        let Some(row) = tokens.get(1).and_then(|i| i.parse::<usize>().ok()).and_then(|i| self.rows.get(of)?.get(i))
        else {
            return first_row().map(|(file, span, _)| (file, span, name.to_string()));
        };
        let Some(column) = tokens.get(2) else {
            return Some((row.file, Span::new(row.span.start, row.span.start), name.to_string()));
        };
        let span = spec
            .columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| row.cells.get(i)?.as_ref())
            .map_or(Span::new(row.span.end, row.span.end), |c| c.span);
        Some((row.file, span, format!("{name}/{column}")))
    }
}

impl Locator for RowLocator<'_> {
    fn locate(&self, pointer: &str) -> Location {
        match self.place(pointer) {
            Some((file, span, path)) => {
                let (line, column) = self.places.locate(file, span.start);
                Location { line, column, path, pointer: Some(pointer.to_string()), span: Some(span) }
            }
            None => {
                Location { line: 0, column: 0, path: String::new(), pointer: Some(pointer.to_string()), span: None }
            }
        }
    }

    fn excerpt(&self, _line: u32, _column: u32) -> Option<Excerpt> {
        // Excerpts are added once the finding's file is known.
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{iso_date, TableFile};
    use crate::standard::{Catalog, StandardPack};
    use crate::validate::{Options, Validator};

    /// The SSDA903 2025-26 pack with `extra` added to its rules.
    fn with_rules(extra: &str) -> Arc<StandardPack> {
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("ssda903@2025-26").expect("ssda903 2025-26 is embedded");
        let mut files = pack.files.clone();
        let mut rules = files.files.get("rules.toml").cloned().unwrap_or_default();
        rules.extend_from_slice(extra.as_bytes());
        files.files.insert("rules.toml".into(), rules);
        files.files.remove("generate.toml");
        Arc::new(StandardPack::compile(files).expect("the pack compiles"))
    }

    /// The first pass over a return's records builds each with the rows of the tables its aggregates read
    /// alone: SSDA903's (repeated UPNs) read Header; one whose value reads the record reads every table.
    #[test]
    fn the_first_pass_builds_only_the_tables_aggregates_read() {
        let named = |pack: &StandardPack| {
            let tables = pack.manifest.tables.as_ref().expect("sent as tables");
            let wanted = super::gathered_tables(pack, tables);
            tables.table.iter().zip(wanted).filter(|(_, w)| *w).map(|(t, _)| t.name.clone()).collect::<Vec<_>>()
        };
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("ssda903@2025-26").expect("ssda903 2025-26 is embedded");
        assert_eq!(named(&pack), ["Header"]);
        let episodes = with_rules(
            "\n[[aggregate]]\nname = \"starts\"\ncontext = \"/children/*/Episodes/*\"\nvalue = \"self.DECOM\"\nkind = \"repeats\"\n",
        );
        assert_eq!(named(&episodes), ["Header", "Episodes"]);
        let whole = with_rules(
            "\n[[aggregate]]\nname = \"reviewed\"\ncontext = \"/children/*/Header/*\"\nvalue = \"size(record.Reviews) > 0\"\nkind = \"count\"\n",
        );
        assert_eq!(named(&whole).len(), pack.manifest.tables.as_ref().map_or(0, |t| t.table.len()));
    }

    /// The SSDA903 2025-26 pack with one rule more, of this test's own: a UPN that more than one Header row gives.
    fn repeated_upn_pack() -> Arc<StandardPack> {
        with_rules(
            r#"
[[aggregate]]
name = "repeatedUpns"
context = "/children/*/Header/*"
value = "self.UPN"
kind = "repeats"

[[rule]]
id = "REPEATED"
severity = "error"
context = "/children/*/Header/*"
at = "UPN"
expression = "!has(self.UPN) || !(self.UPN in agg.repeatedUpns)"
message = "The UPN is given in another Header row."
"#,
        )
    }

    /// A rule that fails at run time for a fault of its own (text added to a number, a conversion of text that is
    /// no number) is said as `rule-error`, once for each child it failed on and naming the rule and the cause,
    /// never passed in silence; a rule that holds is not.
    #[test]
    fn a_rule_that_fails_at_run_time_is_said_once_a_child() {
        let pack = with_rules(
            r#"
[[rule]]
id = "ADDS-TEXT"
severity = "error"
context = "/children/*/Episodes/*"
expression = "size(self) + 'x' > 0"
message = "Never said."

[[rule]]
id = "NO-NUMBER"
severity = "error"
context = "/children/*/Header/*"
expression = "!has(self.UPN) || int(self.UPN) > 0"
message = "Never said."
"#,
        );
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let options = Options { standard: Some(Arc::clone(&pack)), ..Options::default() };
        let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\r\n1,1,01/01/2015,WBRI,A123456789012,,\r\n2,2,01/01/2016,WBRI,,,\r\n";
        let episodes =
            "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\r\n\
                        1,01/05/2025,S,C2,N1,U1,PR1,,,,,,\r\n1,01/06/2025,P,C2,N1,U1,PR1,,,,,,\r\n";
        let files = [
            TableFile { path: "header.csv".into(), bytes: header.as_bytes().to_vec() },
            TableFile { path: "episodes.csv".into(), bytes: episodes.as_bytes().to_vec() },
        ];
        let results = Validator::new(&catalog, options).check_tables(&pack, &files);
        let errors: Vec<(String, Option<String>, crate::finding::Severity)> = results
            .iter()
            .flat_map(|d| d.findings.iter())
            .filter(|f| f.rule == "rule-error")
            .map(|f| (f.message.clone(), f.record.clone(), f.severity))
            .collect();
        // Child 1's two episodes fail ADDS-TEXT once; its UPN is no number; child 2 has no UPN and no episode.
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors.iter().all(
            |(_, child, severity)| child.as_deref() == Some("1") && *severity == crate::finding::Severity::Warning
        ));
        assert!(errors.iter().any(|(m, _, _)| m.starts_with("Rule ADDS-TEXT could not be checked here")));
        assert!(errors
            .iter()
            .any(|(m, _, _)| m.starts_with("Rule NO-NUMBER could not be checked here") && m.contains("A123456789012")));
        assert!(!results.iter().flat_map(|d| d.findings.iter()).any(|f| f.message == "Never said."));
    }

    /// The children (in order) `REPEATED` finds in a Header table of these rows.
    fn repeated_in(rows: &[&str]) -> Vec<String> {
        let pack = repeated_upn_pack();
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let options = Options { standard: Some(Arc::clone(&pack)), ..Options::default() };
        let mut text = String::from("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\r\n");
        for row in rows {
            text.push_str(row);
            text.push_str("\r\n");
        }
        let header = TableFile { path: "header.csv".into(), bytes: text.into_bytes() };
        let results = Validator::new(&catalog, options).check_tables(&pack, &[header]);
        let mut children: Vec<String> = results
            .iter()
            .flat_map(|d| d.findings.iter())
            .filter(|f| f.rule == "REPEATED")
            .filter_map(|f| f.record.clone())
            .collect();
        children.sort();
        children
    }

    #[test]
    fn aggregates_are_gathered_across_the_records_of_an_xml_return() {
        let pack = repeated_upn_pack();
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let options = Options { standard: Some(Arc::clone(&pack)), ..Options::default() };
        let child = |id: &str, upn: &str| {
            format!("<CHILD><HEADER><CHILDID>{id}</CHILDID><UPN>{upn}</UPN><SEX>M</SEX><DOB>01/02/2012</DOB><ETHNIC>WBRI</ETHNIC></HEADER></CHILD>\n")
        };
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<EXPSSDA903>\n");
        for (id, upn) in [("C1", "A123456789012"), ("C2", "B123456789012"), ("C3", "A123456789012")] {
            xml.push_str(&child(id, upn));
        }
        xml.push_str("</EXPSSDA903>\n");
        let validator = Validator::new(&catalog, options);
        let agg = validator.gather_tables_xml(&pack, xml.as_bytes());
        let mut children = Vec::new();
        validator.check_tables_xml(&pack, xml.as_bytes(), agg.as_ref(), &mut |f| {
            if f.rule == "REPEATED" {
                children.push(f.record.unwrap_or_default());
            }
        });
        assert_eq!(children, ["C1", "C3"]);
        // Without the first pass each child sees only its own rows.
        let mut alone = 0;
        validator.check_tables_xml(&pack, xml.as_bytes(), None, &mut |f| alone += usize::from(f.rule == "REPEATED"));
        assert_eq!(alone, 0);
    }

    #[test]
    fn aggregates_are_gathered_across_the_records_of_a_csv_return() {
        // Two children of one UPN, far apart in the file (each record is checked apart from the others).
        let mut rows = vec!["C1,M,01/01/2015,WBRI,A123456789012,,"];
        let others: Vec<String> = (0..200).map(|i| format!("D{i:03},F,01/01/2016,WBRI,B{i:012},,")).collect();
        rows.extend(others.iter().map(String::as_str));
        rows.push("C4,M,01/01/2014,WBRI,A123456789012,,");
        assert_eq!(repeated_in(&rows), ["C1", "C4"]);
        // A child's own Header row given twice repeats its UPN too; no repeat, no finding.
        assert_eq!(repeated_in(&["C1,M,01/01/2015,WBRI,A1,,", "C1,M,01/01/2015,WBRI,A1,,"]), ["C1", "C1"]);
        assert_eq!(repeated_in(&["C1,M,01/01/2015,WBRI,A1,,", "C2,M,01/01/2015,WBRI,A2,,"]), Vec::<String>::new());
    }

    /// Each (rule, child) of these CSV files checked as an SSDA903 2025-26 return, and the `rules-not-run`
    /// warning's message, if any.
    fn checked(files: &[(&str, &str)]) -> (Vec<(String, String)>, Option<String>) {
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("ssda903@2025-26").expect("ssda903 2025-26 is embedded");
        let options = Options { standard: Some(Arc::clone(&pack)), ..Options::default() };
        let files: Vec<TableFile> = files
            .iter()
            .map(|(path, text)| TableFile { path: path.to_string(), bytes: text.as_bytes().to_vec() })
            .collect();
        let results = Validator::new(&catalog, options).check_tables(&pack, &files);
        let findings: Vec<&crate::finding::Finding> = results.iter().flat_map(|d| d.findings.iter()).collect();
        let not_run = findings.iter().find(|f| f.rule == "rules-not-run").map(|f| f.message.clone());
        let pairs = findings
            .iter()
            .filter(|f| f.rule != "rules-not-run")
            .map(|f| (f.rule.clone(), f.record.clone().unwrap_or_default()))
            .collect();
        (pairs, not_run)
    }

    #[test]
    fn an_optional_column_is_read_when_given_and_its_rules_are_not_run_when_not() {
        let uasc = "CHILD,SEX,DOB,DUC\r\nC2,M,01/02/2010,01/02/2028\r\n";
        // DfE's CSV Header: no UASC column, which is not missing; 105 and 303 are not run, and say so.
        let header =
            "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\r\nC1,M,01/02/2012,WBRI,UN2,,\r\nC2,M,01/02/2010,OOTH,UN2,,\r\n";
        let (found, not_run) = checked(&[("header.csv", header), ("uasc.csv", uasc)]);
        assert!(
            found.iter().all(|(rule, _)| !rule.starts_with("table-") && rule != "105" && rule != "303"),
            "{found:?}"
        );
        let not_run = not_run.expect("rules not run");
        assert!(not_run.contains("the Header table's column UASC") && not_run.contains(" 105,"), "{not_run}");
        assert!(not_run.contains(" 303"), "{not_run}");
        // A Header file with the column gives the status: a code not 0 or 1 (105), a DUC without status 1 (303).
        let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,UASC\r\nC1,M,01/02/2012,WBRI,UN2,,,2\r\nC2,M,01/02/2010,OOTH,UN2,,,0\r\n";
        let (found, not_run) = checked(&[("header.csv", header), ("uasc.csv", uasc)]);
        let status: Vec<&(String, String)> = found.iter().filter(|(rule, _)| rule == "105" || rule == "303").collect();
        assert_eq!(status, [&("105".to_string(), "C1".to_string()), &("303".to_string(), "C2".to_string())]);
        assert!(found.iter().all(|(rule, _)| !rule.starts_with("table-") && rule != "enum"), "{found:?}");
        assert!(not_run.is_none_or(|m| !m.contains("UASC")));
        // The status coded 1 for the child with a DUC, 0 for the other: neither rule finds anything.
        let header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,UASC\r\nC1,M,01/02/2012,WBRI,UN2,,,0\r\nC2,M,01/02/2010,OOTH,UN2,,,1\r\n";
        let (found, _) = checked(&[("header.csv", header), ("uasc.csv", uasc)]);
        assert!(found.iter().all(|(rule, _)| rule != "105" && rule != "303"), "{found:?}");
    }

    #[test]
    fn an_xml_row_is_made_when_one_of_its_when_elements_says_so() {
        let catalog = Catalog::embedded().expect("the embedded packs load");
        let pack = catalog.find("ssda903@2025-26").expect("ssda903 2025-26 is embedded");
        let tables = pack.manifest.tables.as_ref().expect("tables");
        let form = tables.xml.as_ref().expect("an XML form");
        let uasc = tables.table.iter().position(|t| t.name == "UASC").expect("a UASC table");
        let header = tables.table.iter().position(|t| t.name == "Header").expect("a Header table");
        let rows = |inner: &str| {
            let text = format!("<CHILD><HEADER><CHILDID>C1</CHILDID><DOB>01/02/2010</DOB>{inner}</HEADER></CHILD>");
            let doc = crate::document::parse_xml(text.as_bytes(), &Default::default()).expect("well-formed");
            let (_, rows) = super::xml::record_rows(tables, form, &doc.root, 0);
            let at = tables.table[header].columns.iter().position(|c| c == "UASC").expect("a UASC column");
            let status = rows[header].first().and_then(|r| r.cells.get(at)).and_then(Option::as_ref);
            (rows[uasc].len(), status.map(|c| c.value.to_string()))
        };
        // The status 0 says no: no UASC row, unless a date the status ceased is given.
        assert_eq!(rows("<UASC>0</UASC>"), (0, Some("0".to_string())));
        assert_eq!(rows("<UASC>1</UASC>"), (1, Some("1".to_string())));
        assert_eq!(rows("<UASC>0</UASC><DUC>01/02/2028</DUC>"), (1, Some("0".to_string())));
        // A blank status is a blank cell (left out of the instance, so 105 finds it missing), and no row.
        assert_eq!(rows("<UASC/>"), (0, Some(String::new())));
        assert_eq!(rows(""), (0, None));
    }

    #[test]
    fn dates_are_read_day_first() {
        assert_eq!(iso_date("01/04/2025").as_deref(), Some("2025-04-01"));
        assert_eq!(iso_date("1/4/2025").as_deref(), Some("2025-04-01"));
        assert_eq!(iso_date("31/02/2025"), None);
        assert_eq!(iso_date("2025-04-01"), None);
        assert_eq!(iso_date("01/04/25"), None);
    }
}
