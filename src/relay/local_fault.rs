//! A request that failed for want of switchyard's own resources (file descriptors, memory,
//! local ports), not because of the upstream: told apart from upstream failures by the OS error
//! at the bottom of the send error, never held against the account, and logged at most once
//! per interval however many requests hit it.
use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which local resource ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortage {
    /// EMFILE / ENFILE: the process's or the system's open-files limit.
    FileDescriptors,
    /// ENOMEM / ENOBUFS: kernel memory for the socket.
    Memory,
    /// EADDRNOTAVAIL / EADDRINUSE on connect: no ephemeral port left.
    LocalPorts,
}

impl Shortage {
    /// The OS error `code` as a local shortage, if it is one.
    pub fn from_os_error(code: i32) -> Option<Shortage> {
        match code {
            libc::EMFILE | libc::ENFILE => Some(Shortage::FileDescriptors),
            libc::ENOMEM | libc::ENOBUFS => Some(Shortage::Memory),
            libc::EADDRNOTAVAIL | libc::EADDRINUSE => Some(Shortage::LocalPorts),
            _ => None,
        }
    }

    /// The first local shortage in `e`'s source chain (hyper and reqwest wrap the OS error a
    /// few layers down).
    pub fn find(e: &(dyn StdError + 'static)) -> Option<Shortage> {
        let mut next = Some(e);
        while let Some(e) = next {
            if let Some(code) = e
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error)
            {
                return Shortage::from_os_error(code);
            }
            next = e.source();
        }
        None
    }

    /// The `kind` label of `switchyard_local_resource_faults_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Shortage::FileDescriptors => "file_descriptors",
            Shortage::Memory => "memory",
            Shortage::LocalPorts => "local_ports",
        }
    }
}

/// Shortages are logged at most this often: at the moment they happen they hit every request.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// When the last warning went out (ms since the epoch) and the shortages since.
static LAST_LOGGED_MS: AtomicU64 = AtomicU64::new(0);
static SINCE_LOGGED: AtomicU64 = AtomicU64::new(0);

/// Counts `shortage` and logs a warning unless one went out less than [`LOG_INTERVAL`] ago.
pub fn report(shortage: Shortage, metrics: &crate::metrics::Metrics) {
    metrics
        .local_resource_faults
        .with_label_values(&[shortage.as_str()])
        .inc();
    SINCE_LOGGED.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let last = LAST_LOGGED_MS.load(Ordering::Relaxed);
    let due = now.saturating_sub(last) >= LOG_INTERVAL.as_millis() as u64;
    // Whoever wins the exchange logs; the others were counted for the next warning.
    if due
        && LAST_LOGGED_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let count = SINCE_LOGGED.swap(0, Ordering::Relaxed);
        tracing::warn!(
            kind = shortage.as_str(),
            requests = count,
            interval_s = LOG_INTERVAL.as_secs(),
            "switchyard ran out of a local resource for upstream connections: requests answered as overloaded, accounts not rested (raise the open-files limit or lower the load)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An I/O error wrapped the way hyper's connector wraps it (a cause under a message).
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("tcp open error")
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    fn os(code: i32) -> Box<dyn StdError + Send + Sync> {
        Box::new(Wrapped(std::io::Error::from_raw_os_error(code)))
    }

    #[test]
    fn local_shortages_are_found_under_the_wrapping() {
        for (code, shortage) in [
            (libc::EMFILE, Shortage::FileDescriptors),
            (libc::ENFILE, Shortage::FileDescriptors),
            (libc::ENOMEM, Shortage::Memory),
            (libc::ENOBUFS, Shortage::Memory),
            (libc::EADDRNOTAVAIL, Shortage::LocalPorts),
            (libc::EADDRINUSE, Shortage::LocalPorts),
        ] {
            assert_eq!(Shortage::find(&*os(code)), Some(shortage), "errno {code}");
        }
    }

    #[test]
    fn upstream_failures_are_not_local() {
        for code in [
            libc::ECONNREFUSED,
            libc::ECONNRESET,
            libc::ETIMEDOUT,
            libc::EHOSTUNREACH,
        ] {
            assert_eq!(Shortage::find(&*os(code)), None, "errno {code}");
        }
        let plain = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
        assert_eq!(Shortage::find(&plain), None);
        let text: Box<dyn StdError + Send + Sync> = "dns error".into();
        assert_eq!(Shortage::find(&*text), None);
    }
}
