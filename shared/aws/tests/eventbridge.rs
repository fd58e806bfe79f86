//! Domain events through EventBridge, read back the way subscribers read them: a rule on the
//! bus routes `axhub.deploy` events to an SQS queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axhub_aws::EventBridgeSink;
use axhub_domain::{DomainEvent, EventKind};
use axhub_ports::EventSink;

#[tokio::test]
async fn events_reach_a_subscriber_queue_with_source_detail_type_and_detail() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "EventBridge tests need moto: run them through infra/test.sh"
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let bus = format!("axhub-{suffix}");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("sub-{suffix}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("deploy-events")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["axhub.deploy"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("deploy-events")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let sink = EventBridgeSink::new(events.clone(), &bus);
    let app = uuid::Uuid::now_v7();
    let event = DomainEvent::new(
        EventKind::DeploymentFinished,
        uuid::Uuid::now_v7(),
        app,
        time::OffsetDateTime::now_utc(),
        serde_json::json!({"deployment_id": "d-1", "status": "succeeded"}),
    );
    sink.publish(&event).await.unwrap();

    let got = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let messages = got.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let envelope: serde_json::Value =
        serde_json::from_str(messages[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(envelope["source"], "axhub.deploy");
    assert_eq!(envelope["detail-type"], "DeploymentFinished");
    assert_eq!(envelope["detail"]["id"], event.id.to_string());
    assert_eq!(envelope["detail"]["app_id"], app.to_string());
    assert_eq!(envelope["detail"]["detail"]["status"], "succeeded");

    // A bus that does not exist is an error the outbox keeps for the sweeper.
    let missing = EventBridgeSink::new(events, format!("missing-{suffix}"));
    assert!(missing.publish(&event).await.is_err());
}
