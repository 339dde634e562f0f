//! Digests verified while streaming, and the content-addressed store.
//! None of this needs root: the store lives in a temporary directory.

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use ch05_images::digest::{Digest, DigestError, VerifyingReader, VerifyingWriter, sha256_of};
use ch05_images::reference::parse;
use ch05_images::store::{ImageRecord, Store, StoreError, chain_ids, record_file_name};
use sha2::{Digest as _, Sha256};

const DATA: &[u8] = b"a layer would be a gzip'd tar; any bytes will do for the store";

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

// ----- digests -----

#[test]
fn digest_parse_display_serde() {
    let text = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let d = Digest::parse(text).unwrap();
    assert_eq!(d, sha256_of(b""));
    assert_eq!(d.to_string(), text);
    assert_eq!(d.algorithm(), "sha256");
    assert_eq!(d.hex(), &text[7..]);
    assert_eq!(d.short(), "sha256:e3b0c44298fc…");
    assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{text}\""));
    let back: Digest = serde_json::from_str(&format!("\"{text}\"")).unwrap();
    assert_eq!(back, d);
    assert!(serde_json::from_str::<Digest>("\"sha256:../../etc/passwd\"").is_err());

    for bad in [
        "",
        "sha256",
        "sha256:",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ] {
        let err = Digest::parse(bad).unwrap_err();
        assert!(
            matches!(err, DigestError::Malformed { .. }),
            "{bad:?}: {err}"
        );
    }
    let err = Digest::parse("sha512:abcd").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported digest algorithm \"sha512\" in \"sha512:abcd\": only sha256 is supported"
    );
}

fn write_through(
    data: &[u8],
    expected: &Digest,
    size: Option<u64>,
) -> Result<Vec<u8>, DigestError> {
    let mut w = VerifyingWriter::new(Vec::new());
    // Several writes, as a download arrives in chunks.
    for chunk in data.chunks(7) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.bytes_written(), data.len() as u64);
    w.finish(expected, size)
}

fn read_through(
    data: &[u8],
    consume: usize,
    expected: &Digest,
    size: Option<u64>,
) -> Result<(), DigestError> {
    let mut r = VerifyingReader::new(Cursor::new(data.to_vec()));
    let mut buf = vec![0; consume];
    r.read_exact(&mut buf).unwrap();
    r.finish(expected, size).map(|_| ())
}

#[test]
fn verifying_writer_and_reader() {
    let good = sha256_of(DATA);
    let size = DATA.len() as u64;
    let mut flipped = DATA.to_vec();
    flipped[10] ^= 0x01;
    let truncated = &DATA[..DATA.len() - 1];
    let mut extra = DATA.to_vec();
    extra.push(b'!');

    // The right bytes pass, with or without a size.
    assert_eq!(write_through(DATA, &good, Some(size)).unwrap(), DATA);
    assert_eq!(write_through(DATA, &good, None).unwrap(), DATA);
    // A flipped bit changes the digest, not the size.
    match write_through(&flipped, &good, Some(size)).unwrap_err() {
        DigestError::Mismatch { expected, actual } => {
            assert_eq!(expected, good);
            assert_eq!(actual, sha256_of(&flipped));
        }
        other => panic!("{other}"),
    }
    // Truncated or padded: the size says so when it is known ...
    assert!(matches!(
        write_through(truncated, &good, Some(size)).unwrap_err(),
        DigestError::SizeMismatch { expected, actual } if expected == size && actual == size - 1
    ));
    assert!(matches!(
        write_through(&extra, &good, Some(size)).unwrap_err(),
        DigestError::SizeMismatch { actual, .. } if actual == size + 1
    ));
    // ... and the digest when it is not.
    assert!(matches!(
        write_through(truncated, &good, None).unwrap_err(),
        DigestError::Mismatch { .. }
    ));
    assert!(matches!(
        write_through(&extra, &good, None).unwrap_err(),
        DigestError::Mismatch { .. }
    ));
    // The right bytes with a wrong descriptor size are refused too.
    assert!(matches!(
        write_through(DATA, &good, Some(size + 5)).unwrap_err(),
        DigestError::SizeMismatch { .. }
    ));

    // The reader checks the same things, and reads what its consumer left.
    read_through(DATA, 5, &good, Some(size)).unwrap();
    read_through(DATA, 0, &good, None).unwrap();
    read_through(DATA, DATA.len(), &good, Some(size)).unwrap();
    assert!(matches!(
        read_through(&flipped, 5, &good, Some(size)),
        Err(DigestError::Mismatch { .. })
    ));
    assert!(matches!(
        read_through(truncated, 5, &good, Some(size)),
        Err(DigestError::SizeMismatch { .. })
    ));
    assert!(matches!(
        read_through(&extra, 5, &good, Some(size)),
        Err(DigestError::SizeMismatch { .. })
    ));
    assert!(matches!(
        read_through(&extra, 5, &good, None),
        Err(DigestError::Mismatch { .. })
    ));

    let msg = write_through(&flipped, &good, None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("content does not match its digest: expected sha256:"),
        "{msg}"
    );
    assert!(!msg.ends_with('.'));
}

