//! Tests of the settings resolution (flags, environment, defaults).

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

fn creds(u: &str, p: &str) -> RegistryCredentials {
    RegistryCredentials {
        username: u.into(),
        password: p.into(),
    }
}

#[test]
fn registry_credential_precedence() {
    let registries: BTreeSet<String> = ["docker.io", "ghcr.io", "127.0.0.1:5000"]
        .into_iter()
        .map(String::from)
        .collect();
    let hub = Credentials {
        username: "alice".into(),
        secret: Secret::new("hub-secret"),
    };
    // config.json knows Docker Hub (by Docker's key) and the loopback registry.
    let lookup = |server: &str| match server {
        "https://index.docker.io/v1/" => Some(creds("docker-user", "docker-pass")),
        "127.0.0.1:5000" => Some(creds("local", "local-pass")),
        _ => None,
    };

    let mut config = ClientConfig::default();
    let sources = assign_credentials(&mut config, None, Some(&hub), &registries, lookup);
    assert_eq!(sources["docker.io"], CredentialSource::DockerHub);
    assert_eq!(
        config.credentials["docker.io"],
        creds("alice", "hub-secret")
    );
    assert_eq!(sources["127.0.0.1:5000"], CredentialSource::DockerConfig);
    assert_eq!(
        config.credentials["127.0.0.1:5000"],
        creds("local", "local-pass")
    );
    assert_eq!(sources["ghcr.io"], CredentialSource::Anonymous);
    assert!(!config.credentials.contains_key("ghcr.io"));

    // Without hub credentials (vetted lock), docker.io falls back to config.json.
    let mut config = ClientConfig::default();
    let sources = assign_credentials(&mut config, None, None, &registries, lookup);
    assert_eq!(sources["docker.io"], CredentialSource::DockerConfig);
    assert_eq!(
        config.credentials["docker.io"],
        creds("docker-user", "docker-pass")
    );

    // The environment pair belongs to docker.io only (the default VETTED_REGISTRY_HOSTS):
    // another registry the policy names keeps its own credentials or none.
    let mut config = ClientConfig::default();
    let hosts = env_hosts(None).unwrap();
    let env = Some((creds("ci", "ci-pass"), hosts));
    let sources = assign_credentials(&mut config, env, Some(&hub), &registries, lookup);
    assert_eq!(sources["docker.io"], CredentialSource::Env);
    assert_eq!(config.credentials["docker.io"], creds("ci", "ci-pass"));
    assert_eq!(sources["ghcr.io"], CredentialSource::Anonymous);
    assert!(!config.credentials.contains_key("ghcr.io"));
    assert_eq!(sources["127.0.0.1:5000"], CredentialSource::DockerConfig);
    assert_eq!(
        config.credentials["127.0.0.1:5000"],
        creds("local", "local-pass")
    );
    // Debug never shows a password.
    assert!(!format!("{config:?}").contains("ci-pass"));

    // VETTED_REGISTRY_HOSTS names the registries the pair belongs to instead.
    let mut config = ClientConfig::default();
    let hosts = env_hosts(Some("ghcr.io, 127.0.0.1:5000")).unwrap();
    let env = Some((creds("ci", "ci-pass"), hosts));
    let sources = assign_credentials(&mut config, env, Some(&hub), &registries, lookup);
    assert_eq!(sources["ghcr.io"], CredentialSource::Env);
    assert_eq!(sources["127.0.0.1:5000"], CredentialSource::Env);
    assert_eq!(sources["docker.io"], CredentialSource::DockerHub);
    assert_eq!(
        config.credentials["docker.io"],
        creds("alice", "hub-secret")
    );
}

