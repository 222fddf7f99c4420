//! `tessera explain E0123`: the long explanation of a diagnostic code, with a wrong and a right
//! example; `tessera explain --list` lists every code with its title. Front-end codes come with
//! `.tsr` examples; later stages' codes (E05xx-E09xx, L0001) with the command and what to change.

use std::process::ExitCode;
use tessera_diag::codes;

#[derive(clap::Args)]
pub struct Args {
    /// A diagnostic code such as E0100, E0607 or L0001.
    code: Option<String>,
    /// List every code with its one-line title.
    #[arg(long)]
    list: bool,
}

pub fn main(args: Args) -> ExitCode {
    if args.list || args.code.is_none() {
        for (code, title) in codes::titles() {
            println!("{code}  {title}");
        }
        if args.list {
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "error[{}]: give a code to explain, e.g. `tessera explain E0110` (the codes are listed above)",
            crate::cmd::E_USAGE
        );
        return ExitCode::from(2);
    }
    let code = args.code.unwrap_or_default();
    match codes::explain(&code) {
        Some(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "error[{}]: unknown diagnostic code `{code}` (`tessera explain --list` shows all codes)",
                crate::cmd::E_USAGE
            );
            ExitCode::from(2)
        }
    }
}
