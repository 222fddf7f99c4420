//! Element-level lowering of the IR's elementwise ops to arith/llvm/nvvm ops on one scalar: used for
//! scalar index math and, per accumulator-fragment element, for the epilogue. Narrow floats are only
//! produced (by a saturating cast) and stored, never computed on.

use crate::LoweringError;
use crate::text::{Body, f32_literal};
use tessera_ir::{BinOp, CmpPred, DType, OpKind, Span, UnOp};

/// The MLIR type holding one element of `d` in registers (FP8 codes are i8).
pub(crate) fn mlir_type(d: DType, span: Span) -> Result<&'static str, LoweringError> {
    Ok(match d {
        DType::I1 => "i1",
        DType::I8 | DType::F8E4M3 | DType::F8E5M2 => "i8",
        DType::I32 => "i32",
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        DType::F32 => "f32",
        other => {
            return Err(LoweringError::unsupported(
                format!("{other} values on sm_90a (not lowered yet)"),
                span,
            ));
        }
    })
}

fn is_plain_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::BF16 | DType::F16)
}

/// A float constant of type `d` (f32 bits, truncated with round-to-nearest-even for bf16/f16).
pub(crate) fn float_const(b: &mut Body, v: f64, d: DType, span: Span) -> Result<String, LoweringError> {
    let c = b.cst(f32_literal(v), "f32");
    match d {
        DType::F32 => Ok(c),
        DType::BF16 | DType::F16 => {
            let ty = mlir_type(d, span)?;
            Ok(b.op("f", format!("arith.truncf {c} : f32 to {ty}")))
        }
        DType::I32 | DType::I8 => Ok(b.cst(v as i64, mlir_type(d, span)?)),
        other => Err(LoweringError::unsupported(
            format!("a constant of type {other}"),
            span,
        )),
    }
}

/// Convert `x` of type `from` to `to` with the IR's cast semantics.
pub(crate) fn cast(
    b: &mut Body,
    x: &str,
    from: DType,
    to: DType,
    span: Span,
) -> Result<String, LoweringError> {
    if from == to {
        return Ok(x.to_string());
    }
    let ft = mlir_type(from, span)?;
    let tt = mlir_type(to, span)?;
    Ok(match (from, to) {
        (f, t) if is_plain_float(f) && is_plain_float(t) => {
            if f.bits() < t.bits()
                || (f == DType::BF16 && t == DType::F16)
                || (f == DType::F16 && t == DType::BF16)
            {
                // bf16 <-> f16 has no direct conversion: go through f32 (exact), then round once.
                let wide = if f == DType::F32 {
                    x.to_string()
                } else {
                    b.op("f", format!("arith.extf {x} : {ft} to f32"))
                };
                if t == DType::F32 {
                    wide
                } else {
                    b.op("f", format!("arith.truncf {wide} : f32 to {tt}"))
                }
            } else {
                b.op("f", format!("arith.truncf {x} : {ft} to {tt}"))
            }
        }
        (f, DType::F8E4M3 | DType::F8E5M2) if is_plain_float(f) => {
            let wide = if f == DType::F32 {
                x.to_string()
            } else {
                b.op("f", format!("arith.extf {x} : {ft} to f32"))
            };
            let fmt = if to == DType::F8E4M3 { "f8E4M3FN" } else { "f8E5M2" };
            // cvt.rn.satfinite.{e4m3,e5m2}x2.f32 converts a pair; both halves get the same value so
            // the low byte is ours whichever half PTX assigns to which operand.
            let pair = b.op(
                "q",
                format!(
                    "nvvm.convert.f32x2.to.f8x2 {wide}, {wide} {{rnd = #nvvm.fp_rnd_mode<rn>, sat = #nvvm.sat_mode<satfinite>}} : i16 ({fmt})"
                ),
            );
            b.op("q", format!("arith.trunci {pair} : i16 to i8"))
        }
        (DType::I1, t) if is_plain_float(t) => b.op("f", format!("arith.uitofp {x} : i1 to {tt}")),
        (f, t) if f.is_int() && is_plain_float(t) => b.op("f", format!("arith.sitofp {x} : {ft} to {tt}")),
        (f, t) if is_plain_float(f) && t.is_int() => b.op("i", format!("arith.fptosi {x} : {ft} to {tt}")),
        (DType::I1, t) if t.is_int() => b.op("i", format!("arith.extui {x} : i1 to {tt}")),
        (f, t) if f.is_int() && t.is_int() => {
            if f.bits() < t.bits() {
                b.op("i", format!("arith.extsi {x} : {ft} to {tt}"))
            } else {
                b.op("i", format!("arith.trunci {x} : {ft} to {tt}"))
            }
        }
        _ => {
            return Err(LoweringError::unsupported(
                format!("cast from {from} to {to} on sm_90a"),
                span,
            ));
        }
    })
}

