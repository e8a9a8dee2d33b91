//! Ofsted's lists of registered social care providers as a read-only index keyed by URN: what the list says of
//! each provider that the SSDA903 URN rules (219, 221, 224, 227, 228, 229, 241, 1008) check a placement
//! against: the placement types it takes, its placement provider codes, the postcodes of its premises and the
//! date its registration ended.
//!
//! For: loading the lists as Ofsted publishes them — the children's homes list, the social care providers list
//! (current and closed providers on two sheets), the combined list of both and the supported accommodation
//! sheet beside it — as XLSX workbooks (read with `calamine`) or as CSV, one file or several, and answering
//! lookups from any number of threads.
//!
//! Not for: the council a provider lies in. Ofsted names it (`Local authority`), but by name, which no rule
//! can compare with a code; the rules find it from the provider's postcodes in the ONS Postcode Directory
//! (`postcode_la`), as DfE's own tools do. Nor for anything else the lists say (inspections, owners, places).
//!
//! How a list is read. Every sheet (a CSV file is one sheet) whose header row — the first of its first 20 rows
//! with a cell `URN` — names a URN column and at least one of the columns below is read; other sheets (such as
//! the children's homes list's registration conditions) are left alone. Column names are compared in any case,
//! with runs of spaces as one; where Ofsted has used more than one name over the years, each is taken, the
//! first found in this order:
//!
//! | what | columns |
//! |---|---|
//! | placement types (PLACE) | `Placement code`, `Provider Code` (the children's homes list's own name) |
//! | placement provider codes (PLACE_PROVIDER) | `Placement provider code`, `Provider Placement Code` |
//! | postcode of the premises | `Setting address postcode`, `Setting postcode`, `Provider postcode` |
//! | end of registration | `Deregistration date`, `Closed date` |
//!
//! A cell of codes may hold several, separated by commas or slashes (`U1,U2`, `PR1/PR2`). A sheet of supported
//! accommodation (one with a `Setting local authority` column) without a placement code column takes K3,
//! the placement type of supported accommodation. A row with a blank URN is left out. A closing date is a date
//! cell, or a text `dd/mm/yyyy` or `yyyy-mm-dd`; `-`, `na`, `n/a` and a blank cell are no date; anything else
//! stops the load with its sheet and row, rather than read a closed provider as open.
//!
//! A URN may be listed more than once (a provider of supported accommodation has a row per setting; a list
//! may repeat one): its rows are merged, the codes and postcodes of all of them kept, and its registration
//! ended only when every row says it ended (on the latest date given), as a provider still listed as open is.
//!
//! The index is a vector of providers sorted by URN, found by binary search. Ofsted's lists hold some tens of
//! thousands of providers, each with a few codes and usually one postcode: a few megabytes at most, so the
//! codes are kept as short strings rather than packed as the postcode directory's 2.7 million entries are.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, DataType as _, Reader as _};
use chrono::NaiveDate;

/// Why an Ofsted provider list could not be loaded. Rows are 1-based rows of the sheet.
#[derive(Debug, thiserror::Error)]
pub enum OfstedError {
    #[error("the Ofsted provider list could not be read: {0}")]
    Read(String),
    #[error(
        "the Ofsted provider list has no sheet with a `URN` column beside a placement code, placement provider \
         code, setting postcode or deregistration date column"
    )]
    NoProviders,
    #[error("sheet `{sheet}`, row {row} of the Ofsted provider list: {message}")]
    Row { sheet: String, row: usize, message: String },
    #[error("the Ofsted provider lists name no provider")]
    Empty,
}

/// What Ofsted's lists say about one provider (all its rows merged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Its URN, trimmed and upper-cased.
    pub urn: Box<str>,
    /// The placement types (PLACE codes) it is registered for, upper-cased, each once, in the order first given.
    pub places: Vec<Box<str>>,
    /// Its placement provider codes (PLACE_PROVIDER), upper-cased, each once.
    pub provider_codes: Vec<Box<str>>,
    /// The postcodes of its premises, upper-cased with spaces removed, each once.
    pub postcodes: Vec<Box<str>>,
    /// The day its registration ended; `None` while any row lists it as open.
    pub closed: Option<NaiveDate>,
}

