//! What `up` prints: every container's output, line by line, behind its
//! name (`counter-web-1  | ...`), and what compose itself does
//! (` Container counter-store-1  Healthy`).
//!
//! As docker compose does, the output of the containers goes to standard
//! output and compose's own progress to standard error, so that
//! `up > app.log` keeps the application's lines. On a terminal each
//! service gets a colour; in a file or a pipe there is no escape sequence
//! to get in the way of `grep`.

use std::collections::BTreeMap;
use std::io::Write;

/// ANSI colours, one per service in turn: the six plain ones, then their
/// bright versions.
const COLOURS: [&str; 12] = [
    "36", "33", "32", "35", "34", "31", "96", "93", "92", "95", "94", "91",
];

/// The console of one `up`.
#[derive(Debug, Clone)]
pub struct Console {
    width: usize,
    colours: Option<BTreeMap<String, &'static str>>,
}

// ANCHOR: prefix
/// `line` behind `name`, the names padded to `width` so that the bars
/// line up; in `colour` (an ANSI code) when given.
pub fn prefixed(name: &str, width: usize, colour: Option<&str>, line: &str) -> String {
    let prefix = format!("{name:<width$} |");
    match colour {
        Some(code) => format!("\x1b[{code}m{prefix}\x1b[0m {line}"),
        None => format!("{prefix} {line}"),
    }
}
// ANCHOR_END: prefix

impl Console {
    /// A console for containers named `names` (each with its service);
    /// coloured when `colour`.
    pub fn new(names: &[(String, String)], colour: bool) -> Console {
        let width = names.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 1;
        let colours = colour.then(|| {
            let mut services: Vec<&str> = names.iter().map(|(_, s)| s.as_str()).collect();
            services.dedup();
            let mut map = BTreeMap::new();
            for service in services {
                let next = COLOURS[map.len() % COLOURS.len()];
                map.entry(service.to_string()).or_insert(next);
            }
            map
        });
        Console { width, colours }
    }

    /// Whether standard output is a terminal (colours then).
    pub fn stdout_is_terminal() -> bool {
        nix::unistd::isatty(std::io::stdout()).unwrap_or(false)
    }

    /// A line a container wrote.
    pub fn output(&self, name: &str, service: &str, line: &str) {
        let colour = self.colours.as_ref().and_then(|c| c.get(service).copied());
        self.say(&prefixed(name, self.width, colour, line));
    }

    /// A line of ours on standard output.
    pub fn say(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// A progress line on standard error: ` Container NAME  STATE`.
    pub fn progress(&self, kind: &str, name: &str, state: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, " {kind} {name}  {state}");
        let _ = err.flush();
    }
}

/// Cuts a byte stream into lines; keeps an unfinished line until its end
/// comes (or the stream ends).
#[derive(Debug, Default)]
pub struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Adds bytes; the lines they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            lines.push(text(&line[..end]));
        }
        lines
    }

    /// The unfinished line, at the end of the stream.
    pub fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty()).then(|| text(&std::mem::take(&mut self.pending)))
    }
}

fn text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_padded_so_the_bars_line_up() {
        let names = [
            ("counter-store-1".to_string(), "store".to_string()),
            ("counter-web-1".to_string(), "web".to_string()),
        ];
        let console = Console::new(&names, false);
        assert_eq!(
            prefixed("counter-web-1", console.width, None, "hello"),
            "counter-web-1    | hello"
        );
        assert_eq!(
            prefixed("counter-store-1", console.width, None, "hi"),
            "counter-store-1  | hi"
        );
        assert_eq!(
            prefixed("web-1", 6, Some("36"), "x"),
            "\x1b[36mweb-1  |\x1b[0m x"
        );
    }

    #[test]
    fn each_service_has_its_colour_on_a_terminal() {
        let names = [
            ("p-a-1".to_string(), "a".to_string()),
            ("p-a-2".to_string(), "a".to_string()),
            ("p-b-1".to_string(), "b".to_string()),
        ];
        let colours = Console::new(&names, true).colours.unwrap();
        assert_eq!((colours["a"], colours["b"]), ("36", "33"));
        assert!(Console::new(&names, false).colours.is_none());
    }

    #[test]
    fn lines_are_cut_where_they_end() {
        let mut lines = Lines::default();
        assert_eq!(lines.feed(b"one\r\ntw"), ["one"]);
        assert_eq!(lines.feed(b"o\nthree"), ["two"]);
        assert_eq!(lines.finish().as_deref(), Some("three"));
        assert_eq!(lines.finish(), None);
    }
}
