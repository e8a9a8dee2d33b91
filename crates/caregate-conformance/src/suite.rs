//! Suites: `conformance-suite/<id>/<version>/suite.toml` read into a [`Suite`] — the standard's requirements
//! (those the manifest states, and one per business rule of the pack, so that no rule goes unlisted) and its
//! cases. Suites are embedded in the binary, as packs are, so that `caregate suite run` works from any folder;
//! `--suites DIR` reads them from disk instead. A case's document is a file of the suite folder, or
//! `pack:<path>`, a file of the standard pack itself (its examples), so that examples are not copied, or a
//! folder of the suite (`cases/INT01/fail/`) holding a table return's CSV files, for what a return's XML form
//! cannot say. The run-time inputs a validation may need (`--param`, `--reference`, `--previous`) are
//! [`Inputs`], given for the whole suite and replaced per case.
//!
//! Not for: running cases (`run`, `receiver`) or the manifest format's documentation
//! (`conformance-suite/README.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};

use super::ConformanceError;
use caregate_engine::standard::{Catalog, StandardPack};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../conformance-suite");

/// What kind of requirement: how a document is shaped, a business rule, the security policy, or the
/// exchange between systems.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Level {
    Structure,
    Rules,
    Security,
    Transport,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One requirement of a standard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub text: String,
    pub level: Level,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// Checked by a certification command rather than by cases (e.g. `certify gateway`).
    #[serde(default, rename = "verified-by", skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
}

/// Whether a document conforms: no finding of severity error. `Any` leaves it unjudged (a case about one
/// rule only, whose document may break others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumIter)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    Any,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One test case: a document and what the standard says of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A file of the suite folder, or `pack:<path>` in the standard pack.
    pub document: String,
    pub verdict: Verdict,
    /// Rule ids that must be found.
    #[serde(default)]
    pub rules: Vec<String>,
    /// No rule but those of `rules` may be found.
    #[serde(default)]
    pub exact: bool,
    /// Rule ids that must not be found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    /// Requirement ids the case covers; `rules` when not given.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Sent in receiver certification (false only with a `note` saying why).
    #[serde(default = "yes")]
    pub receiver: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Run-time inputs of this case, each given one replacing the suite's (`params` by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
}

/// The run-time inputs of a validation, as `caregate validate` takes them: `params` (`--param NAME=VALUE`),
/// `references` (`--reference NAME=FILE`, a file of the suite folder) and `previous` (`--previous`, last
/// year's return: files of the suite folder). Rules that need an input not given are reported as not run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub references: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Vec<String>>,
}

impl Inputs {
    /// These inputs with `over`'s given ones in their place: a param by name, a reference by name, and last
    /// year's return as a whole (`previous = []` gives none).
    pub fn overridden(&self, over: Option<&Inputs>) -> Inputs {
        let Some(over) = over else { return self.clone() };
        let mut merged = self.clone();
        merged.params.extend(over.params.clone());
        merged.references.extend(over.references.clone());
        if over.previous.is_some() {
            merged.previous.clone_from(&over.previous);
        }
        merged
    }

    /// The suite files these inputs name.
    pub fn files(&self) -> impl Iterator<Item = &String> {
        self.references.values().chain(self.previous.iter().flatten())
    }
}

/// A case's document: one file (XML or JSON), or the CSV files of a table return.
#[derive(Debug, Clone)]
pub enum Document<'s> {
    File(&'s [u8]),
    /// Each file's path in the suite folder, and its bytes.
    Tables(Vec<(&'s str, &'s [u8])>),
}

impl Document<'_> {
    /// SHA-256 of the file; of a table return, over its files as a suite's digest is.
    pub fn sha256(&self) -> String {
        match self {
            Document::File(bytes) => caregate_engine::digest::sha256(bytes),
            Document::Tables(files) => {
                let files: BTreeMap<String, Vec<u8>> =
                    files.iter().map(|(path, bytes)| (path.to_string(), bytes.to_vec())).collect();
                digest(&files)
            }
        }
    }

    /// The bytes an excerpt is shown from: the file, or the first table's.
    pub fn first_bytes(&self) -> &[u8] {
        match self {
            Document::File(bytes) => bytes,
            Document::Tables(files) => files.first().map_or(&[], |(_, bytes)| bytes),
        }
    }
}

fn yes() -> bool {
    true
}

impl Case {
    /// The requirements this case covers.
    pub fn covers(&self) -> &[String] {
        if self.requirements.is_empty() {
            &self.rules
        } else {
            &self.requirements
        }
    }
    /// `xml`, `json` or `csv` (a folder of tables), from the document's name.
    pub fn format(&self) -> &'static str {
        if self.document.ends_with('/') {
            "csv"
        } else if self.document.ends_with(".json") {
            "json"
        } else {
            "xml"
        }
    }
}

