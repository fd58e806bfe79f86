//! Live rollout diagnosis (DESIGN §2): platform facts decide the `reason`; whatever the app
//! printed is only ever a `signal`, marked untrusted, stripped of control characters and
//! bounded, so that agents reading the answer can tell the two apart.

use serde::{Deserialize, Serialize};

/// What the cluster says about one service (one Deployment) of an app: Kubernetes facts,
/// extracted by the cluster adapter from Deployment, Pod and Event objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceFacts {
    pub name: String,
    pub desired_replicas: i32,
    pub ready_replicas: i32,
    pub updated_replicas: i32,
    pub available_replicas: i32,
    /// Deployment conditions (Available, Progressing, ReplicaFailure).
    pub conditions: Vec<ConditionFact>,
    pub pods: Vec<PodFact>,
    /// Warning events about the Deployment, its ReplicaSets and Pods, newest last.
    pub events: Vec<EventFact>,
    /// Tail of the app's own output (previous container's logs of a crashing pod). Untrusted.
    pub log_tail: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConditionFact {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodFact {
    pub name: String,
    pub phase: String,
    /// Pod conditions (PodScheduled, Ready, ContainersReady, Initialized).
    pub conditions: Vec<ConditionFact>,
    pub containers: Vec<ContainerFact>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerFact {
    pub name: String,
    pub ready: bool,
    pub restart_count: i32,
    /// state.waiting.reason / message (CrashLoopBackOff, ImagePullBackOff, …).
    pub waiting_reason: Option<String>,
    pub waiting_message: Option<String>,
    /// state.terminated or lastState.terminated: reason (OOMKilled, Error), exit code, and the
    /// termination message, which the app writes itself (untrusted).
    pub terminated_reason: Option<String>,
    pub exit_code: Option<i32>,
    pub termination_message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFact {
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub object: String,
    pub count: i32,
}

/// The answer of `GET /apps/{appID}/diagnosis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Diagnosis {
    pub app_id: String,
    /// False when the app has never been deployed: there is nothing to diagnose.
    pub applicable: bool,
    pub healthy: bool,
    pub services: Vec<ServiceDiagnosis>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceDiagnosis {
    pub name: String,
    pub healthy: bool,
    /// Why it is unhealthy, from platform facts only; null when healthy.
    pub reason: Option<Reason>,
    /// What the app itself printed: untrusted, sanitized, bounded.
    pub signals: Vec<Signal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    pub stage: String,
    pub code: String,
    /// `app` (the app's code or config), `image`, `config`, `capacity`, `platform`.
    pub category: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signal {
    /// `log` or `termination_message`.
    pub kind: String,
    pub source: String,
    /// Always true: this text comes from the app, not the platform.
    pub untrusted: bool,
    pub text: String,
    pub truncated: bool,
}

/// Longest text of one signal, in characters.
pub const SIGNAL_MAX_CHARS: usize = 512;
/// Most signals per service.
pub const SIGNALS_MAX: usize = 20;
