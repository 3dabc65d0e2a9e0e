//! Test helper: a small hostile HTTP server on 127.0.0.1 (std `TcpListener`, one thread per
//! connection) that records every request it sees (method, path, headers) and answers through a
//! handler, which may misbehave: endless bodies, a byte at a time, huge documents. Every loop is
//! bounded: the server stops on drop or after [`LIFETIME`], a handler's writes fail once the
//! client hangs up, and [`Hostile::drip`] / [`Hostile::endless`] stop after a bounded total.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a server lives, whatever its test does.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Seen, &mut TcpStream, &AtomicBool) + Send + Sync;

/// A running server; stopped on drop.
pub struct Hostile {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    /// Starts a server answering every request with `handler` (which writes the whole response;
    /// the connection is closed after it). The handler gets the stop flag to end long writes.
    pub fn start(
        handler: impl Fn(&Seen, &mut TcpStream, &AtomicBool) + Send + Sync + 'static,
    ) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < LIFETIME {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (seen, stop, handler) =
                                (seen.clone(), stop.clone(), handler.clone());
                            std::thread::spawn(move || serve(stream, &seen, &stop, &*handler));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Hostile { port, seen, stop }
    }

    /// `127.0.0.1:<port>`, a registry name as in references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Every `Authorization` header value the server received.
    pub fn authorizations(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter_map(|s| s.header("authorization").map(str::to_string))
            .collect()
    }

    /// Writes a complete response with `Connection: close`.
    pub fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    }

    /// Headers without a length, then `chunk` over and over until the client hangs up, the
    /// server stops, or `max_total` bytes were written.
    pub fn endless(
        stream: &mut TcpStream,
        headers: &[(&str, &str)],
        chunk: &[u8],
        max_total: u64,
        stop: &AtomicBool,
    ) {
        let mut head = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_string();
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let mut written = 0u64;
        while written < max_total && !stop.load(Ordering::Relaxed) {
            if stream.write_all(chunk).is_err() {
                return;
            }
            written += chunk.len() as u64;
        }
    }

    /// A response announcing `length` bytes, then one byte every `every` until the client hangs
    /// up, the server stops, or `max_time` passed.
    pub fn drip(
        stream: &mut TcpStream,
        headers: &[(&str, &str)],
        length: usize,
        every: Duration,
        max_time: Duration,
        stop: &AtomicBool,
    ) {
        let mut head =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let started = Instant::now();
        for _ in 0..length {
            if stop.load(Ordering::Relaxed) || started.elapsed() > max_time {
                return;
            }
            if stream.write_all(b" ").and_then(|_| stream.flush()).is_err() {
                return;
            }
            std::thread::sleep(every);
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request head (at most 64 KiB) and its body (discarded), records it, answers it.
fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>, stop: &AtomicBool, handler: &Handler) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(mut write) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream.take(64 * 1024));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    for _ in 0..200 {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let req = Seen {
        method,
        path,
        headers,
    };
    if let Some(n) = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        let _ = std::io::copy(
            &mut (&mut reader).take(n.min(1 << 20)),
            &mut std::io::sink(),
        );
    }
    seen.lock().unwrap().push(req.clone());
    handler(&req, &mut write, stop);
    let _ = write.flush();
}
