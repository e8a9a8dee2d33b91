//! CSV as councils export it: a header row naming the columns, then one row per line. UTF-8 with or without a
//! byte order mark, CRLF or LF line ends, fields quoted or not (`""` inside quotes is one `"`; a quoted field
//! may hold commas and line breaks), blank lines skipped, spaces around a value not part of it.
//!
//! Written here rather than taken from the `csv` crate because every field must keep its byte span in the
//! file the user sent (to point a finding at line and column), which that crate does not give for fields:
//! its ranges are into the unescaped record, not the input.

use super::{Limits, LineIndex};
use crate::finding::{Finding, Location, Span};

/// One field: where it was written and its value (unquoted, unescaped, trimmed), read through
/// [`CsvTable::value`]. The value is kept as where it is in the file's text, so that a field costs 16 bytes and
/// a table little more than its text (a return's tables hold millions of fields); only a value that
/// unescaping changed (`""` in quotes) is kept apart, in the table, and the field holds its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvField {
    start: u32,
    end: u32,
    /// The value's span in the text; or [`APART`] and the index of the value kept apart.
    value: (u32, u32),
}

/// The `value.0` of a field whose value is kept apart: no span starts there, as a table's text is shorter.
const APART: u32 = u32::MAX;

impl CsvField {
    /// Where the field was written, quotes included.
    pub fn span(&self) -> Span {
        Span::new(self.start as usize, self.end as usize)
    }
}

/// One row: its fields in column order, and the span of the whole line(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    pub fields: Vec<CsvField>,
    pub span: Span,
}

impl CsvRow {
    /// The field in column `index`, when the row has one.
    pub fn get(&self, index: usize) -> Option<&CsvField> {
        self.fields.get(index)
    }
}

/// A whole CSV file: its text, header row and rows.
#[derive(Debug, Clone)]
pub struct CsvTable {
    text: Box<str>,
    /// Values that unescaping changed, by the index their field holds.
    apart: Vec<Box<str>>,
    pub header: CsvRow,
    pub rows: Vec<CsvRow>,
}

impl CsvTable {
    /// The column called `name` (compared without regard to case), by its index.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.fields.iter().position(|f| self.value(f).eq_ignore_ascii_case(name))
    }

    /// A field's value: unquoted, unescaped, without the spaces around it.
    pub fn value<'t>(&'t self, field: &'t CsvField) -> &'t str {
        match field.value {
            (APART, index) => self.apart.get(index as usize).map_or("", |v| v),
            (start, end) => self.text.get(start as usize..end as usize).unwrap_or_default(),
        }
    }
}

/// Reads `bytes` as a CSV table. Refuses (with one located finding) input over the limit, bytes that are not
/// UTF-8, a quoted field that never ends, and a file with no header row.
#[allow(clippy::result_large_err)] // as the other parsers: one finding, on a cold path
pub fn parse_csv(bytes: &[u8], limits: &Limits) -> Result<CsvTable, Finding> {
    // Spans are kept in 32 bits: a table is at most 4 GiB, whatever the limit.
    if bytes.len() > limits.max_bytes || u32::try_from(bytes.len()).is_err() {
        let limits = Limits { max_bytes: limits.max_bytes.min(u32::MAX as usize - 1), ..*limits };
        return Err(super::too_large(u64::try_from(bytes.len()).ok(), &limits));
    }
    let lines = LineIndex::new(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let at = error.valid_up_to();
            return Err(refusal(
                "invalid-utf8",
                "The file is not UTF-8 text: save it from the spreadsheet as \"CSV UTF-8\".".into(),
                at,
                &lines,
            ));
        }
    };
    let start = if text.starts_with('\u{FEFF}') { 3 } else { 0 };
    let mut reader = Reader { text, at: start, lines: &lines, apart: Vec::new(), width: 0 };
    let mut header: Option<CsvRow> = None;
    let mut rows = Vec::new();
    while let Some(row) = reader.row()? {
        if header.is_none() {
            reader.width = row.fields.len();
            header = Some(row);
        } else {
            rows.push(row);
        }
    }
    let Some(header) = header else {
        return Err(refusal(
            "csv-no-header",
            "The file has no header row: the first line must name the columns (CHILD, DOB, …).".into(),
            start,
            &lines,
        ));
    };
    // A return holds hundreds of thousands of rows until its last record is checked: none keeps room it
    // does not use.
    rows.shrink_to_fit();
    Ok(CsvTable { text: text.into(), apart: reader.apart, header, rows })
}

