//! Remote text cannot forge vetted's output: an error body from Docker Hub or a registry, and names
//! read from the live organization, that try to close a code fence, add a "no changes" heading, an
//! @mention and a `::warning::` workflow command reach stderr, the text plan and the markdown plan
//! escaped, on the line vetted put them on. The real binary against a loopback server that answers
//! every request with such a body, and against `vetted sandbox` seeded with such a name.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};

/// What a hostile server sends: it closes a fence, fakes a verdict, pings someone, starts a
/// workflow command, clears the screen and flips the text direction.
const FORGED: &str =
    "denied\n```\n## No changes, approve\n@admin\n::warning::x\r\u{1b}[2J\u{202e}evil";
/// The same as vetted prints it.
const ESCAPED: &str =
    "denied\\n```\\n## No changes, approve\\n@admin\\n::warning::x\\r\\u{1b}[2J\\u{202e}evil";

/// A loopback HTTP server answering every request with `status` and `body`, except that a HEAD gets
/// 200 without a digest header (so a registry client goes on to GET the manifest). Bounded: 120 s,
/// and it stops when dropped.
struct Canned {
    url: String,
    host: String,
    stop: Arc<AtomicBool>,
}

impl Canned {
    fn start(status: u16, content_type: &'static str, body: String) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                for _ in 0..200 {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut sink = vec![0; length.min(1 << 20)];
                let _ = reader.read_exact(&mut sink);
                let mut stream = reader.into_inner();
                if request.starts_with("HEAD ") {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    continue;
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Refused\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Canned {
            url: format!("http://{host}"),
            host,
            stop,
        }
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// No line of `out` begins with what the forged text tried to begin a line with.
fn assert_not_forged(what: &str, out: &str) {
    for line in out.lines() {
        let t = line.trim_start();
        for start in [
            "```",
            "## No changes",
            "## no changes",
            "@admin",
            "::warning::",
        ] {
            assert!(
                !t.starts_with(start),
                "{what}: a line starts with {start:?}:\n{out}"
            );
        }
    }
    for raw in ['\r', '\u{1b}', '\u{202e}'] {
        assert!(!out.contains(raw), "{what}: raw {raw:?} in:\n{out}");
    }
}

#[test]
fn a_hub_error_body_reaches_stderr_escaped() {
    let body = serde_json::json!({ "detail": FORGED }).to_string();
    let hub = Canned::start(400, "application/json", body);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vetted.toml"), "org = \"acme\"\n").unwrap();
    let out = vetted()
        .current_dir(dir.path())
        .env("VETTED_HUB_URL", &hub.url)
        .env("DOCKERHUB_USERNAME", "alice")
        .env("DOCKERHUB_TOKEN", OWNER_TOKEN)
        .args(["plan", "--policy", "vetted.toml"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(ESCAPED), "{err}");
    assert_not_forged("stderr", &err);
    assert_not_forged("stdout", &stdout(&out));
}

#[test]
fn a_registry_error_body_reaches_stderr_escaped() {
    let sb = Sandbox::start(
        &format!(
            "org = \"acme\"\n[users.alice]\n[[credentials]]\nidentifier = \"alice\"\nsecret = \"{OWNER_TOKEN}\"\nkind = \"password\"\n[members]\nalice = \"owner\"\n"
        ),
        &[],
    );
    // Both the upstream and docker.io are the hostile registry.
    let registry = Canned::start(400, "text/plain", FORGED.to_string());
    let policy = sb.write_policy(
        "vetted.toml",
        &format!(
            "org = \"acme\"\n[repositories.app]\nmirror = {{ from = \"{}/community/app\", tags = [\"1.0\"] }}\n",
            registry.host
        ),
    );
    for format in ["text", "markdown"] {
        let out = sb
            .vetted()
            .env("VETTED_DOCKER_IO_REGISTRY", &registry.url)
            .args(["plan", "--format", format, "--policy"])
            .arg(&policy)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(ESCAPED), "{err}");
        assert_not_forged("stderr", &err);
        assert_not_forged("stdout", &stdout(&out));
    }
}

/// `apply --format json` stopped by the same registry: the report still prints, alone on stdout,
/// with the body escaped in its message.
#[test]
fn a_registry_error_body_reaches_the_apply_report_escaped() {
    let sb = Sandbox::start(
        &format!(
            "org = \"acme\"\n[users.alice]\n[[credentials]]\nidentifier = \"alice\"\nsecret = \"{OWNER_TOKEN}\"\nkind = \"password\"\n[members]\nalice = \"owner\"\n"
        ),
        &[],
    );
    let registry = Canned::start(400, "text/plain", FORGED.to_string());
    let policy = sb.write_policy(
        "vetted.toml",
        &format!(
            "org = \"acme\"\n[repositories.app]\nmirror = {{ from = \"{}/community/app\", tags = [\"1.0\"] }}\n",
            registry.host
        ),
    );
    let out = sb
        .vetted()
        .env("VETTED_DOCKER_IO_REGISTRY", &registry.url)
        .args(["apply", "--yes", "--format", "json", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_not_forged("stderr", &err);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["status"], "error", "{doc:#}");
    assert_eq!(doc["exit_code"], 1);
    let message = doc["message"].as_str().unwrap();
    assert!(message.contains(ESCAPED), "{message}");
    assert!(
        !message.contains('\u{1b}') && !message.contains('\u{202e}') && !message.contains('\r'),
        "{message:?}"
    );
    assert!(
        !message
            .lines()
            .any(|l| l.starts_with("## ") || l.starts_with("::")),
        "{message}"
    );
}

#[test]
fn names_read_from_the_organization_reach_the_plan_escaped() {
    // A pending invite whose invitee is the forged text (lowercased, as Docker Hub stores it).
    let invitee = FORGED.to_lowercase();
    let seed = format!(
        "org = \"acme\"\n[users.alice]\n[[credentials]]\nidentifier = \"alice\"\nsecret = \"{OWNER_TOKEN}\"\nkind = \"password\"\n[members]\nalice = \"owner\"\n[[invites]]\ninvitee = {}\n",
        toml_string(&invitee)
    );
    let sb = Sandbox::start(&seed, &[]);
    let policy = sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[members]\nowners = [\"alice\"]\n",
    );
    let escaped = ESCAPED.to_lowercase();
    for format in ["text", "markdown"] {
        let out = sb
            .vetted()
            .args(["plan", "--format", format, "--policy"])
            .arg(&policy)
            .output()
            .unwrap();
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        // The note is there, escaped, on one line.
        let line = text
            .lines()
            .find(|l| l.contains("pending invite not in the policy"))
            .unwrap_or_else(|| panic!("no invite note in:\n{text}"));
        // In markdown the address is a code span: its backticks become quotes.
        let expected = if format == "markdown" {
            escaped.replace('`', "'")
        } else {
            escaped.clone()
        };
        assert!(line.contains(&expected), "{format}: {line}");
        assert_not_forged(format, &text);
        assert_not_forged("stderr", &stderr(&out));
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
