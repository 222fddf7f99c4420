//! Exact semantics of individual ops on hand-built single-program kernels: narrowing casts round
//! to nearest even and saturate, integers wrap and fault on division by zero, masked loads of code
//! tensors refuse a non-zero `other`, atomics accumulate deterministically.

use tessera_interp::{ProgramSet, run};
use tessera_ir::samples::tensor;
use tessera_ir::*;
use tessera_numerics::{ArgValue, Bindings, TensorArg, TensorBuf, decode_buf_f64, encode_buf};

fn f32_buf(v: &[f32]) -> TensorArg {
    TensorArg {
        data: encode_buf(DType::F32, &[v.len()], None, v).unwrap(),
        scale: None,
        global_scale: None,
    }
}

fn range(b: &mut KernelBuilder, p: ParamId, n: u32) -> Access {
    let z = b.i32(0);
    Access {
        tensor: p,
        index: vec![Index::Range { start: z, size: n }],
        bounds: vec![Bound::default()],
    }
}

fn tile(d: DType, n: u32) -> Type {
    Type::Tile(TileType::plain(d, vec![n]))
}

/// y = cast<f32>(cast<to>(x)) for 1-d x of length n.
fn cast_kernel(to: DType, n: u32) -> Kernel {
    let mut b = KernelBuilder::new("cast");
    let x = b.tensor("x", tensor(DType::F32, &["N"]), false);
    let y = b.tensor("y", tensor(DType::F32, &["N"]), true);
    b.grid(vec![DimExpr::Const(1)]);
    let acc = range(&mut b, x, n);
    let v = b.op1(
        OpKind::Load {
            access: acc,
            other: 0.0,
        },
        tile(DType::F32, n),
    );
    let c = b.op1(OpKind::Cast { x: v, to }, tile(to, n));
    let back = b.op1(OpKind::Cast { x: c, to: DType::F32 }, tile(DType::F32, n));
    let acc = range(&mut b, y, n);
    b.op(
        OpKind::Store {
            access: acc,
            value: back,
        },
        vec![],
    );
    b.finish()
}

fn run_1d(k: &Kernel, x: &[f32]) -> Result<Vec<f64>, tessera_interp::InterpError> {
    let mut b = Bindings {
        args: vec![
            ArgValue::Tensor(f32_buf(x)),
            ArgValue::Tensor(f32_buf(&vec![0.0; x.len()])),
        ],
        syms: vec![],
    };
    run(k, &mut b, ProgramSet::All)?;
    let ArgValue::Tensor(t) = &b.args[1] else {
        unreachable!("tensor")
    };
    Ok(decode_buf_f64(&t.data).unwrap())
}

#[test]
fn narrowing_casts_round_to_nearest_even_and_saturate() {
    let x = [500.0, -1e9, f32::INFINITY, 0.3, 17.0, 18.0, 19.0, 2.5];
    let got = run_1d(&cast_kernel(DType::F8E4M3, 8), &x).unwrap();
    // e4m3: max 448; 17 is a tie between 16 and 18 -> 16 (even mantissa); 19 -> 20 (tie, even).
    assert_eq!(got, vec![448.0, -448.0, 448.0, 0.3125, 16.0, 18.0, 20.0, 2.5]);
    let got = run_1d(&cast_kernel(DType::F4E2M1, 8), &x).unwrap();
    assert_eq!(got, vec![6.0, -6.0, 6.0, 0.5, 6.0, 6.0, 6.0, 2.0]);
    let got = run_1d(
        &cast_kernel(DType::I32, 8),
        &[2.9, -2.9, 1e20, f32::NAN, 0.0, 1.0, -0.5, 7.5],
    )
    .unwrap();
    // i32::MAX comes back through the f32 cast as 2^31.
    assert_eq!(
        got,
        vec![2.0, -2.0, i32::MAX as f32 as f64, 0.0, 0.0, 1.0, 0.0, 7.0]
    );
}

#[test]
fn integer_division_by_zero_is_a_coded_runtime_error() {
    let mut b = KernelBuilder::new("div0");
    b.grid(vec![DimExpr::Const(1)]);
    let one = b.i32(1);
    let zero = b.i32(0);
    b.bin(BinOp::Div, one, zero);
    let k = b.finish();
    let e = run(&k, &mut Bindings::default(), ProgramSet::All).unwrap_err();
    assert_eq!(e.code(), "E0608", "{e}");
}

