//! Input rules shared by every endpoint group.

use crate::Error;
use crate::ErrorCode;

/// A full git commit id: exactly 40 lowercase or uppercase hex characters.
pub fn commit_sha(value: &str) -> Result<String, Error> {
    if value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Error::field(
            "commit_sha",
            ErrorCode::InvalidFormat,
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
            ErrorCode::InvalidValue,
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
            ErrorCode::InvalidValue,
            "must be an integer of 0 or more",
        )),
    }
}

/// A UUID parameter in its hyphenated form (8-4-4-4-12 hex digits, either case, as RFC 9562
/// writes it). `Uuid::parse_str` also takes `{…}`, `urn:uuid:…` and 32 bare digits, which
/// would give one resource several URLs; of its forms only the hyphenated one is 36 long.
pub fn uuid(name: &str, raw: &str) -> Result<uuid::Uuid, Error> {
    match uuid::Uuid::try_parse(raw) {
        Ok(id) if raw.len() == 36 => Ok(id),
        _ => Err(Error::field(
            name,
            ErrorCode::InvalidFormat,
            "must be a UUID in its hyphenated form (8-4-4-4-12 hex digits)",
        )),
    }
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

/// The suffix of staging's Kubernetes names and host labels (`{slug}-staging`,
/// `{subdomain}-staging`): no app's own slug or subdomain may end with it, or it would map
/// onto another app's staging set.
pub const STAGING_SUFFIX: &str = "-staging";

/// The longest label accepted for a slug or subdomain: a DNS label is at most 63, and staging
/// appends [`STAGING_SUFFIX`].
pub const MAX_LABEL_LEN: usize = 63 - STAGING_SUFFIX.len();

/// A name that becomes a Kubernetes object name and a host label: a lowercase DNS label
/// (`[a-z0-9]` and inner `-`, 1–[`MAX_LABEL_LEN`] characters) that does not end with
/// [`STAGING_SUFFIX`]. Errors name `field`.
pub fn dns_label<'a>(field: &str, value: &'a str) -> Result<&'a str, Error> {
    let bad = |why: &str| {
        Err(Error::field(
            field,
            ErrorCode::InvalidFormat,
            why.to_owned(),
        ))
    };
    if value.is_empty() {
        return Err(Error::field(
            field,
            ErrorCode::Required,
            "must not be empty",
        ));
    }
    if value.len() > MAX_LABEL_LEN {
        return Err(Error::field(
            field,
            ErrorCode::TooLong,
            format!("must be at most {MAX_LABEL_LEN} characters"),
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("must be lowercase letters, digits and '-'");
    }
    if value.starts_with('-') || value.ends_with('-') {
        return bad("must start and end with a letter or digit");
    }
    if value.ends_with(STAGING_SUFFIX) {
        return bad("must not end with '-staging' (staging's names use that suffix)");
    }
    Ok(value)
}

/// The longest branch name accepted (git has no limit; GitHub refs stay far below this).
pub const MAX_BRANCH_LEN: usize = 255;

/// A branch name as `git check-ref-format --branch` accepts it: no component starting with
/// `.` or ending with `.lock`, no `..`, no control characters, space, `~ ^ : ? * [ \`, no
/// leading, trailing or doubled `/`, no trailing `.`, no `@{`, not `@`, not `HEAD`, and no
/// leading `-`. At most [`MAX_BRANCH_LEN`] bytes. Errors name the field `branch`.
pub fn branch_name(value: &str) -> Result<&str, Error> {
    let bad = |why: &str| {
        Err(Error::field(
            "branch",
            ErrorCode::InvalidFormat,
            format!("is not a valid git branch name: {why}"),
        ))
    };
    if value.is_empty() {
        return Err(Error::field(
            "branch",
            ErrorCode::Required,
            "must not be empty",
        ));
    }
    if value.len() > MAX_BRANCH_LEN {
        return Err(Error::field(
            "branch",
            ErrorCode::TooLong,
            format!("must be at most {MAX_BRANCH_LEN} bytes"),
        ));
    }
    if let Some(c) = value
        .chars()
        // `is_control` covers C0, DEL and C1 (U+0080–U+009F): a C1 CSI (U+009B) is an escape
        // sequence to some terminals.
        .find(|c| c.is_control() || " ~^:?*[\\".contains(*c))
    {
        return bad(&format!("it contains {c:?}"));
    }
    if value.starts_with('-') {
        return bad("it starts with '-'");
    }
    if value == "@" || value == "HEAD" {
        return bad("it is a reserved name");
    }
    if value.contains("..") || value.contains("@{") {
        return bad("it contains '..' or '@{'");
    }
    if value.starts_with('/') || value.ends_with('/') || value.contains("//") {
        return bad("it has an empty path component");
    }
    if value.ends_with('.') {
        return bad("it ends with '.'");
    }
    if value
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return bad("a component starts with '.' or ends with '.lock'");
    }
    Ok(value)
}

#[cfg(test)]
mod branch_tests {
    use super::*;

    #[test]
    fn dns_labels_are_lowercase_bounded_and_never_a_staging_name() {
        for ok in [
            "a",
            "hello",
            "my-app-2",
            &"x".repeat(MAX_LABEL_LEN),
            "staging",
        ] {
            assert_eq!(dns_label("slug", ok).unwrap(), ok);
        }
        for bad in [
            "",
            "Hello",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "foo-staging",
            "한글",
            &"x".repeat(MAX_LABEL_LEN + 1),
        ] {
            let e = dns_label("slug", bad).unwrap_err();
            assert_eq!(e.fields[0].name, "slug", "{bad:?}");
        }
    }

