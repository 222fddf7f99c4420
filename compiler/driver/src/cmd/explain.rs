//! `tessera explain`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn main(_args: Args) -> ExitCode {
    eprintln!("error: `tessera explain` is not available in this build yet");
    ExitCode::from(2)
}