/// The lists, providers sorted by URN.
#[derive(Debug, Clone)]
pub struct OfstedProviders {
    providers: Vec<Provider>,
}

/// Reads one list or several into one index; see [`OfstedProviders::builder`].
#[derive(Debug, Default)]
pub struct OfstedProvidersBuilder {
    rows: HashMap<Box<str>, Merged>,
}

/// A provider while its rows are being read: `open` once any row gives no closing date.
#[derive(Debug, Default)]
struct Merged {
    places: Vec<Box<str>>,
    provider_codes: Vec<Box<str>>,
    postcodes: Vec<Box<str>>,
    open: bool,
    closed: Option<NaiveDate>,
}

/// The columns read, each with the names Ofsted has given it, the preferred first.
const PLACES: &[&str] = &["placement code", "provider code"];
const PROVIDER_CODES: &[&str] = &["placement provider code", "provider placement code"];
const POSTCODES: &[&str] = &["setting address postcode", "setting postcode", "provider postcode"];
const CLOSED: &[&str] = &["deregistration date", "closed date"];
/// A column only the supported accommodation sheet has.
const SUPPORTED_ACCOMMODATION: &str = "setting local authority";
/// How far down a sheet its header row is looked for (Ofsted's sheets sometimes open with a title).
const HEADER_ROWS: usize = 20;

/// Where a sheet's columns are, by index.
struct Columns {
    urn: usize,
    places: Option<usize>,
    provider_codes: Option<usize>,
    postcodes: Option<usize>,
    closed: Option<usize>,
    supported_accommodation: bool,
}

impl Columns {
    /// The columns of a header row, `None` when it has no URN column or none of the others.
    fn of(header: &[String]) -> Option<Columns> {
        let names: Vec<String> = header.iter().map(|h| column_name(h)).collect();
        let find = |aliases: &[&str]| aliases.iter().find_map(|a| names.iter().position(|n| n == a));
        let columns = Columns {
            urn: names.iter().position(|n| n == "urn")?,
            places: find(PLACES),
            provider_codes: find(PROVIDER_CODES),
            postcodes: find(POSTCODES),
            closed: find(CLOSED),
            supported_accommodation: names.iter().any(|n| n == SUPPORTED_ACCOMMODATION),
        };
        let any = columns.places.is_some()
            || columns.provider_codes.is_some()
            || columns.postcodes.is_some()
            || columns.closed.is_some();
        any.then_some(columns)
    }
}

