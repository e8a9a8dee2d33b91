//! What each command does, between the arguments and the library.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};

use super::{
    Cli, Colour, Command, ConvertArgs, GenerateArgs, GenerateFormat, SchemaFormat, StandardsCommand, ValidateArgs,
};
use caregate_engine::convert::{self, Target};
use caregate_engine::document::{self, Limits};
use caregate_engine::finding::Finding;
use caregate_engine::report::{self, OutputFormat, ReportWriter, WriterOptions};
use caregate_engine::run;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::tables::TableFile;
use caregate_engine::validate::{Options, Validator};

pub fn run(cli: Cli) -> Result<u8> {
    // Reference data needs no standard: compiling every pack's rules would be most of a small file's time.
    if let Command::Reference(command) = &cli.command {
        return reference_command(command);
    }
    // The console's site is files built in; no standard is compiled to write them.
    if let Command::Console(super::ConsoleCommand::Export { dir }) = &cli.command {
        return console_export(dir);
    }
    // An import reads one document and writes one pack; the catalogue is not needed.
    if let Command::Standards(StandardsCommand::Import(super::ImportCommand::Openapi(args))) = &cli.command {
        return import_openapi(args);
    }
    if let Command::Standards(StandardsCommand::Import(super::ImportCommand::Xsd(args))) = &cli.command {
        return import_xsd(args);
    }
    // Reference data (a postcode directory of millions of entries) loads while the packs compile.
    let references = match &cli.command {
        Command::Validate(args) if !args.references.is_empty() => {
            let given = args.references.clone();
            Some(std::thread::spawn(move || load_references(&given)))
        }
        _ => None,
    };
    let catalog = match narrow_catalog(&cli)? {
        Some(catalog) => catalog,
        None => load_catalog(&cli.standards)?,
    };
    match cli.command {
        Command::Validate(args) => {
            let references = match references {
                Some(loading) => loading.join().map_err(|_| anyhow!("loading the reference data failed"))??,
                None => load_references(&args.references)?,
            };
            let code = validate(&catalog, args, references);
            // The process ends with this command: its compiled packs are left for the system to take back
            // whole rather than freed a rule at a time, which cost a small return's check a few per cent.
            std::mem::forget(catalog);
            code
        }
        Command::Convert(args) => convert_command(&catalog, args),
        Command::Standards(command) => standards(&catalog, command),
        Command::Generate(args) => generate(&catalog, args),
        Command::Serve(args) => serve(catalog, args),
        Command::Audit(super::AuditCommand::Verify { data, config, anchor, key }) => {
            let (entries, place) = audit_chain(&catalog, &data, config.as_deref())?;
            audit_verify(entries, &anchor, key.as_deref())
                .with_context(|| format!("while checking the audit log of {place}"))
        }
        Command::Audit(super::AuditCommand::Anchor { data, config, sign, output }) => {
            let (entries, place) = audit_chain(&catalog, &data, config.as_deref())?;
            audit_anchor(entries, &place, sign.as_deref(), &output)
        }
        Command::Config(super::ConfigCommand::Check { file }) => config_check(&catalog, &file),
        Command::Suite(command) => suite_command(&catalog, command),
        Command::Certify(command) => certify_command(&catalog, command),
        Command::Report(command) => report_command(command),
        Command::Keygen { out } => keygen_command(&out),
        Command::DfeDouble(args) => dfe_double(catalog, args),
        Command::Send(args) => send_command(&catalog, args),
        Command::Reference(command) => reference_command(&command),
        Command::Console(super::ConsoleCommand::Export { dir }) => console_export(&dir),
    }
}

/// Writes the console's static site into `dir`.
fn console_export(dir: &Path) -> Result<u8> {
    let written = caregate_console::export(dir)?;
    let bytes: u64 = written.iter().filter_map(|path| std::fs::metadata(path).ok()).map(|m| m.len()).sum();
    eprintln!(
        "caregate: wrote the console's site to {} ({} files, {:.1} MB); open index.html through any web server",
        dir.display(),
        written.len(),
        bytes as f64 / 1e6
    );
    Ok(0)
}

fn load_catalog(dirs: &[PathBuf]) -> Result<Catalog> {
    let mut catalog = Catalog::embedded().context("an embedded standard pack does not load")?;
    for dir in dirs {
        catalog.add_dir(dir).with_context(|| format!("cannot load standards from {}", dir.display()))?;
    }
    Ok(catalog)
}

/// The embedded packs a validation or conversion needs, when its arguments tell: those of the standard named
/// and of the files' document elements, or sent as tables for CSV files. Compiling every pack's rules is
/// most of a short command's time, and a conversion compiles none. `None` when every pack is needed: packs
/// added from folders, standard input, a JSON document (known by its shape among all), a document of no known
/// standard, or an envelope (which holds documents of other standards).
fn narrow_catalog(cli: &Cli) -> Result<Option<Catalog>> {
    if !cli.standards.is_empty() {
        return Ok(None);
    }
    let (standard, inputs, conversion) = match &cli.command {
        // Inputs that cannot be listed are left for the command to report, as it does.
        Command::Validate(args) => match collect_inputs(&args.paths) {
            Ok(inputs) => (args.standard.as_deref(), inputs, false),
            Err(_) => return Ok(None),
        },
        Command::Convert(args) => (args.standard.as_deref(), vec![args.file.clone()], true),
        _ => return Ok(None),
    };
    let Some(wanted) = Wanted::of(standard, &inputs, conversion) else { return Ok(None) };
    let keep = |files: &caregate_engine::standard::PackFiles| wanted.keeps(files);
    let catalog = if conversion { Catalog::embedded_for_conversion(keep) } else { Catalog::embedded_where(keep) }
        .context("an embedded standard pack does not load")?;
    let whole = catalog.packs().iter().any(|p| p.files.embeds_documents()) || !wanted.all_found(&catalog);
    Ok((!whole).then_some(catalog))
}

/// What a command's files and `--standard` ask of the catalog.
struct Wanted {
    /// The standard named, as id and version if it gives one.
    standard: Option<(String, Option<String>)>,
    roots: Vec<(String, String)>,
    tables: bool,
    conversion: bool,
}

impl Wanted {
    /// `None` when some input cannot be placed without every pack.
    fn of(standard: Option<&str>, inputs: &[PathBuf], conversion: bool) -> Option<Wanted> {
        let standard = standard.map(|r| match r.split_once('@') {
            Some((id, version)) => (id.to_string(), Some(version.to_string())),
            None => (r.to_string(), None),
        });
        let mut wanted = Wanted { standard, roots: Vec::new(), tables: false, conversion };
        for input in inputs {
            if is_csv(input) && !conversion {
                wanted.tables = true;
                continue;
            }
            let root = file_head(input).ok().flatten().and_then(|head| document::tokens::peek_root(&head))?;
            if !wanted.roots.contains(&root) {
                wanted.roots.push(root);
            }
        }
        Some(wanted)
    }

    fn keeps(&self, files: &caregate_engine::standard::PackFiles) -> bool {
        let tables = files.tables();
        // A table return's XML form is validated, not converted.
        let tables_root = tables.clone().flatten().filter(|_| !self.conversion);
        let named = self.standard.as_ref().is_some_and(|(id, version)| {
            // Without a version the newest active one is meant, so every version is needed to know it.
            files.id_version().is_some_and(|(i, v)| i == *id && version.as_ref().is_none_or(|version| v == *version))
        });
        named
            || (self.tables && tables.is_some())
            || files.xml_root().is_some_and(|root| self.roots.contains(&root))
            || tables_root.is_some_and(|local| self.roots.iter().any(|(l, _)| *l == local))
    }