#[test]
fn verifying_reader_does_not_read_forever() {
    // An endless stream claimed to be 10 bytes: finish stops after 11.
    let endless = std::io::repeat(b'x');
    let r = VerifyingReader::new(endless);
    let err = r.finish(&sha256_of(b"xxxxxxxxxx"), Some(10)).unwrap_err();
    assert!(
        matches!(
            err,
            DigestError::SizeMismatch {
                expected: 10,
                actual: 11
            }
        ),
        "{err}"
    );
}

// ----- blobs -----

#[test]
fn put_and_read_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for sub in ["blobs/sha256", "layers", "images", "tmp"] {
        assert!(dir.path().join(sub).is_dir(), "{sub}");
    }
    let digest = sha256_of(DATA);
    assert!(!store.has_blob(&digest));
    let path = store
        .put_blob(&digest, Some(DATA.len() as u64), DATA)
        .unwrap();
    assert_eq!(path, dir.path().join("blobs/sha256").join(digest.hex()));
    assert!(store.has_blob(&digest));
    assert_eq!(fs::read(&path).unwrap(), DATA);
    assert_eq!(store.read_blob(&digest).unwrap(), DATA);
    assert!(
        entries(&dir.path().join("tmp")).is_empty(),
        "no temp file left"
    );

    // A second put does not read its input again.
    let mut poisoned = Cursor::new(b"not the blob".to_vec());
    store.put_blob(&digest, None, &mut poisoned).unwrap();
    assert_eq!(poisoned.position(), 0);

    // A blob damaged on disk is caught when read.
    fs::write(&path, b"bit rot").unwrap();
    let err = store.read_blob(&digest).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("delete it and pull the image again")
    );

    let missing = sha256_of(b"never stored");
    assert!(matches!(
        store.read_blob(&missing),
        Err(StoreError::MissingBlob(_))
    ));
}

#[test]
fn mismatched_blob_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let digest = sha256_of(DATA);
    let mut flipped = DATA.to_vec();
    flipped[0] ^= 0x80;
    let size = Some(DATA.len() as u64);
    let cases: [(&[u8], Option<u64>); 5] = [
        (&flipped, size),
        (&DATA[..20], size),
        (&DATA[..20], None),
        (&[DATA, b"more"].concat(), size),
        (DATA, Some(3)),
    ];
    for (bytes, size) in cases {
        let err = store.put_blob(&digest, size, bytes).unwrap_err();
        assert!(matches!(err, StoreError::Verify { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("blob {digest} was not stored: "))
        );
        assert!(!store.has_blob(&digest));
        assert!(entries(&dir.path().join("blobs/sha256")).is_empty());
        assert!(
            entries(&dir.path().join("tmp")).is_empty(),
            "temp file removed"
        );
    }
}

