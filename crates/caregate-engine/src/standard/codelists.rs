//! `codelists.toml`: coded values with their labels, used by the structure check and named in findings.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeList {
    pub title: String,
    pub codes: Vec<Code>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Code {
    pub code: String,
    pub label: String,
    /// Further facts about a code (e.g. whether a statute permits sharing without consent).
    #[serde(flatten)]
    pub extra: toml::Table,
}

impl CodeList {
    pub fn contains(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c.code == code)
    }

    pub fn label(&self, code: &str) -> Option<&str> {
        self.codes.iter().find(|c| c.code == code).map(|c| c.label.as_str())
    }

    /// "WBRI (White British), WIRI (White Irish), …" — at most `max` codes, then how many more.
    pub fn describe(&self, max: usize) -> String {
        let shown: Vec<String> = self.codes.iter().take(max).map(|c| format!("{} ({})", c.code, c.label)).collect();
        let mut text = shown.join(", ");
        if self.codes.len() > max {
            text.push_str(&format!(", … ({} codes in all)", self.codes.len()));
        }
        text
    }
}

pub type CodeLists = BTreeMap<String, CodeList>;
