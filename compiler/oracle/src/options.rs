//! The options of `@reference(FAMILY, key = value, ...)` (the `reference.<key>` attributes, see
//! `tessera_ir::reference`), checked against the family's table and the kernel's parameters before
//! any reference is computed. The checker does the same on source with locations; the IR can also
//! come from its text form or be built by hand, so the oracle never trusts it: an option the family
//! does not know, or a value of the wrong kind, is E0805 naming the option — never ignored.

use crate::{E_BINDING, E_OPTION, OracleError, err, family};
use tessera_ir::reference::{self, ParamClass, Value};
use tessera_ir::{Kernel, ParamKind};
use tessera_numerics::{ArgValue, Bindings};

/// The validated options of one kernel.
#[derive(Clone, Debug)]
pub(crate) struct Options<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Options<'a> {
    /// The value of option `key`, as written.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Every parameter an option names (for role inference: they are not operands).
    pub fn named_params(&self) -> Vec<&'a str> {
        self.pairs
            .iter()
            .filter_map(|(_, v)| match Value::parse(v) {
                Value::Name(n) => Some(n),
                _ => None,
            })
            .collect()
    }
}

fn class(k: &Kernel, name: &str) -> Option<ParamClass> {
    k.params.iter().find(|p| p.name == name).map(|p| match &p.kind {
        ParamKind::Scalar(_) => ParamClass::Scalar,
        ParamKind::Tensor { is_out: true, .. } => ParamClass::OutTensor,
        ParamKind::Tensor { .. } => ParamClass::InputTensor,
    })
}

/// The options of `k`, each checked against its family (E0801 first when the family is unknown).
pub(crate) fn options(k: &Kernel) -> Result<Options<'_>, OracleError> {
    let fam = family(k)?;
    let spec = reference::family(fam).ok_or_else(|| {
        err(
            crate::E_NO_REFERENCE,
            format!("kernel `{}`: unknown reference `{fam}`", k.name),
        )
    })?;
    let pairs = reference::options(k);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k2, _)| k2 == key) {
            return Err(err(
                E_OPTION,
                format!("kernel `{}`: option `{key}` is given twice", k.name),
            ));
        }
        reference::check_option(spec, key, value, &|n| class(k, n))
            .map_err(|p| err(E_OPTION, format!("kernel `{}`: {}", k.name, p.message(key))))?;
    }
    Ok(Options { pairs })
}

/// The runtime value of scalar parameter `name` that option `key` names.
pub(crate) fn scalar_value(k: &Kernel, b: &Bindings, key: &str, name: &str) -> Result<f64, OracleError> {
    let i = k.params.iter().position(|p| p.name == name).ok_or_else(|| {
        err(
            E_OPTION,
            format!(
                "kernel `{}`: option `{key}` names `{name}`, which is not a parameter",
                k.name
            ),
        )
    })?;
    match b.args.get(i) {
        Some(ArgValue::Scalar(v)) => Ok(*v),
        _ => Err(err(
            E_BINDING,
            format!("`{name}` (named by option `{key}`) is not bound to a scalar"),
        )),
    }
}
