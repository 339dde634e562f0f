//! From merged files to a project: the defaults compose fills in.
//!
//! A file leaves much unsaid, and compose says it: a service that names no
//! network joins the project's `default` network, which is created as
//! `PROJECT_default`; a volume `data` is `PROJECT_data` on the engine;
//! `./src` is a directory of the project, made absolute; `build: .` reads
//! `Dockerfile`; the lines of an `env_file` go into `environment`, and an
//! `environment: [DEBUG]` without a value takes `DEBUG` from the
//! environment compose runs in. Services whose profiles are not active
//! are set aside. What is left is the [`Project`]: what `config` prints,
//! what the [plan](crate::plan) is made from.

use crate::error::{ComposeError, Warning};
use crate::load::Sources;
use crate::model::{ComposeFile, MountType, NetworkDef, Service, VolumeDef};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// A project: the merged, resolved model of an application.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The project's name (prefix of everything it creates).
    pub name: String,
    /// The project directory (relative paths of the files start here).
    pub working_dir: PathBuf,
    /// The compose files, absolute, in merge order.
    pub config_files: Vec<PathBuf>,
    /// The variables used for substitution.
    pub environment: BTreeMap<String, String>,
    /// The active profiles.
    pub profiles: Vec<String>,
    /// The enabled services.
    pub services: BTreeMap<String, Service>,
    /// Services whose profiles are not active.
    pub disabled_services: BTreeMap<String, Service>,
    /// The networks, with their engine names filled in.
    pub networks: BTreeMap<String, NetworkDef>,
    /// The volumes, with their engine names filled in.
    pub volumes: BTreeMap<String, VolumeDef>,
    /// What the user should know but that does not stop the project.
    pub warnings: Vec<Warning>,
}

impl Project {
    /// The image a service runs: its `image`, or, for a service that is
    /// only built, `PROJECT-SERVICE` (the name docker compose gives it).
    pub fn image_of(&self, service: &str) -> String {
        self.services
            .get(service)
            .and_then(|s| s.image.clone())
            .unwrap_or_else(|| format!("{}-{service}", self.name))
    }

    /// The engine's name of the network the file calls `key`.
    pub fn network_name(&self, key: &str) -> String {
        self.networks
            .get(key)
            .and_then(|n| n.name.clone())
            .unwrap_or_else(|| format!("{}_{key}", self.name))
    }

    /// The engine's name of the volume the file calls `key`.
    pub fn volume_name(&self, key: &str) -> String {
        self.volumes
            .get(key)
            .and_then(|v| v.name.clone())
            .unwrap_or_else(|| format!("{}_{key}", self.name))
    }
}

/// Is the service enabled by the active profiles? A service without
/// profiles always is; `*` activates them all.
pub fn enabled(service: &Service, active: &[String]) -> bool {
    service.profiles.is_empty()
        || active
            .iter()
            .any(|p| p == "*" || service.profiles.contains(p))
}

// ANCHOR: resolve
/// Resolves the merged file into a project.
pub fn resolve(
    file: ComposeFile,
    name: String,
    working_dir: PathBuf,
    config_files: Vec<PathBuf>,
    environment: BTreeMap<String, String>,
    profiles: Vec<String>,
    sources: &Sources,
) -> Result<Project, ComposeError> {
    let (mut services, disabled_services): (BTreeMap<_, _>, BTreeMap<_, _>) = file
        .services
        .into_iter()
        .partition(|(_, s)| enabled(s, &profiles));
    for (service_name, service) in &mut services {
        resolve_service(service_name, service, &working_dir, &environment, sources)?;
    }

    let mut networks = file.networks;
    if services
        .values()
        .any(|s| s.networks.contains_key("default"))
    {
        networks.entry("default".into()).or_default();
    }
    for (key, network) in &mut networks {
        network
            .name
            .get_or_insert_with(|| engine_name(&name, key, network.external));
    }
    let mut volumes = file.volumes;
    for (key, volume) in &mut volumes {
        volume
            .name
            .get_or_insert_with(|| engine_name(&name, key, volume.external));
    }
    Ok(Project {
        name,
        working_dir,
        config_files,
        environment,
        profiles,
        services,
        disabled_services,
        networks,
        volumes,
        warnings: Vec::new(),
    })
}
// ANCHOR_END: resolve

/// `PROJECT_KEY`, or the key itself for a resource that is not the
/// project's.
fn engine_name(project: &str, key: &str, external: bool) -> String {
    if external {
        key.to_string()
    } else {
        format!("{project}_{key}")
    }
}

fn resolve_service(
    name: &str,
    service: &mut Service,
    dir: &Path,
    vars: &BTreeMap<String, String>,
    sources: &Sources,
) -> Result<(), ComposeError> {
    if service.networks.is_empty() {
        service.networks.insert("default".into(), None);
    }
    if let Some(build) = &mut service.build {
        let context = build.context.take().unwrap_or_else(|| ".".into());
        build.context = Some(if is_remote(&context) {
            context
        } else {
            absolute(dir, &context, vars).display().to_string()
        });
        build.dockerfile.get_or_insert_with(|| "Dockerfile".into());
        for (key, value) in &mut build.args {
            if value.is_none() {
                *value = vars.get(key).cloned();
            }
        }
    }
    for volume in &mut service.volumes {
        if volume.kind == MountType::Bind
            && let Some(source) = &volume.source
        {
            volume.source = Some(absolute(dir, source, vars).display().to_string());
        }
    }
    // ANCHOR: environment
    // env_file lines first, then `environment` over them; a name without
    // a value is looked up in the environment compose runs in.
    let mut environment = BTreeMap::new();
    for (index, env_file) in std::mem::take(&mut service.env_file)
        .into_iter()
        .enumerate()
    {
        let path = absolute(dir, &env_file.path, vars);
        let index = index.to_string();
        let at = ["services", name, "env_file", &index];
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !env_file.required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                let message = format!("cannot read the env file {}: {e}", path.display());
                return Err(sources.invalid(&at[..3], message).into());
            }
        };
        let lookup = |variable: &str| vars.get(variable).cloned();
        let shown = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        environment.extend(crate::dotenv::parse(&text, &shown, &lookup)?);
    }
    environment.extend(std::mem::take(&mut service.environment));
    for (key, value) in &mut environment {
        if value.is_none() {
            *value = vars.get(key).cloned();
        }
    }
    service.environment = environment;
    // ANCHOR_END: environment
    Ok(())
}

