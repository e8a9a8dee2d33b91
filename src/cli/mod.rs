//! The command line: clap definitions and the commands. The only module that knows about terminals, files
//! named on the command line, and exit codes (0: no error findings; 1: at least one error finding; 2: could
//! not run).

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

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

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Say OK, or name the first entry that breaks the chain.
    Verify {
        /// The gateway's data folder.
        #[arg(long, default_value = "./caregate-data", value_name = "DIR")]
        data: PathBuf,
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

#[derive(Args, Debug, Clone)]
pub struct Limits {
    /// Refuse documents larger than this many bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    pub max_bytes: usize,
    /// Refuse documents nested deeper than this.
    #[arg(long, default_value_t = 64, value_name = "LEVELS")]
    pub max_depth: usize,
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
    #[arg(long, default_value = "human", value_name = "FORMAT", value_parser = ["human", "json", "junit", "sarif", "html"])]
    pub format: String,
    /// Write the report to this file (default: standard output; HTML goes to reports/validation.html).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Validate as at this time (RFC 3339), for reproducible runs; default: now.
    #[arg(long, value_name = "DATE-TIME")]
    pub now: Option<String>,
    /// Colour in human output: auto, always or never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,
    #[command(flatten)]
    pub limits: Limits,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The document to convert; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Target format.
    #[arg(long, value_name = "json|xml", value_parser = ["json", "xml"])]
    pub to: String,
    /// The standard, as ID or ID@VERSION; detected when not given.
    #[arg(long, value_name = "ID[@VERSION]")]
    pub standard: Option<String>,
    /// Write the result to this file (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub limits: Limits,
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
        #[arg(long = "as", value_name = "json-schema|xsd", value_parser = ["json-schema", "xsd"])]
        format: String,
        /// Write to this file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
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
    /// xml or json.
    #[arg(long, default_value = "xml", value_parser = ["xml", "json"])]
    pub format: String,
    /// Folder to write the documents to (default: standard output, one after another).
    #[arg(long, short, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("caregate: {error:#}");
            ExitCode::from(2)
        }
    }
}
