//! Base64, as docker's headers carry JSON: `X-Registry-Auth` (URL-safe,
//! maybe unpadded) and `X-Docker-Container-Path-Stat` (standard, padded).
//!
//! Every 3 bytes become 4 characters of 6 bits each, from the alphabet
//! `A-Z a-z 0-9 + /` (or `- _` in the URL-safe variant); `=` pads the last
//! group to 4 characters.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
///
/// ```
/// assert_eq!(skiff::base64::encode(b"hi!"), "aGkh");
/// assert_eq!(skiff::base64::encode(b"hi"), "aGk=");
/// ```
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let value = group
            .iter()
            .enumerate()
            .fold(0u32, |v, (i, b)| v | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(value >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard or URL-safe base64, padded or not; `None` for a
/// character outside both alphabets.
///
/// ```
/// assert_eq!(skiff::base64::decode("aGk=").unwrap(), b"hi");
/// assert_eq!(skiff::base64::decode("aGk").unwrap(), b"hi");
/// assert!(skiff::base64::decode("a*").is_none());
/// ```
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut value = 0u32;
    let mut bits = 0;
    let mut out = Vec::new();
    for byte in text.trim().bytes() {
        let digit = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        value = (value << 6) | u32::from(digit);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_back() {
        for text in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "{\"name\":\"hostname\",\"size\":13}",
        ] {
            assert_eq!(decode(&encode(text.as_bytes())).unwrap(), text.as_bytes());
        }
        assert_eq!(encode(b"\xfb\xff"), "+/8=");
        assert_eq!(decode("-_8").unwrap(), b"\xfb\xff");
    }
}
