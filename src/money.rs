//! Money as integers: picodollars (10⁻¹² USD) in a `u64`, so per-token prices as small as
//! $0.0075 per million tokens are exact and sums never drift. Shown to people as decimal
//! strings exact to the micro-dollar.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

const PICOS_PER_USD: u128 = 1_000_000_000_000;
const PICOS_PER_MICRO: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a dollar amount (use a non-negative decimal such as 5 or 12.50)")]
pub struct MoneyParseError(pub String);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_picos(p: u64) -> Self {
        Money(p)
    }

    pub const fn picos(self) -> u64 {
        self.0
    }

    pub fn from_micros(m: u64) -> Self {
        Money(m.saturating_mul(PICOS_PER_MICRO))
    }

    /// Rounded half up to whole micro-dollars.
    pub fn micros(self) -> u64 {
        (self.0 + PICOS_PER_MICRO / 2) / PICOS_PER_MICRO
    }

    /// Parses a decimal dollar amount exactly (up to 12 decimals).
    pub fn parse_usd(s: &str) -> Result<Self, MoneyParseError> {
        let bad = || MoneyParseError(s.to_owned());
        let t = s.trim();
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty() && frac.is_empty() || frac.len() > 12 {
            return Err(bad());
        }
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(frac) {
            return Err(bad());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let frac_picos: u128 = if frac.is_empty() {
            0
        } else {
            frac.parse::<u128>().map_err(|_| bad())? * 10u128.pow(12 - frac.len() as u32)
        };
        let total = whole
            .checked_mul(PICOS_PER_USD)
            .and_then(|w| w.checked_add(frac_picos))
            .ok_or_else(bad)?;
        u64::try_from(total).map(Money).map_err(|_| bad())
    }

    /// A per-token price given in USD as a float (LiteLLM files), to the nearest picodollar.
    pub fn from_usd_f64(usd: f64) -> Option<Self> {
        (usd.is_finite() && usd >= 0.0).then(|| Money((usd * 1e12).round() as u64))
    }

    /// `self × tokens`, saturating.
    pub fn times(self, tokens: u64) -> Money {
        Money(self.0.saturating_mul(tokens))
    }

    /// `self × ppm / 1 000 000`, rounded half up (per-key multipliers).
    pub fn scale_ppm(self, ppm: u32) -> Money {
        let v = (self.0 as u128 * ppm as u128 + 500_000) / 1_000_000;
        Money(u64::try_from(v).unwrap_or(u64::MAX))
    }

    /// Decimal USD exact to the micro-dollar, e.g. `"0.003000"`.
    pub fn usd_string(self) -> String {
        let m = self.micros();
        format!("{}.{:06}", m / 1_000_000, m % 1_000_000)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        *self = *self + o;
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.usd_string())
    }
}

/// Serialised as picodollars (an integer) in stores.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Money)
    }
}

/// Serde helper for API payloads: a dollar amount given as a JSON number or string
/// (`5`, `12.5`, `"0.25"`), parsed from its decimal text so no float rounding creeps in.
pub mod usd {
    use super::Money;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&m.usd_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let text = match &v {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => return Ok(Money::ZERO),
            _ => {
                return Err(serde::de::Error::custom(
                    "a dollar amount must be a number or a string",
                ));
            }
        };
        Money::parse_usd(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        assert_eq!(Money::parse_usd("5").unwrap().picos(), 5_000_000_000_000);
        assert_eq!(Money::parse_usd("0.000003").unwrap().picos(), 3_000_000);
        assert_eq!(Money::parse_usd(".5").unwrap().usd_string(), "0.500000");
        assert_eq!(Money::parse_usd("12.50").unwrap().usd_string(), "12.500000");
        for bad in ["", ".", "-1", "1e3", "abc", "1.0000000000001"] {
            assert!(Money::parse_usd(bad).is_err(), "{bad}");
        }
        assert_eq!(Money::from_usd_f64(3e-6).unwrap().picos(), 3_000_000);
        assert_eq!(Money::from_usd_f64(7.5e-9).unwrap().picos(), 7_500);
    }

    #[test]
    fn micro_rounding_and_multipliers() {
        assert_eq!(Money::from_picos(1_499_999).micros(), 1);
        assert_eq!(Money::from_picos(1_500_000).micros(), 2);
        assert_eq!(Money::from_picos(3_000_000).times(1_000).usd_string(), "0.003000");
        assert_eq!(Money::from_picos(1_000).scale_ppm(1_500_000).picos(), 1_500);
        assert_eq!(Money::from_picos(3).scale_ppm(500_000).picos(), 2);
    }
}
