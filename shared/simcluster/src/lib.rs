//! The simulated cluster: builds and rollouts take configurable time, and fail or crash-loop
//! on demand, so the whole pipeline runs on one laptop and in tests.
//!
//! Failures are asked for per commit, in code (`SimCluster::script`) or, for people trying
//! axhub-local, by the commit id's first six characters (rare enough never to hit a real or
//! random commit by accident): `fa11b0…` the build fails, `fa11e0…` the push loses the image,
//! `fa11d0…` the rollout misses its deadline, `c4a5c0…` the app crash-loops (with hostile
//! output), `1a9e00…` the image cannot be pulled. Any other commit succeeds.
//!
//! It is the registry too (`Registry`): a sim build pushes a fresh manifest (its digest a hash
//! of the image and the build) under its tag and reports the digest, as kaniko does; the
//! manifest stays until `SimCluster::delete_image` forgets it, and `SimCluster::move_tag`
//! points a tag at another manifest, as a foreign push would. And it mints push credentials
//! (`PushCredentials`): one per build, naming its tenant, and a build whose credential names
//! another tenant than its image's is denied its push, as ECR denies a scoped session.

mod cluster;
mod facts;
pub mod logs;
mod registry;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axhub_ports::cluster::{ClusterError, Workload};
use axhub_ports::registry::{ImageRef, Reference, pinned};
use uuid::Uuid;

use crate::logs::LogBook;
use crate::registry::push;

/// What happens to one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Succeed,
    FailBuild,
    LoseImage,
    RolloutDeadline,
    CrashLoop,
    ImagePull,
}

impl Behaviour {
    fn for_commit(commit: &str) -> Self {
        match commit {
            c if c.starts_with("fa11b0") => Behaviour::FailBuild,
            c if c.starts_with("fa11e0") => Behaviour::LoseImage,
            c if c.starts_with("fa11d0") => Behaviour::RolloutDeadline,
            c if c.starts_with("c4a5c0") => Behaviour::CrashLoop,
            c if c.starts_with("1a9e00") => Behaviour::ImagePull,
            _ => Behaviour::Succeed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub build_time: Duration,
    pub rollout_time: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            build_time: Duration::from_secs(3),
            rollout_time: Duration::from_secs(2),
        }
    }
}

#[derive(Default)]
struct State {
    builds: HashMap<Uuid, (Instant, String)>,
    /// Builds started, in order (tests count them: a redelivered job never builds twice).
    build_log: Vec<Uuid>,
    cancelled: HashSet<Uuid>,
    /// Tag URI → the digest it names.
    tags: HashMap<String, String>,
    /// Pinned URIs (`repo@sha256:…`) of the manifests held, each with the commit it was
    /// built from (what the rollout behaviour is decided by).
    manifests: HashMap<String, String>,
    /// The push credential each build was started with.
    push_credentials: HashMap<Uuid, Option<String>>,
    /// The digest each build pushed.
    build_digest: HashMap<Uuid, String>,
    /// Per workload (namespace/name): image and when its rollout began.
    rollouts: HashMap<String, (String, Instant)>,
    scripted: HashMap<String, Behaviour>,
    unavailable: bool,
    /// Applying a workload is refused with this message (a cluster's RBAC or admission text).
    refuse_apply: Option<String>,
    /// Build and runtime log lines per workload (namespace/name), oldest first.
    logs: HashMap<String, Vec<String>>,
}

/// Log lines kept per workload.
const LOG_LINES: usize = 500;

fn log(s: &mut State, workload: &str, line: String) {
    tracing::info!(target: "axhub_sim", workload, "{line}");
    let lines = s.logs.entry(workload.to_owned()).or_default();
    lines.push(line);
    let excess = lines.len().saturating_sub(LOG_LINES);
    lines.drain(..excess);
}

pub struct SimCluster {
    config: SimConfig,
    state: Mutex<State>,
    /// What the apps' containers print (the runtime logs), fed by rollouts.
    runtime_logs: Arc<LogBook>,
}

fn key(w: &Workload) -> String {
    format!("{}/{}", w.namespace(), w.name())
}

/// The commit an image was built from: a tag URI's tag, a pinned URI's manifest's.
fn commit_of(s: &State, image: &str) -> String {
    match ImageRef::parse(image).map(|i| i.reference) {
        Ok(Reference::Digest(_)) => s.manifests.get(image).cloned().unwrap_or_default(),
        _ => image.rsplit(':').next().unwrap_or("").to_owned(),
    }
}

