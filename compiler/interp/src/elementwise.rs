//! Elementwise and shape ops on tiles: binary/unary math, comparisons, select, casts, broadcast,
//! expand_dims, transpose and reductions. Float math runs in f32 and the result is rounded to the
//! value's dtype (bf16/f16 results are rounded once per op, as a GPU computing in f32 and storing
//! the narrow type would); integer math wraps to the dtype's width.

use crate::tensor::round_to;
use crate::value::{Data, Scales, Tile, for_each_index, strides, wrap_int};
use tessera_ir::{BinOp, CmpPred, DType, ReduceKind, UnOp};

/// Why an elementwise op cannot run (the caller turns it into a coded, located error).
pub(crate) enum Fault {
    /// Integer division or remainder by zero.
    DivZero,
    /// A combination the interpreter does not implement.
    Unsupported(String),
}

fn round_all(dtype: DType, mut v: Vec<f32>) -> Vec<f32> {
    if dtype != DType::F32 {
        for x in &mut v {
            *x = round_to(dtype, *x);
        }
    }
    v
}

pub(crate) fn binary(op: BinOp, a: &Tile, b: &Tile) -> Result<Tile, Fault> {
    let dtype = a.dtype;
    let data = match (&a.data, &b.data) {
        (Data::F(x), Data::F(y)) => {
            let f: fn(f32, f32) -> f32 = match op {
                BinOp::Add => |a, b| a + b,
                BinOp::Sub => |a, b| a - b,
                BinOp::Mul => |a, b| a * b,
                BinOp::Div => |a, b| a / b,
                BinOp::Rem => |a, b| a % b,
                BinOp::Max => f32::max,
                BinOp::Min => f32::min,
                BinOp::And | BinOp::Or => {
                    return Err(Fault::Unsupported(format!("logical {op:?} on floats")));
                }
            };
            Data::F(round_all(
                dtype,
                x.iter().zip(y).map(|(a, b)| f(*a, *b)).collect(),
            ))
        }
        (Data::I(x), Data::I(y)) => {
            let mut out = Vec::with_capacity(x.len());
            for (&a, &b) in x.iter().zip(y) {
                let r = match op {
                    BinOp::Add => a.wrapping_add(b),
                    BinOp::Sub => a.wrapping_sub(b),
                    BinOp::Mul => a.wrapping_mul(b),
                    // Truncating division and remainder, as C, PTX `div.s32` and LLVM `sdiv`.
                    BinOp::Div | BinOp::Rem if b == 0 => return Err(Fault::DivZero),
                    BinOp::Div => a.wrapping_div(b),
                    BinOp::Rem => a.wrapping_rem(b),
                    BinOp::Max => a.max(b),
                    BinOp::Min => a.min(b),
                    BinOp::And => ((a != 0) && (b != 0)) as i64,
                    BinOp::Or => ((a != 0) || (b != 0)) as i64,
                };
                out.push(wrap_int(dtype, r));
            }
            Data::I(out)
        }
        _ => {
            return Err(Fault::Unsupported(
                "operands of different kinds (int and float)".into(),
            ));
        }
    };
    Ok(Tile {
        dtype,
        shape: a.shape.clone(),
        data,
        scale: None,
    })
}

pub(crate) fn unary(op: UnOp, a: &Tile) -> Result<Tile, Fault> {
    let dtype = a.dtype;
    let data = match &a.data {
        Data::F(x) => {
            let f: fn(f32) -> f32 = match op {
                UnOp::Neg => |a| -a,
                UnOp::Abs => f32::abs,
                UnOp::Exp => f32::exp,
                UnOp::Exp2 => f32::exp2,
                UnOp::Log => f32::ln,
                UnOp::Log2 => f32::log2,
                UnOp::Sqrt => f32::sqrt,
                UnOp::Rsqrt => |a| 1.0 / a.sqrt(),
                UnOp::Not => return Err(Fault::Unsupported("`not` on floats".into())),
            };
            Data::F(round_all(dtype, x.iter().map(|a| f(*a)).collect()))
        }
        Data::I(x) => {
            let f: fn(i64) -> i64 = match op {
                UnOp::Neg => |a| a.wrapping_neg(),
                UnOp::Abs => |a| a.wrapping_abs(),
                UnOp::Not => |a| (a == 0) as i64,
                _ => return Err(Fault::Unsupported(format!("`{op:?}` on integers"))),
            };
            Data::I(x.iter().map(|a| wrap_int(dtype, f(*a))).collect())
        }
    };
    Ok(Tile {
        dtype,
        shape: a.shape.clone(),
        data,
        scale: None,
    })
}

