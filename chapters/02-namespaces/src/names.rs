//! Container names: checked when given, made up when not.
//!
//! Docker names a container it was given no name for with an adjective and
//! the surname of a scientist or engineer (`focused_hopper`). People type
//! names, not ids: a name that reads well is easier to type and to remember.
//! Ours come from word lists of our own.

/// Whether `name` is a name docker would accept: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
/// Names are also directory-safe: no `/`, never `.` or `..`.
pub fn is_valid(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

const ADJECTIVES: [&str; 32] = [
    "brave", "calm", "clever", "cosmic", "eager", "elated", "fervent", "gentle", "happy", "jolly",
    "keen", "kind", "lucid", "merry", "modest", "nimble", "patient", "plucky", "quiet", "quirky",
    "serene", "sharp", "sleepy", "spry", "steady", "sunny", "swift", "tender", "upbeat", "vivid",
    "witty", "zealous",
];

const SURNAMES: [&str; 32] = [
    "allen",
    "babbage",
    "backus",
    "bell",
    "cerf",
    "conway",
    "curie",
    "dijkstra",
    "engelbart",
    "feynman",
    "floyd",
    "goldberg",
    "hamilton",
    "hoare",
    "hopper",
    "johnson",
    "kahn",
    "knuth",
    "lamarr",
    "lamport",
    "liskov",
    "lovelace",
    "mccarthy",
    "noether",
    "perlman",
    "ritchie",
    "shannon",
    "sutherland",
    "thompson",
    "torvalds",
    "turing",
    "wing",
];

/// A random `adjective_surname` for which `taken` says no; after many
/// collisions, a number is appended, as docker does.
pub fn random_unused(taken: impl Fn(&str) -> bool) -> String {
    for attempt in 0.. {
        let [a, b, c] = random_bytes();
        let mut name = format!(
            "{}_{}",
            ADJECTIVES[a as usize % ADJECTIVES.len()],
            SURNAMES[b as usize % SURNAMES.len()]
        );
        if attempt >= 8 {
            name.push_str(&(c % 10).to_string());
        }
        if !taken(&name) {
            return name;
        }
    }
    unreachable!("the loop above returns")
}

fn random_bytes() -> [u8; 3] {
    let id = crate::records::new_id();
    let byte = |i: usize| u8::from_str_radix(&id[i * 2..i * 2 + 2], 16).unwrap_or(0);
    [byte(0), byte(1), byte(2)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_are_valid_and_others_not() {
        for good in ["web", "web-1", "my_app.v2", "9lives"] {
            assert!(is_valid(good), "{good}");
        }
        for bad in ["", "-web", ".hidden", "a/b", "..", "with space"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn random_names_avoid_taken_ones() {
        let name = random_unused(|_| false);
        assert!(is_valid(&name) && name.contains('_'), "{name}");
        let other = random_unused(|n| n == name);
        assert_ne!(other, name);
    }
}