/// How receiver certification carries a document of this standard.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CarrySpec {
    /// `as-is` (the documents are envelopes), `wrapped` (put in an envelope with `envelope` as its header) or
    /// `payload` (the document is one record of an API's payload, sent as a JSON array of it, as DfE's CSC API
    /// takes it), or `not-carried` (the standard does not travel through the gateway; `reason` says why).
    #[serde(rename = "as")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The envelope's fields but `messageId`, `created`, `standard` and `body`, as the envelope's JSON form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<toml::Table>,
}

/// `suite.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `id@version` of the standard.
    pub standard: String,
    pub title: String,
    /// The validation time of self-conformance runs (RFC 3339), so that date rules give the same answer
    /// every day.
    pub now: String,
    pub carry: CarrySpec,
    /// Run-time inputs of every case (`[inputs]`), unless a case replaces them.
    #[serde(default)]
    pub inputs: Inputs,
    #[serde(default, rename = "requirement")]
    pub requirements: Vec<Requirement>,
    #[serde(default, rename = "case")]
    pub cases: Vec<Case>,
}

/// A suite, read and checked against its standard.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Where it came from: `embedded:referral/1.0` or a folder.
    pub origin: String,
    pub manifest: Manifest,
    pub pack: Arc<StandardPack>,
    /// The manifest's requirements, then one per rule of the pack the manifest does not state.
    pub requirements: Vec<Requirement>,
    pub files: BTreeMap<String, Vec<u8>>,
    /// SHA-256 over the suite folder's files in path order, each as `path NUL bytes NUL` (as packs).
    pub digest: String,
    pub now: chrono::DateTime<chrono::FixedOffset>,
}

impl Suite {
    pub fn reference(&self) -> String {
        self.pack.reference()
    }

    /// Reads a suite from its files (paths relative to the suite folder).
    pub fn load(origin: &str, files: BTreeMap<String, Vec<u8>>, catalog: &Catalog) -> Result<Suite, ConformanceError> {
        let fail = |message: String| ConformanceError::Suite { suite: origin.to_string(), message };
        let text = files.get("suite.toml").ok_or_else(|| fail("suite.toml is missing".into()))?;
        let text = std::str::from_utf8(text).map_err(|_| fail("suite.toml is not UTF-8".into()))?;
        let manifest: Manifest = toml::from_str(text).map_err(|e| fail(format!("suite.toml: {e}")))?;
        let pack = catalog
            .find(&manifest.standard)
            .ok_or_else(|| fail(format!("the standard `{}` is not in the catalogue", manifest.standard)))?;
        let now = chrono::DateTime::parse_from_rfc3339(&manifest.now)
            .map_err(|e| fail(format!("suite.toml: now `{}` is not RFC 3339: {e}", manifest.now)))?;
        let mut requirements = manifest.requirements.clone();
        let stated: BTreeSet<String> = requirements.iter().map(|r| r.id.clone()).collect();
        for info in pack.rule_infos() {
            if !stated.contains(&info.id) {
                requirements.push(Requirement {
                    id: info.id.clone(),
                    text: format!(
                        "{} ({})",
                        info.description.replace("{value}", "…").replace("{key}", "…"),
                        info.severity
                    ),
                    level: Level::Rules,
                    clause: info.clause.clone(),
                    verified_by: None,
                });
            }
        }
        let mut problems = Vec::new();
        let ids: BTreeSet<&str> = requirements.iter().map(|r| r.id.as_str()).collect();
        if ids.len() != requirements.len() {
            problems.push("a requirement id is stated twice".to_string());
        }
        let mut case_ids = BTreeSet::new();
        for case in &manifest.cases {
            if !case_ids.insert(case.id.as_str()) {
                problems.push(format!("case `{}` is stated twice", case.id));
            }
            for id in case.covers() {
                if !ids.contains(id.as_str()) {
                    problems.push(format!("case `{}` covers `{id}`, which is not a requirement", case.id));
                }
            }
            if case.verdict == Verdict::Invalid && case.rules.is_empty() {
                problems.push(format!("case `{}` is invalid but names no rule it breaks", case.id));
            }
            let inputs = manifest.inputs.overridden(case.inputs.as_ref());
            for file in inputs.files() {
                if !files.contains_key(file) {
                    problems.push(format!("case `{}`: the suite has no input file `{file}`", case.id));
                }
            }
            if let Some(name) =
                inputs.references.keys().find(|n| !caregate_engine::reference::NAMES.contains(&n.as_str()))
            {
                problems.push(format!(
                    "case `{}`: `{name}` is not reference data caregate knows ({})",
                    case.id,
                    caregate_engine::reference::NAMES.join(", ")
                ));
            }
            if !case.receiver && case.note.is_none() {
                problems.push(format!(
                    "case `{}` is left out of receiver certification without a note saying why",
                    case.id
                ));
            }
        }
        let suite =
            Suite { origin: origin.to_string(), digest: digest(&files), manifest, pack, requirements, files, now };
        for case in &suite.manifest.cases {
            if let Err(e) = suite.document(case) {
                problems.push(e);
            }
        }
        if !matches!(suite.manifest.carry.mode.as_str(), "as-is" | "wrapped" | "payload" | "not-carried") {
            problems.push(format!(
                "[carry] as = `{}`: expected as-is, wrapped, payload or not-carried",
                suite.manifest.carry.mode
            ));
        }
        if suite.manifest.carry.mode == "wrapped" && suite.manifest.carry.envelope.is_none() {
            problems.push("[carry] as = \"wrapped\" needs [carry.envelope]".into());
        }
        if problems.is_empty() {
            Ok(suite)
        } else {
            Err(fail(problems.join("; ")))
        }
    }

