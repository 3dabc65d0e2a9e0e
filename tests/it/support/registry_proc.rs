//! Test helper: a real `docker-registry` (CNCF distribution 2.8) process on 127.0.0.1 with
//! filesystem storage in a temporary directory, killed on drop, plus a fixture builder that pushes
//! synthetic images and `skopeo` as an independent reader.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn digest_of(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A running registry; the process is killed and the storage removed on drop.
pub struct RegistryProc {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    /// Username and password when started with htpasswd basic auth.
    pub basic: Option<(String, String)>,
}

/// The user of [`RegistryProc::start_basic_auth`] and its bcrypt hash (cost 5): a fixed test
/// fixture, so no bcrypt implementation is needed at test time.
pub const BASIC_USER: &str = "vetted-test";
pub const BASIC_PASSWORD: &str = "fixture-pass";
const BASIC_HTPASSWD: &str =
    "vetted-test:$2b$05$L76pu1MZzmzy.KESf2PXp.qwXiKNiZgU8kEJMEWIgtuVSoJi6Hkt.";

impl RegistryProc {
    /// Starts an anonymous registry and waits (bounded) until `/v2/` answers.
    pub async fn start() -> RegistryProc {
        Self::start_with(false).await
    }

    /// Starts a registry that requires htpasswd basic auth ([`BASIC_USER`], [`BASIC_PASSWORD`]).
    pub async fn start_basic_auth() -> RegistryProc {
        Self::start_with(true).await
    }

    async fn start_with(basic: bool) -> RegistryProc {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let storage = dir.path().join("storage");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        let config = if basic {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{BASIC_HTPASSWD}\n")).unwrap();
            format!(
                "{config}auth:\n  htpasswd:\n    realm: vetted-test\n    path: {}\n",
                htpasswd.display()
            )
        } else {
            config
        };
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, config).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let proc = RegistryProc {
            child,
            port,
            dir,
            basic: basic.then(|| (BASIC_USER.to_string(), BASIC_PASSWORD.to_string())),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        for _ in 0..400 {
            if Instant::now() > deadline {
                break;
            }
            if let Ok(r) = proc
                .auth(http.get(format!("{}/v2/", proc.base())))
                .send()
                .await
                && r.status().is_success()
            {
                return proc;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("docker-registry on port {port} did not answer /v2/ in time");
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.basic {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The file holding a blob's bytes in the filesystem storage driver.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn storage(&self) -> &Path {
        self.dir.path()
    }

    /// Pushes a blob (monolithic upload) and returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let http = reqwest::Client::new();
        let d = digest_of(data);
        let r = self
            .auth(http.post(format!("{}/v2/{repo}/blobs/uploads/", self.base())))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let mut url = url::Url::parse(&self.base()).unwrap().join(&loc).unwrap();
        url.query_pairs_mut().append_pair("digest", &d);
        let r = self
            .auth(http.put(url).body(data.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        d
    }

    /// Pushes manifest bytes under a tag or digest; returns the manifest digest.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media: &str,
        body: &[u8],
    ) -> String {
        let r = self
            .auth(
                reqwest::Client::new()
                    .put(format!("{}/v2/{repo}/manifests/{reference}", self.base()))
                    .header("content-type", media)
                    .body(body.to_vec()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        digest_of(body)
    }

    /// Pushes a synthetic image (config + `layers` random layers, `shared` layers first) and
    /// returns (manifest digest, manifest bytes, blob digests).
    pub async fn push_image(
        &self,
        repo: &str,
        tag: Option<&str>,
        oci: bool,
        arch: &str,
        shared: &[Vec<u8>],
        own_layers: usize,
    ) -> (String, Vec<u8>, Vec<String>) {
        let mut layers: Vec<Vec<u8>> = shared.to_vec();
        for _ in 0..own_layers {
            let n = rand::random_range(1_000..200_000);
            layers.push((0..n).map(|_| rand::random::<u8>()).collect());
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
            "nonce": rand::random::<u64>()
        }))
        .unwrap();
        let (media, cfg_type, layer_type) = if oci {
            (
                OCI_MANIFEST,
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (
                DOCKER_MANIFEST,
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        };
        let cfg_digest = self.push_blob(repo, &config).await;
        let mut blobs = vec![cfg_digest.clone()];
        let mut descs = Vec::new();
        for l in &layers {
            let d = self.push_blob(repo, l).await;
            descs.push(serde_json::json!({"mediaType": layer_type, "digest": d, "size": l.len()}));
            blobs.push(d);
        }
        let manifest = serde_json::to_vec_pretty(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media,
            "config": {"mediaType": cfg_type, "digest": cfg_digest, "size": config.len()},
            "layers": descs
        }))
        .unwrap();
        let d = digest_of(&manifest);
        self.push_manifest(repo, tag.unwrap_or(&d), media, &manifest)
            .await;
        (d, manifest, blobs)
    }

    /// Pushes a 2-platform index (amd64, arm64/v8) sharing one base layer; returns (index digest,
    /// child digests, unique blob count).
    pub async fn push_index(
        &self,
        repo: &str,
        tag: &str,
        oci: bool,
    ) -> (String, Vec<String>, usize) {
        let base: Vec<u8> = (0..50_000).map(|_| rand::random::<u8>()).collect();
        let shared = vec![base];
        let (a, am, ab) = self.push_image(repo, None, oci, "amd64", &shared, 2).await;
        let (b, bm, bb) = self.push_image(repo, None, oci, "arm64", &shared, 1).await;
        let child_type = if oci { OCI_MANIFEST } else { DOCKER_MANIFEST };
        let media = if oci { OCI_INDEX } else { DOCKER_LIST };
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media, "manifests": [
                {"mediaType": child_type, "digest": a, "size": am.len(), "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": child_type, "digest": b, "size": bm.len(), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
            ]
        }))
        .unwrap();
        let d = self.push_manifest(repo, tag, media, &index).await;
        let mut unique: Vec<String> = ab.into_iter().chain(bb).collect();
        unique.sort();
        unique.dedup();
        (d, vec![a, b], unique.len())
    }

    /// The sha256 of the manifest `skopeo inspect --raw` reads for `repo:tag` (an independent client).
    pub fn skopeo_digest(&self, repo: &str, tag: &str) -> Option<String> {
        let mut cmd = Command::new("/usr/bin/skopeo");
        cmd.args(["inspect", "--raw", "--tls-verify=false"]);
        if let Some((u, p)) = &self.basic {
            cmd.arg(format!("--creds={u}:{p}"));
        }
        let out = cmd
            .arg(format!("docker://{}/{repo}:{tag}", self.host()))
            .output()
            .expect("run skopeo");
        out.status.success().then(|| digest_of(&out.stdout))
    }
}

impl Drop for RegistryProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fault-injecting HTTP proxy in front of a registry on 127.0.0.1: the first time each request
/// kind (method + path, uploads keyed by digest) is seen it answers 503, the second time 429 with
/// `Retry-After: 0`, then forwards. Counts the faults it injected.
pub struct FaultProxy {
    pub port: u16,
    pub faults: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream: &RegistryProc) -> FaultProxy {
        use axum::body::Body;
        use axum::extract::{Request, State};
        use axum::response::Response;
        use std::collections::HashMap;
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};

