//! Local Docker Hub stand-in (`vetted sandbox`), hub API part: serves on loopback the Docker Hub API
//! subset vetted uses, with Docker Hub's paths, JSON shapes, status codes, pagination and error bodies,
//! enforcing the rules Docker Hub enforces (see reference/hub-api.md). State lives in memory, is
//! seeded from a TOML file ([`seed`]) and optionally persisted to a JSON state file ([`state`]).
//! Fault knobs ([`faults`]) inject latency, 5xx, 429 and dropped connections for retry tests.
//!
//! This crate depends on no vetted crate: it stands in for Docker Hub and speaks Docker Hub's
//! strings with its own types ([`wire`]), so the code under test is never shared with it.
//!
//! Submodules: [`seed`] (seed file), [`state`] (org state and persistence), [`auth`] (credentials,
//! access tokens, principals), [`api`] (the router), [`app`] (shared state), [`plumbing`] (errors,
//! extractors, pagination), [`access`] (access rules), [`repos`], [`orgs`], [`org_settings`],
//! [`allowlist`] (endpoint handlers), [`faults`] (fault injection, rate-limit headers, request log),
//! [`control`] (`/_sandbox/*` endpoints for tests: state, faults, request log, clock), [`login`]
//! (token endpoints), [`proxy`] (a fault and latency proxy to put in front of any registry),
//! [`wire`] (roles, permissions, Image Access Management as Docker Hub spells them).
//!
//! Public: [`Sandbox`] (in process), [`serve_until_signal`] (the `vetted sandbox` command), their
//! configuration, [`proxy`] (`vetted sandbox proxy` and the tests' proxies) and [`kit`]; the rest
//! is the crate's own.
//!
//! Registry part (when [`SandboxConfig::registry`] is set): [`token`] (registry token service, served
//! on the hub's port at `/token`), [`hubreg`] (grants from the org state, the hub's handle on the
//! registry), [`cdn`] (the blob CDN its blob GETs redirect to, on another loopback origin), and from
//! the development kit ([`kit`], shared with the tests and the benchmark) the `docker-registry`
//! child process ([`kit::registry`]) and the synthetic community images ([`kit::images`]) pushed
//! at start ([`kit::push`]) with an internal credential that is never printed or persisted. With
//! `[registry] pull_limit`, clients reach the registry through a [`proxy`] front that counts Docker
//! Hub pulls and sends its rate-limit headers; `GET /_sandbox/registry` reports the CDN's and the
//! front's counters.
//!
//! The configuration types ([`Faults`], [`SandboxConfig`]) are in src/config.rs.

pub(crate) mod access;
pub(crate) mod allowlist;
pub(crate) mod api;
pub(crate) mod app;
pub(crate) mod auth;
pub(crate) mod cdn;
pub(crate) mod control;
pub(crate) mod faults;
pub(crate) mod hubreg;
pub mod kit;
pub(crate) mod login;
pub(crate) mod org_settings;
pub(crate) mod orgs;
pub(crate) mod plumbing;
pub mod proxy;
pub(crate) mod repos;
pub(crate) mod seed;
pub(crate) mod state;
pub(crate) mod token;
pub(crate) mod wire;

/// The hub API's shared state, which tests read the registry half's counters from.
pub use app::App;
/// The API budget per window the stand-in enforces (`--api-budget`, `PUT /_sandbox/rate-limit`).
pub use faults::Budget;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use kit::{images, push, registry};

mod config;
pub use config::{Faults, FaultsJson, SandboxConfig};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox seed {path}: {message}")]
    Seed { path: String, message: String },
    #[error("sandbox state file {path}: {message}")]
    StateFile { path: String, message: String },
    #[error("sandbox cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("sandbox must bind a loopback address (127.0.0.0/8 or ::1), not {0}")]
    NotLoopback(SocketAddr),
    #[error("invalid fault settings: {0}")]
    Faults(String),
    #[error("sandbox server failed: {0}")]
    Server(String),
    #[error("sandbox registry: {0}")]
    Registry(String),
    #[error("sandbox I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A running sandbox. Dropping it without [`Sandbox::shutdown`] aborts the server without saving.
