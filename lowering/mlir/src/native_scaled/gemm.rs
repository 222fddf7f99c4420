//! Recognise the GEMM-shaped kernels the native block-scaled backends compile: one `dot` inside
//! the K loop whose operands are `load(a[M, K])` and `transpose(load(b[N, K]))` (both stored
//! K-contiguous, scaled or plain), an accumulator carried by the loop, and one `store` of that
//! accumulator (optionally `cast` to bf16/f16) into `c: out [M, N]`. The result names the
//! parameters, the element and scale contracts, the output type and the NV global scales, and
//! gives the launch ABI every native kernel of this shape shares. Anything else is an
//! `Unsupported` with the span to point at, never a panic.

use super::MlirText;
use std::ops::Div;
use tessera_bundle::{AbiArg, TensorPart};
use tessera_ir::{
    BinOp, DType, Dim, Kernel, Op, OpKind, ParamId, ParamKind, ScaleSpec, Span, TensorType, ValueId,
};

/// What the native GEMM kernels need to know about the user's kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmPattern {
    pub a: String,
    pub b: String,
    pub c: String,
    pub a_elem: DType,
    pub b_elem: DType,
    pub a_scale: Option<ScaleSpec>,
    pub b_scale: Option<ScaleSpec>,
    /// Element type stored into `c` (f32, bf16 or f16).
    pub out: DType,
    /// Names of the M, N, K symbolic dims.
    pub m: String,
    pub n: String,
    pub k: String,
    /// NV per-tensor global scales (scalar parameter names) of A and B, when NV-scaled.
    pub global_a: Option<String>,
    pub global_b: Option<String>,
    /// f32 scalar parameters the epilogue multiplies the accumulator by (`acc * (sa * sb)`).
    pub epilogue_scalars: Vec<String>,
    pub dot_span: Span,
}

/// Why a kernel is not a GEMM the native backends cover (with the span to point at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAGemm {
    pub span: Span,
    pub reason: String,
}

impl GemmPattern {
    /// Whether both globals are present (NVFP4): the epilogue multiplies by `ga * gb`.
    pub fn has_globals(&self) -> bool {
        self.global_a.is_some() && self.global_b.is_some()
    }

    /// The entry-point ABI shared by every native GEMM kernel, in order:
    /// `a, scale_a, b, scale_b, c, M, N, K[, ga, gb][, epilogue scalars]` (scale pointers only for
    /// scaled operands).
    pub fn abi(&self) -> Vec<AbiArg> {
        let ptr = |p: &str, part| AbiArg::Ptr {
            param: p.to_string(),
            part,
        };
        let mut v = vec![ptr(&self.a, TensorPart::Data)];
        if self.a_scale.is_some() {
            v.push(ptr(&self.a, TensorPart::Scale));
        }
        v.push(ptr(&self.b, TensorPart::Data));
        if self.b_scale.is_some() {
            v.push(ptr(&self.b, TensorPart::Scale));
        }
        v.push(ptr(&self.c, TensorPart::Data));
        for s in [&self.m, &self.n, &self.k] {
            v.push(AbiArg::SymI32 { sym: s.clone() });
        }
        if self.has_globals() {
            v.push(AbiArg::GlobalScaleF32 {
                param: self.a.clone(),
            });
            v.push(AbiArg::GlobalScaleF32 {
                param: self.b.clone(),
            });
        }
        v.extend(
            self.epilogue_scalars
                .iter()
                .map(|p| AbiArg::ScalarF32 { param: p.clone() }),
        );
        v
    }
}

fn all_ops(ops: &[Op], out: &mut Vec<Op>) {
    for op in ops {
        out.push(op.clone());
        for b in op.kind.blocks() {
            all_ops(&b.ops, out);
        }
    }
}

fn producer(ops: &[Op], v: ValueId) -> Option<&Op> {
    ops.iter().find(|o| o.results.contains(&v))
}

/// `load(p[range, range])` → the parameter.
fn loaded_param(ops: &[Op], v: ValueId) -> Option<ParamId> {
    match &producer(ops, v)?.kind {
        OpKind::Load { access, .. } if access.index.len() == 2 => Some(access.tensor),
        _ => None,
    }
}

fn tensor(k: &Kernel, p: ParamId) -> Option<(&str, &TensorType, bool)> {
    let param = k.params.get(p.0 as usize)?;
    match &param.kind {
        ParamKind::Tensor { ty, is_out } => Some((param.name.as_str(), ty, *is_out)),
        ParamKind::Scalar(_) => None,
    }
}

fn sym(d: &Dim) -> Option<&str> {
    match d {
        Dim::Sym(s) => Some(s),
        _ => None,
    }
}

