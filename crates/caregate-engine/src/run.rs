//! A validation run: every input given, each checked as its kind asks, into one report writer.
//!
//! For: the one order and choice of checks behind a report, so that the command line (files on disk) and the
//! browser (files in memory) give the same report for the same files. CSV files are the tables of one return,
//! checked together; an XML table return (SSDA903's EXPSSDA903) is read child by child; a payload of an API
//! standard record by record; a bulk return (a census) streamed record by record; any other document whole.
//! The run begins with its standard (the one asked for, or the first recognised); documents checked before
//! one is recognised wait for it.
//!
//! Not for: finding or reading files (an [`Input`] gives its bytes), or terminals and progress bars (the
//! caller's, through [`Input::progress`] and the `done` callback).

use std::io::{self, BufRead};
use std::sync::Arc;

use crate::document::{self, Limits};
use crate::finding::{Counts, Finding};
use crate::model::{DocumentEnd, DocumentResult, DocumentStart, Tool};
use crate::report::{self, ReportWriter};
use crate::standard::{Catalog, StandardPack};
use crate::validate::tables::TableFile;
use crate::validate::{Checked, Validator};

/// How many bytes of an input are enough to recognise its standard.
pub const HEAD_BYTES: usize = 64 * 1024;

/// One input of a run: a file on disk, standard input, or bytes in memory.
pub trait Input: Sync {
    /// The name the report gives it.
    fn path(&self) -> &str;
    /// Its first [`HEAD_BYTES`] bytes (fewer if it is shorter); `None` when it cannot be read twice (standard
    /// input), which is then read once, whole or as a payload.
    fn head(&self) -> io::Result<Option<Vec<u8>>>;
    /// The input from byte `offset` on; a return is opened more than once.
    fn open(&self, offset: u64) -> io::Result<Box<dyn BufRead + Send + '_>>;
    /// The whole input, or the refusal of one over `limits.max_bytes` (never truncated).
    fn read(&self, limits: &Limits) -> io::Result<Result<Vec<u8>, Box<Finding>>>;
    /// Told how many bytes of this input have been read while a bulk return is checked (a progress bar).
    fn progress(&self) -> Option<Box<dyn Fn(u64) + Send + Sync>> {
        None
    }
}

/// Why a run stopped before its report was complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the report")]
    Write(#[source] io::Error),
    /// The standard cannot be decided or does not fit the inputs; the message says what to do.
    #[error("{0}")]
    Standard(String),
}

