//! Last year's return of a standard sent as tables (`--previous FILES`), read with this year's pack's tables
//! and indexed by its key, for the rules that compare a record with its record of last year (`previous`).
//!
//! For: keeping last year's return as compactly as this year's is kept while it is checked — the files' text and
//! each record's row spans (CSV), or the XML file's bytes and each record element's span — and building one
//! record's instance, exactly as this year's `record` is built, only when a rule reads it.
//!
//! Not for: checking last year's return (its findings were last year's to put right: a file that cannot be
//! read as tables of the pack is refused, a column it lacks reads as absent, a cell that is not a date as not
//! provided).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::{csv_rows, date_columns, join, record_value, xml, Read, RecordRows, Rows, TableFile};
use crate::document::records::{PieceKind, Splitter};
use crate::document::{parse_xml, Limits, LineIndex};
use crate::reference::PreviousReturn;
use crate::standard::manifest::Tables;
use crate::standard::StandardPack;
use crate::validate::Validator;

/// Why last year's return could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PreviousError {
    #[error("{0} is not sent as tables, so it has no last year's return to compare with")]
    NotTables(String),
    #[error("last year's {path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("last year's {path} is not a table of {standard}: {message}")]
    NotATable { path: String, standard: String, message: String },
    #[error("last year's {path} is a second {table} table (the first is {first})")]
    TableTwice { path: String, table: String, first: String },
    #[error("last year's return is either CSV tables or one XML file, not both nor two XML files")]
    Mixed,
}

/// Last year's CSV tables: the files' text and, for each key, its rows in them.
struct PreviousTables {
    tables: Tables,
    /// The files read, without their line index and findings (no finding about last year is made).
    read: Vec<Read>,
    dates: Vec<Vec<bool>>,
    index: HashMap<String, Rows>,
}

impl std::fmt::Debug for PreviousTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviousTables").field("records", &self.index.len()).finish_non_exhaustive()
    }
}

impl PreviousReturn for PreviousTables {
    fn record(&self, key: &str) -> Option<Value> {
        let rows = self.index.get(key)?;
        let rows = csv_rows(&self.tables, &self.read, rows);
        Some(record_value(&self.tables, key, &rows, &self.dates, &mut Vec::new()))
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}

/// Last year's return as one XML file: its bytes and, for each key, the spans of its record elements.
struct PreviousXml {
    tables: Tables,
    limits: Limits,
    bytes: Vec<u8>,
    dates: Vec<Vec<bool>>,
    index: HashMap<String, Vec<(usize, usize)>>,
}

impl std::fmt::Debug for PreviousXml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviousXml").field("records", &self.index.len()).finish_non_exhaustive()
    }
}

impl PreviousReturn for PreviousXml {
    fn record(&self, key: &str) -> Option<Value> {
        let form = self.tables.xml.as_ref()?;
        // A key given in two record elements is one record: its rows of both, in file order.
        let mut rows: RecordRows<'static> = self.tables.table.iter().map(|_| Vec::new()).collect();
        for &(start, end) in self.index.get(key)? {
            // The record parsed when the index was made, so it parses again.
            let element = parse_xml(self.bytes.get(start..end)?, &self.limits).ok()?.root;
            let (_, found) = xml::record_rows(&self.tables, form, &element, 0);
            for (all, more) in rows.iter_mut().zip(found) {
                all.extend(more);
            }
        }
        Some(record_value(&self.tables, key, &rows, &self.dates, &mut Vec::new()))
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}

impl Validator<'_> {
    /// Reads last year's return of `pack`: CSV files, each a table known by its header row, or one XML file
    /// of the pack's `[tables.xml]` form (kept as it is: taken, not copied).
    pub fn read_previous(
        &self,
        pack: &StandardPack,
        mut files: Vec<TableFile>,
    ) -> Result<Arc<dyn PreviousReturn>, PreviousError> {
        let tables = pack.manifest.tables.as_ref().ok_or_else(|| PreviousError::NotTables(pack.reference()))?;
        let is_xml = |f: &TableFile| f.bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
        match files.len() {
            1 if is_xml(&files[0]) => self.read_previous_xml(pack, tables, files.remove(0)),
            _ if files.iter().any(is_xml) => Err(PreviousError::Mixed),
            _ => self.read_previous_tables(pack, tables, &files),
        }
    }

    fn read_previous_tables(
        &self,
        pack: &StandardPack,
        tables: &Tables,
        files: &[TableFile],
    ) -> Result<Arc<dyn PreviousReturn>, PreviousError> {
        let mut read = Vec::with_capacity(files.len());
        for file in files {
            let mut one = self.read_table(pack, tables, file);
            let Some(of) = one.of else {
                let message = one.findings.first().map_or_else(String::new, |f| f.message.clone());
                return Err(match one.table {
                    None => PreviousError::Unreadable { path: file.path.clone(), message },
                    Some(_) => {
                        PreviousError::NotATable { path: file.path.clone(), standard: pack.reference(), message }
                    }
                });
            };
            if let Some(first) = read.iter().position(|r: &Read| r.of == Some(of)) {
                return Err(PreviousError::TableTwice {
                    path: file.path.clone(),
                    table: tables.table[of].name.clone(),
                    first: files[first].path.clone(),
                });
            }
            // The line index holds a copy of the file, for excerpts; no finding is made about last year.
            one.lines = LineIndex::new(b"");
            one.findings = Vec::new();
            read.push(one);
        }
        // Rows without a key cannot be any child's: they are left out.
        let (records, _) = join(tables, &read);
        let index = records.into_iter().collect();
        Ok(Arc::new(PreviousTables { tables: tables.clone(), read, dates: date_columns(pack, tables), index }))
    }