/// The f32 scalar parameters whose product `v` is (through broadcasts), or `None`.
fn scalar_product(kernel: &Kernel, ops: &[Op], v: ValueId) -> Option<Vec<String>> {
    if let Some(i) = kernel.body.args.iter().position(|a| *a == v) {
        let p = kernel
            .params
            .iter()
            .filter(|p| matches!(p.kind, ParamKind::Scalar(_)))
            .nth(i)?;
        return matches!(p.kind, ParamKind::Scalar(DType::F32)).then(|| vec![p.name.clone()]);
    }
    match &producer(ops, v)?.kind {
        OpKind::Broadcast { x } => scalar_product(kernel, ops, *x),
        OpKind::Binary {
            op: BinOp::Mul,
            lhs,
            rhs,
        } => {
            let mut l = scalar_product(kernel, ops, *lhs)?;
            l.extend(scalar_product(kernel, ops, *rhs)?);
            Some(l)
        }
        _ => None,
    }
}

/// Recognise `kernel` (see the module doc).
pub fn recognise(kernel: &Kernel) -> Result<GemmPattern, NotAGemm> {
    let mut ops = Vec::new();
    all_ops(&kernel.body.ops, &mut ops);
    let fail = |span: Span, reason: &str| NotAGemm {
        span,
        reason: reason.to_string(),
    };
    let dots: Vec<&Op> = ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Dot { .. }))
        .collect();
    let dot = match dots.as_slice() {
        [d] => *d,
        [] => {
            return Err(fail(
                kernel.span,
                "the native block-scaled backends compile GEMM-shaped kernels; this kernel has no `dot`",
            ));
        }
        [_, d, ..] => {
            return Err(fail(
                d.span,
                "the native block-scaled backends compile kernels with exactly one `dot` (a GEMM)",
            ));
        }
    };
    let OpKind::Dot { a, b, .. } = dot.kind else {
        return Err(fail(dot.span, "internal: not a dot"));
    };
    let pa = loaded_param(&ops, a).ok_or_else(|| {
        fail(
            dot.span,
            "the left `dot` operand must be `load(a[m0 .. +BM, k0 .. +BK])`",
        )
    })?;
    let pb = match producer(&ops, b).map(|o| &o.kind) {
        Some(OpKind::Transpose { x }) => loaded_param(&ops, *x),
        _ => None,
    }
    .ok_or_else(|| fail(dot.span, "the right `dot` operand must be `transpose(load(b[n0 .. +BN, k0 .. +BK]))` (B stored [N, K], K-contiguous)"))?;
    let stores: Vec<&Op> = ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Store { .. } | OpKind::AtomicAdd { .. }))
        .collect();
    let store = match stores.as_slice() {
        [s] if matches!(s.kind, OpKind::Store { .. }) => *s,
        _ => {
            return Err(fail(
                dot.span,
                "the native GEMM epilogue stores the accumulator once (`store(c[..], acc)` or a cast of it)",
            ));
        }
    };
    let OpKind::Store { access, value } = &store.kind else {
        return Err(fail(store.span, "internal: not a store"));
    };
    // The stored value must be the loop's accumulator, possibly times f32 scalar parameters and
    // cast: no other epilogue math.
    let mut stored = match producer(&ops, *value).map(|o| &o.kind) {
        Some(OpKind::Cast { x, .. }) => *x,
        _ => *value,
    };
    let mut epilogue_scalars = Vec::new();
    if let Some(OpKind::Binary {
        op: BinOp::Mul,
        lhs,
        rhs,
    }) = producer(&ops, stored).map(|o| &o.kind)
    {
        let is_acc = |v: ValueId| matches!(producer(&ops, v).map(|o| &o.kind), Some(OpKind::For { .. }));
        let (acc, factor) = if is_acc(*lhs) { (*lhs, *rhs) } else { (*rhs, *lhs) };
        epilogue_scalars = scalar_product(kernel, &ops, factor).ok_or_else(|| {
            fail(
                store.span,
                "the native GEMM epilogue multiplies the accumulator only by f32 scalar parameters",
            )
        })?;
        stored = acc;
    }
    if !matches!(producer(&ops, stored).map(|o| &o.kind), Some(OpKind::For { .. })) {
        return Err(fail(
            store.span,
            "the native GEMM epilogue supports only `store(c, [cast](acc [* scalars]))`",
        ));
    }
    let (an, at, _) = tensor(kernel, pa).ok_or_else(|| fail(dot.span, "internal: `a` is not a tensor"))?;
    let (bn, bt, _) = tensor(kernel, pb).ok_or_else(|| fail(dot.span, "internal: `b` is not a tensor"))?;
    let (cn, ct, c_out) =
        tensor(kernel, access.tensor).ok_or_else(|| fail(store.span, "internal: `c` is not a tensor"))?;
    if !c_out || ct.dims.len() != 2 || at.dims.len() != 2 || bt.dims.len() != 2 {
        return Err(fail(
            store.span,
            "native GEMM expects rank-2 a[M, K], b[N, K] and out c[M, N]",
        ));
    }
    let dims = |t: &TensorType| Some((sym(&t.dims[0])?.to_string(), sym(&t.dims[1])?.to_string()));
    let ((m, k), (n, k2), (m2, n2)) = match (dims(at), dims(bt), dims(ct)) {
        (Some(x), Some(y), Some(z)) => (x, y, z),
        _ => {
            return Err(fail(
                dot.span,
                "native GEMM expects symbolic dims a[M, K], b[N, K], c[M, N]",
            ));
        }
    };
    if k != k2 || m != m2 || n != n2 {
        return Err(fail(
            dot.span,
            "native GEMM expects a[M, K], b[N, K], c[M, N] with matching dims",
        ));
    }
    if !matches!(ct.dtype, DType::F32 | DType::BF16 | DType::F16) {
        return Err(fail(store.span, "native GEMM stores f32, bf16 or f16"));
    }
    let global = |name: &str| kernel.attr(&format!("global_scale.{name}")).map(str::to_string);
    Ok(GemmPattern {
        a: an.to_string(),
        b: bn.to_string(),
        c: cn.to_string(),
        a_elem: at.dtype,
        b_elem: bt.dtype,
        a_scale: at.scale.clone(),
        b_scale: bt.scale.clone(),
        out: ct.dtype,
        m,
        n,
        k,
        global_a: global(an),
        global_b: global(bn),
        epilogue_scalars,
        dot_span: dot.span,
    })
}

