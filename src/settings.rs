//! Resolves flags and environment once, before any work, into the one [`Settings`] every command
//! takes: output styling, the Docker Hub endpoint and credentials, registry endpoints and
//! credentials (env, Docker's config.json and credential helpers), limits. Commands never read the
//! environment themselves.
//!
//! Resolving parses and checks; it neither logs in nor reads Docker's config.json. Two parts stay
//! lazy: registry credentials are looked up only for the registries a loaded policy names
//! ([`RegistrySettings::client_config`]), and the hub login happens in the commands that talk to
//! the hub. What is wrong with the hub or registry flags and environment is kept and reported when
//! a command first needs them ([`Settings::hub`], [`Settings::registry`]): after the policy's own
//! errors (a policy is checked without credentials) and before any request.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::cli::{Cli, ColorWhen, Command, GlobalArgs, HubArgs, RegistryArgs};
use crate::error::Error;
use crate::hub::{Credentials, HubConfig, Secret};
use crate::registry::client::{ClientConfig, RegistryCredentials};
use crate::registry::reference::DOCKER_HUB;

/// Registry credentials for the organization's registry (docker.io), or for the registries
/// [`REGISTRY_HOSTS_ENV`] names instead; never for any other registry a policy names.
pub const REGISTRY_USERNAME_ENV: &str = "VETTED_REGISTRY_USERNAME";
pub const REGISTRY_PASSWORD_ENV: &str = "VETTED_REGISTRY_PASSWORD";
/// Comma-separated registries (as in references: `docker.io`, `ghcr.io`, `127.0.0.1:5000`) that
/// VETTED_REGISTRY_USERNAME/PASSWORD belong to; `docker.io` when unset.
pub const REGISTRY_HOSTS_ENV: &str = "VETTED_REGISTRY_HOSTS";
/// Comma-separated `registry=URL` pairs: token realms on another host that may receive that
/// registry's credentials (e.g. `registry.gitlab.com=https://gitlab.com`).
pub const REGISTRY_REALMS_ENV: &str = "VETTED_REGISTRY_TOKEN_REALMS";
/// The server key Docker's config.json uses for Docker Hub.
const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// Environment variable holding the Docker Hub secret. Never a flag: argv is visible to other users.
pub const TOKEN_ENV: &str = "DOCKERHUB_TOKEN";
pub const USERNAME_ENV: &str = "DOCKERHUB_USERNAME";

/// Everything a command takes from flags and the environment besides its own arguments.
pub struct Settings {
    pub output: Output,
    /// The Docker Hub endpoint and credentials of a command with hub flags (`None`: it has none),
    /// or what is wrong with them.
    hub: Option<Result<HubConfig, String>>,
    /// The registry endpoints and credential sources of a command with registry flags, or what is
    /// wrong with them.
    registry: Option<Result<RegistrySettings, String>>,
    pub limits: Limits,
}

/// How much runs at once. Docker Hub requests and writes in flight (`--parallelism`) are the hub
/// client's [`HubConfig::concurrency`], the one place they are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Image copies in flight (`--copy-parallelism`).
    pub copy_parallelism: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            copy_parallelism: 32,
        }
    }
}

/// Resolves the flags and environment of `cli`'s command once (see the module doc for what stays
/// lazy).
pub fn resolve(cli: &Cli) -> Settings {
    let (hub_args, registry_args) = match &cli.command {
        Command::Plan(a) => (Some(&a.hub), Some(&a.registry)),
        Command::Apply(a) => (Some(&a.hub), Some(&a.registry)),
        Command::Doctor(a) => (Some(&a.hub), Some(&a.registry)),
        Command::Export(a) => (Some(&a.hub), None),
        Command::Snapshot(a) => (Some(&a.hub), Some(&a.registry)),
        Command::Lock(a) => (None, Some(&a.registry)),
        _ => (None, None),
    };
    let hub = hub_args.map(|a| hub_config(a).map_err(|e| e.to_string()));
    let registry = registry_args.map(|a| {
        // The docker.io credentials: the hub's when the command has hub flags, else (`vetted
        // lock`) DOCKERHUB_USERNAME/DOCKERHUB_TOKEN when both are set, never required.
        let (credentials, url) = match &hub {
            Some(Ok(h)) => (Some(h.credentials.clone()), Some(h.base_url.clone())),
            Some(Err(_)) => (None, None),
            None => (hub_credentials_from_env(), hub_url_from_env()),
        };
        RegistrySettings::parse(a, credentials, url).map_err(|e| e.to_string())
    });
    let mut limits = Limits::default();
    if let Some(a) = registry_args {
        limits.copy_parallelism = usize::try_from(a.copy_parallelism).unwrap_or(32);
    }
    Settings {
        output: Output::resolve(&cli.global),
        hub,
        registry,
        limits,
    }
}

