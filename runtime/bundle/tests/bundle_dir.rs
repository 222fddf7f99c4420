//! Bundle directory round trip and the errors a damaged or foreign bundle gets.

use std::path::PathBuf;
use tessera_bundle::{
    AbiArg, BUNDLE_FORMAT_VERSION, Bundle, BundleError, BundleMeta, Image, TensorPart, TmaSpec,
};
use tessera_ir::DimExpr;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-bundle-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn sample() -> Bundle {
    let cdiv =
        |s: &str, b: i64| DimExpr::CeilDiv(Box::new(DimExpr::Sym(s.into())), Box::new(DimExpr::Const(b)));
    Bundle {
        meta: BundleMeta {
            format_version: BUNDLE_FORMAT_VERSION,
            kernel: "gemm_fp8".into(),
            entry: "gemm_fp8_kernel".into(),
            target: "sm_90a".into(),
            source_file: "gemm_fp8.tsr".into(),
            source_sha256: tessera_bundle::sha256_hex(b"kernel gemm_fp8() {}"),
            tiles: vec![("BM".into(), 128), ("BN".into(), 128), ("BK".into(), 128)],
            grid: vec![cdiv("M", 128), cdiv("N", 128)],
            block: [384, 1, 1],
            dynamic_shared_bytes: 196_608,
            abi: vec![
                AbiArg::TensorMap {
                    param: "a".into(),
                    part: TensorPart::Data,
                    tma: TmaSpec {
                        elem: "u8".into(),
                        box_dims: vec![128, 128],
                        swizzle: 128,
                    },
                },
                AbiArg::Ptr {
                    param: "c".into(),
                    part: TensorPart::Data,
                },
                AbiArg::SymI32 { sym: "M".into() },
                AbiArg::ScalarF32 {
                    param: "scale_a".into(),
                },
            ],
            ptx: None,
            cubin: None,
            hsaco: None,
            tile_ir: String::new(),
        },
        ptx: Some(".version 8.0\n.target sm_90a\n".into()),
        cubin: Some(vec![0x7f, b'E', b'L', b'F', 0, 1, 2]),
        hsaco: None,
        tile_ir: "kernel @gemm_fp8() {}\n".into(),
        report_txt: Some("mma: wgmma.mma_async.e4m3.e4m3\n".into()),
        report_json: Some("{\"mma\":\"wgmma\"}".into()),
    }
}

#[test]
fn write_then_read_is_identity_with_file_names_filled_in() {
    let dir = tmp("roundtrip");
    let b = sample();
    b.write(&dir).unwrap();
    let back = Bundle::read(&dir).unwrap();
    assert_eq!(back.meta.ptx.as_deref(), Some("kernel.ptx"));
    assert_eq!(back.meta.cubin.as_deref(), Some("kernel.cubin"));
    assert_eq!(back.meta.hsaco, None);
    assert_eq!(back.meta.tile_ir, "kernel.tir");
    let mut expect = b.clone();
    expect.meta = back.meta.clone();
    assert_eq!(back, expect);
    assert_eq!(back.meta.abi, b.meta.abi);
    assert_eq!(back.meta.grid, b.meta.grid);
    // The cubin (assembled by the pinned ptxas) is preferred over driver JIT of the PTX.
    assert!(matches!(back.nvidia_image(), Some(Image::Cubin(c)) if c == b.cubin.as_deref().unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ptx_only_bundle_loads_ptx() {
    let dir = tmp("ptxonly");
    let mut b = sample();
    b.cubin = None;
    b.write(&dir).unwrap();
    let back = Bundle::read(&dir).unwrap();
    assert!(matches!(back.nvidia_image(), Some(Image::Ptx(p)) if p.starts_with(".version")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_directory_and_meta_are_named() {
    let dir = tmp("absent");
    let e = Bundle::read(&dir).unwrap_err();
    assert!(matches!(e, BundleError::NotADir { .. }), "{e}");
    std::fs::create_dir_all(&dir).unwrap();
    let e = Bundle::read(&dir).unwrap_err();
    assert!(e.to_string().contains("missing meta.json"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_version_is_reported_before_schema() {
    let dir = tmp("version");
    sample().write(&dir).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        "{\"format_version\": 99, \"something\": \"new\"}",
    )
    .unwrap();
    let e = Bundle::read(&dir).unwrap_err();
    assert!(
        matches!(
            e,
            BundleError::Version {
                found: 99,
                expected: BUNDLE_FORMAT_VERSION,
                ..
            }
        ),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_named_but_absent_file_is_an_error() {
    let dir = tmp("nofile");
    sample().write(&dir).unwrap();
    std::fs::remove_file(dir.join("kernel.cubin")).unwrap();
    let e = Bundle::read(&dir).unwrap_err();
    assert!(e.to_string().contains("missing kernel.cubin"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_names_cannot_escape_the_bundle() {
    let dir = tmp("escape");
    sample().write(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("meta.json")).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        text.replace("\"kernel.tir\"", "\"../etc/passwd\""),
    )
    .unwrap();
    let e = Bundle::read(&dir).unwrap_err();
    assert!(e.to_string().contains("not a plain file name"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_contents_are_rejected() {
    let dir = tmp("invalid");
    let mut b = sample();
    b.meta.block = [2048, 1, 1];
    b.write(&dir).unwrap();
    let e = Bundle::read(&dir).unwrap_err();
    assert!(e.to_string().contains("2048 threads"), "{e}");
    let mut b = sample();
    b.ptx = None;
    b.cubin = None;
    b.write(&dir).unwrap();
    let e = Bundle::read(&dir).unwrap_err();
    assert!(e.to_string().contains("no device code"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_meta_is_a_json_error_not_a_panic() {
    let dir = tmp("garbage");
    sample().write(&dir).unwrap();
    std::fs::write(dir.join("meta.json"), "{ not json").unwrap();
    assert!(matches!(
        Bundle::read(&dir).unwrap_err(),
        BundleError::Json { .. }
    ));
    std::fs::write(dir.join("meta.json"), "{\"format_version\": 1, \"kernel\": 3}").unwrap();
    assert!(matches!(
        Bundle::read(&dir).unwrap_err(),
        BundleError::Json { .. }
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
