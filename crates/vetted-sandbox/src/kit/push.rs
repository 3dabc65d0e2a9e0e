//! The kit's push client: uploads blobs (monolithic `POST` + `PUT`, from memory or streamed from a
//! file) and manifests to a registry, authenticating as the registry's `/v2/` challenge asks: the
//! token flow (Bearer, a token per repository from the challenge's realm, with Basic credentials
//! when given, anonymous otherwise), Basic auth (htpasswd), or none. Every manifest digest the
//! registry echoes is checked against the bytes sent. Usable from several tasks at once (`&self`).
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::StatusCode;
use tokio::io::AsyncReadExt as _;
use url::Url;

use super::images::{Blob, FileBlob, ImageSet, SyntheticImage};

/// Registry credentials (for the token service, or Basic auth). Debug redacts the secret.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What was pushed for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub media_type: String,
    pub signature_tag: Option<String>,
}

/// Parses `Bearer realm="..",service="..",scope=".."` into its parameters.
fn parse_challenge(value: &str) -> Option<BTreeMap<String, String>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut out = BTreeMap::new();
    let mut rest = rest.trim();
    for _ in 0..16 {
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let (val, tail) = after.split_once('"')?;
        out.insert(key.trim().to_string(), val.to_string());
        rest = tail.trim_start_matches([',', ' ']);
    }
    Some(out)
}

/// How requests are authenticated, as the registry's challenge asked.
#[derive(Debug, Clone)]
enum Auth {
    None,
    Basic,
    /// Token realm and service.
    Token(Url, String),
}

/// Bytes of one streamed chunk of a file upload.
const CHUNK: usize = 256 * 1024;

/// A push client for one registry.
pub struct Pusher {
    client: reqwest::Client,
    base: Url,
    creds: Option<Credentials>,
    auth: Auth,
    tokens: Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("base", &self.base.as_str())
            .field("creds", &self.creds)
            .field("auth", &self.auth)
            .finish()
    }
}

