//! Several files, one model: `-f compose.yaml -f compose.prod.yaml`.
//!
//! Compose reads the files in order and lays each one over the model so
//! far. The rules (compose specification, "Merge"):
//!
//! - **mappings are merged** key by key, recursively: a service named in
//!   two files is one service; `environment`, `labels`, `build.args`,
//!   `depends_on` and `networks` gain the later file's keys, a key in both
//!   takes the later value;
//! - **scalars are replaced**: the later `image` wins;
//! - **sequences are appended**, except where items have an identity:
//!   `ports` merge on `{host_ip, published, target, protocol}`, `volumes` on
//!   the target path, `env_file` on the path, and lists of plain values
//!   (`cap_add`, `dns`, `expose`, `profiles`...) keep each value once;
//! - **`command`, `entrypoint` and `healthcheck.test` are replaced**, never
//!   appended: two argvs laid end to end mean nothing.
//!
//! Merging happens on typed files (after substitution), so each rule is a
//! line of Rust about a field, and a file that is wrong on its own is
//! reported with its own name and line before any merge.

use crate::model::{
    Build, ComposeFile, Deploy, Healthcheck, Limits, NetworkDef, Resources, Service,
    ServiceNetwork, VolumeDef,
};
use std::collections::BTreeMap;

// ANCHOR: merge_files
/// Lays `over` onto `base`.
pub fn merge_files(mut base: ComposeFile, over: ComposeFile) -> ComposeFile {
    base.name = over.name.or(base.name);
    for (name, service) in over.services {
        match base.services.remove(&name) {
            Some(existing) => base.services.insert(name, merge_service(existing, service)),
            None => base.services.insert(name, service),
        };
    }
    merge_map(&mut base.networks, over.networks, merge_network);
    merge_map(&mut base.volumes, over.volumes, merge_volume);
    base
}
// ANCHOR_END: merge_files

fn merge_map<T>(base: &mut BTreeMap<String, T>, over: BTreeMap<String, T>, merge: fn(T, T) -> T) {
    for (key, value) in over {
        let merged = match base.remove(&key) {
            Some(existing) => merge(existing, value),
            None => value,
        };
        base.insert(key, merged);
    }
}

/// Appends the values of `over` that `base` does not hold yet.
fn union(mut base: Vec<String>, over: Vec<String>) -> Vec<String> {
    for value in over {
        if !base.contains(&value) {
            base.push(value);
        }
    }
    base
}

/// Merges lists whose items have an identity: an item of `over` with the
/// key of an item of `base` replaces it in place, others are appended.
fn merge_keyed<T>(mut base: Vec<T>, over: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    for item in over {
        match base.iter().position(|b| key(b) == key(&item)) {
            Some(i) => base[i] = item,
            None => base.push(item),
        }
    }
    base
}

// ANCHOR: merge_service
/// Lays the service `o` of a later file onto `b`.
pub fn merge_service(b: Service, o: Service) -> Service {
    let mut environment = b.environment;
    environment.extend(o.environment);
    let mut labels = b.labels;
    labels.extend(o.labels);
    let mut extra_hosts = b.extra_hosts;
    extra_hosts.extend(o.extra_hosts);
    let mut depends_on = b.depends_on;
    depends_on.extend(o.depends_on);
    let mut networks = b.networks;
    merge_map(&mut networks, o.networks, |b, o| match (b, o) {
        (Some(b), Some(o)) => Some(ServiceNetwork {
            aliases: union(b.aliases, o.aliases),
            ipv4_address: o.ipv4_address.or(b.ipv4_address),
        }),
        (b, o) => o.or(b),
    });
    Service {
        build: merge_option(b.build, o.build, merge_build),
        cap_add: union(b.cap_add, o.cap_add),
        cap_drop: union(b.cap_drop, o.cap_drop),
        command: o.command.or(b.command),
        container_name: o.container_name.or(b.container_name),
        cpus: o.cpus.or(b.cpus),
        depends_on,
        deploy: merge_option(b.deploy, o.deploy, merge_deploy),
        dns: union(b.dns, o.dns),
        entrypoint: o.entrypoint.or(b.entrypoint),
        env_file: merge_keyed(b.env_file, o.env_file, |f| f.path.clone()),
        environment,
        expose: union(b.expose, o.expose),
        extra_hosts,
        healthcheck: merge_option(b.healthcheck, o.healthcheck, merge_healthcheck),
        hostname: o.hostname.or(b.hostname),
        image: o.image.or(b.image),
        init: o.init.or(b.init),
        labels,
        mem_limit: o.mem_limit.or(b.mem_limit),
        networks,
        pids_limit: o.pids_limit.or(b.pids_limit),
        ports: merge_keyed(b.ports, o.ports, |p| p.merge_key()),
        profiles: union(b.profiles, o.profiles),
        read_only: o.read_only.or(b.read_only),
        restart: o.restart.or(b.restart),
        scale: o.scale.or(b.scale),
        security_opt: union(b.security_opt, o.security_opt),
        stop_grace_period: o.stop_grace_period.or(b.stop_grace_period),
        stop_signal: o.stop_signal.or(b.stop_signal),
        tmpfs: union(b.tmpfs, o.tmpfs),
        user: o.user.or(b.user),
        volumes: merge_keyed(b.volumes, o.volumes, |v| v.target.clone()),
        working_dir: o.working_dir.or(b.working_dir),
    }
}
// ANCHOR_END: merge_service

