//! Native block-scaled NVIDIA backends: the sm_120a `mma.sync ... block_scale` operand-layout
//! model driven by our lane maps against a plain dequantize-multiply reference (tessera-formats,
//! f64) with scales prepacked in nv128x4 by tessera-prepack; a deliberately wrong scale
//! assignment that must fail; and PTX for sm_120a / sm_121a / sm_100a accepted by the pinned ptxas
//! with the expected instruction families present.

mod model;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::{Div, Rem};
use tessera_formats::{Format, decode};
use tessera_ir::{DType, ScaleLayout};
use tessera_lowering_mlir::native_scaled::{GemmAbi, Ix};
use tessera_target_nvidia::native::{SM100A, SM120A, SM121A, build_sm120_mx_gemm};
use tessera_target_nvidia::sm120::{Fp8Type, MxMmaSync, Sm120Kind, nv128x4_word};

/// Random operands for one sm_120 variant, in logical (unpacked) form.
struct Case {
    m: usize,
    n: usize,
    k: usize,
    mma: MxMmaSync,
    a: Vec<u8>,
    b: Vec<u8>,
    sa: Vec<u8>,
    sb: Vec<u8>,
}

fn fp8(rng: &mut ChaCha8Rng) -> u8 {
    loop {
        let c: u8 = rng.random();
        if c & 0x7F != 0x7F {
            return c;
        }
    }
}

impl Case {
    fn new(seed: u64, m: usize, n: usize, k: usize, mma: MxMmaSync) -> Case {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let fp4 = mma.elem_bits() == 4;
        let block = mma.block() as usize;
        let code = |rng: &mut ChaCha8Rng| if fp4 { rng.random::<u8>() & 0xF } else { fp8(rng) };
        // e8m0 around 2^0 so no product underflows (facebookexperimental/triton #917); ue4m3 0.5..8.
        let scale = |rng: &mut ChaCha8Rng| {
            if mma.kind == Sm120Kind::Nvf4 {
                (rng.random_range(6u8..=10) << 3) | (rng.random::<u8>() & 7)
            } else {
                rng.random_range(124..=130)
            }
        };
        Case {
            m,
            n,
            k,
            mma,
            a: (0..m * k).map(|_| code(&mut rng)).collect(),
            b: (0..n * k).map(|_| code(&mut rng)).collect(),
            sa: (0..m * k / block).map(|_| scale(&mut rng)).collect(),
            sb: (0..n * k / block).map(|_| scale(&mut rng)).collect(),
        }
    }

    fn formats(&self) -> (Format, Format) {
        match self.mma.kind {
            Sm120Kind::Mxf8 { .. } => (Format::F8E4M3, Format::E8M0),
            Sm120Kind::Mxf4 => (Format::F4E2M1, Format::E8M0),
            Sm120Kind::Nvf4 => (Format::F4E2M1, Format::UE4M3),
        }
    }

    fn reference(&self) -> (Vec<f64>, Vec<f64>) {
        let (ef, sf) = self.formats();
        let block = self.mma.block() as usize;
        let deq = |codes: &[u8], s: &[u8], r: usize, kk: usize| {
            f64::from(decode(ef, u16::from(codes[r * self.k + kk])))
                * f64::from(decode(sf, u16::from(s[r * (self.k / block) + kk / block])))
        };
        let (mut c, mut abs) = (vec![0f64; self.m * self.n], vec![0f64; self.m * self.n]);
        for i in 0..self.m {
            for j in 0..self.n {
                for kk in 0..self.k {
                    let t = deq(&self.a, &self.sa, i, kk) * deq(&self.b, &self.sb, j, kk);
                    c[i * self.n + j] += t;
                    abs[i * self.n + j] += t.abs();
                }
            }
        }
        (c, abs)
    }

