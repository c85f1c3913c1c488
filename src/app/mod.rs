//! The browser chat: the HTML shell and the routes; the pages and their parts are in the files
//! below, one small component per thing shown.
//!
//! The room page ([`chat_page`]) is rendered on the server with the room's recent history already
//! in the HTML (`SsrMode::Async`), so it reads and sends without JavaScript. Once hydrated, each
//! room view follows its room ([`following`]) on the browser's one stream ([`stream`]), the
//! room list and the tab title show what is unread, and [`presence`] shows who is online and who
//! is typing. State lives in signals next to the components that use it; who is signed in is the
//! one thing every component may read ([`session::Session`]).
//!
//! Layout:
//! - pages: [`chat_page`] (one room), [`account`] (the account panel and the sign-in page);
//! - around the conversation: [`sidebar`] (the room list) with [`room_forms`] and [`direct`]
//!   (direct messages), [`room_header`] with [`members`], [`presence`] and [`notifications`]
//!   (the room's level, this browser's notifications, a hidden page's own);
//! - the conversation: [`messages`] (the list, read positions), [`message`] (one message),
//!   [`timestamps`], [`reactions`], [`message_actions`], and [`changes`] (edits, deletions and
//!   reactions applied to what is shown);
//! - sending: [`composer`], [`mentions`] (`@` suggests people), [`typing_signal`],
//!   [`identity`] (a guest's display name);
//! - the live parts: [`following`] (a room view on the stream, the connection badge) and
//!   [`stream`] (the browser's one stream: tabs, cursor book, fetch loop, unread counts).

mod account;
mod changes;
mod chat_page;
mod composer;
mod direct;
mod following;
mod identity;
mod js;
mod members;
mod mentions;
mod message;
mod message_actions;
mod messages;
mod notifications;
mod presence;
mod reactions;
mod room_forms;
mod room_header;
mod search;
mod session;
mod sidebar;
mod stream;
mod timestamps;
mod typing_signal;

use leptos::{nonce::use_nonce, prelude::*};
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::error::ChatError;
use account::SignInPage;
use chat_page::ChatPage;
#[cfg(feature = "ssr")]
pub use search::search_shell;

/// Where the page's stylesheet, code glue and WASM are, under the site's root.
#[derive(Clone, Debug)]
pub struct Assets {
    pub css: String,
    pub js: String,
    pub wasm: String,
}

/// Starts the app once the page has painted: the page reads and sends without its code, so
/// the code's download does not compete with what paints it (the HTML and the stylesheet).
/// `{js}` and `{wasm}` are the glue's and the WASM's paths.
const LOADER: &str = "requestAnimationFrame(() => setTimeout(async () => { \
    const app = await import('{js}'); \
    await app.default({ module_or_path: '{wasm}' }); \
    app.hydrate(); \
}));";

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions, assets: &Assets) -> impl IntoView {
    let loader = LOADER
        .replace("{js}", &assets.js)
        .replace("{wasm}", &assets.wasm);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <HeadTags assets=assets.clone()/>
                <AutoReload options/>
                <script type="module" nonce=use_nonce()>{loader}</script>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// What every page's `<head>` has: the character set, the viewport, both colour schemes, the
/// icons, the web app manifest (so the chat installs as an app) and the stylesheet.
#[component]
pub(crate) fn HeadTags(assets: Assets) -> impl IntoView {
    view! {
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="color-scheme" content="light dark"/>
        <meta name="theme-color" content="#1f2330"/>
        <link rel="icon" href="/favicon.ico"/>
        <link rel="apple-touch-icon" href="/icon-192.png"/>
        <link rel="manifest" href="/manifest.webmanifest"/>
        <link rel="stylesheet" href=assets.css/>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: this marks the page as hydrated for tests and CSS.
    Effect::new(|| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=ChatPage ssr=SsrMode::Async/>
                <Route path=path!("/room/:room") view=ChatPage ssr=SsrMode::Async/>
                <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <Title text="Not found · longpoll-chat"/>
        <main class="not-found">
            <h1>"Nothing here"</h1>
            <p><a href="/">"Go to #general"</a></p>
        </main>
    }
}

/// A person's initial, for their avatar (one function: each copy is more code to load).
fn initial(name: &str) -> String {
    name.chars()
        .next()
        .unwrap_or('?')
        .to_uppercase()
        .to_string()
}

/// A server's refusal as a sentence for the page.
fn explain(error: &ChatError) -> String {
    let text = match error {
        ChatError::TooManyAttempts { retry_after_secs } => {
            format!("too many sign-in attempts: try again in {retry_after_secs} s")
        }
        ChatError::RateLimited { retry_after_secs } => {
            format!("too many messages: try again in {retry_after_secs} s")
        }
        ChatError::NoSuchAccount => "no account of that name".to_owned(),
        ChatError::NoSuchMessage => "that message is no longer kept".to_owned(),
        other => other.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}
