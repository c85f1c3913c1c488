//! The results page, `/search?q=&room=&from=&before=`: what the search box's form opens. Only
//! the server renders it (`site` serves it beside the app's routes): its hits are plain links
//! to their rooms at the message, so it needs no code in the browser, loads none, and costs the
//! app's first load nothing; it works the same with and without JavaScript. "More results" is
//! the next page.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{components::Router, hooks::use_query_map};
use uuid::Uuid;

use super::hits::{by_room, hit_url, HitBody, RoomHits, SearchFilters};
use crate::{
    api::search_messages,
    app::{
        direct::room_label,
        explain,
        session::Session,
        sidebar::{listed_rooms, Sidebar},
        Assets, HeadTags,
    },
    model::{SearchResults, SEARCH_TEXT_MAX_CHARS},
};

/// The results page's document: the app's head without its code, the room list beside the
/// results.
pub fn search_shell(assets: &Assets) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <HeadTags assets=assets.clone()/>
                <MetaTags/>
            </head>
            <body>
                <SearchApp/>
            </body>
        </html>
    }
}

#[component]
fn SearchApp() -> impl IntoView {
    provide_meta_context();
    view! {
        <Router>
            <SearchPage/>
        </Router>
    }
}

/// The page's search, from its address.
fn searched() -> (SearchFilters, Option<Uuid>) {
    let query = use_query_map();
    query.with_untracked(|query| {
        let search = SearchFilters {
            q: query.get("q").unwrap_or_default(),
            room: query.get("room").filter(|room| !room.trim().is_empty()),
            from: query.get("from").unwrap_or_default(),
        };
        let before = query.get("before").and_then(|id| Uuid::parse_str(&id).ok());
        (search, before)
    })
}

#[component]
fn SearchPage() -> impl IntoView {
    let (search, before) = searched();
    Session::provide();
    let results = {
        let search = search.clone();
        OnceResource::new(async move {
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
        })
    };
    let title = match search.q.trim() {
        "" => "Search · longpoll-chat".to_owned(),
        q => format!("“{q}” · Search · longpoll-chat"),
    };
    let no_room = Memo::new(|_| String::new());
    let refreshes = RwSignal::new(0);
    let listed = listed_rooms(no_room, refreshes);
    view! {
        <Title text=title/>
        <div class="layout">
            <Sidebar
                current_room=no_room
                room_open=Signal::stored(false)
                drawer_open=RwSignal::new(false)
                listed
                refreshes
            />
            <main class="conversation search-page">
                <header class="room-header">
                    <h1>"Search"</h1>
                    <a class="back-to-chat" href="/">"Back to the chat"</a>
                </header>
                <div class="search-page-results">
                    <PageForm search=search.clone()/>
                    <Suspense fallback=|| view! { <p class="notice">"Searching…"</p> }>
                        {move || {
                            let search = search.clone();
                            Suspend::new(async move {
                                match results.await {
                                    None => {
                                        view! {
                                            <p class="notice">
                                                "Type what to find: words, \"a phrase\" or prefix*."
                                            </p>
                                        }
                                            .into_any()
                                    }
                                    Some(Ok(found)) => {
                                        view! {
                                            <Results found search later_page=before.is_some()/>
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
                            })
                        }}
                    </Suspense>
                </div>
            </main>
        </div>
    }
}

/// The search again, with its filters.
#[component]
fn PageForm(search: SearchFilters) -> impl IntoView {
    view! {
        <form class="search-page-form" role="search" method="get" action="/search">
            <input
                type="search"
                name="q"
                value=search.q
                maxlength=SEARCH_TEXT_MAX_CHARS
                aria-label="Search messages"
                placeholder="Search messages"
            />
            <input
                type="text"
                name="room"
                value=search.room.unwrap_or_default()
                aria-label="Only in room"
                placeholder="in any room"
            />
            <input
                type="text"
                name="from"
                value=search.from
                aria-label="Only from"
                placeholder="from anyone"
            />
            <button type="submit">"Search"</button>
        </form>
    }
}

/// What was found, grouped by room, each hit a link to its room at the message.
#[component]
fn Results(found: SearchResults, search: SearchFilters, later_page: bool) -> impl IntoView {
    let count = found.results.len();
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
    let more = found
        .next_before
        .map(|before| search.page_url(Some(before)));
    view! {
        <p class="search-summary">{summary}</p>
        {by_room(&found.results)
            .into_iter()
            .map(|group| view! { <PageGroup group/> })
            .collect_view()}
        {more.map(|href| view! { <a class="load-more" href=href>"More results"</a> })}
    }
}

#[component]
fn PageGroup(group: RoomHits) -> impl IntoView {
    let heading_id = format!("results-{}", group.room);
    let labelled_by = heading_id.clone();
    view! {
        <section class="search-group" aria-labelledby=labelled_by>
            <h2 class="search-room" id=heading_id>
                {room_label(&group.room, None, None)}
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
                                    <HitBody hit local_time=false/>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}
