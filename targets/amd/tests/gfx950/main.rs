//! gfx950 native block-scaled backend tests: the operand-layout model driven by our lowering's
//! lane maps against a plain dequantize-multiply reference (tessera-formats decode, f64), a
//! deliberately wrong scale assignment that must fail that comparison, the scale-word map against
//! the host prepack, coded diagnostics, and the compile + link + `llvm-objdump` audit.

mod model;
mod sim;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::{Div, Rem};
use tessera_formats::{Format, decode, pack_fp4};
use tessera_ir::{DType, ScaleLayout, ScaleSpec};
use tessera_lowering_mlir::native_scaled::Ix;
use tessera_target_amd::{GemmAbi, GemmTilePlan, MfmaFormat, MfmaShape, ScaledMfma, code, operand_format};

/// Random operands + scales for `C = (A*sa) @ (B*sb)^T` in logical (unpacked) form.
struct Case {
    m: usize,
    n: usize,
    k: usize,
    fa: MfmaFormat,
    fb: MfmaFormat,
    a: Vec<u8>,
    b: Vec<u8>,
    sa: Vec<u8>,
    sb: Vec<u8>,
}

fn random_code(rng: &mut ChaCha8Rng, f: MfmaFormat) -> u8 {
    loop {
        let c: u8 = rng.random();
        let c = match f.bits() {
            4 => c & 0xF,
            6 => c & 0x3F,
            _ => c,
        };
        // No NaN/inf codes: the comparison is about placement, not special values.
        if model::decode(f, u32::from(c)).is_finite() {
            return c;
        }
    }
}

impl Case {
    fn new(seed: u64, m: usize, n: usize, k: usize, fa: MfmaFormat, fb: MfmaFormat) -> Case {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a = (0..m * k).map(|_| random_code(&mut rng, fa)).collect();
        let b = (0..n * k).map(|_| random_code(&mut rng, fb)).collect();
        // Scales around 2^0 (124..=130): small exponents would flush products to zero and hide
        // misplacement (facebookexperimental/triton #917).
        let sa = (0..m * k / 32).map(|_| rng.random_range(124..=130)).collect();
        let sb = (0..n * k / 32).map(|_| rng.random_range(124..=130)).collect();
        Case {
            m,
            n,
            k,
            fa,
            fb,
            a,
            b,
            sa,
            sb,
        }
    }

    fn storage(&self, codes: &[u8], rows: usize, f: MfmaFormat) -> Vec<u8> {
        if f.bits() == 4 {
            pack_fp4(codes, &[rows, self.k], 1)
        } else {
            codes.to_vec()
        }
    }

    /// Plain reference: dequantize every element with tessera-formats, multiply in f64. Returns
    /// the sums and the sums of absolute terms (the scale rounding errors are measured against).
    fn reference(&self) -> (Vec<f64>, Vec<f64>) {
        let fmt = |f: MfmaFormat| match f {
            MfmaFormat::Fp8E4M3 => Format::F8E4M3,
            MfmaFormat::Bf8E5M2 => Format::F8E5M2,
            MfmaFormat::Fp6E2M3 => Format::F6E2M3,
            MfmaFormat::Bf6E3M2 => Format::F6E3M2,
            MfmaFormat::Fp4E2M1 => Format::F4E2M1,
        };
        let deq = |codes: &[u8], scales: &[u8], f: MfmaFormat, r: usize, kk: usize| {
            f64::from(decode(fmt(f), u16::from(codes[r * self.k + kk])))
                * f64::from(decode(
                    Format::E8M0,
                    u16::from(scales[r * (self.k / 32) + kk / 32]),
                ))
        };
        let (mut c, mut abs) = (vec![0f64; self.m * self.n], vec![0f64; self.m * self.n]);
        for i in 0..self.m {
            for j in 0..self.n {
                for kk in 0..self.k {
                    let t = deq(&self.a, &self.sa, self.fa, i, kk) * deq(&self.b, &self.sb, self.fb, j, kk);
                    c[i * self.n + j] += t;
                    abs[i * self.n + j] += t.abs();
                }
            }
        }
        (c, abs)
    }

