//! Arbitrary query strings, paths, content types and bodies thrown at the REST API of the whole
//! app: never a 5xx, never a panic, always a JSON body.

use axum::{
    body::Body,
    http::{header, Request},
};
use proptest::prelude::*;

use crate::common::app::{call_raw, TestApp};

/// Runs `request` against a fresh app on a paused clock (held polls end at their timeout
/// at once) and checks the answer.
fn check(request: Request<Body>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = TestApp::new().await;
        let reply = call_raw(&app.router, request).await;
        let (status, bytes) = (reply.status, reply.body);
        prop_assert!(!status.is_server_error(), "{status}: {bytes:?}");
        let json: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
        prop_assert!(json.is_ok(), "not JSON ({status}): {bytes:?}");
        Ok(())
    })
}

/// Query strings mixing the real parameter names with arbitrary values and junk.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("client_id".to_owned()),
        Just("room".to_owned()),
        Just("last_message_id".to_owned()),
        Just("timeout".to_owned()),
        Just("limit".to_owned()),
        "[a-z_%]{0,12}",
    ];
    let value = prop_oneof![
        "[0-9]{1,3}",
        "-?[0-9]{1,25}",
        "[a-zA-Z0-9._:-]{0,70}",
        "(%[0-9A-Fa-f]{2}|[^&#]){0,40}",
        any::<String>().prop_map(|s| s.replace(['&', '#', ' '], "")),
    ];
    prop::collection::vec((key, value), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_queries_get_json_and_no_5xx(path in prop_oneof![Just("/api/poll"), Just("/api/history"), Just("/api/stats"), Just("/health")], query in query()) {
        let uri = format!("{path}?{query}");
        // Some generated strings are not valid URIs at all; hyper would reject those itself.
        if let Ok(request) = Request::get(uri.as_str()).body(Body::empty()) {
            check(request)?;
        }
    }

    #[test]
    fn arbitrary_send_bodies_get_json_and_no_5xx(
        content_type in prop_oneof![Just("application/json".to_owned()), Just("application/json; charset=utf-8".to_owned()), Just("text/plain".to_owned()), "[a-z/+;=-]{0,30}"],
        body in prop_oneof![
            any::<Vec<u8>>(),
            any::<String>().prop_map(String::into_bytes),
            (any::<Option<String>>(), any::<Option<String>>(), any::<Option<String>>()).prop_map(|(sender, text, room)| {
                serde_json::json!({"sender": sender, "text": text, "room": room}).to_string().into_bytes()
            }),
            (any::<i64>(), any::<bool>()).prop_map(|(n, b)| format!(r#"{{"sender":{n},"text":{b}}}"#).into_bytes()),
        ],
    ) {
        let request = Request::post("/api/send")
            .header(header::CONTENT_TYPE, content_type.as_str())
            .body(Body::from(body))
            .unwrap();
        check(request)?;
    }

    #[test]
    fn arbitrary_client_paths_get_json_and_no_5xx(id in "(%[0-9A-Fa-f]{2}|[a-zA-Z0-9._~:-]){0,140}", method in prop_oneof![Just("DELETE"), Just("GET"), Just("POST")]) {
        if let Ok(request) = Request::builder().method(method).uri(format!("/api/client/{id}")).body(Body::empty()) {
            check(request)?;
        }
    }
}