impl Settings {
    /// The Docker Hub client configuration (the login is the command's).
    pub fn hub(&self) -> Result<&HubConfig, Error> {
        match &self.hub {
            Some(Ok(h)) => Ok(h),
            Some(Err(e)) => Err(Error::Usage(e.clone())),
            None => Err(Error::Usage(
                "this command takes no Docker Hub flags".into(),
            )),
        }
    }

    /// The registry settings; credentials are looked up per registry by
    /// [`RegistrySettings::client_config`].
    pub fn registry(&self) -> Result<&RegistrySettings, Error> {
        match &self.registry {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(Error::Usage(e.clone())),
            None => Err(Error::Usage("this command takes no registry flags".into())),
        }
    }
}

/// How to write to the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color_stdout: bool,
    pub color_stderr: bool,
    pub verbose: bool,
    /// The width stdout's tables fit ([`table_width`]); `None`: unconstrained.
    pub width: Option<u16>,
}

impl Output {
    pub fn resolve(global: &GlobalArgs) -> Output {
        let stdout = std::io::stdout();
        let terminal = stdout
            .is_terminal()
            .then(|| terminal_size::terminal_size_of(&stdout).map(|(w, _)| w.0));
        Output {
            color_stdout: use_color(global.color, std::io::stdout().is_terminal()),
            color_stderr: use_color(global.color, std::io::stderr().is_terminal()),
            verbose: global.verbose,
            width: table_width(terminal, std::env::var("COLUMNS").ok().as_deref()),
        }
    }
}

/// Tables are never fitted narrower than this (a narrower request gets this width).
pub const MIN_TABLE_WIDTH: u16 = 40;

/// The width tables fit: on a terminal (`terminal` is `Some`) its width, or COLUMNS when its size
/// cannot be read; not a terminal: COLUMNS when set to a width, else `None`, so files and CI logs
/// keep the unconstrained layout whatever the machine.
fn table_width(terminal: Option<Option<u16>>, columns: Option<&str>) -> Option<u16> {
    let columns = || {
        columns
            .and_then(|c| c.trim().parse::<u16>().ok())
            .filter(|w| *w > 0)
    };
    let width = match terminal {
        Some(Some(w)) if w > 0 => Some(w),
        _ => columns(),
    };
    width.map(|w| w.max(MIN_TABLE_WIDTH))
}

/// `always` and `never` win; `auto` honours NO_COLOR (any non-empty value), TERM=dumb and whether
/// the stream is a terminal.
fn use_color(when: ColorWhen, is_terminal: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
            is_terminal && !no_color && !dumb
        }
    }
}

/// Builds the Docker Hub client configuration from flags and the environment.
fn hub_config(args: &HubArgs) -> Result<HubConfig, Error> {
    let base_url = hub_url(&args.hub_url)?;
    let username = match args.username.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => {
            return Err(Error::Usage(format!(
                "{USERNAME_ENV} is not set: export your Docker ID (or the organization name when \
                 {TOKEN_ENV} is an organization access token), or pass --username"
            )));
        }
    };
    let secret = match std::env::var(TOKEN_ENV) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(Error::Usage(format!(
                "{TOKEN_ENV} is not set: export a password, personal access token or organization \
                 access token for {username}"
            )));
        }
    };
    Ok(HubConfig {
        base_url,
        credentials: Credentials {
            username,
            secret: Secret::new(secret),
        },
        timeout: Duration::from_secs(args.timeout),
        max_retries: args.max_retries,
        max_retry_wait: Duration::from_secs(60),
        concurrency: usize::try_from(args.parallelism).unwrap_or(8),
    })
}

