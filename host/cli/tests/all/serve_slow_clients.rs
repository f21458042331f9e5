//! `provisioning serve` against slow and abusive clients, over real TCP:
//! hundreds of connections that send part of a request head and stall do
//! not keep a normal call out and are closed after `--header-timeout-ms`;
//! at `--max-connections` a new connection waits for a slot rather than
//! being refused; a body that does not arrive within `--body-timeout-ms`
//! is answered 408 and its connection closed.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::Serve;
use serde_json::Value;

const TOKEN: &str = "slow-clients-test-token-4471";
const TOKEN_VAR: &str = "TEST_SLOW_SERVE_TOKEN";

/// A manifest without modules (the transport is under test, not a
/// module), in a fresh directory named after `name`.
fn empty_manifest(name: &str) -> PathBuf {
    let dir = common::fresh_dir(&format!("slow-{name}"));
    let manifest = dir.join("provisioning.toml");
    std::fs::write(&manifest, "").unwrap();
    manifest
}

fn start(name: &str, extra: &[&str]) -> Serve {
    Serve::start(&empty_manifest(name), (TOKEN_VAR, TOKEN), &[], extra)
}

/// `host:port` of a server's base URL.
fn address(server: &Serve) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Connections that each sent `partial` (possibly nothing) and stall.
fn stall(server: &Serve, count: usize, partial: &[u8]) -> Vec<(TcpStream, Instant)> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(address(server)).unwrap();
            stream.write_all(partial).unwrap();
            (stream, Instant::now())
        })
        .collect()
}

/// Waits (up to `limit`) for the server to close `stream`, reading and
/// dropping whatever it sends first; how long after `opened` that was.
fn closed_after(stream: &mut TcpStream, opened: Instant, limit: Duration) -> Duration {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return opened.elapsed(),
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                assert!(
                    opened.elapsed() < limit,
                    "a stalled connection still open after {limit:?}"
                );
            }
            // Reset by the server: closed too.
            Err(_) => return opened.elapsed(),
        }
    }
}

/// `GET /v1/health` with the token: the status, the body and how long it
/// took.
fn timed_health(server: &Serve) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, body) = server.get("/v1/health");
    (status, body, started.elapsed())
}

#[test]
fn stalled_connections_do_not_keep_a_call_out_and_are_closed_after_the_header_timeout() {
    let server = start("stalled", &["--header-timeout-ms", "1500"]);
    let opened = Instant::now();
    // Half a request line, a request line and some headers, and nothing
    // at all: 300 connections that never finish their request.
    let mut stalled = stall(&server, 100, b"GET /v1/hea");
    stalled.extend(stall(
        &server,
        100,
        b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ",
    ));
    stalled.extend(stall(&server, 100, b""));
    println!(
        "{} stalled connections opened in {:?}",
        stalled.len(),
        opened.elapsed()
    );

    let (status, body, took) = timed_health(&server);
    println!("a health call with them stalled took {took:?}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert!(
        took < Duration::from_secs(2),
        "the call took {took:?} beside the stalled connections"
    );

    let mut shortest = Duration::MAX;
    let mut longest = Duration::ZERO;
    for (stream, opened) in &mut stalled {
        let after = closed_after(stream, *opened, Duration::from_secs(10));
        shortest = shortest.min(after);
        longest = longest.max(after);
    }
    println!(
        "the stalled connections were closed {shortest:?} to {longest:?} after they were opened"
    );
    assert!(
        shortest >= Duration::from_millis(1400),
        "a stalled connection was closed before the header timeout ({shortest:?})"
    );
    assert!(
        longest < Duration::from_secs(6),
        "a stalled connection was kept {longest:?} with a 1.5 s header timeout"
    );
    let (status, _, took) = timed_health(&server);
    assert_eq!(status, 200);
    println!("a health call afterwards took {took:?}");
}

#[test]
fn at_the_connection_cap_a_new_connection_waits_for_a_slot() {
    let server = start(
        "cap",
        &["--max-connections", "20", "--header-timeout-ms", "1500"],
    );
    let stalled = stall(&server, 20, b"GET / HTTP/1.1\r\n");
    // Let the server accept all twenty before the call queues behind them.
    std::thread::sleep(Duration::from_millis(300));
    let (status, body, took) = timed_health(&server);
    println!("at the cap, with 20 stalled connections, a health call took {took:?}");
    assert_eq!(status, 200, "{body}");
    assert!(
        took >= Duration::from_millis(800),
        "the call was served in {took:?}, before any stalled connection's slot was free"
    );
    assert!(took < Duration::from_secs(10), "the call waited {took:?}");
    assert!(
        server.log().contains("connection cap reached"),
        "{}",
        server.log()
    );
    drop(stalled);
}

#[test]
fn a_body_that_does_not_arrive_in_time_is_answered_408_and_the_connection_closed() {
    let server = start("body", &["--body-timeout-ms", "700"]);
    let mut stream = TcpStream::connect(address(&server)).unwrap();
    let started = Instant::now();
    write!(
        stream,
        "POST /v1/modules/hostmenow/call HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: 200\r\n\r\n{{\"request\": "
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server answers, then closes");
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    println!("a body stalled half-way was answered after {took:?}:\n{answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request-timeout\""), "{answer}");
    assert!(
        took >= Duration::from_millis(650) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // A body sent whole is not affected.
    let (status, body) = server.post(
        "/v1/modules/hostmenow/call",
        &serde_json::json!({ "request": { "function": "test-connection" } }),
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["kind"], "unknown-module");
}

#[test]
fn a_head_trickled_a_byte_at_a_time_is_cut_off_at_the_header_timeout() {
    let server = start("trickle", &["--header-timeout-ms", "1000"]);
    let mut stream = TcpStream::connect(address(&server)).unwrap();
    let opened = Instant::now();
    let head = format!(
        "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    );
    // One byte every 100 ms: each read is prompt, the head would take 8 s.
    let mut cut_off = None;
    for byte in head.as_bytes() {
        if stream.write_all(&[*byte]).is_err() {
            cut_off = Some(opened.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut probe = [0u8; 512];
        stream.set_nonblocking(true).unwrap();
        let read = stream.read(&mut probe);
        stream.set_nonblocking(false).unwrap();
        if matches!(read, Ok(0))
            || matches!(&read, Err(e) if e.kind() != std::io::ErrorKind::WouldBlock)
        {
            cut_off = Some(opened.elapsed());
            break;
        }
    }
    let cut_off = cut_off.expect("the trickled head was never cut off");
    println!("a head trickled a byte every 100 ms was cut off after {cut_off:?}");
    assert!(
        cut_off >= Duration::from_millis(900) && cut_off < Duration::from_secs(4),
        "{cut_off:?}"
    );
}
