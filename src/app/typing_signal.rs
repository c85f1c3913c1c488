//! Saying the person is typing, from the composer: the server tells the room (its presence, see
//! [`super::presence`]), and every tab there shows it over its composer.

use std::time::Duration;

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsValue;

use crate::{api::signal_typing, model::TYPING_SIGNAL_EVERY_SECS};

/// Says the person is typing: at most once every `TYPING_SIGNAL_EVERY_SECS` while the text is
/// not empty, again at once after it was emptied or sent. Failures are silent: the signal is a
/// courtesy, and the next one tries again.
#[derive(Clone, Copy)]
pub struct TypingSignal {
    /// When the last signal went (milliseconds since the Unix epoch), while the text is not
    /// empty.
    last: StoredValue<Option<f64>>,
    /// The last signal, settled once the server answered (browser only).
    sent: StoredValue<Option<SendWrapper<js_sys::Promise>>>,
}

impl TypingSignal {
    pub fn new() -> Self {
        Self {
            last: StoredValue::new(None),
            sent: StoredValue::new(None),
        }
    }

    /// The text is now `text`.
    pub fn typed(&self, room: &str, text: &str) {
        if text.trim().is_empty() {
            self.last.set_value(None);
            return;
        }
        let now = js_sys::Date::now();
        let every = Duration::from_secs(TYPING_SIGNAL_EVERY_SECS).as_millis() as f64;
        if self.last.get_value().is_some_and(|last| now - last < every) {
            return;
        }
        self.last.set_value(Some(now));
        let room = room.to_owned();
        let signal = wasm_bindgen_futures::future_to_promise(async move {
            let _ = signal_typing(room).await;
            Ok(JsValue::UNDEFINED)
        });
        self.sent.set_value(Some(SendWrapper::new(signal)));
    }

    /// The text was sent: the next keystroke signals again at once. Returns the last signal,
    /// for the message to wait for.
    pub fn stop(&self) -> Option<SendWrapper<js_sys::Promise>> {
        self.last.set_value(None);
        self.sent.try_update_value(Option::take).flatten()
    }
}
