//! Typed MLIR construction for the per-op lowering, over melior's `OperationBuilder` (the nvvm ops
//! have no melior bindings; arith/llvm/scf ops are built the same way for uniformity). Values are
//! kept as raw `MlirValue` handles so that values of enclosing blocks can be used in nested
//! `scf` regions without tying every map to one block's borrow; the module owns every op and
//! nothing is erased while the lowering runs, so the handles stay valid.

use crate::LoweringError;
use melior::{
    Context,
    ir::{
        Attribute, Block, BlockLike, Identifier, Location, Region, RegionLike, Type, Value, ValueLike,
        attribute::{DenseI32ArrayAttribute, FloatAttribute, IntegerAttribute, StringAttribute},
        operation::OperationBuilder,
        r#type::IntegerType,
    },
};
use mlir_sys::MlirValue;
use tessera_ir::{DType, Span};

/// A raw SSA value handle (see the module docs).
pub(crate) type V = MlirValue;

pub(crate) fn val<'c>(v: V) -> Value<'c, 'static> {
    // SAFETY: every handle comes from an op or block argument of the module being built, which
    // outlives the lowering; no op is erased before the module is printed.
    unsafe { Value::from_raw(v) }
}

/// The builder: a context, the location every op gets, and typed op constructors.
pub(crate) struct Mlir<'c> {
    pub ctx: &'c Context,
    pub loc: Location<'c>,
}

