//! Track with `CARRIER=fedex` against a local FedEx (wiremock) answering from the shared
//! fixtures: the token and tracking requests FedEx receives, the Connect response, not found, and
//! the token cache's behaviour (`common`'s scenarios, run here for FedEx: client credentials in
//! the form body and `expires_in` as a number).

mod common;

use common::{
    CLIENT_ID, CLIENT_SECRET, Carrier, Kind, diagnostic, event, fixture, request, track_json,
};
use serde_json::{Value, json};

#[tokio::test]
async fn delivered_with_signer_maps_every_field() {
    let fedex = Carrier::start(Kind::Fedex).await;
    fedex.issue("tok-1", 3599).await;
    fedex
        .answer("770000000001", "tok-1", "fedex/delivered.json")
        .await;
    let response = track_json(&fedex.app(), "770000000001").await;
    assert_eq!(
        response,
        json!({"tracking_info": {
            "carrier_name": "FedEx",
            "tracking_number": "770000000001",
            "standardized_status_code": "DE",
            "standardized_status_detail_code": "DELIVERED",
            "carrier_status_code": "DL",
            "carrier_detail_code": "DL",
            "carrier_status_description": "Delivered",
            "shipped_datetime": "2026-11-18T05:00:00Z",
            "actual_delivery_datetime": "2026-11-20T15:45:00Z",
            "weight": 4.0,
            "package_count": 1,
            "service": {"code": "FEDEX_GROUND", "name": "FedEx Ground"},
            "events": [
                {"event_datetime": "2026-11-20T15:45:00Z",
                 "event_datetime_local": "2026-11-20T10:45:00",
                 "event_code": "DL", "carrier_detail_code": "DL", "description": "Delivered",
                 "city": "NEW YORK", "state": "NY", "postal_code": "10001", "country": "US",
                 "signer": "J.SMITH", "status_code": "DE", "status_detail_code": "DELIVERED"},
                {"event_datetime": "2026-11-20T13:02:00Z",
                 "event_datetime_local": "2026-11-20T08:02:00",
                 "event_code": "OD", "carrier_detail_code": "IT",
                 "description": "On FedEx vehicle for delivery",
                 "city": "NEW YORK", "state": "NY", "postal_code": "10001", "country": "US",
                 "status_code": "IT", "status_detail_code": "OUT_FOR_DELIVERY"}
            ]
        }})
    );
    assert_eq!(
        (fedex.token_calls().await, fedex.track_calls().await),
        (1, 1)
    );
}

#[tokio::test]
async fn in_transit_across_time_zones_keeps_instants_and_local_times_apart() {
    let fedex = Carrier::start(Kind::Fedex).await;
    fedex.issue("tok-1", 3599).await;
    fedex
        .answer("794843185271", "tok-1", "fedex/in-transit.json")
        .await;
    let response = track_json(&fedex.app(), "794843185271").await;
    let info = &response["tracking_info"];
    assert_eq!(
        [
            &info["standardized_status_code"],
            &info["standardized_status_detail_code"],
            &info["carrier_status_code"],
            &info["carrier_status_description"],
        ],
        ["IT", "IN_TRANSIT", "IT", "In transit"]
    );
    assert_eq!(info["estimated_delivery_datetime"], "2026-11-26T17:00:00Z");
    assert_eq!(info["shipped_datetime"], "2026-11-24T08:00:00Z");
    assert_eq!(
        (&info["weight"], &info["package_count"]),
        (&json!(2.5), &json!(1))
    );
    let events: Vec<_> = info["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_datetime"].clone(),
                e["event_datetime_local"].clone(),
                e["event_code"].clone(),
                e["status_detail_code"].clone(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                json!("2026-11-25T09:12:00Z"),
                json!("2026-11-25T03:12:00"),
                json!("DP"),
                json!("HUB_SCAN_OUT")
            ),
            (
                json!("2026-11-25T05:40:00Z"),
                json!("2026-11-24T23:40:00"),
                json!("AR"),
                json!("HUB_SCAN_IN")
            ),
            (
                json!("2026-11-25T01:05:00Z"),
                json!("2026-11-24T17:05:00"),
                json!("PU"),
                json!("PICKED_UP")
            ),
            // The label scan has no offset: local time only, never passed off as UTC.
            (
                Value::Null,
                json!("2026-11-24T09:31:00"),
                json!("OC"),
                json!("SHIPMENT_CREATED")
            ),
        ]
    );
    assert_eq!(info["events"][2]["city"], "SAN JOSE");
    assert_eq!(info["events"][3].get("city"), None);
    assert_eq!(response.get("metadata"), None, "no warnings: {response}");
}

