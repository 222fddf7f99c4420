//! FP4 nibble packing along an explicit axis: known layouts (low nibble first, odd extents),
//! round trips on random shapes and axes, and the error cases.

mod common;

use common::Rng;
use tessera_formats::{FormatError, pack_fp4, packed_shape, try_pack_fp4, try_unpack_fp4, unpack_fp4};

#[test]
fn packs_along_the_last_axis_low_nibble_first() {
    let codes = [1, 2, 3, 4, 5, 6];
    assert_eq!(pack_fp4(&codes, &[2, 3], 1), vec![0x21, 0x03, 0x54, 0x06]);
    assert_eq!(packed_shape(&[2, 3], 1), Ok(vec![2, 2]));
}

#[test]
fn packs_along_the_first_axis() {
    // [[1,2],[3,4],[5,6]] along axis 0: rows 0 and 1 share bytes, row 2 pads with a zero nibble.
    let codes = [1, 2, 3, 4, 5, 6];
    assert_eq!(pack_fp4(&codes, &[3, 2], 0), vec![0x31, 0x42, 0x05, 0x06]);
    assert_eq!(unpack_fp4(&[0x31, 0x42, 0x05, 0x06], &[3, 2], 0), codes.to_vec());
}

#[test]
fn round_trips_on_random_shapes_and_axes() {
    let mut rng = Rng(5);
    for _ in 0..500 {
        let rank = 1 + (rng.next_u64() % 4) as usize;
        let shape: Vec<usize> = (0..rank).map(|_| 1 + (rng.next_u64() % 7) as usize).collect();
        let axis = (rng.next_u64() % rank as u64) as usize;
        let n: usize = shape.iter().product();
        let codes: Vec<u8> = (0..n).map(|_| (rng.next_u64() & 0xF) as u8).collect();
        let packed = pack_fp4(&codes, &shape, axis);
        let ps = packed_shape(&shape, axis).expect("axis in range");
        assert_eq!(packed.len(), ps.iter().product::<usize>());
        assert_eq!(
            unpack_fp4(&packed, &shape, axis),
            codes,
            "shape {shape:?} axis {axis}"
        );
        // Element (.., i, ..) along the axis lives in byte i/2, nibble i%2.
        let inner: usize = shape[axis + 1..].iter().product();
        let k = (rng.next_u64() as usize) % n;
        let (o, i, j) = (k / (shape[axis] * inner), (k / inner) % shape[axis], k % inner);
        let byte = packed[(o * ps[axis] + i / 2) * inner + j];
        assert_eq!((byte >> (4 * (i % 2))) & 0xF, codes[k]);
    }
}

#[test]
fn errors_are_reported_not_panicked() {
    assert_eq!(
        try_pack_fp4(&[1, 2], &[2], 1),
        Err(FormatError::AxisOutOfRange { axis: 1, rank: 1 })
    );
    assert_eq!(
        try_pack_fp4(&[1, 2, 3], &[2], 0),
        Err(FormatError::LengthMismatch {
            expected: 2,
            found: 3
        })
    );
    assert!(matches!(
        try_pack_fp4(&[1, 0x10], &[2], 0),
        Err(FormatError::CodeOutOfRange { index: 1, .. })
    ));
    assert_eq!(try_unpack_fp4(&[0x01, 0x02], &[3], 0), Ok(vec![1, 0, 2]));
    assert_eq!(
        try_unpack_fp4(&[1], &[3], 0),
        Err(FormatError::LengthMismatch {
            expected: 2,
            found: 1
        })
    );
}
