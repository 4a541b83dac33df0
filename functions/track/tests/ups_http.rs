//! Track with `CARRIER=ups` against a local UPS (wiremock) answering from the shared fixtures:
//! the token and tracking requests UPS receives, the Connect response, not found, and the token
//! cache's behaviour (`common`'s scenarios, run here for UPS: Basic client authentication and
//! `expires_in` as a string).

mod common;

use base64::Engine;
use common::{Carrier, Kind, diagnostic, event, json_answer, request, track_json};
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{header, path};

#[tokio::test]
async fn delivered_with_signer_maps_every_field() {
    let ups = Carrier::start(Kind::Ups).await;
    ups.issue("tok-1", 14399).await;
    ups.answer("1Z12345E0205271688", "tok-1", "ups/delivered.json")
        .await;
    let response = track_json(&ups.app(), "1Z12345E0205271688").await;
    assert_eq!(
        response,
        json!({"tracking_info": {
            "carrier_name": "UPS",
            "tracking_number": "1Z12345E0205271688",
            "standardized_status_code": "DE",
            "standardized_status_detail_code": "DELIVERED",
            "carrier_status_code": "D",
            "carrier_detail_code": "FS",
            "carrier_status_description": "Delivered",
            "actual_delivery_datetime": "2026-11-20T19:30:00Z",
            "weight": 1.0,
            "service": {"code": "002", "name": "UPS 2nd Day Air"},
            "events": [
                {"event_datetime": "2026-11-20T19:30:00Z",
                 "event_datetime_local": "2026-11-20T14:30:00",
                 "event_code": "D", "carrier_detail_code": "FS", "description": "DELIVERED",
                 "city": "Atlanta", "state": "GA", "postal_code": "30303", "country": "US",
                 "signer": "JSMITH", "status_code": "DE", "status_detail_code": "DELIVERED"},
                {"event_datetime": "2026-11-20T12:15:00Z",
                 "event_datetime_local": "2026-11-20T07:15:00",
                 "event_code": "O", "carrier_detail_code": "OT",
                 "description": "Out For Delivery Today",
                 "city": "Atlanta", "state": "GA", "country": "US",
                 "status_code": "IT", "status_detail_code": "OUT_FOR_DELIVERY"}
            ]
        }})
    );
    assert_eq!(ups.calls().await, (1, 1));
}

#[tokio::test]
async fn in_transit_across_time_zones_keeps_instants_and_local_times_apart() {
    let ups = Carrier::start(Kind::Ups).await;
    ups.issue("tok-1", 14399).await;
    ups.answer("1Z023E2X0214323462", "tok-1", "ups/in-transit.json")
        .await;
    let response = track_json(&ups.app(), "1Z023E2X0214323462").await;
    let info = &response["tracking_info"];
    // currentStatus has no type (as real answers): the newest activity's status stands in.
    assert_eq!(
        [
            &info["standardized_status_code"],
            &info["standardized_status_detail_code"],
            &info["carrier_status_code"],
            &info["carrier_detail_code"],
            &info["carrier_status_description"],
        ],
        ["IT", "IN_TRANSIT", "I", "AR", "Arrived at Facility"]
    );
    assert_eq!(info["estimated_delivery_datetime"], "2026-11-26T10:30:00");
    assert_eq!(info["actual_delivery_datetime"], Value::Null);
    assert_eq!(info["weight"], 5.5);
    let fields = [
        "event_datetime",
        "event_datetime_local",
        "city",
        "status_detail_code",
    ];
    assert_eq!(
        common::event_fields(&response, &fields),
        [
            // gmtOffset -05:00 (gmtTime in the older HH:MM:SS form).
            json!([
                "2026-11-25T04:15:00Z",
                "2026-11-24T23:15:00",
                "Louisville",
                "IN_TRANSIT"
            ]),
            // No gmtOffset: the offset is the difference to gmtDate/gmtTime (-08:00); the
            // local time came as "83000".
            json!([
                "2026-11-24T16:30:00Z",
                "2026-11-24T08:30:00",
                "Ontario",
                "IN_TRANSIT"
            ]),
            // No GMT fields: local time only, never passed off as UTC.
            json!([null, "2026-11-23T18:05:00", "Phoenix", "PICKED_UP"]),
            json!([null, "2026-11-22T10:10:10", null, "SHIPMENT_CREATED"]),
        ]
    );
    // An empty postal code is no postal code.
    assert_eq!(info["events"][0].get("postal_code"), None);
    assert_eq!(response.get("metadata"), None, "no warnings: {response}");
}

#[tokio::test]
async fn not_found_is_tracking_number_not_found_whether_200_with_a_warning_or_404() {
    let ups = Carrier::start(Kind::Ups).await;
    ups.issue("tok-1", 14399).await;
    ups.answer("1Z0000000000000000", "tok-1", "ups/not-found.json")
        .await;
    ups.on_track("1Z0000000000000001", "tok-1")
        .respond_with(json_answer(
            404,
            json!({"response": {"errors": [{"code": "TW0001",
                "message": "Tracking Information Not Found"}]}}),
        ))
        .mount(&ups.server)
        .await;
    let app = ups.app();
    for number in ["1Z0000000000000000", "1Z0000000000000001"] {
        let err = app.handle(event(request(number))).await.unwrap_err();
        let d = diagnostic(err);
        assert_eq!(d.error_type, "TrackingNumberNotFound");
        assert_eq!(
            d.error_message,
            format!(
                "tracking number {number:?} not found by the carrier: TW0001: Tracking Information Not Found"
            )
        );
    }
    assert_eq!(ups.calls().await, (1, 2));
}

#[tokio::test]
async fn an_unmapped_status_type_is_un_with_a_warning() {
    let ups = Carrier::start(Kind::Ups).await;
    ups.issue("tok-1", 14399).await;
    let mut body = test_support::fixtures::json("ups/in-transit.json");
    let activity = &mut body["trackResponse"]["shipment"][0]["package"][0]["activity"];
    activity[0]["status"]["type"] = json!("NA");
    ups.on_track("1Z023E2X0214323462", "tok-1")
        .respond_with(json_answer(200, body))
        .mount(&ups.server)
        .await;
    let response = track_json(&ups.app(), "1Z023E2X0214323462").await;
    let info = &response["tracking_info"];
    assert_eq!(info["standardized_status_code"], "UN");
    assert_eq!(
        info["standardized_status_detail_code"],
        "CARRIER_STATUS_NOT_MAPPED"
    );
    assert_eq!(
        response["metadata"]["warning_messages"],
        json!(["UPS status code \"NA\" is not in profile `ups`'s status map"])
    );
}

token_cache_tests!(Kind::Ups);

#[tokio::test]
async fn the_sample_event_is_a_request_we_can_answer() {
    let ups = Carrier::start(Kind::Ups).await;
    // The sample's own placeholder credentials, as UPS must receive them.
    let basic = "replace-with-your-UPS-client-id:replace-with-your-UPS-client-secret";
    let basic = base64::engine::general_purpose::STANDARD.encode(basic);
    let token = Mock::given(path("/security/v1/oauth/token"))
        .and(header("authorization", format!("Basic {basic}").as_str()));
    let sample = include_str!("../../../events/track-ups.json");
    assert_eq!(common::sample_status(&ups, sample, token).await, "IT");
}
