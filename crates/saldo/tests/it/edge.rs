//! The edge of `saldo serve`, probed as an attacker or a broken client would: other hosts, other
//! content types, oversized requests, slow clients, huge and concurrent uploads.

use crate::serve::{http_client, Server};
use crate::support::Saldo;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn json(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().unwrap()).unwrap_or(Value::Null))
}

#[test]
fn another_host_is_refused_and_no_redirect_names_it() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let server = Server::start(&saldo, &[]);
    let url = |path: &str| format!("http://{}{path}", server.address);
    for host in ["evil.example", "evil.example:80", "rebinding.example:8080"] {
        let request = server.authed(http_client().get(url("/api/v1/accounts"))).header("host", host);
        let (status, body) = json(request.send().unwrap());
        assert_eq!((status, body["error"]["code"].as_str()), (421, Some("unknown_host")), "{host}");
        let connect = server
            .authed(http_client().post(url("/api/v1/connections")))
            .header("host", host)
            .header("content-type", "application/json")
            .body(r#"{"institution": "sandbox-bank"}"#);
        assert_eq!(connect.send().unwrap().status().as_u16(), 421);
    }
    // The consent redirect names the server's own address, whatever the request said.
    let (status, body) = json(
        server
            .authed(http_client().post(url("/api/v1/connections")))
            .header("host", format!("localhost:{}", server.address.rsplit(':').next().unwrap()))
            .header("content-type", "application/json")
            .body(r#"{"institution": "sandbox-bank"}"#)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    // The sandbox bank's page is this server's; what it sends the browser back to is the point.
    let consent = server.get(crate::serve::own_path(body["authorization_url"].as_str().unwrap())).1;
    assert!(consent.contains(&format!("http://{}/callback/sandbox", server.address)), "{consent}");
    assert!(!consent.contains("localhost"), "{consent}");
    assert!(server.terminate().success());

    // With a public URL, that is where the provider sends the browser back.
    let mut saldo = saldo;
    saldo.set_env("SALDO_PUBLIC_URL", "https://money.example.org");
    let server = Server::start(&saldo, &[]);
    let connect = server
        .authed(http_client().post(format!("http://{}/api/v1/connections", server.address)))
        .header("host", "money.example.org")
        .header("content-type", "application/json")
        .body(r#"{"institution": "sandbox-bank"}"#);
    let (status, body) = json(connect.send().unwrap());
    assert_eq!(status, 201, "{body}");
    let url = body["authorization_url"].as_str().unwrap();
    assert!(url.starts_with("https://money.example.org/sandbox/consent?"), "{url}");
    let consent = server.get(crate::serve::own_path(url)).1;
    assert!(consent.contains("https://money.example.org/callback/sandbox"), "{consent}");
    assert!(server.terminate().success());
}

#[test]
fn every_answer_of_the_http_layer_is_the_json_error_and_writes_take_documented_types_only() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    saldo.ok(&["account", "add", "--name", "Cash", "--kind", "cash", "--currency", "EUR", "--value", "10"]);
    let server = Server::start(&saldo, &[]);
    let url = |path: &str| format!("http://{}{path}", server.address);
    // A cross-site form's text/plain POST to the import writes nothing.
    let csv = "Date,Description,Amount\n2026-11-02,Coffee,-3.50\n";
    let plain =
        server.authed(http_client().post(url("/api/v1/imports?account=Cash"))).header("content-type", "text/plain");
    let (status, body) = json(plain.body(csv).send().unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    assert_eq!(saldo.json(&["transactions", "--account", "Cash", "--json"]), serde_json::json!([]));
    let form = http_client().post(url("/api/v1/tokens")).bearer_auth(&server.token);
    let (status, body) =
        json(form.header("content-type", "application/x-www-form-urlencoded").body("name=x").send().unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    // A form upload (multipart) is taken.
    let part = reqwest::blocking::multipart::Part::text(csv).file_name("coffee.csv");
    let upload = server
        .authed(http_client().post(url("/api/v1/imports?account=Cash")))
        .multipart(reqwest::blocking::multipart::Form::new().part("file", part));
    let (status, body) = json(upload.send().unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["path"], "coffee.csv");

    let (status, body) = json(server.authed(http_client().delete(url("/api/v1/networth"))).send().unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    let long = format!("/api/v1/accounts?{}", "a".repeat(9000));
    let (status, body) = json(server.authed(http_client().get(url(&long))).send().unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (414, Some("uri_too_long")));
    let big_header = server.authed(http_client().get(url("/api/v1/accounts"))).header("x-padding", "p".repeat(40_000));
    let (status, body) = json(big_header.send().unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (431, Some("headers_too_large")));
    let huge = format!(r#"{{"name": "{}", "scope": "read"}}"#, "n".repeat(3 * 1024 * 1024));
    let request = server.authed(http_client().post(url("/api/v1/tokens"))).header("content-type", "application/json");
    let (status, body) = json(request.body(huge).send().unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")));
    assert!(server.terminate().success());
}

/// Reads until the server closes the connection, or fails after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            Ok(_) => continue,
            Err(err) => panic!("the connection stayed open for {:?}: {err}", started.elapsed()),
        }
    }
}

#[test]
fn a_slow_or_idle_client_is_disconnected_after_the_timeout() {
    let mut saldo = Saldo::new(crate::support::Backend::Sqlite);
    saldo.set_env("SALDO_HTTP_TIMEOUT_SECONDS", "2");
    let server = Server::start(&saldo, &[]);
    // Headers that never end.
    let mut slow = TcpStream::connect(&server.address).unwrap();
    write!(slow, "GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: 1", server.address).unwrap();
    let waited = closed_within(&mut slow, Duration::from_secs(10));
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    // A kept-alive connection with nothing more to ask.
    let mut idle = TcpStream::connect(&server.address).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.address).unwrap();
    let waited = closed_within(&mut idle, Duration::from_secs(10));
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    assert!(server.terminate().success());
}

/// A body of `size` bytes that are no statement, made as it is sent.
struct Junk {
    left: u64,
}

impl Read for Junk {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = (buffer.len() as u64).min(self.left) as usize;
        buffer[..n].fill(0xA5);
        self.left -= n as u64;
        Ok(n)
    }
}

/// A body that sends a little and then waits until told to end.
struct Held {
    sent: bool,
    release: mpsc::Receiver<()>,
}

impl Read for Held {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if !self.sent {
            self.sent = true;
            let line = b"Date,Description,Amount\n";
            buffer[..line.len()].copy_from_slice(line);
            return Ok(line.len());
        }
        let _ = self.release.recv();
        Ok(0)
    }
}

#[test]
fn a_huge_upload_keeps_the_server_s_memory_flat_and_uploads_are_limited_per_user() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let server = Server::start(&saldo, &[]);
    let url = format!("http://{}/api/v1/imports?filename=huge.bin", server.address);
    let before = server.peak_memory_kib();
    let size = 1024 * 1024 * 1024;
    let body = reqwest::blocking::Body::sized(Junk { left: size }, size);
    let request = server.authed(http_client().post(&url)).header("content-type", "application/octet-stream");
    let (status, body) = json(request.body(body).send().unwrap());
    assert_eq!(status, 422, "{body}");
    let grown = server.peak_memory_kib().saturating_sub(before);
    assert!(grown < 100 * 1024, "a 1 GiB upload grew the server by {grown} KiB");

    // Two uploads at a time per user; a third waits its turn.
    let mut releases = Vec::new();
    let mut uploads = Vec::new();
    for _ in 0..2 {
        let (release, held) = mpsc::channel();
        releases.push(release);
        let request = server
            .authed(http_client().post(format!("http://{}/api/v1/imports?currency=EUR", server.address)))
            .header("content-type", "text/csv")
            .body(reqwest::blocking::Body::new(Held { sent: false, release: held }));
        uploads.push(std::thread::spawn(move || request.send().unwrap().status().as_u16()));
    }
    std::thread::sleep(Duration::from_millis(500));
    let third = server
        .authed(http_client().post(format!("http://{}/api/v1/imports?currency=EUR", server.address)))
        .header("content-type", "text/csv")
        .body("Date,Description,Amount\n2026-11-02,Coffee,-3.50\n");
    let response = third.send().unwrap();
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let (status, body) = json(response);
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_uploads")));
    for release in releases {
        release.send(()).unwrap();
    }
    for upload in uploads {
        // Taken (a header line is no statement, so nothing is imported).
        assert_eq!(upload.join().unwrap(), 422);
    }
    assert!(server.terminate().success());
}
