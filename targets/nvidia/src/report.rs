//! The build report: what the PTX actually contains (MMA instruction family, TMA copies,
//! mbarrier waits), ptxas figures, and how dequantization was handled. Tests and `--report` read
//! it; an expected wgmma that is missing from the PTX fails the build (compiling is not proof).

use crate::ptxas::PtxasInfo;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Instruction counts found by scanning the PTX text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PtxScan {
    /// Full MMA mnemonic (e.g. `wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3`) → count.
    pub mma: BTreeMap<String, usize>,
    pub tma_loads: usize,
    pub mbarrier_inits: usize,
    pub mbarrier_waits: usize,
    pub mbarrier_expect_tx: usize,
    pub ptx_version: Option<String>,
}

/// The instruction lines of PTX text as `(mnemonic, line)`: comment lines skipped and a predicate
/// guard such as `@%p1 ` dropped, so that guarded and unguarded instructions count alike. Both PTX
/// scans (this report's and the native block-scaled audit) read PTX through it.
pub(crate) fn ptx_instructions(ptx: &str) -> impl Iterator<Item = (&str, &str)> {
    ptx.lines().filter_map(|line| {
        let l = line.trim_start();
        if l.starts_with("//") {
            return None;
        }
        let l = if l.starts_with('@') {
            l.split_once(char::is_whitespace)
                .map_or("", |(_, r)| r.trim_start())
        } else {
            l
        };
        let op = l
            .split(|c: char| c.is_whitespace() || c == ';')
            .next()
            .unwrap_or("");
        Some((op, l))
    })
}

/// Scan PTX instruction lines (comments and inline-asm markers skipped).
pub fn scan_ptx(ptx: &str) -> PtxScan {
    let mut s = PtxScan::default();
    for (op, l) in ptx_instructions(ptx) {
        if op.starts_with("wgmma.mma_async") || op.starts_with("mma.sync") || op.starts_with("tcgen05.mma") {
            *s.mma.entry(op.to_string()).or_default() += 1;
        } else if op.starts_with("cp.async.bulk.tensor") {
            s.tma_loads += 1;
        } else if op.starts_with("mbarrier.init") {
            s.mbarrier_inits += 1;
        } else if op.starts_with("mbarrier.try_wait") || op.starts_with("mbarrier.test_wait") {
            s.mbarrier_waits += 1;
        } else if op.starts_with("mbarrier.arrive.expect_tx") {
            s.mbarrier_expect_tx += 1;
        } else if op == ".version" {
            s.ptx_version = l.split_whitespace().nth(1).map(str::to_string);
        }
    }
    s
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    pub kernel: String,
    pub entry: String,
    pub target: String,
    /// The MMA family the lowering planned.
    pub expected_mma: String,
    pub scan: PtxScan,
    pub threads: u32,
    pub dynamic_smem_bytes: u32,
    pub tuning: Vec<(String, i64)>,
    pub ptxas: Option<PtxasInfo>,
    /// Why there is no cubin, when there is none.
    pub ptxas_skipped: Option<String>,
    /// How scaled operands were dequantized ("none": plain operands; fused/emulated otherwise).
    pub dequant: String,
    pub notes: Vec<String>,
}

impl BuildReport {
    /// The human-readable report (report.txt, `--report`).
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "kernel: {} (entry {}) for {}",
            self.kernel, self.entry, self.target
        );
        if self.scan.mma.is_empty() {
            let _ = writeln!(o, "mma: none found (expected {})", self.expected_mma);
        }
        for (family, n) in &self.scan.mma {
            let _ = writeln!(o, "mma: {family} x{n}");
        }
        let _ = writeln!(
            o,
            "tma: {} (cp.async.bulk.tensor x{}); mbarrier: {} (init x{}, expect_tx x{}, try_wait x{})",
            if self.scan.tma_loads > 0 { "yes" } else { "no" },
            self.scan.tma_loads,
            if self.scan.mbarrier_waits > 0 { "yes" } else { "no" },
            self.scan.mbarrier_inits,
            self.scan.mbarrier_expect_tx,
            self.scan.mbarrier_waits
        );
        let tuning: Vec<String> = self.tuning.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            o,
            "launch: {} threads, {} bytes dynamic shared memory; tuning: {}",
            self.threads,
            self.dynamic_smem_bytes,
            tuning.join(" ")
        );
        match (&self.ptxas, &self.ptxas_skipped) {
            (Some(p), _) => {
                let _ = writeln!(
                    o,
                    "ptxas: {} registers, {} bytes static smem, {} bytes stack, spills {} B stores / {} B loads",
                    p.registers,
                    p.static_smem_bytes,
                    p.stack_frame_bytes,
                    p.spill_stores_bytes,
                    p.spill_loads_bytes
                );
                for w in &p.warnings {
                    let _ = writeln!(o, "ptxas note: {w}");
                }
            }
            (None, Some(why)) => {
                let _ = writeln!(o, "ptxas: skipped ({why}); the bundle has PTX only");
            }
            (None, None) => {
                let _ = writeln!(o, "ptxas: not run");
            }
        }
        let _ = writeln!(o, "dequant: {}", self.dequant);
        for n in &self.notes {
            let _ = writeln!(o, "note: {n}");
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_counts_instruction_lines_only() {
        let ptx = ".version 8.0\n// wgmma.mma_async in a comment\n\
                   wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {%r1}, %rd1, %rd2, p, 1, 1;\n\
                   @%p1 cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%rd7], [%rd1, {%r9, %r4}], [%r5];\n\
                   mbarrier.try_wait.parity.shared.b64 P1, [%r5], %r6, %r7;\n";
        let s = scan_ptx(ptx);
        assert_eq!(
            s.mma.get("wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3"),
            Some(&1)
        );
        assert_eq!((s.tma_loads, s.mbarrier_waits), (1, 1));
        assert_eq!(s.ptx_version.as_deref(), Some("8.0"));
    }
}
