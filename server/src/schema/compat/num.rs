//! Exact comparisons of JSON numbers, whatever their representation.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// A JSON number: integers are kept exact, everything else is an f64.
#[derive(Clone, Copy, Debug)]
pub(super) enum N {
    I(i128),
    F(f64),
}

/// 2^127, the first float beyond every i128.
const I128_LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
/// 2^53: floats below this step by less than one, so integer steps are exact.
const EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;

impl N {
    pub(super) fn of(n: &Number) -> Option<N> {
        if let Some(i) = n.as_i64() {
            return Some(N::I(i.into()));
        }
        if let Some(u) = n.as_u64() {
            return Some(N::I(u.into()));
        }
        n.as_f64().filter(|f| f.is_finite()).map(N::F)
    }

    pub(super) fn of_value(v: &Value) -> Option<N> {
        v.as_number().and_then(N::of)
    }

    pub(super) fn is_integral(self) -> bool {
        match self {
            N::I(_) => true,
            N::F(f) => f.fract() == 0.0,
        }
    }

    pub(super) fn cmp(self, other: N) -> Ordering {
        match (self, other) {
            (N::I(a), N::I(b)) => a.cmp(&b),
            (N::F(a), N::F(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            (N::I(a), N::F(b)) => cmp_int_float(a, b),
            (N::F(a), N::I(b)) => cmp_int_float(b, a).reverse(),
        }
    }

    /// The smallest integer >= self.
    pub(super) fn ceil(self) -> N {
        match self {
            N::I(_) => self,
            N::F(f) => N::F(f.ceil()),
        }
    }

    /// The largest integer <= self.
    pub(super) fn floor(self) -> N {
        match self {
            N::I(_) => self,
            N::F(f) => N::F(f.floor()),
        }
    }

    /// self + k for a small k, only when the result is exact.
    pub(super) fn add(self, k: i8) -> Option<N> {
        match self {
            N::I(i) => i.checked_add(k.into()).map(N::I),
            N::F(f) if f.abs() < EXACT_LIMIT => Some(N::F(f + f64::from(k))),
            N::F(_) => None,
        }
    }
}

fn cmp_int_float(i: i128, f: f64) -> Ordering {
    if f >= I128_LIMIT {
        return Ordering::Less;
    }
    if f < -I128_LIMIT {
        return Ordering::Greater;
    }
    let floor = f.floor();
    // In range, so the cast is exact for this integral float.
    match i.cmp(&(floor as i128)) {
        Ordering::Equal if f > floor => Ordering::Less,
        other => other,
    }
}

pub(super) fn num_eq(a: &Number, b: &Number) -> bool {
    match (N::of(a), N::of(b)) {
        (Some(x), Some(y)) => x.cmp(y) == Ordering::Equal,
        _ => a.to_string() == b.to_string(),
    }
}

/// A count keyword value (`minLength`, `maxItems`, ...): a non-negative integer.
pub(super) fn count(v: &Value) -> Option<u64> {
    match N::of_value(v)? {
        N::I(i) => u64::try_from(i).ok(),
        N::F(f) if f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0 => {
            Some(f as u64)
        }
        N::F(_) => None,
    }
}

/// A number written as mantissa × 10^exponent, exactly as it appears in JSON,
/// so `multipleOf: 0.1` means a tenth and not the nearest float.
fn decimal(n: &Number) -> Option<(i128, i32)> {
    let text = n.to_string();
    let (body, exp) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text.as_str(), 0),
    };
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut mantissa: i128 = 0;
    for c in whole.chars().chain(frac.chars()) {
        let digit = c.to_digit(10)?;
        mantissa = mantissa.checked_mul(10)?.checked_add(digit.into())?;
    }
    let mut exp = exp.checked_sub(i32::try_from(frac.len()).ok()?)?;
    while mantissa != 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        exp = exp.checked_add(1)?;
    }
    Some((if negative { -mantissa } else { mantissa }, exp))
}

/// Whether `value` is an integer multiple of `divisor`; `None` when that
/// cannot be decided exactly.
pub(super) fn is_multiple(value: &Number, divisor: &Number) -> Option<bool> {
    let (vm, ve) = decimal(value)?;
    let (dm, de) = decimal(divisor)?;
    if dm == 0 {
        return None;
    }
    if vm == 0 {
        return Some(true);
    }
    let base = ve.min(de);
    let scale = |m: i128, e: i32| -> Option<i128> {
        let shift = u32::try_from(e.checked_sub(base)?).ok()?;
        m.checked_mul(10i128.checked_pow(shift)?)
    };
    Some(scale(vm, ve)?.checked_rem(scale(dm, de)?)? == 0)
}

/// A `multipleOf` value: a number greater than zero.
pub(super) fn positive(v: &Value) -> Option<&Number> {
    let n = v.as_number()?;
    (N::of(n)?.cmp(N::I(0)) == Ordering::Greater).then_some(n)
}
