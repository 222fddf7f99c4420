//! The example end to end: on a GPU the results must match the CPU; without one the launches are
//! skipped (said at run time) and the argument checks still run.

#[test]
fn example_runs_or_skips_with_a_reason() {
    let r = tessera_examples::run(100, 200).unwrap_or_else(|e| panic!("{e}"));
    for l in &r.lines {
        eprintln!("{l}");
    }
    if !r.launched {
        eprintln!("skipped the GPU part: no CUDA device here");
        assert!(r.lines.iter().any(|l| l.contains("skipped")));
    }
    assert!(
        r.lines.iter().any(|l| l.contains("grid [4, 4, 1]")),
        "{:?}",
        r.lines
    );
}
