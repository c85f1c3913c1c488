//! Who the user is in the chat: a display name picked once and kept in `localStorage`.

use leptos::prelude::*;

const STORAGE_KEY: &str = "longpoll-chat.name";

/// The display name; empty until the user picks one (and always empty on the server, which
/// cannot see `localStorage`).
#[derive(Clone, Copy)]
pub struct DisplayName(RwSignal<String>);

impl DisplayName {
    pub fn new() -> Self {
        let name = RwSignal::new(String::new());
        // Runs once, in the browser, after hydration: the server rendered without a name.
        Effect::new(move || {
            if let Some(saved) = storage().and_then(|storage| storage.get_item(STORAGE_KEY).ok()) {
                name.set(saved.unwrap_or_default());
            }
        });
        Self(name)
    }

    pub fn get(&self) -> String {
        self.0.get()
    }

    pub fn get_untracked(&self) -> String {
        self.0.get_untracked()
    }

    pub fn with<T>(&self, f: impl FnOnce(&String) -> T) -> T {
        self.0.with(f)
    }

    /// Sets and remembers the name.
    pub fn set(&self, name: String) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(STORAGE_KEY, &name);
        }
        self.0.set(name);
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}
