//! The IR text form round-trips: `parse(print(m)) == m` and `print(parse(print(m))) == print(m)`, on
//! hand-built kernels that use every op, and parse errors are located.

use tessera_ir::samples::{gemm, mx_spec, nv_spec, softmax, tensor};
use tessera_ir::*;

fn roundtrip(m: &Module) {
    let text = print_module(m);
    let back = match parse_module(&text) {
        Ok(b) => b,
        Err(e) => panic!("{e}\n{text}"),
    };
    assert_eq!(&back, m, "parse(print(m)) != m for\n{text}");
    assert_eq!(print_module(&back), text);
}

fn module(kernels: Vec<Kernel>) -> Module {
    Module {
        source_name: "hand \"built\".tsr".into(),
        kernels,
    }
}

#[test]
fn gemm_variants_roundtrip() {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut w = tensor(DType::F4E2M1, &["N", "K"]);
    w.scale = Some(nv_spec(1));
    w.packed_axis = Some(1);
    let k1 = gemm(a, w, DType::BF16, (64, 32, 64), 2);
    let k2 = gemm(
        tensor(DType::BF16, &["M", "K"]),
        tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        0,
    );
    let text = print_module(&module(vec![k1.clone()]));
    assert!(
        text.contains("scale<ue4m3, block = [1, 16], global, layout = linear> packed = 1"),
        "{text}"
    );
    assert!(
        text.contains("attrs { reference = \"gemm\", \"global_scale.b\" = \"b_global\" }"),
        "{text}"
    );
    assert!(text.contains("%acc."), "{text}");
    roundtrip(&module(vec![k1, k2]));
}

#[test]
fn softmax_roundtrips() {
    roundtrip(&module(vec![softmax(4, 64)]));
}

/// A kernel exercising the ops the samples do not: if/select/cmp/gather/bounds/atomics/quantize.
fn odd_ops() -> Kernel {
    let mut b = KernelBuilder::new("odd");
    b.span = Span::new(3, 9);
    let x = b.tensor("x", tensor(DType::F32, &["M", "N"]), false);
    let idx = b.tensor("idx", tensor(DType::I32, &["T"]), false);
    let y = b.tensor("y", tensor(DType::F32, &["M", "N"]), true);
    let g = b.scalar("g", DType::F32);
    b.grid(vec![DimExpr::Max(
        Box::new(DimExpr::Sym("M".into())),
        Box::new(DimExpr::Const(1)),
    )]);
    let z = b.i32(0);
    let lo = b.i32(2);
    let ar = b.op1(
        OpKind::Arange { n: 8 },
        Type::Tile(TileType::plain(DType::I32, vec![8])),
    );
    let rows = b.op1(
        OpKind::Load {
            access: Access {
                tensor: idx,
                index: vec![Index::Range { start: z, size: 8 }],
                bounds: vec![Bound::default()],
            },
            other: 0.0,
        },
        Type::Tile(TileType::plain(DType::I32, vec![8])),
    );
    let t = Type::Tile(TileType::plain(DType::F32, vec![8, 16]));
    let v = b.op1(
        OpKind::Load {
            access: Access {
                tensor: x,
                index: vec![Index::Gather(rows), Index::Range { start: z, size: 16 }],
                bounds: vec![
                    Bound {
                        lo: Some(lo),
                        hi: None,
                    },
                    Bound::default(),
                ],
            },
            other: f64::NEG_INFINITY,
        },
        t.clone(),
    );
    let c = b.op1(
        OpKind::Cmp {
            pred: CmpPred::Lt,
            lhs: ar,
            rhs: ar,
        },
        Type::Tile(TileType::plain(DType::I1, vec![8])),
    );
    let _ = c;
    let pid = b.op1(OpKind::ProgramId { axis: 0 }, Type::Scalar(DType::I32));
    let cond = b.op1(
        OpKind::Cmp {
            pred: CmpPred::Eq,
            lhs: pid,
            rhs: z,
        },
        Type::Scalar(DType::I1),
    );
    b.begin_block(vec![]);
    let e1 = b.op1(OpKind::Unary { op: UnOp::Exp2, x: v }, t.clone());
    b.op(OpKind::Yield { values: vec![e1] }, vec![]);
    let then_block = b.end_block();
    b.begin_block(vec![]);
    b.op(OpKind::Yield { values: vec![v] }, vec![]);
    let else_block = b.end_block();
    let r = b.op1(
        OpKind::If {
            cond,
            then_block,
            else_block,
        },
        t.clone(),
    );
    let q = b.op1(
        OpKind::Quantize {
            x: r,
            elem: DType::F4E2M1,
            spec: nv_spec(1),
            global: Some(g),
        },
        Type::Tile(TileType {
            dtype: DType::F4E2M1,
            shape: vec![8, 16],
            scale: Some(nv_spec(1)),
            layout: TileLayout::Logical,
        }),
    );
    let d = b.op1(
        OpKind::Dequant {
            x: q,
            scale: None,
            to: DType::F32,
        },
        t.clone(),
    );
    b.op(
        OpKind::AtomicAdd {
            access: Access {
                tensor: y,
                index: vec![Index::Gather(rows), Index::Range { start: z, size: 16 }],
                bounds: vec![Bound::default(); 2],
            },
            value: d,
        },
        vec![],
    );
    let nan = b.f32(f64::NAN);
    let _ = nan;
    let m = b.f32(-0.0);
    let _ = b.op1(
        OpKind::Cast {
            x: m,
            to: DType::BF16,
        },
        Type::Scalar(DType::BF16),
    );
    let mut k = b.finish();
    // A dead arena value (defined by no op) must survive the round trip too.
    k.new_value(Type::Scalar(DType::I8), Some("weird name".into()));
    // NaN != NaN, so compare via a NaN-free copy and check the text for NaN separately.
    k
}