    /// Whether every part of the command found its pack, so that one it did not find is reported among all.
    fn all_found(&self, catalog: &Catalog) -> bool {
        let packs = catalog.packs();
        let xml_root = |p: &StandardPack| (p.manifest.xml.root.clone(), p.manifest.xml.namespace.clone());
        let tables_root = |p: &StandardPack| {
            p.manifest.tables.as_ref().and_then(|t| t.xml.as_ref()).map(|x| x.root.clone()).filter(|_| !self.conversion)
        };
        self.standard.as_ref().is_none_or(|(id, version)| {
            packs.iter().any(|p| p.id() == id && version.as_ref().is_none_or(|v| p.version() == v))
        }) && (!self.tables || packs.iter().any(|p| p.manifest.tables.is_some()))
            && self
                .roots
                .iter()
                .all(|root| packs.iter().any(|p| xml_root(p) == *root || tables_root(p).as_ref() == Some(&root.0)))
            && !packs.is_empty()
    }
}

fn find_standard(catalog: &Catalog, reference: &str) -> Result<Arc<StandardPack>> {
    catalog.find(reference).ok_or_else(|| {
        let known: Vec<String> = catalog.packs().iter().map(|p| p.reference()).collect();
        anyhow!("unknown standard `{reference}`; known: {}", known.join(", "))
    })
}

fn limits(args: &super::LimitArgs) -> Limits {
    Limits { max_bytes: args.max_bytes, max_depth: args.max_depth }
}

/// Files named on the command line: files as given, folders searched for .xml and .json files.
fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(path.clone());
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).with_context(|| format!("cannot read folder {}", path.display()))?;
            found.sort();
            inputs.extend(found);
        } else if path.is_file() {
            inputs.push(path.clone());
        } else {
            bail!("{}: no such file or folder", path.display());
        }
    }
    Ok(inputs)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("xml" | "json" | "jsonl" | "ndjson" | "csv"))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// A document as read for checking: its bytes, or the refusal of one larger than the limit allows.
enum Input {
    Bytes(Vec<u8>),
    TooLarge(Box<Finding>),
}

/// Reads a document, refusing one over `limits.max_bytes`: a file whose size says so is not read at all; a
/// stream is read one byte past the limit, so that an oversized input is refused, not truncated (and its
/// refusal can say only that it is more than the limit).
fn read_input(path: &Path, limits: &Limits) -> Result<Input> {
    let read = read_limited(path, limits).with_context(|| {
        if path.as_os_str() == "-" {
            "cannot read standard input".to_string()
        } else {
            format!("cannot read {}", path.display())
        }
    })?;
    Ok(match read {
        Ok(bytes) => Input::Bytes(bytes),
        Err(refusal) => Input::TooLarge(refusal),
    })
}

/// [`read_input`]'s reading: the bytes, or the refusal of an input over the limit.
fn read_limited(path: &Path, limits: &Limits) -> std::io::Result<std::result::Result<Vec<u8>, Box<Finding>>> {
    let max_bytes = limits.max_bytes as u64;
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().take(max_bytes + 1).read_to_end(&mut bytes)?;
    } else {
        let file = std::fs::File::open(path)?;
        // Only a regular file's length is its size (a pipe or a device says 0).
        let size = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        if let Some(size) = size.filter(|size| *size > max_bytes) {
            return Ok(Err(Box::new(document::too_large(Some(size), limits))));
        }
        file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > max_bytes {
        return Ok(Err(Box::new(document::too_large(None, limits))));
    }
    Ok(Ok(bytes))
}

fn display_path(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "-".to_string()
    } else {
        path.display().to_string()
    }
}

/// Loads the reference data given as `--reference NAME=FILE`: the postcode directory once; Ofsted's provider
/// lists as one file or several (its children's homes and social care providers lists), read into one index.
fn load_references(given: &[(String, PathBuf)]) -> Result<caregate_engine::reference::References> {
    use caregate_engine::reference::{OfstedProviders, PostcodeDirectory, References, OFSTED_PROVIDERS, POSTCODES};
    let mut references = References::default();
    let mut ofsted: Option<caregate_engine::reference::ofsted::OfstedProvidersBuilder> = None;
    for (name, path) in given {
        match name.as_str() {
            POSTCODES if references.postcodes.is_some() => bail!("--reference {POSTCODES}=… is given twice"),
            POSTCODES => {
                let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                // The CSV or an index written from it, told apart by its first bytes.
                let directory =
                    PostcodeDirectory::load(file).with_context(|| format!("cannot load {}", path.display()))?;
                references.postcodes = Some(std::sync::Arc::new(directory));
            }
            OFSTED_PROVIDERS => {
                let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
                ofsted
                    .get_or_insert_with(OfstedProviders::builder)
                    .add(&bytes)
                    .with_context(|| format!("cannot load {}", path.display()))?;
            }
            // The option's parser accepts only the names of `reference::NAMES`.
            other => bail!("`{other}` is not reference data caregate knows"),
        }
    }
    if let Some(builder) = ofsted {
        let list = builder.build().context("cannot load Ofsted's provider lists")?;
        references.ofsted_providers = Some(std::sync::Arc::new(list));
    }
    Ok(references)
}

/// Fails when a block of the postcode index could not be used as the run read it (the file changed or was
/// damaged after it loaded): lookups in that block found nothing, so what the run decided on postcodes is in
/// doubt and must not stand as a report.
fn postcodes_sound(postcodes: Option<&caregate_engine::reference::PostcodeDirectory>) -> Result<()> {
    match postcodes.and_then(|p| p.damage()) {
        Some(why) => bail!(
            "{why}; postcodes in that part of it were not found, so this run's results on postcodes cannot stand \
             (write the index again with `caregate reference index postcodes`)"
        ),
        None => Ok(()),
    }
}

/// `reference index NAME CSV -o FILE`: the data read as `--reference` reads it, written as its index.
fn reference_command(command: &super::ReferenceCommand) -> Result<u8> {
    use caregate_engine::reference::{PostcodeDirectory, POSTCODES};
    let super::ReferenceCommand::Index { name, input, output } = command;
    match name.as_str() {
        POSTCODES => {
            let file = std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
            let directory =
                PostcodeDirectory::load(file).with_context(|| format!("cannot load {}", input.display()))?;
            // Written beside the target and renamed over it, so that a failed run leaves no partial index
            // where a later `--reference` would find it.
            let mut partial = output.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let written = std::fs::File::create(&partial)
                .and_then(|file| {
                    directory.write_index(&file)?;
                    file.sync_all()
                })
                .and_then(|()| std::fs::rename(&partial, output));
            if let Err(error) = written {
                let _ = std::fs::remove_file(&partial);
                return Err(error).with_context(|| format!("cannot write {}", output.display()));
            }
            eprintln!("indexed {} postcodes to {}", directory.len(), output.display());
            Ok(0)
        }
        // The argument's parser accepts only the names of `reference::NAMES`.
        other => bail!("`{other}` is not reference data caregate knows"),
    }
}

