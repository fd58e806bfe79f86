//! The app bootstrap endpoint group: `POST …/app-bootstraps` checks the request and starts a
//! saga (one unit of work: the saga, the names it holds, its first job, the idempotency
//! record); `GET …/app-bootstraps/{id}` reports it. The saga itself ([`saga`]) runs on the
//! bootstrap queue, one step per job: app → repo → push → connect → deploy → done.

mod cleanup;
pub mod saga;
mod steps;
pub mod watchdog;
mod wire;

use axhub_domain::bootstrap as rules;
use axhub_domain::{
    Access, Bootstrap, BootstrapStage, BootstrapStatus, Error, ErrorCode, Principal,
};
use serde_json::Value;
use uuid::Uuid;

use crate::idempotency::IdempotencyKey;
use crate::jobs::{BOOTSTRAP_QUEUE, Job};
use crate::state::{Guard, Refused, UnitOfWork, apps, bootstraps};
use crate::{Deps, access, git};

pub use wire::*;

/// The saga's status URL.
pub fn status_url(tenant: Uuid, id: Uuid) -> String {
    format!("/api/v1/tenants/{tenant}/app-bootstraps/{id}")
}

/// The request's fields, each checked (a 400 naming the first bad one).
struct Checked {
    name: String,
    slug: String,
    subdomain: String,
    repo_name: String,
    github_owner: String,
    repo_private: bool,
    template_id: Uuid,
}

fn check_fields(deps: &Deps, input: &CreateBootstrap) -> Result<Checked, Error> {
    let name = rules::name(input.name.as_deref())?;
    let slug = rules::label("slug", input.slug.as_deref(), rules::SLUG_LEN)?;
    let subdomain = rules::label(
        "subdomain",
        input.subdomain.as_deref(),
        rules::SUBDOMAIN_LEN,
    )?;
    let repo_name = rules::repo_name(input.repo_name.as_deref())?;
    let github_owner = rules::github_owner(input.github_owner.as_deref())?;
    let raw_template = input.template_id.as_deref().unwrap_or_default().trim();
    if raw_template.is_empty() {
        return Err(Error::field(
            "template_id",
            ErrorCode::Required,
            "choose a template from GET /api/v1/templates",
        ));
    }
    let template_id = axhub_domain::validate::uuid("template_id", raw_template)?;
    if deps.templates.get(template_id).is_none() {
        return Err(Error::field(
            "template_id",
            ErrorCode::InvalidValue,
            "is not a template of the catalog (GET /api/v1/templates)",
        ));
    }
    Ok(Checked {
        name,
        slug,
        subdomain,
        repo_name,
        github_owner,
        repo_private: input.repo_private.unwrap_or(true),
        template_id,
    })
}

fn slug_taken(slug: &str) -> Error {
    Error::field(
        "slug",
        ErrorCode::InvalidValue,
        format!("{slug} is already used by an app of this tenant"),
    )
}

fn subdomain_taken(subdomain: &str) -> Error {
    Error::field(
        "subdomain",
        ErrorCode::InvalidValue,
        format!("{subdomain} is already used by an app of this tenant"),
    )
}