#[test]
fn every_op_roundtrips() {
    let k = odd_ops();
    let text = print_module(&module(vec![k.clone()]));
    assert!(text.contains("const_float NaN"), "{text}");
    assert!(text.contains("dead { %\"weird name\"."), "{text}");
    let back = parse_module(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print_module(&back), text);
    // Everything but the NaN constant compares equal structurally.
    assert_eq!(back.kernels[0].values, k.values);
    assert_eq!(back.kernels[0].params, k.params);
    assert_eq!(back.kernels[0].grid, k.grid);
}

#[test]
fn parse_errors_are_located() {
    let text = print_module(&module(vec![softmax(4, 64)]));
    let bad = text.replacen("reduce max", "reduce maxx", 1);
    let e = parse_module(&bad).unwrap_err();
    let line = bad.lines().position(|l| l.contains("reduce maxx")).unwrap() + 1;
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains("unknown reduction `maxx`"), "{e}");
    let e = parse_module("module \"x\"\nkernel @k(a: f33[M] loc(0:1)) loc(0:1)").unwrap_err();
    assert_eq!((e.line, e.col), (2, 14), "{e}");
    assert!(parse_module("module \"x").is_err());
    assert!(parse_module("").is_err());
    let trunc = &text[..text.len() / 2];
    assert!(parse_module(trunc).is_err());
    // Every prefix either parses or errors: never panics.
    for cut in (0..text.len()).step_by(7) {
        if text.is_char_boundary(cut) {
            let _ = parse_module(&text[..cut]);
        }
    }
}

#[test]
fn print_sample_for_docs() {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut w = tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(mx_spec(1));
    let text = print_module(&module(vec![gemm(a, w, DType::BF16, (128, 128, 64), 0)]));
    println!("{text}");
    assert!(text.contains("for %"));
}

#[test]
fn mutated_text_never_panics() {
    let text = print_module(&module(vec![softmax(4, 64), odd_ops()]));
    let bytes = text.as_bytes();
    let alphabet = b"%@.:,()[]{}<>^=+-_ 0123456789azAZ\"\n#";
    let mut s: u64 = 0x1234_5678;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as usize
    };
    for _ in 0..3000 {
        let mut m = bytes.to_vec();
        for _ in 0..1 + next() % 3 {
            let at = next() % m.len();
            match next() % 3 {
                0 => m[at] = alphabet[next() % alphabet.len()],
                1 => {
                    m.remove(at);
                }
                _ => m.insert(at, alphabet[next() % alphabet.len()]),
            }
        }
        if let Ok(t) = std::str::from_utf8(&m) {
            let _ = parse_module(t);
        }
    }
    // A huge value id is an error, not an allocation.
    let big = text.replacen("%1 = program_id", "%4000000000 = program_id", 1);
    assert_ne!(big, text);
    let e = parse_module(&big).unwrap_err();
    assert!(e.message.contains("larger than this text can define"), "{e}");
}

#[test]
fn reference_options_roundtrip() {
    let mut k = gemm(
        tensor(DType::F32, &["M", "K"]),
        tensor(DType::F32, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        0,
    );
    k.attrs.push(("reference.activation".into(), "gelu_tanh".into()));
    k.attrs.push(("reference.causal".into(), "true".into()));
    k.attrs.push(("reference.window".into(), "128".into()));
    let m = module(vec![k]);
    let text = print_module(&m);
    assert!(
        text.contains("\"reference.activation\" = \"gelu_tanh\", \"reference.causal\" = \"true\""),
        "{text}"
    );
    roundtrip(&m);
    assert_eq!(
        reference::options(&m.kernels[0]),
        [("activation", "gelu_tanh"), ("causal", "true"), ("window", "128")]
    );
}
