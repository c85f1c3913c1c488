//! `/openapi.json` against the rules in `model`. utoipa 5 takes only literals for lengths,
//! ranges and patterns, so each one the document states is compared here with the constant it
//! repeats; and each pattern is checked to mean its rule: the character classes against
//! `char::is_whitespace` and `char::is_control` for every `char`, every string a pattern
//! generates against the parser it describes, and every `char` at each place a rule treats
//! apart (alone, inside, at either end).
//!
//! The schema-driven fuzz run (`make test-api-fuzz`, `tests/schemathesis/`) checks the same
//! agreement from outside, over HTTP, with the fuzzer's own reading of the patterns.

use std::{iter::Peekable, ops::RangeInclusive, str::Chars};

use longpoll_chat::model::{
    parse_message_id, ClientId, MessageText, RoomName, SenderName, ACCOUNT_NAME_MAX_CHARS,
    ACCOUNT_NAME_PATTERN, CLIENT_ID_MAX_CHARS, CLIENT_ID_PATTERN, CONTROL_CLASS, DEFAULT_ROOM,
    HISTORY_LIMIT, MESSAGE_ID_PATTERN, PASSWORD_MIN_CHARS, POLL_TIMEOUT_SECS, ROOM_NAME_MAX_CHARS,
    ROOM_NAME_PATTERN, SENDER_MAX_CHARS, SENDER_PATTERN, TEXT_MAX_CHARS, TEXT_PATTERN,
    WHITE_SPACE_CLASS,
};
use proptest::{prelude::*, string::string_regex};
use serde_json::{json, Value};

use crate::common::app::TestApp;

async fn openapi() -> Value {
    TestApp::new().await.get("/openapi.json").await.json
}

/// The parameter `name` of the operation `method path`.
fn parameter<'a>(spec: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    spec["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|parameter| parameter["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

fn property<'a>(spec: &'a Value, schema: &str, name: &str) -> &'a Value {
    &spec["components"]["schemas"][schema]["properties"][name]
}

fn assert_room(schema: &Value, description: &Value, at: &str) {
    assert_eq!(schema["pattern"], ROOM_NAME_PATTERN, "{at}");
    assert_eq!(schema["maxLength"], json!(ROOM_NAME_MAX_CHARS), "{at}");
    assert_eq!(schema["default"], DEFAULT_ROOM, "{at}");
    let description = description.as_str().unwrap();
    for word in [
        format!("1–{ROOM_NAME_MAX_CHARS}"),
        "empty".to_owned(),
        format!("`{DEFAULT_ROOM}`"),
    ] {
        assert!(description.contains(&word), "{at}: {description:?}");
    }
}

fn assert_client_id(parameter: &Value, at: &str) {
    assert_eq!(parameter["required"], true, "{at}");
    let schema = &parameter["schema"];
    assert_eq!(schema["pattern"], CLIENT_ID_PATTERN, "{at}");
    assert_eq!(schema["maxLength"], json!(CLIENT_ID_MAX_CHARS), "{at}");
    let description = parameter["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("1–{CLIENT_ID_MAX_CHARS}")),
        "{at}: {description:?}"
    );
}