    /// A case's document: its name as the evidence shows it, and its bytes (a folder's CSV files in path
    /// order).
    pub fn document(&self, case: &Case) -> Result<(String, Document<'_>), String> {
        if let Some(path) = case.document.strip_prefix("pack:") {
            return match self.pack.files.files.get(path) {
                Some(bytes) => Ok((format!("{} {path}", self.pack.reference()), Document::File(bytes.as_slice()))),
                None => Err(format!("case `{}`: the pack {} has no file `{path}`", case.id, self.pack.reference())),
            };
        }
        if case.document.ends_with('/') {
            let tables: Vec<(&str, &[u8])> = self
                .files
                .iter()
                .filter(|(path, _)| path.starts_with(&case.document) && path.ends_with(".csv"))
                .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
                .collect();
            if tables.is_empty() {
                return Err(format!("case `{}`: the suite has no CSV files in `{}`", case.id, case.document));
            }
            return Ok((format!("suite {}", case.document), Document::Tables(tables)));
        }
        match self.files.get(&case.document) {
            Some(bytes) => Ok((format!("suite {}", case.document), Document::File(bytes.as_slice()))),
            None => Err(format!("case `{}`: the suite has no file `{}`", case.id, case.document)),
        }
    }

    /// The run-time inputs of a case: the suite's, with those the case gives in their place.
    pub fn inputs(&self, case: &Case) -> Inputs {
        self.manifest.inputs.overridden(case.inputs.as_ref())
    }

    /// The requirement with this id.
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// Requirements that no case covers and no certification command verifies.
    pub fn uncovered(&self) -> Vec<&Requirement> {
        let covered: BTreeSet<&str> =
            self.manifest.cases.iter().flat_map(|c| c.covers().iter().map(String::as_str)).collect();
        self.requirements
            .iter()
            .filter(|r| !covered.contains(r.id.as_str()))
            .filter(|r| !r.verified_by.as_deref().is_some_and(|by| verified_by(by, &r.id)))
            .collect()
    }
}

/// Whether the certification command `by` checks requirement `id`.
pub fn verified_by(by: &str, id: &str) -> bool {
    use super::{producer, receiver};
    match by {
        "certify receiver" => [receiver::ACCEPTS, receiver::REFUSES, receiver::NAMES_RULES].contains(&id),
        "certify producer" => [producer::CONFORMS, producer::AS_FIXED].contains(&id),
        "certify gateway" => super::gateway::verifies(id),
        _ => false,
    }
}

fn digest(files: &BTreeMap<String, Vec<u8>>) -> String {
    caregate_engine::digest::files(files)
}

/// Every suite: the embedded ones, or those below a folder (each a `<id>/<version>/suite.toml`).
pub fn load_all(catalog: &Catalog, dir: Option<&Path>) -> Result<Vec<Suite>, ConformanceError> {
    let mut folders: Vec<(String, BTreeMap<String, Vec<u8>>)> = Vec::new();
    match dir {
        None => {
            for standard in EMBEDDED.dirs() {
                for version in standard.dirs() {
                    if version.get_file(version.path().join("suite.toml")).is_some() {
                        let mut files = BTreeMap::new();
                        collect_embedded(version, version.path(), &mut files);
                        folders.push((format!("embedded:{}", version.path().display()), files));
                    }
                }
            }
        }
        Some(dir) => {
            for standard in read_dir(dir)? {
                if !standard.is_dir() {
                    continue;
                }
                for version in read_dir(&standard)? {
                    if version.join("suite.toml").is_file() {
                        let mut files = BTreeMap::new();
                        collect_disk(&version, &version, &mut files)?;
                        folders.push((version.display().to_string(), files));
                    }
                }
            }
        }
    }
    folders.sort_by(|a, b| a.0.cmp(&b.0));
    folders.into_iter().map(|(origin, files)| Suite::load(&origin, files, catalog)).collect()
}

