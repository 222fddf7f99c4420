//! `--arg name=FILE.npy` / `--out` in the runner without a GPU: inputs read from `.npy` files bind
//! the dims and become the launch's bindings (seen through `Loaded`, which `run`, `validate`,
//! `bench` and `plan` all start from), and every mistake F11 found is a coded error.

use std::path::PathBuf;
use tessera_bundle::{AbiArg, BUNDLE_FORMAT_VERSION, Bundle, BundleMeta, TensorPart};
use tessera_ir::{DType, DimExpr};
use tessera_numerics::{ArgValue, TensorBuf, write_npy};
use tessera_runner::{Common, Loaded, OutSpec};

const SRC: &str = "kernel scale_add(x: f32[M, N], alpha: f32, y: out f32[M, N]) tiles(BM = 32, BN = 32) \
    grid(cdiv(M, BM), cdiv(N, BN)) {
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    store(y[m0 .. +BM, n0 .. +BN], load(x[m0 .. +BM, n0 .. +BN]) * alpha);
}";

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn setup(name: &str) -> (Tmp, PathBuf) {
    let (m, diags) = tessera_check::check_source("k.tsr", SRC.as_bytes());
    let m = m.unwrap_or_else(|| panic!("{diags:?}"));
    let k = m.kernels[0].clone();
    let cdiv = |s: &str| DimExpr::CeilDiv(Box::new(DimExpr::Sym(s.into())), Box::new(DimExpr::Const(32)));
    let abi = vec![
        AbiArg::Ptr {
            param: "x".into(),
            part: TensorPart::Data,
        },
        AbiArg::ScalarF32 {
            param: "alpha".into(),
        },
        AbiArg::Ptr {
            param: "y".into(),
            part: TensorPart::Data,
        },
        AbiArg::SymI32 { sym: "M".into() },
        AbiArg::SymI32 { sym: "N".into() },
    ];
    let b = Bundle {
        meta: BundleMeta {
            format_version: BUNDLE_FORMAT_VERSION,
            kernel: k.name.clone(),
            entry: k.name.clone(),
            target: "sm_90a".into(),
            source_file: "k.tsr".into(),
            source_sha256: tessera_bundle::sha256_hex(SRC.as_bytes()),
            tiles: vec![("BM".into(), 32), ("BN".into(), 32)],
            grid: vec![cdiv("M"), cdiv("N")],
            block: [128, 1, 1],
            dynamic_shared_bytes: 0,
            ptx: None,
            cubin: None,
            hsaco: None,
            tile_ir: String::new(),
            index_bits: 64,
            abi: abi.clone(),
        },
        ptx: Some(tessera_bundle::ptx::stub("sm_90a", &k.name, &abi)),
        cubin: None,
        hsaco: None,
        tile_ir: tessera_ir::print_module(&m),
        report_txt: None,
        report_json: None,
    };
    let dir = std::env::temp_dir().join(format!("tessera-runner-args-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    b.write(&dir.join("bundle")).unwrap();
    let x = TensorBuf {
        dtype: DType::F32,
        shape: vec![40, 24],
        packed_axis: None,
        bytes: (0..40 * 24).flat_map(|i| (i as f32).to_le_bytes()).collect(),
    };
    write_npy(&dir.join("x.npy"), &x).unwrap();
    (Tmp(dir.clone()), dir)
}

fn common(dir: &std::path::Path, args: &[&str]) -> Common {
    Common {
        bundle_dir: dir.join("bundle"),
        args: args
            .iter()
            .map(|a| a.replace("$D", &dir.display().to_string()))
            .collect(),
        seed: 3,
        ..Common::default()
    }
}

#[test]
fn npy_inputs_bind_dims_and_are_the_bindings() {
    let (_t, d) = setup("ok");
    let l = Loaded::new(&common(&d, &["x=$D/x.npy", "alpha=2.5"])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.syms, vec![("M".to_string(), 40), ("N".to_string(), 24)]);
    let ArgValue::Tensor(x) = &l.bindings.args[0] else {
        panic!()
    };
    assert_eq!(x.data.shape, vec![40, 24]);
    assert_eq!(&x.data.bytes[4..8], &1f32.to_le_bytes());
    assert_eq!(l.bindings.args[1], ArgValue::Scalar(2.5));
    // plan (no GPU) runs from the same data
    let plan = tessera_runner::plan_bundle(&common(&d, &["x=$D/x.npy", "alpha=2.5"])).unwrap();
    assert!(plan.join("\n").contains("M=40"), "{plan:?}");
}

fn err(d: &std::path::Path, args: &[&str]) -> String {
    match Loaded::new(&common(d, args)) {
        Ok(_) => panic!("{args:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn f11_mistakes_are_coded_errors() {
    let (_t, d) = setup("f11");
    let cases: &[(&[&str], &str)] = &[
        (&["x=$D/x.npy", "alpha=1", "y=$D/x.npy"], "error[E0511]"),
        (&["x=$D/x.npy", "x=$D/none.npy", "alpha=1"], "error[E0511]"),
        (&["x=$D/x.npy", "x.scale=$D/x.npy", "alpha=1"], "error[E0508]"),
        (&["x=$D/x.npy"], "error[E0511]"),
        (&["x=$D/x.npy", "alpha=1", "beta=1"], "error[E0511]"),
        (&["x=/dev/zero", "alpha=1"], "error[E0509]"),
    ];
    for (args, code) in cases {
        let e = err(&d, args);
        assert!(e.starts_with(code), "{args:?}: {e}");
    }
    // --dim that contradicts a file
    let mut c = common(&d, &["x=$D/x.npy", "alpha=1"]);
    c.dims = vec!["M=64".into()];
    let e = Loaded::new(&c).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("error[E0502]"), "{e}");
}

#[test]
fn out_spec_checks_names() {
    let (_t, d) = setup("out");
    let l = Loaded::new(&common(&d, &["x=$D/x.npy", "alpha=1"])).unwrap();
    let ok = OutSpec::parse(&["y=/tmp/y.npy".into()]).unwrap();
    assert!(ok.check(&l.kernel).is_ok());
    for (o, code) in [
        ("x=/tmp/x.npy", "E0511"),
        ("y.scale=/tmp/s.npy", "E0508"),
        ("z=/tmp/z.npy", "E0511"),
    ] {
        let e = OutSpec::parse(&[o.into()])
            .unwrap()
            .check(&l.kernel)
            .unwrap_err()
            .to_string();
        assert!(e.contains(code), "{o}: {e}");
    }
    assert!(OutSpec::parse(&["y=a.npy".into(), "y=b.npy".into()]).is_err());
    // writing outputs (no launch): the poisoned output goes to the named file
    let f = d.join("y.npy");
    let spec = OutSpec::parse(&[format!("y={}", f.display())]).unwrap();
    tessera_runner::run::write_outputs(&l.kernel, &l.bindings, &spec).unwrap();
    let back = tessera_numerics::read_npy(&f, DType::F32, None, None).unwrap();
    assert_eq!(back.shape, vec![40, 24]);
}
