//! The `caregate` command. All of it lives in `caregate::cli`.

fn main() -> std::process::ExitCode {
    caregate::cli::main()
}
