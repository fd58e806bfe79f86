//! The DynamoDB adapter of the state store port (`axhub_store::Store`).
//!
//! The table and its creation are in `provision`, the mapping of JSON items onto attributes
//! in `codec`, the expressions of conditions, updates and key conditions in `expr`, and the
//! mapping of SDK failures onto the port's errors in `errors`.
//!
//! Items whose `ttl` has passed are filtered out of `get` and `query` here (DynamoDB deletes
//! them only lazily); conditions still see them.

mod codec;
mod errors;
mod expr;
mod provision;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update as DynamoUpdate,
};
use axhub_store::{
    Cond, Index, Item, Key, Page, Query, Store, StoreError, TxOp, Update, is_expired, now_epoch,
    validate_transaction,
};

use codec::{attrs_to_item, item_to_attrs, key_attrs};
use errors::{build_error, cancellation_error, sdk_error};
use expr::Expr;

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
        provision::create_table_if_missing(&self.client, &self.table).await
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
        // One token per transaction: the SDK resends the same request (same token) when an
        // attempt's answer is lost, and DynamoDB then answers the first attempt's success
        // instead of failing the retry's conditions on the first attempt's own writes (a
        // trigger would otherwise see its slot taken by itself).
        let token = uuid::Uuid::new_v4().to_string();
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
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
