//! What the search box does once it is first used (its code fetched then, see
//! [`search_controller`]): the keys, sending searches as you type, and the panel of results
//! under the box, a list of hits grouped by room (a `listbox` the box points into) with "Load
//! more" and why nothing came.
//!
//! Invariants: a search is sent once typing pauses for [`DEBOUNCE`]; only the answer to the
//! last request sent is shown (an older one arriving late is dropped), so the list always
//! matches what the box says. The controller keeps the box's `aria-expanded` and
//! `aria-activedescendant`, which the box itself renders as closed.

use std::time::Duration;

use leptos::{
    ev,
    prelude::*,
    tachys::view::{Mountable, Render},
    task::spawn_local,
};
use leptos_router::hooks::use_navigate;
use uuid::Uuid;
use wasm_bindgen::JsCast;

use super::{
    hits::{by_room, hit_url, targets, HitBody, RoomHits, SearchFilters},
    SearchForm,
};
use crate::{
    api::search_messages,
    app::{direct::room_label, explain},
    model::{SearchHit, SEARCH_LIMIT},
};

/// How long typing must pause before a search is sent.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// The id of the list of hits, which the box controls (its `aria-controls`).
const RESULTS_ID: &str = "search-results";

/// The id of the `n`th hit shown.
fn hit_id(n: usize) -> String {
    format!("search-hit-{n}")
}

/// [`SearchController`], its code loaded the first time a key is pressed in the search box,
/// mounted in the box under `owner` (the box's: its router, its cleanup).
#[lazy]
pub fn search_controller(form: SearchForm, owner: Owner) {
    owner.with(|| {
        let Some(root) = form.root.get_untracked() else {
            return;
        };
        let mut mounted = view! { <SearchController form/> }.into_any().build();
        mounted.mount(&root, None);
        // The box's DOM goes with the box; its reactive parts end with the owner.
        StoredValue::new_local(mounted);
    });
}

/// What the controller and its panel share.
#[derive(Clone, Copy)]
struct SearchState {
    form: SearchForm,
    /// Whether the panel is open.
    open: RwSignal<bool>,
    /// Counts the edits of the box and its filters: the panel searches again on each.
    edits: RwSignal<u32>,
    /// The hit the arrow keys are on, in the order shown.
    active: RwSignal<Option<usize>>,
    /// Where each hit shown opens, in the order shown.
    targets: RwSignal<Vec<String>>,
}

impl SearchState {
    fn has_query(&self) -> bool {
        !self.form.filters().q.trim().is_empty()
    }

    fn close(&self) {
        self.open.set(false);
        self.active.set(None);
    }

    /// Opened a hit, or the results page: the panel and the drawer close.
    fn opened(&self) {
        self.close();
        self.form.drawer_open.set(false);
    }

    /// Whether `event` happened in the box or the panel.
    fn inside(&self, event: &web_sys::Event) -> bool {
        match (self.form.root.get_untracked(), event.target()) {
            (Some(root), Some(target)) => target
                .dyn_into::<web_sys::Node>()
                .is_ok_and(|target| root.contains(Some(&target))),
            _ => false,
        }
    }

    /// Whether `event` happened in the search field itself.
    fn in_field(&self, event: &web_sys::Event) -> bool {
        match (self.form.field("q"), event.target()) {
            (Some(input), Some(target)) => AsRef::<web_sys::EventTarget>::as_ref(&input) == &target,
            _ => false,
        }
    }
}