impl Pusher {
    /// Connects to the registry at `base` (e.g. `http://127.0.0.1:5000/`), whose `/v2/` answer
    /// decides the authentication; each request times out after `timeout`.
    pub async fn connect(
        base: &Url,
        creds: Option<Credentials>,
        timeout: Duration,
    ) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(16)
            .build()?;
        let resp = client
            .get(base.join("v2/")?)
            .send()
            .await
            .with_context(|| format!("reaching the registry at {base}"))?;
        let auth = if resp.status() == StatusCode::UNAUTHORIZED {
            let header = resp
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| anyhow!("the registry answered 401 without a challenge"))?;
            if header
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("basic")
            {
                Auth::Basic
            } else {
                let params = parse_challenge(header)
                    .ok_or_else(|| anyhow!("unsupported registry auth challenge: {header}"))?;
                let realm = params
                    .get("realm")
                    .ok_or_else(|| anyhow!("the registry's challenge has no realm"))?;
                let realm = Url::parse(realm).context("parsing the registry's token realm")?;
                Auth::Token(realm, params.get("service").cloned().unwrap_or_default())
            }
        } else {
            Auth::None
        };
        Ok(Self {
            client,
            base: base.clone(),
            creds,
            auth,
            tokens: Mutex::new(BTreeMap::new()),
        })
    }

    async fn token(&self, repository: &str) -> Result<Option<String>> {
        let Auth::Token(realm, service) = &self.auth else {
            return Ok(None);
        };
        if let Some(t) = self
            .tokens
            .lock()
            .ok()
            .and_then(|t| t.get(repository).cloned())
        {
            return Ok(Some(t));
        }
        let mut req = self.client.get(realm.clone()).query(&[
            ("service", service.as_str()),
            ("scope", &format!("repository:{repository}:pull,push")),
        ]);
        if let Some(c) = &self.creds {
            req = req.basic_auth(&c.user, Some(&c.secret));
        }
        let resp = req.send().await.context("requesting a registry token")?;
        if !resp.status().is_success() {
            bail!(
                "the token service refused a token for {repository}: {}",
                resp.status()
            );
        }
        let body: serde_json::Value = resp.json().await.context("reading the token response")?;
        let token = body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .ok_or_else(|| anyhow!("the token response has no token"))?
            .to_string();
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(repository.to_string(), token.clone());
        }
        Ok(Some(token))
    }

    async fn request(
        &self,
        repository: &str,
        method: reqwest::Method,
        url: Url,
    ) -> Result<reqwest::RequestBuilder> {
        let req = self.client.request(method, url);
        Ok(match (&self.auth, &self.creds) {
            (Auth::Token(..), _) => match self.token(repository).await? {
                Some(t) => req.bearer_auth(t),
                None => req,
            },
            (Auth::Basic, Some(c)) => req.basic_auth(&c.user, Some(&c.secret)),
            _ => req,
        })
    }

    /// Whether the registry has blob `digest` in `repository` (`HEAD`).
    pub async fn blob_exists(&self, repository: &str, digest: &str) -> Result<bool> {
        let url = self.base.join(&format!("v2/{repository}/blobs/{digest}"))?;
        let resp = self
            .request(repository, reqwest::Method::HEAD, url)
            .await?
            .send()
            .await?;
        Ok(resp.status() == StatusCode::OK)
    }

    /// Starts an upload and returns the URL to `PUT` blob `digest` to.
    async fn start_upload(&self, repository: &str, digest: &str) -> Result<Url> {
        let url = self.base.join(&format!("v2/{repository}/blobs/uploads/"))?;
        let resp = self
            .request(repository, reqwest::Method::POST, url)
            .await?
            .send()
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            bail!(
                "starting a blob upload to {repository} failed: {}",
                resp.status()
            );
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("the registry's upload response has no Location"))?;
        let mut upload = self.base.join(location)?;
        upload.query_pairs_mut().append_pair("digest", digest);
        Ok(upload)
    }

    async fn finish_upload(
        &self,
        repository: &str,
        digest: &str,
        upload: Url,
        body: reqwest::Body,
        size: u64,
    ) -> Result<()> {
        let resp = self
            .request(repository, reqwest::Method::PUT, upload)
            .await?
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(body)
            .send()
            .await?;
        if resp.status() != StatusCode::CREATED {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            bail!(
                "uploading {digest} to {repository} failed: {status} {}",
                text.chars().take(300).collect::<String>()
            );
        }
        Ok(())
    }

    /// Uploads `data` as blob `digest` (monolithic upload, no existence check).
    pub async fn upload(&self, repository: &str, digest: &str, data: Vec<u8>) -> Result<()> {
        let upload = self.start_upload(repository, digest).await?;
        let size = data.len() as u64;
        self.finish_upload(repository, digest, upload, data.into(), size)
            .await
    }

    /// Uploads a file blob, streamed in chunks (monolithic upload, no existence check).
    pub async fn upload_file(&self, repository: &str, blob: &FileBlob) -> Result<()> {
        let upload = self.start_upload(repository, &blob.digest).await?;
        let body = reqwest::Body::wrap_stream(file_stream(&blob.path).await?);
        self.finish_upload(repository, &blob.digest, upload, body, blob.size)
            .await
    }

    /// Uploads `blob` unless the registry has it already.
    pub async fn push_blob(&self, repository: &str, blob: &Blob) -> Result<()> {
        if self.blob_exists(repository, &blob.digest).await? {
            return Ok(());
        }
        self.upload(repository, &blob.digest, blob.data.clone())
            .await
    }

    /// Puts manifest `m` under `reference` (a tag or digest) and returns its digest, checked
    /// against the one the registry echoes.
    pub async fn push_manifest(
        &self,
        repository: &str,
        reference: &str,
        m: &Blob,
    ) -> Result<String> {
        let url = self
            .base
            .join(&format!("v2/{repository}/manifests/{reference}"))?;
        let resp = self
            .request(repository, reqwest::Method::PUT, url)
            .await?
            .header(reqwest::header::CONTENT_TYPE, &m.media_type)
            .body(m.data.clone())
            .send()
            .await?;
        if resp.status() != StatusCode::CREATED {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            bail!(
                "pushing manifest {repository}:{reference} failed: {status} {}",
                body.chars().take(300).collect::<String>()
            );
        }
        let echoed = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok());
        if let Some(echoed) = echoed
            && echoed != m.digest
        {
            bail!(
                "the registry stored {repository}:{reference} as {echoed}, expected {}",
                m.digest
            );
        }
        Ok(m.digest.clone())
    }

    /// Pushes one generated image into `repository` (blobs, child manifests by digest, the tagged
    /// manifest, then its signature tag).
    pub async fn push_image(&self, repository: &str, img: &SyntheticImage) -> Result<PushedImage> {
        let mut done = BTreeSet::new();
        for blob in &img.blobs {
            if done.insert(blob.digest.clone()) {
                self.push_blob(repository, blob).await?;
            }
        }
        for child in &img.children {
            self.push_manifest(repository, &child.digest, child).await?;
        }
        self.push_manifest(repository, &img.tag, &img.manifest)
            .await?;
        if let Some(sig) = &img.signature {
            for blob in &sig.blobs {
                self.push_blob(repository, blob).await?;
            }
            self.push_manifest(repository, &sig.tag, &sig.manifest)
                .await?;
        }
        Ok(PushedImage {
            repository: repository.to_string(),
            tag: img.tag.clone(),
            digest: img.manifest.digest.clone(),
            media_type: img.manifest.media_type.clone(),
            signature_tag: img.signature.as_ref().map(|s| s.tag.clone()),
        })
    }

    /// Pushes every image of `set` into its own repository, in order.
    pub async fn push_set(&self, set: &ImageSet) -> Result<Vec<PushedImage>> {
        let mut pushed = Vec::new();
        for img in &set.images {
            pushed.push(self.push_image(&img.repository, img).await?);
        }
        Ok(pushed)
    }
}

/// A file's bytes as a stream of chunks.
async fn file_stream(
    path: &Path,
) -> Result<impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(futures::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((bytes::Bytes::from(buf), f)))
    }))
}

