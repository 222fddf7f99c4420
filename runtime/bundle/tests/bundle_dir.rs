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
    let mut b = sample_meta_only();
    b.ptx = Some(tessera_bundle::ptx::stub("sm_90a", &b.meta.entry, &b.meta.abi));
    b
}

fn sample_meta_only() -> Bundle {
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
                    or_null: false,
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
            index_bits: 64,
        },
        ptx: Some(".version 8.0\n.target sm_90a\n".into()),
        cubin: Some(b"\x7fELF\0gemm_fp8_kernel\0\x01\x02".to_vec()),
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

/// F12: a corrupt meta.json is refused against the device code before any launch, with E0865.
#[test]
fn meta_json_that_does_not_match_the_ptx_is_refused() {
    let check = |b: &Bundle| b.check(std::path::Path::new("<mem>"));
    assert!(check(&sample()).is_ok(), "{:?}", check(&sample()).err());
    let mismatch = |b: &Bundle, what: &str| {
        let e = check(b).expect_err(what);
        assert_eq!(e.code(), "E0865", "{what}: {e}");
        assert!(e.to_string().starts_with("error[E0865]: "), "{e}");
        e.to_string()
    };
    // Too few ABI slots for the entry's parameters.
    let mut b = sample();
    b.meta.abi.truncate(2);
    assert!(mismatch(&b, "abi2").contains("takes 4 parameters, meta.json's ABI has 2 slots"));
    // An entry the PTX does not define (the cubin has no such symbol either).
    let mut b = sample();
    b.meta.entry = "no_such_symbol".into();
    assert!(mismatch(&b, "entry").contains("`no_such_symbol` is not a symbol of the cubin"));
    b.cubin = None;
    assert!(mismatch(&b, "entry").contains("not an `.entry` of the PTX"));
    // Swapped slots of different kinds: an f32 where the entry takes an integer.
    let mut b = sample();
    b.meta.abi.swap(2, 3);
    assert!(mismatch(&b, "swapped").contains("ABI slot 2"));
    // A pointer slot where the entry takes an f32.
    let mut b = sample();
    b.meta.abi.swap(1, 3);
    assert!(mismatch(&b, "ptr/f32").contains("ABI slot 1 (ScalarF32"));
    // PTX built for another target.
    let mut b = sample();
    b.meta.target = "sm_100a".into();
    assert!(mismatch(&b, "target").contains("`.target sm_90a`, meta.json says `sm_100a`"));
}

#[test]
fn launch_shapes_outside_the_device_limits_are_refused() {
    let mut b = sample();
    b.meta.block = [1, 1, 128];
    let e = b.check(std::path::Path::new("<mem>")).expect_err("block z");
    assert_eq!(e.code(), "E0864", "{e}");
    // grid.x = 2^31 (one over CUDA's limit), y = 65536: launch errors, E0866.
    let m = sample().meta;
    let mut g = m.clone();
    g.grid = vec![DimExpr::Const(1 << 31)];
    let e = tessera_bundle::grid(&g, &[]).expect_err("2^31");
    assert_eq!(e.code(), "E0866", "{e}");
    g.grid = vec![DimExpr::Const((1 << 31) - 1)];
    assert_eq!(
        tessera_bundle::grid(&g, &[]).expect("2^31-1"),
        [(1 << 31) - 1, 1, 1]
    );
    g.grid = vec![DimExpr::Const(1), DimExpr::Const(65536)];
    assert!(tessera_bundle::grid(&g, &[]).is_err());
}

#[test]
fn the_abi_must_pass_every_output_and_repeat_no_slot() {
    let k = tessera_ir::samples::gemm(
        tessera_ir::samples::tensor(tessera_ir::DType::BF16, &["M", "K"]),
        tessera_ir::samples::tensor(tessera_ir::DType::BF16, &["N", "K"]),
        tessera_ir::DType::F32,
        (32, 32, 32),
        0,
    );
    let ptr = |p: &str| AbiArg::Ptr {
        param: p.into(),
        part: TensorPart::Data,
    };
    let mut b = sample();
    b.meta.abi = vec![ptr("a"), ptr("b"), ptr("c"), AbiArg::SymI32 { sym: "M".into() }];
    let dir = std::path::Path::new("<mem>");
    b.check_kernel(dir, &k).expect("a correct ABI");
    // F12 'swapped': the output's slot names an input instead.
    b.meta.abi[2] = ptr("a");
    let e = b.check_kernel(dir, &k).expect_err("swapped");
    assert_eq!(e.code(), "E0865");
    assert!(e.to_string().contains("repeats an earlier slot"), "{e}");
    b.meta.abi[0] = AbiArg::ScalarF32 { param: "zz".into() };
    assert!(
        b.check_kernel(dir, &k)
            .expect_err("unknown")
            .to_string()
            .contains("`zz`")
    );
    b.meta.abi = vec![ptr("a"), ptr("b")];
    let e = b.check_kernel(dir, &k).expect_err("no output");
    assert!(e.to_string().contains("output `c`"), "{e}");
    b.meta.abi = vec![ptr("a"), ptr("b"), ptr("c"), AbiArg::SymI32 { sym: "Q".into() }];
    assert!(b.check_kernel(dir, &k).is_err());
}

/// F18: every bundle error, reading and writing, carries its code.
#[test]
fn bundle_errors_are_coded() {
    let e = Bundle::read(std::path::Path::new("/nonexistent/bundle")).unwrap_err();
    assert_eq!(e.code(), "E0860");
    assert!(e.to_string().starts_with("error[E0860]: "), "{e}");
    // Writing where a file stands (the F18 `-o /dev/null` case).
    let e = sample().write(std::path::Path::new("/dev/null")).unwrap_err();
    assert_eq!(e.code(), "E0861");
    assert!(e.to_string().starts_with("error[E0861]: "), "{e}");
    let dir = tmp("coded");
    sample().write(&dir).unwrap();
    std::fs::write(dir.join("meta.json"), "{ not json").unwrap();
    assert_eq!(Bundle::read(&dir).unwrap_err().code(), "E0862");
    std::fs::write(dir.join("meta.json"), "{\"format_version\": 0}").unwrap();
    let e = Bundle::read(&dir).unwrap_err();
    assert_eq!(e.code(), "E0863");
    assert!(e.to_string().starts_with("error[E0863]: "), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
