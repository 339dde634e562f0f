//! Text as Go's `fmt` writes it, for `created_by` lines that read like
//! docker's: docker's classic builder writes `CMD ["sh" "-c" "x"]` (Go's
//! `%q` of a string slice) and `VOLUME [/data]` (`%v`) into the history.

/// Go's `strconv.Quote`: double quotes, `\"`, `\\` and escapes for
/// control characters.
pub fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a `[]string`: `["a" "b c"]`.
pub fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `%v` of a `[]string`: `[a b c]`.
pub fn plain_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Go's `%q` of an integer: the character with that code, single-quoted
/// (`'\x03'` for 3). Docker's history shows HEALTHCHECK retries this way.
pub fn quote_rune(n: i64) -> String {
    match u32::try_from(n).ok().and_then(char::from_u32) {
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some(c) if (' '..='~').contains(&c) => format!("'{c}'"),
        Some(c) if (c as u32) < 0x80 => format!("'\\x{:02x}'", c as u32),
        Some(c) if !c.is_control() => format!("'{c}'"),
        _ => format!("'\\u{:04x}'", n),
    }
}
