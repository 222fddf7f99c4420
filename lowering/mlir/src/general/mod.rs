//! Per-op lowering of the distributed level to MLIR (llvm + nvvm + arith + scf), for any kernel the
//! checker accepts. It never looks at the program's shape: each op is lowered from its operands'
//! layouts alone, or refused with its own span and the reason.
//!
//! A tile value is one SSA value per register of its layout ([`LinearLayout`]); a thread computes
//! the tile coordinates of register `r` as (lane/warp part, computed once per layout at entry) XOR
//! (register part, a compile-time constant). Per op:
//! - elementwise ops, casts, `where`: per register;
//! - `full`, `arange`: per register, from the coordinates; broadcasts, `expand_dims`, `transpose`:
//!   register renamings (the layout pass made them free);
//! - `reduce`: in-thread over the register bits along the axis, then butterfly shuffles over the
//!   lane bits along it, then shared memory across the warp bits along it (every copy ends up
//!   with the result, as the slice layout says);
//! - `convert_layout`: a register permutation when lanes and warps agree, else a round trip
//!   through shared memory;
//! - loads and stores: one masked access per register at a 64-bit offset (tensors may exceed 2^31
//!   elements); stores and atomics only from each element's owner;
//! - `for`/`if`: `scf` with every register of every carried tile as an iteration argument;
//! - `dot`: wgmma from operands staged in swizzled shared memory (general/dot.rs); loads that only
//!   feed a dot are copied there by `cp.async` (general/async_copy.rs), several iterations ahead
//!   through a ring when the dot is in a loop (general/ring.rs).
//!
//! What a target cannot do is refused per op, at its span, with the reason (`refuse_unlowered`).

mod align;
mod async_copy;
mod dot;
mod mlir;
mod packed;
mod resident;
mod ring;
mod scaled;

use crate::abi;
use crate::pipeline;
use crate::{LoweredKernel, LoweringError, MmaSummary};
use melior::ir::{
    Block, BlockLike, Location, Module, Region, RegionLike, Type, attribute::TypeAttribute,
    operation::OperationLike,
};
use mlir::{Mlir, V};
use std::collections::{HashMap, HashSet};
use tessera_bundle::{AbiArg, TensorPart};
use tessera_ir::{
    Access, BinOp, Block as IrBlock, CmpPred, Cta, DType, Dim, HwDim, Index, Kernel, LinearLayout, Op,
    OpKind, ParamId, ParamKind, ReduceKind, Span, TileLayout, Type as IrType, UnOp, ValueId, padded_extent,
};

/// A lowered value: a uniform scalar, or one SSA value per register of its tile's layout.
#[derive(Clone)]
enum Val {
    Scalar(V),
    Tile(Vec<V>),
}

/// An associative, commutative combination of two registers (sum, max, min) for the cross-lane
/// and cross-warp steps of reductions.
type Combine<'c, 'f> = dyn Fn(&Mlir<'c>, &Block<'c>, V, V) -> Result<V, LoweringError> + 'f;

/// One accessed element: absolute i64 index per tensor dim, row-major offset, in-bounds mask.
struct Elem {
    idx: Vec<V>,
    offset: V,
    mask: V,
}

/// Name of the shared-memory scratch buffer (reductions across warps, layout conversions).
const SCRATCH: &str = "__tessera_scratch";
/// The scratch base is aligned to this at run time (wgmma's 128-byte swizzle atoms repeat every
/// 1024 bytes); the launch asks for this much more dynamic shared memory.
const SCRATCH_ALIGN: u64 = 1024;

struct Gen<'c, 'k> {
    m: Mlir<'c>,
    k: &'k Kernel,
    cta: Cta,
    env: HashMap<ValueId, Val>,
    /// Pointer argument of each tensor parameter.
    tensors: HashMap<ParamId, V>,
    /// Pointer argument of each scaled tensor's scale buffer.
    scale_ptrs: HashMap<ParamId, V>,
    /// Per register of each scaled tile: its block multiplier `s * g` (f32).
    scales: HashMap<ValueId, Vec<V>>,
    /// Per register of each scaled tile: its block scale as the tensor stores it (the i8 code of an
    /// e8m0/ue4m3 scale, or the f32 scale), what a scaled `store` writes.
    scale_codes: HashMap<ValueId, Vec<V>>,
    /// The NV per-tensor scale `g` of each scaled tile loaded from a tensor that has one (a dot
    /// of such tiles applies it to its partial: `Gen::mma_operand`).
    globals: HashMap<ValueId, V>,
    syms: Vec<V>,
    lane: V,
    warp: V,
    /// Lane/warp part of the coordinates, per layout (computed at entry).
    bases: HashMap<LinearLayout, Vec<V>>,
    /// Bytes of scratch shared memory the kernel needs (`need_scratch`), and the op needing most.
    scratch_bytes: u64,
    scratch_span: Span,
    /// The span of the op being lowered.
    span: Span,
    /// The wgmma instruction families emitted (the build report checks the PTX has them).
    mma: Vec<String>,
    /// Some dot dequantized scaled (MX) operands to bf16 in registers.
    dequant_dots: bool,
    /// Some dot took scaled operands as codes, their block scales applied per K group.
    grouped_dots: bool,
    /// Some grouped dot read an operand's block scales straight into registers (`dot::direct_scales`).
    direct_scale_dots: bool,
    /// Some dot staged packed FP4 operands from their bytes (`packed`).
    packed_dots: bool,
    /// Some dot took its A operand from registers, in the accumulator's fragment layout
    /// (`dot::reg_fragment`).
    register_a_dots: bool,
    /// The lowering's options (`fp8_fast_accum`, `async_copies`: in-place wgmma chains of a dot
    /// share one wait, `nvfp4_wgmma`, `async_scaled_copies`).
    opts: &'k crate::LoweringOptions,
    /// Divisibility facts (the grouped scaled dot checks its K groups are block-aligned).
    align: align::Align<'k>,
    /// Loads a dot may issue itself as `cp.async` copies (`async_copy::candidates`).
    deferrable: HashMap<ValueId, async_copy::Deferred>,
    /// Dot operand → the deferred load under its `transpose`.
    transposed: HashMap<ValueId, ValueId>,
    /// Deferred loads not issued yet.
    pending: HashMap<ValueId, async_copy::Deferred>,
    /// Dots whose operands stream through a shared-memory ring, by the dot's result (`ring`).
    rings: HashMap<ValueId, ring::Ring>,
    /// Bytes of shared memory the rings take, before the scratch buffer.
    ring_bytes: u32,
    /// The entry arguments of the TMA rings' tensor maps (`ring::Plan::maps`), null where the
    /// launch could not describe the tensor.
    tma_maps: Vec<V>,
    /// Whether each TMA ring (by its dot) is filled by TMA in this launch: its maps passed,
    /// computed before its loop (`Gen::ring_prologue`).
    ring_tma: HashMap<ValueId, V>,
    /// The prefetch of the ring whose step was lowered last, issued once its dot's wgmma is
    /// under way (`Gen::ring_prefetch`).
    prefetch: Option<ring::Prefetch>,
    /// Loop-invariant dot operands staged once before their loop, after the rings.
    residents: &'k resident::Residents,
    /// Lowered `(lo, hi, step)` of each loop holding a ring, by induction variable.
    loop_bounds: HashMap<ValueId, (V, V, V)>,
    /// The rider tile (`ring::Rider`) the next `Gen::rider_transpose` transposes, with the ring
    /// stage it is in: set by `Gen::ring_step`.
    rider_at: Option<(ring::Rider, V)>,
    /// Later dots (by result) whose rider tile has been transposed in this iteration and not read.
    rider_done: HashSet<ValueId>,
}

fn unsupported(what: impl Into<String>, span: Span) -> LoweringError {
    LoweringError::unsupported(what, span)
}

fn ice(what: impl Into<String>) -> LoweringError {
    LoweringError::Mlir {
        stage: "per-op lowering",
        diagnostics: vec![format!(
            "internal compiler error in pass `lower-sm90a`: {}",
            what.into()
        )],
    }
}

/// Bytes of one element of `d` in memory (narrow floats and scale codes: one byte).
fn elem_bytes(d: DType) -> u32 {
    (d.bits() / 8).max(1)
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::BF16 | DType::F16)
}

/// Lower a distributed-level kernel (after `assign-layouts`) to MLIR text for sm_90a.
pub(crate) fn lower(kernel: &Kernel, opts: &crate::LoweringOptions) -> Result<LoweredKernel, LoweringError> {
    // Resident operands are an optimisation: a kernel that only fits shared memory without them
    // stages those operands per iteration instead.
    let residents = resident::plan(kernel);
    match lower_fitting(kernel, opts, &residents) {
        Err(LoweringError::Unsupported { .. }) if !residents.by_dot.is_empty() => {
            lower_fitting(kernel, opts, &resident::Residents::default())
        }
        r => r,
    }
}

/// [`lower`] with the given resident operands (none: `Residents::default()`).
fn lower_fitting(
    kernel: &Kernel,
    opts: &crate::LoweringOptions,
    residents: &resident::Residents,
) -> Result<LoweredKernel, LoweringError> {
    // The rings are planned before the scratch buffer's size is known, around a guess of it. Once
    // a lowering has measured the scratch buffer, the rings are planned again around exactly that
    // (deeper when the guess was too large, shallower or none when it was too small). Planning
    // again can change which dots stage through scratch, so the last lowering that fits is kept;
    // a kernel none of whose plans fits is refused at the op needing the most scratch.
    let mut reserve = ring::SCRATCH_RESERVE;
    let mut tried = vec![reserve];
    let mut fitting = None;
    loop {
        let (lowered, used) = lower_with(kernel, opts, reserve, residents)?;
        let total = used.scratch_bytes + u64::from(used.ring_bytes) + SCRATCH_ALIGN;
        if total <= u64::from(opts.max_shared_bytes) {
            fitting = Some(lowered);
        }
        let exact = u32::try_from(used.scratch_bytes).unwrap_or(u32::MAX);
        if used.ring_candidates && !tried.contains(&exact) {
            reserve = exact;
            tried.push(exact);
            continue;
        }
        return fitting.ok_or_else(|| {
            unsupported(
                format!(
                    "the kernel needs {total} bytes of shared memory on sm_90a, which gives a CTA at most {} \
                     (this op needs the most: use smaller tiles)",
                    opts.max_shared_bytes
                ),
                used.span,
            )
        });
    }
}

/// The shared memory one lowering used.
struct SharedUse {
    scratch_bytes: u64,
    /// The rings and resident operands, before the scratch buffer.
    ring_bytes: u32,
    /// Whether a dot could stream through a ring (so planning again may change the rings).
    ring_candidates: bool,
    /// The op that needs the most scratch.
    span: Span,
}