/// Reads last year's return, given as `--previous PATH` (each a file, or a folder of its files), with the
/// tables of the standard this year's return is checked against.
fn load_previous(
    validator: &Validator<'_>,
    standard: Option<&StandardPack>,
    paths: &[PathBuf],
) -> Result<Arc<dyn caregate_engine::reference::PreviousReturn>> {
    let pack = run::tables_pack(validator.catalog, standard).context("--previous is last year's return")?;
    let inputs = collect_inputs(paths)?;
    if inputs.is_empty() {
        bail!(
            "--previous: no .csv or .xml files found in {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut files = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
        files.push(TableFile { path: display_path(input), bytes });
    }
    Ok(validator.read_previous(&pack, files)?)
}

fn validate(catalog: &Catalog, args: ValidateArgs, references: caregate_engine::reference::References) -> Result<u8> {
    let format = args.format;
    let standard = args.standard.as_deref().map(|r| find_standard(catalog, r)).transpose()?;
    let now = match &args.now {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--now `{text}` is not an RFC 3339 date-time (e.g. 2026-11-20T09:30:00Z)"))?,
        None => chrono::Utc::now().fixed_offset(),
    };
    let limits = limits(&args.limits);
    let inputs = collect_inputs(&args.paths)?;
    if inputs.is_empty() {
        bail!(
            "no .xml, .json or .csv files found in {}",
            args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => {
            args.output.is_none() && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let output = match (&args.output, format) {
        (Some(path), _) => Some(path.clone()),
        (None, OutputFormat::Html) => Some(PathBuf::from("reports/validation.html")),
        (None, _) => None,
    };
    // A person reads the first findings at a terminal and the summary by rule for the rest; a file keeps all.
    let max_findings = match args.max_findings.as_deref() {
        Some("all") => None,
        Some(text) => {
            Some(text.parse::<usize>().map_err(|_| anyhow!("--max-findings `{text}` is not a number or `all`"))?)
        }
        None if output.is_some() => None,
        None => Some(50),
    };
    let postcodes = references.postcodes.clone();
    let mut validator = Validator::new(catalog, Options { limits, now, standard: standard.clone() })
        .with_params(args.params.clone())
        .with_references(references);
    validator.excerpts = format.shows_excerpts();
    if !args.previous.is_empty() {
        let previous = load_previous(&validator, standard.as_deref(), &args.previous)?;
        validator = validator.with_previous(previous);
    }
    match &output {
        Some(path) => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(dir) = dir {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            // Spooled text waits beside the report, on the disk that is to hold it anyway.
            let options = WriterOptions {
                colour,
                max_findings,
                spool_dir: Some(dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf)),
            };
            let mut writer = report::writer(format, &options, Box::new(std::io::BufWriter::new(file)));
            let checked = validate_into(validator, &inputs, writer.as_mut())
                .and_then(|has_errors| postcodes_sound(postcodes.as_deref()).map(|()| has_errors));
            match checked {
                Ok(has_errors) => {
                    eprintln!("report written to {}", path.display());
                    Ok(u8::from(has_errors))
                }
                Err(error) => {
                    // What was written is part of a report that could not be finished.
                    drop(writer);
                    let _ = std::fs::remove_file(path);
                    Err(error.context(format!("{} not written", path.display())))
                }
            }
        }
        None => {
            let options = WriterOptions { colour, max_findings, spool_dir: None };
            let mut writer =
                report::writer(format, &options, Box::new(std::io::BufWriter::new(std::io::stdout().lock())));
            let has_errors = validate_into(validator, &inputs, writer.as_mut())?;
            postcodes_sound(postcodes.as_deref())?;
            Ok(u8::from(has_errors))
        }
    }
}

/// Checks every input into `writer` (see [`caregate_engine::run`]), with progress bars on a terminal. Says
/// whether any document has errors.
fn validate_into(mut validator: Validator<'_>, inputs: &[PathBuf], writer: &mut dyn ReportWriter) -> Result<bool> {
    let progress = progress_bar(inputs.len());
    let files: Vec<FileInput> = inputs.iter().map(|path| FileInput { display: display_path(path), path }).collect();
    let inputs: Vec<&dyn run::Input> = files.iter().map(|f| f as &dyn run::Input).collect();
    let mut done = || {
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    };
    let has_errors = run::run(&mut validator, &inputs, writer, &mut done)?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(has_errors)
}

/// A file named on the command line, or standard input for `-`.
struct FileInput<'a> {
    path: &'a Path,
    display: String,
}

impl run::Input for FileInput<'_> {
    fn path(&self) -> &str {
        &self.display
    }
    fn head(&self) -> std::io::Result<Option<Vec<u8>>> {
        // Standard input cannot be read twice.
        if self.path.as_os_str() == "-" {
            return Ok(None);
        }
        let mut head = Vec::with_capacity(run::HEAD_BYTES);
        std::fs::File::open(self.path)?.take(run::HEAD_BYTES as u64).read_to_end(&mut head)?;
        Ok(Some(head))
    }
    fn open(&self, offset: u64) -> std::io::Result<Box<dyn std::io::BufRead + Send + '_>> {
        if self.path.as_os_str() == "-" {
            return Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, std::io::stdin())));
        }
        let mut file = std::fs::File::open(self.path)?;
        if offset > 0 {
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset))?;
        }
        Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, file)))
    }
    fn read(&self, limits: &Limits) -> std::io::Result<std::result::Result<Vec<u8>, Box<Finding>>> {
        read_limited(self.path, limits)
    }
    fn progress(&self) -> Option<Box<dyn Fn(u64) + Send + Sync>> {
        let bar = ClearOnDrop(bytes_bar(self.path)?);
        Some(Box::new(move |read: u64| bar.0.set_position(read)))
    }
}

/// A progress bar that leaves the terminal as it found it once its work is done (dropped).
struct ClearOnDrop(indicatif::ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The first 64 KiB of a file on disk (`None` for standard input, which cannot be read twice).
fn file_head(path: &Path) -> Result<Option<Vec<u8>>> {
    if path.as_os_str() == "-" {
        return Ok(None);
    }
    let mut head = Vec::with_capacity(64 * 1024);
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    file.take(64 * 1024).read_to_end(&mut head).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(head))
}

/// A progress bar over a file's bytes, when it is large and standard error is a terminal.
fn bytes_bar(path: &Path) -> Option<indicatif::ProgressBar> {
    let len = std::fs::metadata(path).ok()?.len();
    if len < 8 * 1024 * 1024 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("checking {bar:40} {bytes}/{total_bytes} {elapsed} (eta {eta})")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn progress_bar(len: usize) -> Option<indicatif::ProgressBar> {
    if len < 50 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} documents {elapsed}") {
        bar.set_style(style);
    }
    Some(bar)
}

fn write_output(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display())),
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            lock.write_all(text.as_bytes()).context("cannot write to standard output")?;
            Ok(())
        }
    }
}

fn convert_command(catalog: &Catalog, args: ConvertArgs) -> Result<u8> {
    let target = args.to;
    let standard = args.standard.as_deref().map(|r| find_standard(catalog, r)).transpose()?;
    let limits = limits(&args.limits);
    let mut input = open_input(&args.file)?;
    let mut head = Vec::new();
    input
        .by_ref()
        .take(convert::bulk::HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", display_path(&args.file)))?;
    // A bulk return is converted record by record as it is read, whatever its size.
    if target == Target::Json {
        if let Some(pack) = convert::bulk::streamed_pack(&head, standard.as_ref(), catalog) {
            return convert_return(catalog, &args, &pack, &limits, std::io::Cursor::new(head).chain(input));
        }
    }
    let json = document::sniff(&head) == Some(document::Format::Json);
    let converted = match read_rest(&args.file, head, input, &limits)? {
        Input::Bytes(bytes) => convert::convert(&bytes, target, standard, catalog, &limits),
        Input::TooLarge(refusal) if json => {
            eprintln!(
                "caregate: {}: {} JSON is read whole to be converted (only an XML bulk return is converted record by record, whatever its size): convert the return from its XML, split it, or raise --max-bytes.",
                display_path(&args.file),
                refusal.message
            );
            return Ok(2);
        }
        Input::TooLarge(refusal) => Err(convert::ConvertError::Unreadable(refusal)),
    };
    let conversion = match converted {
        Ok(c) => c,
        Err(convert::ConvertError::Unreadable(finding)) => {
            let at = finding
                .location
                .as_ref()
                .map(|l| format!(" (line {}, column {})", l.line, l.column))
                .unwrap_or_default();
            eprintln!("caregate: {}: {}{at}", display_path(&args.file), finding.message);
            return Ok(2);
        }
        Err(e) => bail!("{}: {e}", display_path(&args.file)),
    };
    for finding in &conversion.findings {
        print_conversion_finding(&args.file, finding);
    }
    match &conversion.standard {
        Some(pack) if conversion.round_trip => eprintln!("converted as {} (round trip guaranteed)", pack.reference()),
        Some(pack) => {
            eprintln!("converted as {}, but the input does not conform: not round-trip guaranteed", pack.reference())
        }
        None => eprintln!("no known standard: converted by the generic convention (not round-trip guaranteed)"),
    }
    write_output(&conversion.output, args.output.as_deref())?;
    Ok(if conversion.findings.is_empty() { 0 } else { 1 })
}

/// The rest of a document whose first bytes (`head`) have been read from `input`, as [`read_input`] reads it: a
/// file afresh (its size may refuse it unread), standard input on from where it is.
fn read_rest(path: &Path, mut head: Vec<u8>, input: impl Read, limits: &Limits) -> Result<Input> {
    if path.as_os_str() != "-" {
        return read_input(path, limits);
    }
    let max_bytes = limits.max_bytes as u64;
    input
        .take((max_bytes + 1).saturating_sub(head.len() as u64))
        .read_to_end(&mut head)
        .context("cannot read standard input")?;
    if head.len() as u64 > max_bytes {
        return Ok(Input::TooLarge(Box::new(document::too_large(None, limits))));
    }
    Ok(Input::Bytes(head))
}

/// A file, or standard input for `-`.
fn open_input(path: &Path) -> Result<Box<dyn Read>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(file))
}

