//! A payload of records for an API (a pack with `[payload]`, whose instance is one record): a JSON array of
//! records, or a daily extract of them as JSON Lines (one record a line, or objects one after another). The
//! payload is split record by record as it is read and each record is checked on its own, so that a bad record
//! is refused with its findings, located in the file and named by its key, and the others go on.
//!
//! Memory holds one record at a time (at most `limits.max_bytes` of it); a larger record is refused whole,
//! with one finding at its start, and the reading goes on after it.
//!
//! Not for: sending the records (`caregate send`), or a return whose records are XML (`bulk`).

use std::io::BufRead;

use serde_json::Value;

use crate::document::records::TextPosition;
use crate::finding::{Finding, Location, Severity};

use super::Validator;

/// One record of a payload, checked.
#[derive(Debug, Clone)]
pub struct PayloadRecord {
    /// 0-based, in the order of the payload.
    pub index: usize,
    /// The record's key (`la_child_id`), when it has one that is text.
    pub key: Option<String>,
    /// The record's bytes as the payload holds them (empty when the record was too large to be held).
    pub bytes: Vec<u8>,
    /// The record as JSON, when it could be read.
    pub value: Option<Value>,
    /// Where the record starts in the file.
    pub line: u32,
    pub column: u32,
    /// Its findings, located in the file.
    pub findings: Vec<Finding>,
    /// A fault of the payload between records (a missing comma, text after the array), not a record.
    pub between: bool,
    /// Whether the record was checked: false for one the caller said to pass over (see
    /// [`Validator::check_payload_where`]).
    pub checked: bool,
}

impl PayloadRecord {
    /// A record with an error finding is refused: it is not to be sent.
    pub fn refused(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// What the whole payload was.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayloadSummary {
    pub records: usize,
    pub refused: usize,
}

/// How the payload is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `[ {…}, {…} ]`.
    Array,
    /// `{…}` values one after another, usually one a line.
    Lines,
}

/// Where a scan of one JSON value is: inside how many brackets, inside a string, after a backslash.
#[derive(Default)]
struct Scan {
    /// The value is a number, `true`, `false` or `null`: it ends before white space, `,` or `]`.
    scalar: bool,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// How many bytes of `buffer` belong to the value, and whether the value ends with them.
    fn through(&mut self, buffer: &[u8]) -> (usize, bool) {
        for (i, &b) in buffer.iter().enumerate() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => {
                        self.in_string = false;
                        if self.depth == 0 {
                            return (i + 1, true);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                _ if self.scalar && (b.is_ascii_whitespace() || b == b',' || b == b']') => return (i, true),
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                _ => {}
            }
        }
        (buffer.len(), false)
    }
}

/// A piece of the payload that is a record, or a finding about the payload between records.
enum Piece {
    Record { bytes: Vec<u8>, too_large: bool, line: u32, column: u32 },
    Fault(Box<Finding>),
}

/// Splits a payload into its records as it is read. Only the structure between records is scanned here (the
/// brackets, strings and commas that say where a record ends); each record is parsed by the JSON reader when
/// it is checked.
struct Splitter<R> {
    reader: R,
    max_bytes: usize,
    form: Option<Form>,
    position: TextPosition,
    /// After `]` of an array, or at the end of the input.
    finished: bool,
    /// In an array: a record was read and no comma has followed it yet.
    after_item: bool,
}

impl<R: BufRead> Splitter<R> {
    fn new(reader: R, max_bytes: usize) -> Self {
        Splitter {
            reader,
            max_bytes,
            form: None,
            position: TextPosition::default(),
            finished: false,
            after_item: false,
        }
    }

