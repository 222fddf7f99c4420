//! The registry of diagnostic codes: one constant per kind, a one-line title, and a long explanation
//! with a WRONG and a RIGHT example each (`tessera explain E0123`). A test in tessera-check runs every
//! wrong example through the checker (it must produce its code) and every right one (it must be clean).
//!
//! Codes of the later stages (E05xx numerics, E06xx interpreter/prepack, E07xx targets, E08xx oracle,
//! E09xx tools, L0001 lowering) are defined in their own crates; [`STAGE_CODES`] only documents them,
//! with command-line examples (a test in tessera-cli greps the sources for every code literal).

/// One registered code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    /// What the rule is and why it exists.
    pub explanation: &'static str,
    /// A complete source that produces this code (bytes: E0001's example is not UTF-8).
    pub wrong: &'static [u8],
    /// The same program fixed; it checks clean.
    pub right: &'static str,
}

impl CodeInfo {
    /// The long text `tessera explain` prints.
    pub fn long_text(&self) -> String {
        format!(
            "{}: {}\n\n{}\n\nWRONG:\n\n{}\n\nRIGHT:\n\n{}\n",
            self.code,
            self.title,
            wrap(self.explanation.trim(), 100),
            indent(&String::from_utf8_lossy(self.wrong)),
            indent(self.right)
        )
    }
}

/// Greedy word wrap (explanations are single paragraphs in the source).
fn wrap(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    for w in s.split_whitespace() {
        let n = w.chars().count();
        if col > 0 && col + 1 + n > width {
            out.push('\n');
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(w);
        col += n;
    }
    out
}

fn indent(s: &str) -> String {
    s.trim_end()
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The registered front-end entry of `code` (case-insensitive, e.g. "e0100").
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

// ---- source-level ----
pub const NOT_UTF8: &str = "E0001";
pub const EMPTY_FILE: &str = "E0002";
pub const INVALID_TOKEN: &str = "E0003";
pub const UNEXPECTED_TOKEN: &str = "E0004";
pub const UNCLOSED_DELIMITER: &str = "E0005";
pub const UNMATCHED_CLOSER: &str = "E0006";
pub const INT_OVERFLOW: &str = "E0007";
pub const TOO_DEEP: &str = "E0008";
// ---- names ----
pub const UNKNOWN_NAME: &str = "E0100";
pub const DUPLICATE_NAME: &str = "E0101";
pub const UNKNOWN_FUNCTION: &str = "E0102";
pub const WRONG_ARITY: &str = "E0103";
pub const BAD_NAMED_ARG: &str = "E0104";
pub const UNKNOWN_TYPE: &str = "E0105";
pub const ASSIGN_NOT_VAR: &str = "E0106";
pub const VAR_UNASSIGNED: &str = "E0107";
pub const UNKNOWN_ATTRIBUTE: &str = "E0108";
pub const BAD_REFERENCE_OPTION: &str = "E0109";
// ---- types and shapes ----
pub const DTYPE_MISMATCH: &str = "E0110";
pub const SHAPE_MISMATCH: &str = "E0111";
pub const DOT_INNER_DIM: &str = "E0112";
pub const WRONG_KIND: &str = "E0113";
pub const UNSUPPORTED_DTYPE: &str = "E0114";
pub const VAR_TYPE_CHANGE: &str = "E0115";
pub const NOT_CONSTANT: &str = "E0116";
pub const BAD_AXIS: &str = "E0117";
pub const BAD_LOOP_STEP: &str = "E0118";
// ---- tensor views ----
pub const STORE_NOT_OUT: &str = "E0120";
pub const INDEX_COUNT: &str = "E0121";
pub const SLICE_TOO_WIDE: &str = "E0122";
pub const BAD_INDEX: &str = "E0123";
pub const STORE_SHAPE: &str = "E0124";
// ---- scale contracts ----
pub const SCALE_BLOCK_TILE: &str = "E0130";
pub const NV_NO_GLOBAL: &str = "E0131";
pub const BAD_SCALED_TYPE: &str = "E0132";
pub const DIM_SCALE_BLOCK: &str = "E0133";
pub const SCALED_DOT: &str = "E0134";
pub const BAD_GLOBAL_SCALE: &str = "E0135";
// ---- tiles and launch ----
pub const NOT_POW2: &str = "E0140";
pub const BAD_TILE_PARAM: &str = "E0141";
pub const BAD_GRID: &str = "E0142";
pub const TILE_TOO_LARGE: &str = "E0143";
// ---- warnings ----
pub const UNUSED_VALUE: &str = "W0001";

mod stage;
mod stage_table;
mod table;
pub use stage::{Check, Example, NpyFile, StageCodeInfo};
pub use stage_table::STAGE_CODES;
pub use table::CODES;

/// The documented later-stage entry of `code` (case-insensitive, e.g. "e0701").
pub fn lookup_stage(code: &str) -> Option<&'static StageCodeInfo> {
    STAGE_CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// The long text of any code, front-end or later stage (what `tessera explain CODE` prints).
pub fn explain(code: &str) -> Option<String> {
    lookup(code)
        .map(CodeInfo::long_text)
        .or_else(|| lookup_stage(code).map(StageCodeInfo::long_text))
}

/// Every code with its one-line title: the front end's, then the later stages' (E before W before L
/// within each, as the tables are ordered).
pub fn titles() -> impl Iterator<Item = (&'static str, &'static str)> {
    CODES
        .iter()
        .map(|c| (c.code, c.title))
        .chain(STAGE_CODES.iter().map(|c| (c.code, c.title)))
}
