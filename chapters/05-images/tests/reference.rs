//! Image references, read the way docker reads them.

use ch05_images::reference::{Reference, ReferenceError, parse};

const D: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

/// (typed, canonical form)
const VALID: &[(&str, &str)] = &[
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    (
        "docker.io/library/busybox:latest",
        "docker.io/library/busybox:latest",
    ),
    (
        "index.docker.io/busybox",
        "docker.io/library/busybox:latest",
    ),
    ("index.docker.io/user/app:v2", "docker.io/user/app:v2"),
    ("user/app:tag", "docker.io/user/app:tag"),
    ("user/app", "docker.io/user/app:latest"),
    ("a/b/c/d", "docker.io/a/b/c/d:latest"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("localhost:5000/app:1.0", "localhost:5000/app:1.0"),
    ("localhost:5000/ns/app:1.0", "localhost:5000/ns/app:1.0"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
    ("[::1]:5000/app:x", "[::1]:5000/app:x"),
    ("[2001:db8::1]/app", "[2001:db8::1]/app:latest"),
    ("ghcr.io/owner/app:v1.2.3", "ghcr.io/owner/app:v1.2.3"),
    (
        "quay.io/prometheus/node-exporter",
        "quay.io/prometheus/node-exporter:latest",
    ),
    (
        "registry.example.com:443/a/b",
        "registry.example.com:443/a/b:latest",
    ),
    (
        "Registry.Example.com/app",
        "Registry.Example.com/app:latest",
    ),
    (
        "my-registry.local/team/app",
        "my-registry.local/team/app:latest",
    ),
    ("a.b_c__d---e", "docker.io/library/a.b_c__d---e:latest"),
    (
        "app:Tag_With.Mixed-Case",
        "docker.io/library/app:Tag_With.Mixed-Case",
    ),
    ("app:_under", "docker.io/library/app:_under"),
    ("localhost:5000", "docker.io/library/localhost:5000"),
    (
        "busybox@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "docker.io/library/busybox@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
    ),
    (
        "busybox:1.36@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "docker.io/library/busybox:1.36@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
    ),
    (
        "localhost:5000/app@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "localhost:5000/app@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
    ),
    ("0123", "docker.io/library/0123:latest"),
];

#[test]
fn valid_references_normalize_like_docker() {
    let mut failures = Vec::new();
    for (typed, canonical) in VALID {
        match parse(typed) {
            Ok(r) if r.to_string() == *canonical => {}
            Ok(r) => failures.push(format!("{typed}: got {r}, want {canonical}")),
            Err(e) => failures.push(format!("{typed}: unexpected error: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn canonical_form_parses_to_itself() {
    for (_, canonical) in VALID {
        let once = parse(canonical).unwrap();
        assert_eq!(parse(&once.to_string()).unwrap(), once, "{canonical}");
    }
}

#[test]
fn fields() {
    let r = parse("busybox").unwrap();
    assert_eq!(
        r,
        Reference {
            registry: "docker.io".into(),
            repository: "library/busybox".into(),
            tag: Some("latest".into()),
            digest: None,
        }
    );
    assert_eq!(r.reference(), "latest");
    assert_eq!(r.name(), "docker.io/library/busybox");

    let r = parse(&format!("localhost:5000/ns/app:1.0@{D}")).unwrap();
    assert_eq!(r.registry, "localhost:5000");
    assert_eq!(r.repository, "ns/app");
    assert_eq!(r.tag.as_deref(), Some("1.0"));
    assert_eq!(r.digest.as_ref().unwrap().to_string(), D);
    // The digest is what gets asked for: it is exact.
    assert_eq!(r.reference(), D);

    let r = parse(&format!("busybox@{D}")).unwrap();
    assert_eq!(r.tag, None, "a digest alone gets no default tag");

    let r = Reference {
        registry: "docker.io".into(),
        repository: "library/x".into(),
        tag: None,
        digest: None,
    };
    assert_eq!(r.reference(), "latest");
    assert_eq!(r.to_string(), "docker.io/library/x:latest");
}

#[test]
fn registry_urls_and_loopback() {
    let cases = [
        ("busybox", "https://registry-1.docker.io", false),
        ("index.docker.io/x/y", "https://registry-1.docker.io", false),
        ("ghcr.io/o/app", "https://ghcr.io", false),
        (
            "registry.example.com:5000/app",
            "https://registry.example.com:5000",
            false,
        ),
        ("localhost/app", "http://localhost", true),
        ("localhost:5000/app", "http://localhost:5000", true),
        ("127.0.0.1:5000/app", "http://127.0.0.1:5000", true),
        ("127.1.2.3/app", "http://127.1.2.3", true),
        ("[::1]:5000/app", "http://[::1]:5000", true),
        ("[::1]/app", "http://[::1]", true),
        ("128.0.0.1:5000/app", "https://128.0.0.1:5000", false),
        (
            "[2001:db8::1]:5000/app",
            "https://[2001:db8::1]:5000",
            false,
        ),
        (
            "localhost.example.com/app",
            "https://localhost.example.com",
            false,
        ),
    ];
    for (typed, url, loopback) in cases {
        let r = parse(typed).unwrap();
        assert_eq!(r.registry_url(), url, "{typed}");
        assert_eq!(r.is_loopback(), loopback, "{typed}");
    }
}

/// (typed, a piece the message must contain)
const INVALID: &[(&str, &str)] = &[
    ("", "empty image reference"),
    ("Busybox", "repository name must be lowercase"),
    ("user/App:1.0", "repository name must be lowercase"),
    ("localhost:5000/MyApp", "repository name must be lowercase"),
    ("Foo/bar", "repository name must be lowercase"),
    ("busybox:", "invalid tag \"\""),
    ("busybox:.hidden", "invalid tag \".hidden\""),
    ("busybox:-dash", "invalid tag \"-dash\""),
    ("busybox:a+b", "invalid tag \"a+b\""),
    ("busybox:1.0:2.0", "repository component \"busybox:1.0\""),
    ("user//app", "repository component \"\""),
    ("user/app/", "repository component \"\""),
    ("/app", "repository component \"\""),
    ("-app", "repository component \"-app\""),
    ("app-", "repository component \"app-\""),
    ("a...b", "repository component \"a...b\""),
    ("a___b", "repository component \"a___b\""),
    ("a_.b", "repository component \"a_.b\""),
    ("app name", "repository component \"app name\""),
    ("ghcr.io/", "repository component \"\""),
    (
        "busybox@sha256:1234",
        "invalid digest in \"busybox@sha256:1234\"",
    ),
    (
        "busybox@sha256:6C3C624B58DBBCD3C0DD82B4C53F04194D1247C6EEBDAAB7C610CF7D66709B3B",
        "lowercase",
    ),
    (
        "busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
        "only sha256 is supported",
    ),
    ("busybox@", "invalid digest"),
    ("busybox@@sha256:x", "invalid digest"),
    ("localhost:port/app", "invalid registry \"localhost:port\""),
    ("localhost:99999/app", "invalid registry"),
    (
        "-bad.example.com/app",
        "invalid registry \"-bad.example.com\"",
    ),
    ("bad..example.com/app", "invalid registry"),
    ("[::1/app", "invalid registry"),
    ("[not-v6]:5000/app", "invalid registry"),
    (
        "6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "image id",
    ),
];

#[test]
fn invalid_references_say_what_is_wrong() {
    let mut failures = Vec::new();
    for (typed, needle) in INVALID {
        match parse(typed) {
            Ok(r) => failures.push(format!("{typed:?}: parsed as {r}, want an error")),
            Err(e) => {
                let msg = e.to_string();
                if !msg.contains(needle) {
                    failures.push(format!("{typed:?}: message {msg:?} lacks {needle:?}"));
                }
                if msg.ends_with('.') || msg.starts_with(char::is_uppercase) {
                    failures.push(format!(
                        "{typed:?}: message {msg:?} is not lowercase or ends with '.'"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn long_names_and_tags() {
    let tag128 = "t".repeat(128);
    assert!(parse(&format!("app:{tag128}")).is_ok());
    let err = parse(&format!("app:{tag128}x")).unwrap_err();
    assert!(matches!(err, ReferenceError::Tag { .. }), "{err}");

    let long = format!("example.com/{}", "a".repeat(250));
    let err = parse(&long).unwrap_err();
    assert!(
        matches!(err, ReferenceError::TooLong { len: 262, .. }),
        "{err}"
    );
}

#[test]
fn uppercase_error_suggests_the_fix() {
    let err = parse("user/App:V1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid reference \"user/App:V1\": repository name must be lowercase (try \"user/app:V1\")"
    );
}
