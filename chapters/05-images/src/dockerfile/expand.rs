//! Variable substitution: what `$VERSION` means in a Dockerfile.
//!
//! The builder, not a shell, replaces variables in the arguments of ADD,
//! COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and
//! ARG (Docker's reference, "Environment replacement"). RUN, CMD and
//! ENTRYPOINT are *not* substituted: in the shell form the shell does it
//! when the command runs, and the exec form has no shell at all.
//!
//! The rules are a small part of the POSIX shell's, applied to one word:
//!
//! | text | gives |
//! |---|---|
//! | `$NAME`, `${NAME}` | the value, or nothing when unset |
//! | `${NAME:-word}` | the value if set and not empty, else `word` |
//! | `${NAME-word}` | the value if set (even empty), else `word` |
//! | `${NAME:+word}` | `word` if set and not empty, else nothing |
//! | `${NAME+word}` | `word` if set, else nothing |
//! | `${NAME:?msg}`, `${NAME?msg}` | the value, or an error with `msg` |
//! | `'...'` | the text as it is: no substitution, quotes removed |
//! | `"..."` | substitution inside; `\"`, `\$` and `\\` escape, quotes removed |
//! | `\$`, `\x` | a literal `$`, a literal `x` (the escape character is `\` or `` ` ``) |
//!
//! `word` may itself hold variables and quotes. A `$` followed by nothing
//! that can start a name is a literal `$`. The pattern forms (`${V#p}`,
//! `${V%p}`, `${V/p/r}`) exist only in BuildKit's pre-release syntax and
//! are refused with an error that says so.

/// Why a substitution failed, and the byte offset in the word where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError {
    pub offset: usize,
    pub reason: String,
}

/// Where variables get their values. `None` means unset (which is not the
/// same as set to the empty string, for `${V-word}` and `${V+word}`).
pub trait Variables {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Variables for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// No variables at all: for checking a word's syntax at parse time.
pub fn none(_: &str) -> Option<String> {
    None
}

// ANCHOR: expand
/// Substitutes variables in one word and removes its quotes and escapes.
pub fn expand(word: &str, escape: char, vars: &dyn Variables) -> Result<String, ExpandError> {
    let mut lexer = Lexer {
        chars: word.char_indices().collect(),
        end: word.len(),
        pos: 0,
        escape,
        vars,
    };
    lexer.until(None)
}
// ANCHOR_END: expand

struct Lexer<'a> {
    chars: Vec<(usize, char)>,
    end: usize,
    pos: usize,
    escape: char,
    vars: &'a dyn Variables,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|(_, c)| *c)
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn offset(&self) -> usize {
        self.chars.get(self.pos).map_or(self.end, |(i, _)| *i)
    }

    fn fail(offset: usize, reason: impl Into<String>) -> ExpandError {
        ExpandError {
            offset,
            reason: reason.into(),
        }
    }

    /// Reads up to `stop` (consumed) or, without one, to the end.
    fn until(&mut self, stop: Option<char>) -> Result<String, ExpandError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok(out);
            }
            match c {
                '\'' => out += &self.single_quoted()?,
                '"' => out += &self.double_quoted()?,
                '$' => out += &self.dollar()?,
                c if c == self.escape => {
                    self.next();
                    // The escape takes the next character literally; at the
                    // very end of the word it is dropped.
                    if let Some(next) = self.next() {
                        out.push(next);
                    }
                }
                c => {
                    self.next();
                    out.push(c);
                }
            }
        }
        match stop {
            None => Ok(out),
            Some(_) => Err(Self::fail(self.end, "missing '}'")),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        let start = self.offset();
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(Self::fail(
                        start,
                        "unterminated single quote: close it with '",
                    ));
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, ExpandError> {
        let start = self.offset();
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(Self::fail(
                        start,
                        "unterminated double quote: close it with \"",
                    ));
                }
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out += &self.dollar()?,
                Some(c) => {
                    self.next();
                    // Inside double quotes the escape character only escapes
                    // `"`, `$` and itself; before anything else it stays.
                    if c == self.escape
                        && let Some(next @ ('"' | '$')) = self.peek()
                    {
                        self.next();
                        out.push(next);
                    } else if c == self.escape && self.peek() == Some(self.escape) {
                        self.next();
                        out.push(c);
                    } else if c == self.escape && self.peek().is_none() {
                        // dropped at the end
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    /// A variable name: letters, digits and `_`; or all digits (`$1`); or
    /// one of the shell's special parameters (`$@`, `$#`, ...), which are
    /// never set in a Dockerfile.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(c);
                }
                return name;
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.next();
                return c.to_string();
            }
            _ => {}
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            self.next();
            name.push(c);
        }
        name
    }

    // ANCHOR: dollar
    fn dollar(&mut self) -> Result<String, ExpandError> {
        let start = self.offset();
        self.next(); // the $
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.vars.get(&name).unwrap_or_default());
        }
        self.next(); // the {
        match self.peek() {
            None => return Err(Self::fail(start, "missing '}'")),
            Some('{' | '}' | ':') => {
                return Err(Self::fail(
                    start,
                    "bad substitution: ${ must be followed by a variable name",
                ));
            }
            _ => {}
        }
        let name = self.name();
        let value = self.vars.get(&name);
        let modifier = match self.next() {
            None => return Err(Self::fail(start, "missing '}'")),
            Some('}') => return Ok(value.unwrap_or_default()),
            Some(':') => match self.next() {
                Some(m @ ('-' | '+' | '?')) => (m, true),
                other => return Err(unsupported(start, &format!(":{}", other.unwrap_or(' ')))),
            },
            Some(m @ ('-' | '+' | '?')) => (m, false),
            Some(other) => return Err(unsupported(start, &other.to_string())),
        };
        let word = self.until(Some('}')).map_err(|mut e| {
            e.offset = start;
            e
        })?;
        // With the colon, an empty value counts as unset.
        let set = match (&value, modifier.1) {
            (None, _) => false,
            (Some(v), true) => !v.is_empty(),
            (Some(_), false) => true,
        };
        match modifier.0 {
            '-' if set => Ok(value.unwrap_or_default()),
            '-' => Ok(word),
            '+' if set => Ok(word),
            '+' => Ok(String::new()),
            _ if set => Ok(value.unwrap_or_default()),
            _ => {
                let message = match (word.is_empty(), value.is_none()) {
                    (false, _) => word,
                    (true, true) => "is not allowed to be unset".into(),
                    (true, false) => "is not allowed to be empty".into(),
                };
                Err(Self::fail(start, format!("{name}: {message}")))
            }
        }
    }
    // ANCHOR_END: dollar
}

fn unsupported(offset: usize, modifier: &str) -> ExpandError {
    let pre_release = matches!(modifier, "#" | "%" | "/");
    let reason = if pre_release {
        format!(
            "the pattern modifier {modifier:?} exists only in BuildKit's pre-release syntax; \
             use ${{NAME:-word}}, ${{NAME-word}}, ${{NAME:+word}}, ${{NAME+word}} or ${{NAME:?message}}"
        )
    } else {
        format!(
            "unsupported modifier {:?}: use ${{NAME:-word}}, ${{NAME-word}}, ${{NAME:+word}}, \
             ${{NAME+word}} or ${{NAME:?message}}",
            modifier.trim()
        )
    };
    Lexer::fail(offset, reason)
}
