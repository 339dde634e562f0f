//! Volumes: parsing `-v` / `--tmpfs`, the named volume store, and real mounts.
//!
//! The mount tests need root. Each one runs twice: the test started by
//! `cargo test` (the parent) re-executes this very test binary under
//! `unshare --mount --propagation private` (util-linux), selecting itself
//! with `--exact <name>` and the environment variable `SKIFF_VOLUMES_CHILD`.
//! In that child, the body runs inside a private mount namespace: its
//! mounts are invisible to the host and vanish when the child exits. Doing
//! it with a new process, rather than `unshare(2)` or `fork(2)` inside the
//! multi-threaded test harness, keeps the harness and the namespace apart.
//! The parent then checks, from the host, that no mount and no file was
//! left outside the test's temporary directory.

use ch04_overlayfs::volumes::{
    ANONYMOUS_LABEL, Mount, VolumeError, VolumeSource, VolumeStore, mount_volumes, parse_tmpfs,
    parse_volume,
};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD_ENV: &str = "SKIFF_VOLUMES_CHILD";
const DIR_ENV: &str = "SKIFF_VOLUMES_DIR";

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the volume mount tests mount filesystems and need root: run them with sudo"
    );
}

/// Runs `body(dir)` in a child process inside a private mount namespace;
/// `dir` is a temporary directory that the parent owns and removes.
fn in_mount_namespace(test: &str, body: impl FnOnce(&Path)) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        ch01_process::explain::set_enabled(true);
        let dir = PathBuf::from(std::env::var(DIR_ENV).expect("SKIFF_VOLUMES_DIR is set"));
        body(&dir);
        return;
    }
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .env(DIR_ENV, dir.path())
        .output()
        .expect("util-linux unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child in its mount namespace failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Back on the host: nothing may stay mounted under the test directory.
    let dir_text = dir.path().to_string_lossy().into_owned();
    let leaked: Vec<_> = mountinfo()
        .into_iter()
        .filter(|m| m.point.starts_with(dir.path()) || m.source.contains(&dir_text))
        .collect();
    assert!(leaked.is_empty(), "mounts left on the host: {leaked:?}");
    // Escape markers: names the child tried to create outside the root.
    for path in escape_markers(dir.path()) {
        assert!(!path.exists(), "{} was created on the host", path.display());
    }
}

/// Host paths a broken resolution would create for the test dir `dir`.
fn escape_markers(dir: &Path) -> Vec<PathBuf> {
    let tag = dir.file_name().unwrap().to_string_lossy().into_owned();
    vec![
        PathBuf::from(format!("/skiff-escape-{tag}")),
        PathBuf::from(format!("/etc/skiff-escape-{tag}")),
        PathBuf::from(format!("/skiff-missing-{tag}")),
    ]
}

fn marker_name(dir: &Path, prefix: &str) -> String {
    format!("{prefix}-{}", dir.file_name().unwrap().to_string_lossy())
}

#[derive(Debug)]
struct MountInfo {
    point: PathBuf,
    options: String,
    fstype: String,
    source: String,
    super_options: String,
}

/// `/proc/self/mountinfo`, parsed (see proc_pid_mountinfo(5)).
fn mountinfo() -> Vec<MountInfo> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .map(|line| {
            let (left, right) = line.split_once(" - ").unwrap();
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            MountInfo {
                point: PathBuf::from(unescape(left[4])),
                options: left[5].into(),
                fstype: right[0].into(),
                source: unescape(right[1]),
                super_options: right.get(2).copied().unwrap_or("").into(),
            }
        })
        .collect()
}