#[tokio::test]
async fn every_documented_number_pattern_and_default_is_the_models() {
    let spec = openapi().await;

    let client_id = parameter(&spec, "get", "/api/poll", "client_id");
    assert_client_id(client_id, "poll client_id");
    let path_client_id = parameter(&spec, "delete", "/api/client/{client_id}", "client_id");
    assert_client_id(path_client_id, "disconnect client_id");

    for (method, path) in [("get", "/api/poll"), ("get", "/api/history")] {
        let room = parameter(&spec, method, path, "room");
        assert_eq!(room["required"], false);
        assert_room(&room["schema"], &room["description"], path);
    }
    let room = property(&spec, "SendBody", "room");
    assert_eq!(room["type"], json!(["string", "null"]));
    assert_room(room, &room["description"], "SendBody.room");

    for (path, name, rule) in [
        ("/api/poll", "timeout", POLL_TIMEOUT_SECS),
        ("/api/history", "limit", HISTORY_LIMIT),
    ] {
        let parameter = parameter(&spec, "get", path, name);
        assert_eq!(parameter["required"], false);
        let schema = &parameter["schema"];
        assert_eq!(rule.name, name);
        assert_eq!(schema["type"], "integer", "{name}");
        assert_eq!(schema["minimum"], json!(rule.range.start()), "{name}");
        assert_eq!(schema["maximum"], json!(rule.range.end()), "{name}");
        assert_eq!(schema["default"], json!(rule.default), "{name}");
        let description = parameter["description"].as_str().unwrap();
        let (start, end, default) = (rule.range.start(), rule.range.end(), rule.default);
        assert!(
            description.contains(&format!("from {start} to {end}; default {default}")),
            "{name}: {description:?}"
        );
    }

    let name = property(&spec, "Credentials", "name");
    assert_eq!(name["pattern"], ACCOUNT_NAME_PATTERN);
    assert_eq!(name["maxLength"], json!(ACCOUNT_NAME_MAX_CHARS));
    let password = property(&spec, "Credentials", "password");
    assert_eq!(password["minLength"], json!(PASSWORD_MIN_CHARS));

    let last_message_id = parameter(&spec, "get", "/api/poll", "last_message_id");
    assert_eq!(last_message_id["required"], false);
    assert_eq!(
        last_message_id["schema"],
        json!({"type": "string"}),
        "any text is accepted"
    );

    let last_read = property(&spec, "MarkReadBody", "last_read_id");
    assert_eq!(last_read["pattern"], MESSAGE_ID_PATTERN);
    for (path, name) in [("/api/history", "around"), ("/api/search", "before")] {
        let id = parameter(&spec, "get", path, name);
        assert_eq!(id["schema"]["pattern"], MESSAGE_ID_PATTERN, "{path} {name}");
    }
    assert_eq!(last_read["type"], json!(["string", "null"]));

    let body = &spec["components"]["schemas"]["SendBody"];
    assert_eq!(body["type"], "object");
    // `sender` may be left out when signed in (the server stamps it).
    assert_eq!(body["required"], json!(["text"]));
    assert!(body.get("additionalProperties").is_none(), "others ignored");
    let sender = property(&spec, "SendBody", "sender");
    assert_eq!(sender["pattern"], SENDER_PATTERN);
    // Counted after trimming, so in the pattern: a `maxLength` would refuse what the server takes.
    assert!(sender.get("maxLength").is_none(), "{sender}");
    assert!(sender["description"]
        .as_str()
        .unwrap()
        .contains(&format!("1–{SENDER_MAX_CHARS}")));
    let text = property(&spec, "SendBody", "text");
    assert_eq!(text["pattern"], TEXT_PATTERN);
    assert_eq!(text["minLength"], 1);
    assert_eq!(text["maxLength"], json!(TEXT_MAX_CHARS));
    assert!(text["description"]
        .as_str()
        .unwrap()
        .contains(&format!("1–{}", thousands(TEXT_MAX_CHARS))));
}

/// `4000` as `4,000`, as the descriptions write it.
fn thousands(number: usize) -> String {
    match number {
        0..1_000 => number.to_string(),
        _ => format!("{},{:03}", number / 1_000, number % 1_000),
    }
}

/// The characters of a regex class body such as `A-Za-z0-9._-` or `\t-\r \u0085`: literal
/// characters, `\t`, `\r`, `\n` and `\uXXXX` escapes, and ranges between them (a `-` at either
/// end is itself). Enough for the classes this crate writes; anything else panics.
fn class_ranges(body: &str) -> Vec<RangeInclusive<char>> {
    let mut chars = body.chars().peekable();
    let mut ranges = Vec::new();
    while let Some(start) = class_char(&mut chars) {
        let mut ahead = chars.clone();
        let end = match (ahead.next(), ahead.peek()) {
            (Some('-'), Some(_)) => {
                chars.next();
                class_char(&mut chars).unwrap()
            }
            _ => start,
        };
        assert!(start <= end, "range {start:?}-{end:?} in {body:?}");
        ranges.push(start..=end);
    }
    ranges
}