        #[derive(Clone)]
        struct S {
            upstream: String,
            own_host: Arc<Mutex<String>>,
            seen: Arc<Mutex<HashMap<String, u32>>>,
            faults: Arc<AtomicU64>,
            http: reqwest::Client,
        }
        async fn handle(State(s): State<S>, req: Request) -> Response {
            let uri = req.uri().clone();
            let path = uri.path().to_string();
            let query = uri.query().unwrap_or("").to_string();
            let key = if path.contains("/blobs/uploads/") && req.method() == "PUT" {
                format!("PUT upload {query}")
                    .split("digest=")
                    .last()
                    .unwrap_or("")
                    .to_string()
            } else {
                format!("{} {path}", req.method())
            };
            let n = {
                let mut seen = s.seen.lock().unwrap();
                let n = seen.entry(key).or_insert(0);
                *n += 1;
                *n
            };
            if n <= 2 && path != "/v2/" {
                s.faults.fetch_add(1, Ordering::Relaxed);
                let mut r = Response::builder().status(if n == 1 { 503 } else { 429 });
                if n == 2 {
                    r = r.header("retry-after", "0");
                }
                return r.body(Body::empty()).unwrap();
            }
            let url = format!(
                "{}{}",
                s.upstream,
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            );
            let own_host = s.own_host.lock().unwrap().clone();
            let mut rb = s.http.request(req.method().clone(), url);
            for (k, v) in req.headers() {
                if k != "host" && k != "connection" && k != "transfer-encoding" {
                    rb = rb.header(k, v);
                }
            }
            rb = rb.header("host", own_host);
            let body = reqwest::Body::wrap_stream(req.into_body().into_data_stream());
            let resp = match rb.body(body).send().await {
                Ok(r) => r,
                Err(_) => return Response::builder().status(502).body(Body::empty()).unwrap(),
            };
            let mut out = Response::builder().status(resp.status().as_u16());
            for (k, v) in resp.headers() {
                if k != "connection" && k != "transfer-encoding" {
                    out = out.header(k, v);
                }
            }
            out.body(Body::from_stream(resp.bytes_stream())).unwrap()
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(AtomicU64::new(0));
        let state = S {
            upstream: upstream.base(),
            own_host: Arc::new(Mutex::new(format!("127.0.0.1:{port}"))),
            seen: Arc::default(),
            faults: faults.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let app = axum::Router::new().fallback(handle).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy { port, faults, task }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
