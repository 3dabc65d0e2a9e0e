//! The real `vetted` binary against a tiny loopback "hub" that echoes each request (request line,
//! headers and body) into its error answers, as some servers and proxies do: neither the password
//! nor the access token may show in stdout or stderr, in any form, wherever the echo places it
//! relative to the message truncation boundary.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::harness::{stderr, stdout, vetted};

/// A password with characters JSON escapes (quote, backslash), that Python escapes (non-ASCII) and
/// that Go escapes (`<`, `&`, `>`).
const SECRET: &str = "pw\"q\\z\u{e9}t/<&>-7h3k9m2n4p";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.Zm9vYmFyYmF6cXV4.c2lnbmF0dXJl";

/// The first run of 4 or more characters of `secret` found in `text`.
fn leaked_run(text: &str, secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(4)
        .map(|w| w.iter().collect::<String>())
        .find(|w| text.contains(w.as_str()))
}

#[derive(Clone, Copy)]
enum Echo {
    /// The login is refused with an echo of the login request.
    Login,
    /// The login succeeds; every other request is refused with an echo of it (bearer included).
    Calls,
}

/// Serves at most 40 connections or 60 s on 127.0.0.1; each answer closes its connection.
fn echo_server(mode: Echo, pad: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut served = 0;
        while served < 40 && Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            served += 1;
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let Ok(n) = conn.read(&mut chunk) else {
                    break (String::new(), String::new());
                };
                if n == 0 || buf.len() > 1 << 16 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0)
                    .min(1 << 16);
                while buf.len() < end + 4 + len {
                    match conn.read(&mut chunk) {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => break,
                    }
                }
                let body = String::from_utf8_lossy(&buf[end + 4..]).into_owned();
                break (head, body);
            };
            let login = head.starts_with("POST /v2/auth/token");
            let (status, answer) = match (mode, login) {
                (Echo::Calls, true) => (
                    "200 OK",
                    serde_json::json!({ "access_token": TOKEN }).to_string(),
                ),
                _ => {
                    // The body first, so the secret sits at the truncation boundary.
                    let echo = format!("{}{body}\n{head}", "~".repeat(pad));
                    let status = if login {
                        "400 Bad Request"
                    } else {
                        "403 Forbidden"
                    };
                    (status, serde_json::json!({ "detail": echo }).to_string())
                }
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://{addr}/")
}

#[test]
fn an_echoing_hub_never_shows_the_secret_or_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("vetted.toml");
    std::fs::write(
        &policy,
        "org = \"acme\"\n[image_access]\nenabled = true\nallow_official_images = true\nallow_verified_publishers = false\n",
    )
    .unwrap();
    for mode in [Echo::Login, Echo::Calls] {
        for pad in [120usize, 150, 160, 168, 175, 185, 199] {
            let url = echo_server(mode, pad);
            let out = vetted()
                .env("VETTED_HUB_URL", &url)
                .env("DOCKERHUB_USERNAME", "acme")
                .env("DOCKERHUB_TOKEN", SECRET)
                .args(["plan", "--policy"])
                .arg(&policy)
                .timeout(Duration::from_secs(60))
                .output()
                .unwrap();
            let text = format!("{}{}", stdout(&out), stderr(&out));
            assert!(!out.status.success(), "{text}");
            assert!(
                text.contains(if matches!(mode, Echo::Login) {
                    "400 Bad Request"
                } else {
                    "403 Forbidden"
                }),
                "{text}"
            );
            assert_eq!(leaked_run(&text, SECRET), None, "pad {pad}: {text}");
            assert_eq!(leaked_run(&text, TOKEN), None, "pad {pad}: {text}");
        }
    }
}
