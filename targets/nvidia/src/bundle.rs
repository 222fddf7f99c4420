//! Turning a build into an artifact bundle (`tessera_bundle::Bundle`): meta.json's launch contract
//! from the lowering, the PTX/cubin, the checked tile IR text and the report.

use crate::compile::Artifacts;
use crate::target::Target;
use tessera_bundle::{BUNDLE_FORMAT_VERSION, Bundle, BundleMeta, TIR_FILE, sha256_hex};
use tessera_ir::Kernel;

/// The source a kernel came from (recorded by name and hash).
pub struct Source<'a> {
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

/// Assemble the bundle for one built kernel. `tile_ir` is the checked IR in the `tessera_ir` text form.
pub fn make_bundle(
    kernel: &Kernel,
    target: &Target,
    art: &Artifacts,
    source: &Source,
    tile_ir: String,
) -> Bundle {
    let mut tiles: Vec<(String, i64)> = kernel.tiles.iter().map(|t| (t.name.clone(), t.value)).collect();
    for (k, v) in &art.lowered.tuning {
        if !tiles.iter().any(|(n, _)| n == k) {
            tiles.push((k.clone(), *v));
        }
    }
    let meta = BundleMeta {
        format_version: BUNDLE_FORMAT_VERSION,
        kernel: kernel.name.clone(),
        entry: art.lowered.entry.clone(),
        target: target.name.to_string(),
        source_file: source.file_name.to_string(),
        source_sha256: sha256_hex(source.bytes),
        tiles,
        grid: kernel.grid.clone(),
        block: art.lowered.block,
        dynamic_shared_bytes: art.lowered.dynamic_shared_bytes,
        abi: art.lowered.abi.clone(),
        // Bundle::write sets the file names to what it actually writes.
        ptx: None,
        cubin: None,
        hsaco: None,
        tile_ir: TIR_FILE.to_string(),
        index_bits: art.lowered.index_bits,
    };
    let report_json = serde_json::to_string_pretty(&art.report).ok();
    Bundle {
        meta,
        ptx: Some(art.ptx.clone()),
        cubin: art.cubin.clone(),
        hsaco: None,
        tile_ir,
        report_txt: Some(art.report.to_text()),
        report_json,
    }
}