/// https anywhere; plain http only for loopback (the sandbox), so a token is never sent in clear.
fn hub_url(raw: &str) -> Result<Url, Error> {
    checked_url("--hub-url", raw)
}

/// The Docker Hub credentials from the environment when both are set (`vetted lock` uses them for
/// docker.io without requiring them).
fn hub_credentials_from_env() -> Option<Credentials> {
    let username = std::env::var(USERNAME_ENV).ok()?.trim().to_string();
    let secret = std::env::var(TOKEN_ENV).ok()?.trim().to_string();
    (!username.is_empty() && !secret.is_empty()).then(|| Credentials {
        username,
        secret: Secret::new(secret),
    })
}

/// The Docker Hub API URL of VETTED_HUB_URL (`vetted lock` has no --hub-url): a token realm there
/// may receive the docker.io credentials. Unset or unusable: none.
fn hub_url_from_env() -> Option<Url> {
    let raw = std::env::var("VETTED_HUB_URL").ok()?;
    checked_url("VETTED_HUB_URL", raw.trim()).ok()
}

/// Where a credential came from (shown with --verbose; never the secret itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    Env,
    DockerHub,
    DockerConfig,
    Anonymous,
}

impl CredentialSource {
    /// Where the credential came from, for `--verbose` (never the credential).
    pub fn describe(self) -> &'static str {
        match self {
            CredentialSource::Env => {
                "credentials from VETTED_REGISTRY_USERNAME/VETTED_REGISTRY_PASSWORD"
            }
            CredentialSource::DockerHub => "credentials from DOCKERHUB_USERNAME/DOCKERHUB_TOKEN",
            CredentialSource::DockerConfig => "credentials from Docker's config.json",
            CredentialSource::Anonymous => "anonymous",
        }
    }
}

/// The registry flags and environment, checked: endpoints, deadlines, the
/// VETTED_REGISTRY_USERNAME/VETTED_REGISTRY_PASSWORD pair and the registries it belongs to, the
/// token realms that may receive credentials, and the Docker Hub credentials docker.io may use.
/// Not `Clone`: it holds secrets, and one copy is all a command needs.
pub struct RegistrySettings {
    docker_io: Option<Url>,
    deadline: Duration,
    env_creds: Option<(RegistryCredentials, BTreeSet<String>)>,
    trusted_realms: BTreeMap<String, BTreeSet<String>>,
    hub: Option<Credentials>,
    hub_url: Option<Url>,
}

impl RegistrySettings {
    /// Checks `args` and the registry environment. `hub` and `hub_url`: the Docker Hub
    /// credentials docker.io may use and the hub API origin whose token realm may receive them.
    fn parse(
        args: &RegistryArgs,
        hub: Option<Credentials>,
        hub_url: Option<Url>,
    ) -> Result<RegistrySettings, Error> {
        let docker_io = match args.docker_io_registry.as_deref().map(str::trim) {
            Some(raw) if !raw.is_empty() => Some(checked_url("--docker-io-registry", raw)?),
            _ => None,
        };
        let env_creds = env_credentials(
            std::env::var(REGISTRY_USERNAME_ENV).ok(),
            std::env::var(REGISTRY_PASSWORD_ENV).ok(),
        )?;
        let env_hosts = env_hosts(std::env::var(REGISTRY_HOSTS_ENV).ok().as_deref())?;
        let trusted_realms = trusted_realms(std::env::var(REGISTRY_REALMS_ENV).ok().as_deref())?;
        Ok(RegistrySettings {
            docker_io,
            deadline: Duration::from_secs(args.registry_timeout.max(1)),
            env_creds: env_creds.map(|c| (c, env_hosts)),
            trusted_realms,
            hub,
            hub_url,
        })
    }