    /// The next byte, without taking it.
    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        Ok(self.reader.fill_buf()?.first().copied())
    }

    fn take(&mut self) -> std::io::Result<Option<u8>> {
        let byte = self.peek()?;
        if let Some(b) = byte {
            self.position.advance(&[b]);
            self.reader.consume(1);
        }
        Ok(byte)
    }

    fn fault(&self, rule: &str, message: String) -> Piece {
        let (line, column) = self.position.at();
        Piece::Fault(Box::new(Finding::error(rule, message).with_location(Location {
            line,
            column,
            path: String::new(),
            pointer: None,
            span: None,
        })))
    }

    /// Takes one JSON value whose first byte is next, up to `max_bytes` of it kept. The reader's buffer is
    /// scanned a buffer at a time, and the position moved once a buffer.
    fn value(&mut self) -> std::io::Result<Piece> {
        let (line, column) = self.position.at();
        let mut bytes = Vec::new();
        let mut too_large = false;
        let first = self.peek()?;
        let mut scan = Scan { scalar: !matches!(first, Some(b'{' | b'[' | b'"')), ..Scan::default() };
        loop {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                break;
            }
            let (used, done) = scan.through(buffer);
            if !too_large && bytes.len() + used <= self.max_bytes {
                bytes.extend_from_slice(&buffer[..used]);
            } else {
                too_large = true;
                bytes = Vec::new();
            }
            self.position.advance(&buffer[..used]);
            self.reader.consume(used);
            if done {
                break;
            }
        }
        Ok(Piece::Record { bytes, too_large, line, column })
    }

    fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        loop {
            if self.finished {
                // Nothing but white space may follow the array.
                while let Some(b) = self.peek()? {
                    if !b.is_ascii_whitespace() {
                        let piece = self.fault(
                            "payload",
                            "Text follows the end of the payload's array; a payload is one array.".into(),
                        );
                        // Everything after is left unread: it is not part of the payload.
                        self.drain()?;
                        return Ok(Some(piece));
                    }
                    self.take()?;
                }
                return Ok(None);
            }
            let Some(b) = self.peek()? else {
                self.finished = true;
                if self.form == Some(Form::Array) {
                    return Ok(Some(self.fault("payload", "The payload's array is not closed with `]`.".into())));
                }
                return Ok(None);
            };
            if b.is_ascii_whitespace() || (self.form.is_none() && b == 0xEF) {
                // White space, and a UTF-8 byte order mark before the payload.
                self.take()?;
                if b == 0xEF {
                    self.take()?;
                    self.take()?;
                }
                continue;
            }
            match (self.form, b) {
                (None, b'[') => {
                    self.take()?;
                    self.form = Some(Form::Array);
                }
                (None, b'{') => self.form = Some(Form::Lines),
                (None, _) => {
                    let piece = self.fault(
                        "payload",
                        "A payload is a JSON array of records or JSON Lines (one record a line); this is neither."
                            .into(),
                    );
                    self.drain()?;
                    self.finished = true;
                    return Ok(Some(piece));
                }
                (Some(Form::Array), b']') => {
                    self.take()?;
                    self.finished = true;
                }
                (Some(Form::Array), b',') => {
                    if !self.after_item {
                        let piece = self.fault("payload", "A comma with no record before it.".into());
                        self.take()?;
                        return Ok(Some(piece));
                    }
                    self.take()?;
                    self.after_item = false;
                }
                (Some(Form::Array), _) => {
                    if self.after_item {
                        // Said once; the record after it is then read as the next.
                        self.after_item = false;
                        return Ok(Some(self.fault("payload", "Two records without a comma between them.".into())));
                    }
                    self.after_item = true;
                    return self.value().map(Some);
                }
                (Some(Form::Lines), _) => return self.value().map(Some),
            }
        }
    }

    fn drain(&mut self) -> std::io::Result<()> {
        loop {
            let n = self.reader.fill_buf()?.len();
            if n == 0 {
                return Ok(());
            }
            self.reader.consume(n);
        }
    }
}

/// A finding made in a record read on its own, located in the file: the record starts at `line`, `column`.
fn placed(mut finding: Finding, line: u32, column: u32, key: Option<&str>) -> Finding {
    if let Some(location) = finding.location.as_mut() {
        if location.line == 1 {
            location.column = location.column.saturating_add(column.saturating_sub(1));
        }
        location.line = location.line.saturating_add(line.saturating_sub(1));
        // A span is of the record's bytes, not the file's.
        location.span = None;
    }
    finding.excerpt = finding.excerpt.map(|e| e.placed_at(line, column));
    match key {
        Some(key) => finding.with_record(key),
        None => finding,
    }
}

