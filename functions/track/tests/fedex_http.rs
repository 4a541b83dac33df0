//! Track with `CARRIER=fedex` against a local FedEx (wiremock) answering from the shared
//! fixtures: the token and tracking requests FedEx receives, the Connect response, not found, and
//! the token cache's behaviour (`common`'s scenarios, run here for FedEx: client credentials in
//! the form body and `expires_in` as a number).

mod common;

use common::{CLIENT_ID, CLIENT_SECRET, Carrier, Kind, diagnostic, event, request, track_json};
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_string, path};

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
    assert_eq!(fedex.calls().await, (1, 1));
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
    let fields = [
        "event_datetime",
        "event_datetime_local",
        "event_code",
        "status_detail_code",
    ];
    assert_eq!(
        common::event_fields(&response, &fields),
        [
            json!([
                "2026-11-25T09:12:00Z",
                "2026-11-25T03:12:00",
                "DP",
                "HUB_SCAN_OUT"
            ]),
            json!([
                "2026-11-25T05:40:00Z",
                "2026-11-24T23:40:00",
                "AR",
                "HUB_SCAN_IN"
            ]),
            json!([
                "2026-11-25T01:05:00Z",
                "2026-11-24T17:05:00",
                "PU",
                "PICKED_UP"
            ]),
            // The label scan has no offset: local time only, never passed off as UTC.
            json!([null, "2026-11-24T09:31:00", "OC", "SHIPMENT_CREATED"]),
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
    assert_eq!(fedex.calls().await, (1, 1));
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
    assert_eq!(fedex.calls().await, (1, 3));
    let none = fedex
        .app()
        .handle(event(json!({"transaction_id": "t",
        "tracking_number": "794843185271"})))
        .await
        .unwrap_err();
    assert_eq!(diagnostic(none).error_type, "InvalidRequest");
    assert_eq!(fedex.token_calls().await, 1);
    // Credentials are a pair from one place: a request naming its own client never gets the
    // configured secret, nor a secret from another place than its id.
    for unpaired in [
        json!({"metadata": {"client_id": "their-id"}}),
        json!({"authorization": {"connection_context": {"client_id": "their-id"}},
               "metadata": {"client_secret": CLIENT_SECRET}}),
    ] {
        let mut payload = json!({"transaction_id": "t", "tracking_number": "794843185271"});
        payload
            .as_object_mut()
            .unwrap()
            .extend(unpaired.as_object().unwrap().clone());
        let err = app.handle(event(payload)).await.unwrap_err();
        assert_eq!(diagnostic(err).error_type, "InvalidRequest");
    }
    assert_eq!(fedex.token_calls().await, 1, "no token asked for either");
}

token_cache_tests!(Kind::Fedex);

#[tokio::test]
async fn the_sample_event_is_a_request_we_can_answer() {
    let fedex = Carrier::start(Kind::Fedex).await;
    // The sample's own placeholder credentials, as FedEx must receive them.
    let token = Mock::given(path("/oauth/token")).and(body_string(
        "grant_type=client_credentials&client_id=replace-with-your-FedEx-API-key\
         &client_secret=replace-with-your-FedEx-secret-key",
    ));
    let sample = include_str!("../../../events/track-fedex.json");
    assert_eq!(common::sample_status(&fedex, sample, token).await, "IT");
}