fn refusal(rule: &str, message: String, at: usize, lines: &LineIndex) -> Finding {
    let (line, column) = lines.locate(at);
    Finding::error(rule, message).with_location(Location {
        line,
        column,
        path: String::new(),
        pointer: None,
        span: Some(Span::new(at, at)),
    })
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
    lines: &'a LineIndex,
    apart: Vec<Box<str>>,
    /// Fields in the header row: the room each row's fields are given, so that a row of a table holds no
    /// more than its fields (growing one push at a time would leave up to half as much again unused).
    width: usize,
}

impl Reader<'_> {
    /// The next row that is not blank, or `None` at the end.
    #[allow(clippy::result_large_err)]
    fn row(&mut self) -> Result<Option<CsvRow>, Finding> {
        let bytes = self.text.as_bytes();
        loop {
            if self.at >= bytes.len() {
                return Ok(None);
            }
            let start = self.at;
            let mut fields = Vec::with_capacity(self.width);
            loop {
                let field = self.field()?;
                fields.push(field);
                match bytes.get(self.at) {
                    Some(b',') => self.at += 1,
                    Some(b'\r') => {
                        self.at += if bytes.get(self.at + 1) == Some(&b'\n') { 2 } else { 1 };
                        break;
                    }
                    Some(b'\n') => {
                        self.at += 1;
                        break;
                    }
                    _ => break,
                }
            }
            let end = self.at;
            // A line of nothing but commas (as spreadsheets export a blank row) is blank too.
            let blank = fields.iter().all(|f: &CsvField| match f.value {
                (APART, index) => self.apart.get(index as usize).is_none_or(|v| v.is_empty()),
                (start, end) => start == end,
            });
            if !blank {
                return Ok(Some(CsvRow { fields, span: Span::new(start, trim_line_end(self.text, start, end)) }));
            }
        }
    }

    /// One field, up to (not including) the comma or line end after it.
    #[allow(clippy::result_large_err)]
    fn field(&mut self) -> Result<CsvField, Finding> {
        let bytes = self.text.as_bytes();
        let mut at = self.at;
        while matches!(bytes.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if bytes.get(at) == Some(&b'"') {
            let open = at;
            let mut value = String::new();
            let mut from = at + 1;
            let mut escaped = false;
            loop {
                let Some(quote) = memchr::memchr(b'"', &bytes[from..]).map(|i| from + i) else {
                    return Err(refusal(
                        "csv-unterminated-quote",
                        "A quoted field is opened here and never closed: a `\"` is missing.".into(),
                        open,
                        self.lines,
                    ));
                };
                value.push_str(&self.text[from..quote]);
                if bytes.get(quote + 1) == Some(&b'"') {
                    value.push('"');
                    escaped = true;
                    from = quote + 2;
                } else {
                    at = quote + 1;
                    break;
                }
            }
            // Anything between the closing quote and the comma is kept, as Excel reads it.
            let close = at - 1;
            let rest_end = field_end(bytes, at);
            let rest = &self.text[at..rest_end];
            self.at = rest_end;
            let span = Span::new(open, rest_end);
            if !escaped && rest.trim().is_empty() {
                // The value is the text between the quotes, trimmed, as it stands in the file.
                let inner = &self.text[open + 1..close];
                let lead = inner.len() - inner.trim_start().len();
                let value = Span::new(open + 1 + lead, open + 1 + lead + inner.trim().len());
                return Ok(field(span, value));
            }
            value.push_str(rest);
            self.apart.push(value.trim().into());
            let index = u32::try_from(self.apart.len() - 1).unwrap_or(u32::MAX);
            return Ok(CsvField { value: (APART, index), ..field(span, span) });
        }
        // Unquoted: the value is the text up to the comma without the whitespace around it (any, as trim reads
        // it: a no-break space pasted from a web page too).
        let end = field_end(bytes, at);
        self.at = end;
        let raw = &self.text[at..end];
        let start = at + (raw.len() - raw.trim_start().len());
        let span = Span::new(start, start + raw.trim().len());
        Ok(field(span, span))
    }
}