/// A header cell as compared: trimmed, lower-cased, a byte order mark and runs of whitespace as one space.
fn column_name(text: &str) -> String {
    let text = text.trim_start_matches('\u{feff}');
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl OfstedProviders {
    /// A builder that reads lists one by one (Ofsted's children's homes and social care providers lists are
    /// two files) into one index.
    pub fn builder() -> OfstedProvidersBuilder {
        OfstedProvidersBuilder::default()
    }

    /// Reads one list, XLSX or CSV.
    pub fn read(bytes: &[u8]) -> Result<OfstedProviders, OfstedError> {
        let mut builder = OfstedProviders::builder();
        builder.add(bytes)?;
        builder.build()
    }

    /// How many providers the lists name.
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether they name none (never, once built).
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The provider of `urn` (compared trimmed, in upper case), when listed.
    pub fn provider(&self, urn: &str) -> Option<&Provider> {
        let urn = urn.trim();
        // URNs are ASCII in practice; one that is not is compared as given, upper-cased.
        let key = urn.to_uppercase();
        self.providers.binary_search_by(|p| (*p.urn).cmp(key.as_str())).ok().and_then(|i| self.providers.get(i))
    }
}

impl OfstedProvidersBuilder {
    /// Reads one list: an XLSX (or XLS, ODS) workbook, told by its first bytes, else CSV. Returns how many
    /// provider rows it read.
    pub fn add(&mut self, bytes: &[u8]) -> Result<usize, OfstedError> {
        let is_workbook =
            bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        if is_workbook {
            self.add_workbook(bytes)
        } else {
            self.add_csv(bytes)
        }
    }

    /// The index of every list added.
    pub fn build(self) -> Result<OfstedProviders, OfstedError> {
        let mut providers: Vec<Provider> = self
            .rows
            .into_iter()
            .map(|(urn, m)| Provider {
                urn,
                places: m.places,
                provider_codes: m.provider_codes,
                postcodes: m.postcodes,
                closed: if m.open { None } else { m.closed },
            })
            .collect();
        if providers.is_empty() {
            return Err(OfstedError::Empty);
        }
        providers.sort_unstable_by(|a, b| a.urn.cmp(&b.urn));
        Ok(OfstedProviders { providers })
    }

    fn add_workbook(&mut self, bytes: &[u8]) -> Result<usize, OfstedError> {
        let mut workbook =
            calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| OfstedError::Read(e.to_string()))?;
        let mut read = 0;
        let mut any = false;
        for name in workbook.sheet_names() {
            let range =
                workbook.worksheet_range(&name).map_err(|e| OfstedError::Read(format!("sheet `{name}`: {e}")))?;
            // Rows are counted from the sheet's first row, as a spreadsheet shows them.
            let first_row = range.start().map_or(0, |(row, _)| row as usize);
            let rows: Vec<Vec<Cell<'_>>> = range.rows().map(|r| r.iter().map(Cell::Workbook).collect()).collect();
            if let Some(n) = self.add_sheet(&name, first_row, &rows)? {
                read += n;
                any = true;
            }
        }
        if !any {
            return Err(OfstedError::NoProviders);
        }
        Ok(read)
    }

    fn add_csv(&mut self, bytes: &[u8]) -> Result<usize, OfstedError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
        let mut rows: Vec<Vec<String>> = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| OfstedError::Read(e.to_string()))?;
            rows.push(record.iter().map(str::to_string).collect());
        }
        let rows: Vec<Vec<Cell<'_>>> = rows.iter().map(|r| r.iter().map(|s| Cell::Text(s)).collect()).collect();
        self.add_sheet("CSV", 0, &rows)?.ok_or(OfstedError::NoProviders)
    }

    /// Reads one sheet's provider rows; `None` when it is not a sheet of providers (see the module's doc).
    fn add_sheet(
        &mut self,
        sheet: &str,
        first_row: usize,
        rows: &[Vec<Cell<'_>>],
    ) -> Result<Option<usize>, OfstedError> {
        let Some((header_at, columns)) = rows.iter().take(HEADER_ROWS).enumerate().find_map(|(i, row)| {
            let header: Vec<String> = row.iter().map(Cell::text).collect();
            Columns::of(&header).map(|c| (i, c))
        }) else {
            return Ok(None);
        };
        let mut read = 0;
        for (i, row) in rows.iter().enumerate().skip(header_at + 1) {
            let row_error =
                |message: String| OfstedError::Row { sheet: sheet.to_string(), row: first_row + i + 1, message };
            let cell = |at: Option<usize>| at.and_then(|at| row.get(at));
            let urn = cell(Some(columns.urn)).map(Cell::text).unwrap_or_default();
            let urn = urn.trim();
            if urn.is_empty() {
                continue;
            }
            let closed = match cell(columns.closed) {
                None => None,
                Some(c) => {
                    c.date().map_err(|text| row_error(format!("the deregistration date `{text}` is not a date")))?
                }
            };
            let merged = self.rows.entry(urn.to_uppercase().into_boxed_str()).or_default();
            let places = cell(columns.places).map(Cell::text).unwrap_or_default();
            add_codes(&mut merged.places, &places);
            if columns.places.is_none() && columns.supported_accommodation {
                add_codes(&mut merged.places, "K3");
            }
            add_codes(&mut merged.provider_codes, &cell(columns.provider_codes).map(Cell::text).unwrap_or_default());
            let postcode: String = cell(columns.postcodes)
                .map(Cell::text)
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase();
            if !postcode.is_empty() && postcode != "-" && !merged.postcodes.iter().any(|p| **p == *postcode) {
                merged.postcodes.push(postcode.into_boxed_str());
            }
            match closed {
                None => merged.open = true,
                Some(date) => merged.closed = Some(merged.closed.map_or(date, |d| d.max(date))),
            }
            read += 1;
        }
        Ok(Some(read))
    }
}

