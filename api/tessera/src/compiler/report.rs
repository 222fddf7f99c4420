//! The build report (report.txt / report.json / `--report`): the pass pipeline that ran, the
//! `dequant: fused (how)` / `dequant: emulated (why)` line of every low-precision dot, and the
//! backend's section (instruction audit, TMA/mbarrier or tcgen05 or v_mfma_scale, registers and
//! spills).

use super::lowered::Lowered;
use serde_json::json;
use tessera_passes::{Changed, PipelineReport};

/// `line:col` (1-based) of byte offset `at` in `bytes`, to point a reader at a dot.
fn line_col(bytes: &[u8], at: u32) -> (usize, usize) {
    let at = (at as usize).min(bytes.len());
    let before = &bytes[..at];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = at - before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
    (line, col)
}

pub struct Report {
    pub text: String,
    pub json: String,
}

/// Compose the report of `kernel` built for `target` from the pipeline's report and the backend's.
pub fn compose(
    kernel: &str,
    source_name: &str,
    source: &[u8],
    target: &str,
    pipe: &PipelineReport,
    lowered: &Lowered,
) -> Report {
    let changed: Vec<&str> = pipe
        .runs
        .iter()
        .filter(|(k, _, c)| k == kernel && *c == Changed::Yes)
        .map(|(_, p, _)| *p)
        .collect();
    let dequant: Vec<(usize, usize, &str)> = pipe
        .dequant
        .iter()
        .filter(|(k, _, _)| k == kernel)
        .map(|(_, span, line)| {
            let (l, c) = line_col(source, span.lo);
            (l, c, line.as_str())
        })
        .collect();
    let mut t = format!("kernel: {kernel} ({source_name})\ntarget: {target}\n");
    t.push_str(&format!(
        "pipeline: {} (changed the IR: {})\n",
        pipe.passes.join(" -> "),
        if changed.is_empty() {
            "none".to_string()
        } else {
            changed.join(", ")
        }
    ));
    if pipe.diff_checks > 0 {
        t.push_str(&format!(
            "diff-interp: {} pass results matched the interpreter\n",
            pipe.diff_checks
        ));
    }
    if dequant.is_empty() {
        t.push_str("dequant: none (no low-precision dot)\n");
    }
    // The pass's plan is what the native block-scaled targets implement; a kernel lowered per op
    // (every sm_90a kernel) says what it did in the backend's own
    // dequant line instead.
    let per_op = lowered
        .audit_text
        .contains("per-op lowering from the distributed level");
    for (l, c, line) in &dequant {
        if per_op {
            t.push_str(&format!(
                "(not used: lowered per op, see the backend's dequant line) {line} [dot at {source_name}:{l}:{c}]\n"
            ));
        } else {
            t.push_str(&format!("{line} [dot at {source_name}:{l}:{c}]\n"));
        }
    }
    t.push_str(&format!("--- {target} backend ---\n"));
    t.push_str(&lowered.audit_text);
    if !t.ends_with('\n') {
        t.push('\n');
    }
    let j = json!({
        "kernel": kernel,
        "source": source_name,
        "target": target,
        "pipeline": { "passes": pipe.passes, "changed": changed, "diff_checks": pipe.diff_checks },
        "dequant": dequant
            .iter()
            .map(|(l, c, line)| json!({ "line": l, "col": c, "text": line }))
            .collect::<Vec<_>>(),
        "backend": lowered.audit_json,
    });
    Report {
        text: t,
        json: serde_json::to_string_pretty(&j).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_col_counts_from_one() {
        let s = b"ab\ncd\nef";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 4), (2, 2));
        assert_eq!(line_col(s, 6), (3, 1));
        assert_eq!(line_col(s, 99), (3, 3));
    }
}
