//! `tessera validate`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn main(_args: Args) -> ExitCode {
    eprintln!("error: `tessera validate` is not available in this build yet");
    ExitCode::from(2)
}
