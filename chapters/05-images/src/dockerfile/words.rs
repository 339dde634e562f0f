//! Cutting an instruction's arguments into pieces, the ways docker does.
//!
//! Instructions read their arguments in one of a few ways (docker's parser
//! has one function for each, and every instruction picks one):
//!
//! - **flags** first: `--name=value` or `--name`, until the first word
//!   that does not start with `--` ([`flags`]);
//! - **JSON form**: `["a", "b"]`, a JSON array of strings ([`json_array`]);
//!   text that starts with `[` but is not such an array is the shell form;
//! - **whitespace words**: FROM, EXPOSE, COPY's shell form ([`whitespace_words`]);
//! - **shell-like words**: ENV, LABEL and ARG split on blanks *outside
//!   quotes*, quotes and escapes kept for the variable expansion that comes
//!   later ([`quoted_words`]);
//! - the **whole rest** of the line: USER, WORKDIR, RUN's shell form.
//!
//! Every piece keeps its byte offset, for error positions.

/// A piece of text and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub offset: usize,
}

/// The flags at the start of `text` and the offset where the rest begins.
///
/// A flag word ends at a blank outside quotes; quotes are removed and a
/// backslash takes the next character literally (as docker's flag reader
/// does). `--` alone ends the flags.
pub fn flags(text: &str) -> (Vec<Piece>, usize) {
    let bytes = text.as_bytes();
    let mut flags = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if !text[pos..].starts_with("--") {
            return (flags, pos);
        }
        let start = pos;
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut chars = text[pos..].char_indices().peekable();
        let mut end = text.len();
        while let Some((i, c)) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => {
                    end = pos + i;
                    break;
                }
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some('\''), c) => word.push(c),
                (_, '\\') => {
                    if let Some((_, next)) = chars.next() {
                        word.push(next);
                    }
                }
                (_, c) => word.push(c),
            }
        }
        pos = end;
        if word == "--" {
            while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            return (flags, pos);
        }
        flags.push(Piece {
            text: word,
            offset: start,
        });
    }
}

/// The strings of a JSON array of strings, or `None` when `text` is not one.
pub fn json_array(text: &str) -> Option<Vec<String>> {
    if !text.starts_with('[') {
        return None;
    }
    let values: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Words separated by blanks, nothing else interpreted.
pub fn whitespace_words(text: &str) -> Vec<Piece> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push(Piece {
                    text: text[s..i].to_string(),
                    offset: s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push(Piece {
            text: text[s..].to_string(),
            offset: s,
        });
    }
    words
}

// ANCHOR: quoted_words
/// Words separated by blanks outside quotes, the quotes and escapes kept
/// (the variable expansion removes them later).
///
/// `A="x y" B=z\ w` gives `A="x y"` and `B=z\ w`. The escape character
/// takes the next character along, even a quote or a blank; inside single
/// quotes it is an ordinary character.
pub fn quoted_words(text: &str, escape: char) -> Vec<Piece> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if quote.is_none() && c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push(Piece {
                    text: std::mem::take(&mut word),
                    offset: s,
                });
            }
            continue;
        }
        start.get_or_insert(i);
        if c == escape && quote != Some('\'') {
            word.push(c);
            match chars.next() {
                Some((_, next)) => word.push(next),
                None => {
                    word.pop(); // an escape at the very end is dropped
                }
            }
            continue;
        }
        match quote {
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ => {}
        }
        word.push(c);
    }
    if let Some(s) = start {
        words.push(Piece {
            text: word,
            offset: s,
        });
    }
    words
}
// ANCHOR_END: quoted_words

/// Whether `word` opens a heredoc (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`).
pub fn is_heredoc(word: &str) -> bool {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let rest = rest.trim_matches(|c| c == '"' || c == '\'');
    rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The edit distance between two words (for "did you mean").
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}