/// `POST /api/v1/tenants/{tenantID}/app-bootstraps`.
pub async fn create(
    deps: &Deps,
    who: &Principal,
    tenant: Uuid,
    input: CreateBootstrap,
    idempotency_key: Option<&str>,
) -> Result<Accepted, Error> {
    access::tenant_member(deps, who, tenant).await?;
    who.require(Access::Write)?;
    let idem = idempotency_key
        .map(|k| {
            let fingerprint = serde_json::to_value(&input).unwrap_or(Value::Null);
            IdempotencyKey::parse(
                k,
                &who.user_id,
                &format!("app-bootstraps:{tenant}"),
                &fingerprint,
            )
        })
        .transpose()?;
    if let Some(first) = replay(deps, idem.as_ref()).await? {
        return Ok(first);
    }
    let f = check_fields(deps, &input)?;
    let installation_id = match input.github_installation_id {
        Some(id) if id > 0 => id,
        Some(_) => {
            return Err(Error::field(
                "github_installation_id",
                ErrorCode::InvalidValue,
                "must be a positive integer",
            ));
        }
        None => {
            return Err(Error::new(
                ErrorCode::GithubAppNotInstalled,
                "install the axhub GitHub App on the account that will own the repository, \
                 then pass its github_installation_id",
            ));
        }
    };
    let gh = git::github(deps)?;
    let repos = steps::repos(deps)?;
    if !gh
        .user_has_installation(&who.user_id, installation_id)
        .await?
    {
        return Err(Error::forbidden(format!(
            "GitHub installation {installation_id} is not one of yours"
        )));
    }
    let Some(account) = repos.installation_account(installation_id).await? else {
        return Err(Error::new(
            ErrorCode::GithubAppNotInstalled,
            format!("the GitHub App is no longer installed as installation {installation_id}"),
        ));
    };
    if !account.login.eq_ignore_ascii_case(&f.github_owner) {
        return Err(Error::field(
            "github_owner",
            ErrorCode::InvalidValue,
            format!(
                "installation {installation_id} is on the account {}, not {}",
                account.login, f.github_owner
            ),
        ));
    }
    let app_id = Uuid::now_v7();
    let (slug_owner, subdomain_owner) =
        apps::name_owners(deps, tenant, &f.slug, &f.subdomain, app_id).await?;
    if slug_owner.is_some() {
        return Err(slug_taken(&f.slug));
    }
    if subdomain_owner.is_some() {
        return Err(subdomain_taken(&f.subdomain));
    }
    let now = deps.now();
    let b = Bootstrap {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        created_by: who.user_id.clone(),
        name: f.name,
        slug: f.slug,
        subdomain: f.subdomain,
        repo_name: f.repo_name,
        // GitHub's spelling of the account, as the installation names it.
        github_owner: account.login,
        repo_private: f.repo_private,
        template_id: f.template_id,
        installation_id,
        owner_is_organization: account.is_organization,
        app_id,
        stage: BootstrapStage::App,
        status: BootstrapStatus::Running,
        app_created: false,
        repo_full_name: None,
        repo_created: false,
        default_branch: None,
        initial_commit: None,
        commit_sha: None,
        deployment_id: None,
        error_code: None,
        error_message: None,
        attempts: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let accepted = Accepted {
        bootstrap_id: b.id,
        status_url: status_url(tenant, b.id),
        replayed: false,
    };
    let body = serde_json::to_value(&accepted).map_err(|_| Error::internal("encode"))?;
    let mut work = UnitOfWork::new();
    work.insert_bootstrap(&b)?;
    work.enqueue(
        BOOTSTRAP_QUEUE,
        Job::Bootstrap { bootstrap_id: b.id }.body(),
        std::time::Duration::ZERO,
    )?;
    if let Some(idem) = &idem {
        idem.record(&mut work, now, 202, body);
    }
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(bootstrap_id = %b.id, tenant_id = %tenant, app_id = %app_id, "bootstrap started");
            Ok(accepted)
        }
        Err(refused) if refused.lost(Guard::Idempotency) => replay(deps, idem.as_ref())
            .await?
            .ok_or_else(|| Refused::Lost { guards: vec![] }.into_error()),
        Err(refused) if refused.lost(Guard::Slug) => Err(slug_taken(&b.slug)),
        Err(refused) if refused.lost(Guard::Subdomain) => Err(subdomain_taken(&b.subdomain)),
        Err(refused) => Err(refused.into_error()),
    }
}

async fn replay(deps: &Deps, idem: Option<&IdempotencyKey>) -> Result<Option<Accepted>, Error> {
    let Some(idem) = idem else { return Ok(None) };
    let Some(first) = idem.lookup(deps).await? else {
        return Ok(None);
    };
    let mut a: Accepted = serde_json::from_value(first.body)
        .map_err(|_| Error::internal("the first answer could not be read"))?;
    a.replayed = true;
    Ok(Some(a))
}

/// `GET /api/v1/tenants/{tenantID}/app-bootstraps/{bootstrapID}`: members of the tenant; any
/// other tenant's saga does not exist.
pub async fn get(
    deps: &Deps,
    who: &Principal,
    tenant: Uuid,
    id: Uuid,
) -> Result<BootstrapView, Error> {
    access::tenant_member(deps, who, tenant).await?;
    match bootstraps::get(deps, id).await? {
        Some(b) if b.tenant_id == tenant => Ok(BootstrapView::from(&b)),
        _ => Err(Error::not_found("app bootstrap")),
    }
}