/// Undoes the octal escapes of mountinfo (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok());
        if bytes[i] == b'\\'
            && let Some(n) = octal.and_then(|d| u8::from_str_radix(d, 8).ok())
        {
            out.push(n);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mounts_at(point: &Path) -> Vec<MountInfo> {
    mountinfo()
        .into_iter()
        .filter(|m| m.point == point)
        .collect()
}

fn message(result: Result<Mount, VolumeError>) -> String {
    result.expect_err("the spec is refused").to_string()
}

/// Makes a container root with the directories an image has.
fn make_root(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(name);
    for sub in ["etc", "var", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    root
}

/// Parses, resolves and mounts `specs` (`-v` specs, or `--tmpfs ` + spec).
fn mount_specs(store: &VolumeStore, root: &Path, specs: &[&str]) {
    let mounts: Vec<(Mount, PathBuf)> = specs
        .iter()
        .map(|spec| {
            let mount = match spec.strip_prefix("--tmpfs ") {
                Some(tmpfs) => parse_tmpfs(tmpfs).unwrap(),
                None => parse_volume(spec).unwrap(),
            };
            let source = store.resolve(&mount).unwrap();
            (mount, source)
        })
        .collect();
    mount_volumes(root, &mounts).unwrap();
}

// ---------------------------------------------------------------- parsing

#[test]
fn parses_bind_named_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().display();

    let m = parse_volume(&format!("{host}:/data")).unwrap();
    assert_eq!(m.source, VolumeSource::Bind(dir.path().into()));
    assert_eq!(m.target, Path::new("/data"));
    assert!(!m.read_only);
    assert_eq!(m.options, None);

    assert!(parse_volume(&format!("{host}:/data:ro")).unwrap().read_only);
    assert!(!parse_volume(&format!("{host}:/data:rw")).unwrap().read_only);

    // Relative sources start from the current directory (cargo runs tests
    // in the package directory) and come out absolute.
    let m = parse_volume("./src:/code:ro").unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .canonicalize()
        .unwrap();
    assert_eq!(m.source, VolumeSource::Bind(src));
    assert!(m.read_only);

    let m = parse_volume("pg-data_1.x:/var/lib/postgresql/data").unwrap();
    assert_eq!(m.source, VolumeSource::Named("pg-data_1.x".into()));
    assert_eq!(m.target, Path::new("/var/lib/postgresql/data"));

    // The container path is cleaned as docker does; symlinks are left to
    // the mount, which resolves them inside the root.
    let m = parse_volume("cache:/a/./b/../c/").unwrap();
    assert_eq!(m.target, Path::new("/a/c"));
    let m = parse_volume("cache:/../../etc").unwrap();
    assert_eq!(m.target, Path::new("/etc"));
}

#[test]
fn refuses_bad_volume_specs() {
    let usage = "use HOST:CONTAINER[:ro] or NAME:CONTAINER[:ro]";
    assert_eq!(
        message(parse_volume("")),
        format!("empty volume spec: {usage}")
    );
    assert_eq!(
        message(parse_volume("pgdata")),
        format!("volume \"pgdata\" has no container path: {usage}")
    );
    assert_eq!(
        message(parse_volume("pgdata:")),
        format!("volume \"pgdata:\" has no container path: {usage}")
    );
    assert_eq!(
        message(parse_volume(":/data")),
        "volume \":/data\" has no source: name a host path or a volume before the ':'"
    );
    assert_eq!(
        message(parse_volume("pgdata:/data:ro:z")),
        "volume \"pgdata:/data:ro:z\" has too many ':' parts: use HOST:CONTAINER[:ro]"
    );
    assert_eq!(
        message(parse_volume("pgdata:/data:rx")),
        "unknown volume option \"rx\" in \"pgdata:/data:rx\": use ro or rw"
    );
    assert_eq!(
        message(parse_volume("/x/skiff/nowhere:/data")),
        "volume source /x/skiff/nowhere does not exist: create it first, or use a named volume"
    );
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-dir");
    assert_eq!(
        message(parse_volume("./no-such-dir:/data")),
        format!(
            "volume source {} does not exist: create it first, or use a named volume",
            missing.display()
        )
    );
    assert_eq!(
        message(parse_volume("pgdata:data")),
        "container path data must be absolute"
    );
    for root in ["pgdata:/", "pgdata:/x/..", "pgdata://."] {
        assert_eq!(
            message(parse_volume(root)),
            "container path / cannot be a volume: it is the container's root",
            "{root}"
        );
    }
    for bad in ["-data", "_data", "my vol", "a/b", "é"] {
        assert_eq!(
            message(parse_volume(&format!("{bad}:/data"))),
            format!(
                "invalid volume name {bad:?}: a name is a letter or digit followed by letters, digits, '_', '.' or '-'"
            )
        );
    }
}

#[test]
fn parses_tmpfs_specs() {
    let m = parse_tmpfs("/run").unwrap();
    assert_eq!(m.source, VolumeSource::Tmpfs);
    assert_eq!(m.target, Path::new("/run"));
    assert!(!m.read_only);
    assert_eq!(m.options, None);

    let m = parse_tmpfs("/run:size=64m,noexec,mode=700").unwrap();
    assert_eq!(m.options.as_deref(), Some("size=64m,noexec,mode=700"));
    let m = parse_tmpfs("/cache:ro,size=1m").unwrap();
    assert!(m.read_only);
    assert_eq!(m.options.as_deref(), Some("size=1m"));

    assert_eq!(
        message(parse_tmpfs("")),
        "--tmpfs needs a container path, as in --tmpfs /run:size=64m"
    );
    assert_eq!(
        message(parse_tmpfs(":size=1m")),
        "--tmpfs needs a container path, as in --tmpfs /run:size=64m"
    );
    assert_eq!(
        message(parse_tmpfs("run")),
        "container path run must be absolute"
    );
    assert_eq!(
        message(parse_tmpfs("/")),
        "container path / cannot be a volume: it is the container's root"
    );
    assert_eq!(
        message(parse_tmpfs("/run:suid")),
        "tmpfs option \"suid\" is not allowed: a volume holds data, not setuid programs or devices"
    );
}

// ---------------------------------------------------------------- the store

#[test]
fn store_creates_lists_removes_and_prunes() {
    let state = tempfile::tempdir().unwrap();
    let store = VolumeStore::new(state.path());
    assert_eq!(store.list().unwrap(), Vec::<String>::new());
    assert_eq!(store.path("pgdata"), None);

    // create is idempotent and keeps the data.
    let data = store.create("pgdata").unwrap();
    assert_eq!(data, state.path().join("volumes/pgdata/_data"));
    assert!(data.is_dir());
    std::fs::write(data.join("PG_VERSION"), "17\n").unwrap();
    assert_eq!(store.create("pgdata").unwrap(), data);
    assert_eq!(
        std::fs::read_to_string(data.join("PG_VERSION")).unwrap(),
        "17\n"
    );
    assert_eq!(store.path("pgdata"), Some(data.clone()));
    assert_eq!(
        store.create("../escape").unwrap_err().to_string(),
        "invalid volume name \"../escape\": a name is a letter or digit followed by letters, digits, '_', '.' or '-'"
    );
    assert_eq!(store.path("../volumes"), None);

    // list: sorted, without leftovers of an interrupted create.
    store.create("cache.1").unwrap();
    store.create("a-logs").unwrap();
    std::fs::create_dir_all(state.path().join("volumes/.tmp-x-1-0/_data")).unwrap();
    std::fs::create_dir_all(state.path().join("volumes/nodata")).unwrap();
    assert_eq!(store.list().unwrap(), ["a-logs", "cache.1", "pgdata"]);

    // remove: refused while in use, then done.
    let in_use = vec!["pgdata".to_string()];
    assert_eq!(
        store.remove("pgdata", &in_use).unwrap_err().to_string(),
        "volume pgdata is in use by a running container"
    );
    assert!(data.join("PG_VERSION").exists());
    assert_eq!(
        store.remove("nope", &in_use).unwrap_err().to_string(),
        "no such volume: nope"
    );
    store.remove("a-logs", &in_use).unwrap();
    assert_eq!(store.list().unwrap(), ["cache.1", "pgdata"]);
    assert!(!state.path().join("volumes/a-logs").exists());

    // prune: everything not in use.
    store.create("zzz").unwrap();
    assert_eq!(store.prune(&in_use).unwrap(), ["cache.1", "zzz"]);
    assert_eq!(store.list().unwrap(), ["pgdata"]);
    assert_eq!(store.prune(&[]).unwrap(), ["pgdata"]);
    assert_eq!(store.list().unwrap(), Vec::<String>::new());
}

#[test]
fn store_resolves_each_kind() {
    let state = tempfile::tempdir().unwrap();
    let store = VolumeStore::new(state.path());

    let named = parse_volume("fresh:/data").unwrap();
    let path = store.resolve(&named).unwrap();
    assert_eq!(path, state.path().join("volumes/fresh/_data"));
    assert!(path.is_dir(), "first use creates the volume");
    assert_eq!(store.list().unwrap(), ["fresh"]);

    let host = state.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let bind = parse_volume(&format!("{}:/data", host.display())).unwrap();
    assert_eq!(store.resolve(&bind).unwrap(), host);
    std::fs::remove_dir(&host).unwrap();
    assert_eq!(
        store.resolve(&bind).unwrap_err().to_string(),
        format!(
            "volume source {} does not exist: create it first, or use a named volume",
            host.display()
        )
    );

    let tmpfs = parse_tmpfs("/run").unwrap();
    assert_eq!(store.resolve(&tmpfs).unwrap(), Path::new("tmpfs"));
}

#[test]
fn a_container_path_alone_is_an_anonymous_volume() {
    let state = tempfile::tempdir().unwrap();
    let store = VolumeStore::new(state.path());
    let first = parse_volume("/var/cache/").unwrap();
    let second = parse_volume("/var/cache").unwrap();
    assert_eq!(first.target, Path::new("/var/cache"));
    let (VolumeSource::Anonymous(a), VolumeSource::Anonymous(b)) = (&first.source, &second.source)
    else {
        panic!("anonymous volumes: {first:?} {second:?}");
    };
    assert_ne!(a, b, "each gets a fresh name");
    assert_eq!(a.len(), 64, "{a}");
    assert_eq!(
        message(parse_volume("/")),
        "container path / cannot be a volume: it is the container's root"
    );

    // Created labelled, told apart from named ones, removed with the
    // container unless another container names it.
    let data = store.resolve(&first).unwrap();
    assert!(data.is_dir());
    store.resolve(&second).unwrap();
    store.create("named").unwrap();
    assert!(store.is_anonymous(a) && !store.is_anonymous("named"));
    assert_eq!(
        store.labels(a),
        [(ANONYMOUS_LABEL.to_string(), String::new())].into()
    );
    let named = parse_volume("named:/data").unwrap();
    let mounts = [first.clone(), second.clone(), named];
    let removed = store
        .remove_anonymous(&mounts, std::slice::from_ref(b))
        .unwrap();
    assert_eq!(removed, std::slice::from_ref(a));
    assert_eq!(
        store.list().unwrap().len(),
        2,
        "the named and the shared one stay"
    );
    assert_eq!(
        store.remove_anonymous(&mounts, &[]).unwrap(),
        std::slice::from_ref(b)
    );
    assert_eq!(store.list().unwrap(), ["named"]);
}

// ---------------------------------------------------------------- mounts

#[test]
fn rw_bind_is_visible_and_writes_reach_the_host() {
    in_mount_namespace("rw_bind_is_visible_and_writes_reach_the_host", |dir| {
        let host = dir.join("host");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("hello.txt"), "from the host\n").unwrap();
        let root = make_root(dir, "root");
        let store = VolumeStore::new(&dir.join("state"));

        // Missing directories of the target are created inside the root.
        mount_specs(
            &store,
            &root,
            &[&format!("{}:/srv/www/data", host.display())],
        );

        let target = root.join("srv/www/data");
        let mounts = mounts_at(&target);
        assert_eq!(mounts.len(), 1, "one mount at {}", target.display());
        assert!(mounts[0].options.starts_with("rw"));
        assert_eq!(
            std::fs::read_to_string(target.join("hello.txt")).unwrap(),
            "from the host\n"
        );
        std::fs::write(target.join("written.txt"), "from the container\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(host.join("written.txt")).unwrap(),
            "from the container\n"
        );
    });
}

