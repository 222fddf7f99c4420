//! Property tests of the public prepack API: unpack ∘ prepack = identity for every layout and
//! scale dtype, prepack places every scale where the reference page's 128x4 formula says, padding
//! holds the neutral scale, and mismatched buffers are coded errors.

use proptest::prelude::*;
use tessera_ir::{DType, ScaleLayout};
use tessera_prepack::{
    PrepackError, Prepacked, neutral_scale, padded_dims, physical_tensor_bytes, prepack, prepack_tensor,
    unpack, unpack_tensor,
};

const LAYOUTS: [ScaleLayout; 5] = [
    ScaleLayout::Linear,
    ScaleLayout::Nv128x4,
    ScaleLayout::AmdLane16x16x128,
    ScaleLayout::AmdLane32x32x64,
    ScaleLayout::HopperRegister,
];
const DTYPES: [DType; 3] = [DType::E8M0, DType::UE4M3, DType::F32];

fn case() -> impl Strategy<Value = (ScaleLayout, DType, usize, usize, Vec<u8>)> {
    (0..LAYOUTS.len(), 0..DTYPES.len(), 1usize..300, 1usize..40).prop_flat_map(|(l, d, mn, ks)| {
        let eb = if DTYPES[d] == DType::F32 { 4 } else { 1 };
        proptest::collection::vec(any::<u8>(), mn * ks * eb)
            .prop_map(move |v| (LAYOUTS[l], DTYPES[d], mn, ks, v))
    })
}

/// The formula of formats-and-scale-layouts.md, written out independently of the crate.
fn nv_formula(r: usize, c: usize, ks_pad: usize) -> usize {
    (r / 128) * (ks_pad / 4) * 512 + (c / 4) * 512 + (r % 32) * 16 + ((r % 128) / 32) * 4 + (c % 4)
}

proptest! {
    #[test]
    fn unpack_inverts_prepack((layout, dtype, mn, ks, logical) in case()) {
        let phys = prepack(layout, dtype, &logical, mn, ks).unwrap();
        prop_assert_eq!(unpack(layout, dtype, &phys, mn, ks).unwrap(), logical);
    }

    #[test]
    fn tensor_forms_round_trip((layout, dtype, mn, ks, logical) in case(), k_axis in 0usize..2) {
        let shape = if k_axis == 1 { [mn, ks] } else { [ks, mn] };
        let phys = prepack_tensor(layout, dtype, &logical, &shape, k_axis).unwrap();
        prop_assert_eq!(phys.len(), physical_tensor_bytes(layout, dtype, &shape, k_axis).unwrap());
        prop_assert_eq!(unpack_tensor(layout, dtype, &phys, &shape, k_axis).unwrap(), logical);
    }

    /// Batched (MoE `[E, N, K/32]`) tensors: every expert slice is prepacked on its own.
    #[test]
    fn batched_tensors_round_trip((layout, dtype, mn, ks, slice) in case(), batch in 1usize..4, k_last in any::<bool>()) {
        let logical: Vec<u8> = (0..batch).flat_map(|b| slice.iter().map(move |x| x.wrapping_add(b as u8))).collect();
        let shape = if k_last { [batch, mn, ks] } else { [batch, ks, mn] };
        let k_axis = if k_last { 2 } else { 1 };
        let phys = prepack_tensor(layout, dtype, &logical, &shape, k_axis).unwrap();
        prop_assert_eq!(unpack_tensor(layout, dtype, &phys, &shape, k_axis).unwrap(), logical.clone());
        if k_last {
            // Slice b of the physical buffer is exactly the prepack of slice b.
            let per = phys.len() / batch;
            let one = slice.len();
            for b in 0..batch {
                let want = prepack(layout, dtype, &logical[b * one..(b + 1) * one], mn, ks).unwrap();
                prop_assert_eq!(&phys[b * per..(b + 1) * per], &want[..]);
            }
        }
    }

    /// Random indices of random shapes land where the reference formula says.
    #[test]
    fn nv128x4_matches_reference_formula(mn in 1usize..600, ks in 1usize..40, picks in proptest::collection::vec((0usize..600, 0usize..40), 1..32)) {
        let logical: Vec<u8> = (0..mn * ks).map(|i| (i * 7 + 3) as u8).collect();
        let phys = prepack(ScaleLayout::Nv128x4, DType::E8M0, &logical, mn, ks).unwrap();
        let (_, kp) = padded_dims(ScaleLayout::Nv128x4, mn, ks);
        for (r, c) in picks {
            let (r, c) = (r % mn, c % ks);
            prop_assert_eq!(phys[nv_formula(r, c, kp)], logical[r * ks + c]);
        }
    }

    #[test]
    fn padding_holds_the_neutral_scale((layout, dtype, mn, ks, logical) in case()) {
        let phys = prepack(layout, dtype, &logical, mn, ks).unwrap();
        let neutral = neutral_scale(dtype).unwrap();
        let eb = neutral.len();
        let (mp, kp) = padded_dims(layout, mn, ks);
        prop_assert_eq!(phys.len(), mp * kp * eb);
        for r in 0..mp {
            for c in 0..kp {
                if r >= mn || c >= ks {
                    let o = tessera_prepack::offset(layout, r, c, kp) * eb;
                    prop_assert_eq!(&phys[o..o + eb], &neutral[..]);
                }
            }
        }
    }
}

