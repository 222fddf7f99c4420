#![cfg(feature = "compile")]
//! The library API without a GPU: compile (and the on-disk cache), the typed signature, argument
//! checking with dim inference, coded errors, bundles loaded without a compiler, build.rs output.

use std::path::PathBuf;
use tessera::{Arg, DType, DeviceTensor, ErrorKind, Kernel, Options};

const EW: &str = "kernel scale_add(x: f32[M, N], b: f32[N], alpha: f32, y: out f32[M, N])
    tiles(BM = 32, BN = 32) grid(cdiv(M, BM), cdiv(N, BN)) {
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    let t = load(x[m0 .. +BM, n0 .. +BN]) * alpha;
    store(y[m0 .. +BM, n0 .. +BN], t + load(b[n0 .. +BN])[None, :]);
}
";

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn tmp(name: &str) -> Tmp {
    let d = std::env::temp_dir().join(format!("tessera-api-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    Tmp(d)
}

fn opts(cache: &Tmp) -> Options {
    Options {
        cache_dir: Some(cache.0.clone()),
        ptxas: false,
        ..Options::default()
    }
}

fn kernel(cache: &Tmp) -> Kernel {
    tessera::compile(EW, None, "sm_90a", &opts(cache)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn cache_hits_on_the_same_key_and_misses_on_any_change() {
    let c = tmp("cache");
    let first = kernel(&c);
    assert!(!first.from_cache());
    let second = kernel(&c);
    assert!(
        second.from_cache(),
        "the second compile must load the cached bundle"
    );
    assert_eq!(first.bundle().ptx, second.bundle().ptx);
    // another process: the entry is a plain bundle directory
    assert_eq!(std::fs::read_dir(&c.0).map(|d| d.count()).unwrap_or(0), 1);
    let changed_opts = Options {
        verify_each: true,
        ..opts(&c)
    };
    assert!(
        !tessera::compile(EW, None, "sm_90a", &changed_opts)
            .unwrap()
            .from_cache()
    );
    let changed_src = format!("{EW}\n// a comment changes the key\n");
    assert!(
        !tessera::compile(&changed_src, None, "sm_90a", &opts(&c))
            .unwrap()
            .from_cache()
    );
    assert!(
        tessera::compile(&changed_src, None, "sm_90a", &opts(&c))
            .unwrap()
            .from_cache()
    );
    let no_cache = Options {
        no_cache: true,
        ..opts(&c)
    };
    assert!(
        !tessera::compile(EW, None, "sm_90a", &no_cache)
            .unwrap()
            .from_cache()
    );
    // the key separates every field
    let k = |s: &[u8], n: Option<&str>, t: &str, o: &str| tessera::cache::key(s, n, t, o);
    let base = k(b"src", None, "sm_90a", "o");
    for other in [
        k(b"src2", None, "sm_90a", "o"),
        k(b"src", Some("k"), "sm_90a", "o"),
        k(b"src", None, "sm_100a", "o"),
        k(b"src", None, "sm_90a", "o2"),
    ] {
        assert_ne!(base, other);
    }
    // a corrupt entry is a miss, then rebuilt
    let entry = tessera::cache::entry(
        &c.0,
        &tessera::cache::key(EW.as_bytes(), None, "sm_90a", &opts(&c).key_text()),
    );
    std::fs::write(entry.join("meta.json"), "{").unwrap();
    assert!(!kernel(&c).from_cache());
    assert!(kernel(&c).from_cache());
}

#[test]
fn signature_is_typed() {
    let c = tmp("sig");
    let k = kernel(&c);
    let s = k.signature();
    assert_eq!(s.dims, vec!["M".to_string(), "N".to_string()]);
    assert_eq!(
        s.display(),
        "scale_add(x: f32[M, N], b: f32[N], alpha: f32, y: out f32[M, N])"
    );
    let tessera::ParamSigKind::Tensor(y) = &s.param("y").unwrap().kind else {
        panic!()
    };
    assert!(y.is_out && y.scale.is_none());
}

fn t(ptr: u64, dtype: DType, shape: &[usize]) -> Arg {
    DeviceTensor::new(ptr, dtype, shape).into()
}

#[test]
fn bind_infers_dims_and_plans_the_launch() {
    let c = tmp("bind");
    let k = kernel(&c);
    let args = [
        t(0x1000, DType::F32, &[100, 70]),
        t(0x2000, DType::F32, &[70]),
        2.5f32.into(),
        t(0x3000, DType::F32, &[100, 70]),
    ];
    let b = k.bind(&args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.dims, vec![("M".to_string(), 100), ("N".to_string(), 70)]);
    assert_eq!(b.plan.grid, [4, 3, 1]);
    assert_eq!(b.addr(3, tessera::TensorPart::Data), Some(0x3000));
}

#[test]
fn bind_errors_carry_codes() {
    let c = tmp("errs");
    let k = kernel(&c);
    let ok = || {
        vec![
            t(1, DType::F32, &[100, 70]),
            t(2, DType::F32, &[70]),
            Arg::Scalar(1.0),
            t(3, DType::F32, &[100, 70]),
        ]
    };
    let cases: Vec<(Vec<Arg>, &str)> = vec![
        (ok()[..3].to_vec(), "E0511"),
        (
            {
                let mut a = ok();
                a[0] = t(1, DType::BF16, &[100, 70]);
                a
            },
            "E0511",
        ),
        (
            {
                let mut a = ok();
                a[1] = t(2, DType::F32, &[71]);
                a
            },
            "E0502",
        ),
        (
            {
                let mut a = ok();
                a[0] = t(1, DType::F32, &[100]);
                a
            },
            "E0502",
        ),
        (
            {
                let mut a = ok();
                a[2] = t(9, DType::F32, &[1]);
                a
            },
            "E0511",
        ),
        (
            {
                let mut a = ok();
                a[0] = Arg::Scalar(0.0);
                a
            },
            "E0511",
        ),
        (
            {
                let mut a = ok();
                a[0] = DeviceTensor::new(1, DType::F32, &[100, 70])
                    .with_scale(5, &[4, 3])
                    .into();
                a
            },
            "E0508",
        ),
    ];
    for (i, (args, code)) in cases.into_iter().enumerate() {
        let e = k
            .bind(&args)
            .err()
            .unwrap_or_else(|| panic!("case {i} was accepted"));
        assert_eq!(e.code, code, "case {i}: {e}");
        assert_eq!(e.kind, ErrorKind::Signature);
        assert!(e.to_string().starts_with(&format!("error[{code}]")), "{e}");
    }
}

#[test]
fn compile_errors_are_the_checker_diagnostics() {
    let bad = "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    store(y[0 .. +B], load(q[0 .. +B]));\n}\n";
    let e = tessera::compile(
        bad,
        None,
        "sm_90a",
        &Options {
            no_cache: true,
            ..Options::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Compile);
    assert!(e.code.starts_with('E'), "{e:?}");
    assert!(
        e.message.contains("<source>.tsr:2:"),
        "the span is rendered: {}",
        e.message
    );
    let e = tessera::compile(
        EW,
        None,
        "sm_80",
        &Options {
            no_cache: true,
            ..Options::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code, "E0902", "{e}");
}

#[test]
fn bundles_load_without_the_compiler_and_build_rs_embeds_them() {
    let c = tmp("bundle");
    let k = kernel(&c);
    let dir = c.0.join("out");
    k.write_bundle(&dir).unwrap();
    let back = Kernel::load_bundle(&dir).unwrap();
    assert_eq!(back.signature(), k.signature());
    let parts = Kernel::from_parts(
        &std::fs::read_to_string(dir.join("meta.json")).unwrap(),
        &std::fs::read_to_string(dir.join("kernel.tir")).unwrap(),
        k.bundle().ptx.as_deref(),
        None,
    )
    .unwrap();
    assert_eq!(parts.signature(), k.signature());
    // build.rs helper
    let src = c.0.join("ew.tsr");
    std::fs::write(&src, EW).unwrap();
    let mut spec = tessera::build::KernelSpec::new("ew.tsr", "sm_90a").name("ew");
    spec.options.ptxas = false;
    let rs = tessera::build::compile_kernels_into(&[spec], &c.0, &c.0.join("gen")).unwrap();
    let text = std::fs::read_to_string(rs).unwrap();
    assert!(
        text.contains("pub mod ew") && text.contains("include_str!"),
        "{text}"
    );
}