#[test]
fn registry_hosts_and_token_realms_parse() {
    let hosts = |s: &str| env_hosts(Some(s)).unwrap().into_iter().collect::<Vec<_>>();
    assert_eq!(hosts(""), ["docker.io"]);
    assert_eq!(hosts("index.docker.io,GHCR.io/"), ["docker.io", "ghcr.io"]);
    let err = env_hosts(Some("ghcr.io/org")).unwrap_err().to_string();
    assert!(
        err.contains("VETTED_REGISTRY_HOSTS") && err.contains("ghcr.io/org"),
        "{err}"
    );

    let realms = trusted_realms(Some(
        "registry.gitlab.com=https://gitlab.com/jwt/auth, 127.0.0.1:5000=http://127.0.0.1:5001",
    ))
    .unwrap();
    assert!(realms["registry.gitlab.com"].contains("https://gitlab.com"));
    assert!(realms["127.0.0.1:5000"].contains("http://127.0.0.1:5001"));
    assert!(trusted_realms(None).unwrap().is_empty());
    let err = trusted_realms(Some("gitlab.com")).unwrap_err().to_string();
    assert!(err.contains("registry=URL"), "{err}");
    // Never a plain-http realm off loopback.
    let err = trusted_realms(Some("r.example=http://auth.example"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("only allowed for loopback"), "{err}");
}

#[test]
fn registry_env_needs_both_variables_and_endpoint_rules() {
    assert!(env_credentials(None, None).unwrap().is_none());
    assert!(env_credentials(Some(" ".into()), None).unwrap().is_none());
    let err = env_credentials(Some("u".into()), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("set both"), "{err}");
    assert_eq!(
        env_credentials(Some("u".into()), Some("p".into())).unwrap(),
        Some(creds("u", "p"))
    );
    let args = |url: &str| RegistryArgs {
        docker_io_registry: Some(url.into()),
        copy_parallelism: 4,
        registry_timeout: 60,
    };
    let none = BTreeSet::new();
    let (config, _) = RegistrySettings::parse(&args("http://127.0.0.1:5001/"), None, None)
        .unwrap()
        .client_config(&none);
    assert_eq!(
        config.endpoints["docker.io"].as_str(),
        "http://127.0.0.1:5001/"
    );
    let err = RegistrySettings::parse(&args("http://registry.example.com"), None, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--docker-io-registry"), "{err}");
    assert!(err.contains("only allowed for loopback"), "{err}");
}

fn cli(args: &[&str]) -> Cli {
    <Cli as clap::Parser>::try_parse_from(std::iter::once("vetted").chain(args.iter().copied()))
        .unwrap()
}

#[test]
fn resolve_checks_each_commands_flags_once_and_keeps_what_is_wrong_for_first_use() {
    // Flags are checked before the environment, so these hold whatever the environment is.
    let s = resolve(&cli(&[
        "plan",
        "--hub-url",
        "http://hub.example.com",
        "--parallelism",
        "3",
        "--copy-parallelism",
        "5",
    ]));
    let err = s.hub().err().unwrap().to_string();
    assert!(
        err.starts_with("--hub-url http://hub.example.com: plain http"),
        "{err}"
    );
    assert_eq!(
        s.limits,
        Limits {
            copy_parallelism: 5
        }
    );
    let s = resolve(&cli(&[
        "apply",
        "--docker-io-registry",
        "http://registry.example.com",
    ]));
    let err = s.registry().err().unwrap().to_string();
    assert!(err.contains("--docker-io-registry"), "{err}");
    // `lock` has registry flags only; `validate` neither.
    let s = resolve(&cli(&[
        "lock",
        "--docker-io-registry",
        "http://127.0.0.1:5001",
    ]));
    assert!(s.hub().is_err());
    let (config, _) = s.registry().unwrap().client_config(&BTreeSet::new());
    assert_eq!(
        config.endpoints["docker.io"].as_str(),
        "http://127.0.0.1:5001/"
    );
    let s = resolve(&cli(&["validate"]));
    assert!(s.hub().is_err() && s.registry().is_err());
    assert_eq!(s.limits, Limits::default());
}

#[test]
fn table_width_choice() {
    // A terminal: its own width, whatever COLUMNS says.
    assert_eq!(table_width(Some(Some(100)), Some("160")), Some(100));
    // A terminal whose size cannot be read: COLUMNS.
    assert_eq!(table_width(Some(None), Some("160")), Some(160));
    // Not a terminal: COLUMNS when it is a width, else unconstrained.
    assert_eq!(table_width(None, Some(" 120 ")), Some(120));
    assert_eq!(table_width(None, None), None);
    assert_eq!(table_width(None, Some("wide")), None);
    assert_eq!(table_width(None, Some("0")), None);
    assert_eq!(table_width(None, Some("99999")), None);
    // Never narrower than a table can be read at.
    assert_eq!(table_width(None, Some("10")), Some(MIN_TABLE_WIDTH));
}

#[test]
fn color_choice() {
    assert!(use_color(ColorWhen::Always, false));
    assert!(!use_color(ColorWhen::Never, true));
    assert!(!use_color(ColorWhen::Auto, false));
}
