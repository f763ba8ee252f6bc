//! The cost formula (§9.2): each token class at its price; Claude cache writes and reads fall
//! back to 1.25× (5 min), 2× (1 h) and 0.1× of the input price when a price list lacks them;
//! models without cache-write prices bill cache creation as input; long-context prices apply
//! once the prompt exceeds 200k tokens where the model has them.
use super::Price;
use crate::money::Money;
use crate::usage::TokenUsage;
use serde::Serialize;

const LONG_CONTEXT_THRESHOLD: u64 = 200_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// What the provider charges.
    pub real: Money,
    /// `real` × the key's multiplier: what limits and bills use.
    pub rated: Money,
}

fn ratio(m: Money, num: u64, den: u64) -> Money {
    Money::from_picos(((m.picos() as u128 * num as u128 + den as u128 / 2) / den as u128) as u64)
}

pub fn cost_of(price: &Price, model: &str, u: &TokenUsage, multiplier_ppm: u32) -> Cost {
    let claude = model.to_ascii_lowercase().contains("claude");
    let prompt = u.input_tokens + u.cache_creation_tokens() + u.cache_read_tokens;
    let (input, output, write_5m, write_1h, read) =
        match price.long_context.filter(|_| prompt > LONG_CONTEXT_THRESHOLD) {
            Some(l) => (
                l.input,
                l.output,
                l.cache_write_5m,
                l.cache_write_1h,
                l.cache_read,
            ),
            None => (
                price.input,
                price.output,
                price.cache_write_5m,
                price.cache_write_1h,
                price.cache_read,
            ),
        };
    let (fallback_5m, fallback_1h, fallback_read) = if claude {
        (ratio(input, 125, 100), ratio(input, 2, 1), ratio(input, 1, 10))
    } else {
        (input, input, input)
    };
    let write_5m = write_5m.unwrap_or(fallback_5m);
    let write_1h = write_1h.unwrap_or(fallback_1h);
    let read = read.unwrap_or(fallback_read);
    let real = input.times(u.input_tokens)
        + output.times(u.output_tokens)
        + write_5m.times(u.cache_creation_5m_tokens)
        + write_1h.times(u.cache_creation_1h_tokens)
        + read.times(u.cache_read_tokens);
    Cost {
        real,
        rated: real.scale_ppm(multiplier_ppm),
    }
}

#[cfg(test)]
mod tests {
    use super::super::PriceBook;
    use super::*;

    fn usage(i: u64, o: u64, w5: u64, w1: u64, r: u64) -> TokenUsage {
        TokenUsage {
            input_tokens: i,
            output_tokens: o,
            cache_creation_5m_tokens: w5,
            cache_creation_1h_tokens: w1,
            cache_read_tokens: r,
        }
    }

    #[test]
    fn sonnet_costs_by_hand() {
        let book = PriceBook::default();
        let model = "claude-sonnet-5";
        // 1000 in × $3/M + 500 out × $15/M + 2000 5m × $3.75/M + 1000 1h × $6/M + 10000 read × $0.30/M
        // = 0.003 + 0.0075 + 0.0075 + 0.006 + 0.003 = $0.027
        let c = cost_of(
            &book.price(model),
            model,
            &usage(1_000, 500, 2_000, 1_000, 10_000),
            1_000_000,
        );
        assert_eq!(c.real.usd_string(), "0.027000");
        assert_eq!(c.rated, c.real);
        let doubled = cost_of(
            &book.price(model),
            model,
            &usage(1_000, 500, 2_000, 1_000, 10_000),
            2_000_000,
        );
        assert_eq!(doubled.rated.usd_string(), "0.054000");
    }

    #[test]
    fn claude_fallbacks_apply_when_cache_prices_are_missing() {
        let price = Price {
            input: Money::from_picos(10_000_000),
            output: Money::from_picos(50_000_000),
            ..Default::default()
        };
        let c = cost_of(
            &price,
            "claude-x",
            &usage(0, 0, 1_000_000, 1_000_000, 1_000_000),
            1_000_000,
        );
        // 5m 1.25 × $10 + 1h 2 × $10 + read 0.1 × $10 = 12.5 + 20 + 1 = $33.5
        assert_eq!(c.real.usd_string(), "33.500000");
        let g = cost_of(&price, "gpt-x", &usage(0, 0, 1_000_000, 0, 0), 1_000_000);
        assert_eq!(
            g.real.usd_string(),
            "10.000000",
            "other models bill cache writes as input"
        );
    }

    #[test]
    fn long_context_prices_start_above_200k_prompt_tokens() {
        let book = PriceBook::default();
        let m = "gemini-2.5-pro";
        let short = cost_of(&book.price(m), m, &usage(200_000, 1_000, 0, 0, 0), 1_000_000);
        assert_eq!(short.real.usd_string(), "0.260000"); // 0.25 + 0.01
        let longer = cost_of(&book.price(m), m, &usage(200_001, 1_000, 0, 0, 0), 1_000_000);
        assert_eq!(longer.real.usd_string(), "0.515003"); // 200001 × 2.5/M + 1000 × 15/M
    }
}