/// Adds each code of a cell (`U1,U2`, `PR1/PR2`, `RD1, RD2`) to `codes`, upper-cased, each once; `-` is none.
fn add_codes(codes: &mut Vec<Box<str>>, cell: &str) {
    for code in cell.split([',', '/']).map(str::trim).filter(|c| !c.is_empty() && *c != "-") {
        let code = code.to_uppercase();
        if !codes.iter().any(|c| **c == *code) {
            codes.push(code.into_boxed_str());
        }
    }
}

/// A cell of a workbook or of a CSV file.
enum Cell<'a> {
    Workbook(&'a Data),
    Text(&'a str),
}

impl Cell<'_> {
    /// The cell as text: a whole number without its `.0` (a URN typed as a number), an error or a date as
    /// blank (no column read as text holds one).
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.trim().to_string(),
            Cell::Workbook(Data::String(s)) => s.trim().to_string(),
            Cell::Workbook(Data::Int(i)) => i.to_string(),
            Cell::Workbook(Data::Float(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Cell::Workbook(Data::Float(f)) => f.to_string(),
            Cell::Workbook(Data::Bool(b)) => b.to_string(),
            Cell::Workbook(_) => String::new(),
        }
    }

    /// The cell as a date: `Ok(None)` when it gives none (blank, `-`, `na`, `n/a`), `Err` with its text when
    /// it is neither.
    fn date(&self) -> Result<Option<NaiveDate>, String> {
        if let Cell::Workbook(data @ (Data::DateTime(_) | Data::DateTimeIso(_))) = self {
            return data.as_date().map(Some).ok_or_else(|| data.to_string());
        }
        let text = self.text();
        let text = text.trim();
        if text.is_empty() || ["-", "na", "n/a"].iter().any(|none| text.eq_ignore_ascii_case(none)) {
            return Ok(None);
        }
        // A date written with a time after it (`2023-01-01 00:00:00`) is the day.
        let day = text.split_whitespace().next().unwrap_or(text);
        NaiveDate::parse_from_str(day, "%d/%m/%Y")
            .or_else(|_| NaiveDate::parse_from_str(day, "%Y-%m-%d"))
            .map(Some)
            .map_err(|_| text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
Local authority,URN,Provider type,Registration date,Deregistration date,Placement code,Setting address postcode,Placement provider code
Richmond upon Thames,SC000001,Children's home,01/01/2020,-,K2,tw9 1aa,PR3
Richmond upon Thames,sc000002 ,Fostering agency,01/01/2020,30/06/2025,\"U1,U2,U3\",TW9 2BB,PR3/PR4
Kent,SA000001,Supported accommodation,01/01/2020,,K3,CT1 9ZZ,PR4
Westminster,SA000001,Supported accommodation,01/01/2020,,K3,SW1A 9ZZ,PR4
,,,,,,,
Kent,SC000003,Children's home,01/01/2020,2025-09-01,K2,CT1 9ZZ,PR4
Kent,SC000003,Children's home,01/01/2020,01/07/2025,K1,CT1 9ZZ,PR4
";

    fn small() -> OfstedProviders {
        OfstedProviders::read(CSV.as_bytes()).expect("the small list loads")
    }

    fn boxed(items: &[&str]) -> Vec<Box<str>> {
        items.iter().map(|s| Box::from(*s)).collect()
    }

    #[test]
    fn looks_providers_up_by_urn_in_any_case() {
        let list = small();
        assert_eq!(list.len(), 4);
        let home = list.provider("sc000001").expect("listed");
        assert_eq!(home.places, boxed(&["K2"]));
        assert_eq!(home.provider_codes, boxed(&["PR3"]));
        assert_eq!(home.postcodes, boxed(&["TW91AA"]));
        assert_eq!(home.closed, None);
        let agency = list.provider(" SC000002").expect("listed, its URN trimmed");
        assert_eq!(agency.places, boxed(&["U1", "U2", "U3"]));
        assert_eq!(agency.provider_codes, boxed(&["PR3", "PR4"]));
        assert_eq!(agency.closed, NaiveDate::from_ymd_opt(2025, 6, 30));
        assert_eq!(list.provider("SC999999"), None);
        assert_eq!(list.provider(""), None);
    }

    #[test]
    fn rows_of_one_urn_are_merged() {
        let list = small();
        // Two settings: both postcodes, the codes once.
        let settings = list.provider("SA000001").expect("listed");
        assert_eq!(settings.postcodes, boxed(&["CT19ZZ", "SW1A9ZZ"]));
        assert_eq!(settings.places, boxed(&["K3"]));
        assert_eq!(settings.closed, None);
        // Closed in both rows: the later date; the codes of both.
        let closed = list.provider("SC000003").expect("listed");
        assert_eq!(closed.closed, NaiveDate::from_ymd_opt(2025, 9, 1));
        assert_eq!(closed.places, boxed(&["K2", "K1"]));
        // Open in one of several lists: open.
        let mut builder = OfstedProviders::builder();
        assert_eq!(builder.add(CSV.as_bytes()).expect("reads"), 6);
        builder.add(b"URN,Placement code\nSC000003,K2\n").expect("reads");
        assert_eq!(builder.build().expect("builds").provider("SC000003").and_then(|p| p.closed), None);
    }

    #[test]
    fn the_columns_are_found_by_any_of_their_names_below_a_title() {
        let text = "Children's homes at 31 March 2025,,,,\n\
                    ,,,,\n\
                    \u{feff}Local Authority,URN ,Provider  Code,Provider Placement Code,Closed Date,Setting Postcode\n\
                    Kent,123456,K2,PR1/PR2,01/04/2025,CT1 9ZZ\n";
        let list = OfstedProviders::read(text.as_bytes()).expect("loads");
        let home = list.provider("123456").expect("listed");
        assert_eq!(home.places, boxed(&["K2"]));
        assert_eq!(home.provider_codes, boxed(&["PR1", "PR2"]));
        assert_eq!(home.postcodes, boxed(&["CT19ZZ"]));
        assert_eq!(home.closed, NaiveDate::from_ymd_opt(2025, 4, 1));
        // A supported accommodation sheet without placement codes takes K3.
        let text =
            "Provider local authority,Setting local authority,URN,Setting address postcode\nKent,Kent,SA1,CT1 9ZZ\n";
        let list = OfstedProviders::read(text.as_bytes()).expect("loads");
        assert_eq!(list.provider("SA1").map(|p| p.places.clone()), Some(boxed(&["K3"])));
    }

    fn error_of(text: &str) -> String {
        match OfstedProviders::read(text.as_bytes()) {
            Ok(_) => panic!("`{text}` loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn lists_that_cannot_be_read_are_refused_with_the_row() {
        assert!(
            error_of("Name,Postcode\nA,TW9 1AA\n").starts_with("the Ofsted provider list has no sheet with a `URN`")
        );
        assert!(error_of("URN,Setting name\n1,A\n").starts_with("the Ofsted provider list has no sheet"));
        assert_eq!(
            error_of("URN,Deregistration date\nSC1,-\nSC2,closed in May\n"),
            "sheet `CSV`, row 3 of the Ofsted provider list: the deregistration date `closed in May` is not a date"
        );
        assert_eq!(error_of("URN,Placement code\n,K2\n"), "the Ofsted provider lists name no provider");
        // A file that starts as a workbook but is not one.
        match OfstedProviders::read(b"PK\x03\x04 not a zip") {
            Ok(_) => panic!("a broken workbook loaded"),
            Err(e) => assert!(e.to_string().starts_with("the Ofsted provider list could not be read"), "{e}"),
        }
    }

    /// The project's made-up list as an XLSX workbook of two sheets, as Ofsted publishes the social care
    /// providers list (current providers, then those closed), and the same list as CSV: the same index.
    #[test]
    fn a_workbook_reads_as_its_csv_does() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conformance-suite/ssda903/");
        let xlsx = std::fs::read(format!("{dir}ofsted-providers-sample.xlsx")).expect("the sample workbook");
        let csv = std::fs::read(format!("{dir}ofsted-providers-sample.csv")).expect("the sample list");
        let from_xlsx = OfstedProviders::read(&xlsx).expect("the workbook loads");
        let from_csv = OfstedProviders::read(&csv).expect("the CSV loads");
        assert!(from_csv.len() >= 5, "{}", from_csv.len());
        assert_eq!(from_xlsx.providers, from_csv.providers);
    }
}