    /// The sm_120 kernel skeleton on the host: per 16x8 tile, per nv128x4 scale word one 32-bit
    /// load per lane (the `nv128x4_word` map the generator emits), `mmas_per_word` MMAs with
    /// byte-id stepping by the scale vector, operand registers from the lane maps with the same
    /// masks, accumulators stored by the acc map.
    fn simulate(&self, sfa_row: &Ix, sfb_col: &Ix) -> Vec<f32> {
        let mma = &self.mma;
        let (block, fp4) = (mma.block() as usize, mma.elem_bits() == 4);
        let sdt = if mma.kind == Sm120Kind::Nvf4 {
            DType::UE4M3
        } else {
            DType::E8M0
        };
        let pack = |s: &[u8], rows: usize| {
            tessera_prepack::prepack(ScaleLayout::Nv128x4, sdt, s, rows, self.k / block).unwrap()
        };
        let (pa, pb) = (pack(&self.sa, self.m), pack(&self.sb, self.n));
        let (_, ks_pad) = tessera_prepack::padded_dims(ScaleLayout::Nv128x4, self.m, self.k / block);
        let store = |codes: &[u8], rows: usize| {
            if fp4 {
                tessera_formats::pack_fp4(codes, &[rows, self.k], 1)
            } else {
                codes.to_vec()
            }
        };
        let (da, db) = (store(&self.a, self.m), store(&self.b, self.n));
        let kbytes = self.k * mma.elem_bits() as usize / 8;
        let word = |buf: &[u8], o: usize| u32::from_le_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
        let frag = |buf: &[u8], rows: usize, row: usize, kb: usize| {
            if row < rows && kb < kbytes {
                word(buf, row * kbytes + kb)
            } else {
                0
            }
        };
        let variant = model::Variant {
            fp4,
            scale_vec: mma.scale_vec() as usize,
            ue4m3: sdt == DType::UE4M3,
        };
        let mut c = vec![0f32; self.m * self.n];
        for tm in 0..self.m.div_ceil(16) {
            for tn in 0..self.n.div_ceil(8) {
                let mut acc = vec![[0f32; 4]; 32];
                for katom in 0..self.k.div_ceil(mma.k_per_word() as usize) {
                    let scales = |buf: &[u8], mn0: usize, who: &Ix| -> Vec<u32> {
                        let ix =
                            nv128x4_word(Ix::var("mn0") + who.clone(), Ix::var("katom"), Ix::var("ks_pad"));
                        let env = |v: &str| match v {
                            "mn0" => Some(mn0 as i64),
                            "katom" => Some(katom as i64),
                            "ks_pad" => Some(ks_pad as i64),
                            _ => None,
                        };
                        (0..32)
                            .map(|l| word(buf, ix.eval(l, &env).unwrap() as usize))
                            .collect()
                    };
                    let (swa, swb) = (scales(&pa, tm * 16, sfa_row), scales(&pb, tn * 8, sfb_col));
                    for step in 0..mma.mmas_per_word() as usize {
                        let kb = katom * mma.k_per_word() as usize * mma.elem_bits() as usize / 8 + 32 * step;
                        let at = |ix: &Ix, l: i64| ix.at(l).unwrap() as usize;
                        let a: Vec<[u32; 4]> = (0..32)
                            .map(|l| {
                                std::array::from_fn(|j| {
                                    let (r, kk) = mma.a_reg(j as u32);
                                    frag(&da, self.m, tm * 16 + at(&r, l), kb + at(&kk, l))
                                })
                            })
                            .collect();
                        let b: Vec<[u32; 2]> = (0..32)
                            .map(|l| {
                                std::array::from_fn(|j| {
                                    let (cn, kk) = mma.b_reg(j as u32);
                                    frag(&db, self.n, tn * 8 + at(&cn, l), kb + at(&kk, l))
                                })
                            })
                            .collect();
                        let byte = step * mma.scale_vec() as usize;
                        acc = model::mma_block_scale(variant, &a, &b, &acc, &swa, byte, 0, &swb, byte, 0);
                    }
                }
                for (l, regs) in acc.iter().enumerate() {
                    for (i, v) in regs.iter().enumerate() {
                        let (r, cn) = mma.acc(i as u32);
                        let (gr, gc) = (
                            tm * 16 + r.at(l as i64).unwrap() as usize,
                            tn * 8 + cn.at(l as i64).unwrap() as usize,
                        );
                        if gr < self.m && gc < self.n {
                            c[gr * self.n + gc] = *v;
                        }
                    }
                }
            }
        }
        c
    }
}

fn max_rel_err(got: &[f32], (want, abs): &(Vec<f64>, Vec<f64>)) -> f64 {
    got.iter()
        .zip(want)
        .zip(abs)
        .map(|((g, w), a)| (f64::from(*g) - w).abs() / a.max(1e-30))
        .fold(0.0, f64::max)
}