#[tokio::test]
async fn not_found_in_a_200_is_tracking_number_not_found() {
    let fedex = Carrier::start(Kind::Fedex).await;
    fedex.issue("tok-1", 3599).await;
    fedex
        .answer("123456789012", "tok-1", "fedex/not-found.json")
        .await;
    let err = fedex
        .app()
        .handle(event(request("123456789012")))
        .await
        .unwrap_err();
    let d = diagnostic(err);
    assert_eq!(d.error_type, "TrackingNumberNotFound");
    assert_eq!(
        d.error_message,
        "tracking number \"123456789012\" not found by the carrier: \
         TRACKING.TRACKINGNUMBER.NOTFOUND: Tracking number cannot be found. Please correct the \
         tracking number and try again."
    );
    assert_eq!(
        (fedex.token_calls().await, fedex.track_calls().await),
        (1, 1)
    );
}

#[tokio::test]
async fn client_credentials_come_from_the_context_then_metadata_then_configuration() {
    let fedex = Carrier::start(Kind::Fedex).await;
    fedex.issue("tok-1", 3599).await;
    fedex
        .answer("794843185271", "tok-1", "fedex/in-transit.json")
        .await;
    // FedEx (the mock) only knows CLIENT_ID/CLIENT_SECRET: the metadata's other pair must lose
    // to the context's, and a request without credentials gets the configured pair.
    let app = fedex.app_with(&[
        ("CARRIER_CLIENT_ID", CLIENT_ID),
        ("CARRIER_CLIENT_SECRET", CLIENT_SECRET),
    ]);
    let context_wins = json!({"transaction_id": "t", "tracking_number": "794843185271",
        "authorization": {"connection_context": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}},
        "metadata": {"client_id": "wrong-id", "client_secret": "wrong-secret"}});
    let metadata = json!({"transaction_id": "t", "tracking_number": "794843185271",
        "metadata": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}});
    let configured = json!({"transaction_id": "t", "tracking_number": "794843185271"});
    for payload in [context_wins, metadata, configured] {
        app.handle(event(payload)).await.unwrap();
    }
    // One client, one token, whichever place named it.
    assert_eq!(
        (fedex.token_calls().await, fedex.track_calls().await),
        (1, 3)
    );
    let none = fedex
        .app()
        .handle(event(json!({"transaction_id": "t",
        "tracking_number": "794843185271"})))
        .await
        .unwrap_err();
    assert_eq!(diagnostic(none).error_type, "InvalidRequest");
    assert_eq!(fedex.token_calls().await, 1);
}

#[tokio::test]
async fn a_token_is_reused_until_60_s_before_it_expires() {
    common::a_token_is_reused_until_60_s_before_it_expires(Kind::Fedex).await;
}

#[tokio::test]
async fn a_401_refetches_the_token_once() {
    common::a_401_refetches_the_token_once(Kind::Fedex).await;
}

#[tokio::test]
async fn a_refused_client_is_carrier_unauthorized() {
    common::a_refused_client_is_carrier_unauthorized(Kind::Fedex).await;
}

#[tokio::test]
async fn a_rate_limited_token_endpoint_is_retried() {
    common::a_rate_limited_token_endpoint_is_retried(Kind::Fedex).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_concurrent_invocations_make_one_token_request() {
    common::concurrent_invocations_share_one_token_request(Kind::Fedex).await;
}

#[tokio::test]
async fn secrets_and_tokens_are_never_shown() {
    common::secrets_and_tokens_are_never_shown(Kind::Fedex).await;
}

#[tokio::test]
async fn the_sample_event_is_a_request_we_can_answer() {
    let sample: Value =
        serde_json::from_str(include_str!("../../../events/track-fedex.json")).unwrap();
    let fedex = Carrier::start(Kind::Fedex).await;
    wiremock::Mock::given(wiremock::matchers::path("/oauth/token"))
        .and(wiremock::matchers::body_string(
            "grant_type=client_credentials&client_id=replace-with-your-FedEx-API-key\
             &client_secret=replace-with-your-FedEx-secret-key",
        ))
        .respond_with(fedex.token("tok-sample", 3599))
        .expect(1)
        .mount(&fedex.server)
        .await;
    fedex
        .on_track("794843185271", "tok-sample")
        .respond_with(fixture("fedex/in-transit.json"))
        .expect(1)
        .mount(&fedex.server)
        .await;
    let response = fedex.app().handle(event(sample)).await.unwrap();
    assert_eq!(
        response
            .tracking_info
            .standardized_status_code
            .unwrap()
            .as_str(),
        "IT"
    );
}
