//! The standard packs (and conformance suites) are embedded in the binary; rebuild when any file in them
//! changes, is added or is removed.
fn main() {
    println!("cargo:rerun-if-changed=schemas");
    println!("cargo:rerun-if-changed=conformance-suite");
}
