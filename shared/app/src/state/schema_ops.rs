//! The app's schema-op log (`SCHEMAOPS#{app}` / `{seq:012}`): every op the no-code DB service
//! recorded on staging, in `seq` order, with whether this service judges it destructive
//! (`axhub_appdb::destructive`, never a flag of the event). Promotion applies a window of it
//! to production; preflight lists the window a review would pin; the rollback guard looks for
//! destructive ops in production's past.

use axhub_domain::Error;
use axhub_ports::appdb::{SchemaOp, destructive};
use axhub_store::{Cond, Index, Key, Query, SkCond, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::codec::{from_item, to_item};
use crate::{Deps, store_error};

fn pk(app: Uuid) -> String {
    format!("SCHEMAOPS#{app}")
}

fn sk(seq: u64) -> String {
    format!("{seq:012}")
}

/// One op as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedOp {
    pub op: SchemaOp,
    pub destructive: bool,
}

/// Logs `op`; false when its seq is logged already (a redelivery, or a different op reusing
/// a seq, which keeps the first and is reported).
pub async fn record(deps: &Deps, app: Uuid, op: &SchemaOp) -> Result<bool, Error> {
    let logged = LoggedOp {
        destructive: destructive(&op.change),
        op: op.clone(),
    };
    let item = to_item(&Key::new(pk(app), sk(op.seq)), &logged)?;
    match deps.store.put(item, Some(Cond::NotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => {
            if let Some(first) = get(deps, app, op.seq).await?
                && first.op != *op
            {
                tracing::error!(%app, seq = op.seq, "a different schema op reuses a logged seq; the first is kept");
            }
            Ok(false)
        }
        Err(e) => Err(store_error(e)),
    }
}

async fn get(deps: &Deps, app: Uuid, seq: u64) -> Result<Option<LoggedOp>, Error> {
    match deps
        .store
        .get(&Key::new(pk(app), sk(seq)))
        .await
        .map_err(store_error)?
    {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// The highest logged seq (0 when none).
pub async fn latest(deps: &Deps, app: Uuid) -> Result<u64, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Primary, pk(app)).backward().limit(1))
        .await
        .map_err(store_error)?;
    Ok(page
        .items
        .first()
        .and_then(|i| i.get("op"))
        .and_then(|op| op.get("seq"))
        .and_then(Value::as_u64)
        .unwrap_or(0))
}

/// The ops with `after < seq <= through`, in seq order.
pub async fn window(
    deps: &Deps,
    app: Uuid,
    after: u64,
    through: u64,
) -> Result<Vec<LoggedOp>, Error> {
    let mut out = Vec::new();
    if through <= after {
        return Ok(out);
    }
    let mut start = None;
    loop {
        let page = deps
            .store
            .query(
                Query::new(Index::Primary, pk(app))
                    .sk(SkCond::Between(sk(after + 1), sk(through)))
                    .limit(1000)
                    .start_after(start),
            )
            .await
            .map_err(store_error)?;
        for item in page.items {
            out.push(from_item(item)?);
        }
        match page.last_key {
            Some(k) => start = Some(k),
            None => return Ok(out),
        }
    }
}