    /// Run `plan` through the model on this case's buffers (scales prepacked by tessera-prepack).
    fn simulate(&self, plan: &GemmTilePlan) -> Vec<f32> {
        let layout = plan.layout();
        let pack = |s: &[u8], rows: usize| {
            tessera_prepack::prepack(layout, DType::E8M0, s, rows, self.k / 32).expect("prepack")
        };
        let (spa, spb) = (pack(&self.sa, self.m), pack(&self.sb, self.n));
        let (_, ks_pad_a) = tessera_prepack::padded_dims(layout, self.m, self.k / 32);
        let (_, ks_pad_b) = tessera_prepack::padded_dims(layout, self.n, self.k / 32);
        let (a, b) = (
            self.storage(&self.a, self.m, self.fa),
            self.storage(&self.b, self.n, self.fb),
        );
        let pr = sim::Problem {
            m: self.m,
            n: self.n,
            k: self.k,
            a: &a,
            b: &b,
            scale_a: &spa,
            scale_b: &spb,
            ks_pad_a,
            ks_pad_b,
        };
        sim::run(plan, &pr)
    }
}

/// Largest error relative to the sum of absolute terms of that output: the instruction rounds
/// each partial sum to f32, so cancellation makes plain relative error meaningless, while a
/// misplaced element or scale moves a whole term (an O(1) share of the absolute sum).
fn max_rel_err(got: &[f32], (want, abs): &(Vec<f64>, Vec<f64>)) -> f64 {
    got.iter()
        .zip(want)
        .zip(abs)
        .map(|((g, w), a)| (f64::from(*g) - w).abs() / a.max(1e-30))
        .fold(0.0, f64::max)
}

fn check(shape: MfmaShape, fa: MfmaFormat, fb: MfmaFormat, seed: u64) {
    // Partial tiles on every side: M, N not multiples of the atom, K not a multiple of the
    // superblock (the shapes that broke real kernels: scale indexing at a partial tile).
    let case = Case::new(seed, 100, 72, 320, fa, fb);
    let plan = GemmTilePlan::new(ScaledMfma { shape, a: fa, b: fb });
    let err = max_rel_err(&case.simulate(&plan), &case.reference());
    assert!(err < 1e-5, "{shape:?} {fa:?}x{fb:?}: max rel err {err}");
}

#[test]
fn mxfp8_16x16x128_lane_maps_match_reference() {
    check(MfmaShape::M16N16K128, MfmaFormat::Fp8E4M3, MfmaFormat::Fp8E4M3, 1);
    check(MfmaShape::M16N16K128, MfmaFormat::Bf8E5M2, MfmaFormat::Fp8E4M3, 2);
}

#[test]
fn mxfp8_32x32x64_lane_maps_match_reference() {
    check(MfmaShape::M32N32K64, MfmaFormat::Fp8E4M3, MfmaFormat::Fp8E4M3, 3);
}

#[test]
fn mxfp4_and_mixed_lane_maps_match_reference() {
    check(MfmaShape::M16N16K128, MfmaFormat::Fp4E2M1, MfmaFormat::Fp4E2M1, 4);
    check(MfmaShape::M32N32K64, MfmaFormat::Fp4E2M1, MfmaFormat::Fp4E2M1, 5);
    check(MfmaShape::M16N16K128, MfmaFormat::Fp8E4M3, MfmaFormat::Fp4E2M1, 6);
}

/// The comparison has teeth: hand lanes the scale of the neighbouring K-group (lane ^ 16 swaps
/// K-groups 0<->1 and 2<->3 while keeping the row) and the model must disagree with the reference.
#[test]
fn swapped_scale_k_groups_fail_the_comparison() {
    let atom = ScaledMfma {
        shape: MfmaShape::M16N16K128,
        a: MfmaFormat::Fp8E4M3,
        b: MfmaFormat::Fp8E4M3,
    };
    let case = Case::new(7, 48, 32, 256, atom.a, atom.b);
    let good = GemmTilePlan::new(atom);
    assert!(max_rel_err(&case.simulate(&good), &case.reference()) < 1e-5);
    let mut bad = good.clone();
    let swapped =
        Ix::var("tile") * (Ix::var("ks_pad").div(16) * 256) + Ix::var("sb") * 256 + Ix::lane().xor(16) * 4;
    bad.a.scale_word = swapped;
    let err = max_rel_err(&case.simulate(&bad), &case.reference());
    assert!(
        err > 1e-2,
        "a K-group-swapped scale map went unnoticed (max rel err {err})"
    );
    // Same for an operand map that reads the wrong K-group of data.
    let mut bad = good.clone();
    bad.b.read_lds = (0..8)
        .map(|j| Ix::lane().rem(16) * 128 + Ix::lane().div(16).xor(1) * 32 + 4 * j)
        .collect();
    let err = max_rel_err(&case.simulate(&bad), &case.reference());
    assert!(
        err > 1e-2,
        "a K-group-swapped operand map went unnoticed (max rel err {err})"
    );
}

