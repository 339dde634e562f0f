//! Just enough of a POSIX shell's word splitting to read the command lines
//! the book shows: quotes, backslashes, and the operators that end a simple
//! command (`|`, `&&`, `||`, `;`, `&`, redirections, comments).

/// The simple commands of `line`, each as its words (quotes removed), in
/// order. Redirections and their targets are dropped; `$VAR` and `$(...)`
/// stay as they are written (they are values, never flags, in the book).
pub fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut redirect = false;
    let mut chars = line.chars().peekable();
    let end_word =
        |word: &mut String, in_word: &mut bool, redirect: &mut bool, words: &mut Vec<String>| {
            if *in_word {
                if *redirect {
                    *redirect = false;
                } else {
                    words.push(std::mem::take(word));
                }
                word.clear();
                *in_word = false;
            }
        };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if chars.peek().is_some_and(|n| "\"\\$`".contains(*n)) => {
                            word.extend(chars.next());
                        }
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '$' if chars.peek() == Some(&'(') => {
                // A command substitution is one value: keep it whole.
                in_word = true;
                word.push('$');
                let mut depth = 0;
                for c in chars.by_ref() {
                    word.push(c);
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '#' if !in_word => break,
            ' ' | '\t' => end_word(&mut word, &mut in_word, &mut redirect, &mut words),
            '|' | ';' | '&' => {
                end_word(&mut word, &mut in_word, &mut redirect, &mut words);
                if c == '&' && redirect {
                    continue;
                }
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            '>' | '<' => {
                // `2>&1`, `>file`, `< file`: the digits before belong to the
                // redirection, and so does the next word.
                if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                } else {
                    end_word(&mut word, &mut in_word, &mut redirect, &mut words);
                }
                while chars.peek().is_some_and(|n| *n == '>' || *n == '&') {
                    chars.next();
                }
                redirect = true;
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut redirect, &mut words);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// The program and arguments of a simple command, past what only sets up
/// how it runs: `KEY=VALUE` assignments, `sudo` (and its `-E`), `env`,
/// `exec`, `time`.
pub fn program_and_args(words: &[String]) -> &[String] {
    let mut rest = words;
    loop {
        match rest.first().map(String::as_str) {
            Some("sudo" | "env" | "exec" | "time" | "-E") => rest = &rest[1..],
            Some(word) if is_assignment(word) => rest = &rest[1..],
            _ => return rest,
        }
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<&'static str>> {
        simple_commands(line)
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|w| &*Box::leak(w.into_boxed_str()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn quotes_operators_and_redirections() {
        assert_eq!(
            words(
                r#"ch01-process run -- sh -c 'echo $A; exit 3' 2>&1 | tee "out file" > log # done"#
            ),
            vec![
                vec!["ch01-process", "run", "--", "sh", "-c", "echo $A; exit 3"],
                vec!["tee", "out file"],
            ]
        );
        assert_eq!(
            words("echo qwe | ch01-process run -- cat && kill -TERM $(pidof ch01-process)"),
            vec![
                vec!["echo", "qwe"],
                vec!["ch01-process", "run", "--", "cat"],
                vec!["kill", "-TERM", "$(pidof ch01-process)"],
            ]
        );
        assert_eq!(words(r"a\ b c"), vec![vec!["a b", "c"]]);
    }

    #[test]
    fn sudo_env_and_assignments_are_skipped() {
        let line = "sudo -E env PATH=$PATH ch02-namespaces ps";
        let command = &simple_commands(line)[0];
        assert_eq!(program_and_args(command), ["ch02-namespaces", "ps"]);
    }
}