/// The box's keys and edits, and the panel while it is open. A key in the box loaded this: if
/// the box holds a query already, the panel opens at once.
#[component]
fn SearchController(form: SearchForm) -> impl IntoView {
    let state = SearchState {
        form,
        open: RwSignal::new(false),
        edits: RwSignal::new(0),
        active: RwSignal::new(None),
        targets: RwSignal::new(Vec::new()),
    };
    state.open.set(state.has_query());
    let navigate = use_navigate();
    let open_hit = move |target: String| {
        state.opened();
        navigate(&target, Default::default());
    };
    let on_key = move |event: ev::KeyboardEvent| {
        if !state.in_field(&event) {
            return;
        }
        let open = state.open.get_untracked();
        let shown = state.targets.with_untracked(Vec::len);
        let active = state.active.get_untracked();
        let picked = match event.key().as_str() {
            "ArrowDown" if open => shown
                .checked_sub(1)
                .map(|last| active.map_or(0, |at| (at + 1).min(last))),
            "ArrowUp" if open => active.and_then(|at| at.checked_sub(1)),
            "ArrowDown" => {
                state.open.set(state.has_query());
                None
            }
            // With no hit picked, the form's submission opens the results page.
            "Enter" if open && !event.is_composing() => {
                let target =
                    active.and_then(|at| state.targets.with_untracked(|all| all.get(at).cloned()));
                if let Some(target) = target {
                    event.prevent_default();
                    open_hit(target);
                }
                return;
            }
            "Escape" if open => {
                state.close();
                None
            }
            "Escape" => {
                if let Some(input) = state.form.field("q") {
                    input.set_value("");
                }
                None
            }
            _ => return,
        };
        event.prevent_default();
        state.active.set(picked);
    };
    let listeners = [
        window_event_listener(ev::keydown, on_key),
        window_event_listener(ev::input, move |event| {
            if state.inside(&event) {
                state.edits.update(|edits| *edits += 1);
                state.open.set(state.has_query());
            }
        }),
        window_event_listener(ev::focusin, move |event| {
            if state.in_field(&event) {
                state.open.set(state.has_query());
            }
        }),
        // A press outside the box and the panel closes the panel.
        window_event_listener(ev::pointerdown, move |event| {
            if !state.inside(&event) {
                state.close();
            }
        }),
        // The results page is the server's alone (no code in the browser): the form's own
        // request loads it, its fields trimmed, blank ones left out.
        window_event_listener(ev::submit, move |event| {
            if state.inside(&event) {
                event.prevent_default();
                let search = state.form.filters();
                if !search.q.trim().is_empty() {
                    state.opened();
                    let _ = window().location().assign(&search.page_url(None));
                }
            }
        }),
    ];
    on_cleanup(move || listeners.into_iter().for_each(|listener| listener.remove()));
    view! {
        <Show when=move || state.open.get()>
            <SearchPanel state/>
        </Show>
    }
}

/// Where the panel's search is.
#[derive(Clone, Debug, PartialEq)]
enum Progress {
    /// Waiting for the first answer.
    Searching,
    /// The hits shown answer the search in the box.
    Done,
    /// The server refused the search, or could not be reached: why.
    Failed(String),
}

/// The hits found so far and where the next page starts.
#[derive(Clone, Default)]
struct Found {
    hits: Vec<SearchHit>,
    next_before: Option<Uuid>,
}

/// The panel's requests: each is numbered when sent, and only the last one's answer is kept.
#[derive(Clone, Copy)]
struct Requests {
    sent: StoredValue<u64>,
    found: RwSignal<Found>,
    progress: RwSignal<Progress>,
    loading_more: RwSignal<bool>,
    state: SearchState,
}

impl Requests {
    /// Sends `search` (from `before` on: the next page, added to what is shown).
    fn send(self, search: SearchFilters, before: Option<Uuid>) {
        let Some(number) = self.sent.try_get_value().map(|sent| sent + 1) else {
            return;
        };
        self.sent.set_value(number);
        self.loading_more.set(before.is_some());
        spawn_local(async move {
            let answer = search_messages(
                search.q.trim().to_owned(),
                search.room_filter(),
                search.sender_filter(),
                Some(SEARCH_LIMIT.default),
                before.map(|before| before.to_string()),
            )
            .await;
            // A later request was sent meanwhile (or the panel closed): this answer is stale.
            if self.sent.try_get_value() != Some(number) {
                return;
            }
            self.loading_more.try_set(false);
            match answer {
                Ok(results) => {
                    self.found.try_update(|found| {
                        if before.is_none() {
                            found.hits.clear();
                            self.state.active.set(None);
                        }
                        found.hits.extend(results.results);
                        found.next_before = results.next_before;
                        self.state.targets.set(targets(&by_room(&found.hits)));
                    });
                    self.progress.try_set(Progress::Done);
                }
                Err(error) => {
                    // A first page refused: the hits shown no longer answer the box.
                    if before.is_none() {
                        self.found.try_set(Found::default());
                        self.state.active.try_set(None);
                        self.state.targets.try_set(Vec::new());
                    }
                    self.progress.try_set(Progress::Failed(explain(&error)));
                }
            }
        });
    }
}

