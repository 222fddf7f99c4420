//! Lane-index expressions: small integer expressions over the lane (thread) id and named kernel
//! variables (tile origin, K step, padded scale extent ...). One value serves two readers:
//! [`Ix::eval`] (host: the operand-layout models and the kernel simulator in the tests) and
//! [`crate::native_scaled::MlirText::emit_ix`] (device: the generated kernel). That shared value is
//! what makes "the model checks the lowering" true rather than a re-statement.
//!
//! All values are non-negative (indices, byte offsets), so division and remainder are unsigned
//! and by positive constants only.

use std::fmt;
use std::ops::{Add, Div, Mul, Rem};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ix {
    /// The lane id within the MMA's thread group (wave64 lane, warp lane, ...).
    Lane,
    /// A kernel variable bound at run time (`m0`, `k0`, `ks_pad` ...).
    Var(&'static str),
    Const(i64),
    Add(Box<Ix>, Box<Ix>),
    Mul(Box<Ix>, Box<Ix>),
    /// Unsigned division by a positive constant.
    Div(Box<Ix>, i64),
    /// Unsigned remainder by a positive constant.
    Rem(Box<Ix>, i64),
    /// Bitwise xor with a constant (swizzles; also how a test builds a deliberately wrong map).
    Xor(Box<Ix>, i64),
}

impl Ix {
    pub fn lane() -> Ix {
        Ix::Lane
    }

    pub fn var(name: &'static str) -> Ix {
        Ix::Var(name)
    }

    pub fn c(v: i64) -> Ix {
        Ix::Const(v)
    }

    pub fn xor(self, m: i64) -> Ix {
        Ix::Xor(Box::new(self), m)
    }

    /// Evaluate for `lane` with variables from `env`; `None` for an unbound variable or a
    /// non-positive divisor.
    pub fn eval(&self, lane: i64, env: &dyn Fn(&str) -> Option<i64>) -> Option<i64> {
        Some(match self {
            Ix::Lane => lane,
            Ix::Var(v) => env(v)?,
            Ix::Const(c) => *c,
            Ix::Add(a, b) => a.eval(lane, env)?.checked_add(b.eval(lane, env)?)?,
            Ix::Mul(a, b) => a.eval(lane, env)?.checked_mul(b.eval(lane, env)?)?,
            Ix::Div(a, d) if *d > 0 => a.eval(lane, env)?.div_euclid(*d),
            Ix::Rem(a, d) if *d > 0 => a.eval(lane, env)?.rem_euclid(*d),
            Ix::Xor(a, m) => a.eval(lane, env)? ^ *m,
            Ix::Div(..) | Ix::Rem(..) => return None,
        })
    }

    /// Evaluate an expression that uses only the lane (no variables).
    pub fn at(&self, lane: i64) -> Option<i64> {
        self.eval(lane, &|_| None)
    }

    /// The variables this expression reads, in first-use order.
    pub fn vars(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars(&self, out: &mut Vec<&'static str>) {
        match self {
            Ix::Var(v) if !out.contains(v) => out.push(v),
            Ix::Add(a, b) | Ix::Mul(a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
            Ix::Div(a, _) | Ix::Rem(a, _) | Ix::Xor(a, _) => a.collect_vars(out),
            _ => {}
        }
    }
}

impl Add for Ix {
    type Output = Ix;
    fn add(self, rhs: Ix) -> Ix {
        Ix::Add(Box::new(self), Box::new(rhs))
    }
}

impl Add<i64> for Ix {
    type Output = Ix;
    fn add(self, rhs: i64) -> Ix {
        self + Ix::Const(rhs)
    }
}

/// Unsigned division by a positive constant (`x / 4` or `x.div(4)` with `std::ops::Div` in scope).
impl Div<i64> for Ix {
    type Output = Ix;
    fn div(self, d: i64) -> Ix {
        Ix::Div(Box::new(self), d)
    }
}

/// Unsigned remainder by a positive constant.
impl Rem<i64> for Ix {
    type Output = Ix;
    fn rem(self, d: i64) -> Ix {
        Ix::Rem(Box::new(self), d)
    }
}

impl Mul for Ix {
    type Output = Ix;
    fn mul(self, rhs: Ix) -> Ix {
        Ix::Mul(Box::new(self), Box::new(rhs))
    }
}

impl Mul<i64> for Ix {
    type Output = Ix;
    fn mul(self, rhs: i64) -> Ix {
        self * Ix::Const(rhs)
    }
}

impl fmt::Display for Ix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ix::Lane => f.write_str("lane"),
            Ix::Var(v) => f.write_str(v),
            Ix::Const(c) => write!(f, "{c}"),
            Ix::Add(a, b) => write!(f, "({a} + {b})"),
            Ix::Mul(a, b) => write!(f, "{a}*{b}"),
            Ix::Div(a, d) => write!(f, "{a}/{d}"),
            Ix::Rem(a, d) => write!(f, "{a}%{d}"),
            Ix::Xor(a, m) => write!(f, "({a} ^ {m})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_follows_the_operators() {
        let e = Ix::lane().rem(16) * 128 + Ix::lane().div(16) * 32 + Ix::var("k");
        let env = |v: &str| (v == "k").then_some(4);
        assert_eq!(e.eval(17, &env), Some(128 + 32 + 4));
        assert_eq!(e.eval(17, &|_| None), None);
        assert_eq!(e.vars(), vec!["k"]);
        assert_eq!(Ix::lane().xor(16).at(3), Some(19));
        assert_eq!(Ix::lane().div(0).at(3), None);
    }
}