fn merge_option<T>(b: Option<T>, o: Option<T>, merge: fn(T, T) -> T) -> Option<T> {
    match (b, o) {
        (Some(b), Some(o)) => Some(merge(b, o)),
        (b, o) => o.or(b),
    }
}

fn merge_build(b: Build, o: Build) -> Build {
    let mut args = b.args;
    args.extend(o.args);
    let mut labels = b.labels;
    labels.extend(o.labels);
    Build {
        context: o.context.or(b.context),
        dockerfile: o.dockerfile.or(b.dockerfile),
        args,
        target: o.target.or(b.target),
        labels,
    }
}

fn merge_healthcheck(b: Healthcheck, o: Healthcheck) -> Healthcheck {
    Healthcheck {
        test: o.test.or(b.test),
        interval: o.interval.or(b.interval),
        timeout: o.timeout.or(b.timeout),
        retries: o.retries.or(b.retries),
        start_period: o.start_period.or(b.start_period),
        start_interval: o.start_interval.or(b.start_interval),
        disable: o.disable || b.disable,
    }
}

fn merge_deploy(b: Deploy, o: Deploy) -> Deploy {
    Deploy {
        replicas: o.replicas.or(b.replicas),
        resources: merge_option(b.resources, o.resources, |b, o| Resources {
            limits: merge_option(b.limits, o.limits, |b, o| Limits {
                cpus: o.cpus.or(b.cpus),
                memory: o.memory.or(b.memory),
                pids: o.pids.or(b.pids),
            }),
        }),
    }
}

/// Booleans that are `false` when absent cannot be reset by a later file
/// (`internal: false` does not undo `internal: true`): compose's own
/// `!reset` tag is the way, and it is not supported here.
fn merge_network(b: NetworkDef, o: NetworkDef) -> NetworkDef {
    let mut driver_opts = b.driver_opts;
    driver_opts.extend(o.driver_opts);
    let mut labels = b.labels;
    labels.extend(o.labels);
    NetworkDef {
        name: o.name.or(b.name),
        driver: o.driver.or(b.driver),
        driver_opts,
        internal: o.internal || b.internal,
        external: o.external || b.external,
        ipam: o.ipam.or(b.ipam),
        labels,
        enable_ipv6: o.enable_ipv6 || b.enable_ipv6,
        attachable: o.attachable || b.attachable,
    }
}

