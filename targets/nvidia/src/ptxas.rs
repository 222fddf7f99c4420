//! The pinned ptxas: find it ($TESSERA_PTXAS, else `ptxas` on PATH, else the `nvidia-cuda-nvcc`
//! Python wheel through importlib.metadata, as scripts/find-cuda-tool.sh does), assemble PTX into a
//! cubin, and parse `-v` for registers, spills, stack and shared memory. A missing ptxas is not an
//! error for a build: the caller records why and ships PTX only.

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Figures from `ptxas -v` for the entry point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PtxasInfo {
    pub registers: u32,
    pub spill_stores_bytes: u32,
    pub spill_loads_bytes: u32,
    pub stack_frame_bytes: u32,
    /// Static shared memory (dynamic shared memory is requested at launch, see meta.json).
    pub static_smem_bytes: u32,
    pub barriers: u32,
    /// Warnings and performance notes (e.g. wgmma serialization), verbatim.
    pub warnings: Vec<String>,
}

const WHEEL_LOOKUP: &str = r#"
import sys, importlib.metadata as m, pathlib
dist = m.distribution("nvidia-cuda-nvcc")
for f in dist.files or []:
    if f.name == "ptxas" and f.parent.name == "bin":
        print(pathlib.Path(dist.locate_file(f)).resolve())
        sys.exit(0)
sys.exit(1)
"#;

/// Locate ptxas, or say why there is none.
pub fn locate() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("TESSERA_PTXAS") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("$TESSERA_PTXAS={} is not a file", p.display()))
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("ptxas");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&python).arg("-c").arg(WHEEL_LOOKUP).output() {
        Ok(out) if out.status.success() => {
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!(
                    "the nvidia-cuda-nvcc wheel names {} but it is missing",
                    p.display()
                ))
            }
        }
        Ok(_) => Err("ptxas not found ($TESSERA_PTXAS unset, not on PATH, no nvidia-cuda-nvcc wheel)".into()),
        Err(e) => Err(format!(
            "ptxas not found ($TESSERA_PTXAS unset, not on PATH, {python} failed: {e})"
        )),
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Assemble `ptx` for `arch`. `Err` carries ptxas's log when it rejects the PTX.
pub fn assemble(ptxas: &Path, ptx: &str, arch: &str) -> Result<(Vec<u8>, PtxasInfo), String> {
    let dir = std::env::temp_dir().join(format!(
        "tessera-ptxas-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let result = run(ptxas, ptx, arch, &dir);
    // Best effort: a leftover temp dir is harmless.
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(ptxas: &Path, ptx: &str, arch: &str, dir: &Path) -> Result<(Vec<u8>, PtxasInfo), String> {
    let input = dir.join("kernel.ptx");
    let output = dir.join("kernel.cubin");
    std::fs::write(&input, ptx).map_err(|e| format!("writing {}: {e}", input.display()))?;
    let out = Command::new(ptxas)
        .arg(format!("-arch={arch}"))
        .arg("-v")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .map_err(|e| format!("running {}: {e}", ptxas.display()))?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(log);
    }
    let cubin = std::fs::read(&output).map_err(|e| format!("reading {}: {e}", output.display()))?;
    Ok((cubin, parse_verbose(&log)))
}

/// The number written just before `unit` in `line` (e.g. "58" in "Used 58 registers").
fn number_before(line: &str, unit: &str) -> Option<u32> {
    let i = line.find(unit)?;
    line[..i].split_whitespace().last()?.parse().ok()
}

/// Parse ptxas `-v` output (one entry point).
pub fn parse_verbose(log: &str) -> PtxasInfo {
    let mut info = PtxasInfo::default();
    for line in log.lines() {
        for part in line.split(',') {
            let p = part.trim();
            if p.ends_with("registers") {
                info.registers = number_before(p, "registers").unwrap_or(info.registers);
            } else if p.ends_with("bytes smem") {
                info.static_smem_bytes = number_before(p, "bytes smem").unwrap_or(info.static_smem_bytes);
            } else if p.ends_with("barriers") {
                info.barriers = number_before(p, "barriers").unwrap_or(info.barriers);
            } else if p.ends_with("bytes stack frame") {
                info.stack_frame_bytes = number_before(p, "bytes stack frame").unwrap_or(0);
            } else if p.ends_with("bytes spill stores") {
                info.spill_stores_bytes = number_before(p, "bytes spill stores").unwrap_or(0);
            } else if p.ends_with("bytes spill loads") {
                info.spill_loads_bytes = number_before(p, "bytes spill loads").unwrap_or(0);
            }
        }
        if line.contains("warning") || line.contains("Performance Loss") {
            info.warnings.push(line.trim().to_string());
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ptxas_verbose_output() {
        let log = "ptxas info    : 0 bytes gmem\nptxas info    : Compiling entry function 'k' for 'sm_90a'\n\
                   ptxas info    : Function properties for k\n    \
                   8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\n\
                   ptxas info    : Used 168 registers, used 1 barriers, 64 bytes smem, 400 bytes cmem[0]\n\
                   ptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async instructions are serialized\n";
        let i = parse_verbose(log);
        assert_eq!(
            (
                i.registers,
                i.barriers,
                i.static_smem_bytes,
                i.stack_frame_bytes,
                i.spill_stores_bytes,
                i.spill_loads_bytes
            ),
            (168, 1, 64, 8, 4, 12)
        );
        assert_eq!(i.warnings.len(), 1);
    }
}
