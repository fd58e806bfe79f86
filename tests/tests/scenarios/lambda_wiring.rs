//! The Lambdas' cold-start wiring, built from a SAM-like environment against moto: an HTTP
//! Lambda gets every port (a trigger's job reaches the SQS deploy queue right after commit,
//! diagnosis reaches for the EKS cluster), and a missing setting is named at cold start.

use std::time::Duration;

use axhub_aws::{DynamoStore, SqsQueue};
use axhub_lambda::Vars;
use axhub_queue::Queue;
use axhub_tests::*;
use base64::Engine;
use http::{Method, StatusCode};

const EKS_CA: &str = include_str!("../../fixtures/eks-ca.pem");

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_http_lambda_built_from_its_environment_has_every_port() {
    dynamo_store().await; // asserts moto is there
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let table = "axhub-lambda-wiring";
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table)
        .create_table_if_missing()
        .await
        .unwrap();
    let queue = SqsQueue::create_with_dlq(
        aws_sdk_sqs::Client::new(&aws),
        &format!("deploy-{suffix}"),
        5,
    )
    .await
    .unwrap();
    let bus = format!("bus-{suffix}");
    aws_sdk_eventbridge::Client::new(&aws)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let ca = base64::engine::general_purpose::STANDARD.encode(EKS_CA);
    let secret = String::from_utf8(SECRET.to_vec()).unwrap();
    let pairs = vec![
        ("AXHUB_TABLE", table.to_owned()),
        (
            "AXHUB_CURSOR_SECRET",
            "cursor-secret-of-at-least-32-bytes!".to_owned(),
        ),
        ("AXHUB_DEPLOY_QUEUE_URL", queue.queue_url().to_owned()),
        ("AXHUB_EVENT_BUS", bus.clone()),
        (
            "AXHUB_REGISTRY",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/axhub".to_owned(),
        ),
        ("AXHUB_EKS_CLUSTER", "apps".to_owned()),
        // Nothing listens here: diagnosis must fail as "unavailable", proving it is wired.
        ("AXHUB_EKS_ENDPOINT", "https://127.0.0.1:9".to_owned()),
        ("AXHUB_EKS_CA_DATA", ca),
        ("AXHUB_JWT_SECRET", secret),
    ];
    let vars = Vars::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));

    let state = axhub_lambda::http_state_from(&vars).await.unwrap();
    assert!(state.deps.publisher.is_some() && state.deps.cluster.is_some());
    let world = seed(&state.deps).await;
    let t = TestApp {
        router: deployments_fn::router(state.clone()),
        deps: state.deps.clone(),
        world,
    };

    let r = t.deploy(t.world.app, &t.world.owner, SHA).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let jobs = queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        jobs.len(),
        1,
        "the build job went to SQS right after commit"
    );
    assert!(jobs[0].body.contains(r.body["id"].as_str().unwrap()));

    let d = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/diagnosis", t.world.app),
            Some(&t.world.owner),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", d.body);
    assert_eq!(d.code(), "temporarily_unavailable");

    // A missing setting stops the cold start with its name.
    let partial = Vars::from_pairs(
        pairs
            .iter()
            .filter(|(k, _)| *k != "AXHUB_DEPLOY_QUEUE_URL")
            .map(|(k, v)| (*k, v.as_str())),
    );
    let err = axhub_lambda::worker_from(&partial)
        .await
        .err()
        .expect("an error");
    assert!(err.to_string().contains("AXHUB_DEPLOY_QUEUE_URL"), "{err}");
}
