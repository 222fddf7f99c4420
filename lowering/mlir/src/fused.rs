//! Fused dequantization of MX / NVFP4 operands in the Hopper mainloop (sm_90a has no block-scaled
//! MMA). Two structures, chosen by operand formats (the fuse-dequant pass records the same choice as
//! the kernel attribute `fuse.dot@..`):
//!
//! - **MxPromote** (MXFP8 x MXFP8): wgmma runs on the raw e4m3/e5m2 codes straight from the TMA
//!   ring. Every 32-wide K sub-block (one m64nNk32 wgmma) produces a fresh partial that is promoted
//!   into the f32 accumulator as `acc += P * (2^(sa[row]-127) * 2^(sb[col]-127))`, the e8m0 scales
//!   read per fragment row and column from the linear (`hopper_reg`) scale buffers.
//! - **Convert** (anything with FP4, and the explicit `dequant(q, s)`): the codes are TMA-loaded
//!   compressed (FP4 packed two per byte, unswizzled) into the ring; after the stage's barrier every
//!   thread converts 8 codes at a time to bf16 with the block scale folded in (`code * scale` is exact
//!   in f32 and representable in bf16 while in range) and writes them, 128B-swizzled, into a bf16
//!   staging tile that wgmma reads exactly like a TMA-loaded bf16 tile. A `fence.proxy.async` and a
//!   block barrier order those generic-proxy writes before the async-proxy wgmma reads. NV per-tensor
//!   f32 globals multiply the accumulator once after the K loop.
//!
//! Scales outside the scale tensor (rows past M/N, K blocks past K) read the neutral 1.0, so the
//! zero-filled data of partial tiles never meets a NaN/inf scale. Nothing dequantized goes to global
//! memory.

use crate::LoweringError;
use crate::blockscale::TileFactors;
use crate::lower::Lower;
use crate::mainloop::{Geometry, MainloopPlan};
use crate::pattern::{GemmPattern, OperandLoad};
use crate::text::{Body, f32_literal};
use std::collections::HashMap;
use tessera_ir::{DType, Dim, Kernel, ParamId, ParamKind, Span, ValueId};

/// The kernel attribute prefix under which fuse-dequant records its strategy.
const FUSE_ATTR: &str = "fuse.dot@";
/// Codes converted per work unit: 8 codes = one 16-byte bf16 swizzle unit.
pub(crate) const GROUP: u32 = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FuseMode {
    MxPromote,
    Convert,
}

