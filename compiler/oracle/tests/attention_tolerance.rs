//! Attention's absolute element bound: its documented value for e4m3 weights and a bf16 output,
//! proportional to `max|v|`, and bounded as the key length grows (the subnormal-weight term
//! saturates instead of growing with sqrt(S)).

use tessera_ir::DType;
use tessera_oracle::{AttentionStats, attention_atol};

fn stats(max_v: f64, seq_k: usize) -> AttentionStats {
    AttentionStats {
        max_v,
        rms_q: 1.0,
        rms_k: 1.0,
        head_dim: 128,
        seq_k,
        sm_scale: 1.0 / 128f64.sqrt(),
    }
}

#[test]
fn e4m3_weights_bf16_out_at_s_1000() {
    let a = attention_atol(&stats(1.0, 1000), DType::BF16, &[DType::F8E4M3]);
    // 2^-4 (normal weights) + 4 sqrt(2^-10 / 3) / 2 (subnormal ones) + 2^-7 (output) + f32 accum.
    let want =
        0.0625 + 2.0 * (2f64.powi(-10) / 3.0).sqrt() + 2f64.powi(-7) + 8.0 * 1000f64.sqrt() * 2f64.powi(-24);
    assert!((a - want).abs() < 1e-12, "{a} vs {want}");
    assert!((0.10..0.11).contains(&a));
    let scaled = attention_atol(&stats(7.0, 1000), DType::BF16, &[DType::F8E4M3]);
    assert!((scaled - 7.0 * a).abs() < 1e-12);
    // No narrow intermediate: only the output rounding and accumulation remain.
    assert!(attention_atol(&stats(1.0, 1000), DType::BF16, &[]) < 0.01);
}

#[test]
fn bounded_in_the_key_length() {
    let at = |s| attention_atol(&stats(1.0, s), DType::BF16, &[DType::F8E4M3]);
    assert!(at(200) < at(1000));
    assert!(at(1 << 20) < 0.115, "{}", at(1 << 20));
}
