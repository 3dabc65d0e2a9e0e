//! Test helper: a real `docker-registry` (CNCF distribution 2.8) process on 127.0.0.1 with
//! filesystem storage in a temporary directory, killed on drop, plus a fixture builder that pushes
//! synthetic images and `skopeo` as an independent reader. The registry, the push client and the
//! manifests come from the development kit (`vetted_sandbox::kit`), never from vetted's own client.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vetted_sandbox::kit::images::{
    Blob, Format, Platform, descriptor, image_manifest, index_manifest,
};
use vetted_sandbox::kit::push::{Credentials, Pusher};
use vetted_sandbox::kit::registry::{RegistryAuth, RegistryOptions, RegistryProcess};

pub use vetted_sandbox::kit::images::digest_of;
pub use vetted_sandbox::kit::media::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST as DOCKER_LIST, OCI_INDEX, OCI_MANIFEST,
};

/// A running registry; the process is killed and the storage removed on drop.
pub struct RegistryProc {
    process: RegistryProcess,
    pusher: Pusher,
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
        let auth = if basic {
            RegistryAuth::Htpasswd(BASIC_HTPASSWD.to_string())
        } else {
            RegistryAuth::Anonymous
        };
        let process = RegistryProcess::start(dir.path(), RegistryOptions { auth, cdn: None })
            .await
            .expect("start docker-registry");
        let port = process.url().port().expect("the registry's port");
        let basic = basic.then(|| (BASIC_USER.to_string(), BASIC_PASSWORD.to_string()));
        let creds = basic.as_ref().map(|(user, secret)| Credentials {
            user: user.clone(),
            secret: secret.clone(),
        });
        let pusher = Pusher::connect(process.url(), creds, Duration::from_secs(60))
            .await
            .expect("connect to docker-registry");
        RegistryProc {
            process,
            pusher,
            port,
            dir,
            basic,
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
        self.process.blob_path(digest)
    }

    pub fn storage(&self) -> &Path {
        self.dir.path()
    }

    /// Pushes a blob (monolithic upload) and returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let d = digest_of(data);
        self.pusher.upload(repo, &d, data.to_vec()).await.unwrap();
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
        self.pusher
            .push_manifest(repo, reference, &Blob::new(media, body.to_vec()))
            .await
            .unwrap()
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
        let format = Format::oci(oci);
        let cfg_digest = self.push_blob(repo, &config).await;
        let mut blobs = vec![cfg_digest.clone()];
        let mut descs = Vec::new();
        for l in &layers {
            let d = self.push_blob(repo, l).await;
            descs.push(descriptor(format.layer(), &d, l.len() as u64));
            blobs.push(d);
        }
        let config = descriptor(format.config(), &cfg_digest, config.len() as u64);
        let manifest = image_manifest(format, config, descs);
        let d = manifest.digest.clone();
        self.push_manifest(
            repo,
            tag.unwrap_or(&d),
            &manifest.media_type,
            &manifest.data,
        )
        .await;
        (d, manifest.data, blobs)
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
        let format = Format::oci(oci);
        let (am, bm) = (
            Blob::new(format.manifest(), am),
            Blob::new(format.manifest(), bm),
        );
        let index = index_manifest(
            format,
            &[
                (Platform::new("linux", "amd64", None), &am),
                (Platform::new("linux", "arm64", Some("v8")), &bm),
            ],
        );
        let d = self
            .push_manifest(repo, tag, &index.media_type, &index.data)
            .await;
        let mut unique: Vec<String> = ab.into_iter().chain(bb).collect();
        unique.sort();
        unique.dedup();
        (d, vec![a, b], unique.len())
    }

    /// Pushes (or moves `tag` to) an image built exactly as described: per platform
    /// (`os/arch[/variant]`) its layers' contents, each config with `created` and `labels`; an
    /// index (OCI) when there are several platforms. Deterministic: the same description gives the
    /// same digests. Returns the top manifest's digest.
    pub async fn push_described(
        &self,
        repo: &str,
        tag: &str,
        platforms: &[(&str, Vec<Vec<u8>>)],
        created: &str,
        labels: &serde_json::Value,
    ) -> String {
        let format = Format::oci(true);
        let mut children = Vec::new();
        for (key, layers) in platforms {
            let parts: Vec<&str> = key.split('/').collect();
            let platform = Platform::new(parts[0], parts[1], parts.get(2).copied());
            let mut descs = Vec::new();
            for l in layers {
                let d = self.push_blob(repo, l).await;
                descs.push(descriptor(format.layer(), &d, l.len() as u64));
            }
            let mut config = serde_json::json!({
                "os": parts[0], "architecture": parts[1], "created": created,
                "config": {"Labels": labels},
                "rootfs": {"type": "layers", "diff_ids": []},
            });
            if let Some(v) = parts.get(2) {
                config["variant"] = serde_json::json!(v);
            }
            let config = serde_json::to_vec(&config).unwrap();
            let cfg = self.push_blob(repo, &config).await;
            let manifest = image_manifest(
                format,
                descriptor(format.config(), &cfg, config.len() as u64),
                descs,
            );
            children.push((platform, manifest));
        }
        if children.len() == 1 {
            let (_, m) = children.remove(0);
            return self.push_manifest(repo, tag, &m.media_type, &m.data).await;
        }
        for (_, m) in &children {
            self.push_manifest(repo, &m.digest, &m.media_type, &m.data)
                .await;
        }
        let refs: Vec<(Platform, &Blob)> = children.iter().map(|(p, m)| (p.clone(), m)).collect();
        let index = index_manifest(format, &refs);
        self.push_manifest(repo, tag, &index.media_type, &index.data)
            .await
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
