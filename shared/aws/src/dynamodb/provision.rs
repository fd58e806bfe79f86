//! The table and its creation. One table holds every item: `pk` (S) hash key, `sk` (S) range
//! key, and two sparse global secondary indexes `gsi1` (`gsi1pk`, `gsi1sk`) and `gsi2`
//! (`gsi2pk`, `gsi2sk`), both projecting all attributes.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableDescription, TableStatus,
    TimeToLiveSpecification,
};
use axhub_store::{Index, PK, SK, StoreError, TTL};

use super::errors::{build_error, sdk_error};

/// How long `create_table_if_missing` waits for the table and its indexes to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);
const ACTIVE_POLL: Duration = Duration::from_millis(250);

/// `DynamoStore::create_table_if_missing`: the losers of the creation race see
/// ResourceInUseException and wait like everyone else; only the creator turns on TTL.
pub(super) async fn create_table_if_missing(
    client: &Client,
    table: &str,
) -> Result<(), StoreError> {
    let mut created = false;
    if describe(client, table).await?.is_none() {
        match create_table(client, table).await {
            Ok(()) => {
                tracing::debug!(table = %table, "created DynamoDB table");
                created = true;
            }
            Err(CreateError::InUse) => {
                tracing::debug!(table = %table, "table is being created elsewhere");
            }
            Err(CreateError::Store(e)) => return Err(e),
        }
    }
    wait_active(client, table).await?;
    if created {
        enable_ttl(client, table).await?;
    }
    Ok(())
}

/// The table's description, or `None` when it does not exist.
async fn describe(client: &Client, table: &str) -> Result<Option<TableDescription>, StoreError> {
    match client.describe_table().table_name(table).send().await {
        Ok(out) => Ok(out.table),
        Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(sdk_error("DescribeTable", err)),
    }
}

async fn create_table(client: &Client, table: &str) -> Result<(), CreateError> {
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
    let mut req = client
        .create_table()
        .table_name(table)
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

async fn wait_active(client: &Client, table: &str) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        // Right after CreateTable a describe may still say "not found" for a moment.
        if describe(client, table)
            .await?
            .as_ref()
            .is_some_and(table_is_active)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Unavailable(format!(
                "table {} did not become ACTIVE within {} s",
                table,
                ACTIVE_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(ACTIVE_POLL).await;
    }
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), StoreError> {
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL)
        .build()
        .map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
    Ok(())
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

fn table_is_active(t: &TableDescription) -> bool {
    t.table_status() == Some(&TableStatus::Active)
        && t.global_secondary_indexes()
            .iter()
            .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active))
}
