//! Launch planning: grid evaluation and ABI slot resolution against bindings (pure functions).

use tessera_bundle::{
    AbiArg, BUNDLE_FORMAT_VERSION, BundleMeta, DeviceMemory, LaunchPlan, SlotValue, TensorPart, TmaSpec,
    Uploads, grid, resolve_abi, stats,
};
use tessera_ir::{DType, DimExpr};
use tessera_numerics::{ArgValue, Bindings, TensorArg, TensorBuf};

fn meta(abi: Vec<AbiArg>) -> BundleMeta {
    let cdiv =
        |s: &str, b: i64| DimExpr::CeilDiv(Box::new(DimExpr::Sym(s.into())), Box::new(DimExpr::Const(b)));
    BundleMeta {
        format_version: BUNDLE_FORMAT_VERSION,
        kernel: "k".into(),
        entry: "k".into(),
        target: "sm_90a".into(),
        source_file: "k.tsr".into(),
        source_sha256: String::new(),
        tiles: vec![],
        grid: vec![cdiv("M", 128), cdiv("N", 64)],
        block: [128, 1, 1],
        dynamic_shared_bytes: 0,
        abi,
        ptx: None,
        cubin: None,
        hsaco: None,
        tile_ir: "kernel.tir".into(),
        index_bits: 64,
    }
}

fn buf(dtype: DType, shape: &[usize]) -> TensorBuf {
    TensorBuf {
        dtype,
        shape: shape.to_vec(),
        packed_axis: None,
        bytes: vec![0; TensorBuf::expected_bytes(dtype, shape, None)],
    }
}

fn bindings() -> Bindings {
    Bindings {
        args: vec![
            ArgValue::Tensor(TensorArg {
                data: buf(DType::F8E4M3, &[100, 320]),
                scale: Some(buf(DType::E8M0, &[100, 10])),
                global_scale: Some(0.5),
            }),
            ArgValue::Scalar(1.5),
            ArgValue::Scalar(7.0),
            ArgValue::Tensor(TensorArg {
                data: buf(DType::BF16, &[100, 704]),
                scale: None,
                global_scale: None,
            }),
        ],
        syms: vec![("M".into(), 100), ("N".into(), 704), ("K".into(), 320)],
    }
}

const NAMES: [&str; 4] = ["a", "alpha", "count", "c"];

#[test]
fn grid_is_evaluated_over_bound_syms_with_unit_padding() {
    let m = meta(vec![]);
    assert_eq!(grid(&m, &bindings().syms).unwrap(), [1, 11, 1]);
    let syms = vec![("M".to_string(), 1000), ("N".to_string(), 1000)];
    assert_eq!(grid(&m, &syms).unwrap(), [8, 16, 1]);
    let e = grid(&m, &[("M".into(), 10)]).unwrap_err();
    assert!(e.to_string().contains("unbound"), "{e}");
    let e = grid(&m, &[("M".into(), 0), ("N".into(), 5)]).unwrap_err();
    assert!(e.to_string().contains("evaluates to 0"), "{e}");
}

#[test]
fn every_slot_kind_resolves_in_abi_order() {
    let tma = TmaSpec {
        elem: "u8".into(),
        box_dims: vec![128, 64],
        swizzle: 128,
    };
    let m = meta(vec![
        AbiArg::TensorMap {
            param: "a".into(),
            part: TensorPart::Data,
            tma: tma.clone(),
            or_null: false,
        },
        AbiArg::Ptr {
            param: "a".into(),
            part: TensorPart::Scale,
        },
        AbiArg::GlobalScaleF32 { param: "a".into() },
        AbiArg::Ptr {
            param: "c".into(),
            part: TensorPart::Data,
        },
        AbiArg::SymI32 { sym: "K".into() },
        AbiArg::ScalarF32 {
            param: "alpha".into(),
        },
        AbiArg::ScalarI32 {
            param: "count".into(),
        },
    ]);
    let slots = resolve_abi(&m, &NAMES, &bindings()).unwrap();
    assert_eq!(
        slots,
        vec![
            SlotValue::TensorMap {
                param: 0,
                part: TensorPart::Data,
                tma,
                or_null: false,
            },
            SlotValue::Buffer {
                param: 0,
                part: TensorPart::Scale
            },
            SlotValue::F32(0.5),
            SlotValue::Buffer {
                param: 3,
                part: TensorPart::Data
            },
            SlotValue::I32(320),
            SlotValue::F32(1.5),
            SlotValue::I32(7),
        ]
    );
}

