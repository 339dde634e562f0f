//! Digests: the names that make content trustworthy.
//!
//! Everything a registry serves (manifests, image configs, compressed
//! layers) is named by a *digest*: the name of a hash algorithm, a colon and
//! the hash of the exact bytes, for example
//! `sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b`.
//! The OCI image spec ("Descriptors", section "Digests") defines this
//! `algorithm:encoded` form; for `sha256` the encoded part is exactly 64
//! lowercase hexadecimal digits. `sha512` is registered too, but registries
//! and engines use `sha256` in practice, so it is the only one this chapter
//! accepts.
//!
//! A digest turns the registry into an untrusted mirror: whoever hands us
//! the bytes, we hash them ourselves and compare. The spec asks the client
//! to verify content against the digest *and* the size in the descriptor
//! before using it. This module does that while the bytes stream past, with
//! [`VerifyingWriter`] (downloads into a file) and [`VerifyingReader`]
//! (a layer streamed straight into the extractor), so a multi-gigabyte
//! layer is never held in memory and never hashed in a second pass.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// Errors about digests: malformed text, or content that does not match.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The text is not `algorithm:hex`.
    #[error(
        "invalid digest {text:?}: {reason}; a digest looks like sha256:<64 lowercase hex digits>"
    )]
    Malformed {
        /// The text that was parsed.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A well-formed digest with an algorithm this engine does not implement.
    #[error("unsupported digest algorithm {algorithm:?} in {text:?}: only sha256 is supported")]
    Unsupported {
        /// The text that was parsed.
        text: String,
        /// The algorithm it names.
        algorithm: String,
    },
    /// The content hashes to something else: a flipped bit, a truncated or
    /// padded download, or a registry serving the wrong blob.
    #[error(
        "content does not match its digest: expected {expected}, got {actual}; \
         the data is corrupt or was tampered with, download it again"
    )]
    Mismatch {
        /// The digest the content was supposed to have.
        expected: Digest,
        /// The digest of the bytes actually seen.
        actual: Digest,
    },
    /// The content has another length than its descriptor says.
    #[error(
        "content size does not match: expected {expected} bytes, got {actual}; \
         the download was cut short or padded, download it again"
    )]
    SizeMismatch {
        /// The size from the descriptor.
        expected: u64,
        /// The number of bytes actually seen.
        actual: u64,
    },
    /// Reading or flushing the stream failed while verifying it.
    #[error("cannot finish reading or writing the verified stream: {0}")]
    Io(#[from] io::Error),
}