#[component]
fn SearchPanel(state: SearchState) -> impl IntoView {
    let requests = Requests {
        sent: StoredValue::new(0),
        found: RwSignal::new(Found::default()),
        progress: RwSignal::new(Progress::Searching),
        loading_more: RwSignal::new(false),
        state,
    };
    // A search once typing pauses; an edit before then (or the panel closing) cancels it.
    Effect::new(move || {
        state.edits.track();
        let search = state.form.filters();
        if search.q.trim().is_empty() {
            return;
        }
        if let Ok(timer) = set_timeout_with_handle(move || requests.send(search, None), DEBOUNCE) {
            on_cleanup(move || timer.clear());
        }
    });
    describe_box(state);
    let groups = Memo::new(move |_| requests.found.with(|found| by_room(&found.hits)));
    let next_before = move || requests.found.with(|found| found.next_before);
    let status = move || {
        let count = requests.found.with(|found| found.hits.len());
        match requests.progress.get() {
            Progress::Searching => "Searching…".to_owned(),
            Progress::Failed(_) => String::new(),
            Progress::Done if count == 0 => "No messages found".to_owned(),
            Progress::Done if next_before().is_some() => format!("{count}+ messages"),
            Progress::Done if count == 1 => "1 message".to_owned(),
            Progress::Done => format!("{count} messages"),
        }
    };
    let problem = move || match requests.progress.get() {
        Progress::Failed(why) => Some(view! { <p class="search-problem" role="alert">{why}</p> }),
        _ => None,
    };
    let load_more = move |_| {
        if let Some(before) = next_before() {
            requests.send(state.form.filters(), Some(before));
        }
    };
    view! {
        <div class="search-panel">
            <div class="search-head">
                <p class="search-status" role="status">{status}</p>
                <p class="search-keys" aria-hidden="true">"↑↓ pick · Enter open · Esc close"</p>
            </div>
            {problem}
            <div id=RESULTS_ID role="listbox" aria-label="Messages found" class="search-results">
                {move || {
                    groups
                        .get()
                        .into_iter()
                        .map(|group| view! { <RoomGroup group state/> })
                        .collect_view()
                }}
            </div>
            <Show when=move || next_before().is_some()>
                <button
                    type="button"
                    class="load-more"
                    prop:disabled=move || requests.loading_more.get()
                    on:click=load_more
                >
                    {move || if requests.loading_more.get() { "Loading…" } else { "Load more" }}
                </button>
            </Show>
        </div>
    }
}

/// One room's hits: its name, then each hit as an option that opens the room at the message.
#[component]
fn RoomGroup(group: RoomHits, state: SearchState) -> impl IntoView {
    let label_id = format!("search-room-{}", group.room);
    let labelled_by = label_id.clone();
    view! {
        <div role="group" aria-labelledby=labelled_by class="search-group">
            <p class="search-room" id=label_id>
                {room_label(&group.room, None, None)}
            </p>
            {group
                .hits
                .into_iter()
                .map(|(at, hit)| {
                    let href = hit_url(&group.room, hit.message.id);
                    let active = move || state.active.get() == Some(at);
                    view! {
                        <a
                            role="option"
                            id=hit_id(at)
                            class="search-hit"
                            class:active=active
                            aria-selected=move || active().to_string()
                            tabindex="-1"
                            href=href
                            on:click=move |event: ev::MouseEvent| {
                                // A plain click opens it here; with a modifier the browser's
                                // new tab or window keeps the panel.
                                if !(event.ctrl_key() || event.meta_key() || event.shift_key()) {
                                    state.opened();
                                }
                            }
                            on:mousemove=move |_| {
                                if !active() {
                                    state.active.set(Some(at));
                                }
                            }
                        >
                            <HitBody hit local_time=true/>
                        </a>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// Keeps the box's ARIA attributes as the panel is: expanded while open, and pointing at the hit
/// the arrow keys are on, which stays in view.
fn describe_box(state: SearchState) {
    let input = move || state.form.field("q");
    if let Some(input) = input() {
        let _ = input.set_attribute("aria-expanded", "true");
    }
    on_cleanup(move || {
        if let Some(input) = input() {
            let _ = input.set_attribute("aria-expanded", "false");
            let _ = input.remove_attribute("aria-activedescendant");
        }
    });
    Effect::new(move || {
        let active = state.active.get().map(hit_id);
        let Some(input) = input() else {
            return;
        };
        match active {
            Some(id) => {
                let _ = input.set_attribute("aria-activedescendant", &id);
                if let Some(element) = document().get_element_by_id(&id) {
                    let options = web_sys::ScrollIntoViewOptions::new();
                    options.set_block(web_sys::ScrollLogicalPosition::Nearest);
                    element.scroll_into_view_with_scroll_into_view_options(&options);
                }
            }
            None => {
                let _ = input.remove_attribute("aria-activedescendant");
            }
        }
    });
}
