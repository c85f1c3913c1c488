//! Full-text search in the page: the search box over the room list, its results as you type,
//! and the results page, `/search`.
//!
//! The box is a plain form (`GET /search`) that opens the results page (`page`, rendered by
//! the server only: its hits are links to their rooms at the message, it needs no code in the
//! browser). Once the page is hydrated, `/` anywhere but in a field focuses the box, and the
//! first key pressed in the box loads its controller ([`panel`]): typing opens the results
//! panel, the arrow keys move through the hits while the focus stays in the box
//! (`aria-activedescendant`), Enter opens the hit (or, with none picked, the results page),
//! and Escape closes the panel, then clears the box.
//!
//! The first load carries only the form and one listener, kept small for the first-load
//! budget (`end2end/tests/first-load.spec.ts`): the form is static HTML (no view code to
//! hydrate; the controller finds its fields by name), and everything that acts on the box is
//! a `#[lazy]` function, fetched and mounted on that first key (what is typed meanwhile goes
//! into the field, where the controller reads it).
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

use std::{cell::Cell, rc::Rc};

use leptos::{ev, html, prelude::*, task::spawn_local};
use wasm_bindgen::JsCast;

use crate::model::{RoomName, SEARCH_TEXT_MAX_CHARS};
use panel::search_controller;

/// The box, for its controller.
#[derive(Clone, Copy)]
pub struct SearchForm {
    /// Around the box and the panel.
    pub root: NodeRef<html::Div>,
    /// The room "Only this room" names: the room shown (none on the results page).
    here: Memo<String>,
    /// The room list's drawer (phones), closed when a hit opens.
    pub drawer_open: RwSignal<bool>,
}

impl SearchForm {
    /// The form's field named `name` (`q`, `room`, `from`).
    pub fn field(&self, name: &str) -> Option<web_sys::HtmlInputElement> {
        let root = self.root.get_untracked()?;
        let field = root.query_selector(&format!("input[name={name}]")).ok()??;
        field.dyn_into().ok()
    }

    /// The search as the fields hold it now.
    pub fn filters(&self) -> SearchFilters {
        let value = |name| {
            self.field(name)
                .map(|field| field.value())
                .unwrap_or_default()
        };
        let only_here = self.field("room").is_some_and(|field| field.checked());
        SearchFilters {
            q: value("q"),
            room: only_here.then(|| self.here.get_untracked()),
            from: value("from"),
        }
    }
}

/// The search box over the room list; its controller and results once it is first used.
/// `here` is the room "Only this room" names: the room shown (none on the results page).
///
/// A plain function, not a component: the room list's view holds it (one erased view less in
/// the first load).
pub fn search_box(here: Memo<String>, drawer_open: RwSignal<bool>) -> impl IntoView {
    let form = SearchForm {
        root: NodeRef::new(),
        here,
        drawer_open,
    };
    listen(form);
    view! { <div class="search" node_ref=form.root inner_html=form_html(&here.get_untracked())></div> }
}

/// The form, as HTML. Its only value from outside is the room, for the form's own request
/// (without JavaScript the page shows one room; once hydrated, the room shown now is read from
/// [`SearchForm::here`]), and only a valid room name, which needs no escaping, is written.
fn form_html(room: &str) -> String {
    let here = match RoomName::parse(room) {
        Ok(room) => format!(
            "<label class=\"search-here\"><input type=\"checkbox\" name=\"room\" value=\"{room}\">\
             Only this room</label>"
        ),
        Err(_) => String::new(),
    };
    format!(
        "<form class=\"search-box\" role=\"search\" method=\"get\" action=\"/search\">\
         <div class=\"search-row\">\
         <input id=\"search-input\" type=\"search\" name=\"q\" required \
         maxlength=\"{SEARCH_TEXT_MAX_CHARS}\" aria-label=\"Search messages\" \
         placeholder=\"Search messages\" autocomplete=\"off\" role=\"combobox\" \
         aria-autocomplete=\"list\" aria-expanded=\"false\" aria-controls=\"search-results\">\
         <button type=\"submit\" class=\"search-go\" aria-label=\"Search\"></button>\
         </div>\
         <div class=\"search-filters\">{here}\
         <label class=\"search-from\">From \
         <input type=\"text\" name=\"from\" placeholder=\"anyone\" autocomplete=\"off\"></label>\
         </div>\
         </form>"
    )
}

/// `/` focuses the search box, unless the person is typing somewhere. The first key pressed
/// in the box (or that `/`) fetches the box's controller and mounts it there; a key typed
/// meanwhile goes into the field, where the controller finds it.
fn listen(form: SearchForm) {
    // Effects run only in the browser: one listener per box.
    Effect::new(move || {
        let owner = Owner::current();
        let started = Rc::new(Cell::new(false));
        let handle = window_event_listener(ev::keydown, move |event| {
            let target = event.target();
            let slash =
                event.key() == "/" && !(event.ctrl_key() || event.meta_key() || event.alt_key());
            let typing = (target.as_ref())
                .and_then(|target| target.dyn_ref::<web_sys::Element>())
                .is_some_and(|element| {
                    matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                });
            let inside = (form.root.get_untracked().zip(target))
                .is_some_and(|(root, target)| root.contains(target.dyn_ref()));
            if slash && !typing {
                if let Some(input) = form.field("q") {
                    event.prevent_default();
                    let _ = input.focus();
                    input.select();
                }
            } else if !inside {
                return;
            }
            if !started.replace(true) {
                if let Some(owner) = owner.clone() {
                    spawn_local(search_controller(form, owner));
                }
            }
        });
        on_cleanup(move || handle.remove());
    });
}
