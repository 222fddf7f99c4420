//! The vocabulary of `@reference(FAMILY, key = value, ...)`: the plain-reference families and the
//! options each one accepts. It lives with the IR because both ends read it: the checker validates
//! the source against it (located diagnostics), and the oracle validates the IR against it again,
//! since IR also comes from the text form or is built by hand.
//!
//! In the IR, `@reference(attention, causal = true)` is the attribute `("reference", "attention")`
//! followed by one attribute per option, keyed [`OPTION_PREFIX`] + key: `("reference.causal",
//! "true")`. Values keep their source spelling: a name, a decimal integer, `true` or `false`
//! (keywords, so never a parameter's name), which makes the text unambiguous.

use crate::Kernel;

/// The attribute naming the family.
pub const ATTR: &str = "reference";
/// The prefix of option attributes: `reference.causal`.
pub const OPTION_PREFIX: &str = "reference.";

/// The activations a GEMM epilogue may name (`activation = relu`).
pub const ACTIVATIONS: &[&str] = &["relu", "gelu", "gelu_tanh", "silu", "sigmoid"];

/// What an option's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `true`, `false`, or a scalar parameter whose runtime value decides (nonzero = true).
    FlagOrScalar,
    /// A scalar parameter.
    Scalar,
    /// A tensor parameter that is not `out` (an input the reference reads).
    InputTensor,
    /// One of these words.
    Word(&'static [&'static str]),
}

impl ValueKind {
    /// What the value must be, for messages ("a scalar parameter", "one of relu, gelu").
    pub fn describe(&self) -> String {
        match self {
            ValueKind::FlagOrScalar => "`true`, `false` or a scalar parameter".into(),
            ValueKind::Scalar => "a scalar parameter".into(),
            ValueKind::InputTensor => "an input (non-`out`) tensor parameter".into(),
            ValueKind::Word(w) => format!("one of {}", w.join(", ")),
        }
    }
}

/// One option of a family.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub key: &'static str,
    pub value: ValueKind,
    /// One line for documentation and messages.
    pub doc: &'static str,
}

/// One reference family and its options.
#[derive(Clone, Copy, Debug)]
pub struct FamilySpec {
    pub name: &'static str,
    pub options: &'static [OptionSpec],
}

impl FamilySpec {
    pub fn option(&self, key: &str) -> Option<&'static OptionSpec> {
        self.options.iter().find(|o| o.key == key)
    }

    /// The option keys, comma-separated ("none" for a family without options).
    pub fn keys(&self) -> String {
        if self.options.is_empty() {
            return "none".into();
        }
        self.options.iter().map(|o| o.key).collect::<Vec<_>>().join(", ")
    }
}

const fn opt(key: &'static str, value: ValueKind, doc: &'static str) -> OptionSpec {
    OptionSpec { key, value, doc }
}

/// Every family the plain reference implements.
pub const FAMILIES: &[FamilySpec] = &[
    FamilySpec {
        name: "gemm",
        options: &[
            opt(
                "bias",
                ValueKind::InputTensor,
                "[N] or [M, N], added before the activation",
            ),
            opt("row_scale", ValueKind::InputTensor, "[M], multiplies row m"),
            opt("col_scale", ValueKind::InputTensor, "[N], multiplies column n"),
            opt(
                "residual",
                ValueKind::InputTensor,
                "[M, N], added after the activation",
            ),
            opt(
                "activation",
                ValueKind::Word(ACTIVATIONS),
                "applied after the bias",
            ),
        ],
    },
    FamilySpec {
        name: "attention",
        options: &[
            opt(
                "causal",
                ValueKind::FlagOrScalar,
                "mask keys after the query (a parameter: nonzero = causal)",
            ),
            opt("sm_scale", ValueKind::Scalar, "the softmax scale on the scores"),
        ],
    },
    FamilySpec {
        name: "moe_gated",
        options: &[],
    },
];

/// The family named `name`.
pub fn family(name: &str) -> Option<&'static FamilySpec> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The known family names, comma-separated (for messages).
pub fn family_names() -> String {
    FAMILIES.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// An option value as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Bool(bool),
    Int(i64),
    Name(&'a str),
}

impl<'a> Value<'a> {
    /// Read the IR spelling back (`true`, `false`, a decimal integer, or a name).
    pub fn parse(text: &'a str) -> Value<'a> {
        match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            t => match t.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Name(t),
            },
        }
    }
}

/// What a parameter name refers to, as far as option values care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamClass {
    Scalar,
    InputTensor,
    OutTensor,
}

/// Why an option does not fit its family (the callers attach their own code and location).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionProblem {
    /// The family has no option of this key.
    UnknownKey { family: &'static str, keys: String },
    /// The value is not of the option's kind.
    BadValue { expected: String, found: String },
}

impl OptionProblem {
    /// A message naming the option.
    pub fn message(&self, key: &str) -> String {
        match self {
            OptionProblem::UnknownKey { family, keys } => {
                format!("`@reference({family})` has no option `{key}` (its options: {keys})")
            }
            OptionProblem::BadValue { expected, found } => {
                format!("option `{key}` must be {expected}, found {found}")
            }
        }
    }
}

/// Check `key = value` against `family`; `param` says what a parameter name refers to (`None` for
/// no such parameter).
pub fn check_option(
    family: &'static FamilySpec,
    key: &str,
    value: &str,
    param: &dyn Fn(&str) -> Option<ParamClass>,
) -> Result<(), OptionProblem> {
    let Some(spec) = family.option(key) else {
        return Err(OptionProblem::UnknownKey {
            family: family.name,
            keys: family.keys(),
        });
    };
    let v = Value::parse(value);
    let found = match v {
        Value::Bool(b) => format!("`{b}`"),
        Value::Int(i) => format!("the integer {i}"),
        Value::Name(n) => match param(n) {
            Some(ParamClass::Scalar) => format!("scalar parameter `{n}`"),
            Some(ParamClass::InputTensor) => format!("tensor parameter `{n}`"),
            Some(ParamClass::OutTensor) => format!("`out` tensor `{n}`"),
            None => format!("`{n}`, which is not a parameter"),
        },
    };
    let ok = match (spec.value, v) {
        (ValueKind::FlagOrScalar, Value::Bool(_)) => true,
        (ValueKind::FlagOrScalar | ValueKind::Scalar, Value::Name(n)) => param(n) == Some(ParamClass::Scalar),
        (ValueKind::InputTensor, Value::Name(n)) => param(n) == Some(ParamClass::InputTensor),
        (ValueKind::Word(words), Value::Name(n)) => words.contains(&n),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(OptionProblem::BadValue {
            expected: spec.value.describe(),
            found: match (spec.value, v) {
                // A word option: say the word, not "not a parameter".
                (ValueKind::Word(_), Value::Name(n)) => format!("`{n}`"),
                _ => found,
            },
        })
    }
}

/// The options of `k`'s `@reference`, as `(key, value)` in source order.
pub fn options(k: &Kernel) -> Vec<(&str, &str)> {
    k.attrs
        .iter()
        .filter_map(|(key, v)| Some((key.strip_prefix(OPTION_PREFIX)?, v.as_str())))
        .collect()
}