impl<'c> Mlir<'c> {
    pub fn i(&self, bits: u32) -> Type<'c> {
        IntegerType::new(self.ctx, bits).into()
    }
    pub fn f32(&self) -> Type<'c> {
        Type::float32(self.ctx)
    }
    pub fn ptr(&self, space: u32) -> Type<'c> {
        melior::dialect::llvm::r#type::pointer(self.ctx, space)
    }

    /// The register type holding one element of `d` (narrow float and scale codes are i8 bytes).
    pub fn elem(&self, d: DType, span: Span) -> Result<Type<'c>, LoweringError> {
        Ok(match d {
            DType::I1 => self.i(1),
            DType::I8
            | DType::F8E4M3
            | DType::F8E5M2
            | DType::F6E2M3
            | DType::F6E3M2
            // FP4 codes are unpacked into one i8 register each (0..15); packing is the store's
            | DType::F4E2M1
            | DType::E8M0
            | DType::UE4M3 => self.i(8),
            DType::I32 => self.i(32),
            DType::BF16 => Type::bfloat16(self.ctx),
            DType::F16 => Type::float16(self.ctx),
            DType::F32 => self.f32(),
            other => {
                return Err(LoweringError::unsupported(
                    format!(
                        "{other} values in registers are not lowered per op on sm_90a"
                    ),
                    span,
                ));
            }
        })
    }

    pub fn attr(&self, name: &str, a: Attribute<'c>) -> (Identifier<'c>, Attribute<'c>) {
        (Identifier::new(self.ctx, name), a)
    }

    pub fn int_attr(&self, bits: u32, v: i64) -> Attribute<'c> {
        IntegerAttribute::new(self.i(bits), v).into()
    }

    /// The `position` attribute of `llvm.insertvalue` / `llvm.extractvalue` (field `i`).
    pub fn position(&self, i: u32) -> (Identifier<'c>, Attribute<'c>) {
        self.attr(
            "position",
            melior::ir::attribute::DenseI64ArrayAttribute::new(self.ctx, &[i64::from(i)]).into(),
        )
    }

    /// An attribute from its MLIR spelling (enum attributes such as `#llvm.atomic_ordering<..>`,
    /// which melior has no typed constructor for).
    pub fn parse_attr(&self, text: &str) -> Result<Attribute<'c>, LoweringError> {
        Attribute::parse(self.ctx, text).ok_or_else(|| LoweringError::Mlir {
            stage: "attribute",
            diagnostics: vec![format!(
                "internal compiler error (lowering): bad attribute `{text}`"
            )],
        })
    }

    /// Build `name` with operands, result types, attributes and regions, append it to `block`,
    /// and return its results.
    pub fn op(
        &self,
        block: &Block<'c>,
        name: &str,
        operands: &[V],
        results: &[Type<'c>],
        attrs: &[(Identifier<'c>, Attribute<'c>)],
        regions: Vec<Region<'c>>,
    ) -> Result<Vec<V>, LoweringError> {
        let ops: Vec<Value<'c, 'static>> = operands.iter().map(|v| val(*v)).collect();
        let op = OperationBuilder::new(name, self.loc)
            .add_operands(&ops)
            .add_results(results)
            .add_attributes(attrs)
            .add_regions_vec(regions)
            .build()
            .map_err(|e| LoweringError::Mlir {
                stage: "build",
                diagnostics: vec![format!("internal compiler error (lowering): `{name}`: {e}")],
            })?;
        let r = block.append_operation(op);
        (0..results.len())
            .map(|i| r.result(i).map(|x| Value::from(x).to_raw()))
            .collect::<Result<_, _>>()
            .map_err(|e| LoweringError::Mlir {
                stage: "build",
                diagnostics: vec![format!(
                    "internal compiler error (lowering): `{name}` results: {e}"
                )],
            })
    }

    /// One-result op.
    pub fn op1(
        &self,
        block: &Block<'c>,
        name: &str,
        operands: &[V],
        result: Type<'c>,
        attrs: &[(Identifier<'c>, Attribute<'c>)],
    ) -> Result<V, LoweringError> {
        Ok(self.op(block, name, operands, &[result], attrs, Vec::new())?[0])
    }

    pub fn ty(&self, v: V) -> Type<'c> {
        val(v).r#type()
    }

    pub fn const_int(&self, b: &Block<'c>, v: i64, bits: u32) -> Result<V, LoweringError> {
        let t = self.i(bits);
        self.op1(
            b,
            "arith.constant",
            &[],
            t,
            &[self.attr("value", IntegerAttribute::new(t, v).into())],
        )
    }

    pub fn const_float(&self, b: &Block<'c>, v: f64, t: Type<'c>) -> Result<V, LoweringError> {
        self.op1(
            b,
            "arith.constant",
            &[],
            t,
            &[self.attr("value", FloatAttribute::new(self.ctx, t, v).into())],
        )
    }

    /// A binary arith op whose result has the operands' type.
    pub fn bin(&self, b: &Block<'c>, name: &str, x: V, y: V) -> Result<V, LoweringError> {
        self.op1(b, name, &[x, y], self.ty(x), &[])
    }

    /// `arith.cmpi` / `arith.cmpf` with a predicate number.
    pub fn cmp(&self, b: &Block<'c>, float: bool, pred: i64, x: V, y: V) -> Result<V, LoweringError> {
        let name = if float { "arith.cmpf" } else { "arith.cmpi" };
        self.op1(
            b,
            name,
            &[x, y],
            self.i(1),
            &[self.attr("predicate", self.int_attr(64, pred))],
        )
    }

    pub fn select(&self, b: &Block<'c>, c: V, x: V, y: V) -> Result<V, LoweringError> {
        self.op1(b, "arith.select", &[c, x, y], self.ty(x), &[])
    }

    /// A conversion op (`arith.extf`, `arith.sitofp`, `llvm.bitcast`, ...) to `to`.
    pub fn conv(&self, b: &Block<'c>, name: &str, x: V, to: Type<'c>) -> Result<V, LoweringError> {
        self.op1(b, name, &[x], to, &[])
    }

    /// `nvvm.read.ptx.sreg.<reg>` (an i32 special register).
    pub fn sreg(&self, b: &Block<'c>, reg: &str) -> Result<V, LoweringError> {
        self.op1(b, &format!("nvvm.read.ptx.sreg.{reg}"), &[], self.i(32), &[])
    }

    /// A call of an LLVM intrinsic by name.
    pub fn intrinsic(
        &self,
        b: &Block<'c>,
        name: &str,
        args: &[V],
        result: Type<'c>,
    ) -> Result<V, LoweringError> {
        self.op1(
            b,
            "llvm.call_intrinsic",
            args,
            result,
            &[
                self.attr("intrin", StringAttribute::new(self.ctx, name).into()),
                self.attr(
                    "op_bundle_sizes",
                    DenseI32ArrayAttribute::new(self.ctx, &[]).into(),
                ),
                self.attr(
                    "operandSegmentSizes",
                    DenseI32ArrayAttribute::new(self.ctx, &[args.len() as i32, 0]).into(),
                ),
            ],
        )
    }

    /// A side-effecting PTX inline-asm statement (`llvm.inline_asm`, AT&T dialect) with the
    /// given operands and one result of type `result`: for the instructions the NVVM dialect has
    /// no op for (wgmma with its A operand in registers).
    pub fn inline_asm(
        &self,
        b: &Block<'c>,
        asm: &str,
        constraints: &str,
        args: &[V],
        result: Type<'c>,
    ) -> Result<V, LoweringError> {
        self.op1(
            b,
            "llvm.inline_asm",
            args,
            result,
            &[
                self.attr("asm_string", StringAttribute::new(self.ctx, asm).into()),
                self.attr("constraints", StringAttribute::new(self.ctx, constraints).into()),
                // (`asm_dialect` left out: AT&T is the default.)
                self.attr("has_side_effects", Attribute::unit(self.ctx)),
            ],
        )
    }

    /// `base + offset` elements of type `elem` (an i64 offset: tensors may exceed 2^31 elements).
    pub fn gep(&self, b: &Block<'c>, base: V, offset: V, elem: Type<'c>) -> Result<V, LoweringError> {
        let rt = self.ty(base);
        self.op1(
            b,
            "llvm.getelementptr",
            &[base, offset],
            rt,
            &[
                self.attr(
                    "rawConstantIndices",
                    DenseI32ArrayAttribute::new(self.ctx, &[i32::MIN]).into(),
                ),
                self.attr(
                    "elem_type",
                    melior::ir::attribute::TypeAttribute::new(elem).into(),
                ),
            ],
        )
    }

    pub fn load(&self, b: &Block<'c>, ptr: V, t: Type<'c>) -> Result<V, LoweringError> {
        self.op1(b, "llvm.load", &[ptr], t, &[])
    }

    /// `n` elements of type `t` from `ptr` in one vector load (`align` bytes known), as scalars.
    pub fn load_vec(
        &self,
        b: &Block<'c>,
        ptr: V,
        t: Type<'c>,
        n: u32,
        align: u32,
    ) -> Result<Vec<V>, LoweringError> {
        let vt = Type::vector(&[n as u64], t);
        let v = self.op1(
            b,
            "llvm.load",
            &[ptr],
            vt,
            &[self.attr("alignment", self.int_attr(64, align as i64))],
        )?;
        (0..n)
            .map(|i| {
                let at = self.const_int(b, i as i64, 32)?;
                self.op1(b, "llvm.extractelement", &[v, at], t, &[])
            })
            .collect()
    }

    /// Store the scalars `vals` (one type) at `ptr` in one vector store (`align` bytes known).
    pub fn store_vec(&self, b: &Block<'c>, vals: &[V], ptr: V, align: u32) -> Result<(), LoweringError> {
        let t = self.ty(vals[0]);
        let vt = Type::vector(&[vals.len() as u64], t);
        let mut v = self.op1(b, "llvm.mlir.undef", &[], vt, &[])?;
        for (i, x) in vals.iter().enumerate() {
            let at = self.const_int(b, i as i64, 32)?;
            v = self.op1(b, "llvm.insertelement", &[v, *x, at], vt, &[])?;
        }
        self.op(
            b,
            "llvm.store",
            &[v, ptr],
            &[],
            &[self.attr("alignment", self.int_attr(64, align as i64))],
            Vec::new(),
        )?;
        Ok(())
    }

    pub fn store(&self, b: &Block<'c>, v: V, ptr: V) -> Result<(), LoweringError> {
        self.op(b, "llvm.store", &[v, ptr], &[], &[], Vec::new())?;
        Ok(())
    }

    /// Element `offset` (in elements of `t`) of `base` where `cond` holds, else `fill`: the masked
    /// load of every tensor access (the address is only formed inside the guarded branch).
    pub fn load_or(
        &self,
        b: &Block<'c>,
        cond: V,
        base: V,
        offset: V,
        t: Type<'c>,
        fill: V,
    ) -> Result<V, LoweringError> {
        Ok(self.if_(
            b,
            cond,
            &[t],
            |tb| {
                let p = self.gep(tb, base, offset, t)?;
                Ok(vec![self.load(tb, p, t)?])
            },
            |_| Ok(vec![fill]),
        )?[0])
    }

    /// `store v, p`, only where `cond` holds (always when `None`).
    pub fn store_if(&self, b: &Block<'c>, cond: Option<V>, v: V, p: V) -> Result<(), LoweringError> {
        match cond {
            Some(c) => {
                self.if_(
                    b,
                    c,
                    &[],
                    |tb| self.store(tb, v, p).map(|_| vec![]),
                    |_| Ok(vec![]),
                )?;
                Ok(())
            }
            None => self.store(b, v, p),
        }
    }

    /// A `cp.async.cg` copy of 16 bytes from `src` (global) to `dst` (shared): `bytes` (i32) of
    /// them read, the rest zero-filled. Not committed.
    pub fn cp_async_16(&self, b: &Block<'c>, dst: V, src: V, bytes: V) -> Result<(), LoweringError> {
        self.op(
            b,
            "nvvm.cp.async.shared.global",
            &[dst, src, bytes],
            &[],
            &[
                self.attr("size", self.int_attr(32, 16)),
                self.attr("modifier", self.parse_attr("#nvvm<load_cache_modifier cg>")?),
            ],
            Vec::new(),
        )?;
        Ok(())
    }

    /// Commit this thread's outstanding `cp.async` copies as one group, then wait until at most
    /// `pending` groups are still in flight.
    pub fn async_commit_wait(&self, b: &Block<'c>, pending: u32) -> Result<(), LoweringError> {
        self.async_commit(b)?;
        self.async_wait(b, pending)
    }

    /// Commit this thread's outstanding `cp.async` copies as one group.
    pub fn async_commit(&self, b: &Block<'c>) -> Result<(), LoweringError> {
        self.op(b, "nvvm.cp.async.commit.group", &[], &[], &[], Vec::new())?;
        Ok(())
    }

    /// Wait until at most `pending` of this thread's `cp.async` groups are still in flight.
    pub fn async_wait(&self, b: &Block<'c>, pending: u32) -> Result<(), LoweringError> {
        self.op(
            b,
            "nvvm.cp.async.wait.group",
            &[],
            &[],
            &[self.attr("n", self.int_attr(32, pending as i64))],
            Vec::new(),
        )?;
        Ok(())
    }

    /// `fence.proxy.async.shared::cta`: this thread's earlier shared-memory stores become visible
    /// to the async proxy (the wgmma that reads them through descriptors).
    pub fn fence_async_shared(&self, b: &Block<'c>) -> Result<(), LoweringError> {
        self.op(
            b,
            "nvvm.fence.proxy",
            &[],
            &[],
            &[
                self.attr("kind", self.parse_attr("#nvvm.proxy_kind<async.shared>")?),
                self.attr("space", self.parse_attr("#nvvm.shared_space<cta>")?),
            ],
            Vec::new(),
        )?;
        Ok(())
    }

    /// `mbarrier.init` of the barrier at `bar` (shared) for `count` arrivals per phase.
    pub fn mbarrier_init(&self, b: &Block<'c>, bar: V, count: u32) -> Result<(), LoweringError> {
        let n = self.const_int(b, i64::from(count), 32)?;
        self.op(b, "nvvm.mbarrier.init", &[bar, n], &[], &[], Vec::new())?;
        Ok(())
    }

    /// `fence.mbarrier_init.release.cluster`: earlier `mbarrier.init`s become visible to the
    /// async proxy (TMA's `complete_tx`) and, after a barrier, to the other threads.
    pub fn fence_mbarrier_init(&self, b: &Block<'c>) -> Result<(), LoweringError> {
        self.op(b, "nvvm.fence.mbarrier.init", &[], &[], &[], Vec::new())?;
        Ok(())
    }

    /// `mbarrier.inval` of the barrier at `bar`, so its memory may be initialised again.
    pub fn mbarrier_inval(&self, b: &Block<'c>, bar: V) -> Result<(), LoweringError> {
        self.op(b, "nvvm.mbarrier.inval", &[bar], &[], &[], Vec::new())?;
        Ok(())
    }

    /// `mbarrier.arrive.expect_tx`: the barrier's current phase also waits for `bytes` (i32) of
    /// asynchronous copies, and this thread arrives.
    pub fn mbarrier_arrive_expect_tx(&self, b: &Block<'c>, bar: V, bytes: u32) -> Result<(), LoweringError> {
        let n = self.const_int(b, i64::from(bytes), 32)?;
        self.op(
            b,
            "nvvm.mbarrier.arrive.expect_tx",
            &[bar, n],
            &[],
            &[],
            Vec::new(),
        )?;
        Ok(())
    }

    /// Wait until the phase of parity `phase` (i32, 0 or 1) of the barrier at `bar` completes
    /// (the op loops on `mbarrier.try_wait.parity`; `ticks` is its suspend-time hint).
    pub fn mbarrier_wait_parity(&self, b: &Block<'c>, bar: V, phase: V) -> Result<(), LoweringError> {
        let ticks = self.const_int(b, 10_000_000, 32)?;
        self.op(
            b,
            "nvvm.mbarrier.try_wait.parity",
            &[bar, phase, ticks],
            &[],
            &[],
            Vec::new(),
        )?;
        Ok(())
    }

    /// A TMA copy (`cp.async.bulk.tensor`, tiled) of the box at `coords` (i32, innermost first)
    /// of the tensor map at `map` (a generic pointer) into shared memory at `dst`, completing on
    /// the barrier at `bar`. Out-of-bounds elements are zero-filled.
    pub fn tma_load(&self, b: &Block<'c>, dst: V, map: V, coords: &[V], bar: V) -> Result<(), LoweringError> {
        // The destination is CTA shared memory seen in the cluster's window (a CTA is its own
        // cluster of one).
        let dst = self.conv(b, "llvm.addrspacecast", dst, self.ptr(7))?;
        let mut operands = vec![dst, map];
        operands.extend_from_slice(coords);
        operands.push(bar);
        // dstMem, tmaDescriptor, coordinates, mbar, im2colOffsets, multicastMask, l2CacheHint,
        // predicate.
        let segments = self.parse_attr(&format!("array<i32: 1, 1, {}, 1, 0, 0, 0, 0>", coords.len()))?;
        self.op(
            b,
            "nvvm.cp.async.bulk.tensor.shared.cluster.global",
            &operands,
            &[],
            &[self.attr("operandSegmentSizes", segments)],
            Vec::new(),
        )?;
        Ok(())
    }

    pub fn barrier(&self, b: &Block<'c>) -> Result<(), LoweringError> {
        self.op(b, "nvvm.barrier0", &[], &[], &[], Vec::new())?;
        Ok(())
    }

    /// `scf.if` with results: `then`/`else_` fill fresh blocks and return the values to yield.
    pub fn if_<'s>(
        &self,
        b: &Block<'c>,
        cond: V,
        results: &[Type<'c>],
        then: impl FnOnce(&Block<'c>) -> Result<Vec<V>, LoweringError>,
        else_: impl FnOnce(&Block<'c>) -> Result<Vec<V>, LoweringError>,
    ) -> Result<Vec<V>, LoweringError> {
        let tb = Block::new(&[]);
        let ty = then(&tb)?;
        self.op(&tb, "scf.yield", &ty, &[], &[], Vec::new())?;
        let eb = Block::new(&[]);
        let ey = else_(&eb)?;
        self.op(&eb, "scf.yield", &ey, &[], &[], Vec::new())?;
        let (tr, er) = (Region::new(), Region::new());
        tr.append_block(tb);
        er.append_block(eb);
        self.op(b, "scf.if", &[cond], results, &[], vec![tr, er])
    }
}
