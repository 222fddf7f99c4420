//! Buffers <-> values: every dtype round-trips through encode_buf/decode_buf with the formats
//! crate's rounding, FP4 packs along its axis, and malformed buffers are coded errors.

use tessera_formats::{Format, decode, encode};
use tessera_ir::DType;
use tessera_numerics::{TensorBuf, buf_from_codes, decode_buf, decode_buf_f64, encode_buf, format_of};

const VALUES: [f32; 8] = [1.0, -2.5, 0.1, 300.0, -1e-3, 0.0, 7.0, -100000.0];

#[test]
fn every_dtype_round_trips_with_the_formats_rounding() {
    for d in DType::ALL {
        let packed = (d == DType::F4E2M1).then_some(1);
        let buf = encode_buf(d, &[2, 4], packed, &VALUES).unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(
            buf.bytes.len(),
            TensorBuf::expected_bytes(d, &[2, 4], packed),
            "{d}"
        );
        let back = decode_buf(&buf).unwrap_or_else(|e| panic!("{d}: {e}"));
        let want: Vec<f32> = match (d, format_of(d)) {
            (_, Some(f)) => VALUES.iter().map(|&v| decode(f, encode(f, v))).collect(),
            (DType::F32, None) => VALUES.to_vec(),
            (DType::I32, None) => vec![1.0, -2.0, 0.0, 300.0, -0.0, 0.0, 7.0, -100000.0],
            (DType::I8, None) => vec![1.0, -2.0, 0.0, 127.0, -0.0, 0.0, 7.0, -128.0],
            (DType::I1, None) => vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            _ => unreachable!(),
        };
        let same = back
            .iter()
            .zip(&want)
            .all(|(a, b)| (a.is_nan() && b.is_nan()) || a == b);
        assert!(same && back.len() == want.len(), "{d}: {back:?} vs {want:?}");
    }
}

#[test]
fn bytes_are_little_endian_device_storage() {
    let b = encode_buf(DType::BF16, &[2], None, &[1.0, -2.0]).expect("bf16");
    assert_eq!(b.bytes, vec![0x80, 0x3F, 0x00, 0xC0]);
    let b = encode_buf(DType::F32, &[1], None, &[1.0]).expect("f32");
    assert_eq!(b.bytes, vec![0, 0, 0x80, 0x3F]);
    let b = encode_buf(DType::I32, &[1], None, &[-2.0]).expect("i32");
    assert_eq!(b.bytes, (-2i32).to_le_bytes().to_vec());
    // FP4 [2, 3] packed along axis 1: row 0 = (1.0, -1.0, 6.0) -> codes 2, 0xA, 7.
    let b = encode_buf(DType::F4E2M1, &[2, 3], Some(1), &[1.0, -1.0, 6.0, 0.5, 0.0, 3.0]).expect("fp4");
    assert_eq!(b.bytes, vec![0xA2, 0x07, 0x01, 0x05]);
    assert_eq!(b.packed_axis, Some(1));
    // E8M0 codes decode as powers of two, 0 being 2^-127 (not zero).
    let s = buf_from_codes(DType::E8M0, &[3], None, &[0, 127, 130]).expect("e8m0");
    assert_eq!(
        decode_buf_f64(&s).expect("decode"),
        vec![2f64.powi(-127), 1.0, 8.0]
    );
}

#[test]
fn i32_decodes_exactly_in_f64() {
    let b = TensorBuf {
        dtype: DType::I32,
        shape: vec![1],
        packed_axis: None,
        bytes: 16_777_217i32.to_le_bytes().to_vec(),
    };
    assert_eq!(decode_buf_f64(&b).expect("i32"), vec![16_777_217.0]);
}

#[test]
fn malformed_buffers_are_coded_errors() {
    let short = TensorBuf {
        dtype: DType::F32,
        shape: vec![3],
        packed_axis: None,
        bytes: vec![0; 8],
    };
    assert_eq!(decode_buf(&short).expect_err("short").code, "E0504");
    let unpacked = TensorBuf {
        dtype: DType::F4E2M1,
        shape: vec![4],
        packed_axis: None,
        bytes: vec![0; 2],
    };
    assert_eq!(decode_buf(&unpacked).expect_err("no axis").code, "E0504");
    assert_eq!(
        encode_buf(DType::F32, &[2], None, &[1.0])
            .expect_err("count")
            .code,
        "E0504"
    );
    assert_eq!(
        encode_buf(DType::F4E2M1, &[2], None, &[1.0, 2.0])
            .expect_err("fp4 axis")
            .code,
        "E0504"
    );
    assert_eq!(
        buf_from_codes(DType::BF16, &[1], None, &[1])
            .expect_err("bf16 codes")
            .code,
        "E0505"
    );
    assert!(format_of(DType::F32).is_none() && format_of(DType::UE4M3) == Some(Format::UE4M3));
}