/// The parts of a [`GemmPattern`] the kernel generators need: which operands carry scale
/// buffers, the output type and whether the NV globals multiply the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmAbi {
    pub scaled_a: bool,
    pub scaled_b: bool,
    pub out: DType,
    /// f32 multipliers of the result passed after `K` (NV globals, then epilogue scalars).
    pub scalars: u8,
}

impl GemmAbi {
    /// Both operands scaled, f32 out, no globals (what the lane-map tests use).
    pub const MX_F32: GemmAbi = GemmAbi {
        scaled_a: true,
        scaled_b: true,
        out: DType::F32,
        scalars: 0,
    };

    pub fn of(p: &GemmPattern) -> GemmAbi {
        let globals = if p.has_globals() { 2 } else { 0 };
        let scalars = u8::try_from(globals + p.epilogue_scalars.len()).unwrap_or(u8::MAX);
        GemmAbi {
            scaled_a: p.a_scale.is_some(),
            scaled_b: p.b_scale.is_some(),
            out: p.out,
            scalars,
        }
    }

    /// The MLIR parameter list matching [`GemmPattern::abi`]: `%a, [%scale_a,] %b, [%scale_b,]
    /// %c : !llvm.ptr<1>, %M, %N, %K : i32[, %s0, %s1 ... : f32]`.
    pub fn params(&self) -> String {
        let mut v = vec!["%a: !llvm.ptr<1>".to_string()];
        if self.scaled_a {
            v.push("%scale_a: !llvm.ptr<1>".into());
        }
        v.push("%b: !llvm.ptr<1>".into());
        if self.scaled_b {
            v.push("%scale_b: !llvm.ptr<1>".into());
        }
        v.extend(["%c: !llvm.ptr<1>", "%M: i32", "%N: i32", "%K: i32"].map(String::from));
        v.extend((0..self.scalars).map(|i| format!("%s{i}: f32")));
        v.join(", ")
    }

    /// Emit the store of the f32 accumulator value `x` at element offset `off` (i32) of `%c`:
    /// times the scalar multipliers (in ABI order, as the interpreter evaluates `acc * (s0 * s1)`),
    /// converted to the output type.
    pub fn emit_store(&self, m: &mut MlirText, x: &str, off: &str) -> Result<(), String> {
        let mut v = x.to_string();
        if self.scalars > 0 {
            let mut g = "%s0".to_string();
            for i in 1..self.scalars {
                let n = m.fresh("g");
                m.line(format!("    {n} = llvm.fmul {g}, %s{i} : f32"));
                g = n;
            }
            let s = m.fresh("scaled");
            m.line(format!("    {s} = llvm.fmul {v}, {g} : f32"));
            v = s;
        }
        let ty = match self.out {
            DType::F32 => "f32",
            DType::BF16 => "bf16",
            DType::F16 => "f16",
            d => return Err(format!("native GEMM cannot store {}", d.name())),
        };
        if ty != "f32" {
            // Round to nearest even, as the interpreter's cast does.
            let t = m.fresh("trunc");
            m.line(format!("    {t} = llvm.fptrunc {v} : f32 to {ty}"));
            v = t;
        }
        let p = m.fresh("cp");
        m.line(format!(
            "    {p} = llvm.getelementptr %c[{off}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, {ty}"
        ));
        let align = if ty == "f32" { 4 } else { 2 };
        m.line(format!(
            "    llvm.store {v}, {p} {{alignment = {align} : i64}} : {ty}, !llvm.ptr<1>"
        ));
        Ok(())
    }
}

/// Padded scale-K of a scale buffer for `K` elements in blocks of `block`, rounded up to the
/// layout atom's `atom_ks` (what tessera-prepack's `padded_dims` gives): computed in the kernel
/// from `K`, so the ABI needs no extra argument.
pub fn ks_pad(block: u32, atom_ks: u32) -> super::Ix {
    (super::Ix::var("K").div(i64::from(block)) + i64::from(atom_ks - 1)).div(i64::from(atom_ks))
        * i64::from(atom_ks)
}