// ----- chain ids -----

#[test]
fn chain_ids_follow_the_oci_definition() {
    let d: Vec<Digest> = [&b"layer 0"[..], b"layer 1", b"layer 2"]
        .iter()
        .map(|b| sha256_of(b))
        .collect();
    // Computed here independently with sha2, from the spec's formula.
    let hash = |s: String| format!("sha256:{}", hex::encode(Sha256::digest(s.as_bytes())));
    let c0 = d[0].to_string();
    let c1 = hash(format!("{c0} {}", d[1]));
    let c2 = hash(format!("{c1} {}", d[2]));
    let got: Vec<String> = chain_ids(&d).iter().map(|c| c.to_string()).collect();
    assert_eq!(got, [c0, c1, c2]);
    assert_eq!(Store::chain_ids(&d), chain_ids(&d));
    assert!(chain_ids(&[]).is_empty());

    // A fixed vector, computed with coreutils:
    // printf '%s' "sha256:e3b0...b855 sha256:ca97...48bb" | sha256sum
    let fixed = chain_ids(&[sha256_of(b""), sha256_of(b"a")]);
    assert_eq!(fixed[0], sha256_of(b""));
    assert_eq!(
        fixed[1].to_string(),
        "sha256:54310b28337ccdbb5477f2808753d5b0e7c87d84187cee28a330a3e71f6c16fc"
    );
    // The same top layer on another base is another chain.
    let other = chain_ids(&[sha256_of(b"other base"), d[1].clone()]);
    assert_ne!(other[1], chain_ids(&d)[1]);
}

// ----- unpacked layers -----

#[test]
fn pending_layers_commit_or_vanish() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let chain = sha256_of(b"chain");

    // Dropped without commit: the temp dir goes away, nothing is committed.
    let pending = store.begin_layer(&chain).unwrap();
    let tmp = pending.path().to_path_buf();
    assert!(tmp.starts_with(dir.path().join("tmp")));
    fs::create_dir(tmp.join("bin")).unwrap();
    fs::write(tmp.join("bin/sh"), b"#!").unwrap();
    drop(pending);
    assert!(!tmp.exists());
    assert!(!store.has_layer(&chain));

    // Read-only directories (common in images) do not stop the cleanup.
    let pending = store.begin_layer(&chain).unwrap();
    let tmp = pending.path().to_path_buf();
    fs::create_dir(tmp.join("ro")).unwrap();
    fs::write(tmp.join("ro/file"), b"x").unwrap();
    fs::set_permissions(
        tmp.join("ro"),
        std::os::unix::fs::PermissionsExt::from_mode(0o555),
    )
    .unwrap();
    drop(pending);
    assert!(!tmp.exists());

    // Committed: it moves to layers/<chain hex>.
    let pending = store.begin_layer(&chain).unwrap();
    assert_eq!(pending.chain_id(), &chain);
    fs::write(pending.path().join("mine"), b"first").unwrap();
    let path = pending.commit().unwrap();
    assert_eq!(path, store.layer_path(&chain));
    assert_eq!(path, dir.path().join("layers").join(chain.hex()));
    assert!(store.has_layer(&chain));

    // A second process committing the same layer keeps the first one.
    let pending = store.begin_layer(&chain).unwrap();
    let tmp = pending.path().to_path_buf();
    fs::write(tmp.join("theirs"), b"second").unwrap();
    assert_eq!(pending.commit().unwrap(), path);
    assert!(path.join("mine").exists() && !path.join("theirs").exists());
    assert!(!tmp.exists());

    // Also when the committed layer is empty (rename would replace it).
    let empty = sha256_of(b"empty layer");
    store.begin_layer(&empty).unwrap().commit().unwrap();
    let pending = store.begin_layer(&empty).unwrap();
    fs::write(pending.path().join("late"), b"").unwrap();
    let path = pending.commit().unwrap();
    assert!(entries(&path).is_empty());
    assert!(entries(&dir.path().join("tmp")).is_empty());
}

