//! A real registry on loopback, and images to put in it.
//!
//! Chapter 5's tests pull from Debian's `docker-registry` (the CNCF
//! distribution server, the same code as Docker Hub's registry), started by
//! the tests on a free loopback port with its storage in a temporary
//! directory, so a test can also tamper with a stored blob. Images are built
//! as OCI layouts with `umoci` and pushed with `skopeo`, both from Debian:
//! nothing reaches the internet.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `docker-registry` package installs the server.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How clients authenticate to a test registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAuth {
    /// Anyone may pull and push.
    Open,
    /// HTTP Basic auth against an htpasswd file with one user.
    Htpasswd { user: String, password: String },
    /// Docker Hub's flow: the registry answers 401 with a Bearer challenge
    /// naming a token server (ours, see [`TokenServer`]), which issues
    /// signed tokens the registry verifies. With the user and password the
    /// token grants pull and push; anonymously it grants nothing.
    Token { user: String, password: String },
}

/// A running registry, stopped and removed on drop.
pub struct Registry {
    child: Child,
    port: u16,
    auth: RegistryAuth,
    // Dropped after the child is killed (fields drop in order after Drop).
    _token_server: Option<TokenServer>,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry on a free loopback port and waits until it answers.
    pub fn start(auth: RegistryAuth) -> Registry {
        Registry::start_on(auth, free_port())
    }

    /// Starts a registry on loopback port `port` (`scripts/lab` gives
    /// learners fixed ports) and waits until it answers.
    pub fn start_on(auth: RegistryAuth, port: u16) -> Registry {
        require_tool(REGISTRY_BIN, "docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("skiff-registry-")
            .tempdir()
            .expect("tempdir");
        let mut token_server = None;
        let auth_section = match &auth {
            RegistryAuth::Open => String::new(),
            RegistryAuth::Token { user, password } => {
                let server = TokenServer::start(dir.path(), user, password);
                let section = format!(
                    "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: skiff-registry\n    issuer: skiff-test\n    rootcertbundle: {}\n",
                    server.port,
                    dir.path().join("token-cert.pem").display()
                );
                token_server = Some(server);
                section
            }
            RegistryAuth::Htpasswd { user, password } => {
                require_tool("/usr/bin/htpasswd", "apache2-utils");
                let out = Command::new("/usr/bin/htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("run htpasswd");
                assert!(out.status.success(), "htpasswd failed");
                std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth_section}",
            dir.path().join("storage").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            child,
            port,
            auth,
            _token_server: token_server,
            dir,
        };
        registry.wait_until_ready();
        registry
    }

    /// The port of the token server, for a registry with
    /// [`RegistryAuth::Token`].
    pub fn token_port(&self) -> Option<u16> {
        self._token_server.as_ref().map(|server| server.port)
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's storage directory (blobs are under
    /// `docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The stored file of blob `sha256:<hex>`, to tamper with.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage().join(format!(
            "docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }

    /// Pushes the OCI layout `layout` (tag `tag`) as `REPOSITORY:TAG` with skopeo.
    pub fn push(&self, layout: &Path, tag: &str, repository: &str) {
        self.skopeo_copy(layout, tag, repository, &[]);
    }

    /// Pushes an image *index* of the layout (every platform it lists).
    pub fn push_index(&self, layout: &Path, tag: &str, repository: &str) {
        self.skopeo_copy(layout, tag, repository, &["--all"]);
    }

    /// Pushes the image converted to Docker's schema 2 manifest format.
    pub fn push_docker_v2s2(&self, layout: &Path, tag: &str, repository: &str) {
        self.skopeo_copy(layout, tag, repository, &["--format", "v2s2"]);
    }

    fn skopeo_copy(&self, layout: &Path, tag: &str, repository: &str, extra: &[&str]) {
        require_tool("/usr/bin/skopeo", "skopeo");
        let mut command = Command::new("/usr/bin/skopeo");
        command
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(extra);
        if let RegistryAuth::Htpasswd { user, password } | RegistryAuth::Token { user, password } =
            &self.auth
        {
            command.arg(format!("--dest-creds={user}:{password}"));
        }
        let out = command
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repository}:{tag}", self.host()))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A raw HTTP GET of `path` on the registry: (status code, body).
    pub fn get(&self, path: &str, accept: &str) -> (u16, Vec<u8>) {
        http_get(self.port, path, accept)
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let (status, _) = http_get(self.port, "/v2/", "*/*");
                if status == 200 || status == 401 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (the kernel picks it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

fn require_tool(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install Debian's {package} (sudo ./scripts/setup does)"
    );
}

/// A minimal HTTP/1.0 GET, enough to probe the registry without a client library.
fn http_get(port: u16, path: &str, accept: &str) -> (u16, Vec<u8>) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Vec::new());
    };
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, Vec::new());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response[split..].to_vec())
}

