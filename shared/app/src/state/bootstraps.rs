//! Bootstrap sagas (`BOOTSTRAP#{id}` / `META`) and the names a running saga holds for the app
//! it will create (`APPNAMES#{tenant}` / `SLUG#{slug}` and `SUBDOMAIN#{subdomain}`): two sagas,
//! or a saga and itself retried, can never both take one slug or subdomain. The names are
//! given back when the saga ends; from then on the app's own read model holds them (its
//! indexes, `apps::slug_owner`).
//!
//! A running saga also has a watch (`BOOTSTRAPWATCH` / `{updated_at + STALL_AFTER:012}#{id}`),
//! moved by every write of the saga and removed when it ends, so the watchdog
//! (`bootstrap::watchdog`) finds the sagas nothing moved for [`STALL_AFTER`] with one keyed
//! query, oldest first.

use std::time::Duration;

use axhub_domain::{Bootstrap, Error};
use axhub_store::{Cond, Key, SK, TxOp};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::codec::{bare, from_item, to_item};
use super::{Guard, UnitOfWork};
use crate::{Deps, store_error};

fn key(id: Uuid) -> Key {
    Key::new(format!("BOOTSTRAP#{id}"), "META")
}

fn names_pk(tenant: Uuid) -> String {
    format!("APPNAMES#{tenant}")
}

fn slug_key(tenant: Uuid, slug: &str) -> Key {
    Key::new(names_pk(tenant), format!("SLUG#{slug}"))
}

fn subdomain_key(tenant: Uuid, subdomain: &str) -> Key {
    Key::new(names_pk(tenant), format!("SUBDOMAIN#{subdomain}"))
}

const WATCHES: &str = "BOOTSTRAPWATCH";

/// How long a running saga may go without a write before the watchdog looks at it: longer
/// than any wait a step asks for (a rate limit's, at most 15 minutes) plus a step's run.
pub const STALL_AFTER: Duration = Duration::from_secs(30 * 60);

fn watch_key(b: &Bootstrap) -> Key {
    let due = b.updated_at + STALL_AFTER;
    Key::new(
        WATCHES,
        format!("{:012}#{}", due.unix_timestamp().max(0), b.id),
    )
}

/// A saga's watch that came due.
#[derive(Debug, Clone)]
pub struct Watch {
    pub bootstrap_id: Uuid,
    key: Key,
}

impl Watch {
    /// Whether this is the saga's watch as it is now (no write moved it since).
    pub fn is_current(&self, b: &Bootstrap) -> bool {
        watch_key(b) == self.key
    }
}

/// The watches due before `now`, oldest first, at most `max`.
pub async fn stalled(deps: &Deps, now: OffsetDateTime, max: u32) -> Result<Vec<Watch>, Error> {
    Ok(super::trackers::due(deps, WATCHES, now, max)
        .await?
        .into_iter()
        .filter_map(|item| {
            let sk = item.get(SK).and_then(Value::as_str)?.to_owned();
            let id = sk
                .split_once('#')
                .and_then(|(_, id)| Uuid::parse_str(id).ok())?;
            Some(Watch {
                bootstrap_id: id,
                key: Key::new(WATCHES, sk),
            })
        })
        .collect())
}

/// Removes a watch its saga moved past.
pub async fn drop_watch(deps: &Deps, stale: &Watch) {
    if let Err(e) = deps.store.delete(&stale.key, None).await {
        tracing::warn!(error = %e, "could not remove a stale bootstrap watch");
    }
}

pub async fn get(deps: &Deps, id: Uuid) -> Result<Option<Bootstrap>, Error> {
    match deps.store.get(&key(id)).await.map_err(store_error)? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

impl UnitOfWork {
    /// A new saga with its names: holds only if neither the saga nor either name is taken.
    pub fn insert_bootstrap(&mut self, b: &Bootstrap) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: to_item(&key(b.id), b)?,
                cond: Some(Cond::NotExists),
            },
            None,
        );
        let holder = [
            ("bootstrap_id", b.id.to_string().into()),
            ("app_id", b.app_id.to_string().into()),
        ];
        self.push(
            TxOp::Put {
                item: bare(&slug_key(b.tenant_id, &b.slug), holder.clone()),
                cond: Some(Cond::NotExists),
            },
            Some(Guard::Slug),
        );
        self.push(
            TxOp::Put {
                item: bare(&subdomain_key(b.tenant_id, &b.subdomain), holder),
                cond: Some(Cond::NotExists),
            },
            Some(Guard::Subdomain),
        );
        self.watch(b);
        Ok(())
    }

    fn watch(&mut self, b: &Bootstrap) {
        let item = bare(&watch_key(b), [("bootstrap_id", b.id.to_string().into())]);
        self.push(TxOp::Put { item, cond: None }, None);
    }

    /// Writes `new` over `old`, only if nobody moved the saga since `old` was read (the
    /// version grows with every write).
    /// Its watch moves with it (or goes, once it ended).
    pub fn replace_bootstrap(&mut self, old: &Bootstrap, new: &Bootstrap) -> Result<(), Error> {
        debug_assert_eq!(new.version, old.version + 1);
        self.push(
            TxOp::Put {
                item: to_item(&key(new.id), new)?,
                cond: Some(Cond::eq("version", old.version)),
            },
            Some(Guard::Bootstrap),
        );
        let moved = watch_key(old) != watch_key(new);
        // Written within the same second, the watch stays (one transaction may not touch
        // an item twice).
        if moved || !new.is_running() {
            self.push(
                TxOp::Delete {
                    key: watch_key(old),
                    cond: None,
                },
                None,
            );
        }
        if moved && new.is_running() {
            self.watch(new);
        }
        Ok(())
    }

    /// Gives the saga's names back (it ended), if it still holds them.
    pub fn release_names(&mut self, b: &Bootstrap) {
        for key in [
            slug_key(b.tenant_id, &b.slug),
            subdomain_key(b.tenant_id, &b.subdomain),
        ] {
            self.push(
                TxOp::Delete {
                    key,
                    cond: Some(Cond::Or(vec![
                        Cond::NotExists,
                        Cond::eq("bootstrap_id", b.id.to_string()),
                    ])),
                },
                None,
            );
        }
    }
}