#[test]
fn ro_bind_refuses_writes() {
    in_mount_namespace("ro_bind_refuses_writes", |dir| {
        let host = dir.join("host");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("config"), "x=1\n").unwrap();
        let root = make_root(dir, "root");
        let store = VolumeStore::new(&dir.join("state"));
        mount_specs(&store, &root, &[&format!("{}:/config:ro", host.display())]);

        let target = root.join("config");
        let mounts = mounts_at(&target);
        assert_eq!(mounts.len(), 1);
        assert!(
            mounts[0].options.starts_with("ro"),
            "per-mount options {}",
            mounts[0].options
        );
        assert_eq!(
            std::fs::read_to_string(target.join("config")).unwrap(),
            "x=1\n"
        );
        let err = std::fs::write(target.join("new"), "no").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
        let err = std::fs::OpenOptions::new()
            .append(true)
            .open(target.join("config"))
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
        // Only the container's view is read-only: the host can still write.
        std::fs::write(host.join("new"), "yes").unwrap();
        assert!(target.join("new").exists());
    });
}

#[test]
fn bind_of_a_file_creates_an_empty_file_to_mount_on() {
    in_mount_namespace("bind_of_a_file_creates_an_empty_file_to_mount_on", |dir| {
        let conf = dir.join("app.conf");
        std::fs::write(&conf, "port=8080\n").unwrap();
        let root = make_root(dir, "root");
        std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        let store = VolumeStore::new(&dir.join("state"));
        mount_specs(
            &store,
            &root,
            &[&format!("{}:/etc/app/app.conf:ro", conf.display())],
        );
        let target = root.join("etc/app/app.conf");
        assert_eq!(mounts_at(&target).len(), 1);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "port=8080\n");

        // A directory cannot go on a file, nor a file on a directory.
        let host = dir.join("hostdir");
        std::fs::create_dir(&host).unwrap();
        let mount = parse_volume(&format!("{}:/etc/hosts", host.display())).unwrap();
        let err = mount_volumes(&root, &[(mount, host.clone())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot mount a directory on /etc/hosts: it is not a directory in the container"
        );
        let mount = parse_volume(&format!("{}:/var", conf.display())).unwrap();
        let err = mount_volumes(&root, &[(mount, conf.clone())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot mount a file on /var: it is a directory in the container"
        );
        assert!(mounts_at(&root.join("etc/hosts")).is_empty());
        assert!(mounts_at(&root.join("var")).is_empty());
    });
}

#[test]
fn named_volume_outlives_its_container() {
    in_mount_namespace("named_volume_outlives_its_container", |dir| {
        let store = VolumeStore::new(&dir.join("state"));

        // First container: writes into the volume, then goes away.
        let first = make_root(dir, "first");
        mount_specs(&store, &first, &["pgdata:/var/lib/db"]);
        let target = first.join("var/lib/db");
        assert_eq!(mounts_at(&target).len(), 1);
        std::fs::write(target.join("table"), "row 1\n").unwrap();
        nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).unwrap();
        std::fs::remove_dir_all(&first).unwrap();
        assert_eq!(store.list().unwrap(), ["pgdata"]);

        // Second container, from scratch: the data is there.
        let second = make_root(dir, "second");
        mount_specs(&store, &second, &["pgdata:/var/lib/db:ro"]);
        assert_eq!(
            std::fs::read_to_string(second.join("var/lib/db/table")).unwrap(),
            "row 1\n"
        );
    });
}

