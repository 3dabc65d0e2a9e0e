//! A fake GitHub REST API on 127.0.0.1 for the action's shell steps: the issue comment, issue, pull
//! request and workflow artifact endpoints the action uses, kept in memory, with every request
//! recorded. Artifact downloads answer with a redirect to a storage path, as GitHub does. Releases:
//! created as drafts, assets uploaded to the `upload_url` the release names (here on the same
//! server, under /uploads), published by PATCH; an asset download with `Accept:
//! application/octet-stream` redirects to storage as GitHub's does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub body: String,
}

/// What the fake repository holds.
#[derive(Default, Debug)]
pub struct State {
    pub requests: Vec<Request>,
    /// (id, issue number, body)
    pub comments: Vec<(u64, u64, String)>,
    /// {number, title, body, labels: [..], state}
    pub issues: Vec<Value>,
    /// {number, head: {ref, sha}, base: {ref}, title, body, state, merged_at, merge_commit_sha}
    pub pulls: Vec<Value>,
    /// {id, name, expired, created_at, workflow_run: {id, repository_id, head_repository_id, head_sha}}
    pub artifacts: Vec<Value>,
    /// Workflow runs: {id, path, event, head_sha, repository: {full_name}, head_repository: {full_name}}
    pub runs: Vec<Value>,
    /// Artifact id -> the zip archive its download serves.
    pub artifact_zips: std::collections::BTreeMap<u64, Vec<u8>>,
    /// {id, tag_name, draft, upload_url, html_url, assets: [{id, name, size}]}
    pub releases: Vec<Value>,
    /// Release asset id -> its bytes.
    pub asset_bytes: std::collections::BTreeMap<u64, Vec<u8>>,
    /// This server's base URL (for the upload_url of releases).
    pub base_url: String,
    next_id: u64,
}

pub struct FakeGithub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeGithub {
    pub fn start() -> FakeGithub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        listener.set_nonblocking(true).expect("nonblocking");
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            base_url: url.clone(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: a test never runs this long; the flag ends it at drop.
            let deadline = Instant::now() + Duration::from_secs(600);
            while !sp.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &st),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeGithub {
            url,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Adds a release of `tag` (published unless `draft`) with these assets; returns its id.
    pub fn add_release(&self, tag: &str, draft: bool, assets: &[(&str, Vec<u8>)]) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.new_release(tag, draft);
        for (name, bytes) in assets {
            s.add_asset(id, name, bytes.clone());
        }
        id
    }

