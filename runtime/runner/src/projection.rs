//! An all-elements check of a big GEMM that the f64 reference cannot afford whole (Freivalds'
//! projection): for random ±1 vectors r (length N) and q (length M), `C·r` must equal `A·(Bᵀ·r)·s`
//! and `Cᵀ·q` must equal `B·(Aᵀ·q)·s` (s = the product of the f32 scalars, the gemm convention
//! of docs/NUMERICS.md). Every element of C enters both projections, so a wrong or unwritten tile
//! anywhere shows up, at O(MK + NK + MN) cost. It complements the elementwise spot check (a single
//! slightly wrong element is diluted in a projection); it applies to unscaled operands only.

use tessera_ir::{DType, Kernel, ParamKind};
use tessera_numerics::{ArgValue, Bindings, Metrics, TensorBuf, Tolerance, compare, decode_buf_f64};

/// Row and column projections of the GPU output against the exact ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub rows: Metrics,
    pub cols: Metrics,
    pub pass: bool,
    pub reason: String,
}

/// `Err(why)` when the kernel is not an unscaled `@reference(gemm)` kernel this check understands.
pub fn check(
    k: &Kernel,
    b: &Bindings,
    out: &TensorBuf,
    tol: &Tolerance,
    seed: u64,
) -> Result<Projection, String> {
    if k.attr("reference") != Some("gemm") {
        return Err("not a @reference(gemm) kernel".into());
    }
    let tensors: Vec<(usize, bool)> = k
        .params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match &p.kind {
            ParamKind::Tensor { ty, is_out } => Some((i, *is_out || ty.scale.is_some())),
            ParamKind::Scalar(_) => None,
        })
        .collect();
    let ins: Vec<usize> = tensors
        .iter()
        .filter(|(i, _)| !is_out(k, *i))
        .map(|(i, _)| *i)
        .collect();
    if tensors.iter().any(|(i, scaled)| *scaled && !is_out(k, *i)) || ins.len() != 2 {
        return Err("the projection check covers two unscaled operands only".into());
    }
    let buf = |i: usize| match &b.args[i] {
        ArgValue::Tensor(t) => Ok(&t.data),
        ArgValue::Scalar(_) => Err(format!("parameter {i} is not a tensor")),
    };
    let (a, bb) = (buf(ins[0])?, buf(ins[1])?);
    let [m, kk] = a.shape[..] else {
        return Err("A is not rank 2".into());
    };
    let [b0, b1] = bb.shape[..] else {
        return Err("B is not rank 2".into());
    };
    let [cm, cn] = out.shape[..] else {
        return Err("C is not rank 2".into());
    };
    // B is [N, K] when its second dim is A's K (the convention's test), else [K, N].
    let nk = dims_of(k, ins[1]).get(1) == dims_of(k, ins[0]).get(1);
    let n = if nk { b0 } else { b1 };
    if cm != m || cn != n || (if nk { b1 } else { b0 }) != kk {
        return Err(format!(
            "shapes A {:?} B {:?} C {:?} do not form a GEMM",
            a.shape, bb.shape, out.shape
        ));
    }
    let globals: Vec<&str> = k
        .attrs
        .iter()
        .filter(|(key, _)| key.starts_with("global_scale."))
        .map(|(_, v)| v.as_str())
        .collect();
    let s: f64 = k
        .params
        .iter()
        .zip(&b.args)
        .filter_map(|(p, v)| match (&p.kind, v) {
            (ParamKind::Scalar(DType::F32), ArgValue::Scalar(x)) if !globals.contains(&p.name.as_str()) => {
                Some(*x)
            }
            _ => None,
        })
        .product();
    let av = decode_buf_f64(a).map_err(|e| e.to_string())?;
    let bv = decode_buf_f64(bb).map_err(|e| e.to_string())?;
    let cv = decode_buf_f64(out).map_err(|e| e.to_string())?;
    // A sum over an infinity says nothing; the elementwise checks judge non-finite outputs.
    if let Some(i) = cv.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "the output has non-finite elements (first at flat index {i}); judged elementwise only"
        ));
    }
    let bat = |j: usize, t: usize| if nk { bv[j * kk + t] } else { bv[t * n + j] };
    let mut rng = Sign(seed ^ 0xA5A5_5A5A_DEAD_BEEF);
    let r: Vec<f64> = (0..n).map(|_| rng.next()).collect();
    let q: Vec<f64> = (0..m).map(|_| rng.next()).collect();
    // Rows: x = A·(Bᵀ·r)·s against y = C·r.
    let mut w = vec![0.0; kk];
    for (j, rj) in r.iter().enumerate() {
        for (t, wt) in w.iter_mut().enumerate() {
            *wt += bat(j, t) * rj;
        }
    }
    let x: Vec<f64> = (0..m)
        .map(|i| s * (0..kk).map(|t| av[i * kk + t] * w[t]).sum::<f64>())
        .collect();
    let y: Vec<f32> = (0..m)
        .map(|i| (0..n).map(|j| cv[i * n + j] * r[j]).sum::<f64>() as f32)
        .collect();
    // Columns: x' = B·(Aᵀ·q)·s against y' = Cᵀ·q.
    let mut v = vec![0.0; kk];
    for (i, qi) in q.iter().enumerate() {
        for (t, vt) in v.iter_mut().enumerate() {
            *vt += av[i * kk + t] * qi;
        }
    }
    let x2: Vec<f64> = (0..n)
        .map(|j| s * (0..kk).map(|t| bat(j, t) * v[t]).sum::<f64>())
        .collect();
    let y2: Vec<f32> = (0..n)
        .map(|j| (0..m).map(|i| cv[i * n + j] * q[i]).sum::<f64>() as f32)
        .collect();
    let rows = compare(&y, &x, None).map_err(|e| e.to_string())?;
    let cols = compare(&y2, &x2, None).map_err(|e| e.to_string())?;
    // A projection sums N (or M) independent element errors against a sum of N random-signed
    // values: its relative L2 error estimates the elements' own; per-entry relative error is
    // meaningless (sums can cancel), so only rel_l2 and non-finite entries are judged.
    let bound = tol.max_rel_l2;
    let bad = |mt: &Metrics| mt.nan_inf_count > 0 || mt.rel_l2.is_nan() || mt.rel_l2 > bound;
    let pass = !bad(&rows) && !bad(&cols);
    let reason = format!(
        "C·r rel_l2 {:.3e}, Cᵀ·q rel_l2 {:.3e} ({} bound {:.3e}) over all {} elements",
        rows.rel_l2,
        cols.rel_l2,
        if pass { "within" } else { "OUTSIDE" },
        bound,
        m * n
    );
    Ok(Projection {
        rows,
        cols,
        pass,
        reason,
    })
}

fn is_out(k: &Kernel, i: usize) -> bool {
    matches!(k.params[i].kind, ParamKind::Tensor { is_out: true, .. })
}

fn dims_of(k: &Kernel, i: usize) -> Vec<tessera_ir::Dim> {
    match &k.params[i].kind {
        ParamKind::Tensor { ty, .. } => ty.dims.clone(),
        ParamKind::Scalar(_) => Vec::new(),
    }
}

/// Random ±1 from splitmix64 (reproducible from the seed alone).
struct Sign(u64);

impl Sign {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        if (z ^ (z >> 31)) & 1 == 0 { 1.0 } else { -1.0 }
    }
}
