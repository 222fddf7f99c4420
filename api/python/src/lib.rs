//! `tessera._tessera`: the Rust half of `import tessera` (PyO3, abi3). It knows nothing of torch:
//! the Python half (tessera/__init__.py) checks torch tensors and passes data pointers, shapes and
//! dtype names; this half checks them against the kernel's signature (the same coded errors as the
//! Rust API) and launches on the given raw stream (torch's current stream).

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

pyo3::create_exception!(
    _tessera,
    TesseraError,
    PyException,
    "A Tessera error; `.code` is its diagnostics code."
);

fn err(e: tessera::Error) -> PyErr {
    let text = e.to_string();
    Python::attach(|py| {
        let ex = TesseraError::new_err(text);
        let _ = ex.value(py).setattr("code", e.code.clone());
        ex
    })
}

fn dtype(name: &str) -> PyResult<tessera::DType> {
    tessera::DType::ALL
        .iter()
        .copied()
        .find(|d| d.name() == name)
        .ok_or_else(|| TesseraError::new_err(format!("unknown Tessera dtype {name:?}")))
}

/// A loaded kernel.
#[pyclass(name = "Kernel", module = "tessera._tessera", frozen)]
struct PyKernel {
    k: tessera::Kernel,
}

fn dim_value(py: Python<'_>, d: &tessera::Dim) -> PyResult<Py<PyAny>> {
    Ok(match d {
        tessera::Dim::Const(c) => c.into_pyobject(py)?.into_any().unbind(),
        tessera::Dim::Sym(s) => s.into_pyobject(py)?.into_any().unbind(),
        tessera::Dim::CeilDiv(s, by) => format!("cdiv({s}, {by})").into_pyobject(py)?.into_any().unbind(),
    })
}

/// One argument from Python: ("t", ptr, dtype, shape, scale_ptr, scale_shape, global) or ("s", value).
fn arg(item: &Bound<'_, PyAny>) -> PyResult<tessera::Arg> {
    let t = item.cast::<PyTuple>()?;
    let tag: String = t.get_item(0)?.extract()?;
    if tag == "s" {
        return Ok(tessera::Arg::Scalar(t.get_item(1)?.extract()?));
    }
    let ptr: u64 = t.get_item(1)?.extract()?;
    let dt: String = t.get_item(2)?.extract()?;
    let shape: Vec<usize> = t.get_item(3)?.extract()?;
    let mut d = tessera::DeviceTensor::new(ptr, dtype(&dt)?, &shape);
    let sp: Option<u64> = t.get_item(4)?.extract()?;
    let ss: Option<Vec<usize>> = t.get_item(5)?.extract()?;
    if let (Some(p), Some(s)) = (sp, ss) {
        d = d.with_scale(p, &s);
    }
    let g: Option<f32> = t.get_item(6)?.extract()?;
    if let Some(g) = g {
        d = d.with_global_scale(g);
    }
    Ok(tessera::Arg::Tensor(d))
}

fn args(list: &Bound<'_, PyList>) -> PyResult<Vec<tessera::Arg>> {
    list.iter().map(|i| arg(&i)).collect()
}

#[pymethods]
impl PyKernel {
    #[getter]
    fn name(&self) -> String {
        self.k.name().to_string()
    }

    #[getter]
    fn target(&self) -> String {
        self.k.target().to_string()
    }

    /// `name(x: f32[M, N], ...)`.
    fn signature_text(&self) -> String {
        self.k.signature().display()
    }

