//! The results page, `/search?q=&room=&from=&before=`: what the search box's plain form
//! opens (and, with JavaScript, what Enter opens when no hit is picked). The server renders it
//! with its results, each a link to the room at the message, so it works without JavaScript;
//! "More results" is the next page. A lazy route: its code is fetched when it is visited.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{hooks::use_query_map, lazy_route, LazyRoute};
use uuid::Uuid;

use super::hits::{by_room, hit_url, HitBody, RoomHits, SearchFilters};
use crate::{
    api::search_messages,
    app::{explain, room_header::DrawerToggle, session::Session, sidebar::Sidebar},
    error::ChatError,
    model::SearchResults,
};

/// The results page. Everything it needs is made in its view, which is lazy: nothing of it is
/// in the first load.
pub struct SearchRoute;

#[lazy_route]
impl LazyRoute for SearchRoute {
    fn data() -> Self {
        SearchRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <SearchPage/> }.into_any()
    }
}

/// The page's search (from its address) and its answer.
struct Search {
    search: Memo<SearchFilters>,
    before: Memo<Option<Uuid>>,
    results: Resource<Option<Result<SearchResults, ChatError>>>,
}

impl Search {
    fn from_address() -> Self {
        let query = use_query_map();
        let search = Memo::new(move |_| {
            query.with(|query| SearchFilters {
                q: query.get("q").unwrap_or_default(),
                room: query.get("room").filter(|room| !room.trim().is_empty()),
                from: query.get("from").unwrap_or_default(),
            })
        });
        let before = Memo::new(move |_| {
            query.with(|query| query.get("before").and_then(|id| Uuid::parse_str(&id).ok()))
        });
        let results = Resource::new(
            move || (search.get(), before.get()),
            |(search, before)| async move {
                if search.q.trim().is_empty() {
                    return None;
                }
                Some(
                    search_messages(
                        search.q.trim().to_owned(),
                        search.room_filter(),
                        search.sender_filter(),
                        None,
                        before.map(|before| before.to_string()),
                    )
                    .await,
                )
            },
        );
        Self {
            search,
            before,
            results,
        }
    }
}

#[component]
fn SearchPage() -> impl IntoView {
    let Search {
        search,
        before,
        results,
    } = Search::from_address();
    Session::provide();
    let drawer_open = RwSignal::new(false);
    let no_room = Memo::new(|_| String::new());
    let title = move || match search.with(|search| search.q.trim().to_owned()) {
        q if q.is_empty() => "Search · longpoll-chat".to_owned(),
        q => format!("“{q}” · Search · longpoll-chat"),
    };
    view! {
        <Title text=title/>
        <div class="layout" class:drawer-open=drawer_open>
            <Sidebar
                current_room=no_room
                room_open=Signal::stored(false)
                drawer_open
                search=search.get_untracked()
            />
            <main class="conversation search-page">
                <header class="room-header">
                    <DrawerToggle drawer_open/>
                    <h1>"Search"</h1>
                </header>
                <div class="search-page-results">
                    <Suspense fallback=|| view! { <p class="notice">"Searching…"</p> }>
                        {move || Suspend::new(async move {
                            match results.await {
                                None => {
                                    view! {
                                        <p class="notice">
                                            "Type what to find in the search box: words, \"a phrase\" or prefix*."
                                        </p>
                                    }
                                        .into_any()
                                }
                                Some(Ok(found)) => {
                                    view! {
                                        <Results
                                            found
                                            search=search.get_untracked()
                                            later_page=before.get_untracked().is_some()
                                        />
                                    }
                                        .into_any()
                                }
                                Some(Err(error)) => {
                                    view! {
                                        <p class="notice search-problem" role="alert">
                                            "Could not search: " {explain(&error)}
                                        </p>
                                    }
                                        .into_any()
                                }
                            }
                        })}
                    </Suspense>
                </div>
            </main>
        </div>
    }
}

/// What was found, grouped by room, each hit a link to its room at the message.
#[component]
fn Results(found: SearchResults, search: SearchFilters, later_page: bool) -> impl IntoView {
    // The server renders UTC; once hydrated the browser shows its local time.
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let count = found.results.len();
    let summary = {
        let mut summary = match (count, found.next_before.is_some()) {
            (0, _) if later_page => "No more messages".to_owned(),
            (0, _) => "No messages".to_owned(),
            (1, false) => "1 message".to_owned(),
            (count, false) => format!("{count} messages"),
            (count, true) => format!("The first {count} messages"),
        };
        summary.push_str(&format!(" found for “{}”", search.q.trim()));
        if let Some(room) = search.room_filter() {
            summary.push_str(&format!(" in #{room}"));
        }
        if let Some(from) = search.sender_filter() {
            summary.push_str(&format!(" from {from}"));
        }
        summary
    };
    let more = found
        .next_before
        .map(|before| search.page_url(Some(before)));
    let groups = by_room(&found.results);
    view! {
        <p class="search-summary" role="status">{summary}</p>
        {groups
            .into_iter()
            .map(|group| view! { <PageGroup group hydrated/> })
            .collect_view()}
        {more.map(|href| view! { <a class="load-more" href=href>"More results"</a> })}
    }
}

#[component]
fn PageGroup(group: RoomHits, hydrated: RwSignal<bool>) -> impl IntoView {
    let heading_id = format!("results-{}", group.room);
    let labelled_by = heading_id.clone();
    view! {
        <section class="search-group" aria-labelledby=labelled_by>
            <h2 class="search-room" id=heading_id>
                "#"
                {group.room.clone()}
            </h2>
            <ul class="search-list">
                {group
                    .hits
                    .into_iter()
                    .map(|(_, hit)| {
                        let href = hit_url(&group.room, hit.message.id);
                        view! {
                            <li>
                                <a class="search-hit" href=href>
                                    <HitBody hit local_time=hydrated/>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}
