//! Git connections and install state tokens (webhook deliveries are in `deliveries`).
//!
//! - Connection: `APP#{id}` / `GIT`, findable by repository (GSI1 `REPO#{owner/repo,
//!   lowercase}`) and by installation (GSI2 `GHINST#{id}`), both sorted by app id: how a push
//!   finds its apps and an uninstall its connections.
//! - Install state token: `GHSTATE#{sha256(token)}` / `GHSTATE` `{app_id, tenant_id, user_id,
//!   ttl}`; only the hash is stored, and it is consumed by a conditional delete.

use axhub_domain::{Error, GitConnection};
use axhub_store::{Cond, Index, Item, Key, Query, TxOp, Update};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::{from_item, index, to_item};
use super::{Guard, UnitOfWork, app_pk};
use crate::{Deps, store_error};

/// The sort key of an app's connection, beside its read model and state.
pub const CONNECTION: &str = "GIT";
/// At most this many pages of connections are read for one repository or installation.
const MAX_PAGES: usize = 10;

fn connection_key(app: Uuid) -> Key {
    Key::new(app_pk(app), CONNECTION)
}

fn repo_pk(repo_full_name: &str) -> String {
    format!("REPO#{}", repo_full_name.to_ascii_lowercase())
}

fn installation_pk(installation_id: i64) -> String {
    format!("GHINST#{installation_id}")
}

pub(super) fn decode(item: Item) -> Result<GitConnection, Error> {
    from_item(item)
}

/// The connection as stored, with its lookup keys.
fn connection_item(g: &GitConnection) -> Result<Item, Error> {
    let mut item = to_item(&connection_key(g.app_id), g)?;
    let app = g.app_id.to_string();
    index(
        &mut item,
        Index::Gsi1,
        repo_pk(&g.repo_full_name),
        app.clone(),
    );
    index(
        &mut item,
        Index::Gsi2,
        installation_pk(g.installation_id),
        app,
    );
    Ok(item)
}

/// The condition that the stored connection is still the one read (same repository and
/// installation).
fn still(g: &GitConnection) -> Cond {
    Cond::And(vec![
        Cond::eq("installation_id", g.installation_id),
        Cond::eq("repo_full_name", g.repo_full_name.clone()),
    ])
}

/// Writes a connection without an event: for seeding. Use cases go through a unit of work,
/// which records `GitConnected`.
pub async fn put_connection(deps: &Deps, g: &GitConnection) -> Result<(), Error> {
    deps.store
        .put(connection_item(g)?, None)
        .await
        .map_err(store_error)
}

async fn connections(deps: &Deps, index: Index, pk: String) -> Result<Vec<GitConnection>, Error> {
    let mut out = Vec::new();
    let mut start = None;
    for _ in 0..MAX_PAGES {
        let page = deps
            .store
            .query(Query::new(index, pk.clone()).limit(100).start_after(start))
            .await
            .map_err(store_error)?;
        for item in page.items {
            out.push(decode(item)?);
        }
        match page.last_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    Ok(out)
}

/// The connections to one repository (matched case-insensitively): keyed queries, no scan.
pub async fn connections_to_repo(
    deps: &Deps,
    repo_full_name: &str,
) -> Result<Vec<GitConnection>, Error> {
    connections(deps, Index::Gsi1, repo_pk(repo_full_name)).await
}

/// The connections made through one GitHub App installation.
pub async fn connections_through_installation(
    deps: &Deps,
    installation_id: i64,
) -> Result<Vec<GitConnection>, Error> {
    connections(deps, Index::Gsi2, installation_pk(installation_id)).await
}

impl UnitOfWork {
    /// Writes the connection, replacing any.
    pub fn put_connection(&mut self, g: &GitConnection) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: connection_item(g)?,
                cond: None,
            },
            None,
        );
        Ok(())
    }

    /// Removes the connection, only if it is still the one read.
    pub fn remove_connection(&mut self, g: &GitConnection) {
        self.push(
            TxOp::Delete {
                key: connection_key(g.app_id),
                cond: Some(still(g)),
            },
            Some(Guard::Connection),
        );
    }

    /// Points the connection at `g.branch`, only if it is still the connection read.
    pub fn retarget_branch(&mut self, g: &GitConnection) {
        self.push(
            TxOp::Update {
                key: connection_key(g.app_id),
                update: Update::new().set("branch", g.branch.clone()),
                cond: Some(still(g)),
            },
            Some(Guard::Connection),
        );
    }
}

// --- install state tokens -------------------------------------------------------------------

pub fn state_token_key(hash: &str) -> Key {
    Key::new(format!("GHSTATE#{hash}"), "GHSTATE")
}

/// What a state token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    pub app_id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: String,
    /// Epoch seconds after which the token is no longer valid.
    pub ttl: i64,
}

/// Keeps a new state token's record under its hash; fails if the hash is taken.
pub async fn put_state_token(deps: &Deps, hash: &str, record: &StateRecord) -> Result<(), Error> {
    let item = to_item(&state_token_key(hash), record)?;
    deps.store
        .put(item, Some(Cond::NotExists))
        .await
        .map_err(store_error)
}

pub async fn state_token(deps: &Deps, hash: &str) -> Result<Option<StateRecord>, Error> {
    let item = deps
        .store
        .get(&state_token_key(hash))
        .await
        .map_err(store_error)?;
    item.map(from_item).transpose()
}

impl UnitOfWork {
    /// Consumes the state token: holds only if it is still there and valid at `now`.
    pub fn consume_state_token(&mut self, hash: &str, now: i64) {
        self.push(
            TxOp::Delete {
                key: state_token_key(hash),
                cond: Some(Cond::And(vec![Cond::Exists, Cond::gt("ttl", now)])),
            },
            Some(Guard::StateToken),
        );
    }
}