    /// The registry client configuration for the `registries` a command talks to (names as in
    /// references: `docker.io`, `ghcr.io`, `127.0.0.1:5000`). Credentials are keyed by registry,
    /// as in Docker's config.json, first match wins: VETTED_REGISTRY_USERNAME/PASSWORD for the
    /// registries of VETTED_REGISTRY_HOSTS (docker.io when unset); for docker.io the Docker Hub
    /// credentials; Docker's config.json (`auths`, `credHelpers`, `credsStore`, read here, for
    /// these registries only); anonymous. Token realms that may receive a registry's credentials
    /// besides its own origin: VETTED_REGISTRY_TOKEN_REALMS, and for docker.io the Docker Hub API
    /// origin (the sandbox serves its token service there).
    pub fn client_config(
        &self,
        registries: &BTreeSet<String>,
    ) -> (ClientConfig, BTreeMap<String, CredentialSource>) {
        let mut config = ClientConfig {
            request_deadline: self.deadline,
            retry_budget: self.deadline.saturating_mul(5),
            ..ClientConfig::default()
        };
        if let Some(url) = &self.docker_io {
            config.endpoints.insert(DOCKER_HUB.to_string(), url.clone());
        }
        config.trusted_realms = self.trusted_realms.clone();
        if let Some(url) = &self.hub_url {
            config
                .trusted_realms
                .entry(DOCKER_HUB.to_string())
                .or_default()
                .insert(url.origin().ascii_serialization());
        }
        let sources = assign_credentials(
            &mut config,
            self.env_creds.clone(),
            self.hub.as_ref(),
            registries,
            docker_config_credential,
        );
        config.credential_sources = sources
            .iter()
            .filter(|(_, s)| !matches!(s, CredentialSource::Anonymous))
            .map(|(r, s)| (r.clone(), s.describe().to_string()))
            .collect();
        (config, sources)
    }
}

/// A registry name as in references: Docker Hub's other names are `docker.io`.
fn registry_name(raw: &str) -> String {
    let name = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    match name.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "https://index.docker.io/v1" => {
            DOCKER_HUB.to_string()
        }
        _ => name,
    }
}

/// The registries of VETTED_REGISTRY_HOSTS (`docker.io` when unset or empty).
fn env_hosts(raw: Option<&str>) -> Result<BTreeSet<String>, Error> {
    let mut hosts = BTreeSet::new();
    for item in raw.unwrap_or("").split(',') {
        let name = registry_name(item);
        if name.is_empty() {
            continue;
        }
        let bad = name.contains('/') || name.contains(char::is_whitespace) || name.contains('@');
        if bad {
            return Err(Error::Usage(format!(
                "{REGISTRY_HOSTS_ENV}: {item:?} is not a registry name; list registries as in \
                 image references, e.g. docker.io,ghcr.io,registry.example.com:5000"
            )));
        }
        hosts.insert(name);
    }
    if hosts.is_empty() {
        hosts.insert(DOCKER_HUB.to_string());
    }
    Ok(hosts)
}

/// VETTED_REGISTRY_TOKEN_REALMS: `registry=URL` pairs -> registry -> realm origins (https, or
/// plain http on loopback only).
fn trusted_realms(raw: Option<&str>) -> Result<BTreeMap<String, BTreeSet<String>>, Error> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in raw.unwrap_or("").split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let Some((registry, realm)) = item.split_once('=') else {
            return Err(Error::Usage(format!(
                "{REGISTRY_REALMS_ENV}: {item:?} is not registry=URL, e.g. \
                 registry.gitlab.com=https://gitlab.com"
            )));
        };
        let url = checked_url(REGISTRY_REALMS_ENV, realm.trim())?;
        out.entry(registry_name(registry))
            .or_default()
            .insert(url.origin().ascii_serialization());
    }
    Ok(out)
}

