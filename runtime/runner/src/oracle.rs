//! The plain reference (`tessera-oracle` → `tessera-reference`) as the runner's second oracle.
//!
//! On a whole problem it is called as is. When the interpreter only spot-checked some tiles of a
//! big GEMM (an f64 reference of 8192³ is far too slow to run here), the reference runs on exactly
//! the checked elements: rows of C with the same set of checked columns form one sub-problem,
//! whose inputs are the gathered rows of A and rows (or columns) of B — under the gemm convention
//! (docs/NUMERICS.md) C[i, j] depends only on A's row i and B's row/column j — so the work is
//! (checked elements) × K. Elements not computed are NaN in the result.

use std::collections::BTreeMap;
use tessera_ir::{Dim, Kernel, ParamKind, ScaleLayout};
use tessera_numerics::{ArgValue, Bindings, TensorBuf};

/// Expected values per output `(param index, row-major values)`. `written` gives, per output, the
/// elements to compute (`None` = the whole problem). Errors say why the reference cannot be used.
pub fn expected(
    k: &Kernel,
    b: &Bindings,
    written: Option<&[(usize, Vec<bool>)]>,
) -> Result<Vec<(usize, Vec<f64>)>, String> {
    let Some(written) = written else {
        return tessera_oracle::expected(k, b).map_err(|e| e.to_string());
    };
    let fam = tessera_oracle::family(k).map_err(|e| e.to_string())?;
    if fam != "gemm" {
        return Err(format!(
            "a spot check of a `{fam}` kernel has no sub-problem reference; run a smaller shape for it"
        ));
    }
    let [(out, sel)] = written else {
        return Err("a spot-checked gemm must have exactly one output".into());
    };
    let (d0, d1) = match &k.params[*out].kind {
        ParamKind::Tensor { ty, .. } => match ty.dims.as_slice() {
            [Dim::Sym(a), Dim::Sym(c)] if a != c => (a.clone(), c.clone()),
            _ => return Err("the gemm output's dims are not two distinct symbolic dims".into()),
        },
        ParamKind::Scalar(_) => return Err("the gemm output is a scalar".into()),
    };
    let dim = |s: &str| {
        b.sym(s)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| format!("dim {s} unbound"))
    };
    let (m, n) = (dim(&d0)?, dim(&d1)?);
    if sel.len() != m * n {
        return Err(format!(
            "selection of {} elements for a {m}x{n} output",
            sel.len()
        ));
    }
    // Rows grouped by their set of checked columns: each group is one dense sub-problem.
    let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for i in 0..m {
        let cols: Vec<usize> = (0..n).filter(|j| sel[i * n + j]).collect();
        if !cols.is_empty() {
            groups.entry(cols).or_default().push(i);
        }
    }
    let mut full = vec![f64::NAN; m * n];
    for (cols, rows) in &groups {
        let sub = restrict(k, b, *out, (&d0, rows), (&d1, cols))?;
        let vals = tessera_oracle::expected(k, &sub).map_err(|e| e.to_string())?;
        let (_, v) = vals
            .into_iter()
            .find(|(p, _)| p == out)
            .ok_or("the reference returned no output")?;
        if v.len() != rows.len() * cols.len() {
            return Err(format!(
                "the reference returned {} values for a {}x{} block",
                v.len(),
                rows.len(),
                cols.len()
            ));
        }
        for (ri, &i) in rows.iter().enumerate() {
            for (ci, &j) in cols.iter().enumerate() {
                full[i * n + j] = v[ri * cols.len() + ci];
            }
        }
    }
    Ok(vec![(*out, full)])
}