fn print_conversion_finding(path: &Path, finding: &Finding) {
    let at = finding.location.as_ref().map(|l| format!("{}:{}: ", l.line, l.column)).unwrap_or_default();
    eprintln!("{}:{at}{}[{}]: {}", display_path(path), finding.severity, finding.rule, finding.message);
}

/// Converts a bulk return to JSON as it is read; the JSON goes to the output as it is made (to a file, under a
/// temporary name until it is complete).
fn convert_return(
    catalog: &Catalog,
    args: &ConvertArgs,
    pack: &Arc<StandardPack>,
    limits: &Limits,
    input: impl Read,
) -> Result<u8> {
    let stdout = std::io::stdout();
    let partial = args.output.as_ref().map(|path| {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{}.partial", std::process::id()));
        path.with_file_name(name)
    });
    let mut out: Box<dyn Write> = match &partial {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            Box::new(std::io::BufWriter::with_capacity(1 << 16, file))
        }
        None => Box::new(std::io::BufWriter::with_capacity(1 << 16, stdout.lock())),
    };
    let mut report = |finding: Finding| print_conversion_finding(&args.file, &finding);
    let converted =
        convert::bulk::bulk_to_json(input, pack, catalog, limits, &mut out, &mut report).and_then(|converted| {
            out.flush()?;
            Ok(converted)
        });
    drop(out);
    let converted = match (converted, &partial) {
        (Ok(converted), None) => converted,
        (Ok(converted), Some(partial)) => {
            let path = args.output.as_deref().unwrap_or(partial);
            std::fs::rename(partial, path).with_context(|| format!("cannot write {}", path.display()))?;
            converted
        }
        (Err(e), _) => {
            if let Some(partial) = &partial {
                let _ = std::fs::remove_file(partial);
            }
            let convert::bulk::BulkError::Unreadable(finding) = e else { bail!("{}: {e}", display_path(&args.file)) };
            let at = finding
                .location
                .as_ref()
                .map(|l| format!(" (line {}, column {})", l.line, l.column))
                .unwrap_or_default();
            let partly = if partial.is_none() { "; the JSON written before it is incomplete" } else { "" };
            eprintln!("caregate: {}: {}{at}{partly}", display_path(&args.file), finding.message);
            return Ok(2);
        }
    };
    if converted.findings == 0 {
        eprintln!("converted as {} (round trip guaranteed)", pack.reference());
    } else {
        eprintln!("converted as {}, but the input does not conform: not round-trip guaranteed", pack.reference());
    }
    Ok(if converted.findings == 0 { 0 } else { 1 })
}

/// A diff as lines to read: a summary, then each change with its sign (`+` added, `-` removed, `~` changed)
/// and `BREAKING` where a document of the earlier version may not conform to the later.
fn diff_human(diff: &caregate_engine::standard::diff::Diff) -> String {
    use caregate_engine::standard::diff::Kind;
    let mut out = format!(
        "{} → {}: {} change{}, {} breaking\n",
        diff.from,
        diff.to,
        diff.changes.len(),
        if diff.changes.len() == 1 { "" } else { "s" },
        diff.breaking()
    );
    for change in &diff.changes {
        let sign = match change.kind {
            Kind::Added => '+',
            Kind::Removed => '-',
            Kind::Changed => '~',
        };
        let code = change.code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
        let breaking = if change.breaking { " BREAKING" } else { "" };
        out.push_str(&format!("{sign} {} {}{code}{breaking}: {}\n", change.what, change.path, change.detail));
    }
    out
}