#[test]
fn an_empty_volume_gets_what_the_image_has_there() {
    in_mount_namespace("an_empty_volume_gets_what_the_image_has_there", |dir| {
        use std::os::unix::fs::{chown, lchown};
        let store = VolumeStore::new(&dir.join("state"));
        // The image's /conf: a file, a directory, a link that leads out of
        // the root when the host follows it, a fifo.
        let image = make_root(dir, "image");
        let conf = image.join("conf");
        std::fs::create_dir_all(conf.join("sites")).unwrap();
        std::fs::write(conf.join("app.conf"), "listen 80\n").unwrap();
        std::fs::write(conf.join("sites/default"), "root /srv\n").unwrap();
        std::fs::set_permissions(conf.join("app.conf"), PermissionsExt::from_mode(0o640)).unwrap();
        std::fs::set_permissions(&conf, PermissionsExt::from_mode(0o750)).unwrap();
        chown(conf.join("app.conf"), Some(1000), Some(1001)).unwrap();
        chown(&conf, Some(999), Some(999)).unwrap();
        symlink("/etc/shadow", conf.join("shadow")).unwrap();
        lchown(conf.join("shadow"), Some(1000), Some(1000)).unwrap();
        nix::unistd::mkfifo(
            &conf.join("pipe"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();

        mount_specs(&store, &image, &["conf:/conf"]);
        let data = store.path("conf").unwrap();
        let file = std::fs::metadata(data.join("app.conf")).unwrap();
        assert_eq!(
            std::fs::read_to_string(data.join("app.conf")).unwrap(),
            "listen 80\n"
        );
        assert_eq!(
            (file.mode() & 0o7777, file.uid(), file.gid()),
            (0o640, 1000, 1001)
        );
        let original = std::fs::metadata(conf.join("app.conf")).unwrap();
        assert_eq!(file.mtime(), original.mtime());
        assert_eq!(
            std::fs::read_to_string(data.join("sites/default")).unwrap(),
            "root /srv\n"
        );
        let link = std::fs::symlink_metadata(data.join("shadow")).unwrap();
        assert!(link.file_type().is_symlink(), "a link stays a link");
        assert_eq!(link.uid(), 1000);
        assert_eq!(
            std::fs::read_link(data.join("shadow")).unwrap(),
            Path::new("/etc/shadow")
        );
        assert!(!data.join("pipe").exists(), "a fifo is not data");
        let root = std::fs::metadata(&data).unwrap();
        assert_eq!(
            (root.mode() & 0o7777, root.uid()),
            (0o750, 999),
            "the directory's own"
        );
        // The container sees the copy through the mount.
        assert_eq!(mounts_at(&conf).len(), 1);
        std::fs::write(conf.join("app.conf"), "listen 8080\n").unwrap();
        nix::mount::umount2(&conf, nix::mount::MntFlags::MNT_DETACH).unwrap();

        // A volume with data is left alone: the next container keeps the
        // change, whatever its image has.
        mount_specs(&store, &image, &["conf:/conf"]);
        assert_eq!(
            std::fs::read_to_string(conf.join("app.conf")).unwrap(),
            "listen 8080\n"
        );
        nix::mount::umount2(&conf, nix::mount::MntFlags::MNT_DETACH).unwrap();

        // A bind's directory is the user's: never filled.
        let host = dir.join("host");
        std::fs::create_dir(&host).unwrap();
        mount_specs(&store, &image, &[&format!("{}:/conf", host.display())]);
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0);
        nix::mount::umount2(&conf, nix::mount::MntFlags::MNT_DETACH).unwrap();

        // A hostile image whose /secrets leads to /etc: the copy reads the
        // root's /etc, never the host's.
        let hostile = make_root(dir, "hostile");
        std::fs::write(hostile.join("etc/marker"), "inside\n").unwrap();
        symlink("/etc", hostile.join("secrets")).unwrap();
        mount_specs(&store, &hostile, &["/secrets"]);
        let names: Vec<String> = std::fs::read_dir(hostile.join("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["marker"],
            "the anonymous volume holds the root's /etc only"
        );
    });
}

#[test]
fn tmpfs_is_mounted_with_its_options() {
    in_mount_namespace("tmpfs_is_mounted_with_its_options", |dir| {
        let root = make_root(dir, "root");
        let store = VolumeStore::new(&dir.join("state"));
        mount_specs(
            &store,
            &root,
            &[
                "--tmpfs /run:size=1m,noexec",
                "--tmpfs /scratch",
                "--tmpfs /frozen:ro",
                "--tmpfs /bin-cache:exec",
            ],
        );

        let run = mounts_at(&root.join("run"));
        assert_eq!(run.len(), 1);
        assert_eq!(run[0].fstype, "tmpfs");
        assert!(
            run[0].super_options.contains("size=1024k"),
            "{}",
            run[0].super_options
        );
        for flag in ["nosuid", "nodev", "noexec"] {
            assert!(
                run[0].options.split(',').any(|o| o == flag),
                "{flag} in {}",
                run[0].options
            );
        }
        let mode = std::fs::metadata(root.join("run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o1777);
        std::fs::write(root.join("run/pid"), "1\n").unwrap();

        // noexec unless asked otherwise, as in docker.
        let scratch = mounts_at(&root.join("scratch"));
        assert_eq!(scratch.len(), 1);
        assert_eq!(scratch[0].fstype, "tmpfs");
        assert!(
            scratch[0].options.contains("noexec"),
            "{}",
            scratch[0].options
        );
        let cache = mounts_at(&root.join("bin-cache"));
        assert!(!cache[0].options.contains("noexec"), "{}", cache[0].options);

        let err = std::fs::write(root.join("frozen/x"), "").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    });
}

#[test]
fn symlinks_in_the_image_resolve_inside_the_root() {
    in_mount_namespace("symlinks_in_the_image_resolve_inside_the_root", |dir| {
        let host = dir.join("host");
        std::fs::create_dir(&host).unwrap();
        let root = make_root(dir, "root");
        // A hostile image: absolute and relative symlinks that point out
        // of the root when the host follows them.
        symlink("/etc", root.join("data")).unwrap();
        symlink("../../../../var", root.join("rel")).unwrap();
        symlink("../../..", root.join("up")).unwrap();
        let etc_before = mounts_at(Path::new("/etc")).len();
        let var_before = mounts_at(Path::new("/var")).len();
        let store = VolumeStore::new(&dir.join("state"));
        let escape = marker_name(dir, "skiff-escape");

        mount_specs(
            &store,
            &root,
            &[
                &format!("{}:/data", host.display()),
                "--tmpfs /rel",
                &format!("cache:/up/{escape}"),
                &format!("--tmpfs /data/{escape}"),
            ],
        );

        // Each mount landed inside the root.
        assert_eq!(mounts_at(&root.join("etc")).len(), 1, "/data -> /etc");
        assert_eq!(
            mounts_at(&root.join("var")).len(),
            1,
            "/rel -> ../../../../var"
        );
        assert_eq!(mounts_at(&root.join(&escape)).len(), 1, "/up -> ../../..");
        // /data/<escape> is in the bind mount of `host`: it was created there.
        assert_eq!(mounts_at(&root.join("etc").join(&escape)).len(), 1);
        assert!(host.join(&escape).is_dir());
        // And nothing happened to the host's paths.
        assert_eq!(mounts_at(Path::new("/etc")).len(), etc_before);
        assert_eq!(mounts_at(Path::new("/var")).len(), var_before);
        for path in escape_markers(dir) {
            assert!(!path.exists(), "{} exists", path.display());
        }
        let outside: Vec<_> = mountinfo()
            .into_iter()
            .filter(|m| m.fstype == "tmpfs" || m.source.contains("volumes"))
            .filter(|m| m.point.to_string_lossy().contains("skiff-escape"))
            .filter(|m| !m.point.starts_with(&root))
            .collect();
        assert!(outside.is_empty(), "mounts outside the root: {outside:?}");
    });
}

#[test]
fn a_symlink_to_the_root_itself_stays_the_root() {
    in_mount_namespace("a_symlink_to_the_root_itself_stays_the_root", |dir| {
        let root = make_root(dir, "root");
        symlink("../../..", root.join("up")).unwrap();
        let store = VolumeStore::new(&dir.join("state"));
        let host_root_before = mounts_at(Path::new("/")).len();
        mount_specs(&store, &root, &["--tmpfs /up"]);
        // `..` stops at the container's root: the mount covers the root.
        let at_root = mounts_at(&root);
        assert_eq!(at_root.len(), 1);
        assert_eq!(at_root[0].fstype, "tmpfs");
        assert_eq!(mounts_at(Path::new("/")).len(), host_root_before);
    });
}

#[test]
fn dangling_symlinks_are_created_inside_the_root() {
    in_mount_namespace("dangling_symlinks_are_created_inside_the_root", |dir| {
        let root = make_root(dir, "root");
        let missing = marker_name(dir, "skiff-missing");
        // The image's /data points to a directory it does not ship.
        symlink(format!("/{missing}/data"), root.join("data")).unwrap();
        let store = VolumeStore::new(&dir.join("state"));
        mount_specs(&store, &root, &["vol:/data"]);
        let landed = root.join(&missing).join("data");
        assert_eq!(mounts_at(&landed).len(), 1);
        assert!(!Path::new("/").join(&missing).exists());

        // A loop of symlinks is refused, not followed forever.
        symlink("/loop-b", root.join("loop-a")).unwrap();
        symlink("/loop-a", root.join("loop-b")).unwrap();
        let mount = parse_volume("vol:/loop-a").unwrap();
        let source = store.resolve(&mount).unwrap();
        let err = mount_volumes(&root, &[(mount, source)]).unwrap_err();
        assert!(err.to_string().contains("too many symlinks"), "{err}");
    });
}

#[test]
fn mounts_are_made_shallowest_first() {
    in_mount_namespace("mounts_are_made_shallowest_first", |dir| {
        let root = make_root(dir, "root");
        let store = VolumeStore::new(&dir.join("state"));
        // Given deepest first, /data/cache must still end up visible.
        mount_specs(&store, &root, &["--tmpfs /data/cache", "outer:/data"]);
        let cache = mounts_at(&root.join("data/cache"));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache[0].fstype, "tmpfs");
        // The directory for the inner mount was created in the volume.
        assert!(store.path("outer").unwrap().join("cache").is_dir());
    });
}