/// Both registry variables or neither.
fn env_credentials(
    username: Option<String>,
    password: Option<String>,
) -> Result<Option<RegistryCredentials>, Error> {
    let username = username.filter(|s| !s.trim().is_empty());
    let password = password.filter(|s| !s.trim().is_empty());
    match (username, password) {
        (Some(u), Some(p)) => Ok(Some(RegistryCredentials {
            username: u.trim().to_string(),
            password: p.trim().to_string(),
        })),
        (None, None) => Ok(None),
        _ => Err(Error::Usage(format!(
            "set both {REGISTRY_USERNAME_ENV} and {REGISTRY_PASSWORD_ENV}, or neither"
        ))),
    }
}

/// The precedence of [`RegistrySettings::client_config`], with Docker's config.json behind `docker_config`
/// (server key -> credential).
fn assign_credentials(
    config: &mut ClientConfig,
    env_creds: Option<(RegistryCredentials, BTreeSet<String>)>,
    hub: Option<&Credentials>,
    registries: &BTreeSet<String>,
    docker_config: impl Fn(&str) -> Option<RegistryCredentials>,
) -> BTreeMap<String, CredentialSource> {
    let mut sources = BTreeMap::new();
    for registry in registries {
        let env = env_creds
            .as_ref()
            .filter(|(_, hosts)| hosts.contains(registry));
        let (creds, source) = if let Some((c, _)) = env {
            (Some(c.clone()), CredentialSource::Env)
        } else if let (true, Some(h)) = (registry == DOCKER_HUB, hub) {
            (
                Some(RegistryCredentials {
                    username: h.username.clone(),
                    password: h.secret.expose().to_string(),
                }),
                CredentialSource::DockerHub,
            )
        } else {
            let mut keys = vec![if registry == DOCKER_HUB {
                DOCKER_HUB_CONFIG_KEY.to_string()
            } else {
                registry.clone()
            }];
            if let Some(url) = config.endpoints.get(registry)
                && let Some(host) = url.host_str()
            {
                keys.push(match url.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_string(),
                });
            }
            match keys.iter().find_map(|k| docker_config(k)) {
                Some(c) => (Some(c), CredentialSource::DockerConfig),
                None => (None, CredentialSource::Anonymous),
            }
        };
        if let Some(c) = creds {
            config.credentials.insert(registry.clone(), c);
        }
        sources.insert(registry.clone(), source);
    }
    sources
}

/// Docker's config directory: $DOCKER_CONFIG, else ~/.docker.
fn docker_config_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .map(|d| d.join("config.json"))
}

/// What `docker login` stored for `server`, through the `docker_credential` crate (auths entries,
/// credHelpers, credsStore). A failing helper or an unusable entry is a warning, not an error:
/// the registry is then tried anonymously, as docker does. Messages never include secrets.
fn docker_config_credential(server: &str) -> Option<RegistryCredentials> {
    let path = docker_config_path()?;
    if !path.is_file() {
        return None;
    }
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    match docker_credential::get_credential(server) {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Some(RegistryCredentials { username, password })
        }
        Ok(DockerCredential::IdentityToken(_)) => {
            eprintln!(
                "warning: {}: the credential for {server} is an identity token, which vetted cannot use; trying {server} anonymously",
                path.display()
            );
            None
        }
        Err(E::NoCredentialConfigured) => None,
        Err(E::HelperFailure { helper, .. }) => {
            eprintln!(
                "warning: {helper} found no usable credential for {server}; trying {server} anonymously"
            );
            None
        }
        Err(e) => {
            eprintln!(
                "warning: {}: could not read the credential for {server} ({e}); trying {server} anonymously",
                path.display()
            );
            None
        }
    }
}

/// A URL given by `flag`: https anywhere; plain http only for loopback.
fn checked_url(flag: &str, raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw)
        .map_err(|e| Error::Usage(format!("{flag} {raw:?} is not a valid URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(Error::Usage(format!(
            "{flag} {raw}: plain http is only allowed for loopback addresses; use https"
        ))),
        other => Err(Error::Usage(format!(
            "{flag} {raw}: unsupported scheme {other:?}; use https"
        ))),
    }
}

#[cfg(test)]
mod tests;