#[test]
fn slot_errors_name_the_problem() {
    let check = |abi: AbiArg, b: Bindings, want: &str| {
        let e = resolve_abi(&meta(vec![abi]), &NAMES, &b).unwrap_err().to_string();
        assert!(e.contains(want), "{e} lacks {want}");
    };
    check(
        AbiArg::Ptr {
            param: "zz".into(),
            part: TensorPart::Data,
        },
        bindings(),
        "does not have",
    );
    check(
        AbiArg::Ptr {
            param: "c".into(),
            part: TensorPart::Scale,
        },
        bindings(),
        "no scales bound",
    );
    check(
        AbiArg::Ptr {
            param: "alpha".into(),
            part: TensorPart::Data,
        },
        bindings(),
        "a scalar",
    );
    check(AbiArg::ScalarF32 { param: "c".into() }, bindings(), "a tensor");
    check(AbiArg::SymI32 { sym: "Q".into() }, bindings(), "not bound");
    check(
        AbiArg::ScalarI32 {
            param: "alpha".into(),
        },
        bindings(),
        "not an i32",
    );
    check(
        AbiArg::GlobalScaleF32 { param: "c".into() },
        bindings(),
        "has none bound",
    );
    let mut short = bindings();
    short.args.pop();
    check(
        AbiArg::SymI32 { sym: "M".into() },
        short,
        "3 arguments bound for 4",
    );
}

#[test]
fn timing_summary_and_rotation() {
    let s = stats::summarize(&[3.0, 1.0, 2.0, 10.0]).unwrap();
    assert_eq!((s.median_ms, s.min_ms, s.max_ms, s.iters), (2.5, 1.0, 10.0, 4));
    assert_eq!(stats::summarize(&[4.0, 1.0, 2.0]).unwrap().median_ms, 2.0);
    assert!(stats::summarize(&[]).is_none());
    let l2 = 50 << 20;
    // Big inputs evict themselves; small ones rotate through enough sets to cover 4x the L2.
    assert_eq!(stats::rotation_sets(200 << 20, l2, 1 << 40), 1);
    assert_eq!(stats::rotation_sets(10 << 20, l2, 1 << 40), 20);
    assert_eq!(stats::rotation_sets(1 << 10, l2, 1 << 40), 64);
    assert_eq!(stats::rotation_sets(10 << 20, l2, 30 << 20), 3);
    let t = stats::throughput(2.0, Some(2.0 * 4096f64.powi(3)), 3 * 4096 * 4096, Some(687.2));
    assert!((t.tflops.unwrap() - 68.719_476_736).abs() < 1e-6);
    assert!((t.pct_of_ceiling.unwrap() - 10.0).abs() < 1e-3);
    assert!((t.gbps - 3.0 * 4096.0 * 4096.0 / 2e-3 / 1e9).abs() < 1e-9);
}

#[test]
fn launch_plan_gathers_grid_block_smem_and_slots() {
    let mut m = meta(vec![AbiArg::SymI32 { sym: "K".into() }]);
    m.dynamic_shared_bytes = 4096;
    let p = LaunchPlan::new(&m, &NAMES, &bindings()).unwrap();
    assert_eq!((p.grid, p.block, p.smem), ([1, 11, 1], [128, 1, 1], 4096));
    assert_eq!(p.slots, vec![SlotValue::I32(320)]);
    assert!(LaunchPlan::new(&m, &NAMES[..2], &bindings()).is_err());
}

#[test]
fn bench_options_check_sets_and_result() {
    let mut o = stats::BenchOptions::default();
    assert!(o.check().is_ok());
    let l2 = 50 << 20;
    // The free-memory query runs only when rotating, and its error is passed through.
    assert_eq!(o.sets(10 << 20, l2, || Ok::<u64, ()>(60 << 20)), Ok(3));
    assert_eq!(o.sets(10 << 20, l2, || Err("no info")), Err("no info"));
    o.rotate = false;
    assert_eq!(o.sets(10 << 20, l2, || Err("never asked")), Ok(1));
    o.iters = 0;
    assert!(o.check().unwrap_err().contains("at least one timed iteration"));
    o.flops = Some(4e9);
    let r = o.result(&[4.0, 1.0, 2.0], 3, 2_000_000).unwrap();
    assert_eq!((r.timing.median_ms, r.sets, r.bytes), (2.0, 3, 2_000_000));
    assert!((r.throughput.tflops.unwrap() - 2.0).abs() < 1e-12);
    assert!(o.result(&[], 1, 0).is_none());
}