    fn read_previous_xml(
        &self,
        pack: &StandardPack,
        tables: &Tables,
        file: TableFile,
    ) -> Result<Arc<dyn PreviousReturn>, PreviousError> {
        let unreadable = |message: String| PreviousError::Unreadable { path: file.path.clone(), message };
        let Some(form) = tables.xml.as_ref() else {
            return Err(unreadable(format!("{} has no XML form of its tables", pack.reference())));
        };
        let head = &file.bytes[..file.bytes.len().min(64 * 1024)];
        if crate::document::tokens::peek_root(head).is_none_or(|(local, _)| local != form.root) {
            return Err(unreadable(format!("it is not a <{}> file", form.root)));
        }
        let mut splitter =
            Splitter::new(file.bytes.as_slice(), vec![form.root.clone(), form.record.clone()], self.options.limits);
        let mut index: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        loop {
            let piece = match splitter.next_piece() {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(finding) => return Err(unreadable(finding.message)),
            };
            if !matches!(piece.kind, PieceKind::Record(_)) {
                continue;
            }
            let element = parse_xml(&piece.bytes, &self.options.limits).map_err(|f| unreadable(f.message))?.root;
            let (key, _) = xml::record_rows(tables, form, &element, 0);
            // A record without a key cannot be any child's: it is left out.
            let Some(key) = key else { continue };
            let start = usize::try_from(piece.offset).unwrap_or(usize::MAX);
            index.entry(key).or_default().push((start, start.saturating_add(piece.bytes.len())));
        }
        Ok(Arc::new(PreviousXml {
            tables: tables.clone(),
            limits: self.options.limits,
            bytes: file.bytes,
            dates: date_columns(pack, tables),
            index,
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::TableFile;
    use crate::standard::Catalog;
    use crate::validate::{Options, Validator};

    fn file(path: &str, text: &str) -> TableFile {
        TableFile { path: path.into(), bytes: text.as_bytes().to_vec() }
    }

    /// Every table of last year reaches the record the rules read as `previous`, not only Header and Episodes:
    /// the rules of UASC status (205), missing periods (576), adoption decisions (559–584) and care leavers
    /// (1001–1010) read last year's UASC, Missing, PlacedAdoption and OC3 rows. The CSV tables and DfE's XML
    /// file of the same return give the same record.
    #[test]
    fn every_table_of_last_year_reaches_the_record_in_both_forms() {
        let catalog = Catalog::embedded().unwrap();
        let pack = catalog.find("ssda903@2025-26").unwrap();
        let validator = Validator::new(&catalog, Options::default());
        let csv = vec![
            // With the UASC status, which DfE's CSV Header lacks and its XML form carries.
            file("header.csv", "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,UASC\nC1,M,01/01/2007,WBRI,UN1,,,1\n"),
            file(
                "episodes.csv",
                "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n\
                 C1,01/05/2024,S,C2,N1,U1,PR1,,,,,,\n",
            ),
            file("uasc.csv", "CHILD,SEX,DOB,DUC\nC1,M,01/01/2007,01/01/2025\n"),
            file("missing.csv", "CHILD,DOB,MISSING,MIS_START,MIS_END\nC1,01/01/2007,M,20/03/2025,\n"),
            file(
                "placed_for_adoption.csv",
                "CHILD,DOB,DATE_PLACED,DATE_PLACED_CEASED,REASON_PLACED_CEASED\nC1,01/01/2007,01/02/2025,,\n",
            ),
            file("oc3.csv", "CHILD,DOB,IN_TOUCH,ACTIV,ACCOM\nC1,01/01/2007,YES,F2,H1\n"),
        ];
        let xml = "<EXPSSDA903><CHILD><HEADER><CHILDID>C1</CHILDID><SEX>M</SEX><DOB>01/01/2007</DOB>\
            <ETHNIC>WBRI</ETHNIC><UPN>UN1</UPN><UASC>1</UASC><DUC>01/01/2025</DUC><IN_TOUCH>YES</IN_TOUCH>\
            <ACTIV>F2</ACTIV><ACCOM>H1</ACCOM><AMISSING><MISSING>M</MISSING><MIS_START>20/03/2025</MIS_START>\
            </AMISSING><AD_PLACED><DATE_PLACED>01/02/2025</DATE_PLACED></AD_PLACED></HEADER><EPISODE>\
            <DECOM>01/05/2024</DECOM><RNE>S</RNE><LS>C2</LS><CIN>N1</CIN><PL>U1</PL>\
            <PLACE_PROVIDER>PR1</PLACE_PROVIDER></EPISODE></CHILD></EXPSSDA903>";
        let from_csv = validator.read_previous(&pack, csv).unwrap();
        let from_xml = validator.read_previous(&pack, vec![file("last.xml", xml)]).unwrap();
        for last in [&from_csv, &from_xml] {
            let record = last.record("C1").unwrap();
            assert_eq!(record["UASC"], json!([{"CHILD": "C1", "SEX": "M", "DOB": "2007-01-01", "DUC": "2025-01-01"}]));
            assert_eq!(
                record["Missing"],
                json!([{"CHILD": "C1", "DOB": "2007-01-01", "MISSING": "M", "MIS_START": "2025-03-20"}])
            );
            assert_eq!(
                record["PlacedAdoption"],
                json!([{"CHILD": "C1", "DOB": "2007-01-01", "DATE_PLACED": "2025-02-01"}])
            );
            assert_eq!(
                record["OC3"],
                json!([{"CHILD": "C1", "DOB": "2007-01-01", "IN_TOUCH": "YES", "ACTIV": "F2", "ACCOM": "H1"}])
            );
            assert_eq!(record["Episodes"][0]["PLACE"], "U1");
            assert!(last.record("C2").is_none());
        }
        assert_eq!(from_csv.record("C1"), from_xml.record("C1"));
    }
}