const MMA: MxMmaSync = MxMmaSync::fp8(Fp8Type::E4M3, Fp8Type::E4M3);

#[test]
fn sm120_mxfp8_lane_maps_match_reference() {
    // Partial tiles on every side, and more than one 128-row scale atom along M.
    let case = Case::new(11, 150, 44, 320, MMA);
    let err = max_rel_err(&case.simulate(&MMA.sfa_row(), &MMA.sfb_col()), &case.reference());
    assert!(err < 1e-5, "max rel err {err}");
}

#[test]
fn sm120_mxfp4_and_nvfp4_lane_maps_match_reference() {
    for kind in [Sm120Kind::Mxf4, Sm120Kind::Nvf4] {
        let mma = MxMmaSync { kind };
        let case = Case::new(13, 40, 20, 384, mma);
        let err = max_rel_err(&case.simulate(&mma.sfa_row(), &mma.sfb_col()), &case.reference());
        assert!(err < 1e-5, "{kind:?}: max rel err {err}");
    }
}

/// A scale assignment that swaps rows g and g+8 between the two scale-carrying threads of each
/// quad must be caught by the same comparison.
#[test]
fn sm120_swapped_scale_rows_fail_the_comparison() {
    let case = Case::new(12, 32, 16, 128, MMA);
    let swapped = Ix::lane().div(4) + Ix::lane().rem(4).rem(2).xor(1) * 8;
    let err = max_rel_err(&case.simulate(&swapped, &MMA.sfb_col()), &case.reference());
    assert!(
        err > 1e-2,
        "swapped A-scale rows went unnoticed (max rel err {err})"
    );
    let shifted_b = Ix::lane().div(4).xor(1);
    let err = max_rel_err(&case.simulate(&MMA.sfa_row(), &shifted_b), &case.reference());
    assert!(
        err > 1e-2,
        "swapped B-scale columns went unnoticed (max rel err {err})"
    );
}

