//! `GET …/diagnosis`: the live rollout of the app's sets, explained (DESIGN §2).

use axhub_domain::diagnosis::{Diagnosis, diagnose};
use axhub_domain::{Environment, Error, Principal};
use axhub_ports::cluster::ClusterError;
use uuid::Uuid;

use crate::{Deps, access, pipeline};

pub async fn diagnosis(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<Diagnosis, Error> {
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    if ctx.state.deployments_total == 0 {
        return Ok(diagnose(&app_id.to_string(), false, None));
    }
    let cluster = deps.cluster()?;
    let mut envs = vec![Environment::Production];
    if ctx.app.staging_enabled {
        envs.push(Environment::Staging);
    }
    let mut services = Vec::new();
    for env in envs {
        let w = pipeline::workload(deps, &ctx, env).await?;
        match cluster.facts(&w).await {
            Ok(Some(f)) => services.extend(f),
            Ok(None) => {}
            Err(ClusterError::Unavailable(m)) => {
                return Err(Error::unavailable(format!(
                    "the cluster cannot be read right now: {m}"
                )));
            }
            Err(ClusterError::Refused(m)) => {
                return Err(Error::internal(format!(
                    "the cluster refused to be read: {m}"
                )));
            }
        }
    }
    let facts = (!services.is_empty()).then_some(services);
    Ok(diagnose(&app_id.to_string(), true, facts))
}