pub struct Sandbox {
    url: url::Url,
    app: Arc<api::App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    registry: Option<RunningRegistry>,
}

/// The registry half of a sandbox: the child process, its work dir (removed at shutdown) and what
/// was seeded into it.
struct RunningRegistry {
    process: registry::RegistryProcess,
    /// Serves blob GETs the registry redirects (dropped after the registry is stopped).
    _cdn: cdn::Cdn,
    /// The pull-counting front clients reach the registry through (with `[registry] pull_limit`).
    front: Option<proxy::Proxy>,
    work_dir: WorkDir,
    seeded: Vec<push::PushedImage>,
}

/// Read-only handles on the registry half's counters, for `GET /_sandbox/registry`.
#[derive(Debug, Clone)]
pub struct RegistryObservers {
    pub cdn: cdn::CdnObserver,
    pub front: Option<proxy::ProxyObserver>,
}

impl RegistryObservers {
    /// `{"cdn": {url, requests, served, with_authorization, bytes}, "pulls": {limit, remaining,
    /// spent, refused, manifest_gets} or null}`.
    pub fn to_json(&self) -> serde_json::Value {
        let pulls = self.front.as_ref().map(|f| {
            let s = f.stats();
            serde_json::json!({
                "limit": f.pull_limit(),
                "remaining": f.remaining_pulls(),
                "spent": s.pulls,
                "refused": s.pull_limited,
                "manifest_gets": s.manifest_gets,
            })
        });
        let mut cdn = serde_json::json!(self.cdn.stats());
        if let Some(o) = cdn.as_object_mut() {
            o.insert("url".into(), self.cdn.url().into());
        }
        serde_json::json!({ "cdn": cdn, "pulls": pulls })
    }
}

/// A private work directory, removed on drop: beside the state file when there is one (so it
/// lives with the rest of the sandbox's files), else in the system temp dir.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(state_file: Option<&std::path::Path>) -> Result<WorkDir, SandboxError> {
        let name = format!(
            ".vetted-sandbox-registry-{}",
            hex::encode(rand::random::<[u8; 8]>())
        );
        let parent = state_file
            .and_then(|p| p.parent())
            .filter(|p| !p.as_os_str().is_empty())
            .map(std::path::Path::to_path_buf);
        let path = match parent {
            Some(dir) => dir.join(name),
            None => std::env::temp_dir().join(name.trim_start_matches('.')),
        };
        std::fs::create_dir(&path)?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Token service issuer and service names (the registry's `auth.token` settings).
const TOKEN_ISSUER: &str = "vetted-sandbox";
const TOKEN_SERVICE: &str = "vetted-sandbox-registry";
/// Seed of the synthetic community images: fixed, so their digests are the same on every start.
const IMAGE_SEED: u64 = 0;

fn registry_err(e: anyhow::Error) -> SandboxError {
    SandboxError::Registry(format!("{e:#}"))
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("url", &self.url.as_str())
            .field(
                "registry",
                &self.registry.as_ref().map(|r| r.process.url().as_str()),
            )
            .finish()
    }
}