    #[test]
    fn branch_names_follow_check_ref_format() {
        for ok in [
            "main",
            "feature/login",
            "release-1.2",
            "a.b",
            "fix_bug",
            "user@host",
            "v1.0/rc",
            "한글",
            "x.locked",
            "-x".trim_start_matches('-'),
        ] {
            assert_eq!(branch_name(ok).unwrap(), ok, "{ok} should be accepted");
        }
        for bad in [
            "ma\u{9b}in",
            "ma\u{85}in",
            "-x",
            "HEAD",
            "@",
            "a..b",
            "a@{1}",
            "/a",
            "a/",
            "a//b",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a/b.lock/c",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a\tb",
            "a\u{7f}",
        ] {
            let e = branch_name(bad).unwrap_err();
            assert_eq!(e.fields[0].name, "branch", "{bad}");
            assert_eq!(e.code, ErrorCode::InvalidFormat, "{bad}");
        }
        assert_eq!(branch_name("").unwrap_err().code, ErrorCode::Required);
        assert_eq!(
            branch_name(&"a".repeat(256)).unwrap_err().code,
            ErrorCode::TooLong
        );
        assert!(branch_name(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn uuids_only_in_their_hyphenated_form() {
        let id = "0189e3a5-6b7c-7d8e-9f00-112233445566";
        assert!(uuid("appID", id).is_ok());
        assert!(uuid("appID", &id.to_uppercase()).is_ok());
        for bad in [
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            id.replace('-', ""),
            format!(" {id}"),
            "not-a-uuid".to_owned(),
        ] {
            let e = uuid("appID", &bad).unwrap_err();
            assert_eq!(
                (e.code, e.fields[0].name.as_str()),
                (ErrorCode::InvalidFormat, "appID")
            );
        }
    }
}

/// The branch a connection deploys when none is named.
pub const DEFAULT_BRANCH: &str = "main";
/// Largest page of an installation's repositories (GitHub's own limit).
pub const MAX_PER_PAGE: u32 = 100;

/// `owner/repo` as GitHub allows them: an owner of 1–39 letters, digits and hyphens, a
/// repository of 1–100 letters, digits, `.`, `-`, `_` (not `.` or `..`).
pub fn repo_full_name(raw: Option<&str>) -> Result<String, Error> {
    let value = raw.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(Error::field(
            "repo_full_name",
            ErrorCode::Required,
            "must name the repository as owner/repo",
        ));
    }
    let ok = match value.split_once('/') {
        Some((owner, name)) => {
            (1..=39).contains(&owner.len())
                && owner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (1..=100).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && name != "."
                && name != ".."
        }
        None => false,
    };
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::field(
            "repo_full_name",
            ErrorCode::InvalidFormat,
            "must be owner/repo as GitHub names repositories",
        ))
    }
}

/// A GitHub installation id: a positive integer.
pub fn installation_id(raw: Option<i64>, name: &str) -> Result<i64, Error> {
    match raw {
        Some(n) if n > 0 => Ok(n),
        Some(_) => Err(Error::field(
            name,
            ErrorCode::InvalidValue,
            "must be a positive integer",
        )),
        None => Err(Error::field(name, ErrorCode::Required, "must be given")),
    }
}

/// The branch to deploy: empty means [`DEFAULT_BRANCH`]; otherwise as git accepts it.
pub fn branch_or_default(raw: Option<&str>) -> Result<String, Error> {
    match raw {
        None | Some("") => Ok(DEFAULT_BRANCH.to_owned()),
        Some(b) => branch_name(b).map(str::to_owned),
    }
}

/// A page number of the repository picker (1-based, default 1).
pub fn page(raw: Option<&str>) -> Result<u32, Error> {
    let Some(raw) = raw else { return Ok(1) };
    match raw.parse::<i64>() {
        Ok(n) if (1..=i64::from(u32::MAX)).contains(&n) => Ok(n as u32),
        _ => Err(Error::field(
            "page",
            ErrorCode::InvalidValue,
            "must be an integer of 1 or more",
        )),
    }
}

/// A page size of the repository picker (1–100, default 30).
pub fn per_page(raw: Option<&str>) -> Result<u32, Error> {
    let Some(raw) = raw else { return Ok(30) };
    match raw.parse::<i64>() {
        Ok(n) if (1..=i64::from(MAX_PER_PAGE)).contains(&n) => Ok(n as u32),
        _ => Err(Error::field(
            "per_page",
            ErrorCode::InvalidValue,
            format!("must be an integer between 1 and {MAX_PER_PAGE}"),
        )),
    }
}

#[cfg(test)]
mod repository_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn repo_names() {
        assert_eq!(repo_full_name(Some(" acme/site ")).unwrap(), "acme/site");
        assert!(repo_full_name(Some("acme/my.site_v-2")).is_ok());
        for bad in [
            "acme",
            "acme/",
            "/site",
            "a/b/c",
            "acme/..",
            "ac me/site",
            "-",
        ] {
            assert!(repo_full_name(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(repo_full_name(None).unwrap_err().code, ErrorCode::Required);
    }

    #[test]
    fn pages() {
        assert_eq!(page(None).unwrap(), 1);
        assert_eq!(per_page(None).unwrap(), 30);
        assert_eq!(per_page(Some("100")).unwrap(), 100);
        assert_eq!(
            per_page(Some("101")).unwrap_err().fields[0].name,
            "per_page"
        );
        assert_eq!(page(Some("0")).unwrap_err().fields[0].name, "page");
        assert_eq!(branch_or_default(None).unwrap(), "main");
        assert_eq!(branch_or_default(Some("")).unwrap(), "main");
        assert!(branch_or_default(Some("a..b")).is_err());
    }
}
