//! Which redirects the registry client follows ([`redirect_refusal`]): at most [`MAX_REDIRECTS`],
//! http(s) only, no downgrade from https to plain http off loopback, and never from a registry off
//! this machine to loopback.
/// Redirects a registry answer may chain (Docker Hub's blob GETs take one, to its CDN).
pub const MAX_REDIRECTS: usize = 5;

/// Which redirects the client follows: at most [`MAX_REDIRECTS`], to http(s) only, and never from
/// https down to plain http off loopback ([`redirect_refusal`]). `Authorization` (and cookies) are
/// dropped by reqwest whenever the next URL's scheme, host or port differs from the previous one:
/// a registry credential or token never reaches the CDN host Docker Hub redirects blob GETs to.
pub(super) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        match redirect_refusal(attempt.url(), attempt.previous()) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    })
}

/// Why a redirect to `next` after `previous` (the URLs requested so far, first to last) is not
/// followed, or `None` to follow it.
pub fn redirect_refusal(next: &url::Url, previous: &[url::Url]) -> Option<String> {
    let origin = next.origin().ascii_serialization();
    if previous.len() > MAX_REDIRECTS {
        return Some(format!(
            "more than {MAX_REDIRECTS} redirects (the last to {origin}); not followed"
        ));
    }
    // A registry off this machine never sends vetted to this machine's loopback services.
    if url_is_loopback(next) && !previous.first().is_some_and(url_is_loopback) {
        return Some(format!(
            "a redirect from a registry off this machine to loopback ({origin}); not followed"
        ));
    }
    match next.scheme() {
        "https" => None,
        "http" if url_is_loopback(next) => None,
        "http" if previous.iter().any(|p| p.scheme() == "https") => Some(format!(
            "a redirect from https to plain http on a non-loopback host ({origin}); not followed"
        )),
        "http" => None,
        other => Some(format!(
            "a redirect to the unsupported scheme {other:?}; not followed (http and https only)"
        )),
    }
}

pub(super) fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(registry)
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

pub(super) fn url_is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_rules() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let hub = [u("https://registry-1.docker.io/v2/x/blobs/sha256:1")];
        // Docker Hub's CDN, and loopback in either scheme.
        assert_eq!(
            redirect_refusal(&u("https://production.cloudflare.docker.com/r/x"), &hub),
            None
        );
        // Loopback only from loopback: a registry off this machine cannot send vetted to it.
        let why = redirect_refusal(&u("http://127.0.0.2:9/b"), &hub).unwrap();
        assert!(why.contains("to loopback"), "{why}");
        let why = redirect_refusal(&u("https://localhost/b"), &hub).unwrap();
        assert!(why.contains("to loopback"), "{why}");
        let local = [u("http://127.0.0.1:5000/v2/x/blobs/sha256:1")];
        assert_eq!(redirect_refusal(&u("http://127.0.0.2:9/b"), &local), None);
        // A downgrade to plain http off loopback.
        let why = redirect_refusal(&u("http://cdn.example/b"), &hub).unwrap();
        assert!(why.contains("https to plain http"), "{why}");
        // Plain http that was plain http from the start (an insecure registry) is no downgrade.
        let insecure = [u("http://10.0.0.5:5000/v2/x/blobs/sha256:1")];
        assert_eq!(redirect_refusal(&u("http://10.0.0.6/b"), &insecure), None);
        // Other schemes.
        let why = redirect_refusal(&u("file:///etc/passwd"), &hub).unwrap();
        assert!(why.contains("unsupported scheme \"file\""), "{why}");
        // At most MAX_REDIRECTS hops: `previous` holds the first request and each hop so far.
        let chain: Vec<url::Url> = (0..=MAX_REDIRECTS)
            .map(|i| u(&format!("https://r.example/{i}")))
            .collect();
        assert_eq!(
            redirect_refusal(&u("https://r.example/next"), &chain[..MAX_REDIRECTS]),
            None
        );
        let why = redirect_refusal(&u("https://r.example/next"), &chain).unwrap();
        assert!(why.contains("more than 5 redirects"), "{why}");
    }
}
