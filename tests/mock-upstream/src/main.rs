//! `mock-upstream [--port N] [--workers N] [--max-records N]`: serves the mock upstream on
//! 127.0.0.1 until killed. The first stdout line is `listening on http://127.0.0.1:PORT`, so a
//! script can start it on port 0 and read the port back.

use std::io::Write;
use std::process::ExitCode;

use mock_upstream::MockUpstream;

const USAGE: &str = "usage: mock-upstream [--port N] [--workers N] [--max-records N]\n\
    --port N         port on 127.0.0.1 (default 0: a free one)\n\
    --workers N      worker threads (default 1)\n\
    --max-records N  keep only the newest N recorded requests (default 1000; 0 records nothing)";

struct Options {
    port: u16,
    workers: usize,
    max_records: usize,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        workers: 1,
        max_records: 1_000,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--port" => options.port = value.parse().map_err(bad)?,
            "--workers" => options.workers = value.parse().map_err(bad)?,
            "--max-records" => options.max_records = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        // An empty message is a request for help, not an error.
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("mock-upstream: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mock = match MockUpstream::try_start_on(options.port, options.workers) {
        Ok(mock) => mock,
        Err(err) => {
            eprintln!(
                "mock-upstream: cannot listen on 127.0.0.1:{}: {err}",
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    mock.set_record_limit(Some(options.max_records));
    let mut stdout = std::io::stdout();
    // Scripts wait for this line; without the flush it would sit in a pipe buffer.
    if writeln!(stdout, "listening on {}", mock.url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    mock.wait();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn options_and_defaults() {
        let o = parse(args(&[])).unwrap();
        assert_eq!((o.port, o.workers, o.max_records), (0, 1, 1_000));
        let o = parse(args(&["--port", "8080", "--workers", "2", "--max-records", "0"])).unwrap();
        assert_eq!((o.port, o.workers, o.max_records), (8080, 2, 0));
        assert!(parse(args(&["--port"])).is_err());
        assert!(parse(args(&["--port", "x"])).is_err());
        assert!(parse(args(&["--bind", "0.0.0.0"])).is_err());
    }
}