/// An OCI image layout built with umoci: layers added one directory at a time.
pub struct OciLayout {
    dir: tempfile::TempDir,
    tag: String,
}

impl OciLayout {
    /// A new, empty image `tag` in a fresh OCI layout.
    pub fn new(tag: &str) -> OciLayout {
        require_tool("/usr/bin/umoci", "umoci");
        let dir = tempfile::Builder::new()
            .prefix("skiff-oci-")
            .tempdir()
            .expect("tempdir");
        let layout = OciLayout {
            dir,
            tag: tag.to_string(),
        };
        layout.umoci(&["init", "--layout", &layout.path().to_string_lossy()]);
        layout.umoci(&["new", "--image", &layout.image()]);
        layout
    }

    /// The layout directory.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("layout")
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    fn image(&self) -> String {
        format!("{}:{}", self.path().display(), self.tag)
    }

    /// Adds one layer: `change` edits the image's root filesystem (a
    /// directory with everything of the layers so far); umoci records the
    /// difference as a new layer.
    pub fn add_layer(&self, change: impl FnOnce(&Path)) {
        self.add_layer_to(&self.tag, change);
    }

    /// [`OciLayout::add_layer`] on tag `tag` of the layout (made with
    /// [`OciLayout::copy_tag`], say), leaving the other tags as they are.
    pub fn add_layer_to(&self, tag: &str, change: impl FnOnce(&Path)) {
        let image = format!("{}:{tag}", self.path().display());
        let bundle = self.dir.path().join("bundle");
        let _ = std::fs::remove_dir_all(&bundle);
        self.umoci(&["unpack", "--image", &image, &bundle.to_string_lossy()]);
        change(&bundle.join("rootfs"));
        self.umoci(&["repack", "--image", &image, &bundle.to_string_lossy()]);
        std::fs::remove_dir_all(&bundle).unwrap();
    }

    /// Adds the uncompressed tar archive `layer` to tag `tag` as it is
    /// (`umoci raw add-layer`): entries umoci would never write, such as
    /// names with `..`, reach the image as an attacker wrote them.
    pub fn add_raw_layer(&self, tag: &str, layer: &Path) {
        let image = format!("{}:{tag}", self.path().display());
        self.umoci(&[
            "raw",
            "add-layer",
            "--image",
            &image,
            &layer.to_string_lossy(),
        ]);
    }

    /// Makes tag `to` a copy of tag `from` (same layers and config).
    pub fn copy_tag(&self, from: &str, to: &str) {
        let source = format!("{}:{from}", self.path().display());
        self.umoci(&["tag", "--image", &source, to]);
    }

    /// Sets config fields of tag `tag` with `umoci config` flags.
    pub fn configure_tag(&self, tag: &str, flags: &[&str]) {
        let image = format!("{}:{tag}", self.path().display());
        let mut args = vec!["config", "--image", &image];
        args.extend(flags);
        self.umoci(&args);
    }

    /// Sets config fields with `umoci config` flags, e.g. `--config.cmd=/bin/sh`.
    pub fn configure(&self, flags: &[&str]) {
        let image = self.image();
        let mut args = vec!["config", "--image", &image];
        args.extend(flags);
        self.umoci(&args);
    }

