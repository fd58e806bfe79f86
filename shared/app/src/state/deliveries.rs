//! GitHub webhook deliveries (`GHDELIVERY#{id}` / `GHDELIVERY`), remembered for
//! [`TTL_SECONDS`]: recorded when received, with the compact work they ask for (never the
//! payload: an item holds at most 400 KB), `state: queued`; the worker then records what they
//! did, `state: done` with the outcome. The record is written only if none is live, in the
//! unit of work that queues its job, so a redelivered id finds it and queues nothing.

use axhub_domain::Error;
use axhub_store::{Cond, Key, TxOp, Update};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::codec::from_item;
use super::{Guard, UnitOfWork};
use crate::{Deps, store_error};

/// How long a delivery id is remembered (GitHub redelivers only what someone asks for, within
/// days).
pub const TTL_SECONDS: i64 = 7 * 24 * 3600;

pub const QUEUED: &str = "queued";
pub const DONE: &str = "done";

pub fn key(id: &str) -> Key {
    Key::new(format!("GHDELIVERY#{id}"), "GHDELIVERY")
}

/// A delivery as recorded: `W` is the work it asks for, `O` what it did once done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRecord<W, O> {
    pub delivery_id: String,
    pub event: String,
    /// `queued` until the worker ran it, then `done`.
    pub state: String,
    /// When it was received, in microseconds since the epoch: the order of pushes.
    pub received_at: i64,
    pub work: W,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub outcome: Option<O>,
    pub ttl: i64,
}

fn none<O>() -> Option<O> {
    None
}

/// The delivery's record, if it is remembered.
pub async fn get<W: DeserializeOwned, O: DeserializeOwned>(
    deps: &Deps,
    id: &str,
) -> Result<Option<DeliveryRecord<W, O>>, Error> {
    let item = deps.store.get(&key(id)).await.map_err(store_error)?;
    item.map(from_item).transpose()
}

/// What a remembered delivery did, if it is done (for the answer to a redelivery).
pub async fn outcome<O: DeserializeOwned>(deps: &Deps, id: &str) -> Result<Option<O>, Error> {
    Ok(get::<Value, O>(deps, id).await?.and_then(|r| r.outcome))
}

impl UnitOfWork {
    /// Records a received delivery as queued: holds only if its id is not remembered (or its
    /// record expired) at `now` (epoch seconds).
    pub fn record_delivery<W: Serialize>(
        &mut self,
        record: &DeliveryRecord<W, ()>,
        now: i64,
    ) -> Result<(), Error> {
        let item = super::codec::to_item(&key(&record.delivery_id), record)?;
        self.push(
            TxOp::Put {
                item,
                cond: Some(Cond::absent_or_expired(now)),
            },
            Some(Guard::Delivery),
        );
        Ok(())
    }

    /// Records what the delivery did; it stays remembered until its ttl.
    pub fn finish_delivery<O: Serialize>(&mut self, id: &str, outcome: &O) -> Result<(), Error> {
        let outcome =
            serde_json::to_value(outcome).map_err(|_| Error::internal("could not encode"))?;
        self.push(
            TxOp::Update {
                key: key(id),
                update: Update::new().set("state", DONE).set("outcome", outcome),
                cond: Some(Cond::Exists),
            },
            Some(Guard::Delivery),
        );
        Ok(())
    }
}
