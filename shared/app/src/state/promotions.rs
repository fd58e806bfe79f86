//! Promotions (`PROMOTION#{request_id}` / `META`): a review's approved release going to
//! production, one per review request. While one is `promoting` it also sits on GSI1
//! `PROMOTING#{app}`, so "is a promotion running for this app" is one keyed query.

use axhub_domain::deployment::rfc3339;
use axhub_domain::{Error, PromoteStatus, Promotion};
use axhub_store::{Cond, Index, Item, Key, Query, TxOp};
use uuid::Uuid;

use super::codec::{from_item, index, to_item};
use super::{Guard, UnitOfWork};
use crate::{Deps, store_error};

fn key(request: Uuid) -> Key {
    Key::new(format!("PROMOTION#{request}"), "META")
}

fn promoting_pk(app: Uuid) -> String {
    format!("PROMOTING#{app}")
}

fn item(p: &Promotion) -> Result<Item, Error> {
    let mut item = to_item(&key(p.request_id), p)?;
    if p.status == PromoteStatus::Promoting {
        index(
            &mut item,
            Index::Gsi1,
            promoting_pk(p.app_id),
            p.request_id.to_string(),
        );
    }
    Ok(item)
}

pub async fn get(deps: &Deps, request: Uuid) -> Result<Option<Promotion>, Error> {
    match deps.store.get(&key(request)).await.map_err(store_error)? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// Whether a promotion of the app is `promoting`.
pub async fn any_promoting(deps: &Deps, app: Uuid) -> Result<bool, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Gsi1, promoting_pk(app)).limit(1))
        .await
        .map_err(store_error)?;
    Ok(!page.items.is_empty())
}

impl UnitOfWork {
    /// Starts the promotion of a review; holds only if that review has none yet.
    pub fn insert_promotion(&mut self, p: &Promotion) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: item(p)?,
                cond: Some(Cond::NotExists),
            },
            Some(Guard::Promotion),
        );
        Ok(())
    }

    /// Writes `new` over `old`, only if nobody moved the promotion since `old` was read.
    pub fn replace_promotion(&mut self, old: &Promotion, new: &Promotion) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: item(new)?,
                cond: Some(Cond::And(vec![
                    Cond::eq("status", old.status.as_str()),
                    Cond::eq("attempt", old.attempt),
                    Cond::eq("updated_at", rfc3339(old.updated_at)),
                ])),
            },
            Some(Guard::Promotion),
        );
        Ok(())
    }
}