/// The next character of a class body, escapes read.
fn class_char(chars: &mut Peekable<Chars<'_>>) -> Option<char> {
    let c = chars.next()?;
    if c != '\\' {
        return Some(c);
    }
    Some(match chars.next().expect("an escape") {
        't' => '\t',
        'r' => '\r',
        'n' => '\n',
        'u' => {
            let hex: String = chars.by_ref().take(4).collect();
            char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap()
        }
        other => panic!("unexpected escape \\{other}"),
    })
}

fn in_class(ranges: &[RangeInclusive<char>], c: char) -> bool {
    ranges.iter().any(|range| range.contains(&c))
}

fn every_char() -> impl Iterator<Item = char> {
    (0..=char::MAX as u32).filter_map(char::from_u32)
}

/// The class body of a pattern `^[...]*$` or `^[...]+$`.
fn repeated_class(pattern: &str) -> &str {
    pattern
        .strip_prefix("^[")
        .and_then(|rest| rest.strip_suffix("]*$").or(rest.strip_suffix("]+$")))
        .unwrap_or_else(|| panic!("{pattern:?} is not one repeated class"))
}

#[test]
fn the_character_classes_are_rusts_whitespace_and_control_characters() {
    let white_space = class_ranges(WHITE_SPACE_CLASS);
    let control = class_ranges(CONTROL_CLASS);
    for c in every_char() {
        assert_eq!(in_class(&white_space, c), c.is_whitespace(), "{c:?}");
        assert_eq!(in_class(&control, c), c.is_control(), "{c:?}");
    }
    // Where other readings of `\s` differ, this class is Rust's: Python's `\s` adds U+001C to
    // U+001F, ECMAScript's adds U+FEFF.
    for c in ['\u{1c}', '\u{1f}', '\u{feff}'] {
        assert!(!in_class(&white_space, c), "{c:?}");
    }
}

#[test]
fn the_patterns_are_built_from_the_classes_and_limits() {
    let (ws, cc) = (WHITE_SPACE_CLASS, CONTROL_CLASS);
    // Whitespace around: any. The trimmed name: one end character, or two with up to the
    // limit less two between them; the ends are neither control nor whitespace.
    let between = SENDER_MAX_CHARS - 2;
    assert_eq!(
        SENDER_PATTERN,
        format!("^[{ws}]*[^{cc}{ws}](?:[^{cc}]{{0,{between}}}[^{cc}{ws}])?[{ws}]*$")
    );
    assert_eq!(TEXT_PATTERN, format!("[^{ws}]"));
}

#[test]
fn room_names_and_client_ids_are_their_patterns_classes_and_lengths() {
    let room = class_ranges(repeated_class(ROOM_NAME_PATTERN));
    let client = class_ranges(repeated_class(CLIENT_ID_PATTERN));
    for c in every_char() {
        let one = c.to_string();
        assert_eq!(RoomName::parse(&one).is_ok(), in_class(&room, c), "{c:?}");
        assert_eq!(ClientId::parse(&one).is_ok(), in_class(&client, c), "{c:?}");
    }
    // `*`: empty is the default room; `+`: an empty client id is refused.
    assert_eq!(
        RoomName::parse_or_default(Some("")).unwrap().as_str(),
        DEFAULT_ROOM
    );
    assert!(ClientId::parse("").is_err());
    assert!(RoomName::parse(&"r".repeat(ROOM_NAME_MAX_CHARS)).is_ok());
    assert!(RoomName::parse(&"r".repeat(ROOM_NAME_MAX_CHARS + 1)).is_err());
    assert!(ClientId::parse(&"c".repeat(CLIENT_ID_MAX_CHARS)).is_ok());
    assert!(ClientId::parse(&"c".repeat(CLIENT_ID_MAX_CHARS + 1)).is_err());
}

