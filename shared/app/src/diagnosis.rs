//! `GET …/diagnosis`: the live rollout of the app's sets, explained (DESIGN §2).

use axhub_domain::diagnosis::{Diagnosis, diagnose};
use axhub_domain::{Environment, Error, Principal};
use uuid::Uuid;

use crate::{Deps, access, cluster_error, pipeline};

pub async fn diagnosis(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<Diagnosis, Error> {
    let ctx = access::app_to_inspect(deps, who, app_id).await?;
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
            Err(e) => return Err(cluster_error(&e)),
        }
    }
    let facts = (!services.is_empty()).then_some(services);
    Ok(diagnose(&app_id.to_string(), true, facts))
}
