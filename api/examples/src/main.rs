//! `tessera-example [M N]`: run the Rust embedding examples (see the library docs). Exit 0 when the
//! GPU results match the CPU, or when there is no GPU and the launches were skipped (it says so).

fn main() -> std::process::ExitCode {
    let a: Vec<usize> = std::env::args().skip(1).filter_map(|s| s.parse().ok()).collect();
    let (m, n) = (
        a.first().copied().unwrap_or(100),
        a.get(1).copied().unwrap_or(200),
    );
    match tessera_examples::run(m, n) {
        Ok(r) => {
            for l in &r.lines {
                println!("{l}");
            }
            println!("{}", if r.launched { "PASS" } else { "SKIPPED (no GPU)" });
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(1)
        }
    }
}
