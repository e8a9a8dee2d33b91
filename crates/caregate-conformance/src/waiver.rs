//! Waivers: a standards body's written permission for one supplier to fail one requirement until a date.
//! A waived failure shows as waived; once the waiver has expired, the failure shows as a failure again (with
//! the waiver named, so that the supplier sees why).
//!
//! ```toml
//! [[waiver]]
//! requirement = "REF-007"
//! supplier = "Acme Casework"
//! reason = "Overseas postcodes: fix scheduled for release 5.3"
//! expires = "2027-03-31"
//! ```
//!
//! Not for: deciding pass or fail (`evidence`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ConformanceError;

/// One waiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub requirement: String,
    pub supplier: String,
    pub reason: String,
    /// The last day the waiver holds (`YYYY-MM-DD`).
    pub expires: String,
}

impl Waiver {
    pub fn expiry(&self) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(&self.expires, "%Y-%m-%d").ok()
    }
    /// Holds on `today` (an unreadable expiry never holds).
    pub fn holds_on(&self, today: chrono::NaiveDate) -> bool {
        self.expiry().is_some_and(|d| d >= today)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    #[serde(default)]
    waiver: Vec<Waiver>,
}

/// Reads a waivers file; every waiver must have a readable expiry date.
pub fn load(path: &Path) -> Result<Vec<Waiver>, ConformanceError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConformanceError::io(path, e))?;
    parse(&text).map_err(|m| ConformanceError::file(path, m))
}

pub fn parse(text: &str) -> Result<Vec<Waiver>, String> {
    let file: WaiverFile = toml::from_str(text).map_err(|e| e.to_string())?;
    for w in &file.waiver {
        if w.expiry().is_none() {
            return Err(format!(
                "the waiver of {} for {} expires `{}`, which is not a date (YYYY-MM-DD)",
                w.requirement, w.supplier, w.expires
            ));
        }
    }
    Ok(file.waiver)
}

/// The waiver of `requirement` for `supplier`, if any (the latest-expiring one when there are several).
pub fn applicable<'w>(waivers: &'w [Waiver], requirement: &str, supplier: &str) -> Option<&'w Waiver> {
    waivers
        .iter()
        .filter(|w| w.requirement == requirement && w.supplier.eq_ignore_ascii_case(supplier))
        .max_by_key(|w| w.expiry())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_inclusive_and_a_bad_date_is_refused() {
        let waivers =
            parse("[[waiver]]\nrequirement = \"R\"\nsupplier = \"Acme\"\nreason = \"r\"\nexpires = \"2027-01-31\"\n")
                .unwrap();
        let w = applicable(&waivers, "R", "acme").unwrap();
        assert!(w.holds_on(chrono::NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()));
        assert!(!w.holds_on(chrono::NaiveDate::from_ymd_opt(2027, 2, 1).unwrap()));
        assert!(applicable(&waivers, "R", "Other").is_none());
        assert!(
            parse("[[waiver]]\nrequirement = \"R\"\nsupplier = \"A\"\nreason = \"r\"\nexpires = \"soon\"\n").is_err()
        );
    }
}
