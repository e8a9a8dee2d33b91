//! The command line: clap definitions and the commands. The only module that knows about terminals, files
//! named on the command line, and exit codes (0: no error findings; 1: at least one error finding; 2: could
//! not run).

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use caregate_engine::convert::Target;
use caregate_engine::document::Format;
use caregate_engine::names::VariantNames;
use caregate_engine::report::OutputFormat;
use caregate_generate::cin::Profile;

#[derive(Parser, Debug)]
#[command(name = "caregate", version, about = "Validate, convert and route social-care data standards", long_about = None)]
pub struct Cli {
    /// Add or override standard packs from this folder (one pack, or a tree of <id>/<version>/).
    #[arg(long, global = true, value_name = "DIR")]
    pub standards: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate documents (files, folders, or - for standard input) against their standard.
    Validate(ValidateArgs),
    /// Convert a document between XML and JSON, driven by its standard's binding.
    Convert(ConvertArgs),
    /// List, show and export the standards caregate holds.
    #[command(subcommand)]
    Standards(StandardsCommand),
    /// Generate realistic synthetic documents of a standard, reproducibly by seed.
    Generate(GenerateArgs),
    /// Run the message gateway (HTTP): with no --config, a demo of six organisations.
    Serve(ServeArgs),
    /// Check the gateway's hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check a gateway configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The browser console: `console export DIR` writes the static validation site (pages and engine).
    #[command(subcommand)]
    Console(ConsoleCommand),
    /// Conformance suites: run them against caregate's own engine, list requirements no case tests.
    #[command(subcommand)]
    Suite(SuiteCommand),
    /// Certify a supplier's product against a standard's suite: a receiver, a producer or a gateway.
    #[command(subcommand)]
    Certify(CertifyCommand),
    /// Conformance reports: verify a signed one, or compare suppliers in one matrix.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Reference data: write an index of it that `validate --reference` loads faster than its CSV.
    #[command(subcommand)]
    Reference(ReferenceCommand),
    /// Send a daily extract to a national collection: `send dfe-csc-api EXTRACT...` (JSON Lines or JSON arrays).
    Send(SendArgs),
    /// A stand-in for DfE's CSC API (token endpoint and children endpoint), for tests and certification.
    DfeDouble(DfeDoubleArgs),
    /// Make an Ed25519 key pair for signing conformance reports (PREFIX.key, PREFIX.pub).
    Keygen {
        /// Where to write the keys: PREFIX.key (private, PKCS#8 PEM) and PREFIX.pub (SPKI PEM).
        #[arg(long, default_value = "caregate-signing", value_name = "PREFIX")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Gateway configuration (TOML); without it the demo configuration is used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen on this address (default: the configuration's, or 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Keep the store here (default: the configuration's, or ./caregate-data).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// The route: `dfe-csc-api` (configured in `[outbound.dfe-csc-api]`).
    #[arg(value_parser = ["dfe-csc-api"])]
    pub route: String,
    /// The configuration (TOML); `[store]` and `[outbound.dfe-csc-api]` are enough.
    #[arg(long, default_value = "caregate.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// human, or json: an object with sent, unchanged, purged, refused, batches, retries and receipts.
    #[arg(long, default_value = "human", value_parser = ["human", "json"])]
    pub format: String,
    /// The extracts: JSON Lines (one child a line) or JSON arrays of children.
    #[arg(required = true)]
    pub extracts: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DfeDoubleArgs {
    /// Listen on this address (port 0 picks one; the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: String,
    /// The standard whose schema the children are checked against.
    #[arg(long, default_value = "dfe-csc-api", value_name = "ID[@VERSION]")]
    pub standard: String,
    /// The client id the token endpoint takes.
    #[arg(long, default_value = "caregate-test", value_name = "ID")]
    pub client_id: String,
    /// The client secret the token endpoint takes.
    #[arg(long, default_value = "caregate-test-secret", value_name = "SECRET")]
    pub client_secret: String,
    /// The `SupplierKey` header the children endpoint takes.
    #[arg(long, default_value = "caregate-test-supplier", value_name = "KEY")]
    pub supplier_key: String,
    /// How long a token is good for, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub token_ttl: u64,
    /// The `Retry-After` of an injected 429, in seconds.
    #[arg(long, default_value_t = 1, value_name = "SECONDS")]
    pub retry_after: u64,
    /// The fault of each request to the children endpoint in turn: ok, 429, 500, 401 (token revoked) or lost
    /// (stored, then the answer cut), comma-separated; past the end, none.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub faults: Vec<caregate_gateway::dfe::double::Fault>,
    /// Take the faults again from the start once at the end.
    #[arg(long)]
    pub cycle: bool,
    /// Answer 413 to more children than this in one request (default: the schema's maxItems).
    #[arg(long, value_name = "N")]
    pub max_items: Option<usize>,
    /// Wait this long before answering each request to the children endpoint, as a service far away does.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Say OK, or name the first entry that breaks the chain; with --anchor, also that the chain still holds
    /// the entry each anchor vouches for (so that a tail deleted or a chain rewritten shows).
    Verify {
        /// The gateway's data folder.
        #[arg(long, default_value = "./caregate-data", value_name = "DIR")]
        data: PathBuf,
        /// The gateway's configuration: the chain is read from the store it names (its SQLite data folder, or
        /// its PostgreSQL database), in place of --data.
        #[arg(long, value_name = "FILE", conflicts_with = "data")]
        config: Option<PathBuf>,
        /// An anchor written by `caregate audit anchor` (more than one may be given).
        #[arg(long, value_name = "FILE")]
        anchor: Vec<PathBuf>,
        /// The public key the anchors were signed with (from `caregate keygen`): each must be signed by it.
        #[arg(long, value_name = "PUBFILE")]
        key: Option<PathBuf>,
    },
    /// Check the chain and write its head (the last entry's number and hash) as an anchor, to keep apart from
    /// the gateway's store: `audit verify --anchor` then shows entries deleted from the chain's end.
    Anchor {
        /// The gateway's data folder.
        #[arg(long, default_value = "./caregate-data", value_name = "DIR")]
        data: PathBuf,
        /// The gateway's configuration: the chain is read from the store it names (its SQLite data folder, or
        /// its PostgreSQL database), in place of --data.
        #[arg(long, value_name = "FILE", conflicts_with = "data")]
        config: Option<PathBuf>,
        /// Sign the anchor with this Ed25519 private key (PKCS#8 PEM, from `caregate keygen`).
        #[arg(long, value_name = "KEYFILE")]
        sign: Option<PathBuf>,
        /// Write the anchor here.
        #[arg(long, short, default_value = "audit-anchor.json", value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConsoleCommand {
    /// Write the validation site (HTML, CSS, JS and the engine as caregate.wasm) into DIR, for any static web
    /// server or an intranet share: files are checked in the browser and never sent.
    Export {
        /// The folder to write (made if missing; files of the same names are replaced).
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Explain everything wrong with a configuration file.
    Check {
        /// The configuration (TOML).
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum SuiteCommand {
    /// Run the suites against caregate's own engine (self-conformance); exit 1 when a case fails.
    Run {
        /// Only this standard's suite (ID or ID@VERSION).
        #[arg(long, value_name = "ID")]
        standard: Option<String>,
        #[command(flatten)]
        evidence: EvidenceArgs,
    },
    /// List the requirements that no case tests; exit 1 when there are any.
    Coverage {
        /// Only this standard's suite (ID or ID@VERSION).
        #[arg(long, value_name = "ID")]
        standard: Option<String>,
        /// Read the suites from this folder instead of the embedded ones.
        #[arg(long, value_name = "DIR")]
        suites: Option<PathBuf>,
    },
}

/// Where evidence goes and what it says of whom.
#[derive(Args, Debug, Clone)]
pub struct EvidenceArgs {
    /// The supplier's name, as waivers and the matrix know it.
    #[arg(long, value_name = "NAME")]
    pub supplier: Option<String>,
    /// Waivers (TOML: requirement, supplier, reason, expires).
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Sign the report with this Ed25519 private key (PKCS#8 PEM, from `caregate keygen`).
    #[arg(long, value_name = "KEYFILE")]
    pub sign: Option<PathBuf>,
    /// Write reports/<run-id>/ under this folder.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub output: PathBuf,
    /// Read the suites from this folder instead of the embedded ones.
    #[arg(long, value_name = "DIR")]
    pub suites: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CertifyCommand {
    /// Send every case, in an envelope as push delivery carries it, to a receiving endpoint: conformant ones
    /// must be accepted (2xx), the others refused (4xx) naming the rules broken.
    Receiver {
        /// The standard (ID or ID@VERSION).
        #[arg(long, value_name = "ID")]
        standard: String,
        /// The receiving endpoint (http://…).
        #[arg(long, value_name = "URL")]
        endpoint: String,
        /// Bearer token to send.
        #[arg(long, value_name = "T")]
        token: Option<String>,
        /// Bearer token for envelopes from one sending organisation (repeatable).
        #[arg(long = "sender-token", value_name = "ORG=T")]
        sender_tokens: Vec<String>,
        /// A header sent with every case, as NAME=VALUE (repeatable): `SupplierKey=…` for DfE's CSC API.
        #[arg(long = "header", value_name = "NAME=VALUE")]
        headers: Vec<String>,
        /// Only the cases in this format.
        #[arg(long, value_parser = names::<Format>())]
        format: Option<Format>,
        #[command(flatten)]
        evidence: EvidenceArgs,
    },
    /// Validate a product's output for each scenario and compare the fields each scenario fixes.
    Producer {
        /// The standard (ID or ID@VERSION).
        #[arg(long, value_name = "ID")]
        standard: String,
        /// Folder of scenario files (*.toml).
        #[arg(long, value_name = "DIR")]
        scenarios: PathBuf,
        /// Folder of the product's output, one <scenario id>.xml or .json per scenario.
        #[arg(long, value_name = "DIR")]
        submissions: PathBuf,
        #[command(flatten)]
        evidence: EvidenceArgs,
    },
    /// Check the gateway protocol of an implementation: authentication, idempotency, mailbox, problems.
    Gateway {
        /// The gateway's base URL (http://host:port); by default `caregate serve`'s.
        #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
        url: String,
        /// A sending organisation's bearer token (by default the sender's in --tokens).
        #[arg(long, value_name = "T")]
        token: Option<String>,
        /// The organisation the token is for.
        #[arg(long, default_value = "RJ1", value_name = "ORG")]
        sender: String,
        /// The recipient to address, as ORG:ROLE (by default the demo's council).
        #[arg(long, default_value = "201:social-care", value_name = "ORG:ROLE")]
        recipient: String,
        /// The recipient's bearer token, for the mailbox checks (by default the recipient's in --tokens).
        #[arg(long, value_name = "T")]
        recipient_token: Option<String>,
        /// Tokens by organisation (JSON), as `caregate serve` writes its demo's: where --token and
        /// --recipient-token are taken from when not given.
        #[arg(long, default_value = "caregate-data/demo-tokens.json", value_name = "FILE")]
        tokens: PathBuf,
        #[command(flatten)]
        evidence: EvidenceArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReferenceCommand {
    /// Read reference data from its CSV once and write it as an index file, which `validate --reference
    /// NAME=FILE` takes in place of the CSV (told apart by its first bytes). Build it again from each new
    /// release of the data.
    Index {
        /// Which reference data: postcodes (the ONS Postcode Directory).
        #[arg(value_name = "NAME", value_parser = PossibleValuesParser::new(caregate_engine::reference::INDEXED))]
        name: String,
        /// The data as CSV (as `validate --reference` reads it).
        #[arg(value_name = "CSV")]
        input: PathBuf,
        /// Write the index to this file.
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Check a signed report.json against a public key; any edit of the report fails.
    Verify {
        /// The report.json.
        report: PathBuf,
        /// The signer's public key (SPKI PEM, from `caregate keygen`).
        #[arg(long, value_name = "PUBFILE")]
        key: PathBuf,
    },
    /// One table across suppliers (supplier × requirement), in HTML and JSON.
    Matrix {
        /// Report folders (each holding report.json), or folders of them.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Write matrix.html and matrix.json here.
        #[arg(long, default_value = "reports/matrix", value_name = "DIR")]
        output: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Refuse documents larger than this many bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    pub max_bytes: usize,
    /// Refuse documents nested deeper than this (at most 256).
    #[arg(long, default_value_t = 64, value_name = "LEVELS", value_parser = max_depth)]
    pub max_depth: usize,
}

/// `--max-depth`: a number of levels the engine can check (see [`caregate_engine::document::Limits::DEEPEST`]).
fn max_depth(text: &str) -> Result<usize, String> {
    let depth: usize = text.parse().map_err(|_| format!("`{text}` is not a number of levels"))?;
    match caregate_engine::document::Limits::depth_problem(depth) {
        Some(why) => Err(why),
        None => Ok(depth),
    }
}

fn param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE (e.g. la_code=E09000027)")),
    }
}

fn reference(text: &str) -> Result<(String, PathBuf), String> {
    let names = caregate_engine::reference::NAMES.join(", ");
    match text.split_once('=') {
        Some((name, file)) if caregate_engine::reference::References::is_reference(name.trim()) && !file.is_empty() => {
            Ok((name.trim().to_string(), PathBuf::from(file)))
        }
        Some((name, _)) if !caregate_engine::reference::References::is_reference(name.trim()) => {
            Err(format!("`{}` is not reference data caregate knows (it knows: {names})", name.trim()))
        }
        _ => Err(format!("`{text}` is not NAME=FILE (e.g. postcodes=ONSPD.csv)")),
    }
}

/// The parser of an option whose values are an enum's names: clap offers, and lists in help and refusals,
/// exactly the names the enum declares, in its order, and the enum's own `FromStr` makes the value.
fn names<E>() -> impl TypedValueParser<Value = E>
where
    E: VariantNames + FromStr + Clone + Send + Sync + 'static,
    E::Err: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    PossibleValuesParser::new(E::VARIANTS).try_map(|name| name.parse::<E>())
}

/// `generate --format`. Its variants carry no doc comments, as clap would list them in `--help`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerateFormat {
    Xml,
    Json,
    Csv,
}

/// `--color`. Its variants carry no doc comments: clap would show them in `--help` as a list of their own.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    // Colour when standard output is a terminal, nothing goes to --output and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

/// `standards export --as`; no variant doc comments, as for [`Colour`].
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    JsonSchema,
    Xsd,
}

/// `standards diff --format`; no variant doc comments, as for [`Colour`].
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    Human,
    Json,
    Html,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Files or folders to validate; `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The standard, as ID or ID@VERSION; detected from each document when not given.
    #[arg(long, value_name = "ID[@VERSION]")]
    pub standard: Option<String>,
    /// Report format.
    #[arg(long, default_value = "human", value_name = "FORMAT", value_parser = names::<OutputFormat>())]
    pub format: OutputFormat,
    /// Write the report to this file (default: standard output; HTML goes to reports/validation.html).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Human output shows at most N findings and counts the rest (default: 50 on standard output, all in a
    /// file written with --output); `all` shows every one. The summary by rule always counts them all.
    #[arg(long, value_name = "N|all")]
    pub max_findings: Option<String>,
    /// Validate as at this time (RFC 3339), for reproducible runs; default: now.
    #[arg(long, value_name = "DATE-TIME")]
    pub now: Option<String>,
    /// Colour in human output: auto, always or never.
    #[arg(long, default_value = "auto")]
    pub color: Colour,
    /// A value the rules read that the return does not carry, as NAME=VALUE (e.g. `la_code=E09000027`, the
    /// council's code); repeatable. Rules that need one not given are reported as not run.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = param)]
    pub params: Vec<(String, String)>,
    /// Reference data the rules look values up in, as NAME=FILE: `postcodes=ONSPD.csv`, the ONS Postcode
    /// Directory as CSV (columns pcd, oseast1m, osnrth1m, laua; cty used when present) or as an index written
    /// from it by `caregate reference index postcodes`; `ofsted-providers=LIST.xlsx`, Ofsted's lists of
    /// registered children's homes and social care providers as it publishes them (XLSX or CSV), repeatable to
    /// give both lists. Rules that need reference data not given are reported as not run.
    #[arg(long = "reference", value_name = "NAME=FILE", value_parser = reference)]
    pub references: Vec<(String, PathBuf)>,
    /// Last year's return, for the rules that compare a child with last year (SSDA903 202–208, 503A–F, …): a
    /// file (one of its CSV tables, or its XML file) or a folder of them; repeatable, one path each time. Rules
    /// that need it are reported as not run without it.
    #[arg(long = "previous", value_name = "PATH")]
    pub previous: Vec<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The document to convert; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Target format.
    #[arg(long, value_name = "json|xml", value_parser = names::<Target>())]
    pub to: Target,
    /// The standard, as ID or ID@VERSION; detected when not given.
    #[arg(long, value_name = "ID[@VERSION]")]
    pub standard: Option<String>,
    /// Write the result to this file (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Subcommand, Debug)]
pub enum StandardsCommand {
    /// One line per standard pack.
    List,
    /// A standard's manifest, fields, code lists and rules.
    Show {
        /// ID or ID@VERSION.
        standard: String,
    },
    /// The standard's structure as JSON Schema or XSD, for suppliers to build against.
    Export {
        /// ID or ID@VERSION.
        standard: String,
        /// json-schema or xsd.
        #[arg(long = "as", value_name = "json-schema|xsd")]
        format: SchemaFormat,
        /// Write to this file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// What changed from one version of a standard to another: fields, code lists and rules, each change
    /// saying whether it can break a document of the earlier version.
    Diff {
        /// The earlier version, ID@VERSION.
        from: String,
        /// The later version, ID@VERSION.
        to: String,
        /// human, json or html.
        #[arg(long, value_enum, default_value = "human")]
        format: DiffFormat,
        /// Write to this file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Make a pack from a published document (its schema and manifest; the pack's own rules are kept).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Start a new standard: a pack folder DIR/ID/VERSION/ whose every file explains itself, holding a small
    /// working standard to change into yours.
    New {
        /// The pack's id: lower-case words joined by `-` (`visit-record`).
        id: String,
        /// The version.
        #[arg(long, default_value = "1.0")]
        version: String,
        /// Where to write it (the pack goes in DIR/ID/VERSION/).
        #[arg(long, default_value = "schemas", value_name = "DIR")]
        output: PathBuf,
    },
    /// Load each pack below the folders as caregate would and say what is wrong with it: its files, and each
    /// rule against the schema (a context, `at` or field the schema lacks, with the name it has nearest; an
    /// expression that cannot be true or false). Exits 1 when a pack does not load.
    Check {
        /// A pack folder, or a tree of <id>/<version>/ pack folders.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// From an OpenAPI 3.0 document: one component schema, the payload its API takes.
    Openapi(ImportOpenapiArgs),
    /// From an XSD: the document element's structure, its enumerations as code lists, and a manifest that
    /// names what the XSD cannot say. A construct that cannot be imported is refused with its line.
    Xsd(ImportXsdArgs),
}

#[derive(Args, Debug)]
pub struct ImportXsdArgs {
    /// The XSD (one self-contained file).
    pub file: PathBuf,
    /// The pack's id.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The pack's version.
    #[arg(long, value_name = "VERSION")]
    pub version: String,
    /// The document element, when the XSD declares several global elements that no other refers to.
    #[arg(long, value_name = "NAME")]
    pub root: Option<String>,
    /// Where to write it (the pack goes in DIR/ID/VERSION/; the pack's own rules there are kept).
    #[arg(long, short, default_value = "schemas", value_name = "DIR")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct ImportOpenapiArgs {
    /// The OpenAPI 3.0 document (JSON).
    pub file: PathBuf,
    /// The component schema of the payload (`CSC` for #/components/schemas/CSC).
    #[arg(long, value_name = "NAME")]
    pub schema: String,
    /// The pack's id.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The pack's version.
    #[arg(long, value_name = "VERSION")]
    pub version: String,
    /// Who published the document (default: the document's contact, when it names one).
    #[arg(long, value_name = "NAME")]
    pub publisher: Option<String>,
    /// The document's licence, copied into the pack under its own file name.
    #[arg(long, value_name = "FILE")]
    pub licence: Option<PathBuf>,
    /// The pack folder: the imported files are written there, the others in it (rules, code lists) kept.
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The standard, as ID or ID@VERSION.
    pub standard: String,
    /// How many documents.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Seed: the same seed gives the same documents.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of documents (0 to 1) given one deliberate fault, each breaking one rule.
    #[arg(long, default_value_t = 0.0)]
    pub invalid_rate: f64,
    /// clean, or messy: a census or SSDA903 return with the mistakes of a first submission.
    #[arg(long, default_value = "clean", value_parser = names::<Profile>())]
    pub profile: Profile,
    /// The form to write (default: the standard's own: CSV tables for a return sent as tables, else XML).
    #[arg(long, value_enum)]
    pub format: Option<GenerateFormat>,
    /// For a return sent as tables (SSDA903): the council, as NAME=VALUE `la_code=E09000027` (its ONS code, as
    /// `validate --param` takes it); default: drawn by seed.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = param)]
    pub params: Vec<(String, String)>,
    /// For a return sent as tables: `postcodes=FILE`, the ONS Postcode Directory (CSV or index, as `validate
    /// --reference` takes it), to draw every home and placement postcode from it rather than make them up.
    #[arg(long = "reference", value_name = "NAME=FILE", value_parser = reference)]
    pub references: Vec<(String, PathBuf)>,
    /// Folder to write the documents to (default: standard output, one after another).
    #[arg(long, short, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    quiet_on_closed_output();
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("caregate: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// When whatever reads caregate's output closes it early (`caregate standards list | head -1`), printing fails;
/// caregate then stops quietly with the status a Unix tool killed by SIGPIPE has (141), as `cat` or `grep`
/// would, rather than report a crash. Every other panic is reported as before.
fn quiet_on_closed_output() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let said = info.to_string();
        if said.contains("failed printing to std") && said.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}