fn ptxas() -> Option<std::path::PathBuf> {
    match tessera_target_nvidia::locate_ptxas() {
        Ok(p) => Some(p),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[test]
fn sm120a_and_sm121a_ptx_pass_ptxas_with_block_scaled_mma() {
    let variants = [
        MMA,
        MxMmaSync {
            kind: Sm120Kind::Mxf4,
        },
        MxMmaSync {
            kind: Sm120Kind::Nvf4,
        },
    ];
    for (target, mma) in [SM120A, SM121A]
        .into_iter()
        .flat_map(|t| variants.map(|m| (t, m)))
    {
        let build = build_sm120_mx_gemm("mx_gemm", &mma, &target, &GemmAbi::MX_F32)
            .unwrap_or_else(|e| panic!("{}: {e}", target.name));
        assert_eq!(
            build.audit.block_scaled.get(&build.family).copied(),
            Some(mma.mmas_per_word() as usize),
            "{:?}",
            build.audit
        );
        assert!(
            build.audit.dequant.is_empty(),
            "unexpected dequant path {:?}",
            build.audit.dequant
        );
        assert_eq!(build.audit.count("tcgen05"), 0, "sm_120-class has no tcgen05");
        let Some(p) = ptxas() else { return };
        let (cubin, info) = tessera_target_nvidia::ptxas_assemble(&p, &build.ptx, target.ptxas_arch)
            .unwrap_or_else(|log| panic!("ptxas -arch={} rejected the PTX:\n{log}", target.ptxas_arch));
        assert!(!cubin.is_empty());
        assert_eq!(info.spill_stores_bytes, 0, "{info:?}");
    }
}

#[test]
fn sm100a_ptx_passes_ptxas_with_tcgen05_block_scale() {
    use tessera_target_nvidia::native::build_sm100_gemm;
    use tessera_target_nvidia::sm100::{BlockScaleKind, Sm100Plan};
    for (g, mmas) in [
        // MXFP8 x MXFP8 (e4m3, ue8m0): four K=32 MMAs per 128-K iteration.
        (
            Sm100Plan {
                kind: BlockScaleKind::Mxf8f6f4,
                a_fmt: 0,
                b_fmt: 0,
                ue8m0: true,
            },
            4,
        ),
        // NVFP4 (e2m1, ue4m3 block 16, PTX ISA 8.8): four K=64 MMAs per 256-K iteration.
        (
            Sm100Plan {
                kind: BlockScaleKind::Mxf4nvf4 { block16: true },
                a_fmt: 1,
                b_fmt: 1,
                ue8m0: false,
            },
            4,
        ),
    ] {
        let build =
            build_sm100_gemm("bs_gemm", &g, &GemmAbi::MX_F32).unwrap_or_else(|e| panic!("{g:?}: {e}"));
        let a = &build.audit;
        assert_eq!(a.count(&build.family), mmas, "{a:?}");
        for op in [
            "tcgen05.alloc",
            "tcgen05.cp",
            "tcgen05.commit",
            "tcgen05.ld",
            "tcgen05.dealloc",
        ] {
            assert!(a.count(op) > 0, "{op} missing: {a:?}");
        }
        assert!(a.dequant.is_empty(), "{a:?}");
        assert!(build.ptx.contains("cp.async.bulk") && build.ptx.contains("mbarrier.try_wait.parity"));
        assert!(
            build.report_text().contains("present x4"),
            "{}",
            build.report_text()
        );
        let Some(p) = ptxas() else { return };
        let (_, info) = tessera_target_nvidia::ptxas_assemble(&p, &build.ptx, SM100A.ptxas_arch)
            .unwrap_or_else(|log| panic!("ptxas -arch=sm_100a rejected {g:?}:\n{log}"));
        eprintln!(
            "sm_100a {:?}: {} registers, {} B spill stores",
            g.kind, info.registers, info.spill_stores_bytes
        );
        assert_eq!(info.spill_stores_bytes, 0, "{info:?}");
    }
}

mod tcgen05_sim {
    //! The sm_100a kernel skeleton on the host, every address taken from the [`Sm100Plan`] the
    //! generator emits (row chunks, descriptor advance, scale atoms, TMEM columns, descriptors).
    use super::tcgen05_model::{Tmem, mma_block_scale};
    use tessera_target_nvidia::sm100::{BlockScaleKind, Sm100Plan};

    pub struct Problem<'a> {
        pub m: usize,
        pub n: usize,
        pub k: usize,
        /// K-contiguous rows as stored (fp4 packed).
        pub a: &'a [u8],
        pub b: &'a [u8],
        pub scale_a: &'a [u8],
        pub scale_b: &'a [u8],
        pub ks_pad: usize,
    }

    /// `idesc_edit` lets a test corrupt the descriptor handed to the MMA (wrong-assignment test).
    pub fn run(g: &Sm100Plan, p: &Problem, idesc_edit: &dyn Fn(u32, u32) -> u32) -> Vec<f32> {
        let rb = Sm100Plan::ROW_BYTES as usize;
        let row_stride = p.k * g.elem_bits() as usize / 8;
        let (atoms, tile) = (g.atoms_per_iter() as usize, Sm100Plan::TILE as usize);
        let mut c = vec![0f32; p.m * p.n];
        for tm in 0..p.m.div_ceil(tile) {
            for tn in 0..p.n.div_ceil(tile) {
                let mut tmem = Tmem::new();
                for it in 0..p.k / g.k_per_iter() as usize {
                    // smem: A tile, B tile, then A atoms and B atoms.
                    let mut smem = vec![0u8; 2 * tile * rb];
                    for (op, rows, src, base) in [(0, p.m, p.a, tm * tile), (1, p.n, p.b, tn * tile)] {
                        for t in 0..tile {
                            for ch in 0..rb / 16 {
                                let dst =
                                    op * tile * rb + g.smem_chunk(ch as u32).at(t as i64).unwrap() as usize;
                                if base + t < rows {
                                    let s = (base + t) * row_stride + it * rb + ch * 16;
                                    smem[dst..dst + 16].copy_from_slice(&src[s..s + 16]);
                                }
                            }
                        }
                    }
                    for (op, buf, t) in [(0usize, p.scale_a, tm), (1, p.scale_b, tn)] {
                        for j in 0..atoms {
                            let env = |v: &str| match v {
                                "tile" => Some(t as i64),
                                "iter" => Some(it as i64),
                                "ks_pad" => Some(p.ks_pad as i64),
                                _ => None,
                            };
                            let off = g.scale_atom(j as u32).eval(0, &env).unwrap() as usize;
                            let col = if op == 0 {
                                g.sfa_col(j as u32)
                            } else {
                                g.sfb_col(j as u32)
                            };
                            tmem.cp_32x128b_warpx4(col as usize, &buf[off..off + 512]);
                        }
                    }
                    for s in 0..g.mmas() {
                        let (atom, _) = g.mma_scales(s);
                        let adv = g.desc_advance(s) as usize;
                        mma_block_scale(
                            &mut tmem,
                            &smem,
                            adv,
                            tile * rb + adv,
                            Sm100Plan::LBO as usize,
                            Sm100Plan::SBO as usize,
                            idesc_edit(s, g.idesc(s)),
                            g.sfa_col(atom) as usize,
                            g.sfb_col(atom) as usize,
                            matches!(g.kind, BlockScaleKind::Mxf4nvf4 { .. }),
                            g.block() as usize,
                            it > 0 || s > 0,
                        );
                    }
                }
                // tcgen05.ld.32x32b: thread t of warp w holds TMEM lane 32w + t = row m0 + tid.
                for tid in 0..tile {
                    for col in 0..tile {
                        let (gr, gc) = (tm * tile + tid, tn * tile + col);
                        if gr < p.m && gc < p.n {
                            c[gr * p.n + gc] = f32::from_bits(tmem.cells[32 * (tid / 32) + tid % 32][col]);
                        }
                    }
                }
            }
        }
        c
    }
}

mod tcgen05_model;

/// A tcgen05 test case: codes of A and B, their logical scales, the reference and its |terms|.
struct Tc05Case {
    a: Vec<u8>,
    b: Vec<u8>,
    sa: Vec<u8>,
    sb: Vec<u8>,
    want: Vec<f64>,
    abs: Vec<f64>,
}

/// (codes, logical scales) case for the tcgen05 tests: fp8 e4m3 + e8m0 (MXFP8) or packed e2m1 +
/// ue4m3 block 16 (NVFP4 without its per-tensor global, which the epilogue would apply).
fn tcgen05_case(seed: u64, m: usize, n: usize, k: usize, nvfp4: bool) -> Tc05Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let block = if nvfp4 { 16 } else { 32 };
    let code = |rng: &mut ChaCha8Rng| if nvfp4 { rng.random::<u8>() & 0xF } else { fp8(rng) };
    let a: Vec<u8> = (0..m * k).map(|_| code(&mut rng)).collect();
    let b: Vec<u8> = (0..n * k).map(|_| code(&mut rng)).collect();
    // ue4m3 scales 0.5 .. 8 (exponent codes 6..10), e8m0 around 2^0.
    let scale = |rng: &mut ChaCha8Rng| {
        if nvfp4 {
            (rng.random_range(6u8..=10) << 3) | (rng.random::<u8>() & 7)
        } else {
            rng.random_range(124..=130)
        }
    };
    let sa: Vec<u8> = (0..m * k / block).map(|_| scale(&mut rng)).collect();
    let sb: Vec<u8> = (0..n * k / block).map(|_| scale(&mut rng)).collect();
    let (ef, sf) = if nvfp4 {
        (Format::F4E2M1, Format::UE4M3)
    } else {
        (Format::F8E4M3, Format::E8M0)
    };
    let deq = |codes: &[u8], s: &[u8], r: usize, kk: usize| {
        f64::from(decode(ef, u16::from(codes[r * k + kk])))
            * f64::from(decode(sf, u16::from(s[r * (k / block) + kk / block])))
    };
    let (mut c, mut abs) = (vec![0f64; m * n], vec![0f64; m * n]);
    for i in 0..m {
        for j in 0..n {
            for kk in 0..k {
                let t = deq(&a, &sa, i, kk) * deq(&b, &sb, j, kk);
                c[i * n + j] += t;
                abs[i * n + j] += t.abs();
            }
        }
    }
    Tc05Case {
        a,
        b,
        sa,
        sb,
        want: c,
        abs,
    }
}

