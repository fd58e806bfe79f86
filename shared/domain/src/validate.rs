//! Input rules shared by every endpoint group.

use crate::Error;

/// A full git commit id: exactly 40 lowercase or uppercase hex characters.
pub fn commit_sha(value: &str) -> Result<String, Error> {
    if value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Error::field(
            "commit_sha",
            "invalid_format",
            "must be a 40-character hex git commit id",
        ))
    }
}

/// A page size within `1..=max`, defaulting when absent.
pub fn limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, Error> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<i64>() {
        Ok(n) if n >= 1 && n <= i64::from(max) => Ok(n as u32),
        _ => Err(Error::field(
            "limit",
            "invalid_value",
            format!("must be an integer between 1 and {max}"),
        )),
    }
}

/// An offset of zero or more, defaulting to zero.
pub fn offset(raw: Option<&str>) -> Result<u64, Error> {
    let Some(raw) = raw else { return Ok(0) };
    match raw.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n as u64),
        _ => Err(Error::field(
            "offset",
            "invalid_value",
            "must be an integer of 0 or more",
        )),
    }
}

/// A UUID path or body parameter; a malformed one is a 400 naming the parameter.
pub fn uuid(name: &str, raw: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(raw).map_err(|_| Error::field(name, "invalid_format", "must be a UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_sha_needs_forty_hex() {
        assert!(commit_sha(&"a".repeat(40)).is_ok());
        assert_eq!(commit_sha(&"A".repeat(40)).unwrap(), "a".repeat(40));
        assert!(commit_sha(&"a".repeat(39)).is_err());
        assert!(commit_sha(&"g".repeat(40)).is_err());
    }

    #[test]
    fn limit_and_offset_bounds() {
        assert_eq!(limit(None, 20, 100).unwrap(), 20);
        assert_eq!(limit(Some("100"), 20, 100).unwrap(), 100);
        assert!(limit(Some("0"), 20, 100).is_err());
        assert!(limit(Some("101"), 20, 100).is_err());
        assert!(limit(Some("x"), 20, 100).is_err());
        assert_eq!(offset(Some("0")).unwrap(), 0);
        assert!(offset(Some("-1")).is_err());
        let e = limit(Some("0"), 20, 100).unwrap_err();
        assert_eq!(e.fields[0].name, "limit");
    }
}
