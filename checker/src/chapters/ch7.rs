//! Chapter 7: compose. One file describes an application: its services
//! start after what they depend on, find each other by name on the
//! project's network, take their values from the environment and `.env`,
//! and `down` takes everything away again. The checks write projects of
//! their own and look at what `up` prints and at what the engine's own
//! verbs (`ps`, `network ls`, `volume ls`) list.

use super::{Check, expect_in};
use crate::compose::Project;
use crate::target::Target;
use std::net::Ipv4Addr;

const ORDER: &str = "Compose > What and why > The dependency graph, and health";

pub const CHECKS: [Check; 4] = [
    Check {
        chapter: 7,
        id: "7.1",
        name: "up starts a service after the one-shot service it depends on completed",
        hint: ORDER,
        run: dependency_order,
    },
    Check {
        chapter: 7,
        id: "7.2",
        name: "a project's services find each other by their names",
        hint: "Compose > What and why > Scaling and DNS round-robin",
        run: by_service_name,
    },
    Check {
        chapter: 7,
        id: "7.3",
        name: "${VAR} comes from .env, ${VAR:-default} from its default, $$ is a $",
        hint: "Compose > What and why > Interpolation and `config`",
        run: interpolation,
    },
    Check {
        chapter: 7,
        id: "7.4",
        name: "down -v removes the project's containers, network and volumes",
        hint: "Compose > The code > down and ps",
        run: down,
    },
];

/// Takes a project down when the check ends, passed or not.
struct Down<'a>(&'a Target, &'a Project);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.compose(self.1, &["down", "-v"]);
    }
}

/// The project `name` with `yaml`, where `IMAGE` is the checker's image.
fn project(
    target: &Target,
    name: &str,
    yaml: &str,
    dotenv: Option<&str>,
) -> Result<Project, String> {
    let image = target.images()?.base();
    target.project(name, &yaml.replace("IMAGE", &image), dotenv)
}

fn dependency_order(target: &Target) -> Result<(), String> {
    // `app` comes first by name: only the dependency puts `migrate` first.
    let project = project(
        target,
        "skiff-check-order",
        r#"services:
  app:
    image: IMAGE
    command: ["sh", "-c", "cat /shared/order"]
    depends_on:
      migrate:
        condition: service_completed_successfully
    volumes: ["order:/shared"]
  migrate:
    image: IMAGE
    command: ["sh", "-c", "sleep 1 && echo migrated > /shared/order"]
    volumes: ["order:/shared"]
volumes:
  order: {}
"#,
        None,
    )?;
    let _down = Down(target, &project);
    let up = target.compose(&project, &["up"])?;
    up.expect_code(0)?;
    expect_in(
        "up's output (app reads what migrate wrote)",
        &up.stdout,
        "migrated",
    )
}

fn by_service_name(target: &Target) -> Result<(), String> {
    let project = project(
        target,
        "skiff-check-names",
        r#"services:
  client:
    image: IMAGE
    command: ["/bin/probe", "resolve", "web"]
    depends_on: [web]
  web:
    image: IMAGE
    command: ["/bin/probe", "sleep", "30"]
    stop_grace_period: 1s
"#,
        None,
    )?;
    let _down = Down(target, &project);
    let up = target.compose(&project, &["up", "--exit-code-from", "client"])?;
    up.expect_code(0)?;
    let resolved = up
        .stdout
        .lines()
        .filter(|line| line.contains("client"))
        .flat_map(str::split_whitespace)
        .any(|word| word.parse::<Ipv4Addr>().is_ok());
    if !resolved {
        return Err(format!(
            "client printed no address for web: {:?}",
            crate::target::shorten(up.stdout.trim(), 300)
        ));
    }
    Ok(())
}

fn interpolation(target: &Target) -> Result<(), String> {
    let project = project(
        target,
        "skiff-check-vars",
        r#"services:
  echo:
    image: IMAGE
    command: ["sh", "-c", "echo ${SKIFF_CHECK_FROM_DOTENV} ${SKIFF_CHECK_UNSET:-the-default} $$0"]
"#,
        Some("SKIFF_CHECK_FROM_DOTENV=from-the-env-file\n"),
    )?;
    let _down = Down(target, &project);
    let up = target.compose(&project, &["up"])?;
    up.expect_code(0)?;
    expect_in(
        "the service's output",
        &up.stdout,
        "from-the-env-file the-default sh",
    )
}

/// Whether the engine's `ARGS` lists something named with `wanted` in it.
fn lists(target: &Target, args: &[&str], wanted: &str) -> Result<bool, String> {
    let listed = target.verb(args)?;
    listed.expect_code(0)?;
    Ok(listed.stdout.contains(wanted))
}

fn down(target: &Target) -> Result<(), String> {
    let name = "skiff-check-down";
    let project = project(
        target,
        name,
        r#"services:
  once:
    image: IMAGE
    command: ["sh", "-c", "echo kept > /data/file"]
    volumes: ["data:/data"]
volumes:
  data: {}
"#,
        None,
    )?;
    let _down = Down(target, &project);
    target.compose(&project, &["up"])?.expect_code(0)?;
    let made = [
        (["ps", "-a"].as_slice(), name, "container"),
        (&["network", "ls"], "skiff-check-down_default", "network"),
        (&["volume", "ls"], "skiff-check-down_data", "volume"),
    ];
    for (args, wanted, what) in made {
        if !lists(target, args, wanted)? {
            return Err(format!(
                "after up, {} lists no {what} {wanted}",
                args.join(" ")
            ));
        }
    }
    target.compose(&project, &["down", "-v"])?.expect_code(0)?;
    for (args, wanted, what) in made {
        if lists(target, args, wanted)? {
            return Err(format!(
                "after down -v, {} still lists the {what} {wanted}",
                args.join(" ")
            ));
        }
    }
    Ok(())
}
