//! The expansion of `tessera::kernel!`, on proc_macro2 tokens so it can be unit-tested outside the
//! compiler.

use proc_macro2::{Delimiter, Ident, Literal, Spacing, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use std::path::Path;
use tessera_ir::{DType, ParamKind};

/// Where the kernel text came from, and how a byte offset maps back to a Rust span.
struct Text {
    text: String,
    /// Name used in messages (the file name, or `<name>.tsr` for inline kernels).
    name: String,
    /// Token form: the byte range of every token in `text`, with its span.
    tokens: Vec<(usize, usize, Span)>,
    /// The span errors fall back to (the literal, the path, or the whole input).
    whole: Span,
    /// `path = "..."`: the absolute file, for `include_str!` (so cargo rebuilds on edits).
    file: Option<String>,
}

impl Text {
    fn span_at(&self, at: usize) -> Span {
        self.tokens
            .iter()
            .find(|(lo, hi, _)| at >= *lo && at < (*hi).max(lo + 1))
            .or_else(|| self.tokens.iter().rev().find(|(lo, _, _)| *lo <= at))
            .map_or(self.whole, |t| t.2)
    }

    fn line_col(&self, at: usize) -> (usize, usize) {
        let before = &self.text.as_bytes()[..at.min(self.text.len())];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        (line, col)
    }
}

fn error(span: Span, msg: &str) -> TokenStream {
    quote_spanned!(span=> ::core::compile_error!(#msg);)
}

/// Expand `tessera::kernel!(...)`.
pub fn expand(input: TokenStream, manifest_dir: &Path) -> TokenStream {
    let (text, target) = match read_input(input, manifest_dir) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let (module, diags) = tessera_check::check_source(&text.name, text.text.as_bytes());
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() || module.is_none() {
        let mut out = TokenStream::new();
        for d in &errors {
            let at = d
                .labels
                .iter()
                .find(|l| l.primary)
                .or(d.labels.first())
                .map(|l| l.span.lo as usize);
            let (span, place) = match at {
                Some(a) => {
                    let (l, c) = text.line_col(a);
                    let where_ = if text.tokens.is_empty() {
                        format!(" (at {}:{l}:{c})", text.name)
                    } else {
                        String::new()
                    };
                    (text.span_at(a), where_)
                }
                None => (text.whole, String::new()),
            };
            let mut msg = format!("error[{}]: {}{place}", d.code, d.message);
            for l in &d.labels {
                if !l.message.is_empty() {
                    msg.push_str(&format!("\n  label: {}", l.message));
                }
            }
            if let Some(h) = &d.help {
                msg.push_str(&format!("\n  help: {h}"));
            }
            msg.push_str(&format!("\n  (tessera explain {})", d.code));
            out.extend(error(span, &msg));
        }
        if out.is_empty() {
            out = error(text.whole, "tessera: the kernel does not check");
        }
        return out;
    }
    let Some(module) = module else {
        return error(text.whole, "tessera: no module");
    };
    let mut out = TokenStream::new();
    for k in &module.kernels {
        out.extend(kernel_module(k, &text, &target));
    }
    if module.kernels.is_empty() {
        return error(text.whole, "tessera::kernel!: the source defines no kernel");
    }
    out
}

fn read_input(input: TokenStream, manifest_dir: &Path) -> Result<(Text, String), TokenStream> {
    let toks: Vec<TokenTree> = input.clone().into_iter().collect();
    let whole = toks.first().map_or_else(Span::call_site, TokenTree::span);
    // `key = "literal"` pairs form: path / source / target
    let is_kv = matches!(
        (toks.first(), toks.get(1)),
        (Some(TokenTree::Ident(i)), Some(TokenTree::Punct(p)))
            if p.as_char() == '=' && ["path", "source", "target"].contains(&i.to_string().as_str())
    );
    if !is_kv {
        let mut text = Text {
            text: String::new(),
            name: String::new(),
            tokens: Vec::new(),
            whole,
            file: None,
        };
        flatten(input, &mut text);
        text.name = kernel_name_guess(&text.text).map_or_else(|| "kernel.tsr".into(), |n| format!("{n}.tsr"));
        return Ok((text, "sm_90a".into()));
    }
    let mut target = "sm_90a".to_string();
    let mut src: Option<Text> = None;
    let mut i = 0;
    while i < toks.len() {
        let (Some(TokenTree::Ident(key)), Some(TokenTree::Punct(eq)), Some(TokenTree::Literal(lit))) =
            (toks.get(i), toks.get(i + 1), toks.get(i + 2))
        else {
            return Err(error(
                toks[i].span(),
                "tessera::kernel!: expected `path = \"...\"`, `source = \"...\"` or `target = \"...\"`",
            ));
        };
        if eq.as_char() != '=' {
            return Err(error(eq.span(), "expected `=`"));
        }
        let Some(value) = string_value(lit) else {
            return Err(error(lit.span(), "expected a string literal"));
        };
        match key.to_string().as_str() {
            "target" => target = value,
            "source" => {
                src = Some(Text {
                    name: kernel_name_guess(&value)
                        .map_or_else(|| "kernel.tsr".into(), |n| format!("{n}.tsr")),
                    text: value,
                    tokens: Vec::new(),
                    whole: lit.span(),
                    file: None,
                });
            }
            "path" => {
                let full = manifest_dir.join(&value);
                let text = match std::fs::read_to_string(&full) {
                    Ok(t) => t,
                    Err(e) => {
                        return Err(error(
                            lit.span(),
                            &format!(
                                "error[E0910]: cannot read {} (relative to CARGO_MANIFEST_DIR): {e}",
                                full.display()
                            ),
                        ));
                    }
                };
                src = Some(Text {
                    name: value.clone(),
                    text,
                    tokens: Vec::new(),
                    whole: lit.span(),
                    file: Some(full.display().to_string()),
                });
            }
            other => {
                return Err(error(
                    key.span(),
                    &format!("tessera::kernel!: unknown key `{other}`"),
                ));
            }
        }
        i += 3;
        if let Some(TokenTree::Punct(p)) = toks.get(i)
            && p.as_char() == ','
        {
            i += 1;
        }
    }
    match src {
        Some(s) => Ok((s, target)),
        None => Err(error(
            whole,
            "tessera::kernel!: give `path = \"...\"` or `source = \"...\"`",
        )),
    }
}

fn string_value(lit: &Literal) -> Option<String> {
    let s = lit.to_string();
    if let Some(rest) = s.strip_prefix('r') {
        let hashes = rest.chars().take_while(|c| *c == '#').count();
        let body = &rest[hashes..];
        return body
            .strip_prefix('"')
            .and_then(|b| b.strip_suffix(&format!("\"{}", "#".repeat(hashes))))
            .map(str::to_string);
    }
    let body = s.strip_prefix('"')?.strip_suffix('"')?;
    // Unescape the few escapes kernel text can contain.
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some('\n') => {
                while chars.clone().next().is_some_and(char::is_whitespace) {
                    chars.next();
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Rebuild kernel text from Rust tokens, one line per Rust source line where known, recording each
/// token's byte range.
fn flatten(ts: TokenStream, t: &mut Text) {
    let mut joint = false;
    for tt in ts {
        if !joint && !t.text.is_empty() && !t.text.ends_with(['(', '[', '{', '\n']) {
            t.text.push(' ');
        }
        joint = false;
        match tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{\n", "\n}\n"),
                    Delimiter::None => ("", ""),
                };
                let lo = t.text.len();
                t.text.push_str(open);
                t.tokens.push((lo, lo + 1, g.span_open()));
                flatten(g.stream(), t);
                let lo = t.text.len();
                t.text.push_str(close);
                t.tokens.push((lo, lo + close.len(), g.span_close()));
            }
            TokenTree::Punct(p) => {
                let lo = t.text.len();
                t.text.push(p.as_char());
                t.tokens.push((lo, lo + 1, p.span()));
                joint = p.spacing() == Spacing::Joint;
                if p.as_char() == ';' {
                    t.text.push('\n');
                }
            }
            other => {
                let s = other.to_string();
                let lo = t.text.len();
                t.text.push_str(&s);
                t.tokens.push((lo, lo + s.len(), other.span()));
            }
        }
    }
}

fn kernel_name_guess(text: &str) -> Option<String> {
    let i = text.find("kernel ")?;
    let rest = &text[i + 7..];
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

fn scalar_ty(d: DType) -> TokenStream {
    if d.is_float() { quote!(f32) } else { quote!(i32) }
}

fn kernel_module(k: &tessera_ir::Kernel, text: &Text, target: &str) -> TokenStream {
    let m = format_ident!("{}", k.name);
    let name = &k.name;
    let file_name = &text.name;
    let source = match &text.file {
        Some(f) => quote!(include_str!(#f)),
        None => {
            let s = &text.text;
            quote!(#s)
        }
    };
    let mut params = Vec::new();
    let mut args = Vec::new();
    let mut names = Vec::new();
    let mut docs = Vec::new();
    for p in &k.params {
        let id = Ident::new(&safe_ident(&p.name), Span::call_site());
        match &p.kind {
            ParamKind::Tensor { ty, is_out } => {
                params.push(quote!(#id: ::tessera::DeviceTensor));
                args.push(quote!(::tessera::Arg::Tensor(#id)));
                docs.push(format!(
                    "`{}`: {}{} tensor",
                    p.name,
                    if *is_out { "out " } else { "" },
                    ty.dtype
                ));
            }
            ParamKind::Scalar(d) => {
                let t = scalar_ty(*d);
                params.push(quote!(#id: #t));
                args.push(quote!(::tessera::Arg::from(#id)));
                docs.push(format!("`{}`: {d}", p.name));
            }
        }
        names.push(id);
    }
    let doc = format!(
        "Tessera kernel `{name}` for {target}; parameters: {}.",
        docs.join(", ")
    );
    // A bundle of this kernel that build.rs (tessera::build::compile_kernels) already wrote into
    // OUT_DIR is embedded: the program then needs no compiler and no cache at run time.
    let embedded = std::env::var_os("OUT_DIR")
        .map(|d| std::path::PathBuf::from(d).join("tessera").join(name))
        .filter(|d| d.join("meta.json").is_file() && d.join("kernel.tir").is_file());
    let (make, kernel_doc) = match embedded {
        Some(d) => {
            let f = |n: &str| d.join(n).display().to_string();
            let (meta, tir) = (f("meta.json"), f("kernel.tir"));
            let ptx = if d.join("kernel.ptx").is_file() {
                let p = f("kernel.ptx");
                quote!(Some(include_str!(#p)))
            } else {
                quote!(None)
            };
            let cubin = if d.join("kernel.cubin").is_file() {
                let p = f("kernel.cubin");
                quote!(Some(&include_bytes!(#p)[..]))
            } else {
                quote!(None)
            };
            (
                quote!(::tessera::Kernel::from_parts(include_str!(#meta), include_str!(#tir), #ptx, #cubin)),
                "The kernel, from the bundle build.rs compiled and embedded (no compiler at run time)."
                    .to_string(),
            )
        }
        None => (
            quote!(::tessera::kernel_for_source(#file_name, SOURCE, Some(NAME), TARGET)),
            "The compiled kernel: compiled on first use in this process (through the on-disk cache, so \
             usually a load)."
                .to_string(),
        ),
    };
    quote! {
        #[doc = #doc]
        #[allow(non_snake_case, dead_code, clippy::too_many_arguments)]
        pub mod #m {
            /// The kernel source, as checked at build time.
            pub const SOURCE: &str = #source;
            pub const NAME: &str = #name;
            pub const TARGET: &str = #target;
            static KERNEL: ::std::sync::OnceLock<::core::result::Result<::tessera::Kernel, ::tessera::Error>> =
                ::std::sync::OnceLock::new();
            #[doc = #kernel_doc]
            pub fn kernel() -> ::core::result::Result<&'static ::tessera::Kernel, ::tessera::Error> {
                KERNEL
                    .get_or_init(|| #make)
                    .as_ref()
                    .map_err(::core::clone::Clone::clone)
            }
            /// The arguments in the kernel's order.
            pub fn args(#(#params),*) -> ::std::vec::Vec<::tessera::Arg> {
                ::std::vec![#(#args),*]
            }
            /// Check the arguments, infer the dims and plan the launch (no GPU needed).
            pub fn bind(#(#params),*) -> ::core::result::Result<::tessera::Bound, ::tessera::Error> {
                kernel()?.bind(&args(#(#names),*))
            }
            /// Launch on `stream` (asynchronous).
            pub fn launch(stream: &::tessera::cudarc::driver::CudaStream, #(#params),*) -> ::core::result::Result<(), ::tessera::Error> {
                kernel()?.launch(stream, &args(#(#names),*))
            }
        }
    }
}

fn safe_ident(s: &str) -> String {
    const KW: &[&str] = &[
        "type", "fn", "in", "ref", "mod", "use", "move", "box", "match", "loop", "self", "super", "crate",
        "as", "impl", "struct", "enum", "where", "let", "const", "static", "return", "break", "continue",
        "if", "else", "for", "while", "true", "false", "pub", "trait", "unsafe", "extern", "dyn", "async",
        "await", "mut",
    ];
    if KW.contains(&s) {
        format!("r#{s}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn expand_str(s: &str) -> String {
        expand(
            TokenStream::from_str(s).unwrap(),
            Path::new(env!("CARGO_MANIFEST_DIR")),
        )
        .to_string()
    }

    #[test]
    fn a_good_kernel_becomes_a_typed_module() {
        let out = expand_str(
            "kernel axpy(x: f32[N], y: f32[N], a: f32, z: out f32[N]) tiles(B = 256) grid(cdiv(N, B)) {
                let i = program_id(0) * B;
                store(z[i .. +B], load(x[i .. +B]) * a + load(y[i .. +B]));
            }",
        );
        assert!(out.contains("pub mod axpy"), "{out}");
        assert!(out.contains("pub fn launch"), "{out}");
        assert!(out.contains("a : f32"), "{out}");
        assert!(out.contains("x : :: tessera :: DeviceTensor"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn a_bad_kernel_is_a_compile_error_with_the_code_at_the_token() {
        // `q` is not defined: the checker's unknown-name error.
        let src = "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {
                let i = program_id(0) * B;
                store(y[i .. +B], load(q[i .. +B]));
            }";
        let ts = TokenStream::from_str(src).unwrap();
        // the span of the `q` token
        let q_span = find_ident(ts.clone(), "q").expect("q token");
        let out = expand(ts, Path::new("."));
        let text = out.to_string();
        assert!(text.contains("compile_error"), "{text}");
        assert!(text.contains("error[E0"), "{text}");
        // the compile_error! tokens carry q's span (same line/column as the token)
        let first = out.into_iter().next().expect("tokens");
        assert_eq!(first.span().start().line, 3, "{text}");
        assert_eq!(first.span().start(), q_span.start(), "{text}");
    }

    fn find_ident(ts: TokenStream, name: &str) -> Option<Span> {
        for tt in ts {
            match tt {
                TokenTree::Ident(i) if i == name => return Some(i.span()),
                TokenTree::Group(g) => {
                    if let Some(s) = find_ident(g.stream(), name) {
                        return Some(s);
                    }
                }
                _ => {}
            }
        }
        None
    }

    #[test]
    fn string_and_path_forms_name_the_line() {
        let out = expand_str(
            "source = \"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\\n    store(y[0 .. +B], load(q[0 .. +B]));\\n}\\n\"",
        );
        assert!(out.contains("compile_error") && out.contains("k.tsr:2:"), "{out}");
        let dir = std::env::temp_dir().join(format!("tessera-macros-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("bad.tsr"),
            "kernel k(x: f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n\n    let z = nope;\n}\n",
        )
        .unwrap();
        let out = expand(
            TokenStream::from_str("path = \"bad.tsr\", target = \"sm_90a\"").unwrap(),
            &dir,
        )
        .to_string();
        assert!(
            out.contains("compile_error") && out.contains("bad.tsr:3:"),
            "{out}"
        );
        let out = expand(TokenStream::from_str("path = \"missing.tsr\"").unwrap(), &dir).to_string();
        assert!(out.contains("E0910"), "{out}");
        std::fs::write(dir.join("good.tsr"), "kernel g(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n").unwrap();
        let out = expand(TokenStream::from_str("path = \"good.tsr\"").unwrap(), &dir).to_string();
        assert!(out.contains("pub mod g") && out.contains("include_str"), "{out}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
