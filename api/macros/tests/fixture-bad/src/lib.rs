// A kernel with a mistake: `q` is not defined (line 7). `cargo build` of this crate must fail
// with the Tessera diagnostic code, reported at src/lib.rs:7.
tessera_macros::kernel! {
    kernel copy(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {
        let i = program_id(0) * B;
        store(y[i .. +B],
              load(q[i .. +B]));
    }
}