    /// Every request body, as one string (for secret checks).
    pub fn all_bodies(&self) -> String {
        self.requests()
            .iter()
            .map(|r| format!("{} {}\n{}\n", r.method, r.path, r.body))
            .collect()
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut len, mut auth, mut expect, mut accept) = (0usize, String::new(), false, String::new());
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => len = value.parse().unwrap_or(0),
            "authorization" => auth = value,
            "expect" => expect = value.eq_ignore_ascii_case("100-continue"),
            "accept" => accept = value,
            _ => {}
        }
    }
    let mut out = stream;
    if expect {
        let _ = out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let raw = body;
    let body = String::from_utf8_lossy(&raw).to_string();
    let mut s = state.lock().unwrap();
    let uploading = path.starts_with("/uploads/");
    s.requests.push(Request {
        method: method.clone(),
        path: path.clone(),
        authorization: auth,
        body: if uploading {
            format!("<{} bytes>", raw.len())
        } else {
            body.clone()
        },
    });
    // Release assets: uploads (to the release's upload_url) and downloads (a redirect to storage).
    let segs: Vec<&str> = path.split('?').next().unwrap_or("").split('/').collect();
    if let ("POST", ["", "uploads", "repos", _, _, "releases", id, "assets"]) =
        (method.as_str(), segs.as_slice())
    {
        let id: u64 = id.parse().unwrap_or(0);
        let name = query(&path, "name").unwrap_or_default();
        let (status, reply) = if s.releases.iter().any(|r| r["id"] == id) && !name.is_empty() {
            let asset = s.add_asset(id, &name, raw);
            (201, asset)
        } else {
            (404, json!({"message": "Not Found"}))
        };
        drop(s);
        let reply = reply.to_string();
        let _ = write!(
            out,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        );
        return;
    }
    if let Some(id) = path.strip_prefix("/storage/assets/") {
        let bytes = id
            .parse::<u64>()
            .ok()
            .and_then(|id| s.asset_bytes.get(&id).cloned());
        drop(s);
        let Some(bytes) = bytes else {
            let _ =
                out.write_all(b"HTTP/1.1 404 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        };
        let _ = write!(
            out,
            "HTTP/1.1 200 X\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        );
        let _ = out.write_all(&bytes);
        return;
    }
    if let ["", "repos", _, _, "releases", "assets", id] = segs.as_slice()
        && method == "GET"
        && accept == "application/octet-stream"
    {
        let _ = write!(
            out,
            "HTTP/1.1 302 X\r\nLocation: /storage/assets/{id}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    // Artifact archives: the API redirects to storage, which serves the zip bytes.
    if let Some(id) = path.strip_prefix("/storage/artifacts/") {
        let zip = id
            .parse::<u64>()
            .ok()
            .and_then(|id| s.artifact_zips.get(&id).cloned());
        drop(s);
        let Some(zip) = zip else {
            let _ =
                out.write_all(b"HTTP/1.1 404 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        };
        let _ = write!(
            out,
            "HTTP/1.1 200 X\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            zip.len()
        );
        let _ = out.write_all(&zip);
        return;
    }
    if let ["", "repos", _, _, "actions", "artifacts", id, "zip"] = segs.as_slice() {
        let _ = write!(
            out,
            "HTTP/1.1 302 X\r\nLocation: /storage/artifacts/{id}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    let (status, reply) = route(&mut s, &method, &path, &body);
    drop(s);
    let reply = if status == 204 {
        String::new()
    } else {
        reply.to_string()
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

fn query(path: &str, key: &str) -> Option<String> {
    let q = path.split_once('?')?.1;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(s: &mut State, method: &str, full: &str, body: &str) -> (u16, Value) {
    let path = full.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let input: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    // /repos/{owner}/{repo}/...
    if segs.len() < 4 || segs[0] != "repos" {
        return (404, json!({"message": "Not Found"}));
    }
    let rest = &segs[3..];
    match (method, rest) {
        ("GET", ["issues", n, "comments"]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let page: u64 = query(full, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            if page > 1 {
                return (200, json!([]));
            }
            let list: Vec<Value> = s
                .comments
                .iter()
                .filter(|c| c.1 == n)
                .map(|c| json!({"id": c.0, "body": c.2}))
                .collect();
            (200, Value::Array(list))
        }
        ("POST", ["issues", n, "comments"]) => {
            s.next_id += 1;
            let id = s.next_id;
            let text = input["body"].as_str().unwrap_or("").to_string();
            s.comments.push((id, n.parse().unwrap_or(0), text));
            (201, json!({"id": id}))
        }
        ("PATCH", ["issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            match s.comments.iter_mut().find(|c| c.0 == id) {
                Some(c) => {
                    c.2 = input["body"].as_str().unwrap_or("").to_string();
                    (200, json!({"id": id}))
                }
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["issues"]) => {
            let label = query(full, "labels").unwrap_or_default();
            let list: Vec<Value> = s
                .issues
                .iter()
                .filter(|i| i["state"] == "open")
                .filter(|i| {
                    label.is_empty()
                        || i["labels"]
                            .as_array()
                            .is_some_and(|l| l.iter().any(|x| x["name"] == label.as_str()))
                })
                .cloned()
                .collect();
            (200, Value::Array(list))
        }
        ("POST", ["issues"]) => {
            let number = s.issues.len() as u64 + s.pulls.len() as u64 + 1;
            let labels: Vec<Value> = input["labels"]
                .as_array()
                .map(|l| l.iter().map(|n| json!({"name": n})).collect())
                .unwrap_or_default();
            let issue = json!({"number": number, "title": input["title"], "body": input["body"],
                "labels": labels, "state": "open"});
            s.issues.push(issue.clone());
            (201, issue)
        }
        ("PATCH", ["issues", n]) => {
            let n: u64 = n.parse().unwrap_or(0);
            match s.issues.iter_mut().find(|i| i["number"] == n) {
                Some(i) => {
                    for key in ["title", "body", "state"] {
                        if !input[key].is_null() {
                            i[key] = input[key].clone();
                        }
                    }
                    (200, i.clone())
                }
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["commits", sha, "pulls"]) => {
            let list: Vec<Value> = s
                .pulls
                .iter()
                .filter(|p| p["merge_commit_sha"] == *sha)
                .cloned()
                .collect();
            (200, Value::Array(list))
        }
        ("DELETE", ["issues", n, "labels", name]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let name = percent_decode(name);
            match s.pulls.iter_mut().find(|p| p["number"] == n) {
                Some(p) => {
                    if let Some(labels) = p["labels"].as_array_mut() {
                        labels.retain(|l| l["name"] != name.as_str());
                    }
                    (200, p["labels"].clone())
                }
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["pulls", n]) => {
            let n: u64 = n.parse().unwrap_or(0);
            match s.pulls.iter().find(|p| p["number"] == n) {
                Some(p) => (200, p.clone()),
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["actions", "runs", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            match s.runs.iter().find(|r| r["id"] == id) {
                Some(r) => (200, r.clone()),
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["actions", "artifacts"]) => {
            let name = query(full, "name").unwrap_or_default();
            let list: Vec<Value> = s
                .artifacts
                .iter()
                .filter(|a| name.is_empty() || a["name"] == name.as_str())
                .cloned()
                .collect();
            (200, json!({"total_count": list.len(), "artifacts": list}))
        }
        ("GET", ["pulls"]) => {
            let head = query(full, "head").unwrap_or_default();
            let branch = head
                .split_once(':')
                .map(|(_, b)| b.to_string())
                .unwrap_or(head);
            let list: Vec<Value> = s
                .pulls
                .iter()
                .filter(|p| {
                    p["state"] == "open"
                        && (branch.is_empty() || p["head"]["ref"] == branch.as_str())
                })
                .cloned()
                .collect();
            (200, Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            let number = s.issues.len() as u64 + s.pulls.len() as u64 + 1;
            let pull = json!({"number": number, "title": input["title"], "body": input["body"],
                "head": {"ref": input["head"]}, "base": {"ref": input["base"]}, "state": "open"});
            s.pulls.push(pull.clone());
            (201, pull)
        }
        ("PATCH", ["pulls", n]) => {
            let n: u64 = n.parse().unwrap_or(0);
            match s.pulls.iter_mut().find(|p| p["number"] == n) {
                Some(p) => {
                    for key in ["title", "body", "state"] {
                        if !input[key].is_null() {
                            p[key] = input[key].clone();
                        }
                    }
                    (200, p.clone())
                }
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["releases", "tags", tag]) => {
            let tag = percent_decode(tag);
            match s
                .releases
                .iter()
                .find(|r| r["tag_name"] == tag.as_str() && r["draft"] == false)
            {
                Some(r) => (200, r.clone()),
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["releases", "latest"]) => {
            match s.releases.iter().rev().find(|r| r["draft"] == false) {
                Some(r) => (200, r.clone()),
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["releases"]) => (200, Value::Array(s.releases.clone())),
        ("POST", ["releases"]) => {
            let tag = input["tag_name"].as_str().unwrap_or("").to_string();
            if tag.is_empty() {
                return (422, json!({"message": "tag_name is required"}));
            }
            let draft = input["draft"].as_bool().unwrap_or(false);
            let id = s.new_release(&tag, draft);
            let r = s.releases.iter().find(|r| r["id"] == id).cloned();
            (201, r.unwrap_or(Value::Null))
        }
        ("PATCH", ["releases", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            match s.releases.iter_mut().find(|r| r["id"] == id) {
                Some(r) => {
                    if let Some(d) = input["draft"].as_bool() {
                        r["draft"] = json!(d);
                    }
                    (200, r.clone())
                }
                None => (404, json!({"message": "Not Found"})),
            }
        }
        ("DELETE", ["releases", "assets", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            s.asset_bytes.remove(&id);
            let mut found = false;
            for r in &mut s.releases {
                if let Some(list) = r["assets"].as_array_mut() {
                    let before = list.len();
                    list.retain(|a| a["id"] != id);
                    found |= list.len() != before;
                }
            }
            if found {
                (204, Value::Null)
            } else {
                (404, json!({"message": "Not Found"}))
            }
        }
        _ => (404, json!({"message": "Not Found"})),
    }
}

impl State {
    fn new_release(&mut self, tag: &str, draft: bool) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let upload_url = format!(
            "{}/uploads/repos/OWNER/vetted/releases/{id}/assets{{?name,label}}",
            self.base_url
        );
        self.releases.push(json!({"id": id, "tag_name": tag, "draft": draft,
            "upload_url": upload_url, "html_url": format!("https://github.example/OWNER/vetted/releases/tag/{tag}"),
            "assets": []}));
        id
    }

    fn add_asset(&mut self, release: u64, name: &str, bytes: Vec<u8>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let asset = json!({"id": id, "name": name, "size": bytes.len(),
            "url": format!("{}/repos/OWNER/vetted/releases/assets/{id}", self.base_url)});
        self.asset_bytes.insert(id, bytes);
        if let Some(r) = self.releases.iter_mut().find(|r| r["id"] == release)
            && let Some(list) = r["assets"].as_array_mut()
        {
            list.push(asset.clone());
        }
        asset
    }
}
