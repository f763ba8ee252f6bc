//! The state shared by the server's workers and the test's handle: recorded requests, what each
//! credential is scripted to do, and the counters behind ids and `in_flight`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::faults::Fault;
use crate::record::{RecordedRequest, Stored};
use crate::usage::MockUsage;

/// What the tests scripted for one credential.
#[derive(Default)]
struct Script {
    queued: VecDeque<Fault>,
    persistent: Option<Fault>,
    usage: Option<MockUsage>,
    headers: Vec<(String, String)>,
}

/// What a request gets, taken from its credential's script in one lock.
#[derive(Default)]
pub(crate) struct Plan {
    pub fault: Option<Fault>,
    pub usage: MockUsage,
    pub headers: Vec<(String, String)>,
}

#[derive(Default)]
struct Records {
    list: VecDeque<Stored>,
    /// Keep at most this many (the oldest go first); `None` keeps everything.
    limit: Option<usize>,
}

impl Records {
    fn push(&mut self, request: Stored) {
        if let Some(limit) = self.limit {
            if limit == 0 {
                return;
            }
            while self.list.len() >= limit {
                self.list.pop_front();
            }
        }
        self.list.push_back(request);
    }
}

#[derive(Default)]
pub(crate) struct Shared {
    records: Mutex<Records>,
    token_records: Mutex<Records>,
    scripts: Mutex<HashMap<String, Script>>,
    next_id: AtomicU64,
    next_token: AtomicU64,
    failing_token_calls: AtomicUsize,
    in_flight: Arc<AtomicUsize>,
}

impl Shared {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh number for the ids of one answer (`msg_mock_<n>`, ...).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn next_token_id(&self) -> u64 {
        self.next_token.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether requests are recorded at all; lets the load path skip building the record.
    pub fn recording(&self) -> bool {
        self.records.lock().limit != Some(0)
    }

    pub fn record(&self, request: Stored) {
        self.records.lock().push(request);
    }

    pub fn record_token_request(&self, request: Stored) {
        self.token_records.lock().push(request);
    }

    pub fn set_record_limit(&self, limit: Option<usize>) {
        for records in [&self.records, &self.token_records] {
            let mut records = records.lock();
            records.limit = limit;
            if let Some(limit) = limit {
                let excess = records.list.len().saturating_sub(limit);
                records.list.drain(..excess);
            }
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.records.lock().list.iter().map(Stored::to_request).collect()
    }

    pub fn requests_for(&self, credential: &str) -> Vec<RecordedRequest> {
        let records = self.records.lock();
        records
            .list
            .iter()
            .filter(|r| r.credential() == Some(credential))
            .map(Stored::to_request)
            .collect()
    }

    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.token_records
            .lock()
            .list
            .iter()
            .map(Stored::to_request)
            .collect()
    }

    pub fn enqueue(&self, credential: &str, fault: Fault) {
        self.scripts
            .lock()
            .entry(credential.to_owned())
            .or_default()
            .queued
            .push_back(fault);
    }

    pub fn set_persistent(&self, credential: &str, fault: Option<Fault>) {
        self.scripts
            .lock()
            .entry(credential.to_owned())
            .or_default()
            .persistent = fault;
    }

    pub fn set_usage(&self, credential: &str, usage: MockUsage) {
        self.scripts
            .lock()
            .entry(credential.to_owned())
            .or_default()
            .usage = Some(usage);
    }

    pub fn set_response_headers(&self, credential: &str, headers: Vec<(String, String)>) {
        self.scripts
            .lock()
            .entry(credential.to_owned())
            .or_default()
            .headers = headers;
    }

    /// Forgets recorded requests (token ones too) and everything scripted; the record limit and
    /// the id counters stay.
    pub fn clear(&self) {
        self.records.lock().list.clear();
        self.token_records.lock().list.clear();
        self.scripts.lock().clear();
        self.failing_token_calls.store(0, Ordering::Relaxed);
    }

    /// Takes what the next request with `credential` gets: its next queued fault, else its
    /// persistent one, plus its token counts and extra headers.
    pub fn plan(&self, credential: Option<&str>) -> Plan {
        let Some(credential) = credential else {
            return Plan::default();
        };
        let mut scripts = self.scripts.lock();
        match scripts.get_mut(credential) {
            None => Plan::default(),
            Some(script) => Plan {
                fault: script.queued.pop_front().or_else(|| script.persistent.clone()),
                usage: script.usage.clone().unwrap_or_default(),
                headers: script.headers.clone(),
            },
        }
    }

    /// Makes the next `n` calls to the token endpoint fail.
    pub fn fail_next_token_calls(&self, n: usize) {
        self.failing_token_calls.store(n, Ordering::Relaxed);
    }

    /// Whether this token call is one of those scripted to fail (and counts it down).
    pub fn take_token_failure(&self) -> bool {
        self.failing_token_calls
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a request as in flight until the guard is dropped, which happens when its answer
    /// has been sent or the client went away and the server dropped the answer.
    pub fn in_flight_guard(&self) -> InFlightGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(Arc::clone(&self.in_flight))
    }
}

pub(crate) struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_come_first_then_persistent() {
        let shared = Shared::new();
        shared.enqueue("a", Fault::Drop);
        shared.enqueue("a", Fault::Hang);
        shared.set_persistent("a", Some(Fault::Delay { ms: 1 }));
        assert_eq!(shared.plan(Some("a")).fault, Some(Fault::Drop));
        assert_eq!(shared.plan(Some("a")).fault, Some(Fault::Hang));
        assert_eq!(shared.plan(Some("a")).fault, Some(Fault::Delay { ms: 1 }));
        shared.set_persistent("a", None);
        assert_eq!(shared.plan(Some("a")).fault, None);
        assert_eq!(shared.plan(Some("b")).fault, None);
        assert_eq!(shared.plan(None).fault, None);
    }

    #[test]
    fn token_failures_count_down() {
        let shared = Shared::new();
        shared.fail_next_token_calls(2);
        assert!(shared.take_token_failure());
        assert!(shared.take_token_failure());
        assert!(!shared.take_token_failure());
    }

    #[test]
    fn record_limit_keeps_the_newest() {
        let shared = Shared::new();
        let req = |path: &str| {
            let headers = actix_web::http::header::HeaderMap::new();
            Stored::new(
                &actix_web::http::Method::GET,
                path,
                "",
                &headers,
                bytes::Bytes::new(),
                None,
            )
        };
        for p in ["/1", "/2", "/3"] {
            shared.record(req(p));
        }
        shared.set_record_limit(Some(2));
        shared.record(req("/4"));
        let paths: Vec<_> = shared.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/3", "/4"]);
        shared.set_record_limit(Some(0));
        assert!(!shared.recording());
        assert!(shared.requests().is_empty());
    }
}