/// Lower with `reserve` bytes of shared memory kept from the rings for the scratch buffer, and
/// `residents` staged once before their loops (their regions follow the rings); the kernel, and the
/// shared memory it uses.
fn lower_with(
    kernel: &Kernel,
    opts: &crate::LoweringOptions,
    reserve: u32,
    residents: &resident::Residents,
) -> Result<(LoweredKernel, SharedUse), LoweringError> {
    let cta = kernel.cta.ok_or_else(|| {
        ice("the kernel has no layouts (run the sm_90a pipeline, which ends with assign-layouts)")
    })?;
    refuse_unlowered(kernel, &kernel.body)?;
    let mut abi = abi::build(kernel, &HashMap::new())?;
    let align = align::Align::new(kernel);
    let (deferrable, transposed, n_major) = if opts.async_copies {
        let async_copy::Candidates {
            loads: mut d,
            transposed: t,
            n_major,
        } = async_copy::candidates(kernel, opts.async_scaled_copies, opts.packed_fp4_staging);
        async_copy::keep_dot_taken(kernel, &align, opts.nvfp4_wgmma, &mut d, &t);
        (d, t, n_major)
    } else {
        (HashMap::new(), HashMap::new(), HashMap::new())
    };
    // The resident operands' regions follow the rings, whose budget leaves room for them.
    let ring::Plan {
        rings,
        bytes: ring_bytes,
        maps,
    } = ring::plan(
        kernel,
        (&deferrable, &transposed, residents, &n_major),
        (opts.stages, opts.tma_rings),
        &ring::Budget {
            max_shared: opts.max_shared_bytes,
            shared_per_sm: opts.shared_per_sm,
            reserve: reserve + residents.bytes,
            // More than one warpgroup is laid out only when one warpgroup's registers ran out
            // (`assign-layouts`: the accumulator budget, or the build's spill retry), so two such
            // CTAs do not fit an SM's 64K registers: the ring may use what a second CTA would have
            // (gemm_mxfp8 per op, two warpgroups: 4 stages 577.3 us, 3 stages 588.2 us; H200,
            // session 7).
            alone: cta.warp_bits > 2,
        },
    );
    // The TMA rings' tensor maps follow every other slot; the runtime passes null for a tensor
    // TMA cannot describe, and that ring is filled by `cp.async` instead.
    for m in &maps {
        abi.slots.push(AbiArg::TensorMap {
            param: kernel.param(m.tensor).name.clone(),
            part: TensorPart::Data,
            tma: m.spec.clone(),
            or_null: true,
        });
    }
    let sink = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let ctx = pipeline::context(sink.clone());
    let loc = Location::unknown(&ctx);
    let m = Mlir { ctx: &ctx, loc };
    let module = Module::new(loc);

    // Entry block arguments, one per ABI slot.
    let mut arg_types = Vec::new();
    for s in &abi.slots {
        arg_types.push(match s {
            AbiArg::Ptr { .. } => m.ptr(1),
            AbiArg::ScalarF32 { .. } | AbiArg::GlobalScaleF32 { .. } => m.f32(),
            AbiArg::ScalarI32 { .. } | AbiArg::SymI32 { .. } => m.i(32),
            // A tensor map is read by TMA through a generic pointer.
            AbiArg::TensorMap { .. } => m.ptr(0),
        });
    }
    let entry = Block::new(&arg_types.iter().map(|t| (*t, loc)).collect::<Vec<_>>());
    let arg = |i: usize| -> Result<V, LoweringError> {
        entry
            .argument(i)
            .map(|a| melior::ir::ValueLike::to_raw(&melior::ir::Value::from(a)))
            .map_err(|e| ice(format!("entry argument {i}: {e}")))
    };
    let mut tensors = HashMap::new();
    let mut scale_ptrs = HashMap::new();
    let mut syms = Vec::new();
    let mut tma_maps = Vec::new();
    let mut env = HashMap::new();
    let scalar_args: Vec<ValueId> = kernel.body.args.clone();
    let mut scalar_i = 0;
    for (i, s) in abi.slots.iter().enumerate() {
        match s {
            AbiArg::Ptr { param, part } => {
                let id = kernel
                    .params
                    .iter()
                    .position(|p| p.name == *param)
                    .ok_or_else(|| ice(format!("ABI names unknown tensor `{param}`")))?;
                let map = match part {
                    TensorPart::Data => &mut tensors,
                    TensorPart::Scale => &mut scale_ptrs,
                };
                map.insert(ParamId(id as u32), arg(i)?);
            }
            AbiArg::ScalarF32 { .. } | AbiArg::ScalarI32 { .. } => {
                let v = *scalar_args
                    .get(scalar_i)
                    .ok_or_else(|| ice("more scalar slots than scalar parameters"))?;
                env.insert(v, Val::Scalar(arg(i)?));
                scalar_i += 1;
            }
            AbiArg::SymI32 { .. } => syms.push(arg(i)?),
            AbiArg::TensorMap { or_null: true, .. } => tma_maps.push(arg(i)?),
            AbiArg::GlobalScaleF32 { .. } | AbiArg::TensorMap { .. } => {
                return Err(ice("unexpected ABI slot in the per-op lowering"));
            }
        }
    }

    let tid = m.sreg(&entry, "tid.x")?;
    let c31 = m.const_int(&entry, 31, 32)?;
    let c5 = m.const_int(&entry, cta.lane_bits as i64, 32)?;
    let lane = m.bin(&entry, "arith.andi", tid, c31)?;
    let warp = m.bin(&entry, "arith.shrui", tid, c5)?;
    let mut g = Gen {
        m,
        k: kernel,
        cta,
        env,
        tensors,
        scale_ptrs,
        scales: HashMap::new(),
        scale_codes: HashMap::new(),
        globals: HashMap::new(),
        syms,
        lane,
        warp,
        bases: HashMap::new(),
        scratch_bytes: 0,
        scratch_span: Span::default(),
        span: Span::default(),
        mma: Vec::new(),
        dequant_dots: false,
        grouped_dots: false,
        direct_scale_dots: false,
        packed_dots: false,
        register_a_dots: false,
        opts,
        align,
        deferrable,
        transposed,
        pending: HashMap::new(),
        rings,
        ring_bytes,
        tma_maps,
        ring_tma: HashMap::new(),
        prefetch: None,
        residents,
        loop_bounds: HashMap::new(),
        rider_at: None,
        rider_done: HashSet::new(),
    };
    // Every layout's lane/warp coordinate part, once, at entry (dominates every use).
    let mut layouts: Vec<LinearLayout> = Vec::new();
    for v in &kernel.values {
        if let IrType::Tile(t) = &v.ty
            && let TileLayout::Dist(l) = &t.layout
            && !layouts.contains(l)
        {
            layouts.push(l.clone());
        }
    }
    for l in layouts {
        let b = g.thread_base(&entry, &l)?;
        g.bases.insert(l, b);
    }
    g.block(&entry, &kernel.body)?;
    if g.rider_at.is_some() || !g.rider_done.is_empty() {
        return Err(ice("a rider tile transposed but never read, or never transposed"));
    }
    g.m.op(&entry, "llvm.return", &[], &[], &[], Vec::new())?;

    // The function and the scratch buffer.
    let threads = cta.threads();
    let fn_ty =
        melior::dialect::llvm::r#type::function(melior::dialect::llvm::r#type::void(&ctx), &arg_types, false);
    let region = Region::new();
    region.append_block(entry);
    let entry_name = crate::abi::entry_symbol(&kernel.name);
    let func = melior::ir::operation::OperationBuilder::new("llvm.func", loc)
        .add_attributes(&[
            g.m.attr(
                "sym_name",
                melior::ir::attribute::StringAttribute::new(&ctx, &entry_name).into(),
            ),
            g.m.attr("function_type", TypeAttribute::new(fn_ty).into()),
            g.m.attr("nvvm.kernel", melior::ir::Attribute::unit(&ctx)),
            g.m.attr(
                "nvvm.maxntid",
                melior::ir::attribute::DenseI32ArrayAttribute::new(&ctx, &[threads as i32, 1, 1]).into(),
            ),
        ])
        .add_regions([region])
        .build()
        .map_err(|e| ice(format!("llvm.func: {e}")))?;
    let shared_bytes = g.scratch_bytes + u64::from(g.prefix_bytes());
    if shared_bytes > 0 {
        // Dynamic shared memory (sized at launch from meta.json), so MMA staging may exceed the 48 KiB
        // static limit; the base is aligned to 1024 bytes at run time (swizzle atoms).
        let arr = melior::dialect::llvm::r#type::array(g.m.i(8), 0);
        let global = melior::ir::operation::OperationBuilder::new("llvm.mlir.global", loc)
            .add_attributes(&[
                g.m.attr(
                    "sym_name",
                    melior::ir::attribute::StringAttribute::new(&ctx, SCRATCH).into(),
                ),
                g.m.attr("global_type", TypeAttribute::new(arr).into()),
                g.m.attr("linkage", g.m.parse_attr("#llvm.linkage<external>")?),
                g.m.attr("addr_space", g.m.int_attr(32, 3)),
                g.m.attr("alignment", g.m.int_attr(64, 16)),
            ])
            .add_regions([Region::new()])
            .build()
            .map_err(|e| ice(format!("llvm.mlir.global: {e}")))?;
        module.body().append_operation(global);
    }
    module.body().append_operation(func);
    if !module.as_operation().verify() {
        let d = sink.borrow().clone();
        return Err(LoweringError::Mlir {
            stage: "verify (per-op lowering)",
            diagnostics: d,
        });
    }
    // What the build report says about operands: the deepest ring, if any dot streams through one.
    let ring_stages = g.rings.values().map(|r| r.stages).max().unwrap_or(0);
    let operand_path = if g.mma.is_empty() {
        String::new()
    } else if g.rings.values().any(|r| r.tma.is_some()) {
        let how = if g.rings.values().all(|r| r.tma.is_some()) {
            "TMA ring"
        } else {
            "TMA and cp.async rings"
        };
        format!(
            "{how} of {ring_stages} stages in swizzled shared memory (cp.async where TMA cannot describe a \
             tensor: a row pitch or an address not a multiple of 16 bytes)"
        )
    } else if ring_stages > 0 {
        format!("cp.async ring of {ring_stages} stages in swizzled shared memory")
    } else {
        "registers staged to swizzled shared memory".into()
    };
    let operand_path = match g.residents.by_loop.values().map(Vec::len).sum::<usize>() {
        0 => operand_path,
        n => format!("{operand_path}; {n} loop-invariant operand(s) staged once before their loop"),
    };
    let operand_path = if g.register_a_dots {
        format!("{operand_path}; A from registers where it is in the accumulator's fragment layout")
    } else {
        operand_path
    };
    let operand_path = match g.rings.values().filter(|r| r.rider.is_some()).count() {
        0 => operand_path,
        n => format!(
            "{operand_path}; {n} N-major B tile(s) carried in an earlier dot's ring and transposed in \
             shared memory while its wgmma runs"
        ),
    };
    let text = format!(
        "// Tessera: kernel `{}` for sm_90a, lowered per op from the distributed level ({} threads)\n{}",
        kernel.name,
        threads,
        module.as_operation()
    );
    let used = SharedUse {
        scratch_bytes: g.scratch_bytes,
        ring_bytes: g.prefix_bytes(),
        ring_candidates: !g.deferrable.is_empty(),
        span: g.scratch_span,
    };
    let lowered = LoweredKernel {
        // element offsets are i64 throughout
        index_bits: 64,
        entry: entry_name,
        mlir: text,
        abi: abi.slots,
        block: [threads, 1, 1],
        dynamic_shared_bytes: if shared_bytes > 0 {
            u32::try_from(shared_bytes + SCRATCH_ALIGN).map_err(|_| ice("shared memory size"))?
        } else {
            0
        },
        tuning: vec![("warps".into(), 1i64 << cta.warp_bits)],
        mma: MmaSummary {
            family: g.mma.first().cloned().unwrap_or_default(),
            per_k_tile: 0,
            operand_a: operand_path.clone(),
            operand_b: operand_path.clone(),
            stages: ring_stages,
            dequant: match (g.mma.is_empty(), g.grouped_dots, g.dequant_dots, g.packed_dots) {
                (true, ..) => "none (no dot)".into(),
                (false, false, false, false) => "none (plain operands)".into(),
                (false, grouped, dequant, packed) => [
                    grouped.then_some(
                        "scaled codes on wgmma, block scales applied to each K group's f32 partial",
                    ),
                    g.direct_scale_dots
                        .then_some("f32 block scales read by each thread straight into registers"),
                    dequant.then_some("scaled operands dequantized in registers before the MMA"),
                    packed.then_some(
                        "packed FP4 operands converted as they are staged from their bytes (e4m3 codes, or bf16 code x block scale)",
                    ),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
            },
            note: Some(if g.mma.is_empty() {
                "per-op lowering from the distributed level".into()
            } else {
                format!(
                    "per-op lowering from the distributed level; wgmma: {}; operands: {}",
                    g.mma.join(", "),
                    operand_path
                )
            }),
        },
    };
    Ok((lowered, used))
}

/// Ops the per-op lowering does not handle yet, refused with their own span before anything is
/// emitted (so the first refusal is the first such op in program order).
fn refuse_unlowered(k: &Kernel, b: &IrBlock) -> Result<(), LoweringError> {
    for op in &b.ops {
        let why = match &op.kind {
            OpKind::AtomicAdd { access, .. } => match &k.param(access.tensor).kind {
                ParamKind::Tensor { ty, .. } if ty.scale.is_some() || ty.packed_axis.is_some() => Some(
                    "atomic_add into a scaled or packed-FP4 tensor (the hardware has no atomic for codes with scales)",
                ),
                _ => None,
            },
            _ => None,
        };
        if let Some(why) = why {
            return Err(unsupported(why, op.span));
        }
        for inner in op.kind.blocks() {
            refuse_unlowered(k, inner)?;
        }
    }
    Ok(())
}

impl<'c> Gen<'c, '_> {
    /// The lane/warp part of the coordinates of `l`: XOR of the bases of the set bits.
    fn thread_base(&self, b: &Block<'c>, l: &LinearLayout) -> Result<Vec<V>, LoweringError> {
        let rank = l.rank();
        let zero = self.m.const_int(b, 0, 32)?;
        let one = self.m.const_int(b, 1, 32)?;
        let mut acc = vec![zero; rank];
        for (bases, idx) in [(&l.lane, self.lane), (&l.warp, self.warp)] {
            for (i, basis) in bases.iter().enumerate() {
                if basis.iter().all(|x| *x == 0) {
                    continue;
                }
                let sh = self.m.const_int(b, i as i64, 32)?;
                let s = self.m.bin(b, "arith.shrui", idx, sh)?;
                let bit = self.m.bin(b, "arith.andi", s, one)?;
                for (d, x) in basis.iter().enumerate() {
                    if *x != 0 {
                        let c = self.m.const_int(b, *x as i64, 32)?;
                        let t = self.m.bin(b, "arith.muli", bit, c)?;
                        acc[d] = self.m.bin(b, "arith.xori", acc[d], t)?;
                    }
                }
            }
        }
        Ok(acc)
    }

    fn layout_of(&self, v: ValueId) -> Result<&LinearLayout, LoweringError> {
        self.k
            .ty(v)
            .as_tile()
            .and_then(|t| t.layout.as_dist())
            .ok_or_else(|| ice(format!("%{} has no register layout", v.0)))
    }

    fn shape_of(&self, v: ValueId) -> Vec<u32> {
        self.k
            .ty(v)
            .as_tile()
            .map(|t| t.shape.clone())
            .unwrap_or_default()
    }

    /// Coordinates (i32) of register `r` of tile layout `l`.
    fn coords(&self, b: &Block<'c>, l: &LinearLayout, r: u32) -> Result<Vec<V>, LoweringError> {
        let base = self
            .bases
            .get(l)
            .ok_or_else(|| ice("a layout without its thread base"))?
            .clone();
        let rc = l.reg_coords(l.rank(), r);
        let mut out = Vec::with_capacity(base.len());
        for (bv, c) in base.into_iter().zip(rc) {
            out.push(if c == 0 {
                bv
            } else {
                let cv = self.m.const_int(b, c as i64, 32)?;
                self.m.bin(b, "arith.xori", bv, cv)?
            });
        }
        Ok(out)
    }

    /// i1: register `r`'s element lies inside the logical (unpadded) shape.
    fn in_shape(
        &self,
        b: &Block<'c>,
        l: &LinearLayout,
        shape: &[u32],
        r: u32,
    ) -> Result<Option<V>, LoweringError> {
        let mut cond = None;
        let coords = if shape.iter().any(|d| !d.is_power_of_two()) {
            self.coords(b, l, r)?
        } else {
            return Ok(None);
        };
        for (d, n) in shape.iter().enumerate() {
            if !n.is_power_of_two() {
                let nv = self.m.const_int(b, *n as i64, 32)?;
                let c = self.m.cmp(b, false, 6 /* ult */, coords[d], nv)?;
                cond = Some(match cond {
                    None => c,
                    Some(p) => self.m.bin(b, "arith.andi", p, c)?,
                });
            }
        }
        Ok(cond)
    }

    /// i1: this thread owns register `r` (its duplicating lane/warp bits are clear and `r` is the
    /// owner copy); `None` when every thread owns it.
    fn owner(&self, b: &Block<'c>, l: &LinearLayout) -> Result<Option<V>, LoweringError> {
        let mut mask_l = 0i64;
        for bit in l.zero_bits(HwDim::Lane) {
            mask_l |= 1 << bit;
        }
        let mut mask_w = 0i64;
        for bit in l.zero_bits(HwDim::Warp) {
            mask_w |= 1 << bit;
        }
        let mut cond = None;
        for (idx, mask) in [(self.lane, mask_l), (self.warp, mask_w)] {
            if mask != 0 {
                let mv = self.m.const_int(b, mask, 32)?;
                let x = self.m.bin(b, "arith.andi", idx, mv)?;
                let z = self.m.const_int(b, 0, 32)?;
                let c = self.m.cmp(b, false, 0 /* eq */, x, z)?;
                cond = Some(match cond {
                    None => c,
                    Some(p) => self.m.bin(b, "arith.andi", p, c)?,
                });
            }
        }
        Ok(cond)
    }

    fn get(&self, v: ValueId) -> Result<Val, LoweringError> {
        self.env
            .get(&v)
            .cloned()
            .ok_or_else(|| ice(format!("%{} used before it was lowered", v.0)))
    }

    fn scalar(&self, v: ValueId) -> Result<V, LoweringError> {
        match self.get(v)? {
            Val::Scalar(s) => Ok(s),
            Val::Tile(_) => Err(ice(format!("%{} is a tile where a scalar is expected", v.0))),
        }
    }

    fn regs(&self, v: ValueId) -> Result<Vec<V>, LoweringError> {
        match self.get(v)? {
            Val::Tile(t) => Ok(t),
            Val::Scalar(_) => Err(ice(format!("%{} is a scalar where a tile is expected", v.0))),
        }
    }

    fn block(&mut self, b: &Block<'c>, ir: &IrBlock) -> Result<Vec<V>, LoweringError> {
        for op in &ir.ops {
            if let OpKind::Yield { values } = &op.kind {
                let mut out = Vec::new();
                for v in values {
                    out.extend(self.flat(*v)?);
                }
                return Ok(out);
            }
            self.op(b, op)?;
        }
        Ok(Vec::new())
    }

    /// A value as the list of SSA values it is made of (a scalar, or every register).
    /// A value as the list of SSA values it is made of (a scalar, or every register; a scaled tile
    /// also its per-register block multipliers and stored scales), for loop-carried values and
    /// `if` results.
    fn flat(&self, v: ValueId) -> Result<Vec<V>, LoweringError> {
        let mut out = match self.get(v)? {
            Val::Scalar(s) => vec![s],
            Val::Tile(t) => t,
        };
        if self.k.ty(v).as_tile().is_some_and(|t| t.scale.is_some()) {
            let missing = || ice(format!("scaled tile %{} without its scales", v.0));
            out.extend(self.scales.get(&v).ok_or_else(missing)?);
            out.extend(self.scale_codes.get(&v).ok_or_else(missing)?);
        }
        Ok(out)
    }

    /// The MLIR types of `flat(v)`.
    fn flat_types(&self, v: ValueId, span: Span) -> Result<Vec<Type<'c>>, LoweringError> {
        let t = self.k.ty(v);
        let e = self.m.elem(t.dtype(), span)?;
        Ok(match t {
            IrType::Scalar(_) => vec![e],
            IrType::Tile(tt) => {
                let n = self.layout_of(v)?.num_regs();
                let mut out = vec![e; n];
                if let Some(spec) = &tt.scale {
                    let stored = if spec.scale_dtype == DType::F32 {
                        self.m.f32()
                    } else {
                        self.m.i(8)
                    };
                    out.extend(vec![self.m.f32(); n]);
                    out.extend(vec![stored; n]);
                }
                out
            }
        })
    }

    /// Rebuild values from a flat list (scf results / block arguments).
    fn unflat(&mut self, vs: &[ValueId], flat: &[V]) -> Result<(), LoweringError> {
        let mut i = 0;
        for v in vs {
            let (n, scaled) = match self.k.ty(*v) {
                IrType::Scalar(_) => (1, false),
                IrType::Tile(t) => (self.layout_of(*v)?.num_regs(), t.scale.is_some()),
            };
            let mut take = |n: usize| -> Result<Vec<V>, LoweringError> {
                let part = flat.get(i..i + n).ok_or_else(|| ice("flattened value count"))?;
                i += n;
                Ok(part.to_vec())
            };
            let regs = take(n)?;
            let val = if matches!(self.k.ty(*v), IrType::Scalar(_)) {
                Val::Scalar(regs[0])
            } else {
                Val::Tile(regs)
            };
            if scaled {
                let mults = take(n)?;
                let stored = take(n)?;
                self.scales.insert(*v, mults);
                self.scale_codes.insert(*v, stored);
            }
            self.env.insert(*v, val);
        }
        Ok(())
    }

    fn op(&mut self, b: &Block<'c>, op: &Op) -> Result<(), LoweringError> {
        let span = op.span;
        self.span = span;
        let res = op.results.first().copied();
        let res_tile = res.is_some_and(|r| self.k.ty(r).as_tile().is_some());
        let result = |g: &mut Self, v: Val| -> Result<(), LoweringError> {
            let r = res.ok_or_else(|| ice("op without a result"))?;
            g.env.insert(r, v);
            Ok(())
        };
        match &op.kind {
            OpKind::ConstInt { value } => {
                let r = res.ok_or_else(|| ice("const without result"))?;
                let bits = if self.k.ty(r).dtype() == DType::I1 { 1 } else { 32 };
                let v = self
                    .m
                    .const_int(b, if bits == 1 { (*value != 0) as i64 } else { *value }, bits)?;
                result(self, Val::Scalar(v))
            }
            OpKind::ConstFloat { value } => {
                let r = res.ok_or_else(|| ice("const without result"))?;
                let d = self.k.ty(r).dtype();
                let v = self.const_of(b, *value, d, span)?;
                result(self, Val::Scalar(v))
            }
            OpKind::Full { value } => {
                let r = res.ok_or_else(|| ice("full without result"))?;
                let d = self.k.ty(r).dtype();
                let v = self.const_of(b, *value, d, span)?;
                let n = self.layout_of(r)?.num_regs();
                result(self, Val::Tile(vec![v; n]))
            }
            OpKind::ProgramId { axis } | OpKind::NumPrograms { axis } => {
                let dim = ["x", "y", "z"]
                    .get(*axis as usize)
                    .ok_or_else(|| unsupported(format!("grid axis {axis}"), span))?;
                let reg = if matches!(op.kind, OpKind::ProgramId { .. }) {
                    "ctaid"
                } else {
                    "nctaid"
                };
                let v = self.m.sreg(b, &format!("{reg}.{dim}"))?;
                result(self, Val::Scalar(v))
            }
            OpKind::SymDim { sym } => {
                let v = *self
                    .syms
                    .get(*sym as usize)
                    .ok_or_else(|| ice("symbolic dim out of range"))?;
                result(self, Val::Scalar(v))
            }
            OpKind::Arange { .. } => {
                let r = res.ok_or_else(|| ice("arange without result"))?;
                let l = self.layout_of(r)?.clone();
                let mut out = Vec::new();
                for reg in 0..l.num_regs() as u32 {
                    out.push(self.coords(b, &l, reg)?[0]);
                }
                result(self, Val::Tile(out))
            }
            OpKind::Binary { .. }
            | OpKind::Unary { .. }
            | OpKind::Cmp { .. }
            | OpKind::Select { .. }
            | OpKind::Cast { .. } => {
                let r = res.ok_or_else(|| ice("elementwise op without result"))?;
                let operands = op.kind.operands();
                let dts: Vec<DType> = operands.iter().map(|v| self.k.ty(*v).dtype()).collect();
                let out_d = self.k.ty(r).dtype();
                if res_tile {
                    let regs: Vec<Vec<V>> =
                        operands.iter().map(|v| self.regs(*v)).collect::<Result<_, _>>()?;
                    let n = regs.first().map_or(0, Vec::len);
                    let mut out = Vec::with_capacity(n);
                    for i in 0..n {
                        let args: Vec<V> = regs.iter().map(|r| r[i]).collect();
                        out.push(self.elementwise(b, &op.kind, &args, &dts, out_d, span)?);
                    }
                    result(self, Val::Tile(out))
                } else {
                    let args: Vec<V> = operands
                        .iter()
                        .map(|v| self.scalar(*v))
                        .collect::<Result<_, _>>()?;
                    let v = self.elementwise(b, &op.kind, &args, &dts, out_d, span)?;
                    result(self, Val::Scalar(v))
                }
            }
            OpKind::Broadcast { x } => {
                let r = res.ok_or_else(|| ice("broadcast without result"))?;
                let rl = self.layout_of(r)?.clone();
                match self.get(*x)? {
                    Val::Scalar(s) => result(self, Val::Tile(vec![s; rl.num_regs()])),
                    Val::Tile(src) => {
                        let xs = self.shape_of(*x);
                        let rs = self.shape_of(r);
                        let dims: Vec<bool> = xs.iter().zip(&rs).map(|(a, b)| a != b).collect();
                        let kept = rl.reg_bits_kept(&dims);
                        let mut out = Vec::with_capacity(rl.num_regs());
                        for reg in 0..rl.num_regs() as u32 {
                            let mut si = 0usize;
                            for (j, bit) in kept.iter().enumerate() {
                                if reg >> bit & 1 == 1 {
                                    si |= 1 << j;
                                }
                            }
                            out.push(*src.get(si).ok_or_else(|| ice("broadcast source register"))?);
                        }
                        result(self, Val::Tile(out))
                    }
                }
            }
            // Folded into their dot's staging (`async_copy`): a deferred load's transpose, an
            // explicit dequant of deferred packed codes and its scale tile's load.
            OpKind::Transpose { x } if self.pending.contains_key(x) || self.folded_into(*x).is_some() => {
                Ok(())
            }
            OpKind::Dequant { .. } if res.is_some_and(|r| self.folded_into(r).is_some()) => Ok(()),
            OpKind::Load { .. } if res.is_some_and(|r| self.folded_into(r).is_some()) => Ok(()),
            OpKind::ExpandDims { x, .. } | OpKind::Transpose { x } => {
                let v = self.get(*x)?;
                // registers are renamed, not moved: a scaled tile keeps its multipliers
                if let (Some(s), Some(r)) = (self.scales.get(x).cloned(), res) {
                    self.scales.insert(r, s);
                }
                if let (Some(s), Some(r)) = (self.scale_codes.get(x).cloned(), res) {
                    self.scale_codes.insert(r, s);
                }
                if let (Some(g), Some(r)) = (self.globals.get(x).copied(), res) {
                    self.globals.insert(r, g);
                }
                result(self, v)
            }
            OpKind::ConvertLayout { x } => {
                let r = res.ok_or_else(|| ice("convert without result"))?;
                let v = self.convert(b, *x, r, span)?;
                result(self, Val::Tile(v))
            }
            OpKind::Reduce { kind, x, axis } => {
                let v = self.reduce(
                    b,
                    *kind,
                    *x,
                    *axis as usize,
                    res.ok_or_else(|| ice("reduce without result"))?,
                    span,
                )?;
                result(self, v)
            }
            OpKind::Load { access, other } => {
                let r = res.ok_or_else(|| ice("load without result"))?;
                if self
                    .rings
                    .values()
                    .any(|x| x.rider.as_ref().is_some_and(|rd| rd.load == r))
                {
                    // A ring copies it as it is, for a later dot (`ring::Rider`).
                    return Ok(());
                }
                if let Some(d) = self.deferrable.get(&r) {
                    // Its dot issues it (async_copy).
                    self.pending.insert(r, d.clone());
                    return Ok(());
                }
                let v = if self.scaled_param(access.tensor) && res_tile {
                    self.load_scaled(b, access, r, span)?
                } else if self.scaled_param(access.tensor) {
                    return Err(unsupported("a scalar load of a scaled or packed tensor", span));
                } else {
                    self.load(b, access, *other, r, span)?
                };
                result(self, v)
            }
            OpKind::Store { access, value } if self.scaled_param(access.tensor) => {
                self.store_scaled(b, access, *value, span)
            }
            OpKind::Store { access, value } => self.store(b, access, *value, false, span),
            OpKind::AtomicAdd { access, value } => self.store(b, access, *value, true, span),
            OpKind::For {
                lo,
                hi,
                step,
                inits,
                body,
            } => {
                let (lo, hi, step) = (self.scalar(*lo)?, self.scalar(*hi)?, self.scalar(*step)?);
                let mut init_flat = Vec::new();
                let mut types = Vec::new();
                for v in inits {
                    init_flat.extend(self.flat(*v)?);
                    types.extend(self.flat_types(*v, span)?);
                }
                // A non-positive step runs no iteration (the interpreter reports E0608 there).
                let zero = self.m.const_int(b, 0, 32)?;
                let pos = self.m.cmp(b, false, 4 /* sgt */, step, zero)?;
                let hi = self.m.select(b, pos, hi, lo)?;
                let one = self.m.const_int(b, 1, 32)?;
                let step = self.m.select(b, pos, step, one)?;
                self.stage_residents(b, body.args[0])?;
                self.ring_prologue(b, body.args[0], (lo, hi, step), span)?;
                let mut arg_types = vec![(self.m.i(32), self.m.loc)];
                arg_types.extend(types.iter().map(|t| (*t, self.m.loc)));
                let body_b = Block::new(&arg_types);
                let args: Vec<V> = (0..arg_types.len())
                    .map(|i| {
                        body_b
                            .argument(i)
                            .map(|a| melior::ir::ValueLike::to_raw(&melior::ir::Value::from(a)))
                            .map_err(|e| ice(format!("loop argument: {e}")))
                    })
                    .collect::<Result<_, _>>()?;
                self.env.insert(body.args[0], Val::Scalar(args[0]));
                self.unflat(&body.args[1..], &args[1..])?;
                let yielded = self.block(&body_b, body)?;
                self.m.op(&body_b, "scf.yield", &yielded, &[], &[], Vec::new())?;
                let region = Region::new();
                region.append_block(body_b);
                let mut operands = vec![lo, hi, step];
                operands.extend(init_flat);
                let outs = self.m.op(b, "scf.for", &operands, &types, &[], vec![region])?;
                self.ring_epilogue(b, body.args[0])?;
                self.unflat(&op.results, &outs)
            }
            OpKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let c = self.scalar(*cond)?;
                let mut types = Vec::new();
                for r in &op.results {
                    types.extend(self.flat_types(*r, span)?);
                }
                let tb = Block::new(&[]);
                let ty = self.block(&tb, then_block)?;
                self.m.op(&tb, "scf.yield", &ty, &[], &[], Vec::new())?;
                let eb = Block::new(&[]);
                let ey = self.block(&eb, else_block)?;
                self.m.op(&eb, "scf.yield", &ey, &[], &[], Vec::new())?;
                let (tr, er) = (Region::new(), Region::new());
                tr.append_block(tb);
                er.append_block(eb);
                let outs = self.m.op(b, "scf.if", &[c], &types, &[], vec![tr, er])?;
                self.unflat(&op.results, &outs)
            }
            OpKind::Yield { .. } => Err(ice("yield in the middle of a block")),
            OpKind::Dot { a, b: bv, acc } => {
                let r = *op.results.first().ok_or_else(|| ice("dot without result"))?;
                let v = self.dot(b, *a, *bv, *acc, r, span)?;
                result(self, Val::Tile(v))
            }
            OpKind::Quantize {
                x,
                elem,
                spec,
                global,
            } => {
                let r = res.ok_or_else(|| ice("quantize without result"))?;
                let v = self.quantize(b, *x, *elem, spec, *global, r, span)?;
                result(self, v)
            }
            OpKind::Dequant { x, scale, to } => {
                let v = self.dequant(b, *x, *scale, *to, span)?;
                result(self, Val::Tile(v))
            }
        }
    }

    fn const_of(&self, b: &Block<'c>, v: f64, d: DType, span: Span) -> Result<V, LoweringError> {
        match d {
            DType::I1 => self.m.const_int(b, (v != 0.0) as i64, 1),
            DType::I32 => self.m.const_int(b, v as i64, 32),
            DType::I8 => self.m.const_int(b, v as i64, 8),
            DType::F32 | DType::BF16 | DType::F16 => {
                // Round once from the f64 literal to f32 (as the interpreter does), then to the
                // narrower type with round-to-nearest-even.
                let f = self.m.const_float(b, v as f32 as f64, self.m.f32())?;
                if d == DType::F32 {
                    Ok(f)
                } else {
                    let t = self.m.elem(d, span)?;
                    self.m.conv(b, "arith.truncf", f, t)
                }
            }
            other => Err(unsupported(format!("a constant of type {other} on sm_90a"), span)),
        }
    }

    /// One elementwise op on scalars (`args` in `OpKind::operands` order).
    fn elementwise(
        &self,
        b: &Block<'c>,
        kind: &OpKind,
        args: &[V],
        dts: &[DType],
        out: DType,
        span: Span,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        match kind {
            OpKind::Binary { op, .. } => {
                let (x, y, d) = (args[0], args[1], dts[0]);
                let name = if is_float(d) {
                    match op {
                        BinOp::Add => "arith.addf",
                        BinOp::Sub => "arith.subf",
                        BinOp::Mul => "arith.mulf",
                        BinOp::Div => "arith.divf",
                        BinOp::Rem => "arith.remf",
                        BinOp::Max => "arith.maximumf",
                        BinOp::Min => "arith.minimumf",
                        BinOp::And | BinOp::Or => return Err(unsupported("a logical op on floats", span)),
                    }
                } else {
                    match op {
                        BinOp::Add => "arith.addi",
                        BinOp::Sub => "arith.subi",
                        BinOp::Mul => "arith.muli",
                        BinOp::Div => "arith.divsi",
                        BinOp::Rem => "arith.remsi",
                        BinOp::Max => "arith.maxsi",
                        BinOp::Min => "arith.minsi",
                        BinOp::And => "arith.andi",
                        BinOp::Or => "arith.ori",
                    }
                };
                if !is_float(d) && !matches!(d, DType::I32 | DType::I8 | DType::I1) {
                    return Err(unsupported(
                        format!("arithmetic on {d} codes (cast to a float first)"),
                        span,
                    ));
                }
                m.bin(b, name, x, y)
            }
            OpKind::Cmp { pred, .. } => {
                let d = dts[0];
                if is_float(d) {
                    // ordered comparisons; `!=` is unordered-or-unequal (NaN != NaN), as in C.
                    let p = match pred {
                        CmpPred::Eq => 1,
                        CmpPred::Gt => 2,
                        CmpPred::Ge => 3,
                        CmpPred::Lt => 4,
                        CmpPred::Le => 5,
                        CmpPred::Ne => 13,
                    };
                    m.cmp(b, true, p, args[0], args[1])
                } else {
                    let p = match pred {
                        CmpPred::Eq => 0,
                        CmpPred::Ne => 1,
                        CmpPred::Lt => 2,
                        CmpPred::Le => 3,
                        CmpPred::Gt => 4,
                        CmpPred::Ge => 5,
                    };
                    m.cmp(b, false, p, args[0], args[1])
                }
            }
            OpKind::Select { .. } => m.select(b, args[0], args[1], args[2]),
            OpKind::Cast { to, .. } => self.cast(b, args[0], dts[0], *to, span),
            OpKind::Unary { op, .. } => self.unary(b, *op, args[0], dts[0], span),
            _ => {
                let _ = out;
                Err(ice(format!("`{}` is not elementwise", kind.mnemonic())))
            }
        }
    }

    fn unary(&self, b: &Block<'c>, op: UnOp, x: V, d: DType, span: Span) -> Result<V, LoweringError> {
        let m = &self.m;
        if !is_float(d) {
            return match op {
                UnOp::Neg => {
                    let z = m.const_int(b, 0, d.bits().max(1))?;
                    m.bin(b, "arith.subi", z, x)
                }
                UnOp::Abs => {
                    let z = m.const_int(b, 0, d.bits())?;
                    let n = m.bin(b, "arith.subi", z, x)?;
                    m.bin(b, "arith.maxsi", x, n)
                }
                UnOp::Not if d == DType::I1 => {
                    let t = m.const_int(b, 1, 1)?;
                    m.bin(b, "arith.xori", x, t)
                }
                _ => Err(unsupported(format!("`{op:?}` on {d}"), span)),
            };
        }
        if op == UnOp::Neg {
            return m.op1(b, "arith.negf", &[x], m.ty(x), &[]);
        }
        // Transcendentals in f32 with the PTX approximations (ex2.approx / lg2.approx), then
        // rounded back.
        let f = m.f32();
        let w = self.cast(b, x, d, DType::F32, span)?;
        let r = match op {
            UnOp::Abs => m.op1(b, "llvm.intr.fabs", &[w], f, &[])?,
            UnOp::Sqrt => m.op1(b, "llvm.intr.sqrt", &[w], f, &[])?,
            UnOp::Rsqrt => {
                let s = m.op1(b, "llvm.intr.sqrt", &[w], f, &[])?;
                let one = m.const_float(b, 1.0, f)?;
                m.bin(b, "arith.divf", one, s)?
            }
            UnOp::Exp2 => m.intrinsic(b, "llvm.nvvm.ex2.approx.f32", &[w], f)?,
            UnOp::Exp => {
                let l2e = m.const_float(b, std::f64::consts::LOG2_E as f32 as f64, f)?;
                let s = m.bin(b, "arith.mulf", w, l2e)?;
                m.intrinsic(b, "llvm.nvvm.ex2.approx.f32", &[s], f)?
            }
            UnOp::Log2 => m.intrinsic(b, "llvm.nvvm.lg2.approx.f", &[w], f)?,
            UnOp::Log => {
                let l = m.intrinsic(b, "llvm.nvvm.lg2.approx.f", &[w], f)?;
                let ln2 = m.const_float(b, std::f64::consts::LN_2 as f32 as f64, f)?;
                m.bin(b, "arith.mulf", l, ln2)?
            }
            UnOp::Neg | UnOp::Not => return Err(unsupported(format!("`{op:?}` on {d}"), span)),
        };
        self.cast(b, r, DType::F32, d, span)
    }

    /// Value conversion with the IR's semantics (RNE, saturating for fp8, truncation to int).
    fn cast(&self, b: &Block<'c>, x: V, from: DType, to: DType, span: Span) -> Result<V, LoweringError> {
        if from == to {
            return Ok(x);
        }
        let m = &self.m;
        let tt = m.elem(to, span)?;
        match (from, to) {
            (f, t) if is_float(f) && is_float(t) => {
                if f == DType::F32 {
                    m.conv(b, "arith.truncf", x, tt)
                } else {
                    // bf16 <-> f16 goes through f32 (exact), then rounds once.
                    let w = m.conv(b, "arith.extf", x, m.f32())?;
                    if t == DType::F32 {
                        Ok(w)
                    } else {
                        m.conv(b, "arith.truncf", w, tt)
                    }
                }
            }
            (f, DType::F8E4M3 | DType::F8E5M2) if is_float(f) => {
                let w = self.cast(b, x, f, DType::F32, span)?;
                let fmt = if to == DType::F8E4M3 { "f8E4M3FN" } else { "f8E5M2" };
                // cvt.rn.satfinite.{e4m3,e5m2}x2.f32 converts a pair; both halves get the value.
                let pair = m.op1(
                    b,
                    "nvvm.convert.f32x2.to.f8x2",
                    &[w, w],
                    m.i(16),
                    &[
                        m.attr("dstTy", m.parse_attr(fmt)?),
                        m.attr("rnd", m.parse_attr("#nvvm.fp_rnd_mode<rn>")?),
                        m.attr("sat", m.parse_attr("#nvvm.sat_mode<satfinite>")?),
                    ],
                )?;
                m.conv(b, "arith.trunci", pair, m.i(8))
            }
            (DType::F8E4M3 | DType::F8E5M2, t) if is_float(t) => {
                let f = self.decode_fp8(b, x, from)?;
                self.cast(b, f, DType::F32, t, span)
            }
            (f, DType::F6E2M3 | DType::F6E3M2 | DType::F4E2M1) if is_float(f) => {
                // rounding from the exact f32 value (bf16/f16 widen exactly)
                let w = self.cast(b, x, f, DType::F32, span)?;
                let fmt = match to {
                    DType::F6E2M3 => tessera_formats::Format::F6E2M3,
                    DType::F6E3M2 => tessera_formats::Format::F6E3M2,
                    _ => tessera_formats::Format::F4E2M1,
                };
                self.encode_small(b, w, fmt)
            }
            (DType::F6E2M3 | DType::F6E3M2 | DType::F4E2M1, t) if is_float(t) => {
                let f = self.decode_code(b, x, from, span)?;
                self.cast(b, f, DType::F32, t, span)
            }
            (DType::I1, t) if is_float(t) => m.conv(b, "arith.uitofp", x, tt),
            (f, t) if f.is_int() && is_float(t) => m.conv(b, "arith.sitofp", x, tt),
            (f, t) if is_float(f) && t.is_int() => m.conv(b, "arith.fptosi", x, tt),
            (DType::I1, t) if t.is_int() => m.conv(b, "arith.extui", x, tt),
            (f, t) if f.is_int() && t.is_int() => {
                if f.bits() < t.bits() {
                    m.conv(b, "arith.extsi", x, tt)
                } else {
                    m.conv(b, "arith.trunci", x, tt)
                }
            }
            _ => Err(unsupported(format!("cast from {from} to {to} on sm_90a"), span)),
        }
    }

    /// Exact decode of an fp8 code (i8) to f32 with integer ops: normal values rebias the
    /// exponent into the f32 bit pattern; subnormals are `mantissa * 2^(1 - bias - mbits)`;
    /// e4m3fn's NaN is `S.1111.111`, e5m2's specials follow IEEE.
    fn decode_fp8(&self, b: &Block<'c>, x: V, d: DType) -> Result<V, LoweringError> {
        let m = &self.m;
        let (ebits, mbits, bias) = if d == DType::F8E4M3 { (4, 3, 7) } else { (5, 2, 15) };
        let c = |v: i64| m.const_int(b, v, 32);
        let u = m.conv(b, "arith.extui", x, m.i(32))?;
        let sign = m.bin(b, "arith.shrui", u, c(7)?)?;
        let sign = m.bin(b, "arith.shli", sign, c(31)?)?;
        let e = m.bin(b, "arith.shrui", u, c(mbits)?)?;
        let e = m.bin(b, "arith.andi", e, c((1 << ebits) - 1)?)?;
        let man = m.bin(b, "arith.andi", u, c((1 << mbits) - 1)?)?;
        // normal: exponent + (127 - bias), mantissa shifted to the top of f32's 23 bits
        let fe = m.bin(b, "arith.addi", e, c(127 - bias)?)?;
        let fe = m.bin(b, "arith.shli", fe, c(23)?)?;
        let fm = m.bin(b, "arith.shli", man, c(23 - mbits)?)?;
        let bits = m.bin(b, "arith.ori", fe, fm)?;
        let normal = m.conv(b, "arith.bitcast", bits, m.f32())?;
        // subnormal: man * 2^(1 - bias - mbits)
        let mf = m.conv(b, "arith.uitofp", man, m.f32())?;
        let scale = m.const_float(b, 2f64.powi(1 - bias as i32 - mbits as i32), m.f32())?;
        let sub = m.bin(b, "arith.mulf", mf, scale)?;
        let is_sub = m.cmp(b, false, 0, e, c(0)?)?;
        let mag = m.select(b, is_sub, sub, normal)?;
        let mag_bits = m.conv(b, "arith.bitcast", mag, m.i(32))?;
        let with_sign = m.bin(b, "arith.ori", mag_bits, sign)?;
        let v = m.conv(b, "arith.bitcast", with_sign, m.f32())?;
        let emax = c((1 << ebits) - 1)?;
        let top = m.cmp(b, false, 0, e, emax)?;
        let nan = m.const_float(b, f64::NAN, m.f32())?;
        if d == DType::F8E4M3 {
            let m7 = m.cmp(b, false, 0, man, c(7)?)?;
            let is_nan = m.bin(b, "arith.andi", top, m7)?;
            m.select(b, is_nan, nan, v)
        } else {
            let inf = m.const_float(b, f64::INFINITY, m.f32())?;
            let ninf = m.const_float(b, f64::NEG_INFINITY, m.f32())?;
            let neg = m.cmp(b, false, 1, sign, c(0)?)?;
            let sinf = m.select(b, neg, ninf, inf)?;
            let m0 = m.cmp(b, false, 0, man, c(0)?)?;
            let special = m.select(b, m0, sinf, nan)?;
            m.select(b, top, special, v)
        }
    }

    /// Every extent of a tensor type, as i64 values.
    fn dims(&self, b: &Block<'c>, dims: &[Dim], span: Span) -> Result<Vec<V>, LoweringError> {
        dims.iter().map(|d| self.dim(b, d, span)).collect()
    }

    /// The i64 extent of tensor dim `d`.
    fn dim(&self, b: &Block<'c>, d: &Dim, span: Span) -> Result<V, LoweringError> {
        let m = &self.m;
        let sym = |name: &str| -> Result<V, LoweringError> {
            let i = self
                .k
                .syms
                .iter()
                .position(|s| s == name)
                .ok_or_else(|| unsupported(format!("unknown dim `{name}`"), span))?;
            let v = *self.syms.get(i).ok_or_else(|| ice("sym slot"))?;
            m.conv(b, "arith.extsi", v, m.i(64))
        };
        match d {
            Dim::Const(c) => m.const_int(b, *c as i64, 64),
            Dim::Sym(s) => sym(s),
            Dim::CeilDiv(s, by) => {
                let v = sym(s)?;
                let byv = m.const_int(b, *by as i64, 64)?;
                m.bin(b, "arith.ceildivsi", v, byv)
            }
        }
    }

    /// Per register of the accessed tile: the i64 element offset and the i1 in-bounds mask.
    #[allow(clippy::type_complexity)]
    fn addresses(
        &self,
        b: &Block<'c>,
        access: &Access,
        layout: Option<(&LinearLayout, Vec<u32>)>,
        span: Span,
    ) -> Result<Vec<(V, V)>, LoweringError> {
        Ok(self
            .indices(b, access, layout, span)?
            .into_iter()
            .map(|a| (a.offset, a.mask))
            .collect())
    }

    /// Per register of the accessed tile: the absolute i64 index along every tensor dim, the
    /// row-major element offset and the in-bounds mask.
    fn indices(
        &self,
        b: &Block<'c>,
        access: &Access,
        layout: Option<(&LinearLayout, Vec<u32>)>,
        span: Span,
    ) -> Result<Vec<Elem>, LoweringError> {
        let m = &self.m;
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return Err(ice("access to a scalar parameter"));
        };
        let dims = self.dims(b, &ty.dims, span)?;
        let nregs = layout.as_ref().map_or(1, |(l, _)| l.num_regs());
        let zero64 = m.const_int(b, 0, 64)?;
        let mut out = Vec::with_capacity(nregs);
        for r in 0..nregs as u32 {
            let coords = match &layout {
                Some((l, _)) => self.coords(b, l, r)?,
                None => Vec::new(),
            };
            let mut offset = zero64;
            let mut mask = m.const_int(b, 1, 1)?;
            let mut tile_dim = 0usize;
            let mut all_idx = Vec::with_capacity(access.index.len());
            for (d, ix) in access.index.iter().enumerate() {
                let idx32 = match ix {
                    Index::Range { start, .. } => {
                        let s = self.scalar(*start)?;
                        let c = coords.get(tile_dim).copied().ok_or_else(|| ice("coordinate"))?;
                        tile_dim += 1;
                        (s, Some(c))
                    }
                    Index::Point(p) => (self.scalar(*p)?, None),
                    Index::Gather(g) => {
                        let (l, _) = layout.as_ref().ok_or_else(|| ice("gather without a tile"))?;
                        let dims_mask: Vec<bool> = (0..l.rank()).map(|i| i != tile_dim).collect();
                        let kept = l.reg_bits_kept(&dims_mask);
                        let mut si = 0usize;
                        for (j, bit) in kept.iter().enumerate() {
                            if r >> bit & 1 == 1 {
                                si |= 1 << j;
                            }
                        }
                        let gi = self.regs(*g)?;
                        tile_dim += 1;
                        (*gi.get(si).ok_or_else(|| ice("gather index register"))?, None)
                    }
                };
                // index = start + coordinate, in i64 (no wrap-around for huge tensors)
                let s64 = m.conv(b, "arith.extsi", idx32.0, m.i(64))?;
                let idx = match idx32.1 {
                    Some(c) => {
                        let c64 = m.conv(b, "arith.extui", c, m.i(64))?;
                        m.bin(b, "arith.addi", s64, c64)?
                    }
                    None => s64,
                };
                // bounds: [max(0, lo), min(dim, hi))
                let bound = access.bounds.get(d).cloned().unwrap_or_default();
                let lo = match bound.lo {
                    Some(v) => {
                        let l = self.scalar(v)?;
                        let l64 = m.conv(b, "arith.extsi", l, m.i(64))?;
                        m.bin(b, "arith.maxsi", l64, zero64)?
                    }
                    None => zero64,
                };
                let hi = match bound.hi {
                    Some(v) => {
                        let h = self.scalar(v)?;
                        let h64 = m.conv(b, "arith.extsi", h, m.i(64))?;
                        m.bin(b, "arith.minsi", h64, dims[d])?
                    }
                    None => dims[d],
                };
                let ge = m.cmp(b, false, 5 /* sge */, idx, lo)?;
                let lt = m.cmp(b, false, 2 /* slt */, idx, hi)?;
                let ok = m.bin(b, "arith.andi", ge, lt)?;
                mask = m.bin(b, "arith.andi", mask, ok)?;
                // row-major offset: offset * dim + idx (Horner)
                let scaled = m.bin(b, "arith.muli", offset, dims[d])?;
                offset = m.bin(b, "arith.addi", scaled, idx)?;
                all_idx.push(idx);
            }
            if let Some((l, shape)) = &layout
                && let Some(c) = self.in_shape(b, l, shape, r)?
            {
                mask = m.bin(b, "arith.andi", mask, c)?;
            }
            out.push(Elem {
                idx: all_idx,
                offset,
                mask,
            });
        }
        Ok(out)
    }

    fn load(
        &mut self,
        b: &Block<'c>,
        access: &Access,
        other: f64,
        r: ValueId,
        span: Span,
    ) -> Result<Val, LoweringError> {
        let d = self.k.ty(r).dtype();
        let et = self.m.elem(d, span)?;
        let base = *self
            .tensors
            .get(&access.tensor)
            .ok_or_else(|| ice("tensor pointer"))?;
        let layout = match self.k.ty(r) {
            IrType::Tile(t) => Some((self.layout_of(r)?.clone(), t.shape.clone())),
            IrType::Scalar(_) => None,
        };
        let addrs = self.addresses(b, access, layout.as_ref().map(|(l, s)| (l, s.clone())), span)?;
        let fill = self.fill_of(b, d, other, span)?;
        let w = match &layout {
            Some((l, _)) => self.vector_width(access, l, d),
            None => 1,
        };
        let out = self.load_regs(b, base, &addrs, (et, d), fill, w)?;
        Ok(match layout {
            Some(_) => Val::Tile(out),
            None => Val::Scalar(out[0]),
        })
    }

    /// What a masked load of `d` elements reads outside its tensor: `other`, or code 0 for a
    /// narrow float. The interpreter reads the value 0.0 there (it refuses another `other`), which
    /// code 0 is except for e8m0 (2^-127, no e8m0 code holds 0): a folded explicit scale reads 0.0
    /// (`packed::slice_scale`); an e8m0 tile in registers still holds code 0.
    pub(super) fn fill_of(
        &self,
        b: &Block<'c>,
        d: DType,
        other: f64,
        span: Span,
    ) -> Result<V, LoweringError> {
        if d.is_narrow_float() {
            self.m.const_int(b, 0, 8)
        } else {
            self.const_of(b, other, d, span)
        }
    }

    /// One register per `(offset, mask)` of a tensor of element `d` at `base` (masked-out: `fill`),
    /// in runs of `w` that are one vector load when the run is in bounds and aligned at run time.
    pub(super) fn load_regs(
        &self,
        b: &Block<'c>,
        base: V,
        addrs: &[(V, V)],
        (et, d): (Type<'c>, DType),
        fill: V,
        w: u32,
    ) -> Result<Vec<V>, LoweringError> {
        let masked = |m: &Mlir<'c>, tb: &Block<'c>, off: V, mask: V| m.load_or(tb, mask, base, off, et, fill);
        let mut out = Vec::with_capacity(addrs.len());
        for group in addrs.chunks(w.max(1) as usize) {
            let m = &self.m;
            if group.len() < 2 {
                for (off, mask) in group {
                    out.push(masked(m, b, *off, *mask)?);
                }
                continue;
            }
            // Whole group in bounds and aligned: one vector load; else element by element.
            let cond = self.vector_ok(b, base, group, d)?;
            let m = &self.m;
            let tys = vec![et; group.len()];
            let vals = m.if_(
                b,
                cond,
                &tys,
                |tb| {
                    let p = m.gep(tb, base, group[0].0, et)?;
                    m.load_vec(tb, p, et, group.len() as u32, group.len() as u32 * elem_bytes(d))
                },
                |tb| {
                    group
                        .iter()
                        .map(|(off, mask)| masked(m, tb, *off, *mask))
                        .collect()
                },
            )?;
            out.extend(vals);
        }
        Ok(out)
    }

    fn store(
        &mut self,
        b: &Block<'c>,
        access: &Access,
        value: ValueId,
        atomic: bool,
        span: Span,
    ) -> Result<(), LoweringError> {
        let d = self.k.ty(value).dtype();
        let et = self.m.elem(d, span)?;
        let base = *self
            .tensors
            .get(&access.tensor)
            .ok_or_else(|| ice("tensor pointer"))?;
        let (layout, vals) = match self.get(value)? {
            Val::Tile(v) => {
                let l = self.layout_of(value)?.clone();
                (Some((l, self.shape_of(value))), v)
            }
            Val::Scalar(s) => (None, vec![s]),
        };
        let addrs = self.addresses(b, access, layout.as_ref().map(|(l, s)| (l, s.clone())), span)?;
        // Only owners write: a duplicated element is stored (or added) once.
        let owner = match &layout {
            Some((l, _)) => self.owner(b, l)?,
            None => {
                // a scalar store is made by thread 0 of the CTA
                let z = self.m.const_int(b, 0, 32)?;
                let l0 = self.m.cmp(b, false, 0, self.lane, z)?;
                let w0 = self.m.cmp(b, false, 0, self.warp, z)?;
                Some(self.m.bin(b, "arith.andi", l0, w0)?)
            }
        };
        // Plain stores of registers that walk the innermost dim contiguously go out as vectors
        // where the group is in bounds and aligned (a group's registers share one owner).
        let w = match (&layout, atomic) {
            (Some((l, _)), false) => self.vector_width(access, l, d),
            _ => 1,
        };
        let mut scalar_regs: Vec<usize> = Vec::new();
        if w >= 2 {
            for (g, (group, gv)) in addrs.chunks(w as usize).zip(vals.chunks(w as usize)).enumerate() {
                let first = g * w as usize;
                if let Some((l, _)) = &layout
                    && !l.reg_is_owner(first as u32)
                {
                    continue;
                }
                let ok = self.vector_ok(b, base, group, d)?;
                let ok = match owner {
                    Some(o) => self.m.bin(b, "arith.andi", ok, o)?,
                    None => ok,
                };
                let m = &self.m;
                let elems = elem_bytes(d);
                m.if_(
                    b,
                    ok,
                    &[],
                    |tb| {
                        let p = m.gep(tb, base, group[0].0, et)?;
                        m.store_vec(tb, gv, p, group.len() as u32 * elems)?;
                        Ok(vec![])
                    },
                    |tb| {
                        for ((off, mask), v) in group.iter().zip(gv) {
                            let cond = match owner {
                                Some(o) => m.bin(tb, "arith.andi", *mask, o)?,
                                None => *mask,
                            };
                            let p = m.gep(tb, base, *off, et)?;
                            m.store_if(tb, Some(cond), *v, p)?;
                        }
                        Ok(vec![])
                    },
                )?;
            }
        } else {
            scalar_regs = (0..addrs.len()).collect();
        }
        for (i, ((off, mask), v)) in addrs.into_iter().zip(vals).enumerate() {
            if !scalar_regs.contains(&i) {
                continue;
            }
            if let Some((l, _)) = &layout
                && !l.reg_is_owner(i as u32)
            {
                continue;
            }
            let m = &self.m;
            let cond = match owner {
                Some(o) => m.bin(b, "arith.andi", mask, o)?,
                None => mask,
            };
            m.if_(
                b,
                cond,
                &[],
                |tb| {
                    let p = m.gep(tb, base, off, et)?;
                    if atomic {
                        // LLVM's AtomicBinOp / AtomicOrdering are i64 enum attributes.
                        let kind = if is_float(d) { 11 } else { 1 }; // fadd / add
                        m.op1(
                            tb,
                            "llvm.atomicrmw",
                            &[p, v],
                            et,
                            &[
                                m.attr("bin_op", m.int_attr(64, kind)),
                                m.attr("ordering", m.int_attr(64, 2)), // monotonic
                            ],
                        )?;
                    } else {
                        m.store(tb, v, p)?;
                    }
                    Ok(vec![])
                },
                |_| Ok(vec![]),
            )?;
        }
        Ok(())
    }

    /// How many consecutive registers of a tile in layout `l` one vector access of `access` can
    /// cover: the registers must walk the tensor's innermost dim (contiguous in memory) one
    /// element at a time, up to 16 bytes; 1 when they do not (or for i1, whose registers are not
    /// its bytes).
    fn vector_width(&self, access: &Access, l: &LinearLayout, d: DType) -> u32 {
        if d == DType::I1 {
            return 1;
        }
        let Some(td) = access
            .index
            .len()
            .checked_sub(1)
            .and_then(|last| access.range_tile_dim(last))
        else {
            return 1;
        };
        let most = 16 / elem_bytes(d);
        l.contiguous_regs(td).min(most).max(1)
    }

    /// Whether a group of consecutive elements (offsets and masks of [`Self::addresses`]) can be
    /// accessed as one vector: all in bounds (the first and the last are, and bounds are
    /// intervals) and the first element's address aligned to the vector's size.
    fn vector_ok(&self, b: &Block<'c>, base: V, group: &[(V, V)], d: DType) -> Result<V, LoweringError> {
        let m = &self.m;
        let n = group.len() as i64;
        let eb = elem_bytes(d) as i64;
        let inb = m.bin(b, "arith.andi", group[0].1, group[group.len() - 1].1)?;
        let addr = m.conv(b, "llvm.ptrtoint", base, m.i(64))?;
        let ebv = m.const_int(b, eb, 64)?;
        let bytes = m.bin(b, "arith.muli", group[0].0, ebv)?;
        let at = m.bin(b, "arith.addi", addr, bytes)?;
        let mask = m.const_int(b, n * eb - 1, 64)?;
        let low = m.bin(b, "arith.andi", at, mask)?;
        let z = m.const_int(b, 0, 64)?;
        let aligned = m.cmp(b, false, 0, low, z)?;
        m.bin(b, "arith.andi", inb, aligned)
    }

    /// Run `f(block, i)` for every `i < total`, spread round-robin over the CTA's threads (round
    /// `it` takes `i = it * threads + tid`); only a partial last round is guarded.
    pub(super) fn spread(
        &self,
        b: &Block<'c>,
        total: u32,
        tid: V,
        f: &dyn Fn(&Block<'c>, V) -> Result<(), LoweringError>,
    ) -> Result<(), LoweringError> {
        let m = &self.m;
        let threads = self.cta.threads();
        for it in 0..total.div_ceil(threads) {
            let first = m.const_int(b, (it * threads) as i64, 32)?;
            let i = m.bin(b, "arith.addi", first, tid)?;
            if (it + 1) * threads <= total {
                f(b, i)?;
            } else {
                let lim = m.const_int(b, total as i64, 32)?;
                let inb = m.cmp(b, false, 6, i, lim)?; // ult
                m.if_(b, inb, &[], |tb| f(tb, i).map(|_| vec![]), |_| Ok(vec![]))?;
            }
        }
        Ok(())
    }

    /// This thread's index in the CTA.
    pub(super) fn tid(&self, b: &Block<'c>) -> Result<V, LoweringError> {
        let c = self.m.const_int(b, self.cta.lane_bits as i64, 32)?;
        let w = self.m.bin(b, "arith.shli", self.warp, c)?;
        self.m.bin(b, "arith.ori", w, self.lane)
    }

    /// The dynamic shared memory, aligned: the rings, then the scratch buffer.
    fn shared_base(&self, b: &Block<'c>) -> Result<V, LoweringError> {
        let m = &self.m;
        let raw = m.op1(
            b,
            "llvm.mlir.addressof",
            &[],
            m.ptr(3),
            &[m.attr(
                "global_name",
                melior::ir::attribute::FlatSymbolRefAttribute::new(m.ctx, SCRATCH).into(),
            )],
        )?;
        let addr = m.conv(b, "llvm.ptrtoint", raw, m.i(32))?;
        let slack = m.const_int(b, SCRATCH_ALIGN as i64 - 1, 32)?;
        let up = m.bin(b, "arith.addi", addr, slack)?;
        let mask = m.const_int(b, !(SCRATCH_ALIGN as i64 - 1), 32)?;
        let aligned = m.bin(b, "arith.andi", up, mask)?;
        let delta = m.bin(b, "arith.subi", aligned, addr)?;
        let d64 = m.conv(b, "arith.extui", delta, m.i(64))?;
        m.gep(b, raw, d64, m.i(8))
    }

    /// The scratch buffer (reductions across warps, layout conversions, per-iteration staging).
    /// Note that the op being lowered needs `bytes` of scratch shared memory.
    pub(super) fn need_scratch(&mut self, bytes: u64) {
        if bytes > self.scratch_bytes {
            self.scratch_bytes = bytes;
            self.scratch_span = self.span;
        }
    }

    /// Bytes of shared memory before the scratch buffer: the rings, then the resident operands.
    fn prefix_bytes(&self) -> u32 {
        self.ring_bytes + self.residents.bytes
    }

    fn scratch(&self, b: &Block<'c>) -> Result<V, LoweringError> {
        let base = self.shared_base(b)?;
        if self.prefix_bytes() == 0 {
            return Ok(base);
        }
        let off = self.m.const_int(b, i64::from(self.prefix_bytes()), 64)?;
        self.m.gep(b, base, off, self.m.i(8))
    }

    fn reduce(
        &mut self,
        b: &Block<'c>,
        kind: ReduceKind,
        x: ValueId,
        axis: usize,
        r: ValueId,
        span: Span,
    ) -> Result<Val, LoweringError> {
        let l = self.layout_of(x)?.clone();
        let shape = self.shape_of(x);
        let d = self.k.ty(x).dtype();
        let src = self.regs(x)?;
        // Work in f32 (or i32): shuffles move 32-bit values.
        let wd = if is_float(d) { DType::F32 } else { DType::I32 };
        let wt = self.m.elem(wd, span)?;
        let neutral = match (kind, is_float(d)) {
            (ReduceKind::Sum, true) => self.m.const_float(b, 0.0, wt)?,
            (ReduceKind::Sum, false) => self.m.const_int(b, 0, 32)?,
            (ReduceKind::Max, true) => self.m.const_float(b, f64::NEG_INFINITY, wt)?,
            (ReduceKind::Max, false) => self.m.const_int(b, i32::MIN as i64, 32)?,
            (ReduceKind::Min, true) => self.m.const_float(b, f64::INFINITY, wt)?,
            (ReduceKind::Min, false) => self.m.const_int(b, i32::MAX as i64, 32)?,
        };
        let combine = move |m: &Mlir<'c>, b: &Block<'c>, p: V, q: V| -> Result<V, LoweringError> {
            let name = match (kind, is_float(d)) {
                (ReduceKind::Sum, true) => "arith.addf",
                (ReduceKind::Sum, false) => "arith.addi",
                (ReduceKind::Max, true) => "arith.maximumf",
                (ReduceKind::Max, false) => "arith.maxsi",
                (ReduceKind::Min, true) => "arith.minimumf",
                (ReduceKind::Min, false) => "arith.minsi",
            };
            m.bin(b, name, p, q)
        };
        // widen, and replace padded elements by the neutral value
        let mut vals = Vec::with_capacity(src.len());
        for (i, v) in src.iter().enumerate() {
            let w = self.cast(b, *v, if d == DType::I1 { DType::I1 } else { d }, wd, span)?;
            let w = match self.in_shape(b, &l, &shape, i as u32)? {
                Some(c) => self.m.select(b, c, w, neutral)?,
                None => w,
            };
            vals.push(w);
        }
        // 1. in-thread, over the register bits along the axis
        let off_axis = l.reg_bits_off_axis(axis);
        let on_axis: Vec<u32> = (0..l.reg.len() as u32)
            .filter(|i| !off_axis.contains(i))
            .collect();
        let nout = 1usize << off_axis.len();
        let mut acc = Vec::with_capacity(nout);
        for o in 0..nout {
            let mut base = 0u32;
            for (j, bit) in off_axis.iter().enumerate() {
                if o >> j & 1 == 1 {
                    base |= 1 << bit;
                }
            }
            let mut a = None;
            for k in 0..1u32 << on_axis.len() {
                let mut reg = base;
                for (j, bit) in on_axis.iter().enumerate() {
                    if k >> j & 1 == 1 {
                        reg |= 1 << bit;
                    }
                }
                let v = vals[reg as usize];
                a = Some(match a {
                    None => v,
                    Some(p) => combine(&self.m, b, p, v)?,
                });
            }
            acc.push(a.ok_or_else(|| ice("empty reduction"))?);
        }
        // 2. across lanes: butterfly over the lane bits along the axis
        let along = |bs: &Vec<u32>| bs[axis] != 0;
        let lane_bits: Vec<u32> = (0..l.lane.len() as u32)
            .filter(|i| along(&l.lane[*i as usize]))
            .collect();
        let warp_bits: Vec<u32> = (0..l.warp.len() as u32)
            .filter(|i| along(&l.warp[*i as usize]))
            .collect();
        // 2. across lanes (butterfly shuffles), 3. across warps (shared memory): every copy ends
        //    with the combination over the lanes/warps that differ only in bits along the axis.
        let acc = self.combine_across_lanes(b, acc, wt, &lane_bits, &combine)?;
        let acc = self.combine_across_warps(b, acc, wt, &warp_bits, &combine)?;
        let out_d = self.k.ty(r).dtype();
        let mut out = Vec::with_capacity(acc.len());
        for a in acc {
            out.push(self.cast(b, a, wd, out_d, span)?);
        }
        Ok(match self.k.ty(r) {
            IrType::Scalar(_) => Val::Scalar(out[0]),
            IrType::Tile(_) => Val::Tile(out),
        })
    }

    /// Combine every register with its copies in the lanes that differ from this one only in
    /// `bits` (butterfly `shfl.sync`), so all those lanes end with the same result.
    fn combine_across_lanes(
        &self,
        b: &Block<'c>,
        mut vals: Vec<V>,
        ty: Type<'c>,
        bits: &[u32],
        combine: &Combine<'c, '_>,
    ) -> Result<Vec<V>, LoweringError> {
        if bits.is_empty() {
            return Ok(vals);
        }
        let full = self.m.const_int(b, -1, 32)?;
        let clamp = self.m.const_int(b, 31, 32)?;
        let kind = self.m.parse_attr("#nvvm<shfl_kind bfly>")?;
        for bit in bits {
            let offv = self.m.const_int(b, 1 << bit, 32)?;
            for a in vals.iter_mut() {
                let other = self.m.op1(
                    b,
                    "nvvm.shfl.sync",
                    &[full, *a, offv, clamp],
                    ty,
                    &[self.m.attr("kind", kind)],
                )?;
                *a = combine(&self.m, b, *a, other)?;
            }
        }
        Ok(vals)
    }

    /// Combine every register with its copies in the warps that differ from this one only in
    /// `bits`, through shared memory (slot `register * threads + tid`), in one order for all, so
    /// all those warps end with the identical result.
    fn combine_across_warps(
        &mut self,
        b: &Block<'c>,
        vals: Vec<V>,
        ty: Type<'c>,
        bits: &[u32],
        combine: &Combine<'c, '_>,
    ) -> Result<Vec<V>, LoweringError> {
        if bits.is_empty() {
            return Ok(vals);
        }
        let threads = self.cta.threads() as u64;
        self.need_scratch(threads * vals.len() as u64 * 4);
        let sp = self.scratch(b)?;
        let tid = self.tid(b)?;
        self.m.barrier(b)?;
        let slot = |g: &Self, b: &Block<'c>, t: V, o: usize| -> Result<V, LoweringError> {
            let base = g.m.const_int(b, (o as u64 * threads) as i64, 32)?;
            let i = g.m.bin(b, "arith.addi", base, t)?;
            let i64v = g.m.conv(b, "arith.extui", i, g.m.i(64))?;
            g.m.gep(b, sp, i64v, ty)
        };
        for (o, a) in vals.iter().enumerate() {
            let p = slot(self, b, tid, o)?;
            self.m.store(b, *a, p)?;
        }
        self.m.barrier(b)?;
        let lane_shift = self.m.const_int(b, self.cta.lane_bits as i64, 32)?;
        let mut out = Vec::with_capacity(vals.len());
        for o in 0..vals.len() {
            // The same absolute order in every warp (partner = this warp with the `bits` set to
            // k's, k = 0, 1, ...): sums then round identically in every copy.
            let mut a = None;
            for k in 0..1u32 << bits.len() {
                let (mut clear, mut set) = (0i64, 0i64);
                for (j, bit) in bits.iter().enumerate() {
                    clear |= 1 << bit;
                    if k >> j & 1 == 1 {
                        set |= 1 << bit;
                    }
                }
                let cm = self.m.const_int(b, !clear, 32)?;
                let w = self.m.bin(b, "arith.andi", self.warp, cm)?;
                let sv = self.m.const_int(b, set, 32)?;
                let w = self.m.bin(b, "arith.ori", w, sv)?;
                let w = self.m.bin(b, "arith.shli", w, lane_shift)?;
                let t = self.m.bin(b, "arith.ori", w, self.lane)?;
                let p = slot(self, b, t, o)?;
                let v = self.m.load(b, p, ty)?;
                a = Some(match a {
                    None => v,
                    Some(q) => combine(&self.m, b, q, v)?,
                });
            }
            let a = a.ok_or_else(|| ice("empty warp combination"))?;
            out.push(a);
        }
        self.m.barrier(b)?;
        Ok(out)
    }

    /// `convert_layout` of a tile: its registers and, for a scaled tile, its per-register block
    /// multipliers and stored scales, which move exactly like the codes.
    fn convert(
        &mut self,
        b: &Block<'c>,
        x: ValueId,
        r: ValueId,
        span: Span,
    ) -> Result<Vec<V>, LoweringError> {
        let d = self.k.ty(x).dtype();
        let et = self.m.elem(d, span)?;
        let regs = self.regs(x)?;
        let out = self.move_regs(b, x, r, &regs, (et, elem_bytes(d) as u64))?;
        for codes in [false, true] {
            let map = if codes { &self.scale_codes } else { &self.scales };
            let Some(regs) = map.get(&x).cloned() else {
                continue;
            };
            let Some(first) = regs.first() else { continue };
            let t = self.m.ty(*first);
            let bytes = if t == self.m.f32() { 4 } else { 1 };
            let moved = self.move_regs(b, x, r, &regs, (t, bytes))?;
            if codes {
                self.scale_codes.insert(r, moved);
            } else {
                self.scales.insert(r, moved);
            }
        }
        // The per-tensor scale is one scalar for the whole tile, whatever its layout.
        if let Some(g) = self.globals.get(&x).copied() {
            self.globals.insert(r, g);
        }
        Ok(out)
    }

    /// Registers laid out as `x` is, laid out as `r` is: a renaming when lanes and warps hold the
    /// same elements in both layouts, else every thread writes its registers to shared memory and
    /// reads back those of the new layout.
    fn move_regs(
        &mut self,
        b: &Block<'c>,
        x: ValueId,
        r: ValueId,
        regs: &[V],
        elem: (melior::ir::Type<'c>, u64),
    ) -> Result<Vec<V>, LoweringError> {
        let src = self.layout_of(x)?.clone();
        let dst = self.layout_of(r)?.clone();
        let rank = src.rank();
        if src.lane == dst.lane && src.warp == dst.warp {
            let mut out = Vec::with_capacity(dst.num_regs());
            for i in 0..dst.num_regs() as u32 {
                let c = dst.reg_coords(rank, i);
                let j = (0..src.num_regs() as u32)
                    .find(|j| src.reg_coords(rank, *j) == c)
                    .ok_or_else(|| ice("register permutation without a source"))?;
                out.push(regs[j as usize]);
            }
            return Ok(out);
        }
        let shape = self.shape_of(x);
        let unit = vec![1; shape.len()];
        self.through_smem(b, (&src, &shape, regs), &dst, &unit, elem)
    }

    /// Move a tile through shared memory: the owners of `src`'s registers write them row-major
    /// over the padded shape (elements of `ty`, `bytes` wide), then each register of layout `dst`
    /// reads the element at its coordinates divided by `block` (1s: a layout conversion; the
    /// shape ratio: the scale of each element of a block-scaled tile). Barriers before and after.
    fn through_smem(
        &mut self,
        b: &Block<'c>,
        (src, sshape, vals): (&LinearLayout, &[u32], &[V]),
        dst: &LinearLayout,
        block: &[u32],
        (ty, bytes): (Type<'c>, u64),
    ) -> Result<Vec<V>, LoweringError> {
        let padded: Vec<u32> = sshape.iter().map(|d| padded_extent(*d)).collect();
        let n: u64 = padded.iter().map(|p| *p as u64).product();
        self.need_scratch(n * bytes);
        let sp = self.scratch(b)?;
        let lin = |g: &Self, b: &Block<'c>, c: &[V]| -> Result<V, LoweringError> {
            let mut acc = g.m.const_int(b, 0, 32)?;
            for (cv, p) in c.iter().zip(&padded) {
                let pv = g.m.const_int(b, *p as i64, 32)?;
                let s = g.m.bin(b, "arith.muli", acc, pv)?;
                acc = g.m.bin(b, "arith.addi", s, *cv)?;
            }
            g.m.conv(b, "arith.extui", acc, g.m.i(64))
        };
        self.m.barrier(b)?;
        // Owners only: a duplicate may hold a padded computation's value (e.g. rows of an MMA atom
        // past a small tile), and one writer per element keeps the exchange race-free.
        let owner = self.owner(b, src)?;
        for (i, v) in vals.iter().enumerate() {
            if !src.reg_is_owner(i as u32) {
                continue;
            }
            let c = self.coords(b, src, i as u32)?;
            let off = lin(self, b, &c)?;
            let p = self.m.gep(b, sp, off, ty)?;
            self.m.store_if(b, owner, *v, p)?;
        }
        self.m.barrier(b)?;
        let blocked = block.iter().any(|x| *x > 1);
        let mut out = Vec::with_capacity(dst.num_regs());
        for i in 0..dst.num_regs() as u32 {
            let mut c = self.coords(b, dst, i)?;
            if blocked {
                for (k, (cv, bl)) in c.iter_mut().zip(block).enumerate() {
                    let bv = self.m.const_int(b, *bl as i64, 32)?;
                    let q = self.m.bin(b, "arith.divui", *cv, bv)?;
                    // padded coordinates of `dst` may point past the source tile: clamp into it
                    let lim = self.m.const_int(b, padded[k] as i64 - 1, 32)?;
                    *cv = self.m.bin(b, "arith.minui", q, lim)?;
                }
            }
            let off = lin(self, b, &c)?;
            let p = self.m.gep(b, sp, off, ty)?;
            out.push(self.m.load(b, p, ty)?);
        }
        self.m.barrier(b)?;
        Ok(out)
    }
}
