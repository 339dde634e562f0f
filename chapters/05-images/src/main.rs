//! `ch05-images`: pull images from registries and run them.

use anyhow::{Context, Result, bail};
use ch01_process::cli::ProcessArgs;
use ch01_process::explain;
use ch02_namespaces::cli::ContainerArgs;
use ch03_cgroups::cli::CgroupArgs;
use ch04_overlayfs::run::{Launch, RunError, StorageArgs};
use ch05_images::image::{self, ImageConfig};
use ch05_images::reference::{self, Reference};
use ch05_images::registry::Credentials;
use ch05_images::store::Store;
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Chapter 5 of skiff: images from registries: pull, images, rmi, tag, inspect, login, run
#[derive(Debug, Parser)]
#[command(name = "ch05-images", version)]
struct Cli {
    /// Print each step the engine asks of the kernel and the registry, on stderr
    #[arg(long, global = true)]
    explain: bool,

    /// Where images, layers, containers and volumes are kept
    #[arg(
        long,
        global = true,
        env = "SKIFF_ROOT",
        default_value = "/var/lib/skiff"
    )]
    root: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Download an image from its registry
    Pull { image: String },
    /// List the images here
    Images,
    /// Remove images, and the layers no other image uses
    Rmi { images: Vec<String> },
    /// Give an image another name
    Tag { source: String, target: String },
    /// Show an image's config as JSON
    Inspect { image: String },
    /// Store credentials for a registry (the password is read from stdin)
    Login {
        registry: String,
        #[arg(short, long)]
        username: String,
    },
    /// Run a command in a new container of IMAGE
    Run(Box<RunArgs>),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    container: ContainerArgs,

    #[command(flatten)]
    limits: CgroupArgs,

    #[command(flatten)]
    process: ProcessArgs,

    #[command(flatten)]
    storage: StorageArgs,

    /// The image to run
    image: String,

    /// The command, replacing the image's Cmd
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    explain::set_enabled(cli.explain);
    let root = cli.root.clone();
    // Every command needs root: say so before anything is tried.
    let outcome = match ch02_namespaces::container::require_root() {
        Err(error) => Err(error.into()),
        Ok(()) => match cli.command {
            Command::Pull { image } => pull(&root, &image),
            Command::Images => images(&root),
            Command::Rmi { images } => rmi(&root, &images),
            Command::Tag { source, target } => tag(&root, &source, &target),
            Command::Inspect { image } => inspect(&root, &image),
            Command::Login { registry, username } => login(&root, &registry, &username),
            Command::Run(args) => run(&root, &args),
        },
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!(
                "ch05-images: {}{}",
                ch01_process::exit::report(error.as_ref()),
                hint(&error)
            );
            std::process::exit(
                error
                    .downcast_ref::<RunError>()
                    .map_or(125, RunError::exit_code),
            );
        }
    }
}

/// What to do about errors of the machine rather than of the image.
fn hint(error: &anyhow::Error) -> &'static str {
    let full = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::StorageFull)
    });
    if full || format!("{error:#}").contains("No space left on device") {
        " (free some space, or give --root a directory on a larger filesystem)"
    } else {
        ""
    }
}

fn parse(image: &str) -> Result<Reference> {
    Ok(reference::parse(image)?)
}

/// Where `login` keeps credentials: readable by root only.
fn auth_file(root: &Path) -> PathBuf {
    root.join("auth.json")
}

fn credentials(root: &Path, registry: &str) -> Result<Option<Credentials>> {
    let Ok(text) = std::fs::read_to_string(auth_file(root)) else {
        return Ok(None);
    };
    let all: serde_json::Value =
        serde_json::from_str(&text).context("reading the stored credentials")?;
    Ok(all[registry].as_object().map(|entry| Credentials {
        user: entry["username"].as_str().unwrap_or_default().to_string(),
        password: entry["password"].as_str().unwrap_or_default().to_string(),
    }))
}