#[test]
fn clean_tmp_removes_only_dead_writers_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tmp = dir.path().join("tmp");
    // A pull in this (live) process, and leftovers of dead ones.
    let live = store.begin_layer(&sha256_of(b"x")).unwrap();
    fs::write(tmp.join("2147483646-0-0-blob"), b"half a blob").unwrap();
    fs::create_dir_all(tmp.join("2147483646-1-0-layer/usr/bin")).unwrap();
    fs::write(tmp.join("junk"), b"").unwrap();
    assert_eq!(store.clean_tmp().unwrap(), 3);
    assert!(live.path().exists());
    // Opening the store cleans too.
    fs::write(tmp.join("2147483646-2-0-blob"), b"").unwrap();
    let _again = Store::open(dir.path()).unwrap();
    assert_eq!(entries(&tmp).len(), 1);
    drop(live);
    assert!(entries(&tmp).is_empty());
}

// ----- image records -----

fn record(store: &Store, reference: &str, layers: &[&[u8]], extra_blob: &[u8]) -> ImageRecord {
    let put = |bytes: &[u8]| {
        let d = sha256_of(bytes);
        store.put_blob(&d, Some(bytes.len() as u64), bytes).unwrap();
        d
    };
    let diff_ids: Vec<Digest> = layers.iter().map(|l| sha256_of(l)).collect();
    let chains = chain_ids(&diff_ids);
    for chain in &chains {
        if !store.has_layer(chain) {
            let pending = store.begin_layer(chain).unwrap();
            fs::write(pending.path().join("file"), chain.hex()).unwrap();
            pending.commit().unwrap();
        }
    }
    let blobs = layers
        .iter()
        .map(|l| put(&[b"gz:", *l].concat()))
        .chain([put(extra_blob)])
        .collect();
    ImageRecord {
        reference: parse(reference).unwrap().to_string(),
        manifest: put(format!("manifest of {reference}").as_bytes()),
        config: put(format!("config of {reference}").as_bytes()),
        layers: chains,
        blobs,
        created: 1_700_000_000,
    }
}

#[test]
fn image_records_are_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let busybox = parse("busybox").unwrap();
    assert_eq!(store.image(&busybox).unwrap(), None);
    assert!(store.images().unwrap().is_empty());

    let rec = record(&store, "busybox", &[b"base"], b"");
    let path = store.put_image(&rec).unwrap();
    assert_eq!(
        path,
        dir.path()
            .join("images/docker.io%2Flibrary%2Fbusybox%3Alatest.json")
    );
    assert_eq!(path, store.image_path(&busybox));
    assert_eq!(store.image(&busybox).unwrap().as_ref(), Some(&rec));
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["reference"], "docker.io/library/busybox:latest");
    assert_eq!(json["manifest"], rec.manifest.to_string());

    // Replacing a record leaves no temp file and no second record.
    let mut newer = rec.clone();
    newer.created += 60;
    store.put_image(&newer).unwrap();
    assert_eq!(store.image(&busybox).unwrap(), Some(newer.clone()));
    assert_eq!(entries(&dir.path().join("images")).len(), 1);
    assert!(entries(&dir.path().join("tmp")).is_empty());
    assert_eq!(store.images().unwrap(), vec![newer]);

    // A torn record (written by something else) is an error, not a panic.
    fs::write(dir.path().join("images/broken.json"), b"{\"reference\":").unwrap();
    let err = store.images().unwrap_err();
    assert!(
        err.to_string()
            .contains("delete it and pull the image again"),
        "{err}"
    );
}

