//! The DynamoDB adapter of the state store port (`axhub_store::Store`).
//!
//! One table holds every item: `pk` (S) hash key, `sk` (S) range key, and two sparse global
//! secondary indexes `gsi1` (`gsi1pk`, `gsi1sk`) and `gsi2` (`gsi2pk`, `gsi2sk`), both
//! projecting all attributes. Items are JSON objects stored attribute by attribute
//! (string→S, number→N, bool→BOOL, null→NULL, array→L, object→M).
//!
//! Conditions and updates become DynamoDB expressions that name every attribute through a
//! `#nN` placeholder and every value through a `:vN` placeholder, so reserved words such as
//! `ttl` or `status` are never a problem. Items whose `ttl` has passed are filtered out of
//! `get` and `query` here (DynamoDB deletes them only lazily); conditions still see them.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, ConditionCheck, Delete,
    GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, Put,
    ReturnValue, ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification,
    TransactWriteItem, Update as DynamoUpdate,
};
use axhub_store::{
    Cond, Index, Item, Key, PK, Page, Query, SK, SkCond, Store, StoreError, TTL, TxOp, Update,
    is_expired, now_epoch, validate_transaction,
};
use serde_json::{Number, Value};

use crate::sdk::Failure;

type AttrMap = HashMap<String, AttributeValue>;

/// How long `create_table_if_missing` waits for the table and its indexes to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);
const ACTIVE_POLL: Duration = Duration::from_millis(250);

/// An attribute no item carries: an update that changes nothing removes it, because
/// DynamoDB needs a non-empty update expression inside a transaction (and the update must
/// still create a missing item, as `Update::apply` does).
const NOOP_ATTR: &str = "axhub_noop";

