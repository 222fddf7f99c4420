//! One module per subcommand. Each exposes `Args` (clap) and `main(Args) -> ExitCode`.

pub mod bench;
pub mod build;
pub mod check;
pub mod demo;
pub mod explain;
pub mod interp_run;
pub mod opt;
pub mod run;
pub mod validate;

/// Code of a command-line usage error: a flag or value clap rejects, or a combination a
/// subcommand rejects (exit status 2).
pub const E_USAGE: &str = "E0903";