    /// The signature as a list of dicts: name, kind ("tensor"/"scalar"), dtype, dims, out,
    /// scale ({dtype, block, layout} or None), global_param, packed_axis.
    fn signature<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for p in &self.k.signature().params {
            let d = PyDict::new(py);
            d.set_item("name", &p.name)?;
            match &p.kind {
                tessera::ParamSigKind::Scalar(dt) => {
                    d.set_item("kind", "scalar")?;
                    d.set_item("dtype", dt.name())?;
                }
                tessera::ParamSigKind::Tensor(t) => {
                    d.set_item("kind", "tensor")?;
                    d.set_item("dtype", t.dtype.name())?;
                    let dims = PyList::empty(py);
                    for dim in &t.dims {
                        dims.append(dim_value(py, dim)?)?;
                    }
                    d.set_item("dims", dims)?;
                    d.set_item("out", t.is_out)?;
                    d.set_item("packed_axis", t.packed_axis)?;
                    d.set_item("global_param", t.global_param.clone())?;
                    match &t.scale {
                        Some(s) => {
                            let sd = PyDict::new(py);
                            sd.set_item("dtype", s.scale_dtype.name())?;
                            sd.set_item("block", s.block.clone())?;
                            sd.set_item("layout", s.layout.name())?;
                            sd.set_item("global", s.global)?;
                            d.set_item("scale", sd)?;
                        }
                        None => d.set_item("scale", py.None())?,
                    }
                }
            }
            out.append(d)?;
        }
        Ok(out)
    }

    /// Check the arguments and plan the launch (no GPU): {"dims": {...}, "grid": [x, y, z]}.
    fn bind<'py>(&self, py: Python<'py>, a: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyDict>> {
        let b = self.k.bind(&args(a)?).map_err(err)?;
        let d = PyDict::new(py);
        let dims = PyDict::new(py);
        for (n, v) in &b.dims {
            dims.set_item(n, v)?;
        }
        d.set_item("dims", dims)?;
        d.set_item("grid", b.plan.grid.to_vec())?;
        d.set_item("block", b.plan.block.to_vec())?;
        Ok(d)
    }

    /// Launch on a raw CUDA stream handle of device `device` (asynchronous). Called by the Python
    /// half with torch's current stream and checked tensors; calling it directly with other
    /// pointers is as unsafe as any raw CUDA launch.
    fn launch(&self, a: &Bound<'_, PyList>, stream: u64, device: usize) -> PyResult<()> {
        let a = args(a)?;
        // SAFETY: the Python half passes torch's current stream of the tensors' device and the
        // data pointers of CUDA tensors it checked (device, contiguity, dtype, shape).
        unsafe { self.k.launch_raw(tessera::RawStream { stream, device }, &a) }.map_err(err)
    }

    fn write_bundle(&self, dir: &str) -> PyResult<()> {
        self.k.write_bundle(dir).map_err(err)
    }

    fn __repr__(&self) -> String {
        format!(
            "<tessera.Kernel {} for {}>",
            self.k.signature().display(),
            self.k.target()
        )
    }
}

/// Load a bundle directory written by `tessera build` (no compiler needed).
#[pyfunction]
fn load_bundle(dir: &str) -> PyResult<PyKernel> {
    tessera::Kernel::load_bundle(dir)
        .map(|k| PyKernel { k })
        .map_err(err)
}

/// Compile (through the on-disk cache); only in a build with the `compile` feature. A runtime-only
/// build loads what a compiling build left in the cache.
#[pyfunction]
#[pyo3(signature = (source, kernel=None, target="sm_90a"))]
fn compile(source: &str, kernel: Option<&str>, target: &str) -> PyResult<PyKernel> {
    tessera::kernel_for_source("<python>.tsr", source, kernel, target)
        .map(|k| PyKernel { k })
        .map_err(err)
}

/// Whether a CUDA device can be opened.
#[pyfunction]
fn cuda_available() -> bool {
    tessera::cuda_available()
}

#[pymodule]
fn _tessera(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKernel>()?;
    m.add_function(wrap_pyfunction!(load_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(cuda_available, m)?)?;
    m.add("TesseraError", m.py().get_type::<TesseraError>())?;
    m.add("COMPILER", cfg!(feature = "compile"))?;
    Ok(())
}