/// A diff as a page of its own (no scripts, no outside resources): the summary and a table of the changes.
fn diff_html(diff: &caregate_engine::standard::diff::Diff) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let mut rows = String::new();
    for c in &diff.changes {
        let kind = c.kind.as_str();
        rows.push_str(&format!(
            "<tr{}><td>{kind}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            if c.breaking { " class=\"breaking\"" } else { "" },
            c.what,
            esc(&c.path),
            esc(c.code.as_deref().unwrap_or("")),
            if c.breaking { "yes" } else { "no" },
            esc(&c.detail)
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{from} → {to}</title>\n<style>body{{font-family:sans-serif;margin:2rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}}tr.breaking td{{background:#fde8e8}}</style></head>\n<body><h1>{from} → {to}</h1><p>{n} changes, {b} of them breaking (a document valid under {from} may not be under {to}).</p>\n<table><thead><tr><th scope=\"col\">Change</th><th scope=\"col\">What</th><th scope=\"col\">Path</th><th scope=\"col\">Code</th><th scope=\"col\">Breaking</th><th scope=\"col\">Detail</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>\n",
        from = esc(&diff.from),
        to = esc(&diff.to),
        n = diff.changes.len(),
        b = diff.breaking(),
    )
}

fn standards(catalog: &Catalog, command: StandardsCommand) -> Result<u8> {
    match command {
        StandardsCommand::New { id, version, output } => {
            if !caregate_engine::standard::scaffold::is_pack_id(&id) {
                bail!(
                    "`{id}` is not a pack id: lower-case letters and digits, words joined by `-` (e.g. visit-record)"
                );
            }
            if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
                bail!("`{version}` is not a version: letters, digits, `.`, `-` and `_`");
            }
            let dir = output.join(&id).join(&version);
            if dir.exists() {
                bail!("{} already exists: a new pack is written to a folder of its own", dir.display());
            }
            for (path, text) in caregate_engine::standard::scaffold::new_pack(&id, &version) {
                let path = dir.join(path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
                }
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
            }
            println!(
                "wrote {} (see its README.md); check it with `caregate standards check {}`",
                dir.display(),
                output.display()
            );
            return Ok(0);
        }
        StandardsCommand::Check { dirs } => {
            let mut failed = 0usize;
            let mut checked = 0usize;
            // Packs a later one extends are found among the embedded ones and those checked before it (a
            // tree's folders are taken in order, so a year comes before the year that extends it).
            let mut known = catalog.clone();
            for dir in &dirs {
                // One pack at a time, so that each mistake is said, not only the first of the tree.
                let folders = caregate_engine::standard::pack_folders(dir)?;
                if folders.is_empty() {
                    println!(
                        "{}: holds no standard pack (no standard.toml in it or in <id>/<version>/ below it)",
                        dir.display()
                    );
                    failed += 1;
                }
                for folder in folders {
                    checked += 1;
                    match known.add_dir(&folder) {
                        Ok(_) => println!("OK: {}", folder.display()),
                        Err(error) => {
                            // The error names the pack's folder and file.
                            println!("{error}");
                            failed += 1;
                        }
                    }
                }
            }
            println!("{checked} pack{} checked, {failed} with mistakes", if checked == 1 { "" } else { "s" });
            return Ok(u8::from(failed > 0));
        }
        StandardsCommand::List => {
            let mut out = String::new();
            out.push_str(&format!("{:<16} {:<9} {:<8} {:<6} {}\n", "ID", "VERSION", "STATUS", "RULES", "TITLE"));
            for pack in catalog.packs() {
                let m = &pack.manifest;
                out.push_str(&format!(
                    "{:<16} {:<9} {:<8} {:<6} {}\n",
                    m.id,
                    m.version,
                    m.status.to_string(),
                    pack.rules.len(),
                    m.title
                ));
            }
            write_output(&out, None)?;
        }
        StandardsCommand::Show { standard } => {
            let pack = find_standard(catalog, &standard)?;
            write_output(&caregate_engine::standard::export::describe(&pack), None)?;
        }
        StandardsCommand::Export { standard, format, output } => {
            let pack = find_standard(catalog, &standard)?;
            let text = match format {
                SchemaFormat::Xsd => caregate_engine::standard::export::xsd(&pack, catalog),
                SchemaFormat::JsonSchema => caregate_engine::standard::export::json_schema(&pack),
            };
            write_output(&text, output.as_deref())?;
        }
        StandardsCommand::Diff { from, to, format, output } => {
            let (from, to) = (find_standard(catalog, &from)?, find_standard(catalog, &to)?);
            let diff = caregate_engine::standard::diff::diff(&from, &to);
            let text = match format {
                super::DiffFormat::Json => diff.to_json(),
                super::DiffFormat::Human => diff_human(&diff),
                super::DiffFormat::Html => diff_html(&diff),
            };
            write_output(&text, output.as_deref())?;
        }
        StandardsCommand::Import(super::ImportCommand::Openapi(args)) => return import_openapi(&args),
        StandardsCommand::Import(super::ImportCommand::Xsd(args)) => return import_xsd(&args),
    }
    Ok(0)
}

/// The largest document imported: DfE's OpenAPI document is 44 KB, its CIN census XSD 60 KB.
const MAX_OPENAPI_BYTES: u64 = 16 * 1024 * 1024;

/// A published document to import (an OpenAPI document, an XSD), at most `MAX_OPENAPI_BYTES`.
fn read_published(file: &Path) -> Result<Vec<u8>> {
    let mut document = Vec::new();
    std::fs::File::open(file)
        .with_context(|| format!("cannot open {}", file.display()))?
        .take(MAX_OPENAPI_BYTES + 1)
        .read_to_end(&mut document)
        .with_context(|| format!("cannot read {}", file.display()))?;
    if document.len() as u64 > MAX_OPENAPI_BYTES {
        bail!("{} is larger than {MAX_OPENAPI_BYTES} bytes", file.display());
    }
    Ok(document)
}

/// Writes the pack imported from an OpenAPI document into `--output`, keeping the files of the folder the import
/// does not write (the pack's own rules and code lists), once the whole pack compiles.
fn import_openapi(args: &super::ImportOpenapiArgs) -> Result<u8> {
    use caregate_engine::standard::import::{self, ImportOptions};
    use caregate_engine::standard::PackFiles;
    let document = read_published(&args.file)?;
    let options = ImportOptions {
        schema: args.schema.clone(),
        id: args.id.clone(),
        version: args.version.clone(),
        publisher: args.publisher.clone(),
    };
    let mut written = import::openapi(&document, &options).with_context(|| format!("{}", args.file.display()))?;
    if let Some(licence) = &args.licence {
        let name = licence
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{}: not a file name", licence.display()))?;
        let bytes = std::fs::read(licence).with_context(|| format!("cannot read {}", licence.display()))?;
        written.insert(name.to_string(), bytes);
    }
    let mut files = if args.output.is_dir() { PackFiles::from_dir(&args.output)?.files } else { Default::default() };
    let kept = files.keys().filter(|k| !written.contains_key(*k)).count();
    files.extend(written.iter().map(|(k, v)| (k.clone(), v.clone())));
    let pack = StandardPack::compile(PackFiles { origin: args.output.display().to_string(), files })
        .context("the imported pack does not compile; nothing was written")?;
    std::fs::create_dir_all(&args.output).with_context(|| format!("cannot create {}", args.output.display()))?;
    for (name, bytes) in &written {
        let path = args.output.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "{}: {} {} imported ({} rules of the pack's own and {kept} other files kept)",
        args.output.display(),
        pack.id(),
        pack.version(),
        pack.rules.len(),
    );
    Ok(0)
}

/// Writes the pack imported from an XSD into `--output`/ID/VERSION, keeping the files of the folder the import
/// does not write (the pack's rules, examples), once the whole pack compiles; then says what the author must
/// still write.
fn import_xsd(args: &super::ImportXsdArgs) -> Result<u8> {
    use caregate_engine::standard::xsd::{self, ImportOptions};
    use caregate_engine::standard::PackFiles;
    let document = read_published(&args.file)?;
    let folder = args.output.join(&args.id).join(&args.version);
    let mut files = if folder.is_dir() { PackFiles::from_dir(&folder)?.files } else { Default::default() };
    let options = ImportOptions {
        id: args.id.clone(),
        version: args.version.clone(),
        root: args.root.clone(),
        source_name: args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        previous_manifest: files.get("standard.toml").map(|b| String::from_utf8_lossy(b).into_owned()),
    };
    let imported = xsd::import(&document, &options).with_context(|| format!("{}", args.file.display()))?;
    let kept = files.keys().filter(|k| !imported.files.contains_key(*k)).count();
    files.extend(imported.files.iter().map(|(k, v)| (k.clone(), v.clone())));
    let pack = StandardPack::compile(PackFiles { origin: folder.display().to_string(), files })
        .context("the imported pack does not compile; nothing was written")?;
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    for (name, bytes) in &imported.files {
        let path = folder.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "{}: {} {} imported ({} code lists; {} rules of the pack's own and {kept} other files kept)",
        folder.display(),
        pack.id(),
        pack.version(),
        pack.codelists.len(),
        pack.rules.len(),
    );
    println!("Left for you to write (the XSD cannot say):");
    for item in &imported.left_for_author {
        println!("  - {item}");
    }
    Ok(0)
}

fn generate(catalog: &Catalog, args: GenerateArgs) -> Result<u8> {
    let pack = find_standard(catalog, &args.standard)?;
    if !(0.0..=1.0).contains(&args.invalid_rate) {
        bail!("--invalid-rate must be between 0 and 1");
    }
    match caregate_generate::method(&pack)? {
        caregate_generate::Method::CinCensus => return generate_census_return(&pack, &args),
        caregate_generate::Method::Ssda903 => return generate_tables_return(&pack, &args),
        caregate_generate::Method::Examples => {}
    }
    if args.profile != caregate_generate::cin::Profile::Clean {
        bail!("--profile {} is for census returns; {} is generated from its examples", args.profile, pack.reference());
    }
    if !args.params.is_empty() || !args.references.is_empty() {
        bail!(
            "--param and --reference are for returns sent as tables; {} is generated from its examples",
            pack.reference()
        );
    }
    let target = match args.format {
        None | Some(GenerateFormat::Xml) => Target::Xml,
        Some(GenerateFormat::Json) => Target::Json,
        Some(GenerateFormat::Csv) => bail!("{} is not sent as CSV tables", pack.reference()),
    };
    let generator = caregate_generate::Generator::new(&pack, catalog, args.seed, args.invalid_rate)?;
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let extension = if target == Target::Xml { "xml" } else { "json" };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    for (i, doc) in generator.documents(args.count).enumerate() {
        let text = doc.render(target, &pack, catalog);
        match &args.output {
            Some(dir) => {
                let name = format!(
                    "{}-{:06}{}.{extension}",
                    pack.id(),
                    i + 1,
                    doc.fault.as_deref().map(|f| format!("-{f}")).unwrap_or_default()
                );
                std::fs::write(dir.join(&name), text).with_context(|| format!("cannot write {name}"))?;
            }
            None => lock.write_all(text.as_bytes())?,
        }
    }
    Ok(0)
}

fn serve(catalog: Catalog, args: super::ServeArgs) -> Result<u8> {
    use caregate_gateway as gateway;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let (mut config, tokens) = match &args.config {
        Some(path) => (gateway::config::Config::load(path, &catalog)?, None),
        None => {
            let data = args.data.clone().unwrap_or_else(|| PathBuf::from("./caregate-data"));
            let (config, tokens) = gateway::demo(&catalog, &data)?;
            (config, Some((tokens, data.join("demo-tokens.json"))))
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data) = args.data {
        config.store.data = data;
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = gateway::start(config, Arc::new(catalog)).await?;
        println!("caregate gateway listening on http://{}", running.address);
        let store = &running.app.config.store;
        match store.kind.as_str() {
            "postgres" => match caregate_gateway::store::postgres::connection(store) {
                Ok(connection) => println!("store: {}", caregate_gateway::store::postgres::describe(&connection)),
                Err(why) => println!("store: PostgreSQL ({why})"),
            },
            _ => println!("store: {}", store.data.display()),
        }
        if let Some((tokens, path)) = tokens {
            println!("demo bearer tokens (also in {}):", path.display());
            for (who, token) in &tokens {
                println!("  {who:<7} {token}");
            }
        }
        stop_signal().await?;
        running.stop();
        anyhow::Ok(())
    })?;
    Ok(0)
}

/// Waits for Ctrl-C or, on Unix, SIGTERM (how a service manager or a container runtime stops a service), so that
/// either way the store commits what is open, checkpoints and closes.
#[cfg(unix)]
async fn stop_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot wait for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("cannot wait for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn stop_signal() -> Result<()> {
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")
}

/// `caregate send dfe-csc-api`: exit 0 when everything valid was delivered, 1 when some children were refused
/// (and everything valid delivered), 2 when delivery could not finish.
fn send_command(catalog: &Catalog, args: super::SendArgs) -> Result<u8> {
    use caregate_gateway::dfe::send;
    let config = caregate_gateway::config::Config::load(&args.config, catalog)?;
    let Some(dfe) = config.outbound.dfe_csc_api.clone() else {
        bail!("{} has no [outbound.dfe-csc-api] section", args.config.display());
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        // The audit entries go to the gateway's store, shared or embedded; the outbox stays in `data`.
        let store: Arc<dyn caregate_gateway::store::Store> = if config.store.kind == "postgres" {
            Arc::new(caregate_gateway::store::postgres::PostgresStore::open(&config.store).await?)
        } else {
            Arc::new(
                caregate_gateway::store::sqlite::SqliteStore::open(&config.store.data, config.store.max_batch)
                    .with_context(|| format!("cannot open the store in {}", config.store.data.display()))?,
            )
        };
        anyhow::Ok(send::run(&config, catalog, store.as_ref(), &args.extracts).await?)
    })?;
    let text = if args.format == "json" {
        serde_json::to_string_pretty(&report).context("cannot write the report")? + "\n"
    } else {
        send_summary(&report, dfe.la_code)
    };
    write_output(&text, None)?;
    Ok(if report.stopped.is_some() {
        2
    } else if !report.refused.is_empty() {
        1
    } else {
        0
    })
}

