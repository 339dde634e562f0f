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
}

/// A running registry, stopped and removed on drop.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    auth: RegistryAuth,
}

impl Registry {
    /// Starts a registry on a free loopback port and waits until it answers.
    pub fn start(auth: RegistryAuth) -> Registry {
        require_tool(REGISTRY_BIN, "docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("skiff-registry-")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let auth_section = match &auth {
            RegistryAuth::Open => String::new(),
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
            dir,
            port,
            auth,
        };
        registry.wait_until_ready();
        registry
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
        self.skopeo_copy(layout, tag, repository, false);
    }

    /// Pushes an image *index* of the layout (every platform it lists).
    pub fn push_index(&self, layout: &Path, tag: &str, repository: &str) {
        self.skopeo_copy(layout, tag, repository, true);
    }

    fn skopeo_copy(&self, layout: &Path, tag: &str, repository: &str, all: bool) {
        require_tool("/usr/bin/skopeo", "skopeo");
        let mut command = Command::new("/usr/bin/skopeo");
        command.args(["copy", "--quiet", "--dest-tls-verify=false"]);
        if all {
            command.arg("--all");
        }
        if let RegistryAuth::Htpasswd { user, password } = &self.auth {
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
        let bundle = self.dir.path().join("bundle");
        let _ = std::fs::remove_dir_all(&bundle);
        self.umoci(&[
            "unpack",
            "--image",
            &self.image(),
            &bundle.to_string_lossy(),
        ]);
        change(&bundle.join("rootfs"));
        self.umoci(&[
            "repack",
            "--image",
            &self.image(),
            &bundle.to_string_lossy(),
        ]);
        std::fs::remove_dir_all(&bundle).unwrap();
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
