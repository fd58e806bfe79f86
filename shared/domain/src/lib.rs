//! Pure types and rules of the deploy control plane: no I/O lives here.

pub mod authz;
pub mod bootstrap;
pub mod deployment;
pub mod diagnosis;
pub mod error;
pub mod error_code;
pub mod event;
pub mod failure;
pub mod logs;
pub mod model;
pub mod promotion;
pub mod rollback;
pub mod untrusted;
pub mod validate;

pub use authz::{Access, AppRole, Principal, TenantRole};
pub use bootstrap::{Bootstrap, BootstrapFailure, BootstrapStage, BootstrapStatus};
pub use deployment::{
    Deployment, DeploymentStatus, Environment, FailureReason, IllegalTransition, NewDeployment,
    TriggerSource,
};
pub use error::{Category, Error, FieldError};
pub use error_code::ErrorCode;
pub use event::{DomainEvent, EventKind};
pub use failure::{Cause, Stage};
pub use model::{App, GitConnection, Membership, Tenant};
pub use promotion::{PromoteStatus, Promotion};
pub use rollback::{Rollback, RollbackStatus};
