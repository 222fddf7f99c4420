//! Bundles whose kernel names a swizzled scale layout (sm_100a/sm_120a `nv128x4`, gfx950
//! `amd_lane16x16x128`, as the assign-scale-layout pass leaves them): loading makes logical inputs,
//! gives the device the scales prepacked with `tessera_prepack::prepack_tensor`, and the interpreter
//! bound like the device computes exactly what the linear kernel computes on the logical inputs.

use tessera_bundle::{AbiArg, BUNDLE_FORMAT_VERSION, Bundle, BundleMeta, TensorPart};
use tessera_interp::ProgramSet;
use tessera_ir::{DimExpr, Kernel, Module, ParamKind, ScaleLayout};
use tessera_numerics::{ArgValue, Bindings, TensorBuf};
use tessera_runner::validate::validate_outputs;
use tessera_runner::{Common, Loaded, ValidateOptions, problem};

/// `dsl_examples/gemm_mxfp8.tsr` through the pass pipeline of `target`.
fn mx_gemm_for(target: &str) -> Kernel {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dsl_examples/gemm_mxfp8.tsr");
    let src = std::fs::read(path).expect("the example exists");
    let (module, diags) = tessera_check::check_source("gemm_mxfp8.tsr", &src);
    assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
    let mut module = module.expect("checked");
    let caps = tessera_passes::registry::target(target).expect("known target");
    tessera_passes::run_pipeline(
        &mut module,
        caps,
        &tessera_passes::PipelineOptions::default(),
        &mut std::io::sink(),
    )
    .expect("pipeline");
    module.kernels.remove(0)
}

/// An in-memory bundle of `k` for `target` (device code is never loaded here).
fn bundle_of(k: &Kernel, target: &str) -> Bundle {
    let module = Module {
        source_name: "gemm_mxfp8.tsr".into(),
        kernels: vec![k.clone()],
    };
    let cdiv = |s: &str| DimExpr::CeilDiv(Box::new(DimExpr::Sym(s.into())), Box::new(DimExpr::Const(128)));
    let ptr = |p: &str, part| AbiArg::Ptr {
        param: p.into(),
        part,
    };
    let amd = target.starts_with("gfx");
    let mut b = Bundle {
        meta: BundleMeta {
            format_version: BUNDLE_FORMAT_VERSION,
            kernel: k.name.clone(),
            entry: k.name.clone(),
            target: target.into(),
            source_file: "gemm_mxfp8.tsr".into(),
            source_sha256: tessera_bundle::sha256_hex(b"gemm_mxfp8"),
            tiles: vec![("BM".into(), 128), ("BN".into(), 128), ("BK".into(), 128)],
            grid: vec![cdiv("M"), cdiv("N")],
            block: [256, 1, 1],
            dynamic_shared_bytes: 0,
            abi: vec![
                ptr("a", TensorPart::Data),
                ptr("a", TensorPart::Scale),
                ptr("b", TensorPart::Data),
                ptr("b", TensorPart::Scale),
                ptr("c", TensorPart::Data),
                AbiArg::SymI32 { sym: "M".into() },
                AbiArg::SymI32 { sym: "N".into() },
                AbiArg::SymI32 { sym: "K".into() },
            ],
            ptx: None,
            cubin: None,
            hsaco: None,
            tile_ir: String::new(),
            index_bits: 64,
        },
        ptx: (!amd).then(|| ".version 8.0\n".into()),
        cubin: None,
        hsaco: amd.then(|| [b"\x7fELF\0".as_slice(), k.name.as_bytes(), b"\0"].concat()),
        tile_ir: tessera_ir::print_module(&module),
        report_txt: None,
        report_json: None,
    };
    if !amd {
        b.ptx = Some(tessera_bundle::ptx::stub(target, &b.meta.entry, &b.meta.abi));
    }
    b
}

fn load(target: &str, dims: &[&str]) -> Loaded {
    let k = mx_gemm_for(target);
    let common = Common {
        bundle_dir: format!("<test {target}>").into(),
        dims: dims.iter().map(|s| s.to_string()).collect(),
        scalars: vec![],
        seed: 11,
        backend: None,
        ..Common::default()
    };
    Loaded::from_bundle(bundle_of(&k, target), &common).expect("loads")
}

