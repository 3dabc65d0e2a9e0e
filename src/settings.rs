//! Resolves flags and environment once into the values the commands use: output styling, Docker Hub
//! endpoint and credentials, limits. Commands never read the environment themselves.

use std::io::IsTerminal;
use std::time::Duration;

use url::Url;

use crate::cli::{ColorWhen, GlobalArgs, HubArgs};
use crate::error::Error;
use crate::hub::{Credentials, HubConfig, Secret};

/// Environment variable holding the Docker Hub secret. Never a flag: argv is visible to other users.
pub const TOKEN_ENV: &str = "DOCKERHUB_TOKEN";
pub const USERNAME_ENV: &str = "DOCKERHUB_USERNAME";

/// How to write to the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color_stdout: bool,
    pub color_stderr: bool,
    pub verbose: bool,
}

impl Output {
    pub fn resolve(global: &GlobalArgs) -> Output {
        Output {
            color_stdout: use_color(global.color, std::io::stdout().is_terminal()),
            color_stderr: use_color(global.color, std::io::stderr().is_terminal()),
            verbose: global.verbose,
        }
    }
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
pub fn hub_config(args: &HubArgs) -> Result<HubConfig, Error> {
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
    let url = Url::parse(raw)
        .map_err(|e| Error::Usage(format!("--hub-url {raw:?} is not a valid URL: {e}")))?;
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
            "--hub-url {raw}: plain http is only allowed for loopback addresses; use https"
        ))),
        other => Err(Error::Usage(format!(
            "--hub-url {raw}: unsupported scheme {other:?}; use https"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_url_rules() {
        assert!(hub_url("https://hub.docker.com").is_ok());
        assert!(hub_url("http://127.0.0.1:5080").is_ok());
        assert!(hub_url("http://localhost:5080/").is_ok());
        assert!(hub_url("http://[::1]:5080/").is_ok());
        let err = hub_url("http://hub.example.com").unwrap_err().to_string();
        assert!(err.contains("only allowed for loopback"), "{err}");
        assert!(hub_url("ftp://x").is_err());
        assert!(hub_url("not a url").is_err());
    }

    #[test]
    fn color_choice() {
        assert!(use_color(ColorWhen::Always, false));
        assert!(!use_color(ColorWhen::Never, true));
        assert!(!use_color(ColorWhen::Auto, false));
    }
}
