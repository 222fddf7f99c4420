//! `tessera explain E0123`: the long explanation of a diagnostic code, with a wrong and a right
//! example; `tessera explain --list` lists every code with its title.

use std::process::ExitCode;
use tessera_diag::codes;

#[derive(clap::Args)]
pub struct Args {
    /// A diagnostic code such as E0100.
    code: Option<String>,
    /// List every code with its one-line title.
    #[arg(long)]
    list: bool,
}

pub fn main(args: Args) -> ExitCode {
    if args.list || args.code.is_none() {
        for c in codes::CODES {
            println!("{}  {}", c.code, c.title);
        }
        return if args.list {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    let code = args.code.unwrap_or_default();
    match codes::lookup(&code) {
        Some(info) => {
            print!("{}", info.long_text());
            ExitCode::SUCCESS
        }
        None => {
            match later_stage_doc(&code) {
                Some(doc) => eprintln!(
                    "error: `{code}` is not a front-end diagnostic; codes of its range are described in {doc}"
                ),
                None => eprintln!(
                    "error: unknown diagnostic code `{code}` (`tessera explain --list` shows all codes)"
                ),
            }
            ExitCode::from(2)
        }
    }
}

/// Where the codes of the stages after the front end (which have no WRONG/RIGHT source examples)
/// are documented, by range (docs/LANGUAGE.md, "Diagnostics", lists the ranges).
fn later_stage_doc(code: &str) -> Option<&'static str> {
    let range = code.get(..3)?.to_ascii_uppercase();
    Some(match range.as_str() {
        "E05" | "E06" => "docs/NUMERICS.md (buffers and .npy files: E05xx; interpreter: E06xx)",
        "E07" => "docs/TARGETS.md",
        "E08" => "docs/NUMERICS.md, \"Reference conventions\"",
        "E09" => "docs/LANGUAGE.md, \"Diagnostics\" (tools)",
        _ => return None,
    })
}
