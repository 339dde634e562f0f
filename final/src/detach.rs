//! Detach keys: the sequence a user types on an attached terminal to leave
//! the container running and get the shell back (docker's `--detach-keys`,
//! ctrl-p ctrl-q by default).
//!
//! The sequence is watched in the bytes the client sends towards the
//! container's stdin. A byte that could begin the sequence is held back
//! until the next ones say whether the sequence goes on: if it does not, the
//! held bytes go to the container after all, so that a lone ctrl-p still
//! reaches a program that uses it (the shell's "previous line"); if it
//! does, nothing of it reaches the container and the attachment ends.

/// A sequence of keys that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid detach keys {0:?}: give a comma-separated list of keys, each a single character or ctrl-<value> (a-z, @, [, \\, ], ^ or _), e.g. ctrl-p,ctrl-q"
)]
pub struct DetachKeysError(pub String);

/// docker's default: ctrl-p ctrl-q.
pub const DEFAULT: [u8; 2] = [0x10, 0x11];

// ANCHOR: parse
/// Reads a detach-keys setting: `ctrl-p,ctrl-q`, `ctrl-x,x`, `ctrl-@`...;
/// empty means the default. A control key is its letter's code with the
/// two high bits of the 7-bit code cleared: ctrl-a is 1, ctrl-z 26, and
/// the five after `z` in ASCII order of `@`..`_` follow (ctrl-@ is 0,
/// ctrl-[ is 27, the escape key, up to ctrl-_ at 31).
pub fn parse(text: &str) -> Result<Vec<u8>, DetachKeysError> {
    if text.is_empty() {
        return Ok(DEFAULT.to_vec());
    }
    let bad = || DetachKeysError(text.to_string());
    text.split(',')
        .map(|key| {
            let key = key.trim();
            if let Some(value) = key.strip_prefix("ctrl-") {
                let [c] = value.as_bytes() else {
                    return Err(bad());
                };
                match c.to_ascii_uppercase() {
                    c @ b'@'..=b'_' => Ok(c & 0x1f),
                    _ => Err(bad()),
                }
            } else {
                match key.as_bytes() {
                    [c] if c.is_ascii() && !c.is_ascii_control() => Ok(*c),
                    _ => Err(bad()),
                }
            }
        })
        .collect()
}
// ANCHOR_END: parse

// ANCHOR: watcher
/// Watches a stream of input bytes for the detach sequence.
#[derive(Debug, Clone)]
pub struct Watcher {
    keys: Vec<u8>,
    /// How many keys of the sequence the last bytes matched.
    matched: usize,
}

/// What to do with a piece of input.
#[derive(Debug, PartialEq, Eq)]
pub struct Fed {
    /// The bytes to pass on to the container now.
    pub pass: Vec<u8>,
    /// Whether the sequence was typed: detach.
    pub detach: bool,
}

impl Watcher {
    /// A watcher of `keys` (from [`parse`]; never empty).
    pub fn new(keys: Vec<u8>) -> Watcher {
        assert!(!keys.is_empty(), "a detach sequence has at least one key");
        Watcher { keys, matched: 0 }
    }

    /// Takes the next bytes of input.
    pub fn feed(&mut self, data: &[u8]) -> Fed {
        let mut pass = Vec::with_capacity(data.len());
        for &byte in data {
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return Fed { pass, detach: true };
                }
                continue;
            }
            // The sequence broke: what was held back was input after all.
            pass.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return Fed { pass, detach: true };
                }
            } else {
                pass.push(byte);
            }
        }
        Fed {
            pass,
            detach: false,
        }
    }
}
// ANCHOR_END: watcher

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_docker_reads_them() {
        assert_eq!(parse("").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-x,x").unwrap(), [0x18, b'x']);
        assert_eq!(
            parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse("ctrl-A").unwrap(), [1]);
        for bad in ["ctrl-", "ctrl-ab", "ctrl-1", "ab", "ctrl-p,,", "é"] {
            assert_eq!(parse(bad), Err(DetachKeysError(bad.to_string())), "{bad}");
        }
    }

    #[test]
    fn the_sequence_detaches_and_is_not_passed_on() {
        let mut w = Watcher::new(DEFAULT.to_vec());
        let fed = w.feed(b"ls\x10\x11rest");
        assert_eq!(
            fed,
            Fed {
                pass: b"ls".to_vec(),
                detach: true
            }
        );
    }

    #[test]
    fn a_sequence_split_across_reads_detaches() {
        let mut w = Watcher::new(DEFAULT.to_vec());
        assert_eq!(
            w.feed(b"a\x10"),
            Fed {
                pass: b"a".to_vec(),
                detach: false
            }
        );
        assert_eq!(
            w.feed(b"\x11"),
            Fed {
                pass: Vec::new(),
                detach: true
            }
        );
    }

    #[test]
    fn a_broken_sequence_passes_its_bytes_on() {
        let mut w = Watcher::new(DEFAULT.to_vec());
        assert_eq!(
            w.feed(b"\x10"),
            Fed {
                pass: Vec::new(),
                detach: false
            }
        );
        assert_eq!(
            w.feed(b"x"),
            Fed {
                pass: b"\x10x".to_vec(),
                detach: false
            }
        );
        // ctrl-p ctrl-p ctrl-q: the first ctrl-p is input, the rest detaches.
        let mut w = Watcher::new(DEFAULT.to_vec());
        assert_eq!(
            w.feed(b"\x10\x10\x11"),
            Fed {
                pass: b"\x10".to_vec(),
                detach: true
            }
        );
    }

    #[test]
    fn a_single_key_detaches_at_once() {
        let mut w = Watcher::new(parse("ctrl-x").unwrap());
        assert_eq!(
            w.feed(b"ab\x18cd"),
            Fed {
                pass: b"ab".to_vec(),
                detach: true
            }
        );
    }
}
