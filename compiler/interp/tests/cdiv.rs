//! `cdiv(a, b)` is `ceil(a / b)` for every sign of `a` and `b`, whether the divisor is a constant,
//! a negative constant or a runtime tile, and when both operands are constants (folded by the
//! checker); the grid's `cdiv` and `/` (`DimExpr`) are the ceiling and the floor for every sign too.

use tessera_interp::{ProgramSet, run};
use tessera_ir::{DimExpr, ceil_div, floor_div};
use tessera_numerics::{ArgValue, Bindings, TensorArg, decode_buf_f64, encode_buf, poison_buf};

/// The exact quotient rounded, in f64 (every value here is small, so the division is exact enough).
fn ceil(a: i64, b: i64) -> i64 {
    (a as f64 / b as f64).ceil() as i64
}

const SRC: &str =
    "kernel cd(a: i32[N], d: i32[N], y2: out i32[N], yn3: out i32[N], yd: out i32[N], yc: out i32[N])
    tiles(B = 8) grid(cdiv(N, B))
{
    let i0 = program_id(0) * B;
    let x = load(a[i0 .. +B]);
    store(y2[i0 .. +B], cdiv(x, 2));
    store(yn3[i0 .. +B], cdiv(x, -3));
    store(yd[i0 .. +B], cdiv(x, load(d[i0 .. +B])));
    store(yc[i0 .. +B], x * 0 + cdiv(-7, 2) * 100 + cdiv(7, -2) * 10 + cdiv(-6, -4));
}
";

#[test]
fn tile_cdiv_is_the_ceiling_for_every_sign() {
    let (m, d) = tessera_check::check_source("cd.tsr", SRC.as_bytes());
    assert!(d.is_empty(), "{d:?}");
    let k = &m.expect("module").kernels[0];
    // Every numerator in -9..=9 against every nonzero divisor in -4..=4.
    let pairs: Vec<(i64, i64)> = (-9..=9)
        .flat_map(|a| (-4..=4).filter(|b| *b != 0).map(move |b| (a, b)))
        .collect();
    let n = pairs.len();
    let ints = |v: Vec<f32>| {
        ArgValue::Tensor(TensorArg {
            data: encode_buf(tessera_ir::DType::I32, &[n], None, &v).expect("encode"),
            scale: None,
            global_scale: None,
        })
    };
    let out = || {
        ArgValue::Tensor(TensorArg {
            data: poison_buf(tessera_ir::DType::I32, &[n], None),
            scale: None,
            global_scale: None,
        })
    };
    let mut b = Bindings {
        args: vec![
            ints(pairs.iter().map(|p| p.0 as f32).collect()),
            ints(pairs.iter().map(|p| p.1 as f32).collect()),
            out(),
            out(),
            out(),
            out(),
        ],
        syms: vec![],
    };
    run(k, &mut b, ProgramSet::All).expect("run");
    let got = |i: usize| match &b.args[i] {
        ArgValue::Tensor(t) => decode_buf_f64(&t.data).expect("decode"),
        ArgValue::Scalar(_) => panic!("tensor"),
    };
    let (y2, yn3, yd, yc) = (got(2), got(3), got(4), got(5));
    for (i, &(a, d)) in pairs.iter().enumerate() {
        assert_eq!(y2[i] as i64, ceil(a, 2), "cdiv({a}, 2)");
        assert_eq!(yn3[i] as i64, ceil(a, -3), "cdiv({a}, -3)");
        assert_eq!(yd[i] as i64, ceil(a, d), "cdiv({a}, {d}) with a runtime divisor");
    }
    // Folded constants: cdiv(-7, 2) = -3, cdiv(7, -2) = -3, cdiv(-6, -4) = 2.
    let folded = ceil(-7, 2) * 100 + ceil(7, -2) * 10 + ceil(-6, -4);
    assert_eq!(folded, -328);
    assert!(yc.iter().all(|v| *v as i64 == folded), "{yc:?}");
}

#[test]
fn grid_division_rounds_the_right_way_for_every_sign() {
    for a in -9..=9i64 {
        for b in (-4..=4i64).filter(|b| *b != 0) {
            let exact = a as f64 / b as f64;
            assert_eq!(ceil_div(a, b), Some(exact.ceil() as i64), "cdiv({a}, {b})");
            assert_eq!(floor_div(a, b), Some(exact.floor() as i64), "floordiv({a}, {b})");
            let e = |f: fn(Box<DimExpr>, Box<DimExpr>) -> DimExpr| {
                f(Box::new(DimExpr::Sym("A".into())), Box::new(DimExpr::Const(b))).eval(&|_| Some(a))
            };
            assert_eq!(e(DimExpr::CeilDiv), ceil_div(a, b));
            assert_eq!(e(DimExpr::FloorDiv), floor_div(a, b));
        }
    }
    // A zero divisor and the one overflowing quotient are refused, not a panic.
    assert_eq!(ceil_div(5, 0), None);
    assert_eq!(floor_div(i64::MIN, -1), None);
    // Near the top of the range `(a + b - 1) / b` would overflow; the ceiling does not.
    assert_eq!(ceil_div(i64::MAX, 2), Some(i64::MAX / 2 + 1));
}
