//! `axhub-local`: the whole deploy control plane as one process on embedded defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{Signal, SignalKind, signal};

#[derive(Parser)]
#[command(
    name = "axhub-local",
    about = "axhub-deploy in one process: every API on one port, SQLite state"
)]
struct Args {
    /// Where state lives (kept across restarts).
    #[arg(long, env = "AXHUB_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, env = "AXHUB_PORT", default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "AXHUB_BIND", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Seed a demo tenant, people and app, and print a token for each person.
    #[arg(long)]
    demo: bool,
    /// HS256 secret for bearer tokens (default: one kept in the data directory).
    #[arg(long, env = "AXHUB_JWT_SECRET", hide_env_values = true, global = true)]
    jwt_secret: Option<String>,
    /// How long a simulated build takes, in milliseconds.
    #[arg(long, env = "AXHUB_SIM_BUILD_MS", default_value_t = 3000)]
    sim_build_ms: u64,
    /// How long a simulated rollout takes, in milliseconds.
    #[arg(long, env = "AXHUB_SIM_ROLLOUT_MS", default_value_t = 2000)]
    sim_rollout_ms: u64,
    /// PostgreSQL for the apps' databases (`postgres://user@host:port/db`); default: SQLite
    /// files under the data directory.
    #[arg(long, env = "AXHUB_APP_DB_URL", hide_env_values = true)]
    app_db_url: Option<String>,
    #[command(flatten)]
    github: axhub_local::github::GitHubArgs,
    #[command(flatten)]
    kube: axhub_local::kube::KubeArgs,
    /// Use the simulated GitHub (on by default with --demo; never with --github-app-id).
    #[arg(long, env = "AXHUB_SIM_GITHUB")]
    sim_github: bool,
    /// The app bootstrap's template catalog (JSON: `{repository, ref, items:[{id, name,
    /// description, folder_name, resource_tier}]}`); the simulated GitHub brings a demo one.
    #[arg(long, env = "AXHUB_TEMPLATE_CATALOG_FILE")]
    template_catalog: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Add tenants, members and apps, mint tokens (on the data directory; prints JSON).
    #[command(subcommand)]
    Admin(axhub_local::admin::Action),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,axhub=debug".into()),
        )
        .init();
    let args = Args::parse();
    let sim = axhub_simcluster::SimConfig {
        build_time: std::time::Duration::from_millis(args.sim_build_ms),
        rollout_time: std::time::Duration::from_millis(args.sim_rollout_ms),
    };
    axhub_local::files::data_dir(&args.data_dir)?;
    let app_db = axhub_local::app_db(&args.data_dir, args.app_db_url.as_deref()).await?;
    // Bound first: the simulated GitHub is reached at this process's own address.
    let listener = match &args.command {
        Some(_) => None,
        None => Some(tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port)).await?),
    };
    let base_url = match &listener {
        Some(l) => format!("http://{}", l.local_addr()?),
        None => String::new(),
    };
    let sim_github =
        listener.is_some() && (args.sim_github || args.demo) && args.github.github_app_id.is_none();
    let git_host = args
        .github
        .github_web_url
        .split("://")
        .nth(1)
        .unwrap_or("github.com")
        .trim_end_matches('/')
        .to_owned();
    let kube = match &args.command {
        Some(_) => None,
        None => args.kube.target(&git_host).await?,
    };
    let local = axhub_local::open(
        &args.data_dir,
        axhub_local::Options {
            jwt_secret: args.jwt_secret.as_deref(),
            sim,
            github: &args.github,
            app_db,
            sim_github_at: sim_github.then_some(base_url.as_str()),
            kube,
            template_catalog: args.template_catalog.as_deref(),
        },
    )?;
    if let Some(Command::Admin(action)) = args.command {
        let out = axhub_local::admin::run(&local.state.deps, &local.jwt_secret, action)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code.as_str(), e.message))?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let listener = listener.context("no listener")?;
    // From here on a stop is graceful (until here, nothing was in flight to lose).
    let mut signals = Signals::new()?;
    if args.demo {
        let demo = axhub_local::demo::seed(
            &local.state.deps,
            &local.data_dir,
            &local.jwt_secret,
            &base_url,
        )
        .await?;
        println!(
            "axhub-local demo: tenant {} app {}",
            demo.tenant_id, demo.app_id
        );
        for (name, user) in &demo.users {
            println!("  {name:<8} {:<14} Bearer {}", user.user_id, user.token);
        }
        println!(
            "  written to {}",
            local.data_dir.join("demo.json").display()
        );
        if let Some(setup) = &local.sim_github {
            let people: Vec<&str> = demo.users.values().map(|u| u.user_id.as_str()).collect();
            axhub_local::simgithub::seed_demo(setup, &local.state.deps, &people).await?;
            println!(
                "  GitHub: simulated at {base_url}{}",
                axhub_simgithub::API_PREFIX
            );
        }
    }
    println!("axhub-local listening on {base_url}");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks =
        axhub_local::background::spawn(local.state.deps.clone(), &local.background, stop_rx);
    let app = axhub_local::router(
        local.state.clone(),
        &local.jwt_secret,
        local.sim_github.clone(),
    );
    let stop = async move {
        let name = signals.recv().await;
        tracing::info!(
            signal = name,
            "stopping: no new connections, requests in flight finish, the worker finishes its job"
        );
        let _ = stop_tx.send(true);
        tokio::spawn(async move {
            let name = signals.recv().await;
            tracing::warn!(signal = name, "second signal: exiting at once");
            std::process::exit(1);
        });
    };
    axhub_local::serve::serve(listener, app, axhub_local::serve::LIMITS, stop).await;
    // A job the worker is in the middle of gets this long; one cut off runs again after its
    // visibility timeout, as after a crash.
    let background = async {
        for t in tasks {
            let _ = t.await;
        }
    };
    if tokio::time::timeout(BACKGROUND_STOP, background)
        .await
        .is_err()
    {
        tracing::warn!("background work still running after {BACKGROUND_STOP:?}; exiting anyway");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long the worker and maintenance loops get to finish what they are doing.
const BACKGROUND_STOP: std::time::Duration = std::time::Duration::from_secs(30);

/// SIGTERM (service managers, `kill`, the SDK tests) and SIGINT (ctrl-c) both ask for a
/// graceful stop; a second one while stopping ends the process at once.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