#[test]
fn masked_code_loads_refuse_nonzero_other() {
    let mut b = KernelBuilder::new("other");
    let x = b.tensor("x", tensor(DType::F8E4M3, &["N"]), false);
    b.grid(vec![DimExpr::Const(1)]);
    let acc = range(&mut b, x, 8);
    b.op1(
        OpKind::Load {
            access: acc,
            other: f64::NEG_INFINITY,
        },
        tile(DType::F8E4M3, 8),
    );
    let k = b.finish();
    let data = TensorBuf {
        dtype: DType::F8E4M3,
        shape: vec![4],
        packed_axis: None,
        bytes: vec![0x38; 4],
    };
    let mut bind = Bindings {
        args: vec![ArgValue::Tensor(TensorArg {
            data,
            scale: None,
            global_scale: None,
        })],
        syms: vec![],
    };
    let e = run(&k, &mut bind, ProgramSet::All).unwrap_err();
    assert!(
        matches!(e, tessera_interp::InterpError::Unsupported { op: "load", .. }),
        "{e}"
    );
}

#[test]
fn atomics_accumulate_in_program_order() {
    // 64 programs each add 0.1 * (pid + 1) into the same 4 elements: the result is the same on
    // every run, and equals the sequential sum in program order.
    let mut b = KernelBuilder::new("atomic");
    let y = b.tensor("y", tensor(DType::F32, &["N"]), true);
    b.grid(vec![DimExpr::Const(64)]);
    let pid = b.op1(OpKind::ProgramId { axis: 0 }, Type::Scalar(DType::I32));
    let one = b.i32(1);
    let p1 = b.bin(BinOp::Add, pid, one);
    let pf = b.op1(
        OpKind::Cast {
            x: p1,
            to: DType::F32,
        },
        Type::Scalar(DType::F32),
    );
    let tenth = b.f32(0.1);
    let v = b.bin(BinOp::Mul, pf, tenth);
    let vt = b.op1(OpKind::Broadcast { x: v }, tile(DType::F32, 4));
    let acc = range(&mut b, y, 4);
    b.op(
        OpKind::AtomicAdd {
            access: acc,
            value: vt,
        },
        vec![],
    );
    let k = b.finish();
    let mut want = 0f32;
    for p in 1..=64 {
        want += (p as f32) * 0.1f32;
    }
    for _ in 0..3 {
        let mut bind = Bindings {
            args: vec![ArgValue::Tensor(f32_buf(&[0.0; 4]))],
            syms: vec![],
        };
        run(&k, &mut bind, ProgramSet::All).unwrap();
        let ArgValue::Tensor(t) = &bind.args[0] else {
            unreachable!("tensor")
        };
        assert_eq!(decode_buf_f64(&t.data).unwrap(), vec![want as f64; 4]);
    }
}

/// `n` programs each `atomic_add` 1.0 into the same 4 elements of a `dtype` tensor.
fn narrow_atomic_sum(dtype: DType, n: u32) -> Vec<f64> {
    let mut b = KernelBuilder::new("atomic_narrow");
    let y = b.tensor("y", tensor(dtype, &["N"]), true);
    b.grid(vec![DimExpr::Const(i64::from(n))]);
    let one = b.f32(1.0);
    let v = b.op1(OpKind::Cast { x: one, to: dtype }, Type::Scalar(dtype));
    let vt = b.op1(OpKind::Broadcast { x: v }, tile(dtype, 4));
    let acc = range(&mut b, y, 4);
    b.op(
        OpKind::AtomicAdd {
            access: acc,
            value: vt,
        },
        vec![],
    );
    let k = b.finish();
    tessera_ir::verify_kernel(&k).expect("atomic_add into bf16/f16 verifies");
    let mut bind = Bindings {
        args: vec![ArgValue::Tensor(TensorArg {
            data: encode_buf(dtype, &[4], None, &[0.0; 4]).unwrap(),
            scale: None,
            global_scale: None,
        })],
        syms: vec![],
    };
    run(&k, &mut bind, ProgramSet::All).unwrap();
    let ArgValue::Tensor(t) = &bind.args[0] else {
        unreachable!("tensor")
    };
    decode_buf_f64(&t.data).unwrap()
}

#[test]
fn bf16_and_f16_atomics_round_after_every_add() {
    // Sequential adds in program order, rounded to the tensor's type after each: bf16 has 8
    // significant bits, so from 256 on adding 1.0 rounds back to 256 (257 is a tie, to even); f16
    // (11 bits) stalls at 2048. An f32 sum rounded once would give 300 and 3000.
    assert_eq!(narrow_atomic_sum(DType::BF16, 300), vec![256.0; 4]);
    assert_eq!(narrow_atomic_sum(DType::F16, 3000), vec![2048.0; 4]);
    assert_eq!(narrow_atomic_sum(DType::BF16, 100), vec![100.0; 4]);
}