/// Lower one elementwise op on scalars. `args` are the operands' SSA names and dtypes in
/// `OpKind::operands` order; `out` is the result dtype.
pub(crate) fn elementwise(
    b: &mut Body,
    kind: &OpKind,
    args: &[(String, DType)],
    out: DType,
    span: Span,
) -> Result<String, LoweringError> {
    let arg = |i: usize| -> Result<(String, DType), LoweringError> {
        args.get(i)
            .cloned()
            .ok_or_else(|| LoweringError::unsupported("internal: missing operand", span))
    };
    match kind {
        OpKind::ConstInt { value } => {
            if out == DType::I1 {
                Ok(b.cst(if *value != 0 { "true" } else { "false" }, "i1"))
            } else {
                Ok(b.cst(*value, mlir_type(out, span)?))
            }
        }
        OpKind::ConstFloat { value } | OpKind::Full { value } => {
            if out.is_float() {
                float_const(b, *value, out, span)
            } else if out == DType::I1 {
                Ok(b.cst(if *value != 0.0 { "true" } else { "false" }, "i1"))
            } else {
                Ok(b.cst(*value as i64, mlir_type(out, span)?))
            }
        }
        OpKind::ProgramId { axis } | OpKind::NumPrograms { axis } => {
            let dim = match axis {
                0 => "x",
                1 => "y",
                2 => "z",
                _ => return Err(LoweringError::unsupported(format!("grid axis {axis}"), span)),
            };
            let reg = if matches!(kind, OpKind::ProgramId { .. }) {
                "ctaid"
            } else {
                "nctaid"
            };
            Ok(b.op("pid", format!("nvvm.read.ptx.sreg.{reg}.{dim} : i32")))
        }
        OpKind::Cast { to, .. } => {
            let (x, from) = arg(0)?;
            cast(b, &x, from, *to, span)
        }
        OpKind::Select { .. } => {
            let (c, _) = arg(0)?;
            let (x, _) = arg(1)?;
            let (y, _) = arg(2)?;
            let ty = mlir_type(out, span)?;
            Ok(b.op("s", format!("arith.select {c}, {x}, {y} : {ty}")))
        }
        OpKind::Binary { op, .. } => {
            let (x, d) = arg(0)?;
            let (y, _) = arg(1)?;
            let ty = mlir_type(d, span)?;
            let name = if is_plain_float(d) {
                match op {
                    BinOp::Add => "addf",
                    BinOp::Sub => "subf",
                    BinOp::Mul => "mulf",
                    BinOp::Div => "divf",
                    BinOp::Rem => "remf",
                    BinOp::Max => "maximumf",
                    BinOp::Min => "minimumf",
                    BinOp::And | BinOp::Or => {
                        return Err(LoweringError::unsupported("logical op on floats", span));
                    }
                }
            } else {
                match op {
                    BinOp::Add => "addi",
                    BinOp::Sub => "subi",
                    BinOp::Mul => "muli",
                    BinOp::Div => "divsi",
                    BinOp::Rem => "remsi",
                    BinOp::Max => "maxsi",
                    BinOp::Min => "minsi",
                    BinOp::And => "andi",
                    BinOp::Or => "ori",
                }
            };
            Ok(b.op("v", format!("arith.{name} {x}, {y} : {ty}")))
        }
        OpKind::Cmp { pred, .. } => {
            let (x, d) = arg(0)?;
            let (y, _) = arg(1)?;
            let ty = mlir_type(d, span)?;
            if is_plain_float(d) {
                let p = match pred {
                    CmpPred::Lt => "olt",
                    CmpPred::Le => "ole",
                    CmpPred::Gt => "ogt",
                    CmpPred::Ge => "oge",
                    CmpPred::Eq => "oeq",
                    CmpPred::Ne => "une",
                };
                Ok(b.op("p", format!("arith.cmpf {p}, {x}, {y} : {ty}")))
            } else {
                let p = match pred {
                    CmpPred::Lt => "slt",
                    CmpPred::Le => "sle",
                    CmpPred::Gt => "sgt",
                    CmpPred::Ge => "sge",
                    CmpPred::Eq => "eq",
                    CmpPred::Ne => "ne",
                };
                Ok(b.op("p", format!("arith.cmpi {p}, {x}, {y} : {ty}")))
            }
        }
        OpKind::Unary { op, .. } => unary(b, *op, arg(0)?, span),
        other => Err(LoweringError::unsupported(
            format!("`{}` as an elementwise op", other.mnemonic()),
            span,
        )),
    }
}

