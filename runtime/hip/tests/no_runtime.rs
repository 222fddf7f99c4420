//! The HIP backend on a machine without ROCm: typed, readable errors, never a panic.

use std::path::PathBuf;
use tessera_hip::{Device, HipApi, HipError};

#[test]
fn a_missing_runtime_library_is_reported_as_no_hip_runtime() {
    let e = Device::open_with(&[PathBuf::from("/nonexistent/libamdhip64.so")], 0).unwrap_err();
    assert!(matches!(e, HipError::NoRuntime { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("no HIP runtime / no AMD GPU: libamdhip64.so not found"),
        "{msg}"
    );
    assert!(msg.contains("/nonexistent/libamdhip64.so"), "{msg}");
}

#[test]
fn a_library_that_is_not_hip_is_a_missing_symbol_error() {
    // libm exists on every glibc system and has no HIP entry points.
    let e = HipApi::load(&[PathBuf::from("libm.so.6")]).unwrap_err();
    assert!(
        matches!(
            e,
            HipError::MissingSymbol {
                symbol: "hipInit",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn default_lookup_on_this_machine_agrees_with_the_filesystem() {
    let rocm = tessera_hip::candidates().iter().any(|c| c.is_absolute() && c.exists())
        // SAFETY: probing the loader path for the HIP runtime.
        || unsafe { libloading::Library::new("libamdhip64.so") }.is_ok();
    match Device::open(0) {
        Ok(d) => assert!(rocm && !d.name.is_empty()),
        Err(e) => {
            assert!(e.to_string().starts_with("no HIP runtime / no AMD GPU"), "{e}");
            assert!(!tessera_hip::device_available());
        }
    }
}
