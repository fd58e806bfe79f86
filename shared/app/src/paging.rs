//! Paging of dense, newest-first listings (an app's deployments by `seq`, its releases by
//! version number): numbers run 1, 2, … with no gap, so an offset is a key bound and a page
//! costs one keyed query of `limit` items whatever the history's length. The cursor is the
//! next bound, HMAC-signed and bound to the listing it came from.

use axhub_domain::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

use crate::Deps;

#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// Empty when there is nothing more.
    pub next_cursor: String,
    pub total: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub limit: u32,
    pub offset: u64,
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct DenseCursor {
    /// Continue with numbers of at most this.
    at_most: u64,
}

/// A page of a dense listing of `total` items under `scope` (which binds its cursors).
pub(crate) struct Dense<'a> {
    pub deps: &'a Deps,
    pub scope: String,
    pub total: u64,
}

impl Dense<'_> {
    /// The highest number the page may hold (0: the page is empty).
    pub fn start(&self, params: &ListParams) -> Result<u64, Error> {
        match &params.cursor {
            Some(_) if params.offset > 0 => Err(Error::field(
                "cursor",
                ErrorCode::InvalidValue,
                "use either cursor or offset, not both",
            )),
            Some(c) => Ok(self
                .deps
                .cursors
                .decode::<DenseCursor>(&self.scope, c)?
                .at_most
                .min(self.total)),
            None => Ok(self.total.saturating_sub(params.offset)),
        }
    }

    /// The page, with the cursor to the next one when this one is full and more remain.
    pub fn page<T>(&self, items: Vec<T>, limit: u32, number: impl Fn(&T) -> u64) -> ListPage<T> {
        let next_cursor = match items.last().map(&number) {
            Some(last) if items.len() as u32 == limit && last > 1 => self
                .deps
                .cursors
                .encode(&self.scope, &DenseCursor { at_most: last - 1 }),
            _ => String::new(),
        };
        ListPage {
            items,
            next_cursor,
            total: self.total,
        }
    }
}