#[test]
fn senders_treat_each_character_as_the_pattern_does() {
    let white_space = class_ranges(WHITE_SPACE_CLASS);
    let control = class_ranges(CONTROL_CLASS);
    let ok = |sender: String| SenderName::parse(&sender).is_ok();
    for c in every_char() {
        let (space, ctrl) = (in_class(&white_space, c), in_class(&control, c));
        // Alone, it is both ends; inside, `[^cc]`; at an end, `[^cc ws]` or trimmed (`[ws]*`).
        assert_eq!(ok(c.to_string()), !ctrl && !space, "{c:?} alone");
        assert_eq!(ok(format!("a{c}b")), !ctrl, "{c:?} inside");
        assert_eq!(ok(format!("{c}ab")), !ctrl || space, "{c:?} first");
        assert_eq!(ok(format!("ab{c}")), !ctrl || space, "{c:?} last");
    }
    // The limit counts the trimmed name only.
    let longest = "é".repeat(SENDER_MAX_CHARS);
    assert!(ok(longest.clone()));
    assert!(ok(format!("\t\u{3000} {longest}\n\u{85}")));
    assert!(!ok(format!("{longest}x")));
    assert!(!ok(format!("a{}b", " ".repeat(SENDER_MAX_CHARS - 1))));
}

#[test]
fn texts_treat_each_character_as_the_pattern_does() {
    let white_space = class_ranges(WHITE_SPACE_CLASS);
    for c in every_char() {
        let one = c.to_string();
        assert_eq!(
            MessageText::parse(&one).is_ok(),
            !in_class(&white_space, c),
            "{c:?}"
        );
        // Anything else goes beside a character that is not whitespace, controls included.
        assert!(MessageText::parse(&format!("a{c}")).is_ok(), "{c:?}");
    }
    assert!(MessageText::parse(&"ü".repeat(TEXT_MAX_CHARS)).is_ok());
    assert!(MessageText::parse(&"ü".repeat(TEXT_MAX_CHARS + 1)).is_err());
    assert!(MessageText::parse(&" ".repeat(TEXT_MAX_CHARS)).is_err());
}

/// A strategy for the strings `pattern` matches. proptest generates no anchors, so the `^` and
/// `$` of an anchored pattern are dropped, and an unanchored one is surrounded by any text.
fn matching(pattern: &str) -> impl Strategy<Value = String> {
    let whole = match pattern.strip_prefix('^') {
        Some(anchored) => anchored.strip_suffix('$').unwrap().to_owned(),
        None => format!("(?s:.*){pattern}(?s:.*)"),
    };
    string_regex(&whole).unwrap()
}

/// [`matching`] for a pattern of one repeated class, up to twice `max_length` characters
/// (proptest's `*` stops at 32), so the generated strings reach past the `maxLength` beside it.
fn matching_up_to_twice(pattern: &str, max_length: usize) -> impl Strategy<Value = String> {
    let min = usize::from(pattern.ends_with("+$"));
    let class = repeated_class(pattern);
    string_regex(&format!("[{class}]{{{min},{}}}", 2 * max_length)).unwrap()
}

proptest! {
    #[test]
    fn what_the_room_pattern_matches_is_a_room_within_the_length(
        room in matching_up_to_twice(ROOM_NAME_PATTERN, ROOM_NAME_MAX_CHARS),
    ) {
        let within = room.chars().count() <= ROOM_NAME_MAX_CHARS;
        prop_assert_eq!(RoomName::parse_or_default(Some(&room)).is_ok(), within);
    }

    #[test]
    fn what_the_client_id_pattern_matches_is_a_client_id_within_the_length(
        id in matching_up_to_twice(CLIENT_ID_PATTERN, CLIENT_ID_MAX_CHARS),
    ) {
        let within = id.chars().count() <= CLIENT_ID_MAX_CHARS;
        prop_assert_eq!(ClientId::parse(&id).is_ok(), within);
    }

    #[test]
    fn what_the_sender_pattern_matches_is_a_sender(sender in matching(SENDER_PATTERN)) {
        prop_assert!(SenderName::parse(&sender).is_ok(), "{:?}", sender);
    }

    #[test]
    fn what_the_message_id_pattern_matches_is_a_message_id(id in matching(MESSAGE_ID_PATTERN)) {
        prop_assert!(parse_message_id(&id, "id").is_ok(), "{:?}", id);
    }

    #[test]
    fn what_the_text_pattern_matches_is_a_text_within_the_length(text in matching(TEXT_PATTERN)) {
        let within = text.chars().count() <= TEXT_MAX_CHARS;
        prop_assert_eq!(MessageText::parse(&text).is_ok(), within);
    }
}
