//! caregate's pages for the browser, embedded in the binary: the static validation site (the engine in
//! WebAssembly; a council's files never leave the machine) and the gateway console (`/console` on
//! `caregate serve`, over the gateway's own API).
//!
//! For: `caregate console export DIR` (the site as files, for any static web server or file share) and the
//! gateway's routes that serve the same files. The pages themselves are plain HTML, CSS and JS in `site/`
//! and `gateway/`, with no build step; the engine's module is `crates/caregate-wasm` built by
//! `bash scripts/build-wasm.sh`, embedded when it was built before this crate ([`WASM`]).
//!
//! Not for: validation itself (the engine, in the module) or the gateway's API (the gateway crate).

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};

static SITE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/site");
static GATEWAY: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/gateway");

/// The file name the site's worker loads the engine from.
pub const WASM_NAME: &str = "caregate.wasm";

/// The engine's module as built by `bash scripts/build-wasm.sh` before this crate was; `None` when it was not.
pub const WASM: Option<&[u8]> = include!(concat!(env!("OUT_DIR"), "/wasm.rs"));

/// What to say when the module is wanted and was not built in.
pub const WASM_MISSING: &str = "this caregate was built without the console's engine (caregate.wasm): run \
`bash scripts/build-wasm.sh`, then build caregate again (or set CAREGATE_WASM=FILE when building)";

/// A file of the validation site by its path (`index.html`, `caregate.wasm`), if there is one.
pub fn site_file(path: &str) -> Option<&'static [u8]> {
    if path == WASM_NAME {
        return WASM;
    }
    SITE.get_file(path).map(|f| f.contents())
}

/// A file of the gateway console by its path (`index.html`, `console.js`), if there is one.
pub fn gateway_file(path: &str) -> Option<&'static [u8]> {
    GATEWAY.get_file(path).or_else(|| SITE.get_file(path).filter(|_| path == "console.css")).map(|f| f.contents())
}

/// The `Content-Type` of a page's file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Why the site could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{WASM_MISSING}")]
    NoEngine,
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The file a page opened from a `file://` address loads instead of fetching (which browsers refuse there).
pub const OFFLINE_NAME: &str = "caregate-offline.js";

/// The offline copy of the engine: a classic script defining `CAREGATE_OFFLINE` with the worker's source
/// (engine.js and worker.js, run from a `blob:` URL) and the module, gzipped and in base64. A page from a
/// file share cannot fetch its own files, nor start a worker from one, but it can load a script.
pub fn offline_script(wasm: &[u8]) -> std::io::Result<Vec<u8>> {
    use base64::Engine as _;
    use std::io::Write as _;
    let source = |name: &str| SITE.get_file(name).and_then(|f| f.contents_utf8()).unwrap_or_default();
    let worker = format!("self.CAREGATE_OFFLINE_WORKER = true;\n{}\n{}", source("engine.js"), source("worker.js"));
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(wasm)?;
    let packed = base64::engine::general_purpose::STANDARD.encode(gzip.finish()?);
    let worker = serde_json::to_string(&worker).map_err(std::io::Error::other)?;
    Ok(format!(
        "// caregate's engine for a page opened from a file share (made by `caregate console export`).\n\
         self.CAREGATE_OFFLINE = {{ worker: {worker}, wasm: \"{packed}\" }};\n"
    )
    .into_bytes())
}

/// Writes the validation site into `dir` (made if missing): its pages, the engine's module, and its offline
/// copy. Gives the files written. Refuses, writing nothing, when the module was not built in.
pub fn export(dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let wasm = WASM.ok_or(ExportError::NoEngine)?;
    let offline = offline_script(wasm).map_err(|source| ExportError::Write { path: dir.join(OFFLINE_NAME), source })?;
    let mut files: Vec<(PathBuf, &[u8])> = SITE.files().map(|f| (dir.join(f.path()), f.contents())).collect();
    files.push((dir.join(WASM_NAME), wasm));
    files.push((dir.join(OFFLINE_NAME), &offline));
    for (path, bytes) in &files {
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)
        };
        write().map_err(|source| ExportError::Write { path: path.clone(), source })?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}