fn send_summary(report: &caregate_gateway::dfe::send::SendReport, la_code: u32) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "DfE CSC API, la_code {la_code:03}: {} sent in {} batches, {} unchanged, {} purged, {} refused, {} retries",
        report.sent,
        report.batches,
        report.unchanged,
        report.purged,
        report.refused.len(),
        report.retries
    );
    for refused in &report.refused {
        let who = refused.la_child_id.as_deref().unwrap_or("(no la_child_id)");
        let at = if refused.extract.is_empty() {
            String::new()
        } else {
            format!(" at {}:{}:{}", refused.extract, refused.line, refused.column)
        };
        let _ = writeln!(out, "refused by {}: {who}{at}", refused.by);
        for finding in &refused.findings {
            let place = finding.location.as_ref().map(|l| format!("{}:{} ", l.line, l.column)).unwrap_or_default();
            let _ = writeln!(out, "  {}[{}] {place}{}", finding.severity, finding.rule, finding.message);
        }
    }
    if let Some(last) = report.receipts.last() {
        let _ = writeln!(out, "{} receipts stored (the last {})", report.receipts.len(), last.receipt);
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(out, "delivery could not finish: {why}");
    }
    if report.waiting > 0 {
        let _ = writeln!(out, "{} children wait in the outbox; the next run sends them first", report.waiting);
    }
    out
}

fn dfe_double(catalog: Catalog, args: super::DfeDoubleArgs) -> Result<u8> {
    use caregate_gateway::dfe::double::{self, DoubleConfig};
    let pack = find_standard(&catalog, &args.standard)?;
    if pack.manifest.payload.is_none() {
        bail!("{} is not a standard an API takes as a payload", pack.reference());
    }
    let config = DoubleConfig {
        client_id: args.client_id,
        client_secret: args.client_secret,
        supplier_key: args.supplier_key,
        token_ttl: std::time::Duration::from_secs(args.token_ttl),
        retry_after: args.retry_after,
        faults: args.faults,
        cycle: args.cycle,
        max_items: args.max_items,
        latency: std::time::Duration::from_millis(args.latency_ms),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = double::start(config, pack, Arc::new(catalog), &args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!("dfe-double listening on http://{}", running.address);
        println!("token endpoint: http://{}/oauth2/v2.0/token", running.address);
        std::io::stdout().flush().context("cannot write to standard output")?;
        stop_signal().await?;
        running.server.abort();
        anyhow::Ok(())
    })?;
    Ok(0)
}

/// The anchor file's format name.
const ANCHOR_FORMAT: &str = "caregate-audit-anchor/1";

/// The audit chain of a gateway's store, and where it was read: the store a configuration names (its SQLite
/// data folder or its PostgreSQL database), else the data folder.
fn audit_chain(
    catalog: &Catalog,
    data: &Path,
    config: Option<&Path>,
) -> Result<(Vec<caregate_gateway::audit::Entry>, String)> {
    let store = match config {
        Some(path) => caregate_gateway::config::Config::load(path, catalog)?.store,
        None => caregate_gateway::config::StoreConfig { data: data.to_path_buf(), ..Default::default() },
    };
    if store.kind == "postgres" {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        return runtime.block_on(async {
            let opened = caregate_gateway::store::postgres::PostgresStore::open(&store).await?;
            let entries = opened.audit_entries().await?;
            anyhow::Ok((entries, opened.target().to_string()))
        });
    }
    let entries = caregate_gateway::store::sqlite::read_audit(&store.data)
        .with_context(|| format!("cannot read the audit log in {}", store.data.display()))?;
    Ok((entries, store.data.display().to_string()))
}

fn audit_verify(entries: Vec<caregate_gateway::audit::Entry>, anchors: &[PathBuf], key: Option<&Path>) -> Result<u8> {
    use caregate_gateway::audit::{check_anchor, verify, Head, Verdict};
    let count = match verify(entries.iter().cloned()) {
        Verdict::Intact { entries } => entries,
        Verdict::Broken { seq, position, reason } => {
            println!("BROKEN at entry {position} (seq {seq}): {reason}");
            return Ok(1);
        }
    };
    let key = key.map(caregate_conformance::signature::read_public).transpose()?;
    for path in anchors {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).with_context(|| format!("{} is not an audit anchor", path.display()))?;
        if value.get("format").and_then(serde_json::Value::as_str) != Some(ANCHOR_FORMAT) {
            bail!("{} is not an audit anchor (its format is not {ANCHOR_FORMAT})", path.display());
        }
        if let Some(key) = &key {
            if let Err(error) = caregate_conformance::signature::verify(&bytes, key) {
                println!("FAILED: the anchor {}: {error}", path.display());
                return Ok(1);
            }
        }
        let head: Head = serde_json::from_value(value.get("head").cloned().unwrap_or_default())
            .with_context(|| format!("{} has no head", path.display()))?;
        if let Err(why) = check_anchor(&entries, &head) {
            println!("BROKEN against the anchor {}: {why}", path.display());
            return Ok(1);
        }
    }
    let vouched = match anchors.len() {
        0 => String::new(),
        1 => ", and it holds the entry its anchor vouches for".to_string(),
        n => format!(", and it holds the entries its {n} anchors vouch for"),
    };
    println!("OK: {count} audit entries, chain intact{vouched}");
    Ok(0)
}

