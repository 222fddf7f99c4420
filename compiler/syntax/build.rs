//! Generates the parser from src/grammar.lalrpop (into OUT_DIR).

fn main() {
    lalrpop::process_src().unwrap_or_else(|e| panic!("lalrpop failed: {e}"));
}
