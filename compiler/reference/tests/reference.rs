//! Small hand-computed cases for every reference.

use tessera_formats::Format;
use tessera_reference::attention::AttnShape;
use tessera_reference::*;

#[test]
fn gemm_layouts_agree() {
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
    let b_nk = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5]; // [2, 3]
    let b_kn = [1.0, 2.0, 0.0, 1.0, -1.0, 0.5]; // its transpose [3, 2]
    let c1 = gemm(&a, &b_nk, 2, 2, 3, BLayout::NK);
    let c2 = gemm(&a, &b_kn, 2, 2, 3, BLayout::KN);
    assert_eq!(c1, vec![-2.0, 5.5, -2.0, 16.0]);
    assert_eq!(c1, c2);
    let c3 = gemm_scaled(
        &a,
        &b_nk,
        (2, 2, 3),
        BLayout::NK,
        2.0,
        Some(&[1.0, 0.5]),
        Some(&[1.0, -1.0]),
    );
    assert_eq!(c3, vec![-4.0, -11.0, -2.0, -16.0]);
}

#[test]
fn block_dequant() {
    // [2, 4] with blocks [1, 2]: scales [2, 2].
    let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let s = [1.0, 2.0, 0.5, 4.0];
    let d = dequantize(
        &v,
        &[2, 4],
        &BlockScales {
            scales: &s,
            block: &[1, 2],
            global: Some(2.0),
        },
    )
    .unwrap();
    assert_eq!(d, vec![2.0, 4.0, 12.0, 16.0, 5.0, 6.0, 56.0, 64.0]);
    // Partial blocks: [1, 3] with block [1, 2] has 2 scales.
    let d = dequantize(
        &[1.0, 1.0, 1.0],
        &[1, 3],
        &BlockScales {
            scales: &[3.0, 5.0],
            block: &[1, 2],
            global: None,
        },
    );
    assert_eq!(d.unwrap(), vec![3.0, 3.0, 5.0]);
    assert!(
        dequantize(
            &v,
            &[2, 4],
            &BlockScales {
                scales: &s[..3],
                block: &[1, 2],
                global: None
            }
        )
        .is_none()
    );
    // e8m0 code 127 is 1.0, 0 is 2^-127 (not zero); fp4 0x7 is 6.
    assert_eq!(dequant::scale_value(Format::E8M0, 127), 1.0);
    assert_eq!(dequant::scale_value(Format::E8M0, 0), 2f64.powi(-127));
    assert_eq!(
        decode_codes(Format::F4E2M1, &[0x7, 0xF, 0x1]),
        vec![6.0, -6.0, 0.5]
    );
}

#[test]
fn attention_small() {
    // One head, 2 queries, 2 keys, d = 1: scores q*k.
    let s = AttnShape {
        heads: 1,
        seq_q: 2,
        seq_k: 2,
        d: 1,
        dv: 1,
    };
    let o = attention(&[1.0, 2.0], &[0.0, 1.0], &[10.0, 20.0], s, 1.0, false);
    let p1 = 1.0 / (1.0 + 1f64.exp()); // query 0: softmax(0, 1)
    assert!((o[0] - (10.0 * p1 + 20.0 * (1.0 - p1))).abs() < 1e-12);
    let c = attention(&[1.0, 2.0], &[0.0, 1.0], &[10.0, 20.0], s, 1.0, true);
    assert_eq!(c[0], 10.0); // query 0 sees key 0 only
    let p2 = 1.0 / (1.0 + 2f64.exp());
    assert!((c[1] - (10.0 * p2 + 20.0 * (1.0 - p2))).abs() < 1e-12);
}

#[test]
fn moe_small() {
    // T = 2, H = 1, E = 2, I = 1.
    let x = [1.0, 2.0];
    let wg = [1.0, -1.0];
    let wu = [3.0, 1.0];
    let routes = [
        Route {
            token: 0,
            expert: 0,
            weight: 0.5,
        },
        Route {
            token: 1,
            expert: 1,
            weight: 1.0,
        },
        Route {
            token: 0,
            expert: 1,
            weight: 0.5,
        },
    ];
    let o = moe_gated(&x, (2, 1), &wg, &wu, (2, 1), &routes);
    let silu = |g: f64| g / (1.0 + (-g).exp());
    assert!((o[0] - (0.5 * silu(1.0) * 3.0 + 0.5 * silu(-1.0) * 1.0)).abs() < 1e-12);
    assert!((o[1] - silu(-2.0) * 2.0).abs() < 1e-12);
}