fn scale(b: &Bindings, i: usize) -> &TensorBuf {
    match &b.args[i] {
        ArgValue::Tensor(t) => t.scale.as_ref().expect("scaled"),
        ArgValue::Scalar(_) => panic!("parameter {i} is a tensor"),
    }
}

fn interp(k: &Kernel, b: &Bindings) -> Bindings {
    let mut out = problem::repoison(k, b).expect("repoison");
    tessera_interp::run(k, &mut out, ProgramSet::All).expect("interp");
    out
}

/// Partial tiles and padding on purpose: M, N not multiples of 128, K/32 = 10 not a multiple of 4.
const DIMS: [&str; 3] = ["M=100", "N=136", "K=320"];

#[test]
fn swizzled_bundles_get_prepacked_device_scales_and_agree_with_the_linear_kernel() {
    for (target, layout) in [
        ("sm_100a", ScaleLayout::Nv128x4),
        ("sm_120a", ScaleLayout::Nv128x4),
        ("gfx950", ScaleLayout::AmdLane16x16x128),
    ] {
        let l = load(target, &DIMS);
        let mut scaled = 0;
        for (i, p) in l.kernel.params.iter().enumerate() {
            let ParamKind::Tensor { ty, .. } = &p.kind else {
                continue;
            };
            let Some(spec) = &ty.scale else { continue };
            scaled += 1;
            assert_eq!(spec.layout, layout, "{target} `{}`", p.name);
            let logical = scale(&l.logical, i);
            let device = scale(&l.bindings, i);
            let want =
                tessera_prepack::prepack_tensor(layout, spec.scale_dtype, &logical.bytes, &logical.shape, 1)
                    .expect("prepack");
            assert_eq!(device.bytes, want, "{target} `{}`: device scales", p.name);
            assert_eq!(device.shape, vec![want.len()], "bound flat");
            // Padded (MN to the atom, K-blocks to 4), so not the logical buffer in disguise.
            assert!(device.bytes.len() > logical.bytes.len(), "{target}");
        }
        assert_eq!(scaled, 2, "{target}: a and b are scaled");
        // Data is identical in both forms; only scales move.
        let out = problem::outputs(&l.kernel)[0];
        let on_device = interp(&l.kernel, &l.bindings);
        let on_linear = interp(&l.logical_kernel, &l.logical);
        let (d, lin) = (
            problem::output_buf(&on_device, out).expect("c"),
            problem::output_buf(&on_linear, out).expect("c"),
        );
        assert_eq!(
            d.bytes, lin.bytes,
            "{target}: interp on prepacked == interp on linear"
        );
        assert!(
            !tessera_numerics::poisoned_mask(d)
                .expect("mask")
                .iter()
                .any(|p| *p),
            "{target}: every element written"
        );
        // The caller's (device) scale buffers are left as given.
        assert_eq!(scale(&on_device, 0), scale(&l.bindings, 0));
        // The interpreter's result as the device's: the checks (reference on the logical inputs
        // included) pass.
        let row = validate_outputs(&l, "test".into(), &on_device, &ValidateOptions::default(), 11)
            .expect("validate");
        assert!(row.pass, "{target}: {}\n{:?}", row.line(), row.detail_lines());
        assert!(
            row.checks.iter().any(|c| c.against == "reference" && c.pass),
            "{target}: {:?}",
            row.detail_lines()
        );
    }
}

/// A swizzled kernel given logical scales is refused even when the sizes coincide
/// (M, N multiples of 128 and K/32 a multiple of 4): the binding's shape tells them apart.
#[test]
fn logical_scales_for_a_swizzled_kernel_are_refused() {
    let l = load("sm_100a", &["M=128", "N=128", "K=256"]);
    assert_eq!(
        scale(&l.logical, 0).bytes.len(),
        scale(&l.bindings, 0).bytes.len(),
        "same size in both forms at this shape"
    );
    let mut b = problem::repoison(&l.kernel, &l.logical).expect("repoison");
    let e = tessera_interp::run(&l.kernel, &mut b, ProgramSet::All).expect_err("logical scales");
    assert_eq!(e.code(), "E0604", "{e}");
    assert!(e.to_string().contains("prepacked"), "{e}");
}