/// Where an operand's per-K-block scale codes live.
#[derive(Clone, Debug)]
pub(crate) struct ScaleSrc {
    /// The tensor whose data the scales belong to (its dims give the implicit scale extents).
    pub data: ParamId,
    /// `Some(s)`: the separate scale tensor of an explicit `dequant(q, s)`; `None`: the scale buffer
    /// of `data` itself (ABI `Ptr { part: Scale }`).
    pub explicit: Option<ParamId>,
    pub dtype: DType,
    pub block_k: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct OperandFuse {
    /// Loaded raw and converted to bf16 in shared memory (else fed to wgmma as loaded).
    pub convert: bool,
    pub src: DType,
    pub scale: Option<ScaleSrc>,
}

impl OperandFuse {
    /// Bytes of one raw row of a `bk`-wide K tile (FP4: two codes per byte).
    pub(crate) fn raw_row_bytes(&self, bk: u32) -> u32 {
        if self.src == DType::F4E2M1 { bk / 2 } else { bk }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct FusedPlan {
    pub mode: FuseMode,
    pub ops: [OperandFuse; 2],
    /// Body arguments of the NV per-tensor global scale parameters (multiplied into the result).
    pub globals: Vec<ValueId>,
    /// The strategy in the fuse-dequant pass's words (the report's `dequant: fused (<how>)`).
    pub how: String,
}

fn scale_src(op: &OperandLoad) -> Option<ScaleSrc> {
    if let Some(e) = &op.explicit_scale {
        return Some(ScaleSrc {
            data: op.tensor,
            explicit: Some(e.tensor),
            dtype: e.dtype,
            block_k: e.block_k,
        });
    }
    op.scale
        .as_ref()
        .filter(|s| s.scale_dtype != DType::F32)
        .map(|s| ScaleSrc {
            data: op.tensor,
            explicit: None,
            dtype: s.scale_dtype,
            block_k: s.block[1],
        })
}

/// Choose the fused structure for the dot's operands, or `None` when no operand needs one.
pub(crate) fn plan(kernel: &Kernel, pat: &GemmPattern) -> Result<Option<FusedPlan>, LoweringError> {
    let span = pat.loop_op.span;
    let (sa, sb) = (scale_src(&pat.a), scale_src(&pat.b));
    let fp4 = |o: &OperandLoad| o.dtype == DType::F4E2M1;
    if sa.is_none() && sb.is_none() && !fp4(&pat.a) && !fp4(&pat.b) {
        return Ok(None);
    }
    let unsupported = |why: String| Err(LoweringError::unsupported(why, span));
    let bk = pat.a.bk;
    // Scale sub-blocks are indexed from the tile's K start: it must be block aligned.
    let k_aligned = |block: u32| matches!((pat.lo_const, pat.step_const), (Some(l), Some(s)) if l % block as i64 == 0 && s == bk as i64);
    let mut globals = Vec::new();
    for op in [&pat.a, &pat.b] {
        if op.scale.as_ref().is_some_and(|s| s.global) {
            globals.push(global_arg(kernel, op.tensor, span)?);
        }
    }
    let is_mx8 = |o: &OperandLoad, s: &Option<ScaleSrc>| {
        crate::pattern::is_fp8(o.dtype)
            && o.explicit_scale.is_none()
            && s.as_ref()
                .is_some_and(|s| s.dtype == DType::E8M0 && s.block_k == 32)
    };
    let how_attr = pass_strategy(kernel);
    if is_mx8(&pat.a, &sa) && is_mx8(&pat.b, &sb) && globals.is_empty() {
        if !bk.is_multiple_of(32) || !k_aligned(32) {
            return unsupported(format!(
                "MXFP8 on sm_90a: the K loop must start at a multiple of 32 and step by BK = {bk}, a multiple of 32"
            ));
        }
        let keep = |o: &OperandLoad, s: Option<ScaleSrc>| OperandFuse {
            convert: false,
            src: o.dtype,
            scale: s,
        };
        return Ok(Some(FusedPlan {
            mode: FuseMode::MxPromote,
            ops: [keep(&pat.a, sa), keep(&pat.b, sb)],
            globals,
            how: how_attr.unwrap_or_else(|| {
                "MMA on raw codes, scales applied to the f32 accumulator per K-block of 32".into()
            }),
        }));
    }
    // Everything else: convert every non-bf16 operand to bf16 in shared memory.
    let mut ops = Vec::new();
    for (role, op, s) in [("a", &pat.a, sa), ("b", &pat.b, sb)] {
        let convert = match op.dtype {
            DType::BF16 if s.is_none() => false,
            DType::F4E2M1 | DType::F8E4M3 => true,
            other => {
                return unsupported(format!(
                    "dot operand {role}: {other}{} next to an FP4/MX operand on sm_90a (converted operands are f4e2m1 or f8e4m3; plain ones bf16)",
                    if s.is_some() { " with block scales" } else { "" }
                ));
            }
        };
        if let Some(sc) = &s
            && (!sc.block_k.is_multiple_of(GROUP)
                || !bk.is_multiple_of(sc.block_k) && !sc.block_k.is_multiple_of(bk))
        {
            return unsupported(format!(
                "dot operand {role}: scale block {} along K (a multiple of {GROUP} that divides or is divided by BK = {bk})",
                sc.block_k
            ));
        }
        ops.push(OperandFuse {
            convert,
            src: op.dtype,
            scale: s,
        });
    }
    // FP4 rows are BK/2 bytes: TMA boxes need 16-byte rows; groups of 8 codes need 8-aligned K.
    if !bk.is_multiple_of(32) || !k_aligned(GROUP) {
        return unsupported(format!(
            "converted FP4/FP8 operands on sm_90a need BK a multiple of 32 (is {bk}) and a K loop from a multiple of {GROUP} stepping by BK"
        ));
    }
    let [oa, ob]: [OperandFuse; 2] = ops
        .try_into()
        .map_err(|_| LoweringError::unsupported("internal: two operands expected", span))?;
    Ok(Some(FusedPlan {
        mode: FuseMode::Convert,
        ops: [oa, ob],
        globals,
        how: how_attr.unwrap_or_else(|| {
            "codes converted to bf16 in registers with the scale folded in, then MMA".into()
        }),
    }))
}

/// The strategy the fuse-dequant pass recorded for the kernel's dot (attr `fuse.dot@lo:hi`).
pub(crate) fn pass_strategy(kernel: &Kernel) -> Option<String> {
    kernel
        .attrs
        .iter()
        .find(|(k, _)| k.starts_with(FUSE_ATTR))
        .map(|(_, v)| v.clone())
}

/// The body argument of the scalar parameter named by attr `global_scale.<tensor>`.
fn global_arg(kernel: &Kernel, tensor: ParamId, span: Span) -> Result<ValueId, LoweringError> {
    let tname = &kernel.params[tensor.0 as usize].name;
    let key = format!("global_scale.{tname}");
    let pname = kernel
        .attrs
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            LoweringError::unsupported(
                format!("`{tname}` has a global scale but no `{key}` attribute names its parameter"),
                span,
            )
        })?;
    let scalars: Vec<_> = kernel
        .params
        .iter()
        .filter(|p| matches!(p.kind, ParamKind::Scalar(_)))
        .collect();
    let pos = scalars
        .iter()
        .position(|p| p.name == pname && matches!(p.kind, ParamKind::Scalar(DType::F32)))
        .ok_or_else(|| {
            LoweringError::unsupported(
                format!("global scale `{pname}` is not an f32 scalar parameter"),
                span,
            )
        })?;
    kernel.body.args.get(pos).copied().ok_or_else(|| {
        LoweringError::unsupported(format!("global scale `{pname}` has no body argument"), span)
    })
}

/// Detail for the report after `fused (<how>)`.
pub(crate) fn detail(p: &FusedPlan) -> String {
    let fmt = |o: &OperandFuse| match &o.scale {
        Some(s) => format!("{} ({} per {} along K)", o.src, s.dtype, s.block_k),
        None => format!("{}", o.src),
    };
    let mut d = match p.mode {
        FuseMode::MxPromote => format!(
            "wgmma on raw codes from the TMA ring, a: {}, b: {}; a fresh partial per 32-wide K sub-block promoted into f32 times 2^(sa-127)*2^(sb-127) per fragment row/column",
            fmt(&p.ops[0]),
            fmt(&p.ops[1])
        ),
        FuseMode::Convert => {
            let side = |o: &OperandFuse| {
                if o.convert {
                    format!(
                        "{} TMA-loaded compressed, converted to bf16 (scale folded) into a swizzled smem tile",
                        fmt(o)
                    )
                } else {
                    format!("{} via TMA", fmt(o))
                }
            };
            format!(
                "a: {}; b: {}; fence.proxy.async, then wgmma bf16",
                side(&p.ops[0]),
                side(&p.ops[1])
            )
        }
    };
    if !p.globals.is_empty() {
        d.push_str("; per-tensor f32 globals multiply the accumulator after the K loop");
    }
    d
}

// ---- decoders: one code (i32, zero-extended) to f32, by bit construction ----

fn bits_to_f32(b: &mut Body, bits: &str) -> String {
    b.op("dq", format!("arith.bitcast {bits} : i32 to f32"))
}

/// e8m0: 2^(c-127); c = 0 is 2^-127 (an f32 subnormal), c = 0xFF is NaN.
fn decode_e8m0(b: &mut Body, c: &str) -> String {
    let c23 = b.i32(23);
    let sh = b.op("dq", format!("arith.shli {c}, {c23} : i32"));
    let zero = b.i32(0);
    let is0 = b.op("dq", format!("arith.cmpi eq, {c}, {zero} : i32"));
    let sub = b.i32(0x0040_0000);
    let bits = b.op("dq", format!("arith.select {is0}, {sub}, {sh} : i32"));
    let f = bits_to_f32(b, &bits);
    let ff = b.i32(0xFF);
    let isnan = b.op("dq", format!("arith.cmpi eq, {c}, {ff} : i32"));
    let nan = b.cst(f32_literal(f64::NAN), "f32");
    b.op("dq", format!("arith.select {isnan}, {nan}, {f} : f32"))
}

/// A sign/exponent/mantissa minifloat with exponent bias `bias`, `mbits` mantissa bits and the
/// sign at bit `ebits + mbits`: normals by moving the fields into f32 position, subnormals as
/// `m * 2^(1 - bias - mbits)`.
fn decode_minifloat(b: &mut Body, c: &str, ebits: u32, mbits: u32, bias: i64) -> String {
    let sign_bit = ebits + mbits;
    let mag_mask = b.i32((1i64 << sign_bit) - 1);
    let mag = b.op("dq", format!("arith.andi {c}, {mag_mask} : i32"));
    let shift = b.i32(23 - mbits as i64);
    let fields = b.op("dq", format!("arith.shli {mag}, {shift} : i32"));
    let rebias = b.i32((127 - bias) << 23);
    let normal = b.op("dq", format!("arith.addi {fields}, {rebias} : i32"));
    let mmask = b.i32((1i64 << mbits) - 1);
    let m = b.op("dq", format!("arith.andi {c}, {mmask} : i32"));
    let mf = b.op("dq", format!("arith.uitofp {m} : i32 to f32"));
    let unit = b.cst(f32_literal(2f64.powi(1 - bias as i32 - mbits as i32)), "f32");
    let subf = b.op("dq", format!("arith.mulf {mf}, {unit} : f32"));
    let subbits = b.op("dq", format!("arith.bitcast {subf} : f32 to i32"));
    let emask = b.i32(((1i64 << ebits) - 1) << mbits);
    let e = b.op("dq", format!("arith.andi {c}, {emask} : i32"));
    let zero = b.i32(0);
    let is_sub = b.op("dq", format!("arith.cmpi eq, {e}, {zero} : i32"));
    let magbits = b.op("dq", format!("arith.select {is_sub}, {subbits}, {normal} : i32"));
    let sbit = b.i32(1i64 << sign_bit);
    let s = b.op("dq", format!("arith.andi {c}, {sbit} : i32"));
    let sshift = b.i32(31 - sign_bit as i64);
    let s31 = b.op("dq", format!("arith.shli {s}, {sshift} : i32"));
    let bits = b.op("dq", format!("arith.ori {magbits}, {s31} : i32"));
    bits_to_f32(b, &bits)
}

/// e4m3 (fn): bias 7, 3 mantissa bits, `S.1111.111` is NaN. `unsigned` (ue4m3 scales): bit 7 set
/// is an invalid code and decodes to NaN, like the reference codec.
fn decode_e4m3(b: &mut Body, c: &str, unsigned: bool) -> String {
    let f = decode_minifloat(b, c, 4, 3, 7);
    let m7f = b.i32(0x7F);
    let mag = b.op("dq", format!("arith.andi {c}, {m7f} : i32"));
    let mut isnan = b.op("dq", format!("arith.cmpi eq, {mag}, {m7f} : i32"));
    if unsigned {
        let hi = b.op("dq", format!("arith.cmpi ugt, {c}, {m7f} : i32"));
        isnan = b.op("dq", format!("arith.ori {isnan}, {hi} : i1"));
    }
    let nan = b.cst(f32_literal(f64::NAN), "f32");
    b.op("dq", format!("arith.select {isnan}, {nan}, {f} : f32"))
}

/// e2m1: bias 1, 1 mantissa bit, no specials (0, 0.5, 1, 1.5, 2, 3, 4, 6 and negatives).
fn decode_e2m1(b: &mut Body, c: &str) -> String {
    decode_minifloat(b, c, 2, 1, 1)
}

fn decode(b: &mut Body, c: &str, d: DType, span: Span) -> Result<String, LoweringError> {
    Ok(match d {
        DType::E8M0 => decode_e8m0(b, c),
        DType::UE4M3 => decode_e4m3(b, c, true),
        DType::F8E4M3 => decode_e4m3(b, c, false),
        DType::F4E2M1 => decode_e2m1(b, c),
        other => {
            return Err(LoweringError::unsupported(
                format!("internal: no in-register decoder for {other}"),
                span,
            ));
        }
    })
}

impl Lower<'_> {
    /// One decoded scale `scale[row, kb]` (f32), the neutral 1.0 outside the scale tensor.
    pub(crate) fn code_scale_at(
        &mut self,
        src: &ScaleSrc,
        row: &str,
        kb: &str,
        span: Span,
    ) -> Result<String, LoweringError> {
        let missing = || LoweringError::unsupported("internal: scale buffer missing from the ABI", span);
        let (ptr, rows_dim, kb_dim): (String, Dim, Option<Dim>) = match src.explicit {
            Some(s) => {
                let ptr = self.abi.tensors.get(&s).cloned().ok_or_else(missing)?;
                let ParamKind::Tensor { ty, .. } = &self.k.params[s.0 as usize].kind else {
                    return Err(missing());
                };
                (ptr, ty.dims[0].clone(), Some(ty.dims[1].clone()))
            }
            None => {
                let ptr = self.abi.scales.get(&src.data).cloned().ok_or_else(missing)?;
                let ParamKind::Tensor { ty, .. } = &self.k.params[src.data.0 as usize].kind else {
                    return Err(missing());
                };
                (ptr, ty.dims[0].clone(), None)
            }
        };
        let rows_ext = self.dim_extent(&rows_dim, span)?;
        let kb_ext = match kb_dim {
            Some(d) => self.dim_extent(&d, span)?,
            None => {
                let ParamKind::Tensor { ty, .. } = &self.k.params[src.data.0 as usize].kind else {
                    return Err(missing());
                };
                let k_dim = ty.dims[1].clone();
                let k = self.dim_extent(&k_dim, span)?;
                let bk = self.b.i32(src.block_k as i64);
                self.b.op("sc", format!("arith.ceildivsi {k}, {bk} : i32"))
            }
        };
        let b = &mut self.b;
        let zero = b.i32(0);
        let m0 = b.op("sc", format!("arith.cmpi sge, {row}, {zero} : i32"));
        let m1 = b.op("sc", format!("arith.cmpi slt, {row}, {rows_ext} : i32"));
        let m2 = b.op("sc", format!("arith.cmpi slt, {kb}, {kb_ext} : i32"));
        let m01 = b.op("sc", format!("arith.andi {m0}, {m1} : i1"));
        let mask = b.op("sc", format!("arith.andi {m01}, {m2} : i1"));
        // i32 offsets (a scale buffer has far fewer than 2^31 codes): the per-column offsets are
        // loop invariants LLVM keeps in registers, and i64 ones doubled the MXFP8 pressure.
        let lin0 = b.op("sc", format!("arith.muli {row}, {kb_ext} : i32"));
        let lin = b.op("sc", format!("arith.addi {lin0}, {kb} : i32"));
        // A masked-out lane reads element 0 (always inside the buffer) and discards it.
        let safe = b.op("sc", format!("arith.select {mask}, {lin}, {zero} : i32"));
        let p = b.op(
            "sc",
            format!("llvm.getelementptr {ptr}[{safe}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i8"),
        );
        let v8 = b.op("sc", format!("llvm.load {p} : !llvm.ptr<1> -> i8"));
        let v = b.op("sc", format!("arith.extui {v8} : i8 to i32"));
        let f = decode(b, &v, src.dtype, span)?;
        let one = b.cst(f32_literal(1.0), "f32");
        Ok(b.op("sc", format!("arith.select {mask}, {f}, {one} : f32")))
    }

