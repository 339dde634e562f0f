//! Splitting a command string into words, as docker compose does.
//!
//! `command: npm run dev -- --port 3000` is a string, but a container runs
//! an argv. Compose does not hand the string to a shell: it cuts it into
//! words with shell-like quoting rules (the rules of the Go package
//! go-shellwords) and runs those words directly:
//!
//! - blanks separate words; `'single quotes'` keep everything literally;
//!   `"double quotes"` keep blanks;
//! - a backslash escapes the next character, except inside single quotes
//!   (`\n` and `\t` become a newline and a tab);
//! - no variable expansion, no globbing, no pipes: `$HOME` stays `$HOME`.
//!
//! go-shellwords stops at the first unquoted `;`, `&`, `|`, `<` or `>` and
//! drops the rest, so with docker compose `command: make && make test` runs
//! `make` alone. skiff refuses such a command instead, and says how to get
//! what the user meant: `["sh", "-c", "make && make test"]`.

/// Why a command string cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    /// A quote or `$(` was opened and never closed, or the string ends in `\`.
    #[error("unterminated quote or escape in {0:?}")]
    Unterminated(String),
    /// A shell operator outside quotes.
    #[error(
        "{text:?} contains the shell operator {operator:?}, which is not run by a shell here: write the command as a list, e.g. [\"sh\", \"-c\", {text:?}]"
    )]
    Operator {
        /// The whole string.
        text: String,
        /// The operator.
        operator: char,
    },
    /// A parenthesis outside quotes and outside `$(...)`.
    #[error("unexpected parenthesis in {0:?}: quote it, or write the command as a list")]
    Parenthesis(String),
}

// ANCHOR: split
/// Splits `text` into words.
///
/// ```
/// use ch07_compose::words::split;
/// assert_eq!(split(r#"sh -c "echo 'hi there'" a\ b"#).unwrap(), ["sh", "-c", "echo 'hi there'", "a b"]);
/// assert!(split("make && make test").is_err());
/// ```
pub fn split(text: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let (mut single, mut double, mut escaped, mut backtick, mut dollar_paren) =
        (false, false, false, false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
            word.push(match c {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            in_word = true;
            continue;
        }
        match c {
            '\\' if !single => escaped = true,
            '\\' => word.push(c),
            ' ' | '\t' | '\r' | '\n' if !(single || double || backtick || dollar_paren) => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' if !(double || backtick || dollar_paren) => {
                single = !single;
                in_word = true;
            }
            '"' if !(single || backtick || dollar_paren) => {
                double = !double;
                in_word = true;
            }
            '`' if !(single || double || dollar_paren) => {
                backtick = !backtick;
                word.push(c);
                in_word = true;
            }
            '(' if !(single || double || backtick) => {
                if !dollar_paren && word.ends_with('$') {
                    dollar_paren = true;
                    word.push(c);
                } else {
                    return Err(WordsError::Parenthesis(text.to_string()));
                }
            }
            ')' if !(single || double || backtick) => {
                if !dollar_paren {
                    return Err(WordsError::Parenthesis(text.to_string()));
                }
                dollar_paren = false;
                word.push(c);
            }
            ';' | '&' | '|' | '<' | '>' if !(single || double || backtick || dollar_paren) => {
                return Err(WordsError::Operator {
                    text: text.to_string(),
                    operator: c,
                });
            }
            other => {
                word.push(other);
                in_word = true;
            }
        }
    }
    if escaped || single || double || backtick || dollar_paren {
        return Err(WordsError::Unterminated(text.to_string()));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}
// ANCHOR_END: split

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<String> {
        split(text).unwrap()
    }

    #[test]
    fn blanks_separate_words() {
        assert_eq!(
            ok("  redis-server   --appendonly yes "),
            ["redis-server", "--appendonly", "yes"]
        );
        assert!(ok("").is_empty());
        assert!(ok("   ").is_empty());
    }

    #[test]
    fn quotes_group_and_disappear() {
        assert_eq!(ok(r#"echo "a  b" 'c  d'"#), ["echo", "a  b", "c  d"]);
        assert_eq!(ok(r#"x"y"'z'"#), ["xyz"]);
        assert_eq!(
            ok(r#"echo "" ''"#),
            ["echo", "", ""],
            "empty quotes are empty words"
        );
        assert_eq!(
            ok(r#"echo "it's" 'say "hi"'"#),
            ["echo", "it's", "say \"hi\""]
        );
    }

    #[test]
    fn backslashes_escape_except_in_single_quotes() {
        assert_eq!(ok(r"a\ b"), ["a b"]);
        assert_eq!(ok(r#""a\"b""#), ["a\"b"]);
        assert_eq!(ok(r"'a\b'"), [r"a\b"]);
        assert_eq!(ok(r"printf x\ty\n"), ["printf", "x\ty\n"]);
    }

    #[test]
    fn variables_are_not_expanded() {
        assert_eq!(
            ok("echo $HOME ${USER} $(id -u)"),
            ["echo", "$HOME", "${USER}", "$(id -u)"]
        );
    }

    #[test]
    fn operators_are_refused_with_the_fix() {
        for (text, operator) in [
            ("make && make test", '&'),
            ("a; b", ';'),
            ("ls | wc", '|'),
            ("cat < x", '<'),
            ("echo hi > out", '>'),
        ] {
            let err = split(text).unwrap_err();
            assert_eq!(
                err,
                WordsError::Operator {
                    text: text.to_string(),
                    operator
                }
            );
            assert!(err.to_string().contains("[\"sh\", \"-c\""), "{err}");
        }
        assert_eq!(
            ok("sh -c 'make && make test'"),
            ["sh", "-c", "make && make test"]
        );
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        for text in [r#"echo "hi"#, "echo 'hi", r"echo \", "echo $(id"] {
            assert!(
                matches!(split(text), Err(WordsError::Unterminated(_))),
                "{text}"
            );
        }
        assert!(matches!(split("(x)"), Err(WordsError::Parenthesis(_))));
    }
}
