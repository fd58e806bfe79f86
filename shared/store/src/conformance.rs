//! The conformance suite every `Store` adapter must pass. Adapters instantiate it with
//! `axhub_store::conformance_tests!(async { make_store().await })`, which expands to one
//! `#[tokio::test]` per case so a failure names the rule that broke.
//!
//! Every case works under a fresh random key prefix, so the suite can share one table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::sync::Arc;

use crate::*;

fn prefix() -> String {
    format!("t{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

fn item(pk: &str, sk: &str, extra: Value) -> Item {
    let mut i = Item::new();
    i.insert(PK.into(), json!(pk));
    i.insert(SK.into(), json!(sk));
    if let Value::Object(m) = extra {
        i.extend(m);
    }
    i
}

pub async fn put_get_roundtrip(s: &dyn Store) {
    let p = prefix();
    let it = item(
        &p,
        "a",
        json!({"s": "héllo", "n": 42, "neg": -7, "f": 1.5, "b": true, "z": null,
               "l": [1, "two", {"three": 3}], "m": {"x": {"y": [true, false]}, "e": ""},
               "big": 9_007_199_254_740_993_i64}),
    );
    s.put(it.clone(), None).await.unwrap();
    let got = s.get(&Key::new(&p, "a")).await.unwrap().expect("item");
    assert_eq!(got, it);
    assert_eq!(s.get(&Key::new(&p, "missing")).await.unwrap(), None);
    // A plain put replaces the whole item.
    s.put(item(&p, "a", json!({"only": 1})), None)
        .await
        .unwrap();
    let got = s.get(&Key::new(&p, "a")).await.unwrap().unwrap();
    assert_eq!(got.get("s"), None);
    assert_eq!(got.get("only"), Some(&json!(1)));
}

pub async fn conditional_put(s: &dyn Store) {
    let p = prefix();
    s.put(item(&p, "a", json!({"v": 1})), Some(Cond::NotExists))
        .await
        .unwrap();
    assert_eq!(
        s.put(item(&p, "a", json!({"v": 2})), Some(Cond::NotExists))
            .await,
        Err(StoreError::ConditionFailed)
    );
    assert_eq!(
        s.put(item(&p, "a", json!({"v": 3})), Some(Cond::eq("v", 9)))
            .await,
        Err(StoreError::ConditionFailed)
    );
    s.put(item(&p, "a", json!({"v": 4})), Some(Cond::eq("v", 1)))
        .await
        .unwrap();
    assert_eq!(
        s.get(&Key::new(&p, "a")).await.unwrap().unwrap()["v"],
        json!(4)
    );
    // Conditions on a missing item: Exists fails, HasNot holds, Ne holds.
    assert_eq!(
        s.put(item(&p, "b", json!({})), Some(Cond::Exists)).await,
        Err(StoreError::ConditionFailed)
    );
    s.put(item(&p, "b", json!({"v": 1})), Some(Cond::has_not("v")))
        .await
        .unwrap();
    s.put(
        item(&p, "c", json!({})),
        Some(Cond::Ne("v".into(), json!(1))),
    )
    .await
    .unwrap();
    // Comparisons, And, Or.
    s.put(
        item(&p, "b", json!({"v": 2})),
        Some(Cond::And(vec![
            Cond::gt("v", 0),
            Cond::lt("v", 5),
            Cond::Ge("v".into(), json!(1)),
        ])),
    )
    .await
    .unwrap();
    assert_eq!(
        s.put(
            item(&p, "b", json!({"v": 3})),
            Some(Cond::Le("v".into(), json!(1)))
        )
        .await,
        Err(StoreError::ConditionFailed)
    );
    s.put(
        item(&p, "b", json!({"v": 3})),
        Some(Cond::Or(vec![Cond::NotExists, Cond::eq("v", 2)])),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get(&Key::new(&p, "b")).await.unwrap().unwrap()["v"],
        json!(3)
    );
}

pub async fn conditional_update(s: &dyn Store) {
    let p = prefix();
    let k = Key::new(&p, "counter");
    // Updating a missing item creates it, with its key.
    let it = s
        .update(
            &k,
            Update::new().add("n", 1).set("name", "c"),
            Some(Cond::has_not("owner")),
        )
        .await
        .unwrap();
    assert_eq!(it["n"], json!(1));
    assert_eq!(it[PK], json!(p));
    let it = s
        .update(
            &k,
            Update::new().add("n", 41).set("owner", "me"),
            Some(Cond::eq("n", 1)),
        )
        .await
        .unwrap();
    assert_eq!(it["n"], json!(42));
    assert_eq!(
        s.update(
            &k,
            Update::new().set("owner", "you"),
            Some(Cond::has_not("owner"))
        )
        .await,
        Err(StoreError::ConditionFailed)
    );
    let it = s
        .update(&k, Update::new().remove("owner"), None)
        .await
        .unwrap();
    assert!(!it.contains_key("owner"));
    assert_eq!(it["name"], json!("c"));
    assert_eq!(s.get(&k).await.unwrap().unwrap(), it);
    assert_eq!(
        s.update(
            &Key::new(&p, "nope"),
            Update::new().set("x", 1),
            Some(Cond::Exists)
        )
        .await,
        Err(StoreError::ConditionFailed)
    );
    assert_eq!(s.get(&Key::new(&p, "nope")).await.unwrap(), None);
}

pub async fn conditional_delete(s: &dyn Store) {
    let p = prefix();
    let k = Key::new(&p, "a");
    s.put(item(&p, "a", json!({"state": "x"})), None)
        .await
        .unwrap();
    assert_eq!(
        s.delete(&k, Some(Cond::eq("state", "y"))).await,
        Err(StoreError::ConditionFailed)
    );
    assert!(s.get(&k).await.unwrap().is_some());
    let old = s
        .delete(&k, Some(Cond::eq("state", "x")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old["state"], json!("x"));
    assert_eq!(s.get(&k).await.unwrap(), None);
    assert_eq!(s.delete(&k, None).await.unwrap(), None);
    // A consumed one-time token cannot be consumed twice.
    assert_eq!(
        s.delete(&k, Some(Cond::Exists)).await,
        Err(StoreError::ConditionFailed)
    );
}

pub async fn transaction_is_all_or_nothing(s: &dyn Store) {
    let p = prefix();
    s.put(item(&p, "slot", json!({"holder": "d1"})), None)
        .await
        .unwrap();
    s.put(item(&p, "guard", json!({"v": 1})), None)
        .await
        .unwrap();
    let ops = vec![
        TxOp::Put {
            item: item(&p, "new", json!({"v": 1})),
            cond: Some(Cond::NotExists),
        },
        TxOp::Update {
            key: Key::new(&p, "slot"),
            update: Update::new().set("holder", "d2"),
            cond: Some(Cond::has_not("holder")),
        },
        TxOp::Check {
            key: Key::new(&p, "guard"),
            cond: Cond::eq("v", 2),
        },
        TxOp::Delete {
            key: Key::new(&p, "absent"),
            cond: None,
        },
    ];
    assert_eq!(
        s.transact(ops).await,
        Err(StoreError::TransactionCancelled { failed: vec![1, 2] })
    );
    assert_eq!(s.get(&Key::new(&p, "new")).await.unwrap(), None);
    assert_eq!(
        s.get(&Key::new(&p, "slot")).await.unwrap().unwrap()["holder"],
        json!("d1")
    );

    let ops = vec![
        TxOp::Put {
            item: item(&p, "new", json!({"v": 1})),
            cond: Some(Cond::NotExists),
        },
        TxOp::Update {
            key: Key::new(&p, "slot"),
            update: Update::new().set("holder", "d2").add("count", 1),
            cond: Some(Cond::eq("holder", "d1")),
        },
        TxOp::Check {
            key: Key::new(&p, "guard"),
            cond: Cond::eq("v", 1),
        },
        TxOp::Delete {
            key: Key::new(&p, "guard"),
            cond: None,
        }
        .clone(),
    ];
    // Check and Delete name the same key: refused before anything happens.
    assert!(matches!(
        s.transact(ops.clone()).await,
        Err(StoreError::InvalidRequest(_))
    ));
    let ops: Vec<TxOp> = ops.into_iter().take(3).collect();
    s.transact(ops).await.unwrap();
    assert_eq!(
        s.get(&Key::new(&p, "new")).await.unwrap().unwrap()["v"],
        json!(1)
    );
    let slot = s.get(&Key::new(&p, "slot")).await.unwrap().unwrap();
    assert_eq!(slot["holder"], json!("d2"));
    assert_eq!(slot["count"], json!(1));
    // Deletes inside a transaction.
    s.transact(vec![TxOp::Delete {
        key: Key::new(&p, "new"),
        cond: Some(Cond::Exists),
    }])
    .await
    .unwrap();
    assert_eq!(s.get(&Key::new(&p, "new")).await.unwrap(), None);
}

async fn seed_sorted(s: &dyn Store, p: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(25) {
        let ops = chunk
            .iter()
            .map(|i| TxOp::Put {
                item: item(p, &format!("item#{i:03}"), json!({"i": i})),
                cond: None,
            })
            .collect();
        s.transact(ops).await.unwrap();
    }
}

fn indexes(page: &Page) -> Vec<i64> {
    page.items
        .iter()
        .map(|i| i["i"].as_i64().unwrap())
        .collect()
}

pub async fn query_orders_and_pages(s: &dyn Store) {
    let p = prefix();
    seed_sorted(s, &p, 25).await;
    // Noise under another partition and another sort-key prefix.
    s.put(item(&format!("{p}x"), "item#000", json!({"i": -1})), None)
        .await
        .unwrap();
    s.put(item(&p, "other", json!({"i": -2})), None)
        .await
        .unwrap();

    let q = Query::new(Index::Primary, &p)
        .sk(SkCond::BeginsWith("item#".into()))
        .limit(10);
    let p1 = s.query(q.clone()).await.unwrap();
    assert_eq!(indexes(&p1), (0..10).collect::<Vec<_>>());
    assert!(p1.last_key.is_some());
    let p2 = s.query(q.clone().start_after(p1.last_key)).await.unwrap();
    assert_eq!(indexes(&p2), (10..20).collect::<Vec<_>>());
    let p3 = s.query(q.clone().start_after(p2.last_key)).await.unwrap();
    assert_eq!(indexes(&p3), (20..25).collect::<Vec<_>>());
    assert_eq!(p3.last_key, None, "a short page is the last");

    let b1 = s.query(q.clone().backward()).await.unwrap();
    assert_eq!(indexes(&b1), (15..25).rev().collect::<Vec<_>>());
    let b2 = s
        .query(q.clone().backward().start_after(b1.last_key))
        .await
        .unwrap();
    assert_eq!(indexes(&b2), (5..15).rev().collect::<Vec<_>>());

    let le = Query::new(Index::Primary, &p)
        .sk(SkCond::Le("item#007".into()))
        .backward()
        .limit(3);
    assert_eq!(indexes(&s.query(le).await.unwrap()), vec![7, 6, 5]);
    let lt = Query::new(Index::Primary, &p)
        .sk(SkCond::Lt("item#007".into()))
        .backward()
        .limit(2);
    assert_eq!(indexes(&s.query(lt).await.unwrap()), vec![6, 5]);
    let ge = Query::new(Index::Primary, &p)
        .sk(SkCond::Ge("item#023".into()))
        .limit(5);
    assert_eq!(indexes(&s.query(ge).await.unwrap()), vec![23, 24, -2]);
    let gt = Query::new(Index::Primary, &p)
        .sk(SkCond::Gt("item#023".into()))
        .limit(5);
    assert_eq!(indexes(&s.query(gt).await.unwrap()), vec![24, -2]);
    let between = Query::new(Index::Primary, &p)
        .sk(SkCond::Between("item#003".into(), "item#005".into()))
        .limit(10);
    assert_eq!(indexes(&s.query(between).await.unwrap()), vec![3, 4, 5]);
    // An exact fit returns the last key; the page after it is empty and final.
    let exact = Query::new(Index::Primary, &p)
        .sk(SkCond::BeginsWith("item#".into()))
        .limit(25);
    let e1 = s.query(exact.clone()).await.unwrap();
    assert_eq!(e1.items.len(), 25);
    if let Some(k) = e1.last_key {
        let e2 = s.query(exact.start_after(Some(k))).await.unwrap();
        assert!(e2.items.is_empty());
        assert_eq!(e2.last_key, None);
    }
    let none = Query::new(Index::Primary, format!("{p}-empty"));
    assert_eq!(s.query(none).await.unwrap(), Page::default());
}

pub async fn secondary_indexes_are_sparse_and_paged(s: &dyn Store) {
    let p = prefix();
    let feed = format!("{p}#feed");
    for i in 0..12 {
        let mut extra = json!({"i": i, "gsi1pk": feed, "gsi1sk": format!("{:04}", 100 - i)});
        if i % 2 == 0 {
            extra["gsi2pk"] = json!(format!("{p}#even"));
            extra["gsi2sk"] = json!(format!("{i:04}"));
        }
        s.put(item(&format!("{p}#{i}"), "meta", extra), None)
            .await
            .unwrap();
    }
    // An item without index keys is not in the index.
    s.put(item(&format!("{p}#x"), "meta", json!({"i": 99})), None)
        .await
        .unwrap();

    let q = Query::new(Index::Gsi1, &feed).limit(5);
    let a = s.query(q.clone()).await.unwrap();
    assert_eq!(indexes(&a), vec![11, 10, 9, 8, 7]);
    let lk = a.last_key.clone().unwrap();
    assert!(lk.contains_key("gsi1pk") && lk.contains_key(PK));
    let b = s.query(q.clone().start_after(a.last_key)).await.unwrap();
    assert_eq!(indexes(&b), vec![6, 5, 4, 3, 2]);
    let c = s.query(q.clone().start_after(b.last_key)).await.unwrap();
    assert_eq!(indexes(&c), vec![1, 0]);
    assert_eq!(c.last_key, None);
    let d = s.query(q.backward().limit(3)).await.unwrap();
    assert_eq!(indexes(&d), vec![0, 1, 2]);

    let even = s
        .query(
            Query::new(Index::Gsi2, format!("{p}#even"))
                .backward()
                .limit(10),
        )
        .await;
    assert_eq!(indexes(&even.unwrap()), vec![10, 8, 6, 4, 2, 0]);
    // Removing the index key takes the item out of the index.
    s.update(
        &Key::new(format!("{p}#10"), "meta"),
        Update::new().remove("gsi2pk"),
        None,
    )
    .await
    .unwrap();
    let even = s
        .query(
            Query::new(Index::Gsi2, format!("{p}#even"))
                .backward()
                .limit(10),
        )
        .await;
    assert_eq!(indexes(&even.unwrap()), vec![8, 6, 4, 2, 0]);
}

pub async fn expired_items_are_invisible(s: &dyn Store) {
    let p = prefix();
    let now = now_epoch();
    s.put(item(&p, "old", json!({"ttl": now - 10, "i": 1})), None)
        .await
        .unwrap();
    s.put(item(&p, "live", json!({"ttl": now + 600, "i": 2})), None)
        .await
        .unwrap();
    s.put(item(&p, "forever", json!({"i": 3})), None)
        .await
        .unwrap();
    assert_eq!(s.get(&Key::new(&p, "old")).await.unwrap(), None);
    assert!(s.get(&Key::new(&p, "live")).await.unwrap().is_some());
    let page = s
        .query(Query::new(Index::Primary, &p).limit(10))
        .await
        .unwrap();
    let mut seen = indexes(&page);
    seen.sort();
    assert_eq!(seen, vec![2, 3]);
    // An expired key may be taken over by saying so in the condition.
    s.put(
        item(&p, "old", json!({"i": 4})),
        Some(Cond::absent_or_expired(now)),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get(&Key::new(&p, "old")).await.unwrap().unwrap()["i"],
        json!(4)
    );
    assert_eq!(
        s.put(
            item(&p, "live", json!({"i": 5})),
            Some(Cond::absent_or_expired(now))
        )
        .await,
        Err(StoreError::ConditionFailed)
    );
}

/// Many writers racing for one slot: exactly one wins, whatever the interleaving.
pub async fn concurrent_claims_have_one_winner(s: Arc<dyn Store>) {
    let p = prefix();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let ops = vec![
                TxOp::Update {
                    key: Key::new(&p, "slot"),
                    update: Update::new()
                        .set("holder", format!("d{i}"))
                        .add("claims", 1),
                    cond: Some(Cond::has_not("holder")),
                },
                TxOp::Put {
                    item: item(&p, &format!("d{i}"), json!({})),
                    cond: Some(Cond::NotExists),
                },
            ];
            loop {
                match s.transact(ops.clone()).await {
                    Err(StoreError::Conflict) => tokio::task::yield_now().await,
                    other => return other,
                }
            }
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::TransactionCancelled { failed }) => assert_eq!(failed, vec![0]),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    let slot = s.get(&Key::new(&p, "slot")).await.unwrap().unwrap();
    assert_eq!(slot["claims"], json!(1));
    let page = s
        .query(Query::new(Index::Primary, &p).sk(SkCond::BeginsWith("d".into())))
        .await;
    assert_eq!(page.unwrap().items.len(), 1);
}

/// Expands to one `#[tokio::test]` per conformance case. `$make` is an async expression
/// giving an `Arc<dyn Store>`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_put_get_roundtrip() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::put_get_roundtrip(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_conditional_put() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::conditional_put(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_conditional_update() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::conditional_update(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_conditional_delete() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::conditional_delete(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_transaction_is_all_or_nothing() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::transaction_is_all_or_nothing(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_query_orders_and_pages() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::query_orders_and_pages(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_secondary_indexes_are_sparse_and_paged() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::secondary_indexes_are_sparse_and_paged(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_expired_items_are_invisible() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::expired_items_are_invisible(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn store_concurrent_claims_have_one_winner() {
            let s: std::sync::Arc<dyn $crate::Store> = $make.await;
            $crate::conformance::concurrent_claims_have_one_winner(s).await;
        }
    };
}