#[test]
fn nv128x4_pads_100x10_to_128x12() {
    let logical = vec![130u8; 100 * 10];
    let phys = prepack(ScaleLayout::Nv128x4, DType::E8M0, &logical, 100, 10).unwrap();
    assert_eq!(phys.len(), 128 * 12);
    assert_eq!(phys.iter().filter(|b| **b == 130).count(), 1000);
    assert_eq!(phys.iter().filter(|b| **b == 127).count(), 128 * 12 - 1000);
}

#[test]
fn wrong_sizes_and_dtypes_are_coded_errors() {
    let e = prepack(ScaleLayout::Nv128x4, DType::E8M0, &[1, 2, 3], 2, 2).unwrap_err();
    assert!(
        matches!(
            e,
            PrepackError::SizeMismatch {
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().starts_with("E0652"));
    let e = unpack(ScaleLayout::Nv128x4, DType::E8M0, &[0; 4], 2, 2).unwrap_err();
    assert!(
        matches!(
            e,
            PrepackError::SizeMismatch {
                expected: 512,
                found: 4,
                ..
            }
        ),
        "{e}"
    );
    let e = prepack(ScaleLayout::Linear, DType::BF16, &[0; 8], 2, 2).unwrap_err();
    assert_eq!(e, PrepackError::NotAScaleType { dtype: DType::BF16 });
    let e = prepack_tensor(ScaleLayout::Linear, DType::E8M0, &[0; 8], &[2, 2, 2], 0).unwrap_err();
    assert!(
        matches!(e, PrepackError::BadGeometry { .. }),
        "the K axis must be one of the last two"
    );
    let e = prepack_tensor(ScaleLayout::Linear, DType::E8M0, &[0; 8], &[8], 0).unwrap_err();
    assert!(
        matches!(e, PrepackError::BadGeometry { .. }),
        "rank 1 has no MN axis"
    );
}

/// At MN = 128, Ks = 4 the linear and 128x4 buffers have the same size: only the tag tells them
/// apart, and binding one where the other is expected is an error.
#[test]
fn layout_mismatch_is_caught_by_the_tag() {
    let logical: Vec<u8> = (0..512).map(|i| (i % 251) as u8).collect();
    let p = Prepacked::new(ScaleLayout::Nv128x4, DType::E8M0, &logical, 128, 4).unwrap();
    assert_eq!(p.bytes.len(), logical.len());
    assert!(p.expect(ScaleLayout::Nv128x4, DType::E8M0, 128, 4).is_ok());
    let e = p.expect(ScaleLayout::Linear, DType::E8M0, 128, 4).unwrap_err();
    assert!(
        e.to_string().contains("nv128x4") && e.to_string().contains("linear"),
        "{e}"
    );
    assert!(p.expect(ScaleLayout::Nv128x4, DType::UE4M3, 128, 4).is_err());
    assert!(p.expect(ScaleLayout::Nv128x4, DType::E8M0, 127, 4).is_err());
}

#[test]
fn file_form_round_trips_and_rejects_damage() {
    let logical: Vec<u8> = (0..(100 * 10 * 4)).map(|i| (i % 256) as u8).collect();
    let p = Prepacked::new(ScaleLayout::AmdLane32x32x64, DType::F32, &logical, 100, 10).unwrap();
    let file = p.to_bytes().unwrap();
    let q = Prepacked::from_bytes(&file).unwrap();
    assert_eq!(q, p);
    assert_eq!(q.unpack().unwrap(), logical);
    assert!(matches!(
        Prepacked::from_bytes(&file[..file.len() - 1]),
        Err(PrepackError::SizeMismatch { .. })
    ));
    assert!(matches!(
        Prepacked::from_bytes(b"nope"),
        Err(PrepackError::BadHeader { .. })
    ));
    let mut bad = file.clone();
    bad[5] = 99;
    assert!(matches!(
        Prepacked::from_bytes(&bad),
        Err(PrepackError::BadHeader { .. })
    ));
}
