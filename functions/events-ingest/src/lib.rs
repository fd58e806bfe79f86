//! Neighbouring services' events (apps, tenants, memberships, review, the no-code DB's
//! schema ops), routed by an EventBridge rule to an SQS queue: each record's body is the
//! EventBridge envelope, handled by the shared batch driver (`axhub_lambda::sqs`). An event is
//! believed only from the source that owns its entity (`ingest::apply_delivered`). Records
//! that fail are reported as batch item failures (and reach the dead-letter queue after the
//! redrive limit); the others are done.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use axhub_app::Deps;
use axhub_app::ingest::{self, Applied};
use axhub_domain::Error;
use serde_json::Value;

pub async fn handle(deps: &Deps, event: SqsEvent, budget: std::time::Duration) -> SqsBatchResponse {
    axhub_lambda::sqs::drive(event, budget, |record| async move {
        let envelope = serde_json::from_str::<Value>(record.body.as_deref().unwrap_or(""))
            .map_err(|e| Error::bad_request(format!("not an EventBridge envelope: {e}")))?;
        let detail_type = envelope["detail-type"].as_str().unwrap_or_default();
        let source = envelope["source"].as_str().unwrap_or_default();
        match ingest::apply_delivered(deps, source, detail_type, &envelope["detail"]).await? {
            Applied::Ignored => tracing::debug!(%detail_type, "event ignored"),
            applied => tracing::info!(%detail_type, ?applied, "event applied"),
        }
        Ok::<(), Error>(())
    })
    .await
}
