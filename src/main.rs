//! The `caregate` command. All of it lives in `caregate::cli`.

// Parsing builds many small strings; mimalloc serves them markedly faster than the system allocator
// (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    caregate::cli::main()
}