/// A host stand-in for a device buffer: its "address" is its upload order, and it reads back a
/// recognizable byte so the test can see which buffer was copied where.
struct FakeBuf {
    addr: u64,
    fill: u8,
}

impl DeviceMemory for FakeBuf {
    type Error = String;

    fn device_addr(&self) -> u64 {
        self.addr
    }

    fn download_into(&self, out: &mut [u8]) -> Result<(), String> {
        out.fill(self.fill);
        Ok(())
    }
}

#[test]
fn uploads_address_every_buffer_and_download_outputs_with_their_scales() {
    let mut b = bindings();
    let mut n = 0u64;
    let up = Uploads::new(&b, |bytes| {
        n += 1;
        Ok::<_, String>(FakeBuf {
            addr: 1000 * n + bytes.len() as u64,
            fill: n as u8,
        })
    })
    .unwrap();
    // Parameter 0's data, then its scales, then parameter 3's data; scalars get nothing.
    assert_eq!(up.addr(0, TensorPart::Data), Some(1000 + 100 * 320));
    assert_eq!(up.addr(0, TensorPart::Scale), Some(2000 + 100 * 10));
    assert_eq!(up.addr(3, TensorPart::Data), Some(3000 + 100 * 704 * 2));
    assert_eq!(up.addr(3, TensorPart::Scale), None);
    assert_eq!(up.addr(1, TensorPart::Data), None);
    up.download_outputs(&[3], &mut b, |m| m).unwrap();
    let ArgValue::Tensor(c) = &b.args[3] else {
        panic!("c is a tensor")
    };
    assert!(c.data.bytes.iter().all(|x| *x == 3));
    let ArgValue::Tensor(a) = &b.args[0] else {
        panic!("a is a tensor")
    };
    assert!(
        a.data.bytes.iter().all(|x| *x == 0),
        "only outputs are copied back"
    );
    // A scaled output (a quantization kernel's codes and block scales) comes back whole.
    up.download_outputs(&[0], &mut b, |m| m).unwrap();
    let ArgValue::Tensor(a) = &b.args[0] else {
        panic!("a is a tensor")
    };
    assert!(a.data.bytes.iter().all(|x| *x == 1));
    assert!(a.scale.as_ref().unwrap().bytes.iter().all(|x| *x == 2));
    let e = up.download_outputs(&[1], &mut b, |m| m).unwrap_err();
    assert_eq!(e, "output 1 is not a tensor parameter");
}

/// F09 at launch: a kernel whose offsets are 32-bit (meta.json `index_bits = 32`) is not launched
/// on a tensor with more than 2^31 - 1 elements (its offsets would wrap); 64-bit kernels are, and
/// a meta.json without the field is read as 32-bit.
#[test]
fn thirty_two_bit_kernels_refuse_tensors_past_i32() {
    let abi = vec![AbiArg::Ptr {
        param: "c".into(),
        part: TensorPart::Data,
    }];
    let mut b = bindings();
    // the shape is what the check reads; no 4 GiB buffer is needed to test it
    if let ArgValue::Tensor(t) = &mut b.args[3] {
        t.data.shape = vec![1 << 16, (1 << 15) + 1];
    }
    let mut m = meta(abi.clone());
    assert!(resolve_abi(&m, &NAMES, &b).is_ok());
    m.index_bits = 32;
    let e = resolve_abi(&m, &NAMES, &b).unwrap_err();
    assert_eq!(e.code(), "E0866", "{e}");
    assert!(e.to_string().contains("2147549184 elements"), "{e}");
    // exactly 2^31 - 1 elements still fits
    if let ArgValue::Tensor(t) = &mut b.args[3] {
        t.data.shape = vec![i32::MAX as usize];
    }
    assert!(resolve_abi(&m, &NAMES, &b).is_ok());
    // an older meta.json (no index_bits) is read as 32-bit
    let mut json = serde_json::to_value(meta(abi)).unwrap();
    json.as_object_mut().unwrap().remove("index_bits");
    let old: BundleMeta = serde_json::from_value(json).unwrap();
    assert_eq!(old.index_bits, 32);
}
