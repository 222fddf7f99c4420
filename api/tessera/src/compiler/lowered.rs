//! What every backend hands back to `tessera build` (launch contract, device code, its section of
//! the build report) and how that becomes an artifact bundle (`tessera_bundle::Bundle`).

use tessera_bundle::{AbiArg, BUNDLE_FORMAT_VERSION, Bundle, BundleMeta, TIR_FILE, sha256_hex};
use tessera_ir::{DimExpr, Kernel};

/// One kernel lowered for one target.
#[derive(Clone, Debug)]
pub struct Lowered {
    pub entry: String,
    pub abi: Vec<AbiArg>,
    pub grid: Vec<DimExpr>,
    pub block: [u32; 3],
    pub dynamic_shared_bytes: u32,
    /// Backend tuning choices recorded beside the kernel's tile values in meta.json.
    pub tuning: Vec<(String, i64)>,
    pub ptx: Option<String>,
    pub cubin: Option<Vec<u8>>,
    pub hsaco: Option<Vec<u8>>,
    /// The backend's report section: instruction audit, registers/spills, dequant check.
    pub audit_text: String,
    pub audit_json: serde_json::Value,
    /// Width of the kernel's element offsets (meta.json `index_bits`).
    pub index_bits: u32,
    /// Bytes the assembler spilled to local memory per thread (`None`: not assembled, or the
    /// backend does not say), which decides whether the build tries more warps (`more_warps`).
    pub spill_bytes: Option<u64>,
}

/// The source file a build read (recorded in meta.json by name and hash).
pub struct Source<'a> {
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

/// Assemble the bundle. `kernel` is the kernel after the pass pipeline and `tile_ir` its printed
/// module (kernel.tir), so the runner interprets exactly what was lowered (scale layouts included).
pub fn to_bundle(
    kernel: &Kernel,
    target: &str,
    l: Lowered,
    source: &Source,
    tile_ir: String,
    report_txt: String,
    report_json: String,
) -> Bundle {
    let mut tiles: Vec<(String, i64)> = kernel.tiles.iter().map(|t| (t.name.clone(), t.value)).collect();
    for (k, v) in l.tuning {
        if !tiles.iter().any(|(n, _)| *n == k) {
            tiles.push((k, v));
        }
    }
    let meta = BundleMeta {
        format_version: BUNDLE_FORMAT_VERSION,
        kernel: kernel.name.clone(),
        entry: l.entry,
        target: target.to_string(),
        source_file: source.file_name.to_string(),
        source_sha256: sha256_hex(source.bytes),
        tiles,
        grid: l.grid,
        block: l.block,
        dynamic_shared_bytes: l.dynamic_shared_bytes,
        abi: l.abi,
        // Bundle::write records the file names it actually writes.
        ptx: None,
        cubin: None,
        hsaco: None,
        tile_ir: TIR_FILE.to_string(),
        index_bits: l.index_bits,
    };
    Bundle {
        meta,
        ptx: l.ptx,
        cubin: l.cubin,
        hsaco: l.hsaco,
        tile_ir,
        report_txt: Some(report_txt),
        report_json: Some(report_json),
    }
}
