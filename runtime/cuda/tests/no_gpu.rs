//! What CI (no GPU, no NVIDIA driver) can check of the CUDA runtime: the no-device error path, the
//! classification of init failures, TMA tensor-map planning and parameter marshalling.

use cudarc::driver::sys::cudaError_enum as E;
use tessera_bundle::{SlotValue, TensorPart, TmaSpec};
use tessera_cuda::{
    CudaError, Device, KernelArg, ParamBlock, TensorMapPlan, TmaElem, classify_init, marshal,
};
use tessera_ir::DType;
use tessera_numerics::TensorBuf;

#[test]
fn opening_without_a_driver_is_a_typed_no_device_error() {
    if tessera_cuda::driver_present() {
        // On a machine with the driver the other branch of `open` is exercised by the GPU script.
        match Device::open(0) {
            Ok(d) => assert!(!d.info().name.is_empty()),
            Err(e) => assert!(matches!(e, CudaError::NoDevice { .. }), "{e}"),
        }
        return;
    }
    let e = Device::open(0).unwrap_err();
    assert!(matches!(e, CudaError::NoDevice { .. }), "{e:?}");
    assert!(e.to_string().starts_with("no CUDA device found"), "{e}");
    assert!(e.to_string().contains("libcuda.so"), "{e}");
    assert!(!tessera_cuda::device_available());
}

#[test]
fn init_results_meaning_no_gpu_become_no_device() {
    assert!(classify_init("cuInit", E::CUDA_SUCCESS).is_ok());
    for r in [
        E::CUDA_ERROR_NO_DEVICE,
        E::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH,
        E::CUDA_ERROR_DEVICE_UNAVAILABLE,
    ] {
        let e = classify_init("cuInit", r).unwrap_err();
        assert!(e.to_string().starts_with("no CUDA device found"), "{r:?}: {e}");
    }
}

fn buf(dtype: DType, shape: &[usize], packed_axis: Option<usize>) -> TensorBuf {
    TensorBuf {
        dtype,
        shape: shape.to_vec(),
        packed_axis,
        bytes: vec![0; TensorBuf::expected_bytes(dtype, shape, packed_axis)],
    }
}

fn tma(elem: &str, box_dims: &[u32], swizzle: u32) -> TmaSpec {
    TmaSpec {
        elem: elem.into(),
        box_dims: box_dims.to_vec(),
        swizzle,
    }
}

#[test]
fn tensor_map_plan_is_innermost_first_with_byte_strides() {
    // fp8 A [M=100, K=320], box 128 (K) x 128 (M), 128B swizzle.
    let p = TensorMapPlan::new(
        &tma("u8", &[128, 128], 128),
        &buf(DType::F8E4M3, &[100, 320], None),
        "a",
    )
    .unwrap();
    assert_eq!(p.elem, TmaElem::U8);
    assert_eq!(p.global_dim, vec![320, 100]);
    assert_eq!(p.global_strides, vec![320]);
    assert_eq!(p.box_dim, vec![128, 128]);
    // bf16 C [1000, 1000]: pitch 2000 bytes (a multiple of 16).
    let p = TensorMapPlan::new(
        &tma("u16", &[64, 64], 128),
        &buf(DType::BF16, &[1000, 1000], None),
        "c",
    )
    .unwrap();
    assert_eq!(
        (p.global_dim.clone(), p.global_strides.clone()),
        (vec![1000, 1000], vec![2000])
    );
    // Rank 3: strides accumulate.
    let p = TensorMapPlan::new(
        &tma("f32", &[4, 8, 2], 0),
        &buf(DType::F32, &[3, 5, 8], None),
        "t",
    )
    .unwrap();
    assert_eq!(
        (p.global_dim.clone(), p.global_strides.clone()),
        (vec![8, 5, 3], vec![32, 160])
    );
    // FP4 packed along K: the engine sees bytes, K/2 of them.
    let p = TensorMapPlan::new(
        &tma("u8", &[64, 128], 128),
        &buf(DType::F4E2M1, &[256, 512], Some(1)),
        "b",
    )
    .unwrap();
    assert_eq!(p.global_dim, vec![256, 256]);
}

#[test]
fn tensor_map_plan_rejects_what_the_driver_would() {
    let err = |t: TmaSpec, b: TensorBuf, want: &str| {
        let e = TensorMapPlan::new(&t, &b, "x").unwrap_err().to_string();
        assert!(e.contains(want), "{e} lacks {want}");
    };
    err(
        tma("u8", &[128, 128], 128),
        buf(DType::F8E4M3, &[100, 100], None),
        "multiple of 16",
    );
    err(
        tma("u16", &[128, 64], 128),
        buf(DType::BF16, &[64, 256], None),
        "exceeds the 128-byte swizzle",
    );
    err(
        tma("u8", &[128, 128], 128),
        buf(DType::BF16, &[64, 256], None),
        "1 bytes but the buffer holds bf16",
    );
    err(
        tma("q8", &[128, 128], 128),
        buf(DType::F8E4M3, &[64, 256], None),
        "is not one of",
    );
    err(
        tma("u8", &[128], 128),
        buf(DType::F8E4M3, &[64, 256], None),
        "box has 1 dims",
    );
    err(
        tma("u8", &[128, 512], 128),
        buf(DType::F8E4M3, &[64, 256], None),
        "outside 1..=256",
    );
    err(
        tma("u8", &[128, 128], 96),
        buf(DType::F8E4M3, &[64, 256], None),
        "swizzle 96",
    );
}