    /// MxPromote: all threads decode the K tile's B scales `[BN][BK/32]` into shared memory at
    /// `dst` (f32), then a block barrier. Each thread then reads its BN/4 columns with constant
    /// offsets from one base instead of keeping BN/4 global addresses and masks live (which made
    /// the fragment spill).
    pub(crate) fn stage_mx_col_scales(
        &mut self,
        pat: &GemmPattern,
        plan: &MainloopPlan,
        fp: &FusedPlan,
        iv: &str,
        dst: &str,
    ) -> Result<(), LoweringError> {
        let Some(s) = fp.ops[1].scale.clone() else {
            return Ok(());
        };
        let span = pat.loop_op.span;
        let subs = plan.bk / 32;
        let mut memo = HashMap::new();
        let k0 = self.loop_scalar(pat, pat.b.k_start, iv, &mut memo)?;
        let n0 = self.loop_scalar(pat, pat.b.row_start, iv, &mut memo)?;
        let tid = self.b.op("tid", "nvvm.read.ptx.sreg.tid.x : i32");
        let total = self.b.i32((plan.bn * subs) as i64);
        let threads = self.b.i32(plan.threads as i64);
        let u = self.b.fresh("su");
        self.b
            .open(format!("scf.for {u} = {tid} to {total} step {threads} : i32"));
        let sc = self.b.i32(subs as i64);
        let col = self.b.op("ms", format!("arith.divui {u}, {sc} : i32"));
        let kk = self.b.op("ms", format!("arith.remui {u}, {sc} : i32"));
        let n = self.b.op("ms", format!("arith.addi {n0}, {col} : i32"));
        let bk = self.b.i32(s.block_k as i64);
        let kb0 = self.b.op("ms", format!("arith.divsi {k0}, {bk} : i32"));
        let kb = self.b.op("ms", format!("arith.addi {kb0}, {kk} : i32"));
        let v = self.code_scale_at(&s, &n, &kb, span)?;
        let p = self.b.op(
            "ms",
            format!("llvm.getelementptr {dst}[{u}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, f32"),
        );
        self.b.line(format!("llvm.store {v}, {p} : f32, !llvm.ptr<3>"));
        self.b.close("");
        self.b.line("nvvm.barrier0");
        Ok(())
    }

