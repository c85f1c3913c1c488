//! Full-text search in the page: the search box over the room list, its results as you type,
//! and the results page, `/search`.
//!
//! The box is a plain form (`GET /search`) that opens the results page ([`page`], rendered by
//! the server only: its hits are links to their rooms at the message, it needs no code in the
//! browser). Once the page is hydrated, `/`
//! anywhere but in a field focuses the box, and the first focus loads the box's controller
//! ([`panel`]): typing opens the results panel, the arrow keys move through the hits while the
//! focus stays in the box (`aria-activedescendant`), Enter opens the hit (or, with none
//! picked, the results page), and Escape closes the panel, then clears the box.
//!
//! The first load carries only the form and the `/` key: everything that acts on the box is
//! a `#[lazy]` function, fetched when the box is first focused (what is typed meanwhile goes
//! into the field and is read when it arrives).
//!
//! Layout: this file (the box), [`panel`] (its controller and the panel of results), [`hits`]
//! (filters and addresses, hits grouped by room, a hit's snippet), [`page`].

mod hits;
#[cfg(feature = "ssr")]
mod page;
mod panel;

pub use hits::SearchFilters;
#[cfg(feature = "ssr")]
pub use page::search_shell;

use leptos::{ev, html, prelude::*};
use wasm_bindgen::JsCast;

use crate::model::SEARCH_TEXT_MAX_CHARS;
use panel::search_controller;

/// The box's fields, for its controller.
#[derive(Clone, Copy)]
pub struct SearchForm {
    /// Around the box and the panel.
    pub root: NodeRef<html::Div>,
    pub input: NodeRef<html::Input>,
    only_here: NodeRef<html::Input>,
    from: NodeRef<html::Input>,
    /// The room "Only this room" names: the room shown (none on the results page).
    here: Memo<String>,
    /// The room list's drawer (phones), closed when a hit opens.
    pub drawer_open: RwSignal<bool>,
}

impl SearchForm {
    /// The search as the fields hold it now.
    pub fn filters(&self) -> SearchFilters {
        let value = |field: NodeRef<html::Input>| {
            field
                .get_untracked()
                .map(|field| field.value())
                .unwrap_or_default()
        };
        let only_here = (self.only_here.get_untracked()).is_some_and(|field| field.checked());
        SearchFilters {
            q: value(self.input),
            room: only_here.then(|| self.here.get_untracked()),
            from: value(self.from),
        }
    }
}

/// The search box over the room list; its controller and results once it is first focused.
#[component]
pub fn SearchBox(
    /// The room "Only this room" names: the room shown (none on the results page).
    here: Memo<String>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let form = SearchForm {
        root: NodeRef::new(),
        input: NodeRef::new(),
        only_here: NodeRef::new(),
        from: NodeRef::new(),
        here,
        drawer_open,
    };
    let started = RwSignal::new(false);
    listen(form, started);

    view! {
        <div class="search" node_ref=form.root>
            <form class="search-box" role="search" method="get" action="/search">
                <div class="search-row">
                    <input
                        id="search-input"
                        node_ref=form.input
                        type="search"
                        name="q"
                        required
                        maxlength=SEARCH_TEXT_MAX_CHARS
                        aria-label="Search messages"
                        placeholder="Search messages"
                        autocomplete="off"
                        role="combobox"
                        aria-autocomplete="list"
                        aria-expanded="false"
                        aria-controls="search-results"
                    />
                    // Its magnifier, and the `/` key's hint after it, are drawn by CSS.
                    <button type="submit" class="search-go" aria-label="Search"></button>
                </div>
                <div class="search-filters">
                    // Its value is for the form's own request (no JavaScript): the page shows
                    // one room then. Once hydrated, the room shown now is read from `here`.
                    // Without a room (the results page), CSS hides it.
                    <label class="search-here">
                        <input
                            type="checkbox"
                            name="room"
                            value=here.get_untracked()
                            node_ref=form.only_here
                        />
                        "Only this room"
                    </label>
                    <label class="search-from">
                        "From"
                        <input
                            type="text"
                            name="from"
                            placeholder="anyone"
                            autocomplete="off"
                            node_ref=form.from
                        />
                    </label>
                </div>
            </form>
            <Show when=move || started.get()>
                {move || Suspend::new(search_controller(form))}
            </Show>
        </div>
    }
}

/// `/` focuses the search box, unless the person is typing somewhere; the first focus in the
/// box `starts` it.
fn listen(form: SearchForm, started: RwSignal<bool>) {
    let input = form.input;
    // Effects run only in the browser: one pair of listeners per box.
    Effect::new(move || {
        let focus = window_event_listener(ev::focusin, move |event| {
            let inside = (form.root.get_untracked(), event.target());
            if let (Some(root), Some(target)) = inside {
                if root.contains(target.dyn_ref::<web_sys::Node>()) {
                    started.set(true);
                }
            }
        });
        let slash = window_event_listener(ev::keydown, move |event| {
            if event.key() != "/" || event.ctrl_key() || event.meta_key() || event.alt_key() {
                return;
            }
            let typing = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlElement>().ok())
                .is_some_and(|element| {
                    matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                });
            if let (false, Some(input)) = (typing, input.get_untracked()) {
                event.prevent_default();
                let _ = input.focus();
                input.select();
            }
        });
        on_cleanup(move || {
            focus.remove();
            slash.remove();
        });
    });
}
