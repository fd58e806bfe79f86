//! Neighbouring services' events (apps, tenants, memberships, review), routed by an
//! EventBridge rule to an SQS queue: each record's body is the EventBridge envelope. Records
//! that fail are reported as batch item failures (and reach the dead-letter queue after the
//! redrive limit); the others are done.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use axhub_app::Deps;
use axhub_app::ingest::{self, Applied};
use axhub_domain::Error;
use serde_json::Value;

pub async fn handle(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    let mut resp = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let outcome = match serde_json::from_str::<Value>(record.body.as_deref().unwrap_or("")) {
            Ok(envelope) => {
                let detail_type = envelope["detail-type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                ingest::apply(deps, &detail_type, &envelope["detail"])
                    .await
                    .map(|a| (detail_type, a))
            }
            Err(e) => Err(Error::bad_request(format!(
                "not an EventBridge envelope: {e}"
            ))),
        };
        match outcome {
            Ok((detail_type, Applied::Ignored)) => tracing::debug!(%detail_type, "event ignored"),
            Ok((detail_type, applied)) => tracing::info!(%detail_type, ?applied, "event applied"),
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "event not applied");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                resp.batch_item_failures.push(f);
            }
        }
    }
    resp
}
