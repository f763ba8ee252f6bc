//! Failed authentications per client address: after `max` failures within one window an
//! address gets 429 for the rest of the window instead of further key look-ups, so guessing
//! keys is slow and costs the store nothing. Clients whose key is known (cached) are not held
//! back, so a valid client sharing an address with a guesser keeps working.
use dashmap::DashMap;
use std::net::IpAddr;
use switchyard_actors::clock::Millis;

/// Addresses tracked at most; past this, windows that have ended are dropped first, then all.
const MAX_ADDRESSES: usize = 100_000;

pub struct FailedAuths {
    /// 0 = no limit.
    max: u32,
    window_ms: i64,
    /// Address → (window start, failures in it).
    by_peer: DashMap<IpAddr, (Millis, u32)>,
}

impl FailedAuths {
    pub fn new(max: u32, window_secs: u64) -> Self {
        FailedAuths {
            max,
            window_ms: (window_secs.max(1) as i64).saturating_mul(1_000),
            by_peer: DashMap::new(),
        }
    }

    /// When `peer` has used up its failures in the current window: the seconds until it ends.
    pub fn blocked(&self, peer: IpAddr, now: Millis) -> Option<u64> {
        if self.max == 0 {
            return None;
        }
        let (start, failures) = *self.by_peer.get(&peer)?;
        let ends = start + self.window_ms;
        (ends > now && failures >= self.max).then(|| ((ends - now) as u64).div_ceil(1_000).max(1))
    }

    pub fn record(&self, peer: IpAddr, now: Millis) {
        if self.max == 0 {
            return;
        }
        if self.by_peer.len() >= MAX_ADDRESSES && !self.by_peer.contains_key(&peer) {
            self.by_peer.retain(|_, (start, _)| *start + self.window_ms > now);
            if self.by_peer.len() >= MAX_ADDRESSES {
                self.by_peer.clear();
            }
        }
        let mut entry = self.by_peer.entry(peer).or_insert((now, 0));
        let (start, failures) = entry.value_mut();
        if *start + self.window_ms <= now {
            (*start, *failures) = (now, 0);
        }
        *failures = failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_held_back_for_the_rest_of_its_window_only() {
        let f = FailedAuths::new(3, 60);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for t in 0..3 {
            assert_eq!(f.blocked(a, t), None);
            f.record(a, t);
        }
        assert_eq!(f.blocked(a, 1_000), Some(59));
        assert_eq!(f.blocked(b, 1_000), None, "per address");
        assert_eq!(f.blocked(a, 60_000), None, "a new window");
        f.record(a, 60_000);
        assert_eq!(f.blocked(a, 60_001), None, "counting starts again");
        assert_eq!(FailedAuths::new(0, 60).blocked(a, 0), None);
    }
}
