//! Where a Lambda's configuration comes from: the process environment (set per function by
//! template.yaml), or a map in tests, which also records the names read (so a test can hold
//! a function's wiring and its template entry to the same list).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use anyhow::Context;

/// The environment. Empty values count as unset.
#[derive(Clone, Debug, Default)]
pub enum Vars {
    #[default]
    Process,
    Map {
        values: HashMap<String, String>,
        read: Arc<Mutex<BTreeSet<String>>>,
    },
}

impl Vars {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Vars::Map {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            read: Arc::default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let value = match self {
            Vars::Process => std::env::var(name).ok(),
            Vars::Map { values, read } => {
                if let Ok(mut read) = read.lock() {
                    read.insert(name.to_owned());
                }
                values.get(name).cloned()
            }
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The variable, or the cold-start error that names it.
    pub fn require(&self, name: &str) -> anyhow::Result<String> {
        self.get(name).with_context(|| format!("{name} is not set"))
    }

    /// The names looked up so far, set or not (a map's; the process environment keeps none).
    pub fn names_read(&self) -> BTreeSet<String> {
        match self {
            Vars::Process => BTreeSet::new(),
            Vars::Map { read, .. } => read.lock().map(|r| r.clone()).unwrap_or_default(),
        }
    }
}