/// `b` with every tensor gathered to `rows` along axes of dim `d0` and `cols` along axes of dim `d1`
/// (the output becomes a zeroed `[rows, cols]` buffer), and the two dims rebound.
fn restrict(
    k: &Kernel,
    b: &Bindings,
    out: usize,
    (d0, rows): (&str, &[usize]),
    (d1, cols): (&str, &[usize]),
) -> Result<Bindings, String> {
    let mut sub = b.clone();
    for (i, (p, a)) in k.params.iter().zip(&b.args).enumerate() {
        let (ParamKind::Tensor { ty, .. }, ArgValue::Tensor(t)) = (&p.kind, a) else {
            continue;
        };
        let mut t = t.clone();
        for (ax, d) in ty.dims.iter().enumerate() {
            let idx = match d {
                Dim::Sym(s) if s == d0 => rows,
                Dim::Sym(s) if s == d1 => cols,
                Dim::CeilDiv(s, _) if s == d0 || s == d1 => {
                    return Err(format!(
                        "`{}` is blocked along {s}: no row/column sub-problem",
                        p.name
                    ));
                }
                _ => continue,
            };
            if i == out {
                continue;
            }
            t.data = gather(&t.data, ax, idx).map_err(|e| format!("`{}`: {e}", p.name))?;
            if let (Some(s), Some(spec)) = (&t.scale, &ty.scale) {
                if spec.layout != ScaleLayout::Linear && spec.layout != ScaleLayout::HopperRegister {
                    return Err(format!(
                        "`{}` has {} scales: no row/column sub-problem",
                        p.name,
                        spec.layout.name()
                    ));
                }
                if spec.block.get(ax).copied().unwrap_or(1) != 1 {
                    return Err(format!(
                        "`{}` is scale-blocked along axis {ax}: no row/column sub-problem",
                        p.name
                    ));
                }
                t.scale = Some(gather(s, ax, idx).map_err(|e| format!("`{}` scales: {e}", p.name))?);
            }
        }
        if i == out {
            let shape = vec![rows.len(), cols.len()];
            let bytes = vec![0; TensorBuf::expected_bytes(t.data.dtype, &shape, t.data.packed_axis)];
            t.data = TensorBuf {
                dtype: t.data.dtype,
                shape,
                packed_axis: t.data.packed_axis,
                bytes,
            };
            t.scale = None;
        }
        sub.args[i] = ArgValue::Tensor(t);
    }
    for (name, v) in sub.syms.iter_mut() {
        if name == d0 {
            *v = rows.len() as i64;
        } else if name == d1 {
            *v = cols.len() as i64;
        }
    }
    Ok(sub)
}

/// The slices `idx` of `buf` along `axis` (row-major bytes; FP4 only along an unpacked axis).
pub fn gather(buf: &TensorBuf, axis: usize, idx: &[usize]) -> Result<TensorBuf, String> {
    let mut byte_shape = buf.shape.clone();
    let elem = match (buf.dtype.byte_size(), buf.packed_axis) {
        (Some(e), _) => e,
        (None, Some(p)) if p != axis && p < byte_shape.len() => {
            byte_shape[p] = byte_shape[p].div_ceil(2);
            1
        }
        _ => {
            return Err(format!(
                "cannot gather {} along its packed axis {axis}",
                buf.dtype
            ));
        }
    };
    let dim = *byte_shape
        .get(axis)
        .ok_or_else(|| format!("axis {axis} outside shape {:?}", buf.shape))?;
    if let Some(bad) = idx.iter().find(|i| **i >= dim) {
        return Err(format!("index {bad} outside dim {dim}"));
    }
    let outer: usize = byte_shape[..axis].iter().product();
    let inner: usize = byte_shape[axis + 1..].iter().product::<usize>() * elem;
    if buf.bytes.len() != outer * dim * inner {
        return Err(format!(
            "buffer of {} bytes for shape {:?}",
            buf.bytes.len(),
            buf.shape
        ));
    }
    let mut bytes = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in idx {
            let at = (o * dim + i) * inner;
            bytes.extend_from_slice(&buf.bytes[at..at + inner]);
        }
    }
    let mut shape = buf.shape.clone();
    shape[axis] = idx.len();
    Ok(TensorBuf {
        dtype: buf.dtype,
        shape,
        packed_axis: buf.packed_axis,
        bytes,
    })
}