/// The suite of one standard (`id` or `id@version`).
pub fn find<'s>(suites: &'s [Suite], reference: &str) -> Result<&'s Suite, ConformanceError> {
    let pack_ref = |s: &&Suite| s.pack.reference() == reference || s.pack.id() == reference;
    suites.iter().find(pack_ref).ok_or_else(|| {
        let known: Vec<String> = suites.iter().map(|s| s.reference()).collect();
        ConformanceError::UnknownSuite(reference.to_string(), known.join(", "))
    })
}

fn read_dir(dir: &Path) -> Result<Vec<std::path::PathBuf>, ConformanceError> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ConformanceError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    Ok(paths)
}

use caregate_engine::standard::collect_embedded;

fn collect_disk(dir: &Path, base: &Path, files: &mut BTreeMap<String, Vec<u8>>) -> Result<(), ConformanceError> {
    for path in read_dir(dir)? {
        if path.is_dir() {
            collect_disk(&path, base, files)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| ConformanceError::io(&path, e))?;
            let relative = path.strip_prefix(base).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            files.insert(relative, bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator as _;

    #[test]
    fn a_cases_inputs_replace_the_suites_one_by_one() {
        let suite: Inputs = toml::from_str(
            "params = { la_code = \"E1\", other = \"x\" }\nreferences = { postcodes = \"a.csv\" }\nprevious = [\"p.xml\"]",
        )
        .unwrap();
        assert_eq!(suite.overridden(None), suite);
        let case: Inputs = toml::from_str("params = { la_code = \"E2\" }").unwrap();
        let merged = suite.overridden(Some(&case));
        assert_eq!(merged.params["la_code"], "E2");
        assert_eq!(merged.params["other"], "x");
        assert_eq!(merged.references, suite.references);
        assert_eq!(merged.previous, suite.previous);
        // `previous` is replaced as a whole; an empty list gives none.
        let none: Inputs = toml::from_str("previous = []").unwrap();
        assert_eq!(suite.overridden(Some(&none)).previous, Some(Vec::new()));
        assert_eq!(merged.files().cloned().collect::<Vec<_>>(), ["a.csv", "p.xml"]);
        assert!(toml::from_str::<Inputs>("param = {}").is_err(), "an unknown key is refused");
    }

    #[test]
    fn a_folder_case_is_its_csv_files_in_path_order() {
        let catalog = Catalog::embedded().unwrap();
        let manifest = "standard = \"ssda903@2025-26\"\ntitle = \"t\"\nnow = \"2026-05-15T10:00:00Z\"\n\
            [carry]\nas = \"not-carried\"\nreason = \"r\"\n\
            [[case]]\nid = \"c\"\ndocument = \"c/\"\nverdict = \"any\"\n\
            [[case]]\nid = \"empty\"\ndocument = \"none/\"\nverdict = \"any\"\n";
        let files = BTreeMap::from([
            ("suite.toml".to_string(), manifest.as_bytes().to_vec()),
            ("c/b.csv".to_string(), b"B".to_vec()),
            ("c/a.csv".to_string(), b"A".to_vec()),
            ("c/notes.txt".to_string(), b"N".to_vec()),
        ]);
        // The case naming a folder with no CSV file is refused.
        let refused = Suite::load("t", files.clone(), &catalog).unwrap_err().to_string();
        assert!(refused.contains("case `empty`: the suite has no CSV files in `none/`"), "{refused}");
        let mut files = files;
        files.insert(
            "suite.toml".into(),
            manifest.split("[[case]]\nid = \"empty\"").next().unwrap().as_bytes().to_vec(),
        );
        let suite = Suite::load("t", files, &catalog).unwrap();
        let case = &suite.manifest.cases[0];
        assert_eq!(case.format(), "csv");
        let Ok((name, Document::Tables(tables))) = suite.document(case) else { panic!("not a table return") };
        assert_eq!(name, "suite c/");
        assert_eq!(tables, [("c/a.csv", b"A".as_slice()), ("c/b.csv", b"B".as_slice())]);
    }

    #[test]
    fn names_are_the_serde_names() {
        // Reports print `as_str` (strum) and suite.toml is read by serde: the two must name alike.
        for level in Level::iter() {
            assert_eq!(serde_json::to_value(level).ok(), Some(level.as_str().into()));
        }
        for verdict in Verdict::iter() {
            assert_eq!(serde_json::to_value(verdict).ok(), Some(verdict.as_str().into()));
        }
    }
}
