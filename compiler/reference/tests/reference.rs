//! Small hand-computed cases for every reference: GEMM, dequantization, attention (grouped too),
//! MoE, and the GEMM epilogues with their activations.

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

#[test]
fn erf_matches_known_values() {
    // erf(0.5), erf(1), erf(2), erf(3.5) to 16 digits (Abramowitz & Stegun table 7.1 / mpmath).
    let known = [
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (3.5, 0.999_999_256_901_627_7),
    ];
    for (x, want) in known {
        // A few ulps: the series sums ~x² positive terms, each rounded once.
        assert!((erf(x) - want).abs() < 4e-15, "erf({x}) = {}", erf(x));
        assert_eq!(erf(-x), -erf(x));
    }
    assert_eq!(erf(0.0), 0.0);
    assert_eq!(erf(7.0), 1.0);
    assert!(erf(f64::NAN).is_nan());
}

#[test]
fn activations_from_their_definitions() {
    use Activation::*;
    assert_eq!(Relu.apply(-2.0), 0.0);
    assert_eq!(Relu.apply(1.5), 1.5);
    assert!((Sigmoid.apply(0.0) - 0.5).abs() < 1e-16);
    assert!((Silu.apply(2.0) - 2.0 / (1.0 + (-2f64).exp())).abs() < 1e-15);
    // GELU(1) = Φ(1) = 0.841344746068543 (the normal CDF at 1).
    assert!((Gelu.apply(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
    // The tanh form is an approximation of it: close, not equal.
    let d = (GeluTanh.apply(1.0) - Gelu.apply(1.0)).abs();
    assert!(d > 1e-6 && d < 1e-3, "{d}");
    for n in ["relu", "gelu", "gelu_tanh", "silu", "sigmoid"] {
        assert!(Activation::from_name(n).is_some(), "{n}");
    }
    assert!(Activation::from_name("tanh").is_none());
}

#[test]
fn epilogue_order_by_hand() {
    // acc [2, 2] = [[1, -2], [3, 4]]; C = relu(acc * row[m] * col[n] + bias[n]) + res.
    let mut c = vec![1.0, -2.0, 3.0, 4.0];
    let e = Epilogue {
        row_scale: Some(&[2.0, 0.5]),
        col_scale: Some(&[1.0, 3.0]),
        bias: Some(Bias::Cols(&[-1.0, 10.0])),
        activation: Some(Activation::Relu),
        residual: Some(&[0.25, 0.5, 0.75, 1.0]),
    };
    apply_epilogue(&mut c, (2, 2), &e);
    // [0][0]: relu(1*2*1 - 1) + .25 = 1.25; [0][1]: relu(-2*2*3 + 10) + .5 = 0 + .5;
    // [1][0]: relu(3*.5*1 - 1) + .75 = 1.25; [1][1]: relu(4*.5*3 + 10) + 1 = 17.
    assert_eq!(c, vec![1.25, 0.5, 1.25, 17.0]);
    // A full [M, N] bias, no activation: added element by element.
    let mut c = vec![1.0, 2.0, 3.0, 4.0];
    let e = Epilogue {
        bias: Some(Bias::Full(&[10.0, 20.0, 30.0, 40.0])),
        ..Epilogue::default()
    };
    apply_epilogue(&mut c, (2, 2), &e);
    assert_eq!(c, vec![11.0, 22.0, 33.0, 44.0]);
}

#[test]
fn grouped_query_attention_shares_kv_heads() {
    // 4 query heads over 2 K/V heads equals plain attention with each K/V head repeated twice.
    let (hq, hkv, s, d) = (4, 2, 3, 2);
    let val = |i: usize| ((i * 37 % 11) as f64 - 5.0) / 4.0;
    let q: Vec<f64> = (0..hq * s * d).map(val).collect();
    let k: Vec<f64> = (0..hkv * s * d).map(|i| val(i + 100)).collect();
    let v: Vec<f64> = (0..hkv * s * d).map(|i| val(i + 200)).collect();
    let rep = |x: &[f64]| -> Vec<f64> {
        (0..hq)
            .flat_map(|h| x[(h / 2) * s * d..(h / 2 + 1) * s * d].to_vec())
            .collect()
    };
    let shape = AttnShape {
        heads: hq,
        seq_q: s,
        seq_k: s,
        d,
        dv: d,
    };
    for causal in [false, true] {
        let g = attention_grouped(&q, &k, &v, shape, hkv, 0.7, causal);
        let full = attention(&q, &rep(&k), &rep(&v), shape, 0.7, causal);
        assert_eq!(g, full);
    }
    // And differs from reading K/V head h % 2 (a wrong mapping would go unnoticed otherwise).
    let modulo: Vec<f64> = (0..hq)
        .flat_map(|h| k[(h % 2) * s * d..(h % 2 + 1) * s * d].to_vec())
        .collect();
    let vm: Vec<f64> = (0..hq)
        .flat_map(|h| v[(h % 2) * s * d..(h % 2 + 1) * s * d].to_vec())
        .collect();
    assert_ne!(
        attention_grouped(&q, &k, &v, shape, hkv, 0.7, false),
        attention(&q, &modulo, &vm, shape, 0.7, false)
    );
}
