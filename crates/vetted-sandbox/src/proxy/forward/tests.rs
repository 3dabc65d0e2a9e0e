//! Tests of the request path: cut bodies, rewritten headers, the pull-counting rule.

use super::*;

#[tokio::test]
async fn cut_after_keeps_a_prefix_then_fails() {
    let chunks = vec![
        Ok(Bytes::from_static(b"abcd")),
        Ok(Bytes::from_static(b"efgh")),
    ];
    let out: Vec<_> = cut_after(futures::stream::iter(chunks), 6)
        .collect::<Vec<_>>()
        .await;
    let kept: Vec<u8> = out
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|b| b.to_vec())
        .collect();
    assert_eq!(kept, b"abcdef");
    assert!(out.last().is_some_and(|r| r.is_err()));
    assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
}

#[test]
fn classify_requests() {
    let post = hyper::Method::POST;
    assert!(matches!(
        classify(&post, "/v2/a/b/blobs/uploads/", "mount=sha256:1&from=x"),
        Class::UploadStart { mount: true }
    ));
    assert!(matches!(
        classify(&hyper::Method::GET, "/v2/a/blobs/sha256:1", ""),
        Class::Blob
    ));
    assert!(matches!(
        classify(&hyper::Method::GET, "/v2/a/manifests/1", ""),
        Class::Manifest
    ));
}

#[test]
fn realms_point_at_the_proxy() {
    let origins = Mutex::default();
    let up = "http://127.0.0.1:5000";
    let own = "http://127.0.0.1:7000";
    let rw = |s: &str| {
        realm_rewritten(up, own, &origins, &HeaderValue::from_str(s).unwrap())
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        rw(r#"Bearer realm="http://127.0.0.1:5000/token",service="r""#),
        r#"Bearer realm="http://127.0.0.1:7000/token",service="r""#
    );
    assert_eq!(
        rw(r#"Bearer realm="http://127.0.0.1:6000/v2/token",service="r",scope="a""#),
        r#"Bearer realm="http://127.0.0.1:7000/_proxy/auth/0/v2/token",service="r",scope="a""#
    );
    assert_eq!(
        rw(r#"Bearer realm="http://127.0.0.1:6000/token""#),
        r#"Bearer realm="http://127.0.0.1:7000/_proxy/auth/0/token""#
    );
    assert_eq!(rw(r#"Basic realm="x""#), r#"Basic realm="x""#);
    assert_eq!(lock(&origins).as_slice(), ["http://127.0.0.1:6000"]);
}

#[test]
fn origin_of_urls() {
    assert_eq!(
        origin_of("http://127.0.0.1:5000/v2/").as_deref(),
        Some("http://127.0.0.1:5000")
    );
    assert_eq!(origin_of("ftp://x"), None);
    assert_eq!(origin_of("127.0.0.1:5000"), None);
}