#[test]
fn marshalling_places_each_slot_in_its_own_cell() {
    let slots = vec![
        SlotValue::TensorMap {
            param: 0,
            part: TensorPart::Data,
            tma: tma("u8", &[128, 128], 128),
            or_null: false,
        },
        SlotValue::Buffer {
            param: 2,
            part: TensorPart::Data,
        },
        SlotValue::Buffer {
            param: 0,
            part: TensorPart::Scale,
        },
        SlotValue::I32(-7),
        SlotValue::F32(0.25),
    ];
    let buffer = |p: usize, part: TensorPart| match (p, part) {
        (2, TensorPart::Data) => Some(0x7000_0000_1000),
        (0, TensorPart::Scale) => Some(0x7000_0000_2000),
        _ => None,
    };
    let map = |slot: usize| (slot == 0).then_some(0x7000_0000_0100);
    let args = marshal(&slots, &buffer, &map).unwrap();
    assert_eq!(
        args,
        vec![
            KernelArg::U64(0x7000_0000_0100),
            KernelArg::U64(0x7000_0000_1000),
            KernelArg::U64(0x7000_0000_2000),
            KernelArg::I32(-7),
            KernelArg::F32(0.25),
        ]
    );
    let mut block = ParamBlock::new(&args);
    assert_eq!(block.cell_bytes(0).unwrap(), 0x7000_0000_0100u64.to_le_bytes());
    assert_eq!(&block.cell_bytes(3).unwrap()[..4], &(-7i32).to_le_bytes());
    assert_eq!(&block.cell_bytes(4).unwrap()[..4], &0.25f32.to_le_bytes());
    let ptrs = block.pointers();
    assert_eq!(ptrs.len(), 5);
    // Each pointer addresses its own cell: reading through it yields the marshalled value.
    // SAFETY: the pointers address the live cells of `block`.
    let v = unsafe { *(ptrs[3] as *const i32) };
    assert_eq!(v, -7);
    let missing = marshal(&slots[1..2], &|_, _| None, &map).unwrap_err();
    assert!(missing.to_string().contains("no device buffer"), "{missing}");
}

/// A map slot with `or_null` over a buffer TMA cannot describe becomes a null pointer (the kernel
/// copies another way); without it, the same buffer is an error. Neither touches the driver.
#[test]
fn an_or_null_map_slot_is_null_exactly_where_tma_cannot_describe_the_buffer() {
    use tessera_cuda::{describable, encode_slot};
    // bf16 rows of 100 elements: 200-byte pitch, not a multiple of 16.
    let odd = buf(DType::BF16, &[64, 100], None);
    // bf16 rows of 104: 208 bytes, a multiple of 16; fp8 rows of 100 are not.
    let even = buf(DType::BF16, &[64, 104], None);
    assert!(!describable(&odd, 0x1000));
    assert!(describable(&even, 0x1000));
    assert!(!describable(&even, 0x1008), "an address off 16 bytes");
    assert!(!describable(&buf(DType::F8E4M3, &[8, 100], None), 0));
    assert!(describable(&buf(DType::F8E4M3, &[8, 112], None), 0));
    // 3-D: every pitch counts (rows of 8 bf16 = 16 bytes, planes of 3 rows = 48 bytes).
    assert!(describable(&buf(DType::BF16, &[2, 3, 8], None), 0));
    assert!(!describable(&buf(DType::BF16, &[2, 3, 4], None), 0));
    // Packed FP4: two codes a byte along the packed axis (64 codes = 32 bytes; 40 = 20).
    assert!(describable(&buf(DType::F4E2M1, &[8, 64], Some(1)), 0));
    assert!(!describable(&buf(DType::F4E2M1, &[8, 40], Some(1)), 0));
    // An empty tensor (K = 0) has no map; the kernel's cp.async path copies nothing.
    assert!(!describable(&buf(DType::BF16, &[64, 0], None), 0));
    assert_eq!(
        encode_slot(
            &tma("u16", &[64, 64], 128),
            &buf(DType::BF16, &[0, 64], None),
            0,
            true,
            "x"
        )
        .unwrap(),
        None
    );
    let spec = tma("u16", &[64, 64], 128);
    assert_eq!(encode_slot(&spec, &odd, 0x1000, true, "x").unwrap(), None);
    assert_eq!(encode_slot(&spec, &even, 0x1008, true, "x").unwrap(), None);
    let e = encode_slot(&spec, &odd, 0x1000, false, "x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("multiple of 16"), "{e}");
    // A describable buffer with a bad spec is still an error with `or_null`: null is only for
    // what the buffer rules out, never a compiler mistake.
    let e = encode_slot(&tma("u8", &[64, 64], 128), &even, 0x1000, true, "x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 bytes but the buffer holds bf16"), "{e}");
}
