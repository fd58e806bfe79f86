//! Request checks and whole-second rounding shared by every adapter, so that they refuse the
//! same requests and round the same way as SQS does.

use std::time::Duration;

use crate::{
    MAX_BATCH, MAX_BODY_BYTES, MAX_DELAY, MAX_RECEIVES, MAX_VISIBILITY, MAX_WAIT, QueueError,
};

/// A receive request in whole seconds, checked against the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveParams {
    pub max: u32,
    pub visibility_secs: u32,
    pub wait_secs: u32,
}

fn invalid(msg: String) -> QueueError {
    QueueError::InvalidRequest(msg)
}

/// Whole seconds, rounded up: a delay or a visibility timeout is never shortened.
pub fn secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn secs_within(what: &str, d: Duration, max: Duration) -> Result<u32, QueueError> {
    let secs = secs_up(d);
    if secs > max.as_secs() {
        return Err(invalid(format!(
            "{what} is {secs} s, more than {} s",
            max.as_secs()
        )));
    }
    // The limits are far below u32::MAX, so this cannot fail after the check above.
    u32::try_from(secs).map_err(|_| invalid(format!("{what} is too long")))
}

/// Checks a body the way SQS does: 1 byte to `MAX_BODY_BYTES`, and only the characters SQS
/// accepts (#x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF; Rust strings
/// cannot hold surrogates, so only the control characters and U+FFFE/U+FFFF need a look).
pub fn check_body(body: &str) -> Result<(), QueueError> {
    if body.is_empty() {
        return Err(invalid("a message body must not be empty".into()));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(invalid(format!(
            "a message body is {} bytes, more than {MAX_BODY_BYTES}",
            body.len()
        )));
    }
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    if let Some(c) = body.chars().find(|c| !allowed(*c)) {
        return Err(invalid(format!(
            "a message body may not contain the character U+{:04X}",
            u32::from(c)
        )));
    }
    Ok(())
}

/// The delay of a `send`, in whole seconds (rounded up), after checking the body.
pub fn normalize_send(body: &str, delay: Duration) -> Result<u32, QueueError> {
    check_body(body)?;
    secs_within("the delay", delay, MAX_DELAY)
}

/// The parameters of a `receive` in whole seconds: visibility rounded up, wait rounded down.
pub fn normalize_receive(
    max: u32,
    visibility: Duration,
    wait: Duration,
) -> Result<ReceiveParams, QueueError> {
    if !(1..=MAX_BATCH).contains(&max) {
        return Err(invalid(format!(
            "a receive takes 1 to {MAX_BATCH} messages, not {max}"
        )));
    }
    let visibility_secs = secs_within("the visibility timeout", visibility, MAX_VISIBILITY)?;
    // Rounded down: `wait` is an upper bound on how long a receive may block.
    if wait > MAX_WAIT {
        return Err(invalid(format!(
            "the wait is {wait:?}, more than {} s",
            MAX_WAIT.as_secs()
        )));
    }
    let wait_secs = u32::try_from(wait.as_secs()).map_err(|_| invalid("wait too long".into()))?;
    Ok(ReceiveParams {
        max,
        visibility_secs,
        wait_secs,
    })
}

/// The delay of a `release`, in whole seconds (rounded up).
pub fn normalize_release(delay: Duration) -> Result<u32, QueueError> {
    secs_within("the release delay", delay, MAX_VISIBILITY)
}

/// The `max` of `dead_letters`.
pub fn check_dead_letters_max(max: u32) -> Result<(), QueueError> {
    if !(1..=MAX_BATCH).contains(&max) {
        return Err(invalid(format!(
            "dead_letters reads 1 to {MAX_BATCH} messages, not {max}"
        )));
    }
    Ok(())
}

/// An adapter's `max_receives` (SQS's maxReceiveCount: 1..=1000).
pub fn check_max_receives(n: u32) -> Result<(), QueueError> {
    if !(1..=MAX_RECEIVES).contains(&n) {
        return Err(invalid(format!(
            "max_receives must be 1 to {MAX_RECEIVES}, not {n}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn rounding_never_shortens_hiding_nor_lengthens_waiting() {
        let ms = Duration::from_millis;
        assert_eq!(normalize_send("x", ms(0)).unwrap(), 0);
        assert_eq!(normalize_send("x", ms(1)).unwrap(), 1);
        assert_eq!(normalize_send("x", ms(1000)).unwrap(), 1);
        assert_eq!(normalize_send("x", ms(1001)).unwrap(), 2);
        assert_eq!(normalize_send("x", MAX_DELAY).unwrap(), 900);
        assert!(normalize_send("x", MAX_DELAY + ms(1)).is_err());
        let p = normalize_receive(10, ms(1500), ms(1999)).unwrap();
        assert_eq!((p.visibility_secs, p.wait_secs), (2, 1));
        assert_eq!(normalize_receive(1, ms(0), MAX_WAIT).unwrap().wait_secs, 20);
        assert!(normalize_receive(1, ms(0), MAX_WAIT + ms(1)).is_err());
        assert!(normalize_receive(0, ms(0), ms(0)).is_err());
        assert!(normalize_receive(11, ms(0), ms(0)).is_err());
        assert!(normalize_receive(1, MAX_VISIBILITY + ms(1), ms(0)).is_err());
        assert_eq!(normalize_release(ms(1)).unwrap(), 1);
        assert!(normalize_release(MAX_VISIBILITY + ms(1)).is_err());
        assert!(check_max_receives(0).is_err());
        assert!(check_max_receives(1001).is_err());
        check_max_receives(1000).unwrap();
    }

    #[test]
    fn bodies_follow_sqs_rules() {
        check_body("héllo ✓ {\"a\": [1]}\t\r\n 𝄞").unwrap();
        assert!(check_body("").is_err());
        assert!(check_body("a\u{0}b").is_err());
        assert!(check_body("\u{1b}[0m").is_err());
        assert!(check_body("\u{FFFF}").is_err());
        check_body(&"x".repeat(MAX_BODY_BYTES)).unwrap();
        assert!(check_body(&"x".repeat(MAX_BODY_BYTES + 1)).is_err());
    }
}
