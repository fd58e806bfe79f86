//! Rollbacks (`ROLLBACK#{id}` / `META`): production going back to an earlier release, held
//! in the app's slot while it rolls out.

use axhub_domain::{Error, Rollback};
use axhub_store::{Cond, Key, TxOp};
use uuid::Uuid;

use super::codec::{from_item, to_item};
use super::{Guard, UnitOfWork};
use crate::{Deps, store_error};

fn key(id: Uuid) -> Key {
    Key::new(format!("ROLLBACK#{id}"), "META")
}

pub async fn get(deps: &Deps, id: Uuid) -> Result<Option<Rollback>, Error> {
    match deps.store.get(&key(id)).await.map_err(store_error)? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

impl UnitOfWork {
    pub fn insert_rollback(&mut self, r: &Rollback) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: to_item(&key(r.id), r)?,
                cond: Some(Cond::NotExists),
            },
            None,
        );
        Ok(())
    }

    /// Writes `new` over `old`, only if nobody moved the rollback since `old` was read.
    pub fn replace_rollback(&mut self, old: &Rollback, new: &Rollback) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: to_item(&key(new.id), new)?,
                cond: Some(Cond::And(vec![
                    Cond::eq("status", old.status.as_str()),
                    Cond::eq(
                        "updated_at",
                        axhub_domain::deployment::rfc3339(old.updated_at),
                    ),
                ])),
            },
            Some(Guard::Deployment),
        );
        Ok(())
    }
}