impl Sandbox {
    /// Loads the seed (and the state file if present), binds and starts serving.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        config.faults.validate().map_err(SandboxError::Faults)?;
        config.api_budget.validate().map_err(SandboxError::Faults)?;
        if !config.bind.ip().is_loopback() {
            return Err(SandboxError::NotLoopback(config.bind));
        }
        let loaded = seed::load(config.seed.as_deref())?;
        let pull_limit = loaded.pull_limit;
        let hub = match &config.state_file {
            Some(path) => state::load_state_file(path)?.unwrap_or(loaded.state),
            None => loaded.state,
        };
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.bind,
                source,
            })?;
        let local = listener.local_addr()?;
        let url = base_url(local)?;
        let app = Arc::new(api::App::new(
            hub,
            loaded.credentials,
            config.faults.clone(),
            config.state_file.clone(),
            url.clone(),
        ));
        *api::lock(&app.rate) = faults::RateWindow::new(config.api_budget);
        // Write the state file once at start so it exists (and is valid) from the beginning.
        app.persist_now()
            .map_err(|message| SandboxError::StateFile {
                path: config
                    .state_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                message,
            })?;
        let internal = hubreg::internal_credentials();
        let mut router = api::router(app.clone());
        let mut prepared = None;
        if config.registry {
            let work_dir = WorkDir::create(config.state_file.as_deref())?;
            let issuer = Arc::new(
                token::TokenIssuer::new(&work_dir.0, TOKEN_ISSUER, TOKEN_SERVICE)
                    .map_err(registry_err)?,
            );
            let authz = Arc::new(hubreg::HubAuthorizer::new(app.clone(), internal.clone()));
            router = router.merge(token::router(issuer.clone(), authz));
            prepared = Some((work_dir, issuer));
        }
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await
        });
        let mut sandbox = Sandbox {
            url,
            app,
            stop: Some(stop_tx),
            task: Some(task),
            registry: None,
        };
        if let Some((work_dir, issuer)) = prepared {
            let realm = sandbox
                .url
                .join("token")
                .map_err(|e| SandboxError::Server(e.to_string()))?;
            let cdn = cdn::Cdn::start(work_dir.0.join("storage"))
                .await
                .map_err(|e| SandboxError::Registry(format!("starting the blob CDN: {e}")))?;
            let process = registry::RegistryProcess::start(
                &work_dir.0,
                registry::RegistryOptions {
                    auth: registry::RegistryAuth::Token(registry::TokenAuth {
                        realm,
                        service: TOKEN_SERVICE.to_string(),
                        issuer: TOKEN_ISSUER.to_string(),
                        cert_pem_path: issuer.cert_pem_path().to_path_buf(),
                    }),
                    cdn: Some(cdn.url().clone()),
                },
            )
            .await
            .map_err(registry_err)?;
            let set = images::ImageSet::default_set(IMAGE_SEED).map_err(registry_err)?;
            let seeded = push::push_images(process.url(), Some(&internal), &set)
                .await
                .map_err(|e| SandboxError::Registry(format!("seeding community images: {e:#}")))?;
            // The signature gate's images, signed with keys made now (kit::signing).
            let signing = kit::signing::SigningKit::generate().map_err(registry_err)?;
            let signed = signing.images(IMAGE_SEED).map_err(registry_err)?;
            push::push_images(process.url(), Some(&internal), &signed)
                .await
                .map_err(|e| SandboxError::Registry(format!("seeding signed images: {e:#}")))?;
            sandbox.app.set_signing(signing.describe());
            let link =
                hubreg::RegistryLink::new(process.url().clone(), issuer).map_err(registry_err)?;
            sandbox.app.set_registry(Arc::new(link));
            // The front starts after seeding: the seed's own reads and pushes spend no pulls.
            let front = match pull_limit {
                Some(n) => Some(
                    proxy::Proxy::start(
                        process.url().as_str(),
                        proxy::ProxyOptions {
                            ratelimit: Some(n),
                            rewrite_realms: false,
                            ..proxy::ProxyOptions::default()
                        },
                    )
                    .await
                    .map_err(|e| {
                        SandboxError::Registry(format!("starting the pull-limit front: {e}"))
                    })?,
                ),
                None => None,
            };
            sandbox.app.set_registry_observers(RegistryObservers {
                cdn: cdn.observer(),
                front: front.as_ref().map(proxy::Proxy::observer),
            });
            sandbox.registry = Some(RunningRegistry {
                process,
                _cdn: cdn,
                front,
                work_dir,
                seeded,
            });
        }
        Ok(sandbox)
    }

    /// The registry's base URL (`http://127.0.0.1:PORT/`) when the sandbox runs one: its
    /// pull-counting front when there is one.
    pub fn registry_url(&self) -> Option<url::Url> {
        self.registry.as_ref().map(|r| match &r.front {
            Some(front) => url::Url::parse(&format!("{}/", front.url()))
                .unwrap_or_else(|_| r.process.url().clone()),
            None => r.process.url().clone(),
        })
    }

    /// The community images seeded into the registry (empty without one).
    pub fn seeded_images(&self) -> &[push::PushedImage] {
        self.registry.as_ref().map_or(&[], |r| r.seeded.as_slice())
    }

    /// `http://127.0.0.1:PORT/`
    pub fn url(&self) -> url::Url {
        self.url.clone()
    }

    /// The shared state, for other parts of the sandbox (token service, registry) that read the org
    /// or authenticate its accounts.
    pub fn app(&self) -> Arc<App> {
        self.app.clone()
    }

    /// Stops the registry (if any), stops serving (waiting at most 5 s for open connections) and
    /// saves the state file.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        if let Some(reg) = self.registry.take() {
            let RunningRegistry {
                process,
                work_dir,
                front,
                ..
            } = reg;
            drop(front);
            let stopped = process.stop().await;
            drop(work_dir);
            stopped.map_err(registry_err)?;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(SandboxError::Server(e.to_string())),
                Ok(Err(e)) => return Err(SandboxError::Server(e.to_string())),
                Err(_) => task.abort(),
            }
        }
        self.app
            .persist_now()
            .map_err(|message| SandboxError::StateFile {
                path: self
                    .app
                    .state_file_display()
                    .unwrap_or_else(|| "(none)".to_string()),
                message,
            })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn base_url(local: SocketAddr) -> Result<url::Url, SandboxError> {
    let text = format!("http://{local}/");
    url::Url::parse(&text).map_err(|e| SandboxError::Server(format!("bad base URL {text}: {e}")))
}

