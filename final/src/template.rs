//! `--format`: docker's Go templates, the subset people type.
//!
//! A template is text with actions in `{{ }}`: `{{.Name}}` prints a field,
//! `{{.State.Status}}` a field of a field, `{{json .Config}}` a value as
//! JSON, `{{index .Labels "app"}}` a map entry, `{{join .Args " "}}` a
//! list; `{{range .Mounts}}...{{end}}` repeats for each element (with `.`
//! the element), `{{if .State.Running}}...{{else}}...{{end}}` chooses.
//! A format that starts with `table ` prints a header row and aligns the
//! columns separated by `\t`, as `docker ps --format 'table ...'` does.

use serde_json::Value;

/// Why a template could not be read or applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("template: {0}")]
pub struct TemplateError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(message.into()))
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Vec<Term>),
    Range(Vec<Term>, Vec<Node>),
    If(Vec<Term>, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Term {
    /// `.A.B` (empty path: `.` itself).
    Field(Vec<String>),
    Str(String),
    Func(String),
}

/// A template ready to apply.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    /// `table` format: the header row.
    pub table: bool,
    source: String,
}

// ANCHOR: parse
impl Template {
    pub fn parse(format: &str) -> Result<Template, TemplateError> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                (true, rest.trim_start())
            }
            _ => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let tokens = tokenize(&body)?;
        let mut position = 0;
        let nodes = parse_nodes(&tokens, &mut position, false)?.0;
        Ok(Template {
            nodes,
            table,
            source: body,
        })
    }

    /// Applies the template to `value`.
    pub fn render(&self, value: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        render_nodes(&self.nodes, value, &mut out)?;
        Ok(out)
    }

    /// The header row of a `table` format: each column's first field,
    /// named by `name` (docker's "CONTAINER ID" for `.ID`), or upper case.
    pub fn header(&self, name: &dyn Fn(&str) -> Option<&'static str>) -> String {
        self.source
            .split('\t')
            .map(|column| {
                let field = column
                    .split("{{")
                    .nth(1)
                    .and_then(|a| a.split("}}").next())
                    .map(|a| a.trim().trim_start_matches('.').to_string())
                    .unwrap_or_default();
                name(&field)
                    .map(String::from)
                    .unwrap_or_else(|| field.to_uppercase())
            })
            .collect::<Vec<_>>()
            .join("\t")
    }
}
// ANCHOR_END: parse

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Action(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            tokens.push(Token::Text(rest[..start].to_string()));
        }
        let Some(end) = rest[start..].find("}}") else {
            return fail("unclosed action: a {{ without its }}");
        };
        let inner = rest[start + 2..start + end].trim().trim_matches('-').trim();
        tokens.push(Token::Action(inner.to_string()));
        rest = &rest[start + end + 2..];
    }
    if !rest.is_empty() {
        tokens.push(Token::Text(rest.to_string()));
    }
    Ok(tokens)
}

/// What ended a list of nodes: `{{end}}`, `{{else}}`, or the text's end.
#[derive(Debug, PartialEq)]
enum Stop {
    End,
    Else,
    Eof,
}

fn parse_nodes(
    tokens: &[Token],
    position: &mut usize,
    nested: bool,
) -> Result<(Vec<Node>, Stop), TemplateError> {
    let mut nodes = Vec::new();
    while *position < tokens.len() {
        let token = tokens[*position].clone();
        *position += 1;
        match token {
            Token::Text(text) => nodes.push(Node::Text(text)),
            Token::Action(action) if action == "end" => return Ok((nodes, Stop::End)),
            Token::Action(action) if action == "else" => return Ok((nodes, Stop::Else)),
            Token::Action(action) => {
                if let Some(rest) = action.strip_prefix("range ") {
                    let (body, stop) = parse_nodes(tokens, position, true)?;
                    if stop != Stop::End {
                        return fail("range without {{end}}");
                    }
                    nodes.push(Node::Range(terms(rest)?, body));
                } else if let Some(rest) = action.strip_prefix("if ") {
                    let (then, stop) = parse_nodes(tokens, position, true)?;
                    let otherwise = match stop {
                        Stop::Else => parse_nodes(tokens, position, true)?.0,
                        Stop::End => Vec::new(),
                        Stop::Eof => return fail("if without {{end}}"),
                    };
                    nodes.push(Node::If(terms(rest)?, then, otherwise));
                } else {
                    nodes.push(Node::Action(terms(&action)?));
                }
            }
        }
    }
    if nested {
        return fail("{{range}} or {{if}} without {{end}}");
    }
    Ok((nodes, Stop::Eof))
}

fn terms(action: &str) -> Result<Vec<Term>, TemplateError> {
    let mut terms = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => text.extend(chars.next()),
                    Some(c) => text.push(c),
                    None => return fail("unterminated string"),
                }
            }
            terms.push(Term::Str(text));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            if let Some(path) = word.strip_prefix('.') {
                let fields = path
                    .split('.')
                    .filter(|f| !f.is_empty())
                    .map(String::from)
                    .collect();
                terms.push(Term::Field(fields));
            } else if word == "$" {
                terms.push(Term::Field(Vec::new()));
            } else {
                terms.push(Term::Func(word));
            }
        }
    }
    if terms.is_empty() {
        return fail("empty action");
    }
    Ok(terms)
}

fn lookup(value: &Value, path: &[String]) -> Value {
    let mut current = value;
    for field in path {
        match current.get(field) {
            Some(next) => current = next,
            None => return Value::Null,
        }
    }
    current.clone()
}