pub(crate) fn cmp(pred: CmpPred, a: &Tile, b: &Tile) -> Result<Tile, Fault> {
    fn go<T: PartialOrd>(pred: CmpPred, x: &[T], y: &[T]) -> Vec<i64> {
        x.iter()
            .zip(y)
            .map(|(a, b)| {
                (match pred {
                    CmpPred::Lt => a < b,
                    CmpPred::Le => a <= b,
                    CmpPred::Gt => a > b,
                    CmpPred::Ge => a >= b,
                    CmpPred::Eq => a == b,
                    CmpPred::Ne => a != b,
                }) as i64
            })
            .collect()
    }
    let v = match (&a.data, &b.data) {
        (Data::F(x), Data::F(y)) => go(pred, x, y),
        (Data::I(x), Data::I(y)) => go(pred, x, y),
        _ => return Err(Fault::Unsupported("comparison of an int with a float".into())),
    };
    Ok(Tile::ints(DType::I1, a.shape.clone(), v))
}

pub(crate) fn select(c: &Tile, a: &Tile, b: &Tile) -> Result<Tile, Fault> {
    let Data::I(c) = &c.data else {
        return Err(Fault::Unsupported("non-boolean condition".into()));
    };
    let data = match (&a.data, &b.data) {
        (Data::F(x), Data::F(y)) => Data::F(
            c.iter()
                .zip(x.iter().zip(y))
                .map(|(c, (x, y))| if *c != 0 { *x } else { *y })
                .collect(),
        ),
        (Data::I(x), Data::I(y)) => Data::I(
            c.iter()
                .zip(x.iter().zip(y))
                .map(|(c, (x, y))| if *c != 0 { *x } else { *y })
                .collect(),
        ),
        _ => return Err(Fault::Unsupported("select between an int and a float".into())),
    };
    Ok(Tile {
        dtype: a.dtype,
        shape: a.shape.clone(),
        data,
        scale: None,
    })
}

/// Value conversion: floats round to nearest even (narrow types saturate, through
/// `tessera-formats`); float → int truncates toward zero and saturates (NaN → 0); int → int wraps.
pub(crate) fn cast(x: &Tile, to: DType) -> Tile {
    let data = match (&x.data, to.is_float()) {
        (Data::F(v), true) => Data::F(round_all(to, v.clone())),
        (Data::I(v), true) => Data::F(round_all(to, v.iter().map(|i| *i as f32).collect())),
        (Data::F(v), false) => Data::I(
            v.iter()
                .map(|f| match to {
                    DType::I8 => *f as i8 as i64,
                    DType::I1 => (*f != 0.0) as i64,
                    _ => *f as i32 as i64,
                })
                .collect(),
        ),
        (Data::I(v), false) => Data::I(v.iter().map(|i| wrap_int(to, *i)).collect()),
    };
    Tile {
        dtype: to,
        shape: x.shape.clone(),
        data,
        scale: None,
    }
}

/// Gather `src` (shape `from`) into `to`-shaped output by mapping each output index to a source
/// index with `map(out_multi_index) -> src_flat`.
fn remap<T: Copy>(src: &[T], to: &[usize], map: &dyn Fn(&[usize]) -> usize) -> Vec<T> {
    let mut out = Vec::with_capacity(to.iter().product());
    for_each_index(to, |_, idx| out.push(src[map(idx)]));
    out
}