    fn umoci(&self, args: &[&str]) {
        let out = Command::new("/usr/bin/umoci")
            .args(args)
            .output()
            .expect("run umoci");
        assert!(
            out.status.success(),
            "umoci {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A token server of our own, as Docker Hub's `auth.docker.io`: it answers
/// `GET /token?service=...&scope=repository:NAME:pull,push` with a JWT
/// signed (RS256, with `openssl`) by a key whose certificate the registry
/// trusts (`rootcertbundle`). The certificate travels in the token's `x5c`
/// header, which is how the registry finds the key.
pub struct TokenServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenServer {
    fn start(dir: &Path, user: &str, password: &str) -> TokenServer {
        let key = dir.join("token-key.pem");
        let cert = dir.join("token-cert.pem");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=skiff-test-token",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .expect("run openssl x509");
        assert!(der.status.success());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let issuer = Issuer {
            key,
            cert_der: der.stdout,
            expected: format!(
                "Basic {}",
                base64(format!("{user}:{password}").as_bytes(), false)
            ),
            user: user.to_string(),
            dir: dir.to_path_buf(),
        };
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    issuer.answer(stream);
                }
            }
        });
        TokenServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Issuer {
    key: PathBuf,
    cert_der: Vec<u8>,
    expected: String,
    user: String,
    dir: PathBuf,
}

impl Issuer {
    fn answer(&self, mut stream: TcpStream) {
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        let text = String::from_utf8_lossy(&request).into_owned();
        let target = text.split_whitespace().nth(1).unwrap_or("/");
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| percent_decode(v))
                .collect::<Vec<_>>()
        };
        let authorized = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.trim() == self.expected);
        let (status, body) = if text
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            && !authorized
        {
            (
                "401 Unauthorized",
                "{\"details\":\"wrong user or password\"}".to_string(),
            )
        } else {
            let access: Vec<String> = if authorized {
                param("scope")
                    .iter()
                    .filter_map(|scope| {
                        let mut parts = scope.splitn(3, ':');
                        let (kind, name) = (parts.next()?, parts.next()?);
                        Some(format!(
                            "{{\"type\":\"{kind}\",\"name\":\"{name}\",\"actions\":[\"pull\",\"push\"]}}"
                        ))
                    })
                    .collect()
            } else {
                Vec::new() // anonymous: a token that grants nothing
            };
            let service = param("service").into_iter().next().unwrap_or_default();
            (
                "200 OK",
                format!("{{\"token\":\"{}\"}}", self.token(&service, &access)),
            )
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes());
    }

    /// A JWT: base64url(header).base64url(claims).base64url(RS256 signature).
    fn token(&self, service: &str, access: &[String]) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = format!(
            "{{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5c\":[\"{}\"]}}",
            base64(&self.cert_der, false)
        );
        let claims = format!(
            "{{\"iss\":\"skiff-test\",\"sub\":\"{}\",\"aud\":\"{service}\",\"exp\":{},\"nbf\":{},\"iat\":{now},\"jti\":\"{now}-{}\",\"access\":[{}]}}",
            self.user,
            now + 300,
            now - 10,
            std::process::id(),
            access.join(",")
        );
        let signing_input = format!(
            "{}.{}",
            base64(header.as_bytes(), true),
            base64(claims.as_bytes(), true)
        );
        let input = self.dir.join(format!("jwt-{}", now));
        std::fs::write(&input, &signing_input).unwrap();
        let signature = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .arg(&input)
            .output()
            .expect("openssl dgst");
        let _ = std::fs::remove_file(&input);
        format!("{signing_input}.{}", base64(&signature.stdout, true))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64, standard or URL-safe without padding (as JWTs use).
fn base64(bytes: &[u8], url: bool) -> String {
    let table: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(table[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if !url {
                out.push('=');
            }
        }
    }
    out
}
