//! The `caregate` command: the command line over the engine (`caregate-engine`), the generator, conformance
//! and the gateway. [`cli`] is the only place that knows about terminals and exit codes.
#![forbid(unsafe_code)]

mod cli;

// Parsing builds many small strings; mimalloc serves them markedly faster than the system allocator
// (see BENCHMARKS.md). It is built without transparent huge pages (`no_thp`): asking for them made each
// 2 MiB of its heap count in full once touched, a third more resident memory on a large return.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
