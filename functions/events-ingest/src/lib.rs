//! Neighbouring services' events (apps, tenants, memberships, review), routed by an
//! EventBridge rule to an SQS queue: each record's body is the EventBridge envelope, handled
//! by the shared batch driver (`axhub_lambda::sqs`). Records that fail are reported as batch
//! item failures (and reach the dead-letter queue after the redrive limit); the others are
//! done.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use axhub_app::Deps;
use axhub_app::ingest::{self, Applied};
use axhub_domain::Error;
use serde_json::Value;

pub async fn handle(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    axhub_lambda::sqs::drive(event, |record| async move {
        let envelope = serde_json::from_str::<Value>(record.body.as_deref().unwrap_or(""))
            .map_err(|e| Error::bad_request(format!("not an EventBridge envelope: {e}")))?;
        let detail_type = envelope["detail-type"].as_str().unwrap_or_default();
        match ingest::apply(deps, detail_type, &envelope["detail"]).await? {
            Applied::Ignored => tracing::debug!(%detail_type, "event ignored"),
            applied => tracing::info!(%detail_type, ?applied, "event applied"),
        }
        Ok::<(), Error>(())
    })
    .await
}
