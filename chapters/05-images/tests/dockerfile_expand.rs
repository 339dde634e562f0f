//! Variable substitution, case by case (Docker's "Environment replacement").

use ch05_images::dockerfile::expand::{ExpandError, expand};

/// Variables for the tests: `SET=value`, `EMPTY=` and `SPACE="a b"`; all
/// others unset.
fn vars(name: &str) -> Option<String> {
    match name {
        "SET" => Some("value".into()),
        "EMPTY" => Some(String::new()),
        "SPACE" => Some("a b".into()),
        "DIR" => Some("/srv".into()),
        _ => None,
    }
}

fn ok(word: &str) -> String {
    expand(word, '\\', &vars).unwrap_or_else(|e| panic!("{word:?}: {e:?}"))
}

fn err(word: &str) -> ExpandError {
    expand(word, '\\', &vars).expect_err(word)
}

#[test]
fn plain_and_braced_references() {
    assert_eq!(ok("$SET"), "value");
    assert_eq!(ok("${SET}"), "value");
    assert_eq!(ok("${SET}_x"), "value_x");
    assert_eq!(ok("$SET_x"), ""); // the name is SET_x
    assert_eq!(ok("$DIR/bin"), "/srv/bin");
    assert_eq!(ok("a${SET}b$SET"), "avaluebvalue");
}

#[test]
fn unset_variables_are_empty() {
    assert_eq!(ok("$NOPE"), "");
    assert_eq!(ok("x${NOPE}y"), "xy");
}

#[test]
fn a_dollar_without_a_name_is_literal() {
    assert_eq!(ok("$"), "$");
    assert_eq!(ok("a$ b"), "a$ b");
    assert_eq!(ok("100$"), "100$");
    assert_eq!(ok("$/"), "$/");
}

#[test]
fn positional_and_special_parameters_are_never_set() {
    assert_eq!(ok("$1x"), "x");
    assert_eq!(ok("$12"), "");
    assert_eq!(ok("a$@b"), "ab");
    assert_eq!(ok("$$"), "");
}

#[test]
fn default_when_unset_or_empty() {
    assert_eq!(ok("${SET:-d}"), "value");
    assert_eq!(ok("${EMPTY:-d}"), "d");
    assert_eq!(ok("${NOPE:-d}"), "d");
}

#[test]
fn default_when_unset_only() {
    assert_eq!(ok("${SET-d}"), "value");
    assert_eq!(ok("${EMPTY-d}"), "");
    assert_eq!(ok("${NOPE-d}"), "d");
}

#[test]
fn alternative_when_set_and_not_empty() {
    assert_eq!(ok("${SET:+alt}"), "alt");
    assert_eq!(ok("${EMPTY:+alt}"), "");
    assert_eq!(ok("${NOPE:+alt}"), "");
}

#[test]
fn alternative_when_set() {
    assert_eq!(ok("${SET+alt}"), "alt");
    assert_eq!(ok("${EMPTY+alt}"), "alt");
    assert_eq!(ok("${NOPE+alt}"), "");
}

#[test]
fn required_variables() {
    assert_eq!(ok("${SET:?needed}"), "value");
    assert_eq!(ok("${EMPTY?needed}"), "");
    assert_eq!(err("${NOPE?}").reason, "NOPE: is not allowed to be unset");
    assert_eq!(
        err("${EMPTY:?}").reason,
        "EMPTY: is not allowed to be empty"
    );
    assert_eq!(err("x${NOPE:?give NOPE}").reason, "NOPE: give NOPE");
    assert_eq!(err("x${NOPE:?give NOPE}").offset, 1);
}

#[test]
fn words_may_hold_variables_and_quotes() {
    assert_eq!(ok("${NOPE:-$SET}"), "value");
    assert_eq!(ok("${NOPE:-${EMPTY:-deep}}"), "deep");
    assert_eq!(ok("${NOPE:-\"a b\"}"), "a b");
    assert_eq!(ok("${NOPE:-'$SET'}"), "$SET");
    assert_eq!(ok("${NOPE:-a\\}b}"), "a}b");
    assert_eq!(ok("${SET:+${SPACE}!}"), "a b!");
}

#[test]
fn single_quotes_keep_everything() {
    assert_eq!(ok("'$SET'"), "$SET");
    assert_eq!(ok("'a \\ b'"), "a \\ b");
    assert_eq!(ok("x'\"'y"), "x\"y");
}

#[test]
fn double_quotes_substitute_and_escape_a_few_characters() {
    assert_eq!(ok("\"$SET\""), "value");
    assert_eq!(ok("\"a  b\""), "a  b");
    assert_eq!(ok("\"\\$SET\""), "$SET");
    assert_eq!(ok("\"say \\\"hi\\\"\""), "say \"hi\"");
    assert_eq!(ok("\"a\\\\b\""), "a\\b");
    assert_eq!(ok("\"c:\\dir\""), "c:\\dir");
    assert_eq!(ok("\"it's\""), "it's");
}

#[test]
fn escapes_outside_quotes_take_the_next_character() {
    assert_eq!(ok("\\$SET"), "$SET");
    assert_eq!(ok("\\${SET}"), "${SET}");
    assert_eq!(ok("a\\ b"), "a b");
    assert_eq!(ok("\\\"x\\\""), "\"x\"");
    assert_eq!(ok("trailing\\"), "trailing");
}

#[test]
fn the_escape_character_can_be_a_backtick() {
    let word = "c:\\path `$SET \"`$SET\"";
    assert_eq!(expand(word, '`', &vars).unwrap(), "c:\\path $SET $SET");
}

#[test]
fn empty_words_and_quotes() {
    assert_eq!(ok(""), "");
    assert_eq!(ok("\"\""), "");
    assert_eq!(ok("''"), "");
}

#[test]
fn unterminated_quotes_point_at_the_quote() {
    let e = err("ab\"cd");
    assert_eq!(e.offset, 2);
    assert!(e.reason.contains("double quote"), "{}", e.reason);
    let e = err("x'y");
    assert_eq!(e.offset, 1);
    assert!(e.reason.contains("single quote"), "{}", e.reason);
}

#[test]
fn braces_must_close_and_hold_a_name() {
    assert_eq!(err("ab${SET").offset, 2);
    assert_eq!(err("${").reason, "missing '}'");
    assert_eq!(err("${SET:-x").reason, "missing '}'");
    for word in ["${}", "${:-x}", "${{X}}"] {
        assert!(err(word).reason.starts_with("bad substitution"), "{word}");
    }
}

#[test]
fn pattern_modifiers_are_refused_with_a_reason() {
    for word in ["${SET#v}", "${SET%e}", "${SET/a/b}"] {
        let e = err(word);
        assert!(e.reason.contains("pre-release"), "{word}: {}", e.reason);
    }
    assert!(err("${SET:x}").reason.starts_with("unsupported modifier"));
    assert!(err("${SET!}").reason.starts_with("unsupported modifier"));
}
