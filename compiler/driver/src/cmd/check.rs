//! `tessera check FILE... [--diagnostics=human|json]`: parse and type-check; exit 0 when every file
//! is free of errors, 1 otherwise (2 when a file cannot be read).

use clap::ValueEnum;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// A source file that cannot be read (missing, a directory, no permission). It has no source to
/// point into, so it is not a checker diagnostic; E09xx is the tools' range.
pub const E_UNREADABLE: &str = "E0910";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Rendered for people (colored on a terminal).
    Human,
    /// One JSON object per diagnostic per line, for agents and tools.
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// .tsr source files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output form of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    diagnostics: Format,
}

pub fn main(args: Args) -> ExitCode {
    let json = args.diagnostics == Format::Json;
    let color = !json && std::io::stdout().is_terminal();
    let mut failed = false;
    let mut unreadable = false;
    for path in &args.files {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                let message = format!("cannot read {name}: {e}");
                if json {
                    // Tools reading the JSON stream see the failure too, not only a line on stderr.
                    let v = serde_json::json!({
                        "code": E_UNREADABLE, "severity": "error", "file": name, "message": message,
                    });
                    println!("{v}");
                } else {
                    eprintln!("error[{E_UNREADABLE}]: {message}");
                }
                unreadable = true;
                continue;
            }
        };
        let (_module, diags) = tessera_check::check_source(&name, &bytes);
        if diags.iter().any(|d| d.is_error()) {
            failed = true;
        }
        print!(
            "{}",
            tessera_check::render_diagnostics(&name, &bytes, &diags, json, color)
        );
    }
    if unreadable {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
