//! `config`: the resolved project printed back as YAML, as
//! `docker compose config` prints it.
//!
//! It is the learner's window into what the files mean once compose has
//! read them: the files merged, `${...}` substituted, short syntaxes
//! spelled out in long form (`"8080:80"` becomes `target: 80`,
//! `published: "8080"`), paths absolute, and the defaults written down
//! (the `default` network, `PROJECT_default` names, `condition:
//! service_started`). If `config` shows it, the engine will do it.
//!
//! One difference with the model: a `$` that reaches the container (from
//! `$$` in the file) is printed `$$` again, as docker compose prints it,
//! so that the output is itself a compose file that means the same thing.

use crate::model::{NetworkDef, Service, VolumeDef};
use crate::resolve::Project;
use serde::Serialize;
use std::collections::BTreeMap;

/// The top level, in docker compose's order.
#[derive(Serialize)]
struct Output<'a> {
    name: &'a str,
    services: &'a BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    networks: &'a BTreeMap<String, NetworkDef>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: &'a BTreeMap<String, VolumeDef>,
}

// ANCHOR: to_yaml
/// The project as YAML.
pub fn to_yaml(project: &Project) -> String {
    let output = Output {
        name: &project.name,
        services: &project.services,
        networks: &project.networks,
        volumes: &project.volumes,
    };
    let mut options = serde_saphyr::SerializerOptions::default();
    // `ports:` then `  - target: 80`, as docker compose indents lists.
    options.compact_list_indent = false;
    // Long commands stay on one line instead of being folded.
    options.folded_wrap_chars = usize::MAX;
    let yaml = serde_saphyr::to_string_with_options(&output, options)
        .expect("the model serializes to YAML");
    yaml.replace('$', "$$")
}
// ANCHOR_END: to_yaml

/// `config --services`: the enabled services, one per line.
pub fn service_names(project: &Project) -> String {
    project
        .services
        .keys()
        .map(|name| format!("{name}\n"))
        .collect()
}

/// `config --volumes`: the volumes, one per line.
pub fn volume_names(project: &Project) -> String {
    project
        .volumes
        .keys()
        .map(|name| format!("{name}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::from_node;
    use crate::load::Sources;
    use crate::model::ComposeFile;
    use crate::node::parse;
    use crate::resolve::resolve;
    use std::path::PathBuf;

    fn config(text: &str) -> String {
        let tree = parse(text, "compose.yaml").unwrap();
        let file: ComposeFile = from_node(&tree).unwrap();
        let project = resolve(
            file,
            "demo".into(),
            PathBuf::from("/srv/demo"),
            vec![],
            BTreeMap::new(),
            vec![],
            &Sources { trees: vec![tree] },
        )
        .unwrap();
        to_yaml(&project)
    }

    #[test]
    fn short_forms_print_long() {
        let yaml = config(
            "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n    volumes: ['./site:/usr/share/nginx/html:ro']\n    depends_on: [db]\n  db:\n    image: postgres\n",
        );
        assert_eq!(
            yaml,
            r#"name: demo
services:
  db:
    image: postgres
    networks:
      default: null
  web:
    depends_on:
      db:
        condition: service_started
        required: true
    image: nginx
    networks:
      default: null
    ports:
      - mode: ingress
        target: 80
        published: "8080"
        protocol: tcp
    volumes:
      - type: bind
        source: /srv/demo/site
        target: /usr/share/nginx/html
        read_only: true
        bind:
          create_host_path: true
networks:
  default:
    name: demo_default
"#
        );
    }

    #[test]
    fn values_that_look_like_other_types_stay_strings() {
        let yaml = config(
            "services:\n  w:\n    image: x\n    environment: {A: 'true', B: '1.10', C: 'no'}\n    command: [echo, '3']\n",
        );
        assert!(yaml.contains("A: \"true\""), "{yaml}");
        assert!(yaml.contains("B: \"1.10\""), "{yaml}");
        assert!(yaml.contains("C: \"no\""), "{yaml}");
        assert!(yaml.contains("- \"3\""), "{yaml}");
    }

    #[test]
    fn dollars_are_escaped_again() {
        // No substitution in this helper: the model holds one `$`, as after `$$`.
        let yaml = config("services:\n  w:\n    image: x\n    command: [sh, -c, 'echo $HOME']\n");
        assert!(yaml.contains("- echo $$HOME"), "{yaml}");
    }

    #[test]
    fn listings() {
        let text = "services: {b: {image: x}, a: {image: y}}\nvolumes: {v: }\n";
        let tree = parse(text, "c.yaml").unwrap();
        let file: ComposeFile = from_node(&tree).unwrap();
        let p = resolve(
            file,
            "p".into(),
            "/".into(),
            vec![],
            BTreeMap::new(),
            vec![],
            &Sources::default(),
        )
        .unwrap();
        assert_eq!(service_names(&p), "a\nb\n");
        assert_eq!(volume_names(&p), "v\n");
    }
}