fn extension_is(path: &str, ext: &str) -> bool {
    std::path::Path::new(path).extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Checks every input and gives each document to `writer` as it is checked: a bulk return finding by finding
/// as its records are read, a single document once checked; then finishes the report. `done` is called after
/// each input other than a CSV table. Says whether any document has errors.
pub fn run(
    validator: &mut Validator<'_>,
    inputs: &[&dyn Input],
    writer: &mut dyn ReportWriter,
    done: &mut dyn FnMut(),
) -> Result<bool, RunError> {
    let standard = validator.options.standard.clone();
    let limits = validator.options.limits;
    let mut packs: Vec<Arc<StandardPack>> = Vec::new();
    let mut remember = |pack: &Arc<StandardPack>| {
        if !packs.iter().any(|p| Arc::ptr_eq(p, pack)) {
            packs.push(Arc::clone(pack));
        }
    };
    let mut has_errors = false;
    let mut waiting: Option<Vec<DocumentResult>> = Some(Vec::new());
    if let Some(pack) = &standard {
        begin_run(writer, Some(pack), &mut waiting)?;
    }
    let (tables, inputs): (Vec<&dyn Input>, Vec<&dyn Input>) =
        inputs.iter().copied().partition(|input| extension_is(input.path(), "csv"));
    // A run given one share of the bulk returns checks every other document only when it is the share to the
    // end, and otherwise leaves them out of its report (see `Share`).
    let whole_documents = validator.share.is_none_or(|share| share.gives_end());
    if !tables.is_empty() && whole_documents {
        let pack = tables_pack(validator.catalog, standard.as_deref())?;
        begin_run(writer, Some(&pack), &mut waiting)?;
        remember(&pack);
        let mut files = Vec::with_capacity(tables.len());
        for input in &tables {
            let bytes = read_all(*input)?;
            files.push(TableFile { path: input.path().to_string(), bytes });
        }
        has_errors |= validator.check_tables_into(&pack, &files, writer).map_err(RunError::Write)?;
    }
    for input in inputs {
        let path = input.path();
        let read_error = |source| RunError::Read { path: path.to_string(), source };
        let head = input.head().map_err(read_error)?;
        let tables_xml = head.as_deref().and_then(|head| validator.tables_xml_pack(head));
        let payload_pack = standard.clone().filter(|p| p.manifest.payload.is_some() && !extension_is(path, "xml"));
        let bulk = head.as_deref().and_then(|head| validator.bulk_pack(head));
        if !whole_documents && (tables_xml.is_some() || payload_pack.is_some() || bulk.is_none()) {
            done();
            continue;
        }
        // A table return in its XML form (SSDA903's EXPSSDA903), read child by child.
        if let Some(pack) = tables_xml {
            begin_run(writer, Some(&pack), &mut waiting)?;
            remember(&pack);
            let standard_ref = pack.standard_ref();
            let start = DocumentStart { path, format: "xml", standard: Some(&standard_ref) };
            has_errors |= streamed(writer, start, |sink| {
                // Aggregates across children (a UPN two children give) take a first pass over the input.
                let agg = validator.gather_tables_xml(&pack, input.open(0).map_err(read_error)?);
                let reader = input.open(0).map_err(read_error)?;
                let summary = validator.check_tables_xml(&pack, reader, agg.as_ref(), &mut |f| sink(&f));
                Ok((summary.counts, summary.records))
            })?;
            done();
            continue;
        }
        // A payload of a standard taken by an API (DfE's CSC: an array of children, or JSON Lines), checked
        // record by record.
        if let Some(pack) = payload_pack {
            remember(&pack);
            begin_run(writer, Some(&pack), &mut waiting)?;
            has_errors |= payload_into(validator, &pack, input, writer)?;
            done();
            continue;
        }
        match bulk {
            // A bulk return (a census) is streamed from the input, record by record, whatever its size.
            Some(pack) => {
                begin_run(writer, Some(&pack), &mut waiting)?;
                remember(&pack);
                validator.progress = input.progress();
                let open = |offset: u64| input.open(offset);
                let standard_ref = pack.standard_ref();
                let start = DocumentStart { path, format: "xml", standard: Some(&standard_ref) };
                let checked = streamed(writer, start, |sink| {
                    let summary = validator.check_bulk_streaming(&pack, &open, &mut |f| sink(&f));
                    let summary = summary.map_err(read_error)?;
                    Ok((summary.counts, summary.records))
                });
                validator.progress = None;
                has_errors |= checked?;
            }
            None => {
                let checked = match input.read(&limits).map_err(read_error)? {
                    Ok(bytes) => validator.check(&bytes),
                    Err(refusal) => Checked::refused(*refusal),
                };
                for pack in checked.pack.iter().chain(checked.body_pack.iter()) {
                    remember(pack);
                }
                if let Some(pack) = &checked.pack {
                    begin_run(writer, Some(pack), &mut waiting)?;
                }
                let document = checked.into_result(path);
                has_errors |= !document.valid;
                match &mut waiting {
                    Some(held) => held.push(document),
                    None => report::replay_document(&document, writer).map_err(RunError::Write)?,
                }
            }
        }
        done();
    }
    begin_run(writer, None, &mut waiting)?;
    let mut rules = Vec::new();
    for pack in &packs {
        rules.extend(pack.rule_infos());
    }
    writer.finish(&rules).map_err(RunError::Write)?;
    Ok(has_errors)
}

/// A CSV table whole: the tables of a return are read together, so no limit applies to one alone.
fn read_all(input: &dyn Input) -> Result<Vec<u8>, RunError> {
    let mut bytes = Vec::new();
    input
        .open(0)
        .and_then(|mut reader| reader.read_to_end(&mut bytes))
        .map_err(|source| RunError::Read { path: input.path().to_string(), source })?;
    Ok(bytes)
}

/// Checks a payload record by record into `writer`; says whether a record was refused.
fn payload_into(
    validator: &Validator<'_>,
    pack: &StandardPack,
    input: &dyn Input,
    writer: &mut dyn ReportWriter,
) -> Result<bool, RunError> {
    let path = input.path();
    let standard_ref = pack.standard_ref();
    let read_error = |source| RunError::Read { path: path.to_string(), source };
    let start = DocumentStart { path, format: "json", standard: Some(&standard_ref) };
    streamed(writer, start, |sink| {
        let mut counts = Counts::default();
        let summary = validator
            .check_payload(input.open(0).map_err(read_error)?, &mut |record| {
                for finding in &record.findings {
                    counts.add(finding.severity);
                    sink(finding);
                }
            })
            .map_err(read_error)?;
        Ok((counts, summary.records))
    })
}

/// One document checked finding by finding into `writer`: begun, each finding written as `check` gives it,
/// and ended with the counts and records `check` reports. A check cannot be stopped, so the first error
/// writing stops the writing and is reported once the check is over. Says whether the document has errors.
fn streamed(
    writer: &mut dyn ReportWriter,
    start: DocumentStart<'_>,
    check: impl FnOnce(&mut dyn FnMut(&Finding)) -> Result<(Counts, usize), RunError>,
) -> Result<bool, RunError> {
    writer.begin_document(&start).map_err(RunError::Write)?;
    let mut write_error = None;
    let (counts, records) = check(&mut |finding| {
        if write_error.is_none() {
            write_error = writer.finding(finding).err();
        }
    })?;
    if let Some(error) = write_error {
        return Err(RunError::Write(error));
    }
    let valid = counts.error == 0;
    writer.end_document(&DocumentEnd { counts, valid, records: Some(records) }).map_err(RunError::Write)?;
    Ok(!valid)
}

/// The standard CSV files are tables of: the one named, or the only one sent as tables.
pub fn tables_pack(catalog: &Catalog, standard: Option<&StandardPack>) -> Result<Arc<StandardPack>, RunError> {
    match standard {
        Some(named) => {
            let reference = named.reference();
            if named.manifest.tables.is_none() {
                return Err(RunError::Standard(format!(
                    "{reference} is not sent as CSV tables, so .csv files cannot be checked against it"
                )));
            }
            catalog.find(&reference).ok_or_else(|| RunError::Standard(format!("{reference} is not loaded")))
        }
        None => {
            let sent_as_tables: Vec<&Arc<StandardPack>> =
                catalog.packs().iter().filter(|p| p.manifest.tables.is_some()).collect();
            match sent_as_tables.as_slice() {
                [only] => Ok(Arc::clone(only)),
                _ => Err(RunError::Standard(format!(
                    "name the standard the CSV files are tables of with --standard ({})",
                    sent_as_tables.iter().map(|p| p.reference()).collect::<Vec<_>>().join(", ")
                ))),
            }
        }
    }
}

/// Begins the run with `standard` unless it has begun, then gives it the documents that were waiting.
fn begin_run(
    writer: &mut dyn ReportWriter,
    standard: Option<&StandardPack>,
    waiting: &mut Option<Vec<DocumentResult>>,
) -> Result<(), RunError> {
    let Some(held) = waiting.take() else { return Ok(()) };
    let standard_ref = standard.map(StandardPack::standard_ref);
    writer.begin_run(&Tool::caregate(), standard_ref.as_ref()).map_err(RunError::Write)?;
    for document in &held {
        report::replay_document(document, writer).map_err(RunError::Write)?;
    }
    Ok(())
}

/// An input held in memory (a file a browser was given, a test's bytes).
pub struct MemoryInput {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Input for MemoryInput {
    fn path(&self) -> &str {
        &self.path
    }
    fn head(&self) -> io::Result<Option<Vec<u8>>> {
        Ok(Some(self.bytes[..self.bytes.len().min(HEAD_BYTES)].to_vec()))
    }
    fn open(&self, offset: u64) -> io::Result<Box<dyn BufRead + Send + '_>> {
        let from = usize::try_from(offset).map_err(io::Error::other)?.min(self.bytes.len());
        // In chunks, as a file is read: a slice's own `fill_buf` gives all the rest at once, which the record
        // splitter would then hold (and move) whole, and refuse as too large past its limit.
        Ok(Box::new(io::BufReader::with_capacity(1 << 16, &self.bytes[from..])))
    }
    fn read(&self, limits: &Limits) -> io::Result<Result<Vec<u8>, Box<Finding>>> {
        if self.bytes.len() > limits.max_bytes {
            return Ok(Err(Box::new(document::too_large(u64::try_from(self.bytes.len()).ok(), limits))));
        }
        Ok(Ok(self.bytes.clone()))
    }
}
