//! The kit's docker-registry launcher: a CNCF distribution 2.8 (`docker-registry`) child process
//! with filesystem storage and deletes enabled, listening on a free 127.0.0.1 port, with token
//! authentication (the sandbox's registry, against its token service), htpasswd Basic auth, or
//! none (the tests' and the benchmark's plain registries), and (with [`RegistryOptions::cdn`]) blob
//! GETs and HEADs answered 307 to a CDN origin, as Docker Hub's are (distribution's `redirect`
//! storage middleware; [`crate::cdn`] serves them). Waits (bounded) until it answers; killed on
//! drop, and on Linux when the thread that started it dies.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use url::Url;

/// Default location of the Debian package's binary.
pub const DEFAULT_BINARY: &str = "/usr/bin/docker-registry";

/// How the registry trusts the token service.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    /// The token endpoint, e.g. `http://127.0.0.1:PORT/token`.
    pub realm: Url,
    pub service: String,
    pub issuer: String,
    /// PEM certificate(s) the registry verifies token `x5c` chains against.
    pub cert_pem_path: PathBuf,
}

/// Who may use the registry.
#[derive(Debug, Clone)]
pub enum RegistryAuth {
    /// Anyone, without credentials.
    Anonymous,
    /// Basic auth against these htpasswd lines (`user:bcrypt-hash`).
    Htpasswd(String),
    /// Bearer tokens from a token service.
    Token(TokenAuth),
}

/// How to start the registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub auth: RegistryAuth,
    /// Redirect blob GETs and HEADs to this origin (`http://127.0.0.2:PORT`), which serves the
    /// storage root's files (the redirect URL is the origin plus the blob's storage path).
    pub cdn: Option<Url>,
}

/// A running registry; the process is killed when this is dropped.
#[derive(Debug)]
pub struct RegistryProcess {
    child: tokio::process::Child,
    url: Url,
    log_path: PathBuf,
    storage: PathBuf,
    anonymous: bool,
}

const STARTUP_ATTEMPTS: u32 = 150;
const STARTUP_INTERVAL: Duration = Duration::from_millis(100);

fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// A double-quoted YAML scalar (JSON strings are valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn config_yaml(
    storage: &Path,
    port: u16,
    secret: &str,
    htpasswd: &Path,
    opts: &RegistryOptions,
) -> String {
    // distribution 2.8's redirect middleware keeps the base URL's scheme and host only.
    let middleware = match &opts.cdn {
        Some(cdn) => format!(
            "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {}\n",
            yaml_str(cdn.as_str().trim_end_matches('/'))
        ),
        None => String::new(),
    };
    let auth = match &opts.auth {
        RegistryAuth::Anonymous => String::new(),
        RegistryAuth::Htpasswd(_) => format!(
            "auth:\n  htpasswd:\n    realm: {realm}\n    path: {path}\n",
            realm = yaml_str("vetted-kit"),
            path = yaml_str(&htpasswd.display().to_string()),
        ),
        RegistryAuth::Token(t) => format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {bundle}\n",
            realm = yaml_str(t.realm.as_str()),
            service = yaml_str(&t.service),
            issuer = yaml_str(&t.issuer),
            bundle = yaml_str(&t.cert_pem_path.display().to_string()),
        ),
    };
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n  secret: {secret}\n{middleware}{auth}",
        storage = yaml_str(&storage.display().to_string()),
        addr = yaml_str(&format!("127.0.0.1:{port}")),
        secret = yaml_str(secret),
    )
}

/// Linux: the registry gets SIGKILL when the thread that started it exits, so a sandbox that is
/// itself killed (SIGKILL skips `kill_on_drop`) does not leave the registry running.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut tokio::process::Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl, which is
    // async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut tokio::process::Command) {}

impl RegistryProcess {
    /// Starts `/usr/bin/docker-registry` with its config, storage and log under `dir`.
    pub async fn start(dir: &Path, opts: RegistryOptions) -> Result<Self> {
        Self::start_with_binary(Path::new(DEFAULT_BINARY), dir, opts).await
    }

