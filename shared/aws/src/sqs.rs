//! The SQS adapter of the job-queue port (`axhub_queue::Queue`): one standard queue whose
//! RedrivePolicy sends messages to a dead-letter queue after `maxReceiveCount` deliveries.
//!
//! # Receipts
//!
//! The port's receipt is `sqs1:<deadline>:<receipt handle>`, where `deadline` (ms since the
//! epoch) is a lower bound of the moment the delivery's visibility window closes. `ack` and
//! `release` after the deadline do nothing, as the port requires. SQS cannot be asked whether
//! a handle is still the message's latest one, and although its documentation says an old
//! handle does not delete, that is not guaranteed ("might not be deleted" in older wording),
//! and moto does accept old handles for DeleteMessage and ChangeMessageVisibility. Because a
//! message can only be delivered again after its window closed, refusing to act after the
//! deadline keeps a stale receipt from touching a newer delivery, without any state here.
//!
//! The deadline is the request's start plus the visibility timeout for a short poll. For a
//! long poll the delivery may happen any time during the wait, so it is the response's
//! arrival less `LATENCY_ALLOWANCE` (but never before the start): an ack closer than that to
//! the window's end may be ignored and the message delivered again. Receipts can be acked by
//! another process; the clocks of both are assumed to agree to well within that allowance.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use axhub_queue::{
    Message, Queue, QueueError, check_dead_letters_max, check_max_receives, normalize_receive,
    normalize_release, normalize_send,
};
use tokio::sync::OnceCell;

use crate::sdk::Failure;

/// How long a long-poll response may take to reach us after SQS hid its messages.
const LATENCY_ALLOWANCE: Duration = Duration::from_millis(500);
/// `dead_letters` long-polls briefly: a short poll of SQS may miss messages that are there.
const DEAD_LETTER_WAIT_SECS: i32 = 1;
/// The longest retention SQS allows. A message moved to the dead-letter queue keeps its
/// original enqueue time, so the dead-letter queue must keep messages longer than the source.
const DLQ_RETENTION_SECS: &str = "1209600";
const RECEIPT_PREFIX: &str = "sqs1:";

