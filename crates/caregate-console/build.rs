//! Embeds the engine's module (`target/wasm/caregate.wasm`, written by `bash scripts/build-wasm.sh`) when it
//! has been built; without it the crate still builds, and says so ([`WASM`] is `None`).
//! `CAREGATE_WASM=FILE` names another module.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=CAREGATE_WASM");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    let module =
        std::env::var_os("CAREGATE_WASM").map(PathBuf::from).unwrap_or_else(|| root.join("target/wasm/caregate.wasm"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("wasm.rs");
    let code = if module.is_file() {
        println!("cargo:rerun-if-changed={}", module.display());
        let path = module.canonicalize().unwrap_or(module);
        format!("Some(include_bytes!({:?}))", path.display().to_string())
    } else {
        // Rebuilt when the module appears: the nearest folder on its way that exists changes then.
        let watched = [module.parent(), Some(root.join("target").as_path()), Some(root.as_path())]
            .into_iter()
            .flatten()
            .find(|dir| dir.is_dir())
            .map(Path::to_path_buf);
        if let Some(dir) = watched {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
        "None".to_string()
    };
    if let Err(error) = std::fs::write(&out, code) {
        panic!("cannot write {}: {error}", out.display());
    }
}
