//! Deployments (`DEP#{id}` / `META`): the app's history on GSI1 (`APPDEPS#{app}`, sorted by
//! the dense zero-padded `seq`) and the tenant's feed on GSI2 (`TENDEPS#{tenant}`, sorted by
//! the UUIDv7 id).

use axhub_domain::{Deployment, Error};
use axhub_store::{Cond, Index, Item, Key, Query, SkCond, TxOp};
use uuid::Uuid;

use super::codec::{bare, from_item, index, to_item};
use super::{Guard, UnitOfWork};
use crate::{Deps, store_error};

const STATUS: &str = "status";
const UPDATED_AT: &str = "updated_at";

pub fn key(id: Uuid) -> Key {
    Key::new(format!("DEP#{id}"), "META")
}

fn history_pk(app: Uuid) -> String {
    format!("APPDEPS#{app}")
}

fn seq_sk(seq: u64) -> String {
    format!("{seq:012}")
}

fn feed_pk(tenant: Uuid) -> String {
    format!("TENDEPS#{tenant}")
}

/// The deployment as an item with its two feed index keys.
pub fn item(d: &Deployment) -> Result<Item, Error> {
    let mut item = to_item(&key(d.id), d)?;
    index(&mut item, Index::Gsi1, history_pk(d.app_id), seq_sk(d.seq));
    index(
        &mut item,
        Index::Gsi2,
        feed_pk(d.tenant_id),
        d.id.to_string(),
    );
    Ok(item)
}

pub async fn get(deps: &Deps, id: Uuid) -> Result<Option<Deployment>, Error> {
    match deps.store.get(&key(id)).await.map_err(store_error)? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// Up to `limit` of the app's deployments with `seq <= at_most`, newest first: one keyed
/// query whatever the history's length.
pub async fn history(
    deps: &Deps,
    app: Uuid,
    at_most: u64,
    limit: u32,
) -> Result<Vec<Deployment>, Error> {
    let page = deps
        .store
        .query(
            Query::new(Index::Gsi1, history_pk(app))
                .sk(SkCond::Le(seq_sk(at_most)))
                .backward()
                .limit(limit),
        )
        .await
        .map_err(store_error)?;
    page.items.into_iter().map(from_item).collect()
}

/// Up to `limit` of the tenant's deployments created before `before` (all when `None`),
/// newest first.
pub async fn feed(
    deps: &Deps,
    tenant: Uuid,
    before: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Deployment>, Error> {
    let start_after = before.map(|id| {
        let mut k = bare(&key(id), []);
        index(&mut k, Index::Gsi2, feed_pk(tenant), id.to_string());
        k
    });
    let page = deps
        .store
        .query(
            Query::new(Index::Gsi2, feed_pk(tenant))
                .backward()
                .limit(limit)
                .start_after(start_after),
        )
        .await
        .map_err(store_error)?;
    page.items.into_iter().map(from_item).collect()
}

impl UnitOfWork {
    /// A new deployment (its id must be fresh).
    pub fn insert_deployment(&mut self, d: &Deployment) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: item(d)?,
                cond: Some(Cond::NotExists),
            },
            Some(Guard::Deployment),
        );
        Ok(())
    }

    /// Writes `new` over `old`, only if nobody moved the deployment since `old` was read.
    pub fn replace_deployment(&mut self, old: &Deployment, new: &Deployment) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: item(new)?,
                cond: Some(Cond::And(vec![
                    Cond::eq(STATUS, old.status.as_str()),
                    Cond::eq(
                        UPDATED_AT,
                        axhub_domain::deployment::rfc3339(old.updated_at),
                    ),
                ])),
            },
            Some(Guard::Deployment),
        );
        Ok(())
    }
}