/// A job queue on SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    /// The dead-letter queue's URL: given, or found from the RedrivePolicy on first use.
    dlq_url: Arc<OnceCell<String>>,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            dlq_url: Arc::default(),
        }
    }

    /// A client following the standard AWS configuration of the environment (region,
    /// credentials, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SQS`, profiles).
    pub async fn client_from_env() -> Client {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Client::new(&conf)
    }

    /// The queue at `queue_url`, with a client from the environment (see `client_from_env`).
    pub async fn from_env(queue_url: impl Into<String>) -> Self {
        Self::new(Self::client_from_env().await, queue_url)
    }

    /// Names the dead-letter queue `dead_letters` reads, instead of finding it through the
    /// queue's RedrivePolicy.
    pub fn with_dead_letter_url(self, url: impl Into<String>) -> Self {
        Self {
            dlq_url: Arc::new(OnceCell::new_with(Some(url.into()))),
            ..self
        }
    }

    /// Creates (or, with the same attributes, finds) the queue `name` and its dead-letter
    /// queue `<name>-dlq`, with a RedrivePolicy of `max_receives` (1..=1000): for tests and
    /// operators; deployments create queues with their infrastructure.
    pub async fn create_with_dlq(
        client: Client,
        name: &str,
        max_receives: u32,
    ) -> Result<Self, QueueError> {
        check_max_receives(max_receives)?;
        let dlq_url = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                DLQ_RETENTION_SECS,
            )
            .send()
            .await
            .map_err(|e| sqs_error("CreateQueue", e))?
            .queue_url
            .ok_or_else(|| QueueError::Backend("CreateQueue returned no queue URL".into()))?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sqs_error("GetQueueAttributes", e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| QueueError::Backend("the dead-letter queue has no ARN".into()))?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receives.to_string(),
        });
        let url = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
            .send()
            .await
            .map_err(|e| sqs_error("CreateQueue", e))?
            .queue_url
            .ok_or_else(|| QueueError::Backend("CreateQueue returned no queue URL".into()))?;
        Ok(Self::new(client, url).with_dead_letter_url(dlq_url))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The dead-letter queue's URL, from the queue's RedrivePolicy unless it was given.
    pub async fn dead_letter_url(&self) -> Result<&str, QueueError> {
        self.dlq_url
            .get_or_try_init(|| self.find_dead_letter_url())
            .await
            .map(String::as_str)
    }

    async fn find_dead_letter_url(&self) -> Result<String, QueueError> {
        let policy = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| sqs_error("GetQueueAttributes", e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::RedrivePolicy))
            .ok_or_else(|| {
                QueueError::InvalidRequest(format!(
                    "queue {} has no RedrivePolicy, so no dead-letter queue",
                    self.queue_url
                ))
            })?;
        let arn = dead_letter_arn(&policy)?;
        // arn:aws:sqs:<region>:<account>:<name>
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, _, _, account, name] = parts[..] else {
            return Err(QueueError::Backend(format!(
                "unexpected dead-letter queue ARN {arn}"
            )));
        };
        self.client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| sqs_error("GetQueueUrl", e))?
            .queue_url
            .ok_or_else(|| QueueError::Backend("GetQueueUrl returned no queue URL".into()))
    }

    /// One ReceiveMessage call: the messages, each with its ApproximateReceiveCount.
    async fn receive_from(
        &self,
        url: &str,
        max: u32,
        visibility_secs: u32,
        wait_secs: u32,
    ) -> Result<Vec<(aws_sdk_sqs::types::Message, u32)>, QueueError> {
        // The port's limits keep every value far below i32::MAX.
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(int(max))
            .visibility_timeout(int(visibility_secs))
            .wait_time_seconds(int(wait_secs))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sqs_error("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let count = receive_count(&m);
                (m, count)
            })
            .collect())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn receive_count(m: &aws_sdk_sqs::types::Message) -> u32 {
    let raw = m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount));
    match raw.and_then(|s| s.parse().ok()) {
        Some(n) => n,
        None => {
            // The messages are hidden already: failing the receive would only delay them.
            tracing::warn!(
                ?raw,
                "ApproximateReceiveCount missing or unreadable; using 1"
            );
            1
        }
    }
}

fn dead_letter_arn(policy: &str) -> Result<String, QueueError> {
    let v: serde_json::Value = serde_json::from_str(policy)
        .map_err(|e| QueueError::Backend(format!("unreadable RedrivePolicy: {e}")))?;
    v.get("deadLetterTargetArn")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| QueueError::Backend("RedrivePolicy lacks deadLetterTargetArn".into()))
}

fn encode_receipt(deadline_ms: u64, handle: &str) -> String {
    format!("{RECEIPT_PREFIX}{deadline_ms}:{handle}")
}