fn audit_anchor(
    entries: Vec<caregate_gateway::audit::Entry>,
    place: &str,
    sign: Option<&Path>,
    output: &Path,
) -> Result<u8> {
    use caregate_gateway::audit::{head, verify, Verdict};
    if let Verdict::Broken { seq, position, reason } = verify(entries.iter().cloned()) {
        println!("BROKEN at entry {position} (seq {seq}): {reason}; no anchor written");
        return Ok(1);
    }
    let Some(head) = head(&entries) else { bail!("the audit log of {place} holds no entry to anchor") };
    let mut anchor = serde_json::json!({
        "format": ANCHOR_FORMAT,
        "created": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "head": head,
    });
    if let Some(key) = sign {
        let key = caregate_conformance::signature::read_private(key)?;
        caregate_conformance::signature::sign_value(&mut anchor, &key);
    }
    let mut text = serde_json::to_string_pretty(&anchor)?;
    text.push('\n');
    std::fs::write(output, text).with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "anchored entry {} ({}) in {}: keep it apart from the gateway's store",
        head.seq,
        head.hash.get(..12).unwrap_or(&head.hash),
        output.display()
    );
    Ok(0)
}

fn config_check(catalog: &Catalog, file: &Path) -> Result<u8> {
    match caregate_gateway::config::Config::load(file, catalog) {
        Ok(config) => {
            println!(
                "OK: {} organisations, {} senders, listening on {}",
                config.organisations.len(),
                config.senders.len(),
                config.listen
            );
            if let Some(dfe) = &config.outbound.dfe_csc_api {
                println!("outbound dfe-csc-api: la_code {:03} to {} as {}", dfe.la_code, dfe.endpoint, dfe.standard);
            }
            if config.store.kind == "postgres" {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                match runtime.block_on(caregate_gateway::store::postgres::probe(&config.store)) {
                    Ok(found) => println!("store: {found}"),
                    Err(error) => {
                        println!("store: cannot use the database: {error}");
                        return Ok(1);
                    }
                }
            }
            Ok(0)
        }
        Err(error) => {
            println!("{error}");
            Ok(1)
        }
    }
}

/// A census return: `--count` is the number of children in one return, written as it is generated to standard
/// output or to `--output` (a file, or a folder to hold `<id>-<version>.xml`).
fn generate_census_return(pack: &StandardPack, args: &GenerateArgs) -> Result<u8> {
    if !args.params.is_empty() || !args.references.is_empty() {
        bail!("--param and --reference are for returns sent as tables, not a {} return", pack.reference());
    }
    if args.format.is_some_and(|f| f != GenerateFormat::Xml) {
        bail!("a {} return is generated as XML; convert it with `caregate convert --to json`", pack.reference());
    }
    let profile = args.profile;
    let write = |out: &mut dyn Write| {
        caregate_generate::cin::write_return_with(pack, args.count, args.seed, args.invalid_rate, profile, out)
    };
    let summary = match &args.output {
        Some(path) => {
            let path =
                if path.is_dir() { path.join(format!("{}-{}.xml", pack.id(), pack.version())) } else { path.clone() };
            let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            write(&mut std::io::BufWriter::with_capacity(1 << 20, file))?
        }
        None => write(&mut std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))?,
    };
    let faults: usize = summary.faults.values().sum();
    let mistakes: usize = summary.mistakes.values().sum();
    let mistakes = if profile == caregate_generate::cin::Profile::Messy {
        format!(", {mistakes} first-submission mistakes")
    } else {
        String::new()
    };
    eprintln!(
        "caregate: generated a {} return of {} children ({} bytes); {faults} deliberate faults{mistakes}",
        pack.reference(),
        summary.children,
        summary.bytes
    );
    Ok(0)
}

/// A return sent as tables (SSDA903): `--count` children in one return, written to the folder `--output` as
/// one CSV file per table.
fn generate_tables_return(pack: &StandardPack, args: &GenerateArgs) -> Result<u8> {
    let mut la_code = None;
    for (name, value) in &args.params {
        match name.as_str() {
            "la_code" if la_code.is_none() => la_code = Some(value.clone()),
            "la_code" => bail!("--param la_code=… is given twice"),
            other => bail!("--param {other}: a {} return is generated for a council, la_code=CODE", pack.reference()),
        }
    }
    let postcodes = load_references(&args.references)?.postcodes;
    let area = caregate_generate::ssda903::Area { postcodes: postcodes.clone(), la_code };
    let settings = caregate_generate::ssda903::Settings {
        count: args.count,
        seed: args.seed,
        invalid_rate: args.invalid_rate,
        profile: args.profile,
        area,
    };
    let plan = caregate_generate::ssda903::Plan::of(pack)?;
    let (summary, written) = match args.format {
        Some(GenerateFormat::Json) => {
            bail!("a {} return is generated as CSV tables or XML, not JSON", pack.reference())
        }
        Some(GenerateFormat::Xml) => {
            let write = |out: &mut dyn Write| caregate_generate::ssda903::write_xml(pack, &plan, &settings, out);
            match &args.output {
                Some(path) => {
                    let path = if path.is_dir() {
                        path.join(format!("{}-{}.xml", pack.id(), pack.version()))
                    } else {
                        path.clone()
                    };
                    let file =
                        std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
                    (write(&mut std::io::BufWriter::with_capacity(1 << 20, file))?, format!(" as {} (", path.display()))
                }
                None => {
                    (write(&mut std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))?, " (".into())
                }
            }
        }
        None | Some(GenerateFormat::Csv) => {
            let Some(dir) = &args.output else {
                bail!(
                    "a {} return is one CSV file per table: give the folder to write them to with --output (or write its XML form with --format xml)",
                    pack.reference()
                );
            };
            if dir.is_file() {
                bail!("{} is a file; a {} return is written to a folder", dir.display(), pack.reference());
            }
            let summary = caregate_generate::ssda903::write_return(pack, &settings, dir)?;
            let files = summary.files.len();
            (summary, format!(" in {} ({files} files, ", dir.display()))
        }
    };
    // The postcodes were drawn from every block of the directory: one left out would bias them.
    postcodes_sound(postcodes.as_deref())?;
    let faults: usize = summary.faults.values().sum();
    let mistakes = if args.profile == caregate_generate::cin::Profile::Messy {
        format!(", {} first-submission mistakes", summary.mistakes)
    } else {
        String::new()
    };
    eprintln!(
        "caregate: generated {}'s {} return of {} children{written}{} bytes); {faults} deliberate faults{mistakes}",
        summary.la_code,
        pack.reference(),
        summary.children,
        summary.bytes
    );
    Ok(0)
}

// ---- conformance: suites, certification, signed reports ----

fn load_suites(catalog: &Catalog, dir: Option<&Path>) -> Result<Vec<caregate_conformance::suite::Suite>> {
    caregate_conformance::suite::load_all(catalog, dir).context("cannot load the conformance suites")
}

fn load_waivers(args: &super::EvidenceArgs) -> Result<Vec<caregate_conformance::waiver::Waiver>> {
    match &args.waivers {
        Some(path) => Ok(caregate_conformance::waiver::load(path)?),
        None => Ok(Vec::new()),
    }
}

/// Signs (when asked) and writes the evidence to `OUTPUT/<run-id>/`; prints where and the verdict.
fn write_evidence(
    mut evidence: caregate_conformance::evidence::Evidence,
    args: &super::EvidenceArgs,
) -> Result<caregate_conformance::evidence::Evidence> {
    if let Some(key) = &args.sign {
        let key = caregate_conformance::signature::read_private(key)?;
        caregate_conformance::signature::sign(&mut evidence, &key);
    }
    let dir = args.output.join(&evidence.run_id);
    evidence.write(&dir)?;
    let s = &evidence.summary;
    println!(
        "{} {}@{} ({}): {} — requirements: {} passed, {} failed, {} waived, {} untested; cases: {}/{} passed",
        evidence.kind.title(),
        evidence.standard.id,
        evidence.standard.version,
        evidence.subject.supplier,
        evidence.verdict.title(),
        s.passed,
        s.failed,
        s.waived,
        s.untested,
        s.cases_passed,
        s.cases
    );
    for case in evidence.cases.iter().filter(|c| !c.passed) {
        println!("  FAIL {}: {}", case.id, case.problems.join("; "));
    }
    if !evidence.untested.is_empty() {
        println!("  untested: {}", evidence.untested.join(", "));
    }
    println!("  report: {}", dir.join("report.html").display());
    Ok(evidence)
}

