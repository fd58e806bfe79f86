//! The state store port (DESIGN §4): narrow and DynamoDB-shaped so that the SQLite and the
//! DynamoDB adapters give the same answers. One conformance suite (`conformance`) runs against
//! every adapter.
//!
//! An item is a JSON object. Every item has string attributes `pk` and `sk`; items may carry
//! `gsi1pk`/`gsi1sk` and `gsi2pk`/`gsi2sk` (sparse secondary indexes, both strings) and `ttl`
//! (epoch seconds). Items whose `ttl` has passed are invisible to `get` and `query` on every
//! adapter (DynamoDB deletes them lazily), but conditions still see them until they are gone,
//! exactly as DynamoDB does: callers that reuse an expired key say so in their condition.

mod cond;
pub mod conformance;

pub use cond::{Cond, eval_cond};

use async_trait::async_trait;
use serde_json::{Map, Value};

pub type Item = Map<String, Value>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const TTL: &str = "ttl";

/// The most operations one transaction may hold (DynamoDB's limit).
pub const MAX_TRANSACTION_OPS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub fn of(item: &Item) -> Result<Self, StoreError> {
        let s = |n: &str| {
            item.get(n)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| StoreError::InvalidItem(format!("missing string attribute {n}")))
        };
        Ok(Self {
            pk: s(PK)?,
            sk: s(SK)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Primary,
    Gsi1,
    Gsi2,
}

impl Index {
    /// The attribute names of this index's partition and sort key.
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self {
            Index::Primary => (PK, SK),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2pk", "gsi2sk"),
        }
    }

    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Primary => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
        }
    }
}

/// A sort-key condition of a keyed query (string comparison, as DynamoDB does for S keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkCond {
    BeginsWith(String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
    Between(String, String),
}

#[derive(Debug, Clone)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: Option<SkCond>,
    /// Ascending sort-key order when true, descending when false.
    pub forward: bool,
    /// At most this many items are read (1..=1000).
    pub limit: u32,
    /// Continue after this key (the `last_key` of the previous page).
    pub start_after: Option<Item>,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index,
            pk: pk.into(),
            sk: None,
            forward: true,
            limit: 100,
            start_after: None,
        }
    }
    pub fn sk(mut self, c: SkCond) -> Self {
        self.sk = Some(c);
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
    pub fn start_after(mut self, k: Option<Item>) -> Self {
        self.start_after = k;
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when the query stopped at `limit`: the key attributes (table and index keys)
    /// of the last item read. Pass it as `start_after` to go on. The next page may be empty.
    pub last_key: Option<Item>,
}

/// Attribute changes of an update. An update of a missing item creates it (with its key),
/// as DynamoDB's UpdateItem does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub remove: Vec<String>,
    /// Atomic counters: adds the number to the attribute (missing counts as 0).
    pub add: Vec<(String, i64)>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set.push((name.to_owned(), v.into()));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }
    pub fn add(mut self, name: &str, n: i64) -> Self {
        self.add.push((name.to_owned(), n));
        self
    }

    /// Applies the update to an item in memory (adapters without native updates use this).
    pub fn apply(&self, key: &Key, old: Option<Item>) -> Item {
        let mut item = old.unwrap_or_default();
        item.insert(PK.into(), Value::String(key.pk.clone()));
        item.insert(SK.into(), Value::String(key.sk.clone()));
        for (k, v) in &self.set {
            item.insert(k.clone(), v.clone());
        }
        for k in &self.remove {
            item.remove(k);
        }
        for (k, n) in &self.add {
            let cur = item.get(k).and_then(Value::as_i64).unwrap_or(0);
            item.insert(k.clone(), Value::from(cur + n));
        }
        item
    }
}

#[derive(Debug, Clone)]
pub enum TxOp {
    Put {
        item: Item,
        cond: Option<Cond>,
    },
    Update {
        key: Key,
        update: Update,
        cond: Option<Cond>,
    },
    Delete {
        key: Key,
        cond: Option<Cond>,
    },
    /// Only checks a condition on an item, writes nothing.
    Check {
        key: Key,
        cond: Cond,
    },
}

impl TxOp {
    pub fn key(&self) -> Result<Key, StoreError> {
        match self {
            TxOp::Put { item, .. } => Key::of(item),
            TxOp::Update { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                Ok(key.clone())
            }
        }
    }
    pub fn cond(&self) -> Option<&Cond> {
        match self {
            TxOp::Put { cond, .. } | TxOp::Update { cond, .. } | TxOp::Delete { cond, .. } => {
                cond.as_ref()
            }
            TxOp::Check { cond, .. } => Some(cond),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The condition of a single-item write did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled as a whole; `failed` holds the indexes of the operations
    /// whose condition did not hold (every one of them, not only the first).
    #[error("transaction cancelled; failed conditions at {failed:?}")]
    TransactionCancelled { failed: Vec<usize> },
    /// Another transaction touched the same items at the same moment; retrying may succeed.
    #[error("transaction conflict")]
    Conflict,
    #[error("invalid item: {0}")]
    InvalidItem(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store backend error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// Writes the whole item, replacing any existing one, if `cond` holds.
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), StoreError>;
    /// Changes attributes if `cond` holds; returns the item as it is afterwards.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, StoreError>;
    /// Deletes if `cond` holds; returns the deleted item, if there was one.
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, StoreError>;
    /// All or nothing: every condition holds and every write happens, or nothing does.
    /// No two operations may name the same key.
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError>;
    async fn query(&self, q: Query) -> Result<Page, StoreError>;
}

/// Seconds since the epoch, as stored in `ttl`.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether the item's `ttl` has passed.
pub fn is_expired(item: &Item, now: i64) -> bool {
    item.get(TTL)
        .and_then(Value::as_i64)
        .is_some_and(|t| t <= now)
}

/// The key attributes of `item` for `index` (table key plus index key), as a `last_key`.
pub fn key_of_item(item: &Item, index: Index) -> Item {
    let mut k = Item::new();
    let (ip, is) = index.key_attrs();
    for n in [PK, SK, ip, is] {
        if let Some(v) = item.get(n) {
            k.insert(n.to_owned(), v.clone());
        }
    }
    k
}

/// Checks a transaction's shape the way DynamoDB does, so adapters refuse the same things.
pub fn validate_transaction(ops: &[TxOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::InvalidRequest(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        if !seen.insert(op.key()?) {
            return Err(StoreError::InvalidRequest(
                "two operations of one transaction name the same item".into(),
            ));
        }
    }
    Ok(())
}