impl Validator<'_> {
    /// Checks a payload of the standard this validator was made for (`Options::standard`, a pack with
    /// `[payload]`) record by record as it is read, giving each record to `each` once checked (in payload
    /// order). A fault between records (a missing comma, text after the array) is given as a record of its own,
    /// with no bytes, and refused. Fails only when the payload cannot be read, or no standard was named.
    pub fn check_payload(
        &self,
        reader: impl BufRead,
        each: &mut dyn FnMut(PayloadRecord),
    ) -> std::io::Result<PayloadSummary> {
        self.check_payload_where(reader, &mut |_, _| false, each)
    }

    /// As [`Validator::check_payload`], but a record that is JSON with a key, and of which `pass_over` (given
    /// its key and value) says so, is not checked: it is given with its value and no findings, `checked` false.
    /// For a sender, whose records unchanged since they were last delivered need no second check.
    pub fn check_payload_where(
        &self,
        reader: impl BufRead,
        pass_over: &mut dyn FnMut(&str, &Value) -> bool,
        each: &mut dyn FnMut(PayloadRecord),
    ) -> std::io::Result<PayloadSummary> {
        let Some(pack) = &self.options.standard else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a payload is checked against a named standard",
            ));
        };
        let key_name = pack.manifest.payload.as_ref().map(|p| p.key.as_str());
        let mut splitter = Splitter::new(reader, self.options.limits.max_bytes);
        let mut summary = PayloadSummary::default();
        while let Some(piece) = splitter.next_piece()? {
            let record = match piece {
                Piece::Fault(finding) => PayloadRecord {
                    index: summary.records,
                    key: None,
                    bytes: Vec::new(),
                    value: None,
                    line: finding.location.as_ref().map_or(0, |l| l.line),
                    column: finding.location.as_ref().map_or(0, |l| l.column),
                    findings: vec![*finding],
                    between: true,
                    checked: true,
                },
                Piece::Record { bytes, too_large: true, line, column } => {
                    let finding = crate::document::too_large(None, &self.options.limits);
                    let start = Location { line: 1, column: 1, path: String::new(), pointer: None, span: None };
                    let finding = placed(finding.with_location(start), line, column, None);
                    PayloadRecord {
                        index: summary.records,
                        key: None,
                        bytes,
                        value: None,
                        line,
                        column,
                        findings: vec![finding],
                        between: false,
                        checked: true,
                    }
                }
                Piece::Record { bytes, too_large: false, line, column } => {
                    let known = serde_json::from_slice::<Value>(&bytes).ok().and_then(|value| {
                        let key = key_name.and_then(|k| value.get(k)).and_then(Value::as_str)?.to_string();
                        pass_over(&key, &value).then_some((key, value))
                    });
                    if let Some((key, value)) = known {
                        each(PayloadRecord {
                            index: summary.records,
                            key: Some(key),
                            bytes,
                            value: Some(value),
                            line,
                            column,
                            findings: Vec::new(),
                            between: false,
                            checked: false,
                        });
                        summary.records += 1;
                        continue;
                    }
                    let checked = self.check(&bytes);
                    let value = checked.instance.clone();
                    let key = key_name
                        .and_then(|k| value.as_ref().and_then(|v| v.get(k)))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    let findings =
                        checked.findings.into_iter().map(|f| placed(f, line, column, key.as_deref())).collect();
                    PayloadRecord {
                        index: summary.records,
                        key,
                        bytes,
                        value,
                        line,
                        column,
                        findings,
                        between: false,
                        checked: true,
                    }
                }
            };
            // A fault between records is not a record; it is given with the index of the record after it.
            if !record.between {
                summary.records += 1;
            }
            if record.refused() {
                summary.refused += 1;
            }
            each(record);
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<String> {
        let mut splitter = Splitter::new(text.as_bytes(), 1000);
        let mut out = Vec::new();
        while let Some(piece) = splitter.next_piece().unwrap() {
            out.push(match piece {
                Piece::Record { bytes, line, column, .. } => {
                    format!("{line}:{column} {}", String::from_utf8(bytes).unwrap())
                }
                Piece::Fault(f) => format!("fault {}", f.message),
            });
        }
        out
    }

    #[test]
    fn an_array_is_split_into_its_records_where_they_start() {
        assert_eq!(
            pieces("[\n {\"a\": \"}]\"},\n {\"b\": [1, {}]}\n]\n"),
            ["2:2 {\"a\": \"}]\"}", "3:2 {\"b\": [1, {}]}"]
        );
        assert_eq!(pieces("[]"), Vec::<String>::new());
    }

    #[test]
    fn json_lines_are_split_into_their_records() {
        assert_eq!(pieces("{\"a\":1}\n{\"a\":\"\\\"{\"}\n\n"), ["1:1 {\"a\":1}", "2:1 {\"a\":\"\\\"{\"}"]);
    }

    #[test]
    fn an_item_that_is_not_an_object_is_a_record_the_check_refuses() {
        assert_eq!(pieces("[1, \"x\"]"), ["1:2 1", "1:5 \"x\""]);
    }

    #[test]
    fn faults_between_records_are_said() {
        assert_eq!(pieces("[{} {}]"), ["1:2 {}", "fault Two records without a comma between them.", "1:5 {}"]);
        assert_eq!(
            pieces("[{},]x"),
            ["1:2 {}", "fault Text follows the end of the payload's array; a payload is one array."]
        );
        assert_eq!(pieces("[{}"), ["1:2 {}", "fault The payload's array is not closed with `]`."]);
        assert_eq!(
            pieces("x"),
            ["fault A payload is a JSON array of records or JSON Lines (one record a line); this is neither."]
        );
    }

    #[test]
    fn a_record_larger_than_the_limit_is_not_held() {
        let mut splitter = Splitter::new("[{\"a\": \"0123456789\"}, {}]".as_bytes(), 8);
        let Some(Piece::Record { bytes, too_large, .. }) = splitter.next_piece().unwrap() else { panic!() };
        assert!(too_large && bytes.is_empty());
        let Some(Piece::Record { bytes, too_large, .. }) = splitter.next_piece().unwrap() else { panic!() };
        assert!(!too_large && bytes == b"{}");
    }
}
