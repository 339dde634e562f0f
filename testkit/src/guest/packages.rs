//! Which installed Debian packages a guest needs: the ones named, and
//! everything they depend on, as dpkg's database says.
//!
//! A program is more than its ELF file and the libraries `ldd` lists:
//! `docker-compose` is a Python script that imports a dozen Python
//! packages, `dockerd` runs `containerd`, `runc` and `docker-init` (tini),
//! `ca-certificates` brings the certificates `requests` loads. Debian
//! already wrote these needs down, as each package's `Depends` and
//! `Pre-Depends`, so the guest takes the *closure*: the named packages,
//! what they depend on, what that depends on, and so on.
//!
//! Only *installed* packages count (the guest mirrors the host). A
//! dependency is a list of alternatives (`python3-cached-property |
//! python3`): the first one installed, or provided by an installed
//! package (`Provides:`, for virtual packages such as `awk`), is taken. An
//! alternative of which nothing is installed is left out: dpkg would not
//! have installed the package without it, so the host has it some other
//! way (an essential package, a diversion).

use std::collections::{BTreeSet, HashMap};

/// One installed package, as `dpkg-query` describes it.
#[derive(Debug, Clone, Default)]
struct Installed {
    /// Each dependency: its alternatives, by package name.
    depends: Vec<Vec<String>>,
}

/// The `dpkg-query` format [`closure`] reads: one package per line,
/// tab-separated.
pub const QUERY_FORMAT: &str =
    "${Package}\t${db:Status-Abbrev}\t${Depends}, ${Pre-Depends}\t${Provides}\n";

/// The names of `roots` and of every installed package they depend on,
/// directly or not, sorted. `database` is `dpkg-query -W -f` with
/// [`QUERY_FORMAT`]. Fails with the names of the roots that are not
/// installed.
///
/// ```
/// # use skiff_testkit::guest::packages::closure;
/// let db = "app\tii \tlib (>= 1), py:any | python3\t\n\
///           lib\tii \t, \t\n\
///           python3\tii \t, \t\n\
///           py\tun \t, \t\n";
/// assert_eq!(closure(db, &["app"]).unwrap(), ["app", "lib", "python3"]);
/// assert!(closure(db, &["py"]).is_err());
/// ```
pub fn closure(database: &str, roots: &[&str]) -> Result<Vec<String>, Vec<String>> {
    let mut installed: HashMap<String, Installed> = HashMap::new();
    // A virtual package's name -> the installed packages that provide it.
    let mut providers: HashMap<String, Vec<String>> = HashMap::new();
    for line in database.lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(status)) = (fields.next(), fields.next()) else {
            continue;
        };
        // "ii " is installed; "rc " (removed, configuration kept) and
        // "un " (unknown) are not.
        if !status.starts_with("ii") {
            continue;
        }
        let depends = relations(fields.next().unwrap_or_default());
        for provided in relations(fields.next().unwrap_or_default())
            .into_iter()
            .flatten()
        {
            providers
                .entry(provided)
                .or_default()
                .push(name.to_string());
        }
        installed.insert(name.to_string(), Installed { depends });
    }
    let missing: Vec<String> = roots
        .iter()
        .filter(|root| !installed.contains_key(**root))
        .map(|root| root.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut taken = BTreeSet::new();
    let mut todo: Vec<String> = roots.iter().map(|root| root.to_string()).collect();
    while let Some(name) = todo.pop() {
        if !taken.insert(name.clone()) {
            continue;
        }
        for alternatives in &installed[&name].depends {
            let chosen = alternatives.iter().find_map(|alternative| {
                if installed.contains_key(alternative) {
                    Some(alternative.clone())
                } else {
                    providers
                        .get(alternative)
                        .and_then(|by| by.first().cloned())
                }
            });
            if let Some(chosen) = chosen {
                todo.push(chosen);
            }
        }
    }
    Ok(taken.into_iter().collect())
}

/// A relation field (`a (>= 1), b:any | c, `) as alternatives by name:
/// versions and architecture qualifiers dropped, empty entries skipped.
fn relations(field: &str) -> Vec<Vec<String>> {
    field
        .split(',')
        .map(|dependency| {
            dependency
                .split('|')
                .filter_map(|alternative| {
                    let name = alternative.split_whitespace().next()?;
                    let name = name.split(':').next().unwrap_or(name);
                    (!name.is_empty()).then(|| name.to_string())
                })
                .collect::<Vec<_>>()
        })
        .filter(|alternatives| !alternatives.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_drop_versions_and_qualifiers() {
        assert_eq!(
            relations("libc6 (>= 2.34), python3:any | python3-x (>> 3.8), "),
            [vec!["libc6"], vec!["python3", "python3-x"]]
        );
        assert!(relations(", ").is_empty());
    }

    #[test]
    fn a_virtual_package_is_taken_from_its_provider() {
        let db = "tool\tii \tawk, missing-alt | lib\t\n\
                  mawk\tii \t, \tawk\n\
                  lib\tii \tlib, tool\t\n";
        // Cycles (lib -> lib, lib -> tool) end; the uninstalled
        // alternative is passed over for the installed one.
        assert_eq!(closure(db, &["tool"]).unwrap(), ["lib", "mawk", "tool"]);
    }

    #[test]
    fn removed_packages_are_not_installed() {
        let db = "app\tii \told\t\nold\trc \t, \t\n";
        assert_eq!(closure(db, &["app"]).unwrap(), ["app"]);
        assert_eq!(closure(db, &["old"]).unwrap_err(), ["old"]);
    }
}