    /// Like [`RegistryProcess::start`] with an explicit binary path.
    pub async fn start_with_binary(
        binary: &Path,
        dir: &Path,
        opts: RegistryOptions,
    ) -> Result<Self> {
        if !binary.is_file() {
            bail!(
                "the registry binary {} was not found: install the Debian package docker-registry",
                binary.display()
            );
        }
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage)
            .with_context(|| format!("creating {}", storage.display()))?;
        let port = free_port()?;
        let secret = hex::encode(rand::random::<[u8; 16]>());
        let htpasswd = dir.join("htpasswd");
        if let RegistryAuth::Htpasswd(lines) = &opts.auth {
            std::fs::write(&htpasswd, format!("{}\n", lines.trim_end()))
                .with_context(|| format!("writing {}", htpasswd.display()))?;
        }
        let config_path = dir.join("config.yml");
        std::fs::write(
            &config_path,
            config_yaml(&storage, port, &secret, &htpasswd, &opts),
        )
        .with_context(|| format!("writing {}", config_path.display()))?;
        let log_path = dir.join("registry.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone().context("opening the registry log")?;
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let url = Url::parse(&format!("http://127.0.0.1:{port}/"))?;
        let mut process = Self {
            child,
            url,
            log_path,
            storage,
            anonymous: matches!(opts.auth, RegistryAuth::Anonymous),
        };
        process.wait_ready().await?;
        Ok(process)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let probe = self.url.join("v2/")?;
        for _ in 0..STARTUP_ATTEMPTS {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the registry exited during startup ({status}); log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(resp) = client.get(probe.clone()).send().await {
                let expected = if self.anonymous {
                    reqwest::StatusCode::OK
                } else {
                    reqwest::StatusCode::UNAUTHORIZED
                };
                if resp.status() == expected {
                    return Ok(());
                }
                bail!(
                    "the registry answered /v2/ with {} instead of {expected}: is its auth configured?",
                    resp.status()
                );
            }
            tokio::time::sleep(STARTUP_INTERVAL).await;
        }
        bail!(
            "the registry did not answer on {} within {:?}; log:\n{}",
            self.url,
            STARTUP_INTERVAL * STARTUP_ATTEMPTS,
            self.log_tail()
        )
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `127.0.0.1:PORT`, the form image references use.
    pub fn host(&self) -> String {
        format!(
            "{}:{}",
            self.url.host_str().unwrap_or("127.0.0.1"),
            self.url.port().unwrap_or(80)
        )
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The filesystem storage driver's root directory.
    pub fn storage(&self) -> &Path {
        &self.storage
    }

    /// The file holding a blob's bytes in the filesystem storage driver.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(hex.get(..2).unwrap_or(""))
            .join(hex)
            .join("data")
    }

    /// Kills the registry and waits (bounded) for it to exit.
    pub async fn stop(mut self) -> Result<()> {
        self.child.start_kill().ok();
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("the registry did not exit within 10 s")?
            .context("waiting for the registry to exit")?;
        Ok(())
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_binary_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let opts = RegistryOptions {
            auth: RegistryAuth::Anonymous,
            cdn: None,
        };
        let err = RegistryProcess::start_with_binary(&dir.path().join("nope"), dir.path(), opts)
            .await
            .unwrap_err();
        assert!(format!("{err}").contains("install the Debian package docker-registry"));
    }

    #[test]
    fn config_quotes_values() {
        let opts = RegistryOptions {
            auth: RegistryAuth::Token(TokenAuth {
                realm: Url::parse("http://127.0.0.1:9/token").unwrap(),
                service: "svc \"x\"".into(),
                issuer: "iss".into(),
                cert_pem_path: PathBuf::from("/tmp/c.pem"),
            }),
            cdn: None,
        };
        let htpasswd = Path::new("/tmp/h");
        let yaml = config_yaml(Path::new("/tmp/s"), 5000, "sec", htpasswd, &opts);
        let v: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(v["auth"]["token"]["service"].as_str(), Some("svc \"x\""));
        assert_eq!(v["http"]["addr"].as_str(), Some("127.0.0.1:5000"));
        assert_eq!(v["storage"]["delete"]["enabled"].as_bool(), Some(true));
        assert_eq!(v["log"]["level"].as_str(), Some("warn"));
        assert!(v["middleware"].is_null());

        let redirected = RegistryOptions {
            cdn: Some(Url::parse("http://127.0.0.2:7000/").unwrap()),
            ..opts
        };
        let yaml = config_yaml(Path::new("/tmp/s"), 5000, "sec", htpasswd, &redirected);
        let v: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(v["http"]["addr"].as_str(), Some("127.0.0.1:5000"));
        let m = &v["middleware"]["storage"][0];
        assert_eq!(m["name"].as_str(), Some("redirect"));
        assert_eq!(
            m["options"]["baseurl"].as_str(),
            Some("http://127.0.0.2:7000")
        );

        for (auth, kind) in [
            (RegistryAuth::Anonymous, None),
            (RegistryAuth::Htpasswd("u:h".into()), Some("htpasswd")),
        ] {
            let opts = RegistryOptions { auth, cdn: None };
            let yaml = config_yaml(Path::new("/tmp/s"), 5000, "sec", htpasswd, &opts);
            let v: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
            match kind {
                None => assert!(v["auth"].is_null(), "{yaml}"),
                Some(k) => assert_eq!(v["auth"][k]["path"].as_str(), Some("/tmp/h"), "{yaml}"),
            }
        }
    }
}