fn login(root: &Path, registry: &str, username: &str) -> Result<i32> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!(
            "no password on stdin: use `echo PASSWORD | ch05-images login {registry} -u {username}`"
        );
    }
    std::fs::create_dir_all(root)?;
    let path = auth_file(root);
    let mut all: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    all[registry] = serde_json::json!({ "username": username, "password": password });
    // Written with mode 0600 from the start, then renamed into place.
    let partial = path.with_extension("json.partial");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        file.write_all(serde_json::to_string_pretty(&all)?.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&partial, &path)?;
    println!("Login Succeeded");
    Ok(0)
}

fn pull(root: &Path, image: &str) -> Result<i32> {
    let reference = parse(image)?;
    let store = Store::open(root)?;
    let credentials = credentials(root, &reference.registry)?;
    let record = ch05_images::pull::pull(&store, &reference, credentials)?;
    println!("Digest: {}", record.manifest);
    println!("Downloaded image for {}", record.reference);
    Ok(0)
}

fn images(root: &Path) -> Result<i32> {
    let store = Store::open(root)?;
    println!("{:<50} {:<14} {:>8}", "REFERENCE", "IMAGE ID", "LAYERS");
    for record in store.images()? {
        println!(
            "{:<50} {:<14} {:>8}",
            record.reference,
            &record.config.hex()[..12],
            record.layers.len()
        );
    }
    Ok(0)
}

fn rmi(root: &Path, images: &[String]) -> Result<i32> {
    let store = Store::open(root)?;
    for image in images {
        let reference = parse(image)?;
        let removed = store.remove_image(&reference)?;
        println!("Untagged: {reference}");
        for layer in removed {
            println!("Deleted: {layer}");
        }
    }
    Ok(0)
}

fn tag(root: &Path, source: &str, target: &str) -> Result<i32> {
    let store = Store::open(root)?;
    store.tag(&parse(source)?, &parse(target)?)?;
    Ok(0)
}

fn config_of(
    store: &Store,
    reference: &Reference,
) -> Result<(ch05_images::store::ImageRecord, ImageConfig)> {
    let record = store.image(reference)?.with_context(|| {
        format!("no image {reference} here: pull it first (ch05-images pull {reference})")
    })?;
    let config: ImageConfig = serde_json::from_slice(&store.read_blob(&record.config)?)?;
    Ok((record, config))
}

fn inspect(root: &Path, image: &str) -> Result<i32> {
    let store = Store::open(root)?;
    let (_, config) = config_of(&store, &parse(image)?)?;
    println!("{}", serde_json::to_string_pretty(&config)?);
    Ok(0)
}

// ANCHOR: run
/// Runs IMAGE: its layers under chapter 4's overlay, its config as the
/// defaults. A missing image is pulled first *by another process*: the pull
/// starts threads (HTTP, parallel layers), and a process that has threads
/// must not create containers (chapter 2).
fn run(root: &Path, args: &RunArgs) -> Result<i32> {
    let reference = parse(&args.image)?;
    let store = Store::open(root)?;
    if store.image(&reference)?.is_none() {
        eprintln!("Unable to find image '{reference}' locally");
        let mut pull = std::process::Command::new("/proc/self/exe");
        if explain::enabled() {
            pull.arg("--explain");
        }
        let status = pull
            .arg("--root")
            .arg(root)
            .args(["pull", &args.image])
            // Like docker run, report the pull on stderr: stdout is the container's.
            .stdout(std::io::stderr())
            .status()?;
        if !status.success() {
            return Ok(125);
        }
    }
    let (record, config) = config_of(&store, &reference)?;
    let lowers = record
        .layers
        .iter()
        .map(|chain| store.layer_path(chain))
        .collect();
    let command = image::command(&config.config, &args.command);
    if command.is_empty() {
        bail!("{reference} has no command (Entrypoint or Cmd): give one after the image name");
    }
    Ok(ch04_overlayfs::run::run(Launch {
        state: root,
        container: &args.container,
        limits: &args.limits,
        process: &args.process,
        storage: &args.storage,
        lowers,
        command,
        base_env: config.config.env.clone().unwrap_or_default(),
        base_workdir: config
            .config
            .working_dir
            .clone()
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
        base_user: config.config.user.clone().filter(|u| !u.is_empty()),
    })?)
}
// ANCHOR_END: run