fn remap_data(d: &Data, to: &[usize], map: &dyn Fn(&[usize]) -> usize) -> Data {
    match d {
        Data::F(v) => Data::F(remap(v, to, map)),
        Data::I(v) => Data::I(remap(v, to, map)),
    }
}

/// Scalar → tile, or size-1 dims expanded (same rank).
pub(crate) fn broadcast(x: &Tile, to: &[usize]) -> Tile {
    let data = if x.shape.is_empty() || x.numel() == 1 {
        remap_data(&x.data, to, &|_| 0)
    } else {
        let st = strides(&x.shape);
        let xs = x.shape.clone();
        remap_data(&x.data, to, &move |i: &[usize]| {
            i.iter()
                .zip(&xs)
                .zip(&st)
                .map(|((i, n), s)| if *n == 1 { 0 } else { i * s })
                .sum()
        })
    };
    Tile {
        dtype: x.dtype,
        shape: to.to_vec(),
        data,
        scale: None,
    }
}

pub(crate) fn expand_dims(x: &Tile, axis: usize) -> Tile {
    let mut t = x.clone();
    t.shape.insert(axis.min(t.shape.len()), 1);
    t
}

/// Rank-2 transpose; a scaled tile transposes its scales (and their block) with it.
pub(crate) fn transpose(x: &Tile) -> Tile {
    let (r, c) = (x.shape[0], x.shape[1]);
    let to = [c, r];
    let data = remap_data(&x.data, &to, &|i: &[usize]| i[1] * c + i[0]);
    let scale = x.scale.as_ref().map(|s| {
        let (sr, sc) = (s.shape[0], s.shape[1]);
        Scales {
            block: vec![s.block[1], s.block[0]],
            shape: vec![sc, sr],
            v: remap(&s.v, &[sc, sr], &|i: &[usize]| i[1] * sc + i[0]),
            global: s.global,
            whole: vec![s.whole[1], s.whole[0]],
        }
    });
    Tile {
        dtype: x.dtype,
        shape: to.to_vec(),
        data,
        scale,
    }
}

/// Reduce along `axis`: sums accumulate in f32 in ascending index order, then round to the
/// dtype; max/min ignore NaN like `fmaxf`/`fminf`.
pub(crate) fn reduce(kind: ReduceKind, x: &Tile, axis: usize) -> Tile {
    let outer: usize = x.shape[..axis].iter().product();
    let n = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let mut shape = x.shape.clone();
    shape.remove(axis);
    let data = match &x.data {
        Data::F(v) => {
            let mut out = Vec::with_capacity(outer * inner);
            for o in 0..outer {
                for i in 0..inner {
                    let mut acc = match kind {
                        ReduceKind::Sum => 0.0f32,
                        ReduceKind::Max => f32::NEG_INFINITY,
                        ReduceKind::Min => f32::INFINITY,
                    };
                    for j in 0..n {
                        let e = v[(o * n + j) * inner + i];
                        acc = match kind {
                            ReduceKind::Sum => acc + e,
                            ReduceKind::Max => acc.max(e),
                            ReduceKind::Min => acc.min(e),
                        };
                    }
                    out.push(acc);
                }
            }
            Data::F(round_all(x.dtype, out))
        }
        Data::I(v) => {
            let mut out = Vec::with_capacity(outer * inner);
            for o in 0..outer {
                for i in 0..inner {
                    let mut acc = match kind {
                        ReduceKind::Sum => 0i64,
                        ReduceKind::Max => i64::MIN,
                        ReduceKind::Min => i64::MAX,
                    };
                    for j in 0..n {
                        let e = v[(o * n + j) * inner + i];
                        acc = match kind {
                            ReduceKind::Sum => wrap_int(x.dtype, acc.wrapping_add(e)),
                            ReduceKind::Max => acc.max(e),
                            ReduceKind::Min => acc.min(e),
                        };
                    }
                    out.push(acc);
                }
            }
            Data::I(out)
        }
    };
    Tile {
        dtype: x.dtype,
        shape,
        data,
        scale: None,
    }
}