fn suite_command(catalog: &Catalog, command: super::SuiteCommand) -> Result<u8> {
    match command {
        super::SuiteCommand::Run { standard, evidence: args } => {
            let suites = load_suites(catalog, args.suites.as_deref())?;
            let chosen: Vec<&caregate_conformance::suite::Suite> = match &standard {
                Some(reference) => vec![caregate_conformance::suite::find(&suites, reference)?],
                None => suites.iter().collect(),
            };
            let waivers = load_waivers(&args)?;
            let mut failed = false;
            for suite in chosen {
                let evidence = write_evidence(
                    caregate_conformance::run::run(
                        suite,
                        catalog,
                        &supplier(&args, &caregate_conformance::run::engine()),
                        &waivers,
                    ),
                    &args,
                )?;
                failed |= evidence.summary.cases_failed > 0;
            }
            Ok(u8::from(failed))
        }
        super::SuiteCommand::Coverage { standard, suites } => {
            let suites = load_suites(catalog, suites.as_deref())?;
            let chosen: Vec<&caregate_conformance::suite::Suite> = match &standard {
                Some(reference) => vec![caregate_conformance::suite::find(&suites, reference)?],
                None => suites.iter().collect(),
            };
            let mut uncovered = 0;
            for suite in chosen {
                let missing = suite.uncovered();
                println!(
                    "{}: {} requirements, {} cases, {} without a case",
                    suite.reference(),
                    suite.requirements.len(),
                    suite.manifest.cases.len(),
                    missing.len()
                );
                for r in &missing {
                    println!("  {} [{}] {}", r.id, r.level.as_str(), r.text);
                }
                uncovered += missing.len();
            }
            Ok(u8::from(uncovered > 0))
        }
    }
}

fn supplier(args: &super::EvidenceArgs, default: &str) -> String {
    args.supplier.clone().unwrap_or_else(|| default.to_string())
}

fn certify_command(catalog: &Catalog, command: super::CertifyCommand) -> Result<u8> {
    use caregate_conformance::{gateway, producer, receiver, suite};
    let runtime =
        || tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime");
    let evidence = match command {
        super::CertifyCommand::Receiver {
            standard,
            endpoint,
            token,
            sender_tokens,
            headers,
            format,
            evidence: args,
        } => {
            let suites = load_suites(catalog, args.suites.as_deref())?;
            let chosen = suite::find(&suites, &standard)?;
            let transport = suite::find(&suites, "envelope@1.0")?.requirements.clone();
            let mut tokens_by_sender = std::collections::BTreeMap::new();
            for pair in &sender_tokens {
                let (org, token) =
                    pair.split_once('=').ok_or_else(|| anyhow!("--sender-token `{pair}`: expected ORG=TOKEN"))?;
                tokens_by_sender.insert(org.to_string(), token.to_string());
            }
            let target = receiver::Target {
                supplier: supplier(&args, &endpoint),
                endpoint,
                token,
                tokens_by_sender,
                format: format.map(|f| f.as_str().to_string()),
                timeout: std::time::Duration::from_secs(30),
                headers: headers
                    .iter()
                    .map(|pair| {
                        pair.split_once('=')
                            .map(|(n, v)| (n.to_string(), v.to_string()))
                            .ok_or_else(|| anyhow!("--header `{pair}`: expected NAME=VALUE"))
                    })
                    .collect::<Result<_>>()?,
            };
            let waivers = load_waivers(&args)?;
            let evidence = runtime()?.block_on(receiver::certify(chosen, &transport, catalog, &target, &waivers))?;
            write_evidence(evidence, &args)?
        }
        super::CertifyCommand::Producer { standard, scenarios, submissions, evidence: args } => {
            let suites = load_suites(catalog, args.suites.as_deref())?;
            let chosen = suite::find(&suites, &standard)?;
            let others: Vec<_> =
                suites.iter().filter(|s| !std::ptr::eq(*s, chosen)).flat_map(|s| s.requirements.clone()).collect();
            let waivers = load_waivers(&args)?;
            let name = supplier(&args, &submissions.display().to_string());
            let evidence = producer::certify(chosen, &others, catalog, &scenarios, &submissions, &name, &waivers)?;
            write_evidence(evidence, &args)?
        }
        super::CertifyCommand::Gateway { url, token, sender, recipient, recipient_token, tokens, evidence: args } => {
            let suites = load_suites(catalog, args.suites.as_deref())?;
            let envelope = suite::find(&suites, "envelope@1.0")?;
            let (organisation, role) =
                recipient.split_once(':').ok_or_else(|| anyhow!("--recipient `{recipient}`: expected ORG:ROLE"))?;
            // Tokens not given are taken from the tokens file, when there is one (the demo's, by default).
            let known: std::collections::BTreeMap<String, String> = match std::fs::read(&tokens) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a JSON object of tokens by organisation", tokens.display()))?,
                Err(_) if token.is_some() => std::collections::BTreeMap::new(),
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!("no --token given, and cannot read the tokens file {}", tokens.display())
                    })
                }
            };
            let token = match token.or_else(|| known.get(&sender).cloned()) {
                Some(token) => token,
                None => bail!("no --token given, and {} has none for the sender {sender}", tokens.display()),
            };
            let recipient_token = recipient_token.or_else(|| known.get(organisation).cloned());
            let target = gateway::Target {
                url: url.clone(),
                token,
                sender,
                recipient: organisation.to_string(),
                role: role.to_string(),
                recipient_token,
                supplier: supplier(&args, &url),
            };
            let waivers = load_waivers(&args)?;
            let evidence = runtime()?.block_on(gateway::certify(envelope, catalog, &target, &waivers))?;
            write_evidence(evidence, &args)?
        }
    };
    Ok(u8::from(!evidence.conformant))
}

fn report_command(command: super::ReportCommand) -> Result<u8> {
    match command {
        super::ReportCommand::Verify { report, key } => {
            let key = caregate_conformance::signature::read_public(&key)?;
            let bytes = std::fs::read(&report).with_context(|| format!("cannot read {}", report.display()))?;
            match caregate_conformance::signature::verify(&bytes, &key) {
                Ok(()) => {
                    // The HTML report and the JUnit file are renderings of the signed JSON: each beside it must
                    // be what the JSON renders as, or the signature does not vouch for what a reader sees.
                    let evidence = caregate_conformance::evidence::Evidence::read(&report)?;
                    let dir = report.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    let changed = evidence.changed_renderings(dir)?;
                    if !changed.is_empty() {
                        println!(
                            "FAILED: {} is signed and unchanged, but {} beside it {} not what it renders as (changed after signing)",
                            report.display(),
                            changed.join(" and "),
                            if changed.len() == 1 { "is" } else { "are" }
                        );
                        return Ok(1);
                    }
                    println!(
                        "OK: {} is signed by key {} and unchanged, and so are the reports rendered from it beside it",
                        report.display(),
                        caregate_conformance::signature::key_id(&key)
                    );
                    Ok(0)
                }
                Err(error) => {
                    println!("FAILED: {}: {error}", report.display());
                    Ok(1)
                }
            }
        }
        super::ReportCommand::Matrix { dirs, output } => {
            let matrix = caregate_conformance::matrix::Matrix::collect(&dirs)?;
            let written = matrix.write(&output)?;
            println!("{} suppliers × {} requirements", matrix.suppliers.len(), matrix.requirements.len());
            for path in written {
                println!("  {}", path.display());
            }
            Ok(0)
        }
    }
}

fn keygen_command(prefix: &Path) -> Result<u8> {
    let (private, public) = caregate_conformance::signature::keygen(prefix)?;
    println!("private key: {} (keep it secret)", private.display());
    println!("public key:  {} (give it to whoever verifies your reports)", public.display());
    Ok(0)
}