impl SimCluster {
    pub fn new(config: SimConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            runtime_logs: Arc::new(LogBook::default()),
        }
    }

    /// The runtime-log backend the sim's app containers print to.
    pub fn runtime_logs(&self) -> Arc<LogBook> {
        self.runtime_logs.clone()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, ClusterError> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| ClusterError::Unavailable("sim state poisoned".into()))?;
        if s.unavailable {
            return Err(ClusterError::Unavailable("simulated outage".into()));
        }
        Ok(f(&mut s))
    }

    /// Decides what happens to `commit`, overriding its prefix.
    pub fn script(&self, commit: &str, behaviour: Behaviour) {
        if let Ok(mut s) = self.state.lock() {
            s.scripted.insert(commit.to_owned(), behaviour);
        }
    }

    /// Makes every call fail as unreachable (true) or work again (false).
    pub fn set_unavailable(&self, down: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.unavailable = down;
        }
    }

    /// Makes applying a workload fail for good with `message`, as a cluster that forbids it
    /// does (None: apply works again).
    pub fn refuse_apply(&self, message: Option<&str>) {
        if let Ok(mut s) = self.state.lock() {
            s.refuse_apply = message.map(str::to_owned);
        }
    }

    /// Deployment ids of every build started, in order.
    pub fn builds_started(&self) -> Vec<Uuid> {
        self.state
            .lock()
            .map(|s| s.build_log.clone())
            .unwrap_or_default()
    }

    pub fn builds_cancelled(&self) -> Vec<Uuid> {
        self.state
            .lock()
            .map(|s| s.cancelled.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Forgets a pushed image, as if the registry lost it (a lifecycle policy, an operator):
    /// by tag, the tag and the manifest it names; by digest, the manifest and the tags on
    /// it. `Registry::missing` and `digest` no longer find it. Nothing if it was not there.
    pub fn delete_image(&self, image_uri: &str) {
        if let Ok(mut s) = self.state.lock() {
            let pin = match s.tags.remove(image_uri) {
                Some(digest) => pinned(image_uri, &digest).ok(),
                None => Some(image_uri.to_owned()),
            };
            if let Some(pin) = pin {
                s.manifests.remove(&pin);
                s.tags
                    .retain(|tag, digest| pinned(tag, digest).ok().as_ref() != Some(&pin));
            }
        }
    }

    /// Points `tag_uri` at a new manifest (of the same commit), as a push from outside the
    /// platform would; the new digest.
    pub fn move_tag(&self, tag_uri: &str) -> Option<String> {
        let mut s = self.state.lock().ok()?;
        let commit = tag_uri.rsplit(':').next().unwrap_or("").to_owned();
        push(&mut s, tag_uri, &commit, "moved")
    }

    /// The push credential each build was started with, by deployment.
    pub fn push_credential_of(&self, deployment_id: Uuid) -> Option<String> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.push_credentials.get(&deployment_id).cloned().flatten())
    }

    /// The image the workload runs, if any.
    pub fn running_image(&self, w: &Workload) -> Option<String> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.rollouts.get(&key(w)).map(|r| r.0.clone()))
    }

    /// The build and runtime log lines the workload emitted, oldest first.
    pub fn log_lines(&self, w: &Workload) -> Vec<String> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.logs.get(&key(w)).cloned())
            .unwrap_or_default()
    }

    fn behaviour(s: &State, commit: &str) -> Behaviour {
        s.scripted
            .get(commit)
            .copied()
            .unwrap_or_else(|| Behaviour::for_commit(commit))
    }
}
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use axhub_domain::Environment;

    use axhub_ports::cluster::{BuildRequest, BuildState, Cluster};
    use axhub_ports::registry::{PushCredentials, PushScope, Registry, RegistryError};

    use super::*;

    fn build(commit: &str) -> BuildRequest {
        let tenant_id = Uuid::now_v7();
        BuildRequest {
            deployment_id: Uuid::now_v7(),
            workload: Workload {
                tenant_id,
                app_id: Uuid::now_v7(),
                app_slug: "app".into(),
                environment: Environment::Production,
                host: "app.t.axhub.ai".into(),
            },
            repo_full_name: "o/app".into(),
            commit_sha: commit.into(),
            image_uri: format!("registry.test/{}/app:{commit}", tenant_id.simple()),
            clone_token: None,
            push_credential: None,
        }
    }

    /// Runs the build; the digest it reported.
    async fn run(sim: &SimCluster, b: &BuildRequest) -> Option<String> {
        sim.start_build(b).await.unwrap();
        match sim.build_state(b).await.unwrap() {
            BuildState::Succeeded { digest } => digest,
            other => panic!("{other:?}"),
        }
    }

    fn instant() -> SimCluster {
        SimCluster::new(SimConfig {
            build_time: Duration::ZERO,
            rollout_time: Duration::ZERO,
        })
    }

    #[tokio::test]
    async fn a_build_reports_the_digest_the_tag_names_and_each_build_pushes_a_new_one() {
        let sim = instant();
        let b = build("abc123");
        let digest = run(&sim, &b).await.unwrap();
        // Asked again, the same build reports the same manifest.
        assert_eq!(run(&sim, &b).await.as_ref(), Some(&digest));
        assert_eq!(
            sim.digest(&b.image_uri).await.unwrap().as_ref(),
            Some(&digest)
        );
        let pin = pinned(&b.image_uri, &digest).unwrap();
        assert!(
            sim.missing(std::slice::from_ref(&pin))
                .await
                .unwrap()
                .is_empty()
        );

        let mut again = b.clone();
        again.deployment_id = Uuid::now_v7();
        let second = run(&sim, &again).await.unwrap();
        assert_ne!(second, digest);
        assert_eq!(sim.digest(&b.image_uri).await.unwrap(), Some(second));
        // The first manifest is still held by its digest.
        assert!(
            sim.missing(std::slice::from_ref(&pin))
                .await
                .unwrap()
                .is_empty()
        );

        let moved = sim.move_tag(&b.image_uri).unwrap();
        assert_eq!(sim.digest(&b.image_uri).await.unwrap(), Some(moved));
        assert!(
            sim.digest(&pin).await.is_err(),
            "a digest URI has no tag to ask"
        );
    }

    #[tokio::test]
    async fn a_push_credential_of_another_tenant_is_denied() {
        let sim = instant();
        let mut b = build("abc123");
        let other = PushScope {
            deployment_id: b.deployment_id,
            tenant_id: Uuid::now_v7(),
            repository_prefix: "registry.test/other".into(),
        };
        b.push_credential = Some(sim.mint(&other).await.unwrap());
        sim.start_build(&b).await.unwrap();
        assert!(matches!(
            sim.build_state(&b).await.unwrap(),
            BuildState::Failed { .. }
        ));

        let mut ok = build("abc123");
        let own = PushScope {
            deployment_id: ok.deployment_id,
            tenant_id: ok.workload.tenant_id,
            repository_prefix: "registry.test/own".into(),
        };
        ok.push_credential = Some(sim.mint(&own).await.unwrap());
        assert!(run(&sim, &ok).await.is_some());
        assert!(sim.push_credential_of(ok.deployment_id).is_some());
    }

    #[tokio::test]
    async fn the_registry_holds_what_builds_pushed_until_it_is_deleted() {
        let sim = instant();
        let pushed = build("abc123");
        let lost = build("fa11e0abc");
        run(&sim, &pushed).await;
        assert_eq!(run(&sim, &lost).await, None);
        let never = "registry.test/t/app:never".to_owned();
        let by_digest = format!("registry.test/t/app@sha256:{}", "0".repeat(64));
        let asked = [
            never.clone(),
            pushed.image_uri.clone(),
            lost.image_uri.clone(),
            by_digest.clone(),
        ];
        assert_eq!(
            sim.missing(&asked).await.unwrap(),
            vec![never, lost.image_uri.clone(), by_digest]
        );
        assert!(sim.missing(&[]).await.unwrap().is_empty());

        sim.delete_image(&pushed.image_uri);
        assert_eq!(sim.digest(&pushed.image_uri).await.unwrap(), None);
        assert_eq!(
            sim.missing(std::slice::from_ref(&pushed.image_uri))
                .await
                .unwrap(),
            vec![pushed.image_uri.clone()]
        );
        sim.delete_image("registry.test/t/app:never");

        // A rebuild pushes it again.
        run(&sim, &build("abc123")).await;
    }

    #[tokio::test]
    async fn the_registry_refuses_what_is_not_an_image_and_fails_in_an_outage() {
        let sim = SimCluster::new(SimConfig::default());
        let bad = ["registry.test/t/app:ok".to_owned(), "app".to_owned()];
        match sim.missing(&bad).await {
            Err(RegistryError::Refused(m)) => assert!(m.contains("\"app\""), "{m}"),
            other => panic!("{other:?}"),
        }
        sim.set_unavailable(true);
        assert!(matches!(
            sim.missing(&["registry.test/t/app:ok".to_owned()]).await,
            Err(RegistryError::Unavailable(_))
        ));
    }
}
