//! Checks, before anything is timed, that the comparison is fair: the
//! component and the native client put the same bytes on the wire for
//! usage-data (with pooled and with per-request connections), and read the
//! same figures from the sandbox.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provisioning_host::types::{Limit, Usage};
use provisioning_host::{Host, Response};
use provisioning_sandbox::hostmenow;

use crate::fixture::{self, Fixture, MODULE, SINGLE_SERVICE, hostmenow_config, usage_request};
use crate::native::NativeClient;
use crate::summary::Summary;

/// The documented usage answer, which the recorder gives every request.
const CANNED_ANSWER: &str = r#"{"status":"success","message":"Usage retrieved successfully","disk_usage":{"used_mb":"1250.50","limit_mb":"5000","percentage_used":"25.01"},"bandwidth_usage":{"current_month_mb":"3500.75","limit_mb":"0","percentage_used":"0.00"},"last_updated":"2025-01-03 14:30:00"}"#;

/// Runs both checks; panics, showing the difference, when either fails:
/// a baseline that does other work than the component measures nothing.
pub async fn check(fixture: &Fixture, summary: &mut Summary) {
    let bytes = same_request_bytes().await;
    summary.note(format!(
        "Parity: the component (pooled and per-request connections) and the native client \
         sent byte-identical usage-data requests ({bytes} bytes)."
    ));
    same_figures(fixture).await;
    summary.note("Parity: the component and the native client read the same figures.");
}

/// Sends usage-data to a recorder through two hosts (pooled HTTP on and
/// off) and the native client; returns the size of the one request they
/// all sent.
async fn same_request_bytes() -> usize {
    let recorder = Recorder::start(3);
    let endpoint = format!("{}{}", recorder.origin, hostmenow::PATH);
    for pooled_http in [true, false] {
        let host = Host::with_options(fixture::options(true, pooled_http)).expect("host starts");
        host.load(hostmenow_config(MODULE, &recorder.origin, &endpoint))
            .await
            .expect("the HostMeNow component loads");
        let answer = host.call(MODULE, &usage_request(SINGLE_SERVICE)).await;
        assert!(
            matches!(answer, Ok(Response::Usage(_))),
            "the component read the canned answer: {answer:?}"
        );
    }
    let native = NativeClient::new(&endpoint, hostmenow::API_KEY).expect("the endpoint parses");
    native
        .usage_data(SINGLE_SERVICE)
        .await
        .expect("the native client reads the canned answer");

    let requests = recorder.requests();
    let [pooled, per_connection, native] = requests.as_slice() else {
        panic!("the recorder saw {} requests, not 3", requests.len());
    };
    for (who, sent) in [
        ("pooled", pooled),
        ("per-request connection", per_connection),
    ] {
        assert!(
            sent == native,
            "the component ({who}) and the native client sent different requests:\n\
             component:\n{}\nnative:\n{}",
            sent.escape_ascii(),
            native.escape_ascii()
        );
    }
    native.len()
}

/// Reads the single service through the default host and the native client
/// and compares the figures.
async fn same_figures(fixture: &Fixture) {
    let host = fixture::loaded_host(fixture, fixture::options(true, true)).await;
    let component = component_usage(&host).await;
    let native = NativeClient::new(&fixture.endpoint(), hostmenow::API_KEY)
        .expect("the endpoint parses")
        .usage_data(SINGLE_SERVICE)
        .await
        .expect("the native client reads the sandbox");
    let figure = |name: &str| {
        component
            .figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| (f.used, limit(&f.limit)))
    };
    assert_eq!(
        figure("disk"),
        Some((native.disk_used_mb, native.disk_limit_mb)),
        "disk figures: component {component:?}, native {native:?}"
    );
    assert_eq!(
        figure("bandwidth"),
        Some((native.bandwidth_used_mb, native.bandwidth_limit_mb)),
        "bandwidth figures: component {component:?}, native {native:?}"
    );
}

async fn component_usage(host: &Host) -> Usage {
    match host.call(MODULE, &usage_request(SINGLE_SERVICE)).await {
        Ok(Response::Usage(usage)) => usage,
        other => panic!("usage-data through the component: {other:?}"),
    }
}

fn limit(limit: &Limit) -> Option<f64> {
    match limit {
        Limit::Unlimited => None,
        Limit::Value(value) => Some(*value),
    }
}

/// A loopback HTTP server that records the raw bytes of each request and
/// answers it with [`CANNED_ANSWER`], one request per connection.
struct Recorder {
    origin: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Recorder {
    /// Serves `expected` connections on a thread of its own, then stops.
    fn start(expected: usize) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the recorder");
        let addr = listener.local_addr().expect("the recorder's address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(expected) {
                let mut stream = stream.expect("accepting a connection");
                let request = read_request(&mut stream);
                recorded.lock().expect("recorder lock").push(request);
                answer(&mut stream);
            }
        });
        Recorder {
            origin: format!("http://{addr}"),
            requests,
        }
    }

    /// The requests recorded so far, oldest first.
    fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().expect("recorder lock").clone()
    }
}

/// Reads one HTTP/1.1 request: its head, then `Content-Length` bytes.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("setting a read timeout");
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find(&request, b"\r\n\r\n") {
            break end + 4;
        }
        let read = stream.read(&mut buffer).expect("reading a request head");
        assert!(read > 0, "the client closed before the end of the head");
        request.extend_from_slice(&buffer[..read]);
    };
    let length = content_length(&request[..head_end]);
    while request.len() < head_end + length {
        let read = stream.read(&mut buffer).expect("reading a request body");
        assert!(read > 0, "the client closed before the end of the body");
        request.extend_from_slice(&buffer[..read]);
    }
    request
}

/// The `Content-Length` of a request head (0 when absent).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| {
            value.trim().parse().expect("a numeric Content-Length")
        })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Answers with the canned usage and closes the connection.
fn answer(stream: &mut TcpStream) {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{CANNED_ANSWER}",
        CANNED_ANSWER.len()
    );
    stream
        .write_all(response.as_bytes())
        .expect("writing the canned answer");
}