    /// MxPromote: the factors of K sub-block `sub` (32 wide) of the tile whose K start is `iv`;
    /// B's column scales come from the staged `[BN][BK/32]` f32 array at `sc_b`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn mx_factors(
        &mut self,
        pat: &GemmPattern,
        plan: &MainloopPlan,
        fp: &FusedPlan,
        geo: &Geometry,
        iv: &str,
        sub: u32,
        sc_b: &str,
    ) -> Result<TileFactors, LoweringError> {
        let span = pat.loop_op.span;
        let mut memo = HashMap::new();
        let mut rows = [None, None];
        let mut cols = HashMap::new();
        if let Some(s) = &fp.ops[0].scale {
            let kb = self.sub_block(pat, pat.a.k_start, s.block_k, iv, sub, &mut memo)?;
            let r0 = self.loop_scalar(pat, pat.a.row_start, iv, &mut memo)?;
            for (h, slot) in rows.iter_mut().enumerate() {
                let row = self.b.op("sr", format!("arith.addi {r0}, {} : i32", geo.rows[h]));
                *slot = Some(self.code_scale_at(s, &row, &kb, span)?);
            }
        }
        if fp.ops[1].scale.is_some() {
            // Element (col, sub) of the staged array: (col_base + 8j + e) * subs + sub.
            let subs = plan.bk / 32;
            let b = &mut self.b;
            let sc = b.i32(subs as i64);
            let cb = b.op("sn", format!("arith.muli {}, {sc} : i32", geo.col_base));
            let so = b.i32(sub as i64);
            let base = b.op("sn", format!("arith.addi {cb}, {so} : i32"));
            let bp = b.op(
                "sn",
                format!("llvm.getelementptr {sc_b}[{base}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, f32"),
            );
            for j in 0..plan.bn / 8 {
                for e in 0..2 {
                    let off = b.i32(((8 * j + e) * subs) as i64);
                    let p = b.op(
                        "sn",
                        format!("llvm.getelementptr {bp}[{off}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, f32"),
                    );
                    cols.insert((j, e), b.op("sn", format!("llvm.load {p} : !llvm.ptr<3> -> f32")));
                }
            }
        }
        Ok(TileFactors::new(rows, cols))
    }

    /// `(k_start + 32 * sub) / block_k` as i32.
    fn sub_block(
        &mut self,
        pat: &GemmPattern,
        k_start: ValueId,
        block_k: u32,
        iv: &str,
        sub: u32,
        memo: &mut HashMap<ValueId, String>,
    ) -> Result<String, LoweringError> {
        let k0 = self.loop_scalar(pat, k_start, iv, memo)?;
        let off = self.b.i32((sub * 32) as i64);
        let k = self.b.op("kb", format!("arith.addi {k0}, {off} : i32"));
        let bk = self.b.i32(block_k as i64);
        Ok(self.b.op("kb", format!("arith.divsi {k}, {bk} : i32")))
    }

    /// Convert: every thread turns groups of 8 raw codes of operand `which` (stage region at `raw`,
    /// rows of `raw_row` bytes) into 16 bytes of bf16 (scale folded) at their 128B/64B/32B-swizzled
    /// place in the staging tile at `conv`, exactly where TMA would have put a bf16 tile.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn convert_tile(
        &mut self,
        pat: &GemmPattern,
        plan: &MainloopPlan,
        op: &OperandFuse,
        which: usize,
        raw: &str,
        conv: &str,
        tid: &str,
        iv: &str,
    ) -> Result<(), LoweringError> {
        let span = pat.loop_op.span;
        let load = if which == 0 { &pat.a } else { &pat.b };
        let rows = load.rows;
        let bk = plan.bk;
        let mut memo = HashMap::new();
        let k0 = self.loop_scalar(pat, load.k_start, iv, &mut memo)?;
        let r0 = self.loop_scalar(pat, load.row_start, iv, &mut memo)?;
        let groups = bk / GROUP;
        let units = self.b.i32((rows * groups) as i64);
        let threads = self.b.i32(plan.threads as i64);
        let u = self.b.fresh("cu");
        self.b
            .open(format!("scf.for {u} = {tid} to {units} step {threads} : i32"));
        let b = &mut self.b;
        let gpr = b.i32(groups as i64);
        let row = b.op("cv", format!("arith.divui {u}, {gpr} : i32"));
        let g = b.op("cv", format!("arith.remui {u}, {gpr} : i32"));
        // Raw codes of this group: 4 bytes (FP4) or 8 bytes (FP8), little-endian words.
        let raw_row = b.i32(op.raw_row_bytes(bk) as i64);
        let gbytes = b.i32(if op.src == DType::F4E2M1 { 4 } else { 8 });
        let ro = b.op("cv", format!("arith.muli {row}, {raw_row} : i32"));
        let go = b.op("cv", format!("arith.muli {g}, {gbytes} : i32"));
        let off = b.op("cv", format!("arith.addi {ro}, {go} : i32"));
        let nwords = if op.src == DType::F4E2M1 { 1 } else { 2 };
        let mut words = Vec::new();
        for w in 0..nwords {
            let o = if w == 0 {
                off.clone()
            } else {
                let four = b.i32(4);
                b.op("cv", format!("arith.addi {off}, {four} : i32"))
            };
            let p = b.op(
                "cv",
                format!("llvm.getelementptr {raw}[{o}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
            );
            words.push(b.op(
                "cv",
                format!("llvm.load {p} {{alignment = 4 : i64}} : !llvm.ptr<3> -> i32"),
            ));
        }
        let (cbits, cmask) = if op.src == DType::F4E2M1 {
            (4, 0xF)
        } else {
            (8, 0xFF)
        };
        let mut codes = Vec::new();
        for i in 0..GROUP {
            let w = &words[((i * cbits) / 32) as usize];
            let sh = b.i32(((i * cbits) % 32) as i64);
            let s = b.op("cv", format!("arith.shrui {w}, {sh} : i32"));
            let m = b.i32(cmask);
            codes.push(b.op("cv", format!("arith.andi {s}, {m} : i32")));
        }
        let scale = match &op.scale {
            Some(src) => {
                let rg = self.b.op("cv", format!("arith.addi {r0}, {row} : i32"));
                let g8 = self.b.i32(GROUP as i64);
                let kl = self.b.op("cv", format!("arith.muli {g}, {g8} : i32"));
                let kg = self.b.op("cv", format!("arith.addi {k0}, {kl} : i32"));
                let bkc = self.b.i32(src.block_k as i64);
                let kb = self.b.op("cv", format!("arith.divsi {kg}, {bkc} : i32"));
                Some(self.code_scale_at(src, &rg, &kb, span)?)
            }
            None => None,
        };
        let b = &mut self.b;
        let mut halves = Vec::new();
        for c in &codes {
            let v = decode(b, c, op.src, span)?;
            // code * scale is exact in f32 (power of two, or <= 5 significant bits); the bf16
            // rounding is exact too while the product is in bf16's range.
            let v = match &scale {
                Some(s) => b.op("cv", format!("arith.mulf {v}, {s} : f32")),
                None => v,
            };
            let h = b.op("cv", format!("arith.truncf {v} : f32 to bf16"));
            let hb = b.op("cv", format!("arith.bitcast {h} : bf16 to i16"));
            halves.push(b.op("cv", format!("arith.extui {hb} : i16 to i32")));
        }
        // The 16-byte unit's place in the swizzled tile: chunk c (W bytes of K), row, unit x in the
        // row, then the swizzle XORs address bits 4.. with bits 7.. (the TMA/wgmma pattern for
        // atoms aligned to 8 rows x W bytes).
        let w = plan.swizzle;
        let per_chunk = b.i32((w / 2) as i64);
        let g8 = b.i32(GROUP as i64);
        let kel = b.op("cv", format!("arith.muli {g}, {g8} : i32"));
        let chunk = b.op("cv", format!("arith.divui {kel}, {per_chunk} : i32"));
        let kin = b.op("cv", format!("arith.remui {kel}, {per_chunk} : i32"));
        let unit = b.op("cv", format!("arith.divui {kin}, {g8} : i32"));
        let wc = b.i32(w as i64);
        let rw = b.op("cv", format!("arith.muli {row}, {wc} : i32"));
        let c16 = b.i32(16);
        let x = b.op("cv", format!("arith.muli {unit}, {c16} : i32"));
        let lin = b.op("cv", format!("arith.addi {rw}, {x} : i32"));
        let c7 = b.i32(7);
        let hi = b.op("cv", format!("arith.shrui {lin}, {c7} : i32"));
        let msk = b.i32((w / 16 - 1) as i64);
        let hm = b.op("cv", format!("arith.andi {hi}, {msk} : i32"));
        let c4 = b.i32(4);
        let xs = b.op("cv", format!("arith.shli {hm}, {c4} : i32"));
        let phys = b.op("cv", format!("arith.xori {lin}, {xs} : i32"));
        let slab = b.i32((rows * w) as i64);
        let co = b.op("cv", format!("arith.muli {chunk}, {slab} : i32"));
        let dst_off = b.op("cv", format!("arith.addi {co}, {phys} : i32"));
        let dst = b.op(
            "cv",
            format!("llvm.getelementptr {conv}[{dst_off}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
        );
        let mut vec = b.op("cv", "llvm.mlir.undef : vector<4xi32>");
        let c16s = b.i32(16);
        for q in 0..4 {
            let hi16 = b.op("cv", format!("arith.shli {}, {c16s} : i32", halves[2 * q + 1]));
            let word = b.op("cv", format!("arith.ori {}, {hi16} : i32", halves[2 * q]));
            let qi = b.i32(q as i64);
            vec = b.op(
                "cv",
                format!("llvm.insertelement {word}, {vec}[{qi} : i32] : vector<4xi32>"),
            );
        }
        b.line(format!(
            "llvm.store {vec}, {dst} {{alignment = 16 : i64}} : vector<4xi32>, !llvm.ptr<3>"
        ));
        b.close("");
        Ok(())
    }

    /// `acc * (g_a * g_b)` for the NV per-tensor globals, every register.
    pub(crate) fn apply_globals(
        &mut self,
        plan: &MainloopPlan,
        fp: &FusedPlan,
        acc: &str,
        span: Span,
    ) -> Result<String, LoweringError> {
        if fp.globals.is_empty() {
            return Ok(acc.to_string());
        }
        let mut g = self.scalar(fp.globals[0], span)?;
        for v in &fp.globals[1..] {
            let x = self.scalar(*v, span)?;
            g = self.b.op("gs", format!("arith.mulf {g}, {x} : f32"));
        }
        let b = &mut self.b;
        let mut cur = acc.to_string();
        for i in 0..plan.bn / 2 {
            let a = b.op("gs", format!("llvm.extractvalue {cur}[{i}] : !acc"));
            let r = b.op("gs", format!("arith.mulf {a}, {g} : f32"));
            cur = b.op("acc", format!("llvm.insertvalue {r}, {cur}[{i}] : !acc"));
        }
        Ok(cur)
    }
}
