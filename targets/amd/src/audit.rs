//! Instruction audit of a gfx950 HSACO: disassemble with `llvm-objdump -d --mcpu=gfx950`, count
//! the MFMA families present, flag conversion instructions that would mean a dequantize path
//! (`v_cvt_*fp8*`, `v_cvt_scalef32_*`, ...) instead of the native scaled MFMA, and read register /
//! spill / LDS figures from the code object's AMDGPU metadata (`llvm-readelf --notes`).

use crate::error::AmdError;
use crate::tools::{llvm_tool, run, scratch_dir};
use std::collections::BTreeMap;
use std::ffi::OsStr;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AmdAudit {
    /// Every `v_mfma*` mnemonic and how often it occurs.
    pub mfma: BTreeMap<String, usize>,
    /// Conversion instructions of a software dequantize path (should be empty for native dots).
    pub dequant: BTreeMap<String, usize>,
    pub vgprs: Option<u32>,
    pub agprs: Option<u32>,
    pub sgprs: Option<u32>,
    pub vgpr_spills: Option<u32>,
    pub sgpr_spills: Option<u32>,
    pub lds_bytes: Option<u32>,
    /// ELF `e_ident[EI_ABIVERSION]`: 2 = code object v4, 3 = v5, 4 = v6.
    pub abi_version: Option<u32>,
}

impl AmdAudit {
    /// Does the binary contain `mnemonic` (e.g. `v_mfma_scale_f32_16x16x128_f8f6f4`)?
    pub fn has(&self, mnemonic: &str) -> bool {
        self.mfma.get(mnemonic).copied().unwrap_or(0) > 0
    }

    /// The families present, for the build report (`v_mfma_scale x4`, ...).
    pub fn families(&self) -> Vec<String> {
        self.mfma.iter().map(|(k, n)| format!("{k} x{n}")).collect()
    }
}

/// Audit an HSACO for `cpu`.
pub fn audit_hsaco(elf: &[u8], cpu: &str) -> Result<AmdAudit, AmdError> {
    let dir = scratch_dir("amd-audit")?;
    let path = dir.join("k.hsaco");
    let result = (|| {
        std::fs::write(&path, elf).map_err(|e| AmdError::Tool {
            tool: "write".into(),
            message: e.to_string(),
        })?;
        let mcpu = format!("--mcpu={cpu}");
        let dis = run(
            &llvm_tool("llvm-objdump")?,
            &[OsStr::new("-d"), OsStr::new(&mcpu), path.as_os_str()],
        )?;
        let notes = run(
            &llvm_tool("llvm-readelf")?,
            &[OsStr::new("-h"), OsStr::new("--notes"), path.as_os_str()],
        )?;
        Ok(parse(&dis, &notes))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Build the audit from objdump and readelf text (separate for testing without tools).
pub fn parse(disassembly: &str, notes: &str) -> AmdAudit {
    let mut a = AmdAudit::default();
    for line in disassembly.lines() {
        let Some(mn) = line.split_whitespace().next() else {
            continue;
        };
        if mn.starts_with("v_mfma") || mn.starts_with("v_smfmac") {
            *a.mfma.entry(mn.to_string()).or_default() += 1;
        } else if is_dequant(mn) {
            *a.dequant.entry(mn.to_string()).or_default() += 1;
        }
    }
    let field = |key: &str| {
        notes.lines().find_map(|l| {
            let l = l.trim().trim_start_matches("- ");
            l.strip_prefix(key)?
                .trim_start()
                .strip_prefix(':')?
                .trim()
                .parse::<u32>()
                .ok()
        })
    };
    a.vgprs = field(".vgpr_count");
    a.agprs = field(".agpr_count");
    a.sgprs = field(".sgpr_count");
    a.vgpr_spills = field(".vgpr_spill_count");
    a.sgpr_spills = field(".sgpr_spill_count");
    a.lds_bytes = field(".group_segment_fixed_size");
    a.abi_version = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("ABI Version:")?.trim().parse().ok());
    a
}

/// Conversions that decode narrow floats in software (what a fused-dequant mainloop would emit).
fn is_dequant(mnemonic: &str) -> bool {
    mnemonic.starts_with("v_cvt_scalef32")
        || mnemonic.starts_with("v_cvt_f32_fp8")
        || mnemonic.starts_with("v_cvt_f32_bf8")
        || mnemonic.starts_with("v_cvt_pk_f32_fp8")
        || mnemonic.starts_with("v_cvt_pk_f32_bf8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objdump_and_notes() {
        let dis = "\tv_mfma_scale_f32_16x16x128_f8f6f4 a[0:3], v[6:13], v[14:21], a[0:3], v0, v1 op_sel_hi:[0,0,0]\n\
                   \tv_cvt_scalef32_pk_f32_fp8 v[0:1], v2, v3\n\ts_endpgm\n";
        let notes = "  ABI Version:                       3\n      .sgpr_count:     18\n      .vgpr_count:     40\n      .vgpr_spill_count: 0\n";
        let a = parse(dis, notes);
        assert!(a.has("v_mfma_scale_f32_16x16x128_f8f6f4"));
        assert!(!a.has("v_mfma_scale_f32_32x32x64_f8f6f4"));
        assert_eq!(a.dequant.get("v_cvt_scalef32_pk_f32_fp8"), Some(&1));
        assert_eq!(
            (a.vgprs, a.sgprs, a.vgpr_spills, a.abi_version),
            (Some(40), Some(18), Some(0), Some(3))
        );
    }
}
