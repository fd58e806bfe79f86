//! The app's environment variables as the apps service announces them (`APPENV#{app}` /
//! `production` | `staging`): for each key a hash of its value, never the value, so that
//! promote-preflight can say which keys differ between staging and production.

use std::collections::BTreeMap;

use axhub_domain::{Environment, Error};
use axhub_store::{Key, Query};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::{from_item, to_item};
use crate::{Deps, store_error};

fn pk(app: Uuid) -> String {
    format!("APPENV#{app}")
}

pub fn key(app: Uuid, env: Environment) -> Key {
    Key::new(pk(app), axhub_ports::appdb::env_name(env))
}

/// The value hashes of one environment, by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvHashes {
    pub hashes: BTreeMap<String, String>,
}

pub fn item(app: Uuid, env: Environment, e: &EnvHashes) -> Result<axhub_store::Item, Error> {
    to_item(&key(app, env), e)
}

/// Both environments' hashes (empty for one never announced).
pub async fn both(deps: &Deps, app: Uuid) -> Result<(EnvHashes, EnvHashes), Error> {
    let page = deps
        .store
        .query(Query::new(axhub_store::Index::Primary, pk(app)).limit(2))
        .await
        .map_err(store_error)?;
    let (mut prod, mut staging) = (EnvHashes::default(), EnvHashes::default());
    for item in page.items {
        let sk = item
            .get(axhub_store::SK)
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let e: EnvHashes = from_item(item)?;
        match sk.as_deref() {
            Some("production") => prod = e,
            Some("staging") => staging = e,
            _ => {}
        }
    }
    Ok((prod, staging))
}

/// The keys whose value differs between the two (or that only one has), sorted.
pub fn differing(prod: &EnvHashes, staging: &EnvHashes) -> Vec<String> {
    let mut keys: Vec<String> = prod
        .hashes
        .keys()
        .chain(staging.hashes.keys())
        .filter(|k| prod.hashes.get(*k) != staging.hashes.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvHashes {
        EnvHashes {
            hashes: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn keys_differ_by_value_hash_or_presence() {
        let prod = env(&[("A", "1"), ("B", "2"), ("C", "3")]);
        let staging = env(&[("A", "1"), ("B", "x"), ("D", "4")]);
        assert_eq!(differing(&prod, &staging), vec!["B", "C", "D"]);
        assert!(differing(&prod, &prod).is_empty());
    }
}
