//! Runtime values of one program instance: tiles (scalars are rank-0 tiles) holding f32 for float
//! dtypes — always exactly representable in the value's dtype, because every op rounds its result
//! to it — and i64 for integer/boolean dtypes. Scaled tiles carry their *decoded element values*
//! and, separately, their decoded block scales (and NV global scale), so dots can apply scales per
//! K-block exactly as the contract says.

use tessera_ir::DType;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    F(Vec<f32>),
    I(Vec<i64>),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::F(v) => v.len(),
            Data::I(v) => v.len(),
        }
    }
}

/// Block scales of a scaled tile.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scales {
    /// Block extent per tile dim (1 = not blocked).
    pub block: Vec<usize>,
    /// Scale-tile shape: `ceil(shape / block)`.
    pub shape: Vec<usize>,
    pub v: Vec<f32>,
    pub global: Option<f32>,
    /// Per tile dim: the source tensor's extent along it is a whole number of blocks (dots refuse
    /// to contract over a partial trailing block).
    pub whole: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tile {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Data,
    pub scale: Option<Scales>,
}

impl Tile {
    pub fn scalar_i(dtype: DType, v: i64) -> Tile {
        Tile {
            dtype,
            shape: Vec::new(),
            data: Data::I(vec![v]),
            scale: None,
        }
    }

    pub fn scalar_f(dtype: DType, v: f32) -> Tile {
        Tile {
            dtype,
            shape: Vec::new(),
            data: Data::F(vec![v]),
            scale: None,
        }
    }

    pub fn floats(dtype: DType, shape: Vec<usize>, v: Vec<f32>) -> Tile {
        Tile {
            dtype,
            shape,
            data: Data::F(v),
            scale: None,
        }
    }

    pub fn ints(dtype: DType, shape: Vec<usize>, v: Vec<i64>) -> Tile {
        Tile {
            dtype,
            shape,
            data: Data::I(v),
            scale: None,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The single value of a rank-0 (or one-element) integer tile.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.data {
            Data::I(v) if v.len() == 1 => Some(v[0]),
            _ => None,
        }
    }

    pub fn as_f32(&self) -> Option<f32> {
        match &self.data {
            Data::F(v) if v.len() == 1 => Some(v[0]),
            Data::I(v) if v.len() == 1 => Some(v[0] as f32),
            _ => None,
        }
    }
}

/// Row-major strides of a shape.
/// Calls `f(flat, multi_index)` for every element of a row-major `shape`, in order.
pub(crate) fn for_each_index(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let n: usize = shape.iter().product();
    let mut idx = vec![0usize; shape.len()];
    for flat in 0..n {
        f(flat, &idx);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Integer results wrap to the width of their dtype (two's complement, as the hardware does).
pub(crate) fn wrap_int(dtype: DType, v: i64) -> i64 {
    match dtype {
        DType::I32 => v as i32 as i64,
        DType::I8 => v as i8 as i64,
        DType::I1 => v & 1,
        _ => v,
    }
}
