//! One alert per account and kind within a window, so a flapping account does not flood the
//! channels; what is left out is counted and reported with the next alert of that kind.
use super::alert::AlertKind;
use parking_lot::Mutex;
use std::collections::HashMap;
use switchyard_actors::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it; `suppressed` alerts of this account and kind were left out before it.
    Send { suppressed: u64 },
    /// One was sent within the window: leave this one out.
    Suppress,
}

struct Window {
    ends: Millis,
    suppressed: u64,
}

pub struct Dedup {
    window_ms: Millis,
    seen: Mutex<HashMap<(String, AlertKind), Window>>,
}

impl Dedup {
    pub fn new(window_ms: Millis) -> Self {
        Dedup {
            window_ms,
            seen: Mutex::default(),
        }
    }

    pub fn check(&self, account: &str, kind: AlertKind, now: Millis) -> Verdict {
        let mut seen = self.seen.lock();
        // Bounded by accounts × kinds; ended windows with nothing to report go.
        seen.retain(|_, w| w.ends > now || w.suppressed > 0);
        let fresh = Window {
            ends: now + self.window_ms,
            suppressed: 0,
        };
        match seen.get_mut(&(account.to_owned(), kind)) {
            Some(w) if w.ends > now => {
                w.suppressed += 1;
                Verdict::Suppress
            }
            Some(w) => {
                let suppressed = w.suppressed;
                *w = fresh;
                Verdict::Send { suppressed }
            }
            None => {
                seen.insert((account.to_owned(), kind), fresh);
                Verdict::Send { suppressed: 0 }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_account_and_kind_per_window_and_the_rest_is_counted() {
        let d = Dedup::new(1_000);
        assert_eq!(
            d.check("a", AlertKind::CooledDown, 0),
            Verdict::Send { suppressed: 0 }
        );
        assert_eq!(d.check("a", AlertKind::CooledDown, 10), Verdict::Suppress);
        assert_eq!(d.check("a", AlertKind::CooledDown, 999), Verdict::Suppress);
        // Another kind, another account: their own windows.
        assert_eq!(
            d.check("a", AlertKind::Recovered, 20),
            Verdict::Send { suppressed: 0 }
        );
        assert_eq!(
            d.check("b", AlertKind::CooledDown, 20),
            Verdict::Send { suppressed: 0 }
        );
        assert_eq!(
            d.check("a", AlertKind::CooledDown, 1_000),
            Verdict::Send { suppressed: 2 }
        );
        assert_eq!(d.check("a", AlertKind::CooledDown, 1_001), Verdict::Suppress);
    }
}
