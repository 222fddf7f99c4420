//! Temporary: real bundles through the validation path with the interpreter as the device.
use tessera_interp::ProgramSet;
use tessera_runner::validate::validate_outputs;
use tessera_runner::{Common, Loaded, ValidateOptions, problem};

#[test]
#[ignore]
fn real() {
    for (dir, dims) in [
        ("/work/main/.gpu/bundles/gemm_fp8", ["M=100", "N=704", "K=320"]),
        ("/work/main/.gpu/bundles/gemm_bf16", ["M=100", "N=704", "K=320"]),
        ("/tmp/bb_gemm_fp8_blockscale", ["M=1000", "N=1000", "K=1024"]),
        ("/work/main/.gpu/bundles/gemm_fp8", ["M=1000", "N=1000", "K=1024"]),
    ] {
        let c = Common { bundle_dir: dir.into(), dims: dims.iter().map(|s| s.to_string()).collect(), scalars: vec![], seed: 7, backend: None };
        let l = Loaded::new(&c).unwrap();
        let mut fake = problem::repoison(&l.kernel, &l.bindings).unwrap();
        tessera_interp::run(&l.kernel, &mut fake, ProgramSet::All).unwrap();
        for opts in [ValidateOptions::default(), ValidateOptions { spot_tiles: 6, full_interp_flops: 0.0 }] {
            let row = validate_outputs(&l, "fake".into(), &fake, &opts, 7).unwrap();
            eprintln!("{}\n  {:?}", row.line(), row.detail_lines());
            assert!(row.pass);
        }
    }
}
