//! The conformance suites are embedded; rebuild when any file in them changes, is added or is removed.
fn main() {
    println!("cargo:rerun-if-changed=../../conformance-suite");
}