/// Pushes every image of `set` to the registry at `registry_url` (see [`Pusher::push_set`]), with
/// Basic `creds` for the token service when given (anonymous otherwise).
pub async fn push_images(
    registry_url: &Url,
    creds: Option<&Credentials>,
    set: &ImageSet,
) -> Result<Vec<PushedImage>> {
    Pusher::connect(registry_url, creds.cloned(), Duration::from_secs(60))
        .await?
        .push_set(set)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::images::{ImageSpec, default_specs, digest_of};
    use crate::kit::registry::{RegistryAuth, RegistryOptions, RegistryProcess, TokenAuth};
    use crate::token::{self, TokenIssuer};
    use std::sync::Arc;

    #[test]
    fn challenges_parse() {
        let p = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(p["realm"], "http://127.0.0.1:1/token");
        assert_eq!(p["service"], "reg");
        assert_eq!(p["scope"], "repository:a/b:pull");
        assert!(parse_challenge("Basic realm=\"x\"").is_none());
        assert!(
            format!(
                "{:?}",
                Credentials {
                    user: "u".into(),
                    secret: "hunter2".into()
                }
            )
            .contains("redacted")
        );
    }

    #[tokio::test]
    async fn push_to_real_registry_with_token_auth() {
        let dir = tempfile::tempdir().unwrap();
        let issuer =
            Arc::new(TokenIssuer::new(dir.path(), "vetted-sandbox", "vetted-registry").unwrap());
        let (base, server) = token::tests::serve(token::router(
            issuer.clone(),
            Arc::new(token::tests::TestAuthz),
        ))
        .await;
        let registry = RegistryProcess::start(
            &dir.path().join("registry"),
            RegistryOptions {
                auth: RegistryAuth::Token(TokenAuth {
                    realm: Url::parse(&format!("{base}/token")).unwrap(),
                    service: issuer.service().to_string(),
                    issuer: issuer.issuer().to_string(),
                    cert_pem_path: issuer.cert_pem_path().to_path_buf(),
                }),
                cdn: None,
            },
        )
        .await
        .unwrap();
        let set = ImageSet::default_set(42).unwrap();

        // No token at all: the registry refuses the upload.
        let client = reqwest::Client::new();
        let resp = client
            .post(
                registry
                    .url()
                    .join("v2/bitnami/redis/blobs/uploads/")
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        // Anonymous token (pull only): pushing fails.
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            push_images(registry.url(), None, &set),
        )
        .await
        .unwrap()
        .unwrap_err();
        assert!(format!("{err:#}").contains("bitnami/redis"), "{err:#}");
        // Wrong password: the token service says 401.
        let bad = Credentials {
            user: "alice".into(),
            secret: "nope".into(),
        };
        let err = push_images(registry.url(), Some(&bad), &set)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("401"));
        assert!(!format!("{err:#}").contains("nope"));

        let creds = Credentials {
            user: "alice".into(),
            secret: "s3cret".into(),
        };
        let pushed = tokio::time::timeout(
            Duration::from_secs(120),
            push_images(registry.url(), Some(&creds), &set),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(pushed.len(), set.images.len());
        let redis = &pushed[0];
        assert_eq!(
            (redis.repository.as_str(), redis.tag.as_str()),
            ("bitnami/redis", "7.2")
        );

        let host = registry.host();
        for (reference, digest) in [
            ("bitnami/redis:7.2".to_string(), redis.digest.clone()),
            (
                format!("bitnami/redis:{}", redis.signature_tag.clone().unwrap()),
                set.images[0]
                    .signature
                    .as_ref()
                    .unwrap()
                    .manifest
                    .digest
                    .clone(),
            ),
            ("grafana/loki:3.1".to_string(), pushed[4].digest.clone()),
        ] {
            let out = tokio::time::timeout(
                Duration::from_secs(60),
                tokio::process::Command::new("skopeo")
                    .args([
                        "inspect",
                        "--raw",
                        "--tls-verify=false",
                        "--creds",
                        "alice:s3cret",
                    ])
                    .arg(format!("docker://{host}/{reference}"))
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .unwrap()
            .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(digest_of(&out.stdout), digest, "{reference}");
        }
        // Scopes come from the authorizer end to end: anonymous pull of a community repository
        // works, anonymous pull of an org repository does not.
        let org = ImageSet::build(
            42,
            &[ImageSpec {
                repository: "acme/app".into(),
                tag: "1".into(),
                ..default_specs()[4].clone()
            }],
        )
        .unwrap();
        push_images(registry.url(), Some(&creds), &org)
            .await
            .unwrap();
        for (reference, readable) in [("bitnami/redis:7.2", true), ("acme/app:1", false)] {
            let out = tokio::time::timeout(
                Duration::from_secs(60),
                tokio::process::Command::new("skopeo")
                    .args(["inspect", "--raw", "--tls-verify=false", "--no-creds"])
                    .arg(format!("docker://{host}/{reference}"))
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .unwrap()
            .unwrap();
            assert_eq!(
                out.status.success(),
                readable,
                "{reference}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        registry.stop().await.unwrap();
        server.abort();
    }
}
