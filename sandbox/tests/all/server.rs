//! The sandbox served over real loopback HTTP.

use std::time::Duration;

use provisioning_sandbox::Sandbox;
use provisioning_sandbox::fault::{self, Fault};
use provisioning_sandbox::hostmenow::{self, ServiceStatus};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal HTTP/1.1 client: one request per connection.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr).await?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let response = Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    // Every answer of the sandbox has a known length; no chunked decoding.
    assert_eq!(response.header("transfer-encoding"), None);
    Ok(response)
}

fn api_call(action: &str, params: Value) -> Value {
    json!({"api_key": hostmenow::API_KEY, "action": action, "params": params})
}

fn path_of(endpoint: &str) -> &str {
    let rest = endpoint.strip_prefix("http://").unwrap();
    &rest[rest.find('/').unwrap()..]
}

#[tokio::test]
async fn start_serves_on_loopback_at_the_providers_path() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    assert_eq!(
        sandbox.origin(),
        format!("http://127.0.0.1:{}", addr.port())
    );
    let endpoint = sandbox.hostmenow().endpoint();
    assert_eq!(
        endpoint,
        format!(
            "{}/backstage/modules/addons/products_reseller/api.php",
            sandbox.origin()
        )
    );

    let response = http(
        addr,
        "POST",
        path_of(&endpoint),
        Some(&api_call("Get_Products", json!([]))),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(response.json()["status"], "success");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_full_life_cycle_over_http() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    let hmn = sandbox.hostmenow().clone();
    let path = hostmenow::PATH;
    let params = json!({
        "serviceid": "42", "billingcycle": "annually", "domain": "example.com",
        "username": "example", "password": "pw", "selected_product": "101"
    });
    let created = http(addr, "POST", path, Some(&api_call("CreateAccount", params)))
        .await
        .unwrap();
    assert_eq!(created.json()["data"]["serviceid"], "42");
    assert_eq!(hmn.credit(), 400.01);
    let suspended = http(
        addr,
        "POST",
        path,
        Some(&api_call("SuspendAccount", json!({"serviceid": "42"}))),
    )
    .await
    .unwrap();
    assert_eq!(
        suspended.json()["message"],
        "Account suspended successfully"
    );
    assert_eq!(hmn.service("42").unwrap().status, ServiceStatus::Suspended);
    let terminated = http(
        addr,
        "POST",
        path,
        Some(&api_call("TerminateAccount", json!({"serviceid": "42"}))),
    )
    .await
    .unwrap();
    assert_eq!(
        terminated.json()["message"],
        "Account terminated successfully"
    );
    assert_eq!(hmn.service("42").unwrap().status, ServiceStatus::Terminated);

    let state = http(addr, "GET", "/_sandbox/hostmenow/services", None)
        .await
        .unwrap();
    assert_eq!(state.json()["services"][0]["status"], "Terminated");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_work_over_http_including_retry_after() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    let queued = http(
        addr,
        "POST",
        "/_sandbox/hostmenow/faults",
        Some(&json!({"fault": "too_many_requests", "retry_after_secs": 7})),
    )
    .await
    .unwrap();
    assert_eq!(queued.json(), json!({"pending": 1}));
    sandbox.hostmenow().faults().inject(Fault::EmptyBody, 1);

    let limited = http(
        addr,
        "POST",
        hostmenow::PATH,
        Some(&api_call("Get_Products", json!({}))),
    )
    .await
    .unwrap();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    let empty = http(
        addr,
        "POST",
        hostmenow::PATH,
        Some(&api_call("Get_Products", json!({}))),
    )
    .await
    .unwrap();
    assert_eq!(empty.status, 200);
    assert_eq!(empty.header("content-length"), Some("0"));
    assert!(empty.body.is_empty());
    let normal = http(
        addr,
        "POST",
        hostmenow::PATH,
        Some(&api_call("Get_Products", json!({}))),
    )
    .await
    .unwrap();
    assert_eq!(normal.json()["status"], "success");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    sandbox.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_sandbox_stops_serving() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    drop(sandbox);
    // The server stops in the background; give it a moment.
    let mut refused = false;
    for _ in 0..50 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "still accepting connections after drop");
}

#[tokio::test]
async fn start_on_uses_the_given_address() {
    let sandbox = Sandbox::start_on("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    assert!(sandbox.addr().ip().is_unspecified());
    // The origin is one a client can dial.
    assert_eq!(
        sandbox.origin(),
        format!("http://127.0.0.1:{}", sandbox.addr().port())
    );
    let taken = Sandbox::start_on(sandbox.addr()).await;
    assert!(taken.is_err());
    sandbox.shutdown().await;
}

/// Sends `request_body` to the HostMeNow API and reads what comes back
/// until the server closes the connection or `cap` bytes have arrived; a
/// reset after some bytes counts as a close.
async fn raw_exchange(addr: std::net::SocketAddr, request_body: &Value, cap: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = request_body.to_string();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        hostmenow::PATH,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    while raw.len() < cap {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    raw
}

fn head_and_body(raw: &[u8]) -> (String, &[u8]) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    (
        String::from_utf8(raw[..split].to_vec())
            .unwrap()
            .to_lowercase(),
        &raw[split + 4..],
    )
}

#[tokio::test]
async fn a_disconnect_mid_body_closes_the_connection_short_of_its_length() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    sandbox
        .hostmenow()
        .faults()
        .inject(Fault::DisconnectMidBody, 1);
    let raw = raw_exchange(addr, &api_call("Get_Products", json!({})), usize::MAX).await;
    let (head, body) = head_and_body(&raw);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 512"), "{head}");
    assert_eq!(body, fault::DISCONNECTED_JSON.as_bytes());
    // The server is still there for the next request.
    let normal = http(
        addr,
        "POST",
        hostmenow::PATH,
        Some(&api_call("Get_Products", json!({}))),
    )
    .await
    .unwrap();
    assert_eq!(normal.json()["status"], "success");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_oversized_body_streams_chunked_until_the_client_gives_up() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    sandbox
        .hostmenow()
        .faults()
        .inject(Fault::OversizedBody { bytes: 50 << 20 }, 1);
    // Read 2 MiB of the 50 and hang up.
    let raw = raw_exchange(addr, &api_call("Get_Products", json!({})), 2 << 20).await;
    let (head, body) = head_and_body(&raw);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert!(body.len() >= 1 << 20);
    assert!(
        body.windows(9).any(|w| w == br#"{"data":""#),
        "starts the JSON document"
    );
    let normal = http(
        addr,
        "POST",
        hostmenow::PATH,
        Some(&api_call("Get_Products", json!({}))),
    )
    .await
    .unwrap();
    assert_eq!(normal.json()["status"], "success");
    sandbox.shutdown().await;
}
