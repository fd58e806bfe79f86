//! One vocabulary for why something failed, shared by a deployment's `failure_reason`, the
//! reaper and diagnosis: the stage is where it showed (the pipeline's own stage names, as
//! `current_stage` gives them, plus `runtime` for a running app), the cause has exactly one
//! code and one category.

use serde::{Deserialize, Serialize};

/// Where a failure showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Pending,
    Building,
    Pushing,
    Deploying,
    /// The app was rolled out and runs (diagnosis of a live set).
    Runtime,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Building => "building",
            Stage::Pushing => "pushing",
            Stage::Deploying => "deploying",
            Stage::Runtime => "runtime",
        }
    }
}

/// Every cause the platform names. A cause is the same code wherever it is reported: a
/// crash loop is `runtime.crash_loop` in a failed deployment and in diagnosis alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The image build exited with an error (the app's Dockerfile or dependencies).
    BuildFailed,
    /// The build ran past its deadline.
    BuildDeadlineExceeded,
    /// The build disappeared from the cluster before it finished.
    BuildLost,
    /// The build finished but its image is not in the registry.
    ImageMissing,
    /// The image cannot be pulled (missing, or access refused).
    ImagePullFailed,
    /// The app keeps exiting at start-up.
    CrashLoop,
    /// The app is killed for using more memory than its limit.
    OomKilled,
    /// The app runs but fails its readiness check.
    ReadinessFailed,
    /// The app runs but is not ready yet.
    NotReady,
    /// A container cannot be created from its configuration (missing secret, key, …).
    ConfigInvalid,
    /// No node can take the pod.
    Unschedulable,
    /// The rollout made no progress before its deadline.
    ProgressDeadlineExceeded,
    /// Fewer replicas are ready than desired.
    ReplicasUnavailable,
    /// The workload disappeared from the cluster during the rollout.
    WorkloadLost,
    /// The cluster refused a request for good (permissions, invalid object).
    ClusterRefused,
    /// The app was deleted while it was being deployed.
    AppDeleted,
    /// The change spent longer than its stage deadline and was stopped (the reaper).
    Timeout,
    /// A schema op of a promotion cannot apply to the production database (a column it
    /// names is missing, a cast the data does not allow, …).
    SchemaOpRefused,
}

impl Cause {
    /// The wire code.
    pub fn code(self) -> &'static str {
        match self {
            Cause::BuildFailed => "build.failed",
            Cause::BuildDeadlineExceeded => "build.deadline_exceeded",
            Cause::BuildLost => "build.not_found",
            Cause::ImageMissing => "push.image_missing",
            Cause::ImagePullFailed => "image.pull_failed",
            Cause::CrashLoop => "runtime.crash_loop",
            Cause::OomKilled => "runtime.oom_killed",
            Cause::ReadinessFailed => "runtime.readiness_failed",
            Cause::NotReady => "runtime.not_ready",
            Cause::ConfigInvalid => "config.invalid",
            Cause::Unschedulable => "capacity.unschedulable",
            Cause::ProgressDeadlineExceeded => "deploy.progress_deadline_exceeded",
            Cause::ReplicasUnavailable => "deploy.replicas_unavailable",
            Cause::WorkloadLost => "deploy.not_found",
            Cause::ClusterRefused => "platform.cluster_refused",
            Cause::AppDeleted => "app_deleted",
            Cause::Timeout => "timeout",
            Cause::SchemaOpRefused => "schema.op_refused",
        }
    }

    /// Whose move it is: `app` (the app's code or settings), `image`, `config`, `capacity`
    /// or `platform`.
    pub fn category(self) -> &'static str {
        match self {
            Cause::BuildFailed | Cause::CrashLoop | Cause::OomKilled => "app",
            Cause::ReadinessFailed | Cause::NotReady => "app",
            Cause::ImageMissing | Cause::ImagePullFailed => "image",
            Cause::ConfigInvalid => "config",
            Cause::Unschedulable => "capacity",
            Cause::BuildDeadlineExceeded | Cause::BuildLost | Cause::ProgressDeadlineExceeded => {
                "platform"
            }
            Cause::ReplicasUnavailable | Cause::WorkloadLost | Cause::ClusterRefused => "platform",
            Cause::AppDeleted | Cause::Timeout => "platform",
            Cause::SchemaOpRefused => "app",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
