//! Domain events out through EventBridge: source `axhub.deploy`, one detail-type per event
//! kind, the whole event (id, kind, ids, timestamps, detail) as the detail.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use axhub_domain::{DomainEvent, Error};
use axhub_ports::EventSink;

/// The `source` of every event this service publishes.
pub const SOURCE: &str = "axhub.deploy";

pub struct EventBridgeSink {
    client: Client,
    bus: String,
}

impl EventBridgeSink {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    pub async fn from_env(bus: &str) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::new(Client::new(&config), bus)
    }
}

#[async_trait]
impl EventSink for EventBridgeSink {
    async fn publish(&self, event: &DomainEvent) -> Result<(), Error> {
        let detail = serde_json::to_string(event).map_err(|_| Error::internal("encode event"))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.kind.detail_type())
            .resources(format!("axhub:app/{}", event.app_id))
            .detail(detail)
            .build();
        let out = self.client.put_events().entries(entry).send().await.map_err(|e| {
            tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e), "put_events failed");
            Error::unavailable("the event bus is unavailable")
        })?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::unavailable(format!(
                "the event bus refused the event: {why}"
            )));
        }
        Ok(())
    }
}
