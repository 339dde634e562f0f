//! A query string with repeated keys, as docker's clients send them:
//! `/build?t=app:1&t=app:latest`, `/images/get?names=a&names=b`,
//! `/commit?changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1`.
//!
//! axum's `Query` keeps one value per key; these endpoints need them all.

/// The decoded `key=value` pairs of a query, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Parses a raw query (without the `?`); `+` is a space, `%XX` a byte.
    ///
    /// ```
    /// use skiff::api::query::QueryPairs;
    /// let q = QueryPairs::parse(Some("t=a%3A1&t=b&q=1&labels=%7B%7D&x"));
    /// assert_eq!(q.all("t"), ["a:1", "b"]);
    /// assert!(q.flag("q") && !q.flag("x"));
    /// assert_eq!(q.get("labels"), Some("{}"));
    /// ```
    pub fn parse(query: Option<&str>) -> QueryPairs {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (key, value) = part.split_once('=').unwrap_or((part, ""));
                (decode(key), decode(value))
            })
            .collect();
        QueryPairs(pairs)
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, when not empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `key` is true as docker's API reads booleans ([`bool_value`]).
    pub fn flag(&self, key: &str) -> bool {
        bool_value(self.get(key))
    }
}

/// A boolean of a query as dockerd reads it (its `httputils.BoolValue`):
/// false when absent, empty, `0`, `no`, `false` or `none` in any case,
/// true otherwise. Clients spell it every way: docker-py sends Python's
/// `False`, the docker CLI `0` and `1`.
///
/// ```
/// use skiff::api::query::bool_value;
/// assert!(bool_value(Some("1")) && bool_value(Some("True")) && bool_value(Some("yes")));
/// assert!(!bool_value(Some("False")) && !bool_value(Some("0")) && !bool_value(None));
/// ```
pub fn bool_value(value: Option<&str>) -> bool {
    let value = value.unwrap_or_default().trim().to_ascii_lowercase();
    !matches!(value.as_str(), "" | "0" | "no" | "false" | "none")
}

/// [`bool_value`] of an optional query field.
pub fn query_flag(value: &Option<String>) -> bool {
    bool_value(value.as_deref())
}

/// [`bool_value`], with `default` when the key is absent (dockerd's
/// `BoolValueOrDefault`).
pub fn bool_value_or(value: Option<&str>, default: bool) -> bool {
    value.map_or(default, |v| bool_value(Some(v)))
}

/// `%XX` escapes and `+` decoded; invalid UTF-8 replaced.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_broken_ones_stay() {
        assert_eq!(decode("CMD+%5B%22sh%22%5D"), "CMD [\"sh\"]");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("a%zzb"), "a%zzb");
        assert_eq!(decode("%é"), "%é");
        assert_eq!(decode("%e2%9c%93"), "✓");
    }
}