/// The state store on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A store whose client follows the standard AWS configuration of the environment
    /// (region, credentials, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB`, profiles).
    pub async fn from_env(table: &str) -> DynamoStore {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::new(Client::new(&conf), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with its two indexes unless it exists, then waits until it is
    /// ACTIVE. Safe to call from many tasks or processes at once: the losers of the
    /// creation race see ResourceInUseException and wait like everyone else. The caller
    /// that created the table also turns on DynamoDB's TTL deletion on `ttl`.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let mut created = false;
        if self.describe().await?.is_none() {
            match self.create_table().await {
                Ok(()) => {
                    tracing::debug!(table = %self.table, "created DynamoDB table");
                    created = true;
                }
                Err(CreateError::InUse) => {
                    tracing::debug!(table = %self.table, "table is being created elsewhere");
                }
                Err(CreateError::Store(e)) => return Err(e),
            }
        }
        self.wait_active().await?;
        if created {
            self.enable_ttl().await?;
        }
        Ok(())
    }

    /// The table's description, or `None` when it does not exist.
    async fn describe(&self) -> Result<Option<TableDescription>, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(out.table),
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(err) => Err(sdk_error("DescribeTable", err)),
        }
    }

    async fn create_table(&self) -> Result<(), CreateError> {
        let string_attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
        };
        let gsi = |index: Index| -> Result<GlobalSecondaryIndex, BuildError> {
            let (p, s) = index.key_attrs();
            GlobalSecondaryIndex::builder()
                .index_name(index.name().unwrap_or_default())
                .key_schema(key(p, KeyType::Hash)?)
                .key_schema(key(s, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
        };
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash).map_err(build_error)?)
            .key_schema(key(SK, KeyType::Range).map_err(build_error)?);
        for index in [Index::Primary, Index::Gsi1, Index::Gsi2] {
            let (p, s) = index.key_attrs();
            req = req
                .attribute_definitions(string_attr(p).map_err(build_error)?)
                .attribute_definitions(string_attr(s).map_err(build_error)?);
            if index != Index::Primary {
                req = req.global_secondary_indexes(gsi(index).map_err(build_error)?);
            }
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ResourceInUseException") => Err(CreateError::InUse),
            Err(err) => Err(CreateError::Store(sdk_error("CreateTable", err))),
        }
    }

    async fn wait_active(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
        loop {
            // Right after CreateTable a describe may still say "not found" for a moment.
            if self.describe().await?.as_ref().is_some_and(table_is_active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "table {} did not become ACTIVE within {} s",
                    self.table,
                    ACTIVE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(ACTIVE_POLL).await;
        }
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL)
            .build()
            .map_err(build_error)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
        Ok(())
    }

    fn tx_item(&self, op: &TxOp) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let item = match op {
            TxOp::Put { item, cond } => {
                Key::of(item)?;
                let cond = cond.as_ref().map(|c| e.cond(c));
                let (names, values) = e.finish();
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item_to_attrs(item)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Update { key, update, cond } => {
                let expr = e.update(key, update)?;
                let cond = cond.as_ref().map(|c| e.cond(c));
                let (names, values) = e.finish();
                let upd = DynamoUpdate::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .update_expression(expr)
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(upd).build()
            }
            TxOp::Delete { key, cond } => {
                let cond = cond.as_ref().map(|c| e.cond(c));
                let (names, values) = e.finish();
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(del).build()
            }
            TxOp::Check { key, cond } => {
                let cond = e.cond(cond);
                let (names, values) = e.finish();
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }
}

enum CreateError {
    InUse,
    Store(StoreError),
}

impl From<StoreError> for CreateError {
    fn from(e: StoreError) -> Self {
        CreateError::Store(e)
    }
}

fn build_error(e: BuildError) -> StoreError {
    StoreError::Backend(format!("building a DynamoDB request: {e}"))
}

fn table_is_active(t: &TableDescription) -> bool {
    t.table_status() == Some(&TableStatus::Active)
        && t.global_secondary_indexes()
            .iter()
            .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active))
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        let Some(attrs) = out.item else {
            return Ok(None);
        };
        let item = attrs_to_item(&attrs)?;
        if is_expired(&item, now_epoch()) {
            tracing::debug!(pk = %key.pk, sk = %key.sk, "get: item has expired");
            return Ok(None);
        }
        Ok(Some(item))
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), StoreError> {
        Key::of(&item)?;
        let mut e = Expr::default();
        let cond = cond.as_ref().map(|c| e.cond(c));
        let (names, values) = e.finish();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_attrs(&item)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, StoreError> {
        let mut e = Expr::default();
        let expr = e.update(key, &update)?;
        let cond = cond.as_ref().map(|c| e.cond(c));
        let (names, values) = e.finish();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression(expr)
            .set_condition_expression(cond)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        let attrs = out.attributes.ok_or_else(|| {
            StoreError::Backend("UpdateItem returned no attributes for ALL_NEW".into())
        })?;
        attrs_to_item(&attrs)
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, StoreError> {
        let mut e = Expr::default();
        let cond = cond.as_ref().map(|c| e.cond(c));
        let (names, values) = e.finish();
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        match out.attributes {
            Some(attrs) if !attrs.is_empty() => Ok(Some(attrs_to_item(&attrs)?)),
            _ => Ok(None),
        }
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let items = ops
            .iter()
            .map(|op| self.tx_item(op))
            .collect::<Result<Vec<_>, _>>()?;
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(e)) =
            err.as_service_error()
        {
            let mapped = cancellation_error(e.cancellation_reasons(), e.message());
            tracing::debug!(error = %mapped, "transaction cancelled");
            return Err(mapped);
        }
        Err(sdk_error("TransactWriteItems", err))
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        if !(1..=1000).contains(&q.limit) {
            return Err(StoreError::InvalidRequest(format!(
                "a query reads 1 to 1000 items, not {}",
                q.limit
            )));
        }
        let mut e = Expr::default();
        let key_cond = e.key_cond(q.index, &q.pk, q.sk.as_ref());
        let (names, values) = e.finish();
        let start = q.start_after.as_ref().map(item_to_attrs);
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.name().map(str::to_owned))
            .key_condition_expression(key_cond)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .scan_index_forward(q.forward)
            .limit(i32::try_from(q.limit).unwrap_or(1000))
            .set_exclusive_start_key(start);
        if q.index == Index::Primary {
            // Global secondary indexes only offer eventually consistent reads.
            req = req.consistent_read(true);
        }
        let out = req.send().await.map_err(|e| sdk_error("Query", e))?;
        let now = now_epoch();
        let mut items = Vec::new();
        for attrs in out.items.unwrap_or_default() {
            let item = attrs_to_item(&attrs)?;
            if !is_expired(&item, now) {
                items.push(item);
            }
        }
        let last_key = match out.last_evaluated_key {
            Some(k) if !k.is_empty() => Some(attrs_to_item(&k)?),
            _ => None,
        };
        Ok(Page { items, last_key })
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// Maps an SDK error to the port's error. The text carries the operation, the error code
/// and the service's message (never the request, its signature or the credentials).
fn sdk_error<E>(op: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mapped = match crate::sdk::classify(op, &err) {
        Failure::Service {
            code,
            message,
            status,
        } => service_error(op, code, message, status),
        Failure::Unavailable(text) => StoreError::Unavailable(text),
        Failure::Backend(text) => StoreError::Backend(text),
    };
    tracing::debug!(op, error = %mapped, "DynamoDB call failed");
    mapped
}

fn service_error(
    op: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> StoreError {
    let text = format!(
        "{op}: {}: {}",
        code.unwrap_or("unknown error"),
        message.unwrap_or("no message")
    );
    match code.unwrap_or_default() {
        "ConditionalCheckFailedException" => StoreError::ConditionFailed,
        "TransactionConflictException" => StoreError::Conflict,
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "InternalServerError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "TransactionInProgressException" => StoreError::Unavailable(text),
        "ValidationException"
        | "SerializationException"
        | "ItemCollectionSizeLimitExceededException"
        | "IdempotentParameterMismatchException" => StoreError::InvalidRequest(text),
        _ if status.is_some_and(|s| s >= 500) => StoreError::Unavailable(text),
        _ => StoreError::Backend(text),
    }
}

/// Maps the reasons of a TransactionCanceledException (one per operation, in order).
fn cancellation_error(reasons: &[CancellationReason], message: Option<&str>) -> StoreError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
    if codes.contains(&"TransactionConflict") {
        return StoreError::Conflict;
    }
    let failed: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == "ConditionalCheckFailed")
        .map(|(i, _)| i)
        .collect();
    if !failed.is_empty() {
        return StoreError::TransactionCancelled { failed };
    }
    // Cancelled without a failed condition: throttling, validation or something unknown.
    let text = format!(
        "TransactWriteItems: transaction cancelled ({}): {}",
        codes.join(", "),
        message.unwrap_or("no message")
    );
    let any = |names: &[&str]| codes.iter().any(|c| names.contains(c));
    if any(&[
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    ]) {
        StoreError::Unavailable(text)
    } else if any(&["ValidationError", "ItemCollectionSizeLimitExceeded"]) {
        StoreError::InvalidRequest(text)
    } else {
        StoreError::Backend(text)
    }
}

