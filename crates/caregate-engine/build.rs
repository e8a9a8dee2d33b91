//! The standard packs are embedded in the engine; rebuild when any file in them changes, is added or is removed.
fn main() {
    println!("cargo:rerun-if-changed=../../schemas");
}