fn tcgen05_check(
    g: &tessera_target_nvidia::sm100::Sm100Plan,
    nvfp4: bool,
    idesc_edit: &dyn Fn(u32, u32) -> u32,
) -> f64 {
    let (m, n, k) = (150, 100, 512);
    let Tc05Case {
        a,
        b,
        sa,
        sb,
        want,
        abs,
    } = tcgen05_case(21, m, n, k, nvfp4);
    let block = if nvfp4 { 16 } else { 32 };
    let sdt = if nvfp4 { DType::UE4M3 } else { DType::E8M0 };
    let pack = |s: &[u8], rows: usize| {
        tessera_prepack::prepack(ScaleLayout::Nv128x4, sdt, s, rows, k / block).unwrap()
    };
    let (_, ks_pad) = tessera_prepack::padded_dims(ScaleLayout::Nv128x4, m, k / block);
    let store = |codes: &[u8], rows: usize| {
        if nvfp4 {
            tessera_formats::pack_fp4(codes, &[rows, k], 1)
        } else {
            codes.to_vec()
        }
    };
    let (pa, pb, spa, spb) = (store(&a, m), store(&b, n), pack(&sa, m), pack(&sb, n));
    let p = tcgen05_sim::Problem {
        m,
        n,
        k,
        a: &pa,
        b: &pb,
        scale_a: &spa,
        scale_b: &spb,
        ks_pad,
    };
    max_rel_err(&tcgen05_sim::run(g, &p, idesc_edit), &(want, abs))
}