// ANCHOR: digest
/// A content digest, `sha256:<64 lowercase hex digits>`.
///
/// The fields are private so that every `Digest` in the program is valid:
/// the hex part is used as a file name in the store, and a digest such as
/// `sha256:../../etc` must be impossible to construct.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: String,
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex digits>`.
    ///
    /// Uppercase hex is refused: the spec's grammar for sha256 allows only
    /// `[a-f0-9]`, and two spellings of one digest would make two store
    /// entries for one blob.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let malformed = |reason| DigestError::Malformed {
            text: text.to_string(),
            reason,
        };
        let (algorithm, hex) = text
            .split_once(':')
            .ok_or_else(|| malformed("no ':' between algorithm and hex"))?;
        // The spec's algorithm grammar: [a-z0-9]+ joined by '+', '.', '_' or '-'.
        let algorithm_ok = !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        if !algorithm_ok {
            return Err(malformed(
                "the algorithm must be lowercase letters and digits",
            ));
        }
        if algorithm != "sha256" {
            return Err(DigestError::Unsupported {
                text: text.to_string(),
                algorithm: algorithm.to_string(),
            });
        }
        if hex.len() != 64 {
            return Err(malformed("a sha256 digest has exactly 64 hex digits"));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(malformed("the hex part must be lowercase 0-9 and a-f"));
        }
        Ok(Digest {
            algorithm: algorithm.to_string(),
            hex: hex.to_string(),
        })
    }

    /// The digest of a finished sha256 hash.
    pub fn from_sha256(hash: [u8; 32]) -> Digest {
        Digest {
            algorithm: "sha256".to_string(),
            hex: hex::encode(hash),
        }
    }

    /// The algorithm, always `sha256` in this engine.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The 64 lowercase hex digits: safe to use as a file name.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// A short form for humans, docker style: `sha256:` and the first 12 hex
    /// digits, followed by an ellipsis (`sha256:6c3c624b58db…`).
    pub fn short(&self) -> String {
        format!("{}:{}…", self.algorithm, &self.hex[..12])
    }
}
// ANCHOR_END: digest

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(s: String) -> Result<Digest, DigestError> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

// In JSON (manifests, configs, our image records) a digest is the plain
// string "sha256:...", validated on the way in.
impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(d)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The sha256 digest of a byte slice.
pub fn sha256_of(bytes: &[u8]) -> Digest {
    Digest::from_sha256(Sha256::digest(bytes).into())
}

// ANCHOR: verifying_writer
/// Compares what was seen with what the descriptor promised.
///
/// The size is checked first when it is known: "expected 1234 bytes, got
/// 1000" says more about a cut-off download than two unrelated hashes do.
fn check(
    expected: &Digest,
    expected_size: Option<u64>,
    hasher: Sha256,
    count: u64,
) -> Result<(), DigestError> {
    // SOLUTION START: ch05-verify compare what was seen with what the descriptor promised: the size first when it is known, then the sha256 of the bytes against the expected digest (book: Images > What and why > What an image is)
    if let Some(size) = expected_size
        && size != count
    {
        return Err(DigestError::SizeMismatch {
            expected: size,
            actual: count,
        });
    }
    let actual = Digest::from_sha256(hasher.finalize().into());
    if &actual != expected {
        return Err(DigestError::Mismatch {
            expected: expected.clone(),
            actual,
        });
    }
    Ok(())
    // SOLUTION END
}

/// A writer that hashes and counts every byte on its way to `inner`.
///
/// Downloads are copied through it into a temporary file; only when
/// [`finish`](VerifyingWriter::finish) says the bytes match the digest does
/// the caller move the file to where others will find it.
pub struct VerifyingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> VerifyingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        VerifyingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// How many bytes went through so far.
    pub fn bytes_written(&self) -> u64 {
        self.count
    }

    /// Flushes, then checks the size (when known) and the digest of
    /// everything written. Gives back the inner writer only when both match.
    pub fn finish(
        mut self,
        expected: &Digest,
        expected_size: Option<u64>,
    ) -> Result<W, DigestError> {
        self.inner.flush()?;
        check(expected, expected_size, self.hasher, self.count)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for VerifyingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash only what the inner writer accepted: a short write must not
        // hash bytes that the caller will hand us again.
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
// ANCHOR_END: verifying_writer

// ANCHOR: verifying_reader
/// A reader that hashes and counts every byte read through it.
///
/// A layer can be decompressed and unpacked straight from the network
/// through it; [`finish`](VerifyingReader::finish) then says whether what
/// was unpacked was the layer the manifest named. (Whoever unpacks this way
/// must unpack into a temporary place and throw it away on a mismatch.)
pub struct VerifyingReader<R: Read> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> VerifyingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        VerifyingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// How many bytes were read so far.
    pub fn bytes_read(&self) -> u64 {
        self.count
    }

    /// Reads what the consumer left unread, then checks size and digest.
    ///
    /// Consumers often stop early: a tar reader stops at the end-of-archive
    /// marker, a gzip decoder at the end of its stream, and the blob may have
    /// padding after both. Those bytes are part of the blob and of its
    /// digest, so they are read here. When the size is known, at most one
    /// byte more than it is read: a blob that goes on and on is reported as
    /// too long instead of being read forever.
    pub fn finish(
        mut self,
        expected: &Digest,
        expected_size: Option<u64>,
    ) -> Result<R, DigestError> {
        let mut sink = io::sink();
        match expected_size {
            Some(size) => {
                let left = (size + 1).saturating_sub(self.count);
                io::copy(&mut (&mut self).take(left), &mut sink)?;
            }
            None => {
                io::copy(&mut self, &mut sink)?;
            }
        }
        check(expected, expected_size, self.hasher, self.count)?;
        Ok(self.inner)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}
// ANCHOR_END: verifying_reader

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sha256() {
        assert_eq!(
            sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