fn merge_volume(b: VolumeDef, o: VolumeDef) -> VolumeDef {
    let mut driver_opts = b.driver_opts;
    driver_opts.extend(o.driver_opts);
    let mut labels = b.labels;
    labels.extend(o.labels);
    VolumeDef {
        name: o.name.or(b.name),
        driver: o.driver.or(b.driver),
        driver_opts,
        external: o.external || b.external,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::from_node;
    use crate::node::parse;

    fn file(text: &str) -> ComposeFile {
        from_node(&parse(text, "c.yaml").unwrap()).unwrap()
    }

    fn merged(base: &str, over: &str) -> Service {
        merge_files(file(base), file(over))
            .services
            .remove("web")
            .unwrap()
    }

    #[test]
    fn scalars_are_replaced_and_kept() {
        let s = merged(
            "services: {web: {image: app:1, user: nobody}}\n",
            "services: {web: {image: app:2}}\n",
        );
        assert_eq!(
            (s.image.as_deref(), s.user.as_deref()),
            (Some("app:2"), Some("nobody"))
        );
    }

    #[test]
    fn mappings_are_merged_key_by_key() {
        let s = merged(
            "services: {web: {environment: [A=1, B=2], labels: {x: '1'}, depends_on: [db]}}\n",
            "services: {web: {environment: {B: '3', C: '4'}, depends_on: {cache: {condition: service_healthy}}}}\n",
        );
        let env: Vec<_> = s
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap()))
            .collect();
        assert_eq!(env, ["A=1", "B=3", "C=4"]);
        assert_eq!(s.labels["x"], "1");
        assert_eq!(s.depends_on.keys().collect::<Vec<_>>(), ["cache", "db"]);
    }

    #[test]
    fn ports_merge_on_their_identity() {
        let s = merged(
            "services: {web: {ports: ['8080:80', '9000:9000']}}\n",
            "services: {web: {ports: ['8080:80', '127.0.0.1:8080:80', {target: 9000, published: 9000, name: metrics}]}}\n",
        );
        let keys: Vec<_> = s.ports.iter().map(|p| p.merge_key()).collect();
        assert_eq!(
            keys,
            [
                "0.0.0.0:8080:80/tcp",
                "0.0.0.0:9000:9000/tcp",
                "127.0.0.1:8080:80/tcp"
            ]
        );
        assert_eq!(
            s.ports[1].name.as_deref(),
            Some("metrics"),
            "the later entry replaces in place"
        );
    }

    #[test]
    fn volumes_merge_on_their_target() {
        let s = merged(
            "services: {web: {volumes: ['foo:/work', './a:/a']}}\n",
            "services: {web: {volumes: ['bar:/work', './b:/b']}}\n",
        );
        let mounts: Vec<_> = s
            .volumes
            .iter()
            .map(|v| format!("{}:{}", v.source.as_deref().unwrap(), v.target))
            .collect();
        assert_eq!(mounts, ["bar:/work", "./a:/a", "./b:/b"]);
    }

    #[test]
    fn commands_are_replaced_not_appended() {
        let s = merged(
            "services: {web: {command: [echo, foo], entrypoint: [sh, -c], healthcheck: {test: [CMD, a], retries: 5}}}\n",
            "services: {web: {command: [echo, bar], healthcheck: {test: [CMD, b]}}}\n",
        );
        assert_eq!(s.command.unwrap(), ["echo", "bar"]);
        assert_eq!(s.entrypoint.unwrap(), ["sh", "-c"]);
        let h = s.healthcheck.unwrap();
        assert_eq!(
            (h.test.unwrap(), h.retries),
            (vec!["CMD".to_string(), "b".to_string()], Some(5))
        );
    }

    #[test]
    fn plain_lists_keep_each_value_once() {
        let s = merged(
            "services: {web: {dns: [1.1.1.1], cap_add: [NET_ADMIN], expose: [80]}}\n",
            "services: {web: {dns: [8.8.8.8, 1.1.1.1], cap_add: [NET_ADMIN, SYS_TIME], expose: ['80', 81]}}\n",
        );
        assert_eq!(s.dns, ["1.1.1.1", "8.8.8.8"]);
        assert_eq!(s.cap_add, ["NET_ADMIN", "SYS_TIME"]);
        assert_eq!(s.expose, ["80", "81"]);
    }

    #[test]
    fn nested_sections_merge_field_by_field() {
        let s = merged(
            "services: {web: {build: {context: ., args: {A: '1'}}, deploy: {replicas: 2, resources: {limits: {memory: 1g}}}, networks: {front: {aliases: [a]}}}}\n",
            "services: {web: {build: {dockerfile: Dockerfile.prod, args: {B: '2'}}, deploy: {resources: {limits: {cpus: 1}}}, networks: {front: {aliases: [b]}, back: }}}\n",
        );
        let build = s.build.unwrap();
        assert_eq!(
            (build.context.as_deref(), build.dockerfile.as_deref()),
            (Some("."), Some("Dockerfile.prod"))
        );
        assert_eq!(build.args.len(), 2);
        let deploy = s.deploy.unwrap();
        let limits = deploy.resources.unwrap().limits.unwrap();
        assert_eq!(
            (
                deploy.replicas,
                limits.memory.is_some(),
                limits.cpus.is_some()
            ),
            (Some(2), true, true)
        );
        assert_eq!(s.networks["front"].as_ref().unwrap().aliases, ["a", "b"]);
        assert!(s.networks.contains_key("back"));
    }

    #[test]
    fn top_level_sections_merge() {
        let f = merge_files(
            file(
                "name: one\nservices: {a: {image: x}}\nnetworks: {n: {driver: bridge}}\nvolumes: {v: {}}\n",
            ),
            file(
                "name: two\nservices: {b: {image: y}}\nnetworks: {n: {internal: true}}\nvolumes: {w: {external: true}}\n",
            ),
        );
        assert_eq!(f.name.as_deref(), Some("two"));
        assert_eq!(f.services.len(), 2);
        assert_eq!(
            (f.networks["n"].driver.as_deref(), f.networks["n"].internal),
            (Some("bridge"), true)
        );
        assert!(f.volumes["w"].external && f.volumes.contains_key("v"));
    }
}
