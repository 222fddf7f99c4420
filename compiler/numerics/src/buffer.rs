//! Host tensors in the byte layout the device sees, so the same bytes feed the interpreter, the
//! reference and a GPU launch: bf16/f16 as little-endian u16, f32/i32 as little-endian 4 bytes,
//! narrow floats and block scales as one u8 code per element, except FP4 which is packed two codes
//! per byte along the tensor's packed axis (element 2i in the low nibble).

use tessera_ir::DType;

/// A dense row-major tensor in device storage format.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorBuf {
    pub dtype: DType,
    /// Logical shape in elements (for FP4, elements, not bytes).
    pub shape: Vec<usize>,
    /// FP4 only: the axis packed two per byte (its byte extent is `ceil(shape[axis] / 2)`).
    pub packed_axis: Option<usize>,
    pub bytes: Vec<u8>,
}

impl TensorBuf {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes a buffer of this dtype/shape/packing must have.
    pub fn expected_bytes(dtype: DType, shape: &[usize], packed_axis: Option<usize>) -> usize {
        match (dtype, packed_axis) {
            (DType::F4E2M1, Some(ax)) if ax < shape.len() => {
                let mut s = shape.to_vec();
                s[ax] = s[ax].div_ceil(2);
                s.iter().product()
            }
            (d, _) => d.storage_bytes(shape.iter().product()),
        }
    }
}

/// One tensor argument: its data and, for scaled tensor types, the block scales (in the layout the
/// kernel's type names) and the NV per-tensor f32 scale.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorArg {
    pub data: TensorBuf,
    pub scale: Option<TensorBuf>,
    pub global_scale: Option<f32>,
}

/// The value bound to one kernel parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    Tensor(TensorArg),
    /// A scalar parameter (ints are exact in f64 up to 2^53).
    Scalar(f64),
}

/// Arguments for one launch, in kernel parameter order, plus the symbolic dims they bind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bindings {
    pub args: Vec<ArgValue>,
    /// `(name, value)` for each of `Kernel::syms`, in that order.
    pub syms: Vec<(String, i64)>,
}

impl Bindings {
    pub fn sym(&self, name: &str) -> Option<i64> {
        self.syms.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}