/// A field at `span` whose value is at `value`; both within a text of under 4 GiB (see [`parse_csv`]).
fn field(span: Span, value: Span) -> CsvField {
    let at = |offset: usize| u32::try_from(offset).unwrap_or(APART - 1);
    CsvField { start: at(span.start), end: at(span.end), value: (at(value.start), at(value.end)) }
}

/// Where an unquoted field that starts at `at` ends: the next comma or line end.
fn field_end(bytes: &[u8], at: usize) -> usize {
    memchr::memchr3(b',', b'\n', b'\r', &bytes[at..]).map_or(bytes.len(), |i| at + i)
}

fn trim_line_end(text: &str, start: usize, end: usize) -> usize {
    start + text[start..end].trim_end_matches(['\r', '\n']).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> CsvTable {
        parse_csv(text.as_bytes(), &Limits::default()).unwrap()
    }

    fn values<'t>(table: &'t CsvTable, row: &'t CsvRow) -> Vec<&'t str> {
        row.fields.iter().map(|f| table.value(f)).collect()
    }

    #[test]
    fn reads_rows_as_excel_writes_them() {
        let src = "\u{FEFF}CHILD,DOB,NOTE\r\n1, 01/02/2020 ,\"a, \"\"b\"\"\"\r\n\r\n2,,\"two\nlines\"\r\n";
        let t = table(src);
        assert_eq!(values(&t, &t.header), ["CHILD", "DOB", "NOTE"]);
        assert_eq!(t.header.fields[0].span().start, 3);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(values(&t, &t.rows[0]), ["1", "01/02/2020", "a, \"b\""]);
        let dob = &t.rows[0].fields[1];
        assert_eq!(&src[dob.span().start..dob.span().end], "01/02/2020");
        let note = &t.rows[0].fields[2];
        assert_eq!(&src[note.span().start..note.span().end], "\"a, \"\"b\"\"\"");
        assert_eq!(values(&t, &t.rows[1]), ["2", "", "two\nlines"]);
        // Quoted without escapes: the value is where it stands, trimmed.
        let quoted = table("A\n\" x \"\n");
        assert_eq!(values(&quoted, &quoted.rows[0]), ["x"]);
        assert_eq!(t.column("dob"), Some(1));
        let lines = LineIndex::new(src.as_bytes());
        assert_eq!(lines.locate(t.rows[1].fields[0].span().start), (4, 1));
    }

    #[test]
    fn a_last_line_without_a_line_end_and_lf_only() {
        let t = table("A,B\n1,2\n3,4");
        assert_eq!(t.rows.iter().map(|r| values(&t, r)).collect::<Vec<_>>(), [["1", "2"], ["3", "4"]]);
        let t = table("A,B\n1,\n,\n , \n");
        assert_eq!(values(&t, &t.rows[0]), ["1", ""]);
        assert_eq!(t.rows.len(), 1, "rows of nothing but commas are blank");
        let t = table("A,B\n\u{a0}x\u{a0}, \u{b}y\n");
        assert_eq!(values(&t, &t.rows[0]), ["x", "y"], "whitespace of any kind around a value is not part of it");
    }

    #[test]
    fn refuses_what_is_not_a_table() {
        let limits = Limits::default();
        let open = parse_csv(b"A,B\n1,\"never closed\n", &limits).unwrap_err();
        assert_eq!(open.rule, "csv-unterminated-quote");
        assert_eq!(open.location.map(|l| (l.line, l.column)), Some((2, 3)));
        assert_eq!(parse_csv(b"\n\r\n", &limits).unwrap_err().rule, "csv-no-header");
        assert_eq!(parse_csv(b"A,B\n1,\xff\n", &limits).unwrap_err().rule, "invalid-utf8");
        let small = Limits { max_bytes: 4, ..limits };
        assert_eq!(parse_csv(b"A,B\n1,2\n", &small).unwrap_err().rule, "input-too-large");
    }
}
