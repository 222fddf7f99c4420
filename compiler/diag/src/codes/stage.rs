//! Codes of the stages after the front end (numerics, interpreter, prepack, targets, oracle,
//! lowering, tools). Their constants live in the crates that emit them (this crate depends on none
//! of those); an entry here only documents a code, with a WRONG and a RIGHT example given as the
//! command a user runs, the `.tsr` it reads (when the code comes from source) and what to change.

/// A `.npy` input an example's command reads, described by its header: `tessera explain` prints
/// it, and the registry test writes it (zero-filled) next to `x.tsr` before running the command.
#[derive(Clone, Copy, Debug)]
pub struct NpyFile {
    pub name: &'static str,
    /// numpy's descr, e.g. `<f4`, `<u2` (bf16 bits), `|u1` (narrow-float codes).
    pub descr: &'static str,
    /// The shape in the header (FP4: the packed axis already halved).
    pub shape: &'static [usize],
    /// `fortran_order` in the header.
    pub fortran: bool,
}

/// One run of a command, as a WRONG or a RIGHT example.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    /// The `.tsr` program the command reads as `x.tsr`; empty when the situation is not about
    /// the source (a missing file, an API call).
    pub source: &'static str,
    /// `.npy` files the command reads.
    pub files: &'static [NpyFile],
    /// The command line, starting with `tessera` (or the library call, for codes the CLI does not
    /// reach: it checks those situations before the library sees them).
    pub command: &'static str,
    /// What goes wrong (WRONG) or what was changed (RIGHT).
    pub note: &'static str,
}

/// Whether the registry test can reproduce an entry by running its examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The test writes `source` to `x.tsr` in a scratch directory, runs `command` there and expects
    /// the WRONG run to fail with the code and the RIGHT run to succeed.
    Run,
    /// Needs files or a fault the test cannot make cheaply (a `.npy` on disk, a compiler bug);
    /// the test checks the entry's presence and format only.
    Describe,
}

/// One documented code of a later stage.
#[derive(Clone, Copy, Debug)]
pub struct StageCodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    /// The crate and module that defines and emits the code.
    pub stage: &'static str,
    /// What the rule is and why it exists (one paragraph).
    pub explanation: &'static str,
    pub wrong: Example,
    pub right: Example,
    pub check: Check,
}

impl StageCodeInfo {
    /// The long text `tessera explain` prints.
    pub fn long_text(&self) -> String {
        format!(
            "{}: {}\n\nEmitted by {}.\n\n{}\n\nWRONG:\n\n{}\n\nRIGHT:\n\n{}\n",
            self.code,
            self.title,
            self.stage,
            super::wrap(self.explanation.trim(), 100),
            example_text(&self.wrong),
            example_text(&self.right)
        )
    }
}

fn example_text(e: &Example) -> String {
    let mut parts = Vec::new();
    if !e.source.is_empty() {
        parts.push(format!("// x.tsr\n{}", e.source.trim_end()));
    }
    for f in e.files {
        let dims: Vec<String> = f.shape.iter().map(usize::to_string).collect();
        parts.push(format!(
            "// {}: descr '{}', shape ({}){}",
            f.name,
            f.descr,
            dims.join(", "),
            if f.fortran { ", fortran_order True" } else { "" }
        ));
    }
    // Shell lines get a prompt; library-only situations are shown as the call that fails.
    if e.command.starts_with("tessera ") {
        parts.push(format!("$ {}", e.command));
    } else {
        parts.push(format!("call: {}", e.command));
    }
    parts.push(super::wrap(e.note.trim(), 96));
    super::indent(&parts.join("\n\n"))
}