// ANCHOR: eval
fn eval(terms: &[Term], dot: &Value) -> Result<Value, TemplateError> {
    let value = |term: &Term| -> Result<Value, TemplateError> {
        match term {
            Term::Field(path) => Ok(lookup(dot, path)),
            Term::Str(text) => Ok(Value::String(text.clone())),
            Term::Func(name) => fail(format!("function {name:?} needs arguments")),
        }
    };
    match &terms[0] {
        Term::Func(name) => {
            let args = terms[1..]
                .iter()
                .map(value)
                .collect::<Result<Vec<_>, _>>()?;
            call(name, &args)
        }
        term if terms.len() == 1 => value(term),
        _ => fail("a field cannot take arguments"),
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let one = || {
        args.first()
            .cloned()
            .ok_or_else(|| TemplateError(format!("{name} needs an argument")))
    };
    Ok(match name {
        "json" => Value::String(serde_json::to_string(&one()?).unwrap_or_default()),
        "upper" => Value::String(text(&one()?).to_uppercase()),
        "lower" => Value::String(text(&one()?).to_lowercase()),
        "title" => {
            let t = text(&one()?);
            let mut c = t.chars();
            Value::String(
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default(),
            )
        }
        "len" => Value::from(match one()? {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::String(s) => s.len(),
            _ => 0,
        }),
        "index" => {
            let mut current = one()?;
            for key in &args[1..] {
                current = match (&current, key) {
                    (Value::Object(map), _) => map.get(&text(key)).cloned().unwrap_or(Value::Null),
                    (Value::Array(list), Value::Number(n)) => n
                        .as_u64()
                        .and_then(|i| list.get(i as usize).cloned())
                        .unwrap_or(Value::Null),
                    _ => Value::Null,
                };
            }
            current
        }
        "join" => {
            let separator = args.get(1).map(text).unwrap_or_default();
            match one()? {
                Value::Array(items) => {
                    Value::String(items.iter().map(text).collect::<Vec<_>>().join(&separator))
                }
                other => Value::String(text(&other)),
            }
        }
        "println" => Value::String(format!(
            "{}\n",
            args.iter().map(text).collect::<Vec<_>>().join(" ")
        )),
        other => return fail(format!("function {other:?} not defined")),
    })
}
// ANCHOR_END: eval

/// A value as Go's templates print it: strings bare, `<no value>` for a
/// missing field, maps as `map[k:v]`, lists as `[a b]`.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(text).collect::<Vec<_>>().join(" "))
        }
        Value::Object(map) => format!(
            "map[{}]",
            map.iter()
                .map(|(k, v)| format!("{k}:{}", text(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Go's truth: false, 0, "", empty lists and maps, and nil are false.
fn truth(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn render_nodes(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(terms) => out.push_str(&text(&eval(terms, dot)?)),
            Node::Range(terms, body) => match eval(terms, dot)? {
                Value::Array(items) => {
                    for item in &items {
                        render_nodes(body, item, out)?;
                    }
                }
                Value::Object(map) => {
                    for item in map.values() {
                        render_nodes(body, item, out)?;
                    }
                }
                _ => {}
            },
            Node::If(terms, then, otherwise) => {
                let branch = if truth(&eval(terms, dot)?) {
                    then
                } else {
                    otherwise
                };
                render_nodes(branch, dot, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(format: &str, value: Value) -> String {
        Template::parse(format).unwrap().render(&value).unwrap()
    }

    #[test]
    fn the_forms_docker_users_type() {
        let c = json!({"Name": "/web", "State": {"Status": "running", "Running": true, "Pid": 42},
                       "Config": {"Labels": {"app": "shop"}, "Cmd": ["sh", "-c", "x"]},
                       "Mounts": [{"Source": "/a"}, {"Source": "/b"}]});
        assert_eq!(apply("{{.State.Status}}", c.clone()), "running");
        assert_eq!(apply("{{.Name}} {{.State.Pid}}", c.clone()), "/web 42");
        assert_eq!(
            apply("{{json .Config.Labels}}", c.clone()),
            r#"{"app":"shop"}"#
        );
        assert_eq!(
            apply(r#"{{index .Config.Labels "app"}}"#, c.clone()),
            "shop"
        );
        assert_eq!(apply(r#"{{join .Config.Cmd " "}}"#, c.clone()), "sh -c x");
        assert_eq!(
            apply("{{range .Mounts}}{{.Source}};{{end}}", c.clone()),
            "/a;/b;"
        );
        assert_eq!(
            apply("{{if .State.Running}}up{{else}}down{{end}}", c.clone()),
            "up"
        );
        assert_eq!(apply("{{.Missing}}", c.clone()), "<no value>");
        assert_eq!(apply("{{upper .State.Status}}", c), "RUNNING");
    }

    #[test]
    fn table_headers_come_from_the_fields() {
        let t = Template::parse(r"table {{.ID}}\t{{.Names}}").unwrap();
        assert!(t.table);
        let names = |f: &str| (f == "ID").then_some("CONTAINER ID");
        assert_eq!(t.header(&names), "CONTAINER ID\tNAMES");
        assert_eq!(
            t.render(&json!({"ID": "abc", "Names": "web"})).unwrap(),
            "abc\tweb"
        );
    }

    #[test]
    fn bad_templates_say_why() {
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{range .A}}x").is_err());
        assert_eq!(
            Template::parse("{{nope .A}}").unwrap().render(&json!({})),
            Err(TemplateError("function \"nope\" not defined".into()))
        );
    }
}