#[test]
fn sm100_tcgen05_lane_maps_match_reference() {
    use tessera_target_nvidia::sm100::{BlockScaleKind, Sm100Plan};
    let mx = Sm100Plan {
        kind: BlockScaleKind::Mxf8f6f4,
        a_fmt: 0,
        b_fmt: 0,
        ue8m0: true,
    };
    let err = tcgen05_check(&mx, false, &|_, d| d);
    assert!(err < 1e-5, "MXFP8: max rel err {err}");
    let nv = Sm100Plan {
        kind: BlockScaleKind::Mxf4nvf4 { block16: true },
        a_fmt: 1,
        b_fmt: 1,
        ue8m0: false,
    };
    let err = tcgen05_check(&nv, true, &|_, d| d);
    assert!(err < 1e-5, "NVFP4: max rel err {err}");
}

/// Scale-factor ids that step through the K-blocks in the wrong order (1,0,3,2 instead of
/// 0,1,2,3) are a wrong scale assignment; the comparison must catch it.
#[test]
fn sm100_swapped_scale_factor_ids_fail_the_comparison() {
    use tessera_target_nvidia::sm100::{BlockScaleKind, Sm100Plan};
    let mx = Sm100Plan {
        kind: BlockScaleKind::Mxf8f6f4,
        a_fmt: 0,
        b_fmt: 0,
        ue8m0: true,
    };
    let swap = |_s: u32, d: u32| d ^ (1 << 29) ^ (1 << 4);
    let err = tcgen05_check(&mx, false, &swap);
    assert!(
        err > 1e-2,
        "swapped scale-factor ids went unnoticed (max rel err {err})"
    );
}