// ---------------------------------------------------------------------------------------
// JSON <-> AttributeValue

fn json_to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(json_to_attr).collect()),
        Value::Object(m) => AttributeValue::M(
            m.iter()
                .map(|(k, v)| (k.clone(), json_to_attr(v)))
                .collect(),
        ),
    }
}

fn item_to_attrs(item: &Item) -> AttrMap {
    item.iter()
        .map(|(k, v)| (k.clone(), json_to_attr(v)))
        .collect()
}

fn key_attrs(key: &Key) -> AttrMap {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Reads a DynamoDB number back exactly: an integer when it is one (i64, then u64), else
/// a float.
fn parse_number(s: &str) -> Result<Number, StoreError> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(i.into());
    }
    if let Ok(u) = s.parse::<u64>() {
        return Ok(u.into());
    }
    s.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| StoreError::Backend(format!("unreadable number {s:?}")))
}

fn attr_to_json(av: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match av {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::Array(l.iter().map(attr_to_json).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => Value::Object(attrs_to_item(m)?),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(
            ns.iter()
                .map(|n| parse_number(n).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::B(_) | AttributeValue::Bs(_) => {
            return Err(StoreError::Backend(
                "binary attributes are not supported".into(),
            ));
        }
        _ => {
            return Err(StoreError::Backend(
                "an attribute of an unknown type".into(),
            ));
        }
    })
}

fn attrs_to_item(attrs: &AttrMap) -> Result<Item, StoreError> {
    attrs
        .iter()
        .map(|(k, v)| Ok((k.clone(), attr_to_json(v)?)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Expressions

/// Builds expressions with `#nN` name and `:vN` value placeholders shared by every
/// expression of one request.
#[derive(Default)]
struct Expr {
    /// placeholder -> attribute name, as ExpressionAttributeNames
    names: HashMap<String, String>,
    /// attribute name -> placeholder
    by_name: HashMap<String, String>,
    values: AttrMap,
}

impl Expr {
    fn name(&mut self, n: &str) -> String {
        if let Some(p) = self.by_name.get(n) {
            return p.clone();
        }
        let p = format!("#n{}", self.by_name.len());
        self.by_name.insert(n.to_owned(), p.clone());
        self.names.insert(p.clone(), n.to_owned());
        p
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    /// The ExpressionAttributeNames and ExpressionAttributeValues, each `None` when empty
    /// (DynamoDB refuses empty maps).
    fn finish(self) -> (Option<HashMap<String, String>>, Option<AttrMap>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }

    /// A ConditionExpression with the semantics of `axhub_store::eval_cond`.
    fn cond(&mut self, c: &Cond) -> String {
        match c {
            Cond::Exists => format!("attribute_exists({})", self.name(PK)),
            Cond::NotExists => format!("attribute_not_exists({})", self.name(PK)),
            Cond::Has(n) => format!("attribute_exists({})", self.name(n)),
            Cond::HasNot(n) => format!("attribute_not_exists({})", self.name(n)),
            Cond::Eq(n, v) => self.compare(n, "=", v),
            // `<>` is true when the attribute is missing or of another type.
            Cond::Ne(n, v) => self.compare(n, "<>", v),
            Cond::Lt(n, v) => self.order(n, "<", v),
            Cond::Le(n, v) => self.order(n, "<=", v),
            Cond::Gt(n, v) => self.order(n, ">", v),
            Cond::Ge(n, v) => self.order(n, ">=", v),
            Cond::And(cs) => self.join(cs, " AND ", true),
            Cond::Or(cs) => self.join(cs, " OR ", false),
        }
    }

    fn compare(&mut self, n: &str, op: &str, v: &Value) -> String {
        let n = self.name(n);
        let v = self.value(json_to_attr(v));
        format!("{n} {op} {v}")
    }

    /// Ordering comparisons hold only between numbers or between strings; DynamoDB refuses
    /// other operand types outright, `eval_cond` calls them false, so they become false.
    fn order(&mut self, n: &str, op: &str, v: &Value) -> String {
        if v.is_number() || v.is_string() {
            self.compare(n, op, v)
        } else {
            self.constant(false)
        }
    }

    fn constant(&mut self, truth: bool) -> String {
        let pk = self.name(PK);
        if truth {
            format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
        } else {
            format!("(attribute_exists({pk}) AND attribute_not_exists({pk}))")
        }
    }

    fn join(&mut self, cs: &[Cond], sep: &str, empty: bool) -> String {
        if cs.is_empty() {
            return self.constant(empty);
        }
        let mut parts = Vec::with_capacity(cs.len());
        for c in cs {
            parts.push(format!("({})", self.cond(c)));
        }
        parts.join(sep)
    }

    /// An UpdateExpression with the effect of `Update::apply`: every set, then every
    /// remove, then every add, folded into one action per attribute (DynamoDB refuses two
    /// actions on one attribute).
    fn update(&mut self, key: &Key, u: &Update) -> Result<String, StoreError> {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        for (n, action) in plan_update(key, u)? {
            let p = self.name(&n);
            match action {
                Action::Set(v) => {
                    let v = self.value(json_to_attr(&v));
                    set.push(format!("{p} = {v}"));
                }
                Action::Remove => remove.push(p),
                Action::Add(k) => {
                    let v = self.value(AttributeValue::N(k.to_string()));
                    add.push(format!("{p} {v}"));
                }
            }
        }
        if set.is_empty() && remove.is_empty() && add.is_empty() {
            remove.push(self.name(NOOP_ATTR));
        }
        let mut clauses = Vec::new();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        Ok(clauses.join(" "))
    }

    /// The KeyConditionExpression of a query.
    fn key_cond(&mut self, index: Index, pk: &str, sk: Option<&SkCond>) -> String {
        let (pa, sa) = index.key_attrs();
        let p = self.name(pa);
        let v = self.value(AttributeValue::S(pk.to_owned()));
        let mut expr = format!("{p} = {v}");
        let s = |e: &mut Self, v: &str| e.value(AttributeValue::S(v.to_owned()));
        let part = match sk {
            None => None,
            // Every string begins with "", and DynamoDB refuses an empty key value.
            Some(SkCond::BeginsWith(x)) if x.is_empty() => None,
            Some(c) => {
                let n = self.name(sa);
                Some(match c {
                    SkCond::BeginsWith(x) => format!("begins_with({n}, {})", s(self, x)),
                    SkCond::Lt(x) => format!("{n} < {}", s(self, x)),
                    SkCond::Le(x) => format!("{n} <= {}", s(self, x)),
                    SkCond::Gt(x) => format!("{n} > {}", s(self, x)),
                    SkCond::Ge(x) => format!("{n} >= {}", s(self, x)),
                    SkCond::Between(a, b) => {
                        let a = s(self, a);
                        let b = s(self, b);
                        format!("{n} BETWEEN {a} AND {b}")
                    }
                })
            }
        };
        if let Some(part) = part {
            expr.push_str(" AND ");
            expr.push_str(&part);
        }
        expr
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Set(Value),
    Remove,
    Add(i64),
}

/// Folds an update into one action per attribute, in order of first mention.
fn plan_update(key: &Key, u: &Update) -> Result<Vec<(String, Action)>, StoreError> {
    let mut plan: Vec<(String, Action)> = Vec::new();
    let mut acts: Vec<(String, Option<Action>)> = Vec::new();
    for (n, v) in &u.set {
        let i = index_of(&mut acts, n);
        acts[i].1 = Some(Action::Set(v.clone()));
    }
    for n in &u.remove {
        let i = index_of(&mut acts, n);
        acts[i].1 = Some(Action::Remove);
    }
    for (n, k) in &u.add {
        let i = index_of(&mut acts, n);
        let overflow = || StoreError::InvalidRequest(format!("counter {n} overflows"));
        let next = match acts[i].1.take() {
            None => Action::Add(*k),
            Some(Action::Add(m)) => Action::Add(m.checked_add(*k).ok_or_else(overflow)?),
            Some(Action::Set(v)) => {
                let cur = v.as_i64().unwrap_or(0);
                Action::Set(Value::from(cur.checked_add(*k).ok_or_else(overflow)?))
            }
            Some(Action::Remove) => Action::Set(Value::from(*k)),
        };
        acts[i].1 = Some(next);
    }
    for (n, action) in acts {
        let Some(action) = action else { continue };
        let own = if n == PK {
            Some(&key.pk)
        } else if n == SK {
            Some(&key.sk)
        } else {
            None
        };
        match (own, &action) {
            (None, _) => plan.push((n, action)),
            // Setting a key attribute to the key it already has changes nothing.
            (Some(own), Action::Set(Value::String(s))) if s == own => {}
            (Some(_), _) => {
                return Err(StoreError::InvalidRequest(format!(
                    "an update cannot change the key attribute {n}"
                )));
            }
        }
    }
    Ok(plan)
}

fn index_of(acts: &mut Vec<(String, Option<Action>)>, n: &str) -> usize {
    match acts.iter().position(|(k, _)| k == n) {
        Some(i) => i,
        None => {
            acts.push((n.to_owned(), None));
            acts.len() - 1
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn json_roundtrips_exactly() {
        let v = json!({"s": "", "i": -7, "big": 9_007_199_254_740_993_i64, "u": u64::MAX,
                       "f": 1.5, "b": false, "z": null, "l": [1, "x", {"y": [true]}], "m": {}});
        let Value::Object(item) = v else {
            unreachable!()
        };
        assert_eq!(attrs_to_item(&item_to_attrs(&item)).unwrap(), item);
        assert_eq!(
            json_to_attr(&json!(9_007_199_254_740_993_i64)),
            AttributeValue::N("9007199254740993".into())
        );
        assert_eq!(
            attr_to_json(&AttributeValue::N("1E+2".into())).unwrap(),
            json!(100.0)
        );
        assert_eq!(
            attr_to_json(&AttributeValue::Ss(vec!["a".into()])).unwrap(),
            json!(["a"])
        );
        assert!(attr_to_json(&AttributeValue::N("nope".into())).is_err());
    }

    #[test]
    fn conditions_use_placeholders_only() {
        let mut e = Expr::default();
        let c = Cond::And(vec![
            Cond::Or(vec![Cond::NotExists, Cond::Le("ttl".into(), json!(5))]),
            Cond::Ne("status".into(), json!("done")),
            Cond::has("status"),
            Cond::Lt("n".into(), json!(true)),
            Cond::Or(vec![]),
        ]);
        assert_eq!(
            e.cond(&c),
            "((attribute_not_exists(#n0)) OR (#n1 <= :v0)) AND (#n2 <> :v1) AND \
             (attribute_exists(#n2)) AND ((attribute_exists(#n0) AND attribute_not_exists(#n0))) \
             AND ((attribute_exists(#n0) AND attribute_not_exists(#n0)))"
        );
        let (names, values) = e.finish();
        let names = names.unwrap();
        assert_eq!(names["#n0"], "pk");
        assert_eq!(names["#n1"], "ttl");
        assert_eq!(names["#n2"], "status");
        assert_eq!(values.unwrap()[":v1"], AttributeValue::S("done".into()));
        assert_eq!(Expr::default().finish(), (None, None));
    }

    #[test]
    fn updates_fold_like_apply() {
        let key = Key::new("p", "s");
        let u = Update::new()
            .set("a", 1)
            .set("b", "x")
            .remove("b")
            .add("a", 2)
            .add("c", 3)
            .add("c", 4)
            .remove("d")
            .add("d", 5)
            .set("pk", "p");
        assert_eq!(
            plan_update(&key, &u).unwrap(),
            vec![
                ("a".into(), Action::Set(json!(3))),
                ("b".into(), Action::Remove),
                ("d".into(), Action::Set(json!(5))),
                ("c".into(), Action::Add(7)),
            ]
        );
        let mut e = Expr::default();
        assert_eq!(
            e.update(&key, &u).unwrap(),
            "SET #n0 = :v0, #n2 = :v1 REMOVE #n1 ADD #n3 :v2"
        );
        let mut e = Expr::default();
        assert_eq!(e.update(&key, &Update::new()).unwrap(), "REMOVE #n0");
        assert!(matches!(
            plan_update(&key, &Update::new().set("sk", "other")),
            Err(StoreError::InvalidRequest(_))
        ));
        assert!(matches!(
            plan_update(&key, &Update::new().remove("pk")),
            Err(StoreError::InvalidRequest(_))
        ));
    }

    #[test]
    fn key_conditions() {
        let mut e = Expr::default();
        let sk = SkCond::Between("a".into(), "b".into());
        assert_eq!(
            e.key_cond(Index::Gsi1, "feed", Some(&sk)),
            "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2"
        );
        let (names, _) = e.finish();
        assert_eq!(names.unwrap()["#n1"], "gsi1sk");
        let mut e = Expr::default();
        let sk = SkCond::BeginsWith(String::new());
        assert_eq!(e.key_cond(Index::Primary, "p", Some(&sk)), "#n0 = :v0");
    }

    #[test]
    fn cancellation_reasons_map_to_port_errors() {
        let r = |codes: &[&str]| codes.iter().map(|c| reason(c)).collect::<Vec<_>>();
        assert_eq!(
            cancellation_error(
                &r(&[
                    "None",
                    "ConditionalCheckFailed",
                    "ConditionalCheckFailed",
                    "None"
                ]),
                None
            ),
            StoreError::TransactionCancelled { failed: vec![1, 2] }
        );
        assert_eq!(
            cancellation_error(&r(&["ConditionalCheckFailed", "TransactionConflict"]), None),
            StoreError::Conflict
        );
        assert!(matches!(
            cancellation_error(&r(&["None", "ThrottlingError"]), None),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            cancellation_error(&r(&["ValidationError"]), None),
            StoreError::InvalidRequest(_)
        ));
    }

    #[test]
    fn service_errors_map_to_port_errors() {
        let m = |code: &str, status| service_error("Op", Some(code), Some("msg"), Some(status));
        assert_eq!(
            m("ConditionalCheckFailedException", 400),
            StoreError::ConditionFailed
        );
        assert_eq!(m("TransactionConflictException", 400), StoreError::Conflict);
        assert!(matches!(
            m("ProvisionedThroughputExceededException", 400),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            m("ValidationException", 400),
            StoreError::InvalidRequest(_)
        ));
        assert!(matches!(m("Whatever", 503), StoreError::Unavailable(_)));
        assert_eq!(
            m("ResourceNotFoundException", 400),
            StoreError::Backend("Op: ResourceNotFoundException: msg".into())
        );
    }
}