/// Runs a sandbox until SIGINT or SIGTERM. When ready it prints to stdout the hub's base URL without
/// a trailing slash and, when it runs a registry, a second line with the registry address
/// (`http://127.0.0.1:PORT`); status goes to stderr; saves the state file on the way out.
pub async fn serve_until_signal(config: SandboxConfig) -> Result<(), SandboxError> {
    let seed = config.seed.as_ref().map_or_else(
        || "built-in demo seed".to_string(),
        |p| p.display().to_string(),
    );
    let state_file = config.state_file.clone();
    let sandbox = Sandbox::start(config).await?;
    let url = sandbox.url();
    let org = sandbox.app.read(|hub| hub.org.clone());
    {
        // One write for both lines: a reader that stops after the first line (and closes the pipe)
        // must not make a second write fail.
        let mut lines = format!("{}\n", url.as_str().trim_end_matches('/'));
        if let Some(reg) = sandbox.registry_url() {
            lines.push_str(reg.as_str().trim_end_matches('/'));
            lines.push('\n');
        }
        let mut out = std::io::stdout().lock();
        out.write_all(lines.as_bytes())?;
        out.flush()?;
    }
    eprintln!("sandbox: Docker Hub API for org {org:?} (seed: {seed}) listening on {url}");
    if let Some(reg) = sandbox.registry_url() {
        eprintln!("sandbox: registry listening on {reg} (token service {url}token)");
        for img in sandbox.seeded_images() {
            eprintln!(
                "sandbox: community image {}:{} {}",
                img.repository, img.tag, img.digest
            );
        }
    }
    if let Some(p) = &state_file {
        eprintln!("sandbox: state file {}", p.display());
    }
    eprintln!("sandbox: Ctrl-C or SIGTERM stops it");
    wait_for_signal().await?;
    eprintln!("sandbox: stopping");
    sandbox.shutdown().await?;
    if let Some(p) = &state_file {
        eprintln!("sandbox: state saved to {}", p.display());
    }
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<(), SandboxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<(), SandboxError> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
