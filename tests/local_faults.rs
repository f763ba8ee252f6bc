//! Running out of file descriptors is switchyard's fault, not the account's: the real binary,
//! started with an open-files limit it cannot raise, holds slow streams until its descriptors
//! run out. The request that cannot open its upstream connection gets the API's overload
//! error, the account is not rested, `/metrics` counts the fault, and once the streams end the
//! next request is served.
mod binary;

use futures::StreamExt;
use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::time::Duration;

/// Soft and hard limit of the child: low enough to run out with a few dozen streams, and the
/// hard limit equal to the soft one, so its own raising at start-up changes nothing.
const OPEN_FILES: u64 = 96;

fn body() -> Value {
    json!({"model": "claude-sonnet-5", "max_tokens": 32, "stream": true, "messages": [{"role": "user", "content": "hold"}]})
}

/// What one more request got while the others held their streams.
enum Got {
    /// A stream, held open (first bytes read).
    Stream(futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>),
    Overloaded {
        status: u16,
        retry_after: Option<String>,
        body: Value,
    },
    /// Not accepted in time: the server could not accept the connection either.
    NotAccepted,
}

async fn one_more(base: &str, key: &str) -> Got {
    // A connection per request: one that got an error answer is closed, not kept for the next.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let send = http
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", key)
        .json(&body())
        .send();
    let resp = match tokio::time::timeout(Duration::from_secs(3), send).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) | Err(_) => return Got::NotAccepted,
    };
    let status = resp.status().as_u16();
    if status == 200 {
        let mut stream = resp.bytes_stream().boxed();
        stream.next().await.expect("first bytes").expect("first bytes");
        return Got::Stream(stream);
    }
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.json().await.unwrap_or(Value::Null);
    Got::Overloaded {
        status,
        retry_after,
        body,
    }
}

/// A request whose head is sent and whose body never comes: the server holds its socket.
async fn spare_connection(base: &str, key: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut conn = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {key}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn
}

#[tokio::test]
async fn running_out_of_descriptors_answers_overloaded_and_never_rests_the_account() {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let server = binary::start_with(&mock, data.path(), &[], |cmd| {
        // SAFETY: only setrlimit runs between fork and exec (async-signal-safe).
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: OPEN_FILES as libc::rlim_t,
                    rlim_max: OPEN_FILES as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let account = server
        .add_account(
            json!({"name": "only", "kind": "claude-console", "base_url": mock.url(), "api_key": "sk-ant-a"}),
        )
        .await;
    let key = server.create_key("k").await.1;
    server.wait_for_line(Duration::from_secs(5), |l| {
        l.contains("max_open_files") && l.contains(&format!("\"max_open_files\":{OPEN_FILES}"))
    });
    // Every stream lasts long enough to be held while the next ones are opened.
    mock.set_persistent("sk-ant-a", Some(Fault::SlowStream { ms: 1_500 }));

    // A connection that holds exactly one of the server's descriptors (a request whose body
    // never comes) until it is closed. Each stream takes two, so whether the client's accept or
    // the upstream connect runs out first depends on how many the process had open before;
    // closing this one once accepts fail leaves the next request one descriptor: enough to be
    // accepted, not enough to reach the upstream.
    let mut spare = Some(spare_connection(&server.base, &key).await);
    let mut held = Vec::new();
    let mut overloaded = Vec::new();
    let mut not_accepted = 0;
    while overloaded.len() < 2 && not_accepted < 2 {
        assert!(held.len() < OPEN_FILES as usize, "descriptors never ran out");
        match one_more(&server.base, &key).await {
            Got::Stream(s) => held.push(s),
            Got::Overloaded {
                status,
                retry_after,
                body,
            } => overloaded.push((status, retry_after, body)),
            Got::NotAccepted if spare.is_some() => drop(spare.take()),
            Got::NotAccepted => not_accepted += 1,
        }
    }
    assert!(
        !overloaded.is_empty(),
        "some request got as far as connecting upstream without a descriptor ({} streams held): {:#?}",
        held.len(),
        server
            .lines()
            .iter()
            .filter(|l| !l.contains("request finished"))
            .collect::<Vec<_>>()
    );
    for (status, retry_after, body) in &overloaded {
        assert_eq!(*status, 529, "{body}");
        assert_eq!(body["error"]["type"], "overloaded_error", "{body}");
        assert_eq!(retry_after.as_deref(), Some("1"));
    }

    // The held streams end normally: the mock paces them, nothing was cut.
    for mut s in held.drain(..) {
        while let Some(chunk) = s.next().await {
            chunk.expect("a held stream completes");
        }
    }
    let (_, acc) = server
        .admin(reqwest::Method::GET, &format!("/admin/accounts/{account}"), None)
        .await;
    assert!(acc["cooldown"].is_null(), "the account was rested: {acc}");

    mock.set_persistent("sk-ant-a", None);
    let again = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base))
        .header("x-api-key", &key)
        .json(&json!({"model": "claude-sonnet-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "served as soon as descriptors are free");

    let metrics = reqwest::Client::new()
        .get(server.url("/metrics"))
        .bearer_auth(binary::ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted: u64 = metrics
        .lines()
        .find(|l| l.starts_with("switchyard_local_resource_faults_total{kind=\"file_descriptors\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {metrics}"));
    assert_eq!(counted, overloaded.len() as u64, "{metrics}");
    let warnings = server
        .lines()
        .iter()
        .filter(|l| l.contains("ran out of a local resource"))
        .count();
    assert_eq!(warnings, 1, "logged once for the interval");
    let refused = server
        .lines()
        .iter()
        .filter(|l| l.contains("request finished") && l.contains("\"reason\":\"overloaded\""))
        .count();
    assert_eq!(refused, overloaded.len(), "each request's own log line says why");
}