/// Every (lane, step) scale byte the kernel reads is the prepack's slot for that lane's row and
/// K-block: checked element by element against tessera-prepack's offset formula.
#[test]
fn scale_word_map_agrees_with_prepack_offsets() {
    for shape in [MfmaShape::M16N16K128, MfmaShape::M32N32K64] {
        let plan = GemmTilePlan::new(ScaledMfma {
            shape,
            a: MfmaFormat::Fp8E4M3,
            b: MfmaFormat::Fp8E4M3,
        });
        let layout = plan.layout();
        let (mn, g) = (shape.mn() as usize, shape.k_groups() as usize);
        let (rows, ks) = (3 * mn, 40);
        let (_, ks_pad) = tessera_prepack::padded_dims(layout, rows, ks);
        for tile in 0..3 {
            for sb in 0..ks_pad / (4 * g) {
                let env = |v: &str| match v {
                    "tile" => Some(tile as i64),
                    "sb" => Some(sb as i64),
                    "ks_pad" => Some(ks_pad as i64),
                    _ => None,
                };
                for l in 0..64 {
                    for step in 0..4 {
                        let byte = plan.a.scale_word.eval(l as i64, &env).unwrap() as usize + step;
                        let (r, c) = (tile * mn + l % mn, sb * 4 * g + step * g + l / mn);
                        assert_eq!(
                            byte,
                            tessera_prepack::offset(layout, r, c, ks_pad),
                            "{shape:?} lane {l} step {step}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn nvfp4_and_fnuz_get_coded_diagnostics() {
    let nv = ScaleSpec {
        scale_dtype: DType::UE4M3,
        block: vec![1, 16],
        global: true,
        layout: ScaleLayout::Linear,
    };
    let e = operand_format(DType::F4E2M1, Some(&nv)).unwrap_err().to_string();
    assert!(
        e.contains(code::NVFP4_ON_GFX950) && e.contains("gfx950") && e.contains("ue4m3"),
        "{e}"
    );
    let e = operand_format(DType::F8E4M3Fnuz, None).unwrap_err().to_string();
    assert!(e.contains(code::FNUZ_ON_GFX950) && e.contains("gfx942"), "{e}");
    let mx = ScaleSpec {
        scale_dtype: DType::E8M0,
        block: vec![1, 32],
        global: false,
        layout: ScaleLayout::AmdLane16x16x128,
    };
    assert_eq!(
        operand_format(DType::F8E4M3, Some(&mx)).unwrap(),
        MfmaFormat::Fp8E4M3
    );
    let e = operand_format(DType::BF16, Some(&mx)).unwrap_err().to_string();
    assert!(e.contains(code::UNSUPPORTED_OPERAND), "{e}");
}

fn toolchain_present() -> bool {
    let bin = std::env::var("TESSERA_LLVM_BIN").unwrap_or_else(|_| "/usr/lib/llvm-22/bin".into());
    let ok = ["ld.lld", "llvm-objdump", "llvm-readelf"]
        .iter()
        .all(|t| std::path::Path::new(&bin).join(t).is_file());
    if !ok {
        eprintln!("skipped: ld.lld / llvm-objdump / llvm-readelf not found in {bin} (set TESSERA_LLVM_BIN)");
    }
    ok
}

#[test]
fn hsaco_contains_the_scaled_mfma_and_no_dequant_path() {
    if !toolchain_present() {
        return;
    }
    for (shape, fa, fb) in [
        (MfmaShape::M16N16K128, MfmaFormat::Fp8E4M3, MfmaFormat::Fp8E4M3),
        (MfmaShape::M32N32K64, MfmaFormat::Fp8E4M3, MfmaFormat::Fp8E4M3),
        (MfmaShape::M16N16K128, MfmaFormat::Fp4E2M1, MfmaFormat::Fp4E2M1),
    ] {
        let build = tessera_target_amd::build_scaled_gemm(
            "gemm_mx",
            ScaledMfma { shape, a: fa, b: fb },
            &GemmAbi::MX_F32,
        )
        .unwrap_or_else(|e| panic!("{shape:?} {fa:?}: {e}"));
        let a = &build.audit;
        assert_eq!(
            a.mfma.get(shape.mnemonic()),
            Some(&4),
            "{shape:?} {fa:?}: {:?}",
            a.mfma
        );
        assert!(a.dequant.is_empty(), "unexpected dequant path: {:?}", a.dequant);
        assert_eq!(a.abi_version, Some(3), "code object v5 expected");
        assert!(
            a.vgprs.is_some() && a.sgprs.is_some(),
            "register figures missing: {a:?}"
        );
        assert_eq!(a.vgpr_spills, Some(0), "{a:?}");
        assert!(build.mlir.contains(shape.rocdl_op()));
        let report = build.report_text();
        assert!(
            report.contains(shape.mnemonic()) && report.contains("no software conversion"),
            "{report}"
        );
    }
}

/// The padded scale-K the kernel computes from K equals the host prepack's.
#[test]
fn in_kernel_ks_pad_matches_prepack() {
    for shape in [MfmaShape::M16N16K128, MfmaShape::M32N32K64] {
        let plan = GemmTilePlan::new(ScaledMfma {
            shape,
            a: MfmaFormat::Fp8E4M3,
            b: MfmaFormat::Fp8E4M3,
        });
        let ix = tessera_lowering_mlir::native_scaled::ks_pad(32, plan.atom_ks());
        for k in (32..2048).step_by(32) {
            let got = ix.eval(0, &|v| (v == "K").then_some(k as i64)).unwrap() as usize;
            assert_eq!(
                got,
                tessera_prepack::padded_dims(plan.layout(), 1, k / 32).1,
                "K = {k}"
            );
        }
    }
}

fn example(name: &str) -> tessera_ir::Kernel {
    let path = format!("{}/../../dsl_examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (module, diags) = tessera_check::check_source(name, &bytes);
    let module = module.unwrap_or_else(|| panic!("{name} does not check: {diags:?}"));
    module.kernels.into_iter().next().expect("a kernel")
}

/// Every dsl_example either builds for gfx950 with the scaled MFMA present and no dequant path,
/// or gets a coded diagnostic naming gfx950 and pointing into the source.
#[test]
fn dsl_examples_build_for_gfx950_or_get_coded_diagnostics() {
    if !toolchain_present() {
        return;
    }
    let builds = ["gemm_mxfp8.tsr", "gemm_mxfp4_fp8.tsr", "gemm_fp8.tsr"];
    let refused = [
        ("gemm_nvfp4.tsr", code::NVFP4_ON_GFX950),
        ("gemm_bf16.tsr", code::UNSUPPORTED_OPERAND),
        ("gemm_fp8_blockscale.tsr", code::UNSUPPORTED_OPERAND),
        ("attention_fp8.tsr", code::NOT_A_GEMM),
        ("gemm_mxfp4_bf16.tsr", code::NOT_A_GEMM),
        ("gemm_dequant_explicit.tsr", code::NOT_A_GEMM),
        ("moe_mxfp8.tsr", code::NOT_A_GEMM),
    ];
    for name in builds {
        let k = example(name);
        let b = tessera_target_amd::build_kernel(&k, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            b.build.audit.mfma.get(b.atom.shape.mnemonic()),
            Some(&4),
            "{name}: {:?}",
            b.build.audit
        );
        assert!(
            b.build.audit.dequant.is_empty(),
            "{name}: {:?}",
            b.build.audit.dequant
        );
        assert_eq!(b.entry, k.name);
    }
    for (name, c) in refused {
        let k = example(name);
        let e = tessera_target_amd::build_kernel(&k, false).expect_err(name);
        assert_eq!(e.code(), Some(c), "{name}: {e}");
        assert!(e.to_string().contains("gfx950"), "{name}: {e}");
        assert!(e.span().is_some(), "{name}: no span");
    }
}

mod interp_check {
    //! End to end against the interpreter: a dsl_example kernel is checked, run by tessera-interp
    //! on random inputs, and compiled for gfx950; the native kernel's data movement (the plan's
    //! lane maps, on the instruction model) plus its epilogue must give the same output.
    use super::*;
    use tessera_ir::ParamKind;
    use tessera_numerics::{ArgValue, Bindings, TensorArg, TensorBuf};

    pub fn bf16_to_f32(lo: u8, hi: u8) -> f32 {
        f32::from_bits(u32::from(u16::from_le_bytes([lo, hi])) << 16)
    }

    /// Run `name` on the interpreter and on the gfx950 model with the same random inputs; returns
    /// the worst error in units of the reference's bf16 spacing.
    pub fn compare(name: &str, m: usize, n: usize, k: usize) -> f64 {
        let kernel = example(name);
        let built =
            tessera_target_amd::build_kernel(&kernel, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let mut args = Vec::new();
        let mut logical: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for p in &kernel.params {
            match &p.kind {
                ParamKind::Tensor { ty, is_out: false } => {
                    let rows = if p.name == "a" { m } else { n };
                    let f = MfmaFormat::from_dtype(ty.dtype).expect("scaled MFMA operand");
                    let codes: Vec<u8> = (0..rows * k).map(|_| random_code(&mut rng, f)).collect();
                    let bytes = if f.bits() == 4 {
                        pack_fp4(&codes, &[rows, k], 1)
                    } else {
                        codes.clone()
                    };
                    let scales: Option<Vec<u8>> = ty
                        .scale
                        .as_ref()
                        .map(|_| (0..rows * k / 32).map(|_| rng.random_range(124..=130)).collect());
                    let data = TensorBuf {
                        dtype: ty.dtype,
                        shape: vec![rows, k],
                        packed_axis: ty.packed_axis,
                        bytes,
                    };
                    let scale = scales.clone().map(|s| TensorBuf {
                        dtype: DType::E8M0,
                        shape: vec![rows, k / 32],
                        packed_axis: None,
                        bytes: s,
                    });
                    args.push(ArgValue::Tensor(TensorArg {
                        data,
                        scale,
                        global_scale: None,
                    }));
                    logical.push((codes, scales));
                }
                ParamKind::Tensor { ty, is_out: true } => {
                    let data = TensorBuf {
                        dtype: ty.dtype,
                        shape: vec![m, n],
                        packed_axis: None,
                        bytes: vec![0; ty.dtype.storage_bytes(m * n)],
                    };
                    args.push(ArgValue::Tensor(TensorArg {
                        data,
                        scale: None,
                        global_scale: None,
                    }));
                }
                ParamKind::Scalar(_) => args.push(ArgValue::Scalar(rng.random_range(0.5..2.0))),
            }
        }
        let scalars: Vec<f64> = args
            .iter()
            .filter_map(|a| {
                if let ArgValue::Scalar(v) = a {
                    Some(*v)
                } else {
                    None
                }
            })
            .collect();
        let mut b = Bindings {
            args,
            syms: Vec::new(),
        };
        tessera_interp::run(&kernel, &mut b, tessera_interp::ProgramSet::All)
            .unwrap_or_else(|e| panic!("{name}: interp: {e}"));
        let out = b
            .args
            .iter()
            .zip(&kernel.params)
            .find_map(|(a, p)| match (a, &p.kind) {
                (ArgValue::Tensor(t), ParamKind::Tensor { is_out: true, .. }) => Some(t.data.bytes.clone()),
                _ => None,
            });
        let out = out.expect("an out tensor");
        assert!(
            out.chunks(2).any(|h| bf16_to_f32(h[0], h[1]).abs() > 1.0),
            "{name}: degenerate interpreter output"
        );
        // The native kernel on the model, then its epilogue: times the f32 scalars, to bf16.
        let atom = built.atom;
        let neutral = |rows: usize| vec![127u8; rows * k / 32];
        let case = Case {
            m,
            n,
            k,
            fa: atom.a,
            fb: atom.b,
            a: logical[0].0.clone(),
            b: logical[1].0.clone(),
            sa: logical[0].1.clone().unwrap_or_else(|| neutral(m)),
            sb: logical[1].1.clone().unwrap_or_else(|| neutral(n)),
        };
        let native = case.simulate(&GemmTilePlan::new(atom));
        let alpha: f64 = scalars.iter().product();
        let mut worst: f64 = 0.0;
        for (i, v) in native.iter().enumerate() {
            let got = f64::from(half::bf16::from_f32((f64::from(*v) * alpha) as f32).to_f32());
            let want = f64::from(bf16_to_f32(out[2 * i], out[2 * i + 1]));
            // One bf16 ulp of the reference (or of 1e-3 near zero): the two sides may round a
            // different f32 accumulation order to neighbouring bf16 values.
            let ulp = (want.abs().max(1e-3) * f64::from(f32::EPSILON) * 65536.0).max(1e-30);
            worst = worst.max((got - want).abs() / ulp);
        }
        worst
    }
}

/// The interpreter and the gfx950 model of the compiled kernel agree (within one bf16 ulp) on the
/// dsl_examples that build for gfx950, including the plain-fp8 one (neutral scales, scalar epilogue).
#[test]
fn gfx950_matches_the_interpreter_on_dsl_examples() {
    for name in ["gemm_mxfp8.tsr", "gemm_mxfp4_fp8.tsr", "gemm_fp8.tsr"] {
        let ulps = interp_check::compare(name, 100, 72, 320);
        assert!(ulps <= 1.0, "{name}: {ulps} bf16 ulps from the interpreter");
    }
}