/// The deadline and the SQS receipt handle of a receipt this adapter issued.
fn decode_receipt(receipt: &str) -> Result<(u64, &str), QueueError> {
    let parsed = receipt
        .strip_prefix(RECEIPT_PREFIX)
        .and_then(|r| r.split_once(':'))
        .and_then(|(d, h)| Some((d.parse().ok()?, h)))
        .filter(|(_, h)| !h.is_empty());
    parsed.ok_or_else(|| {
        QueueError::InvalidRequest(format!("{receipt:?} is not a receipt of an SQS queue"))
    })
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        let delay_secs = normalize_send(body, delay)?;
        let out = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(delay_secs).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sqs_error("SendMessage", e))?;
        out.message_id
            .ok_or_else(|| QueueError::Backend("SendMessage returned no message id".into()))
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        let p = normalize_receive(max, visibility, wait)?;
        let started = now_ms();
        let got = self
            .receive_from(&self.queue_url, p.max, p.visibility_secs, p.wait_secs)
            .await?;
        // A lower bound of when SQS hid the messages (see the module docs).
        let hidden_from = if p.wait_secs == 0 {
            started
        } else {
            let allowance = u64::try_from(LATENCY_ALLOWANCE.as_millis()).unwrap_or(0);
            now_ms().saturating_sub(allowance).max(started)
        };
        let deadline = hidden_from + u64::from(p.visibility_secs) * 1000;
        let mut out = Vec::with_capacity(got.len());
        for (m, receive_count) in got {
            let (Some(id), Some(handle)) = (m.message_id, m.receipt_handle) else {
                // Cannot happen with SQS; such a message comes back after its timeout.
                tracing::warn!("ReceiveMessage returned a message without id or receipt");
                continue;
            };
            out.push(Message {
                id,
                receipt: encode_receipt(deadline, &handle),
                body: m.body.unwrap_or_default(),
                receive_count,
            });
        }
        Ok(out)
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let (deadline, handle) = decode_receipt(receipt)?;
        if now_ms() >= deadline {
            tracing::debug!(queue = %self.queue_url, "ack of an expired receipt: ignored");
            return Ok(());
        }
        match self
            .client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(handle)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if receipt_is_spent(e.code(), e.message()) => {
                tracing::debug!(queue = %self.queue_url, "ack of a spent receipt: ignored");
                Ok(())
            }
            Err(e) => Err(sqs_error("DeleteMessage", e)),
        }
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        let delay_secs = normalize_release(delay)?;
        let (deadline, handle) = decode_receipt(receipt)?;
        if now_ms() >= deadline {
            tracing::debug!(queue = %self.queue_url, "release of an expired receipt: ignored");
            return Ok(());
        }
        match self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(i32::try_from(delay_secs).unwrap_or(i32::MAX))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if receipt_is_spent(e.code(), e.message()) => {
                tracing::debug!(queue = %self.queue_url, "release of a spent receipt: ignored");
                Ok(())
            }
            Err(e) => Err(sqs_error("ChangeMessageVisibility", e)),
        }
    }

    async fn dead_letters(&self, max: u32) -> Result<Vec<Message>, QueueError> {
        check_dead_letters_max(max)?;
        let url = self.dead_letter_url().await?.to_owned();
        let wait = u32::try_from(DEAD_LETTER_WAIT_SECS).unwrap_or(0);
        // Visibility 0: reading must not hide dead letters from the next reader.
        let got = self.receive_from(&url, max, 0, wait).await?;
        Ok(got
            .into_iter()
            .filter_map(|(m, receive_count)| {
                Some(Message {
                    id: m.message_id?,
                    receipt: String::new(),
                    body: m.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// The error SQS gives for a handle of a message that was deleted, or that is no longer in
/// flight: the port treats such receipts as spent, which is not an error.
fn receipt_is_spent(code: Option<&str>, message: Option<&str>) -> bool {
    match code.map(strip_code) {
        Some("ReceiptHandleIsInvalid" | "MessageNotInflight") => true,
        // Real SQS answers ChangeMessageVisibility for a deleted message this way.
        Some("InvalidParameterValue") => message.is_some_and(|m| m.contains("ReceiptHandle")),
        _ => false,
    }
}

/// SQS error codes, without the "AWS.SimpleQueueService." that some carry.
fn strip_code(code: &str) -> &str {
    code.strip_prefix("AWS.SimpleQueueService.").unwrap_or(code)
}

/// Maps an SDK error to the port's error. The text carries the operation, the error code
/// and the service's message (never the request, its signature or the credentials).
fn sqs_error<E>(op: &str, err: SdkError<E, HttpResponse>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mapped = match crate::sdk::classify(op, &err) {
        Failure::Service {
            code,
            message,
            status,
        } => service_error(op, code, message, status),
        Failure::Unavailable(text) => QueueError::Unavailable(text),
        Failure::Backend(text) => QueueError::Backend(text),
    };
    tracing::debug!(op, error = %mapped, "SQS call failed");
    mapped
}

fn service_error(
    op: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> QueueError {
    let text = format!(
        "{op}: {}: {}",
        code.unwrap_or("unknown error"),
        message.unwrap_or("no message")
    );
    match strip_code(code.unwrap_or_default()) {
        // Retrying later may succeed: throttling, the in-flight limit, a queue name that
        // cannot be reused for 60 s, outages.
        "RequestThrottled"
        | "ThrottlingException"
        | "Throttling"
        | "KmsThrottled"
        | "OverLimit"
        | "QueueDeletedRecently"
        | "ServiceUnavailable"
        | "InternalError"
        | "InternalFailure" => QueueError::Unavailable(text),
        "InvalidParameterValue"
        | "InvalidAttributeName"
        | "InvalidAttributeValue"
        | "InvalidMessageContents"
        | "MissingParameter"
        | "InvalidAddress"
        | "InvalidIdFormat"
        | "ReceiptHandleIsInvalid"
        | "MessageNotInflight"
        | "UnsupportedOperation"
        | "ValidationError"
        | "ValidationException" => QueueError::InvalidRequest(text),
        _ if status.is_some_and(|s| s >= 500) => QueueError::Unavailable(text),
        // A missing queue, missing permissions, KMS trouble: configuration, not the request.
        _ => QueueError::Backend(text),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn receipts_roundtrip_and_refuse_strangers() {
        let r = encode_receipt(1_700_000_000_123, "AQEB+a/b=:c");
        assert_eq!(
            decode_receipt(&r).unwrap(),
            (1_700_000_000_123, "AQEB+a/b=:c")
        );
        for bad in [
            "", "AQEBxyz", "sqs1:", "sqs1:12", "sqs1:12:", "sqs1:x:h", "0123abcd",
        ] {
            assert!(
                matches!(decode_receipt(bad), Err(QueueError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn spent_receipts_are_recognised() {
        assert!(receipt_is_spent(Some("ReceiptHandleIsInvalid"), None));
        assert!(receipt_is_spent(
            Some("AWS.SimpleQueueService.MessageNotInflight"),
            None
        ));
        assert!(receipt_is_spent(
            Some("InvalidParameterValue"),
            Some("Value x for parameter ReceiptHandle is invalid. Reason: Message does not exist")
        ));
        assert!(!receipt_is_spent(
            Some("InvalidParameterValue"),
            Some("Value 99999 for parameter VisibilityTimeout is invalid")
        ));
        assert!(!receipt_is_spent(Some("RequestThrottled"), None));
        assert!(!receipt_is_spent(None, None));
    }

    #[test]
    fn service_errors_map_to_port_errors() {
        let m = |code: &str, status| service_error("Op", Some(code), Some("msg"), Some(status));
        assert!(matches!(
            m("RequestThrottled", 400),
            QueueError::Unavailable(_)
        ));
        assert!(matches!(
            m("AWS.SimpleQueueService.QueueDeletedRecently", 400),
            QueueError::Unavailable(_)
        ));
        assert!(matches!(
            m("InvalidParameterValue", 400),
            QueueError::InvalidRequest(_)
        ));
        assert!(matches!(m("Whatever", 503), QueueError::Unavailable(_)));
        assert_eq!(
            m("AWS.SimpleQueueService.NonExistentQueue", 400),
            QueueError::Backend("Op: AWS.SimpleQueueService.NonExistentQueue: msg".into())
        );
    }

    #[test]
    fn redrive_policies_name_their_queue() {
        let p = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:jobs-dlq","maxReceiveCount":3}"#;
        assert_eq!(
            dead_letter_arn(p).unwrap(),
            "arn:aws:sqs:us-east-1:123456789012:jobs-dlq"
        );
        assert!(dead_letter_arn("{}").is_err());
        assert!(dead_letter_arn("nope").is_err());
    }
}