fn example(name: &str) -> tessera_ir::Kernel {
    let path = format!("{}/../../dsl_examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (module, diags) = tessera_check::check_source(name, &bytes);
    let module = module.unwrap_or_else(|| panic!("{name} does not check: {diags:?}"));
    module.kernels.into_iter().next().expect("a kernel")
}

/// Every dsl_example builds for sm_100a / sm_120a / sm_121a (expected family present, no dequant
/// path, accepted by ptxas) or gets a coded diagnostic naming the target, with a span.
#[test]
fn dsl_examples_build_for_native_targets_or_get_coded_diagnostics() {
    use tessera_target_nvidia::native::{build_kernel, code};
    let builds: &[(&str, &[&str])] = &[
        ("gemm_mxfp8.tsr", &["sm_100a", "sm_120a", "sm_121a"]),
        ("gemm_fp8.tsr", &["sm_100a", "sm_120a", "sm_121a"]),
        ("gemm_nvfp4.tsr", &["sm_100a", "sm_120a", "sm_121a"]),
    ];
    let refused: &[(&str, &str, &str)] = &[
        ("gemm_mxfp4_fp8.tsr", "sm_100a", code::UNSUPPORTED_OPERAND),
        ("gemm_mxfp4_fp8.tsr", "sm_120a", code::UNSUPPORTED_OPERAND),
        ("gemm_bf16.tsr", "sm_100a", code::UNSUPPORTED_OPERAND),
        ("gemm_fp8_blockscale.tsr", "sm_120a", code::UNSUPPORTED_OPERAND),
        ("attention_fp8.tsr", "sm_100a", code::NOT_A_GEMM),
        ("moe_mxfp8.tsr", "sm_120a", code::NOT_A_GEMM),
        ("gemm_mxfp4_bf16.tsr", "sm_100a", code::NOT_A_GEMM),
        ("gemm_dequant_explicit.tsr", "sm_100a", code::NOT_A_GEMM),
    ];
    let ptxas = ptxas();
    for (name, targets) in builds {
        let k = example(name);
        for t in *targets {
            let target = tessera_target_nvidia::native::native_by_name(t).expect("native target");
            let b = build_kernel(&k, &target).unwrap_or_else(|e| panic!("{name} on {t}: {e}"));
            let per_iter = match b.choice {
                tessera_target_nvidia::native::NativeChoice::Sm120(m) => m.mmas_per_word(),
                tessera_target_nvidia::native::NativeChoice::Sm100(p) => p.mmas(),
            };
            assert_eq!(
                b.build.audit.count(&b.build.family),
                per_iter as usize,
                "{name} on {t}: {:?}",
                b.build.audit
            );
            assert!(
                b.build.audit.dequant.is_empty(),
                "{name} on {t}: {:?}",
                b.build.audit.dequant
            );
            if let Some(p) = &ptxas {
                tessera_target_nvidia::ptxas_assemble(p, &b.build.ptx, target.ptxas_arch).unwrap_or_else(
                    |log| panic!("ptxas -arch={} rejected {name}:\n{log}", target.ptxas_arch),
                );
            }
        }
    }
    for (name, t, c) in refused {
        let target = tessera_target_nvidia::native::native_by_name(t).expect("native target");
        let e = build_kernel(&example(name), &target).expect_err(name);
        assert_eq!(e.code, *c, "{name} on {t}: {e}");
        assert!(e.to_string().contains(t), "{e}");
        assert!(e.span.is_some(), "{name}: no span");
    }
}

mod interp_check {
    //! End to end against the interpreter: a dsl_example kernel is checked, run by tessera-interp
    //! on random inputs, and compiled for a native target; the native kernel's data movement (lane
    //! maps on the instruction model) plus its epilogue must give the same output.
    use super::*;
    use tessera_ir::ParamKind;
    use tessera_numerics::{ArgValue, Bindings, TensorArg, TensorBuf};
    use tessera_target_nvidia::native::{NativeChoice, build_kernel, native_by_name};

    fn bf16_to_f32(lo: u8, hi: u8) -> f32 {
        f32::from_bits(u32::from(u16::from_le_bytes([lo, hi])) << 16)
    }

    /// Worst error, in bf16 ulps of the reference, between the interpreter and the native model.
    pub fn compare(name: &str, target: &str, m: usize, n: usize, k: usize) -> f64 {
        let kernel = example(name);
        let target = native_by_name(target).expect("native target");
        let built = build_kernel(&kernel, &target).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut rng = ChaCha8Rng::seed_from_u64(77);
        let (mut args, mut logical) = (Vec::new(), Vec::new());
        for p in &kernel.params {
            match &p.kind {
                ParamKind::Tensor { ty, is_out: false } => {
                    let rows = if p.name == "a" { m } else { n };
                    let fp4 = ty.dtype == DType::F4E2M1;
                    let codes: Vec<u8> = (0..rows * k)
                        .map(|_| {
                            if fp4 {
                                rng.random::<u8>() & 0xF
                            } else {
                                fp8(&mut rng)
                            }
                        })
                        .collect();
                    let bytes = if fp4 {
                        tessera_formats::pack_fp4(&codes, &[rows, k], 1)
                    } else {
                        codes.clone()
                    };
                    let scale = ty.scale.as_ref().map(|s| {
                        let block = s.block[1] as usize;
                        let v: Vec<u8> = (0..rows * k / block)
                            .map(|_| {
                                if s.scale_dtype == DType::UE4M3 {
                                    (rng.random_range(6u8..=10) << 3) | (rng.random::<u8>() & 7)
                                } else {
                                    rng.random_range(124..=130)
                                }
                            })
                            .collect();
                        TensorBuf {
                            dtype: s.scale_dtype,
                            shape: vec![rows, k / block],
                            packed_axis: None,
                            bytes: v,
                        }
                    });
                    logical.push((codes, scale.as_ref().map(|s| s.bytes.clone())));
                    let data = TensorBuf {
                        dtype: ty.dtype,
                        shape: vec![rows, k],
                        packed_axis: ty.packed_axis,
                        bytes,
                    };
                    args.push(ArgValue::Tensor(TensorArg {
                        data,
                        scale,
                        global_scale: None,
                    }));
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
            })
            .expect("an out tensor");
        assert!(
            out.chunks(2).any(|h| bf16_to_f32(h[0], h[1]).abs() > 1.0),
            "{name}: degenerate interpreter output"
        );
        let native = match built.choice {
            NativeChoice::Sm120(mma) => {
                let block = mma.block() as usize;
                let neutral = |rows: usize| vec![127u8; rows * k / block];
                let case = Case {
                    m,
                    n,
                    k,
                    mma,
                    a: logical[0].0.clone(),
                    b: logical[1].0.clone(),
                    sa: logical[0].1.clone().unwrap_or_else(|| neutral(m)),
                    sb: logical[1].1.clone().unwrap_or_else(|| neutral(n)),
                };
                case.simulate(&mma.sfa_row(), &mma.sfb_col())
            }
            NativeChoice::Sm100(plan) => {
                let block = plan.block() as usize;
                let sdt = if plan.ue8m0 { DType::E8M0 } else { DType::UE4M3 };
                let neutral = |rows: usize| vec![if plan.ue8m0 { 127u8 } else { 0x38 }; rows * k / block];
                let pack = |s: &[u8], rows: usize| {
                    tessera_prepack::prepack(ScaleLayout::Nv128x4, sdt, s, rows, k / block).unwrap()
                };
                let spa = pack(&logical[0].1.clone().unwrap_or_else(|| neutral(m)), m);
                let spb = pack(&logical[1].1.clone().unwrap_or_else(|| neutral(n)), n);
                let (_, ks_pad) = tessera_prepack::padded_dims(ScaleLayout::Nv128x4, m, k / block);
                let fp4 = plan.elem_bits() == 4;
                let store = |c: &[u8], rows: usize| {
                    if fp4 {
                        tessera_formats::pack_fp4(c, &[rows, k], 1)
                    } else {
                        c.to_vec()
                    }
                };
                let (pa, pb) = (store(&logical[0].0, m), store(&logical[1].0, n));
                let p = tcgen05_sim::Problem {
                    m,
                    n,
                    k,
                    a: &pa,
                    b: &pb,
                    scale_a: &spa,
                    scale_b: &spb,
                    ks_pad,
                };
                tcgen05_sim::run(&plan, &p, &|_, d| d)
            }
        };
        let alpha: f64 = scalars.iter().product();
        let mut worst: f64 = 0.0;
        for (i, v) in native.iter().enumerate() {
            let got = f64::from(half::bf16::from_f32((f64::from(*v) * alpha) as f32).to_f32());
            let want = f64::from(bf16_to_f32(out[2 * i], out[2 * i + 1]));
            let ulp = (want.abs().max(1e-3) * f64::from(f32::EPSILON) * 65536.0).max(1e-30);
            worst = worst.max((got - want).abs() / ulp);
        }
        worst
    }
}

/// The interpreter and the native models of the compiled kernels agree (within one bf16 ulp).
#[test]
fn native_targets_match_the_interpreter_on_dsl_examples() {
    for (name, target, m, n, k) in [
        ("gemm_mxfp8.tsr", "sm_120a", 40, 24, 320),
        ("gemm_fp8.tsr", "sm_120a", 40, 24, 256),
        ("gemm_nvfp4.tsr", "sm_120a", 40, 24, 384),
        ("gemm_mxfp8.tsr", "sm_100a", 150, 100, 256),
        ("gemm_nvfp4.tsr", "sm_100a", 150, 100, 512),
    ] {
        let ulps = interp_check::compare(name, target, m, n, k);
        assert!(
            ulps <= 1.0,
            "{name} on {target}: {ulps} bf16 ulps from the interpreter"
        );
    }
}