/// `ex2.approx.f32` and `lg2.approx.f32` (no flush-to-zero).
const EX2: &str = "llvm.call_intrinsic \"llvm.nvvm.ex2.approx.f32\"";
const LG2: &str = "llvm.call_intrinsic \"llvm.nvvm.lg2.approx.f\"";

fn unary(b: &mut Body, op: UnOp, (x, d): (String, DType), span: Span) -> Result<String, LoweringError> {
    let ty = mlir_type(d, span)?;
    if !is_plain_float(d) {
        return match op {
            UnOp::Neg => {
                let z = b.cst(0, ty);
                Ok(b.op("v", format!("arith.subi {z}, {x} : {ty}")))
            }
            UnOp::Abs => {
                let z = b.cst(0, ty);
                let n = b.op("v", format!("arith.subi {z}, {x} : {ty}"));
                Ok(b.op("v", format!("arith.maxsi {x}, {n} : {ty}")))
            }
            UnOp::Not if d == DType::I1 => {
                let t = b.cst("true", "i1");
                Ok(b.op("v", format!("arith.xori {x}, {t} : i1")))
            }
            _ => Err(LoweringError::unsupported(format!("unary {op:?} on {d}"), span)),
        };
    }
    if op == UnOp::Neg {
        return Ok(b.op("v", format!("arith.negf {x} : {ty}")));
    }
    // Transcendentals are computed in f32 with the PTX approximations (ex2.approx / lg2.approx:
    // llvm.exp2/llvm.log2 have no NVPTX lowering and would end codegen), then rounded back.
    let w = cast(b, &x, d, DType::F32, span)?;
    let r = match op {
        UnOp::Abs => b.op("v", format!("llvm.intr.fabs({w}) : (f32) -> f32")),
        UnOp::Sqrt => b.op("v", format!("llvm.intr.sqrt({w}) : (f32) -> f32")),
        UnOp::Rsqrt => {
            let s = b.op("v", format!("llvm.intr.sqrt({w}) : (f32) -> f32"));
            let one = b.cst(f32_literal(1.0), "f32");
            b.op("v", format!("arith.divf {one}, {s} : f32"))
        }
        UnOp::Exp2 => b.op("v", format!("{EX2}({w}) : (f32) -> f32")),
        UnOp::Exp => {
            let l2e = b.cst(f32_literal(std::f64::consts::LOG2_E), "f32");
            let s = b.op("v", format!("arith.mulf {w}, {l2e} : f32"));
            b.op("v", format!("{EX2}({s}) : (f32) -> f32"))
        }
        UnOp::Log2 => b.op("v", format!("{LG2}({w}) : (f32) -> f32")),
        UnOp::Log => {
            let l = b.op("v", format!("{LG2}({w}) : (f32) -> f32"));
            let ln2 = b.cst(f32_literal(std::f64::consts::LN_2), "f32");
            b.op("v", format!("arith.mulf {l}, {ln2} : f32"))
        }
        UnOp::Neg | UnOp::Not => {
            return Err(LoweringError::unsupported(format!("unary {op:?} on {d}"), span));
        }
    };
    cast(b, &r, DType::F32, d, span)
}
