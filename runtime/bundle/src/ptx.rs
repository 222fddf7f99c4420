//! Just enough PTX reading to check `meta.json` against the device code before a launch: the
//! `.target` line and each `.entry`'s parameter list (count and the kind of each parameter).

/// The kind of one `.param` of an entry, as far as the launch ABI cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtxParamKind {
    /// `.u64`/`.b64`/`.s64`: a device pointer (buffer or tensor map address).
    Bits64,
    /// `.f32`: a float scalar.
    F32,
    /// `.u32`/`.s32`: an integer scalar.
    I32,
    /// `.b32`: 32 bits of either kind.
    Bits32,
    /// `.b8 name[N]` (a by-value aggregate of N bytes), or any other type.
    Other,
}

/// One `.param` of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtxParam {
    pub name: String,
    pub kind: PtxParamKind,
}

/// The first `.target` of the module (`sm_90a` from `.target sm_90a` or `.target sm_90a, debug`).
pub fn target(ptx: &str) -> Option<&str> {
    ptx.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(".target")?;
        rest.split([',', ' ', '\t']).find(|t| !t.is_empty())
    })
}

/// The names of every `.entry` in the module.
pub fn entries(ptx: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = ptx;
    while let Some(i) = rest.find(".entry") {
        let after = &rest[i + ".entry".len()..];
        let name: String = after
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
        rest = after;
    }
    out
}

/// The parameter list of `.entry NAME`, or `None` when the module has no such entry (or its
/// parameter list is not closed).
pub fn entry_params(ptx: &str, name: &str) -> Option<Vec<PtxParam>> {
    let mut rest = ptx;
    loop {
        let i = rest.find(".entry")?;
        let after = &rest[i + ".entry".len()..];
        let t = after.trim_start();
        if let Some(tail) = t.strip_prefix(name)
            && tail.trim_start().starts_with('(')
        {
            let open = tail.find('(')?;
            let close = tail[open..].find(')')? + open;
            return Some(
                tail[open + 1..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(param)
                    .collect(),
            );
        }
        rest = after;
    }
}

fn param(decl: &str) -> PtxParam {
    let words: Vec<&str> = decl.split_whitespace().collect();
    let name = words
        .last()
        .map(|w| w.split('[').next().unwrap_or(w).to_string())
        .unwrap_or_default();
    let array = words.last().is_some_and(|w| w.contains('['));
    let kind = if array {
        PtxParamKind::Other
    } else {
        match words.iter().find(|w| {
            matches!(
                **w,
                ".u64"
                    | ".b64"
                    | ".s64"
                    | ".f32"
                    | ".u32"
                    | ".s32"
                    | ".b32"
                    | ".u16"
                    | ".b16"
                    | ".s16"
                    | ".u8"
                    | ".b8"
                    | ".f64"
                    | ".f16"
                    | ".bf16"
            )
        }) {
            Some(&".u64" | &".b64" | &".s64") => PtxParamKind::Bits64,
            Some(&".f32") => PtxParamKind::F32,
            Some(&".u32" | &".s32") => PtxParamKind::I32,
            Some(&".b32") => PtxParamKind::Bits32,
            _ => PtxParamKind::Other,
        }
    };
    PtxParam { name, kind }
}

/// A stand-in PTX module whose `.target` and one empty `.entry` match `target`, `entry` and the ABI
/// `abi` (one parameter per slot, of the slot's kind): for tests and tools that need a bundle that
/// passes [`crate::Bundle::check_device_code`] without a compiler. It is never launched.
pub fn stub(target: &str, entry: &str, abi: &[crate::AbiArg]) -> String {
    use crate::AbiArg;
    let params: Vec<String> = abi
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let ty = match a {
                AbiArg::Ptr { .. } | AbiArg::TensorMap { .. } => ".u64",
                AbiArg::SymI32 { .. } | AbiArg::ScalarI32 { .. } => ".u32",
                AbiArg::ScalarF32 { .. } | AbiArg::GlobalScaleF32 { .. } => ".f32",
            };
            format!("\t.param {ty} {entry}_param_{i}")
        })
        .collect();
    format!(
        ".version 8.0\n.target {target}\n.address_size 64\n\n.visible .entry {entry}(\n{}\n)\n{{\n\tret;\n}}\n",
        params.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTX: &str = ".version 8.0\n.target sm_90a, debug\n.address_size 64\n\n.visible .entry gemm_fp8(\n\t.param .u64 .ptr .align 1 gemm_fp8_param_0,\n\t.param .u64 .ptr .global .align 1 gemm_fp8_param_1,\n\t.param .f32 gemm_fp8_param_2,\n\t.param .u32 gemm_fp8_param_3,\n\t.param .align 64 .b8 gemm_fp8_param_4[128]\n)\n.maxntid 256, 1, 1\n{\n}\n.entry other()\n{\n}\n";

    #[test]
    fn reads_target_entries_and_params() {
        assert_eq!(target(PTX), Some("sm_90a"));
        assert_eq!(entries(PTX), vec!["gemm_fp8", "other"]);
        let p = entry_params(PTX, "gemm_fp8").expect("entry");
        let kinds: Vec<PtxParamKind> = p.iter().map(|p| p.kind).collect();
        use PtxParamKind::*;
        assert_eq!(kinds, vec![Bits64, Bits64, F32, I32, Other]);
        assert_eq!(p[4].name, "gemm_fp8_param_4");
        assert_eq!(entry_params(PTX, "other"), Some(vec![]));
        assert_eq!(entry_params(PTX, "gemm"), None);
        assert_eq!(entry_params(PTX, "nope"), None);
    }

    #[test]
    fn stubs_read_back_as_their_abi() {
        use crate::{AbiArg, TensorPart};
        let abi = [
            AbiArg::Ptr {
                param: "a".into(),
                part: TensorPart::Data,
            },
            AbiArg::ScalarF32 { param: "s".into() },
            AbiArg::SymI32 { sym: "M".into() },
        ];
        let p = stub("sm_100a", "k", &abi);
        assert_eq!(target(&p), Some("sm_100a"));
        let kinds: Vec<PtxParamKind> = entry_params(&p, "k")
            .expect("entry")
            .iter()
            .map(|p| p.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![PtxParamKind::Bits64, PtxParamKind::F32, PtxParamKind::I32]
        );
    }
}