#[test]
fn record_file_names_are_safe_and_distinct() {
    let names: Vec<String> = [
        "docker.io/library/busybox:latest",
        "docker.io/library/busybox:1.36",
        "localhost:5000/app@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "[::1]:5000/a/b:c",
        "docker.io/library/a_b:c",
        "docker.io/library/a/b:c",
    ]
    .iter()
    .map(|r| record_file_name(r))
    .collect();
    for name in &names {
        assert!(
            !name.contains('/') && name != "." && name != ".." && name.len() <= 200,
            "{name}"
        );
    }
    let unique: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    assert_eq!(names[3], "%5B%3A%3A1%5D%3A5000%2Fa%2Fb%3Ac");
    let long = format!("example.com/{}:{}", "a".repeat(240), "t".repeat(128));
    let name = record_file_name(&long);
    assert!(name.starts_with('=') && name.len() == 65, "{name}");
}

#[test]
fn tag_gives_a_second_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rec = record(&store, "localhost:5000/app:1.0", &[b"l0"], b"");
    store.put_image(&rec).unwrap();
    let src = parse("localhost:5000/app:1.0").unwrap();
    let dst = parse("myapp:stable").unwrap();
    let tagged = store.tag(&src, &dst).unwrap();
    assert_eq!(tagged.reference, "docker.io/library/myapp:stable");
    assert_eq!(
        (&tagged.manifest, &tagged.layers),
        (&rec.manifest, &rec.layers)
    );
    assert_eq!(store.image(&dst).unwrap(), Some(tagged));
    assert_eq!(store.images().unwrap().len(), 2);

    let err = store.tag(&parse("nothing").unwrap(), &dst).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no such image docker.io/library/nothing:latest: pull it first, or list the images that are here"
    );
}

#[test]
fn remove_image_keeps_what_others_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Two images on one base layer; they share its chain id and its blob.
    let a = record(&store, "app-a", &[b"base", b"a-top"], b"shared index");
    let b = record(&store, "app-b", &[b"base", b"b-top"], b"shared index");
    assert_eq!(a.layers[0], b.layers[0]);
    store.put_image(&a).unwrap();
    store.put_image(&b).unwrap();
    // app-a is also tagged app-a:v1: removing one name removes nothing else.
    let a_ref = parse("app-a").unwrap();
    let a_v1 = parse("app-a:v1").unwrap();
    store.tag(&a_ref, &a_v1).unwrap();
    assert_eq!(store.remove_image(&a_v1).unwrap(), Vec::<Digest>::new());
    for chain in a.layers.iter().chain(&b.layers) {
        assert!(store.has_layer(chain));
    }
    for blob in a.referenced_blobs().chain(b.referenced_blobs()) {
        assert!(store.has_blob(blob));
    }

    // Removing app-a removes its own top layer and blobs, keeps the shared ones.
    let removed = store.remove_image(&a_ref).unwrap();
    assert_eq!(removed, vec![a.layers[1].clone()]);
    assert!(store.image(&a_ref).unwrap().is_none());
    assert!(!store.has_layer(&a.layers[1]));
    assert!(store.has_layer(&b.layers[0]) && store.has_layer(&b.layers[1]));
    assert!(!store.has_blob(&a.manifest) && !store.has_blob(&a.config));
    assert!(!store.has_blob(&a.blobs[1]), "a's own compressed layer");
    assert!(
        store.has_blob(&a.blobs[0]),
        "the shared compressed base layer"
    );
    assert!(store.has_blob(&a.blobs[2]), "the shared index");
    for blob in b.referenced_blobs() {
        assert!(store.has_blob(blob));
    }

    // Removing the last image empties the store.
    let b_ref = parse("app-b").unwrap();
    let mut removed = store.remove_image(&b_ref).unwrap();
    removed.sort();
    let mut want = b.layers.clone();
    want.sort();
    assert_eq!(removed, want);
    assert!(entries(&dir.path().join("layers")).is_empty());
    assert!(entries(&dir.path().join("blobs/sha256")).is_empty());
    assert!(entries(&dir.path().join("images")).is_empty());
    assert!(entries(&dir.path().join("tmp")).is_empty());

    let err = store.remove_image(&b_ref).unwrap_err();
    assert!(matches!(err, StoreError::NoSuchImage(_)), "{err}");
}