/// A build context that is not a directory: a git URL.
pub fn is_remote(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@")
}

/// `path` made absolute against `dir` (`~` is `$HOME`), with `.` and `..`
/// worked out by hand: the path may not exist yet.
pub fn absolute(dir: &Path, path: &str, vars: &BTreeMap<String, String>) -> PathBuf {
    let expanded = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = vars.get("HOME").map_or("/root", String::as_str);
            PathBuf::from(format!("{home}{rest}"))
        }
        _ => PathBuf::from(path),
    };
    let mut out = PathBuf::new();
    for component in dir.join(expanded).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::from_node;
    use crate::node::parse;

    fn project(text: &str, profiles: &[&str]) -> Project {
        let tree = parse(text, "compose.yaml").unwrap();
        let file: ComposeFile = from_node(&tree).unwrap();
        let vars = BTreeMap::from([
            ("HOME".to_string(), "/home/me".to_string()),
            ("DEBUG".into(), "1".into()),
        ]);
        resolve(
            file,
            "shop".into(),
            PathBuf::from("/srv/shop"),
            vec![PathBuf::from("/srv/shop/compose.yaml")],
            vars,
            profiles.iter().map(|p| p.to_string()).collect(),
            &Sources { trees: vec![tree] },
        )
        .unwrap()
    }

    #[test]
    fn the_default_network_is_added_and_named() {
        let p = project("services: {web: {image: x}}\n", &[]);
        assert_eq!(
            p.services["web"].networks.keys().collect::<Vec<_>>(),
            ["default"]
        );
        assert_eq!(p.networks["default"].name.as_deref(), Some("shop_default"));
        let p = project(
            "services: {web: {image: x, networks: [front]}}\nnetworks: {front: {}}\n",
            &[],
        );
        assert!(!p.networks.contains_key("default"), "nobody uses it");
        assert_eq!(p.network_name("front"), "shop_front");
    }

    #[test]
    fn resource_names_are_prefixed_unless_external() {
        let p = project(
            "services: {}\nvolumes: {data: {}, old: {external: true}, named: {name: exact}}\nnetworks: {shared: {external: true, name: proxy}}\n",
            &[],
        );
        assert_eq!(p.volume_name("data"), "shop_data");
        assert_eq!(p.volume_name("old"), "old");
        assert_eq!(p.volume_name("named"), "exact");
        assert_eq!(p.network_name("shared"), "proxy");
    }

    #[test]
    fn paths_become_absolute() {
        let p = project(
            "services:\n  web:\n    build: ./web/../app\n    volumes: ['./site:/site', '~/cache:/cache', 'data:/data']\nvolumes: {data: }\n",
            &[],
        );
        let build = p.services["web"].build.clone().unwrap();
        assert_eq!(build.context.as_deref(), Some("/srv/shop/app"));
        assert_eq!(build.dockerfile.as_deref(), Some("Dockerfile"));
        let sources: Vec<_> = p.services["web"]
            .volumes
            .iter()
            .map(|v| v.source.clone().unwrap())
            .collect();
        assert_eq!(sources, ["/srv/shop/site", "/home/me/cache", "data"]);
    }

    #[test]
    fn values_without_value_come_from_the_environment() {
        let p = project(
            "services: {web: {image: x, environment: [DEBUG, MISSING, A=1]}}\n",
            &[],
        );
        let env = &p.services["web"].environment;
        assert_eq!(env["DEBUG"].as_deref(), Some("1"));
        assert_eq!(env["MISSING"], None);
        assert_eq!(env["A"].as_deref(), Some("1"));
    }

    #[test]
    fn profiles_set_services_aside() {
        let text = "services:\n  web: {image: x}\n  debug: {image: y, profiles: [debug]}\n  tools: {image: z, profiles: [tools, debug]}\n";
        let p = project(text, &[]);
        assert_eq!(p.services.keys().collect::<Vec<_>>(), ["web"]);
        assert_eq!(p.disabled_services.len(), 2);
        let p = project(text, &["tools"]);
        assert_eq!(p.services.keys().collect::<Vec<_>>(), ["tools", "web"]);
        let p = project(text, &["*"]);
        assert_eq!(p.services.len(), 3);
    }

    #[test]
    fn built_images_are_named_after_project_and_service() {
        let p = project("services: {web: {build: .}, db: {image: postgres}}\n", &[]);
        assert_eq!(p.image_of("web"), "shop-web");
        assert_eq!(p.image_of("db"), "postgres");
    }

    #[test]
    fn absolute_works_out_dots() {
        let vars = BTreeMap::new();
        assert_eq!(
            absolute(Path::new("/a/b"), "../c/./d", &vars),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(
            absolute(Path::new("/a/b"), "/etc", &vars),
            PathBuf::from("/etc")
        );
        assert_eq!(
            absolute(Path::new("/a"), "~", &vars),
            PathBuf::from("/root")
        );
    }
}
