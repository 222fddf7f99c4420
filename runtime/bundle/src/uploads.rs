//! The device copies of one launch's tensor buffers, generic over the backend's buffer type: both
//! runtimes upload every data and scale buffer of the bindings, look them up by (parameter, part) to
//! fill ABI slots, and copy outputs (data and scales) back the same way; only the device calls differ.

use crate::TensorPart;
use tessera_numerics::{ArgValue, Bindings};

/// What the shared code needs of a backend's device buffer.
pub trait DeviceMemory {
    type Error;
    /// The buffer's device address, as placed in a kernel parameter slot.
    fn device_addr(&self) -> u64;
    /// Copy the whole buffer back into `out` (the host buffer it was uploaded from).
    fn download_into(&self, out: &mut [u8]) -> Result<(), Self::Error>;
}

/// Device copies of every tensor buffer (data, and scales where bound) of one launch's bindings.
pub struct Uploads<B> {
    buffers: Vec<(usize, TensorPart, B)>,
}

impl<B: DeviceMemory> Uploads<B> {
    /// Upload each tensor of `bindings` in parameter order, data before scales.
    pub fn new(
        bindings: &Bindings,
        mut upload: impl FnMut(&[u8]) -> Result<B, B::Error>,
    ) -> Result<Uploads<B>, B::Error> {
        let mut buffers = Vec::new();
        for (i, a) in bindings.args.iter().enumerate() {
            if let ArgValue::Tensor(t) = a {
                buffers.push((i, TensorPart::Data, upload(&t.data.bytes)?));
                if let Some(s) = &t.scale {
                    buffers.push((i, TensorPart::Scale, upload(&s.bytes)?));
                }
            }
        }
        Ok(Uploads { buffers })
    }

    /// The device address of buffer `part` of parameter `param`, if it was uploaded.
    pub fn addr(&self, param: usize, part: TensorPart) -> Option<u64> {
        self.buffers
            .iter()
            .find(|(i, q, _)| *i == param && *q == part)
            .map(|b| b.2.device_addr())
    }

    /// Copy the buffers of `outputs` (parameter indices; data, and block scales where the output
    /// has them) back into `bindings`. `invalid` builds
    /// the backend's error for an output index that is not a tensor parameter.
    pub fn download_outputs(
        &self,
        outputs: &[usize],
        bindings: &mut Bindings,
        invalid: impl Fn(String) -> B::Error,
    ) -> Result<(), B::Error> {
        for &o in outputs {
            let Some(ArgValue::Tensor(t)) = bindings.args.get_mut(o) else {
                return Err(invalid(format!("output {o} is not a tensor parameter")));
            };
            // A scaled output's kernel writes its block scales too: both parts come back.
            for (i, part, b) in &self.buffers {
                if *i != o {
                    continue;
                }
                match (part, &mut t.scale) {
                    (TensorPart::Data, _) => b.download_into(&mut t.data.bytes)?,
                    (TensorPart::Scale, Some(s)) => b.download_into(&mut s.bytes)?,
                    (TensorPart::Scale, None) => {
                        return Err(invalid(format!(
                            "output {o} has a device scale buffer but no host one"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}
