//! One module per subcommand. Each exposes `Args` (clap) and `main(Args) -> ExitCode`.

pub mod bench;
pub mod build;
pub mod check;
pub mod demo;
pub mod explain;
pub mod opt;
pub mod run;
pub mod validate;
