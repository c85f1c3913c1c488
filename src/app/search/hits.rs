//! What the panel and the results page share: a search's filters and the addresses they make,
//! hits grouped by room, and one hit's sender, time and snippet.

use leptos::prelude::*;
use uuid::Uuid;

use crate::model::{SearchHit, SnippetPart};

/// A search as the box, the panel and the results page's address hold it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilters {
    /// What to find, as typed.
    pub q: String,
    /// Only this room.
    pub room: Option<String>,
    /// Only messages this account sent (empty: anyone's).
    pub from: String,
}

impl SearchFilters {
    /// The filters as the server function takes them: blank ones left out.
    pub fn room_filter(&self) -> Option<String> {
        self.room.clone().filter(|room| !room.trim().is_empty())
    }

    pub fn sender_filter(&self) -> Option<String> {
        Some(self.from.trim().to_owned()).filter(|from| !from.is_empty())
    }

    /// The results page of this search (from `before` on, if given).
    pub fn page_url(&self, before: Option<Uuid>) -> String {
        let mut url = format!("/search?q={}", encode(self.q.trim()));
        if let Some(room) = self.room_filter() {
            url.push_str(&format!("&room={}", encode(&room)));
        }
        if let Some(from) = self.sender_filter() {
            url.push_str(&format!("&from={}", encode(&from)));
        }
        if let Some(before) = before {
            url.push_str(&format!("&before={before}"));
        }
        url
    }
}

/// Where a hit opens: its room at the message.
pub fn hit_url(room: &str, id: Uuid) -> String {
    format!("/room/{}?at={id}", encode(room))
}

/// `text` percent-encoded for a query value: everything but unreserved ASCII is escaped.
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The hits of one room, each with its place in the whole list as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomHits {
    pub room: String,
    pub hits: Vec<(usize, SearchHit)>,
}

/// `hits` (best first) grouped by room: the rooms in the order of their best hit, each room's
/// hits in the order given; every hit numbered in the order shown.
pub fn by_room(hits: &[SearchHit]) -> Vec<RoomHits> {
    let mut groups: Vec<RoomHits> = Vec::new();
    for hit in hits {
        match groups.iter_mut().find(|group| group.room == hit.room) {
            Some(group) => group.hits.push((0, hit.clone())),
            None => groups.push(RoomHits {
                room: hit.room.clone(),
                hits: vec![(0, hit.clone())],
            }),
        }
    }
    let mut shown = 0;
    for group in &mut groups {
        for (at, _) in &mut group.hits {
            *at = shown;
            shown += 1;
        }
    }
    groups
}

/// The addresses of `groups`' hits, in the order shown.
pub fn targets(groups: &[RoomHits]) -> Vec<String> {
    groups
        .iter()
        .flat_map(|group| {
            group
                .hits
                .iter()
                .map(|(_, hit)| hit_url(&group.room, hit.message.id))
        })
        .collect()
}

/// A hit's sender and time over its snippet, the matched words marked: built from the parts
/// as data, never as HTML.
#[component]
pub fn HitBody(hit: SearchHit, #[prop(into)] local_time: Signal<bool>) -> impl IntoView {
    let timestamp = hit.message.timestamp;
    let time = move || super::super::timestamps::date_time(timestamp, local_time.get());
    let guest = !hit.message.verified;
    view! {
        <span class="hit-meta">
            <span class="hit-sender">{hit.message.sender}</span>
            {guest.then(|| view! { <span class="guest-tag">"guest"</span> })}
            <time datetime=super::super::timestamps::iso_utc(timestamp)>{time}</time>
        </span>
        <span class="snippet">{snippet(hit.snippet)}</span>
    }
}

fn snippet(parts: Vec<SnippetPart>) -> impl IntoView {
    parts
        .into_iter()
        .map(|part| {
            if part.mark {
                view! { <mark>{part.text}</mark> }.into_any()
            } else {
                part.text.into_any()
            }
        })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Message;

    fn hit(room: &str, text: &str) -> SearchHit {
        SearchHit {
            room: room.into(),
            message: Message {
                id: Uuid::now_v7(),
                text: text.into(),
                room: room.into(),
                ..Message::default()
            },
            snippet: vec![SnippetPart {
                text: text.into(),
                mark: true,
            }],
        }
    }

    #[test]
    fn hits_group_by_room_in_the_order_of_each_rooms_best_hit() {
        let hits = [
            hit("b", "1"),
            hit("a", "2"),
            hit("b", "3"),
            hit("c", "4"),
            hit("a", "5"),
        ];
        let groups = by_room(&hits);
        let shown: Vec<(String, Vec<(usize, String)>)> = groups
            .iter()
            .map(|group| {
                let hits = group.hits.iter();
                let hits = hits.map(|(at, hit)| (*at, hit.message.text.clone()));
                (group.room.clone(), hits.collect())
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("b".into(), vec![(0, "1".into()), (1, "3".into())]),
                ("a".into(), vec![(2, "2".into()), (3, "5".into())]),
                ("c".into(), vec![(4, "4".into())]),
            ]
        );
        let urls = targets(&groups);
        assert_eq!(urls.len(), 5);
        let first = hits[0].message.id;
        assert_eq!(urls[0], format!("/room/b?at={first}"));
    }

    #[test]
    fn the_page_address_escapes_the_query_and_leaves_out_blank_filters() {
        let search = SearchFilters {
            q: " \"tea time\" & 100%* ".into(),
            room: Some("ops".into()),
            from: "  ".into(),
        };
        assert_eq!(
            search.page_url(None),
            "/search?q=%22tea%20time%22%20%26%20100%25%2A&room=ops"
        );
        let before = Uuid::now_v7();
        let search = SearchFilters {
            q: "é".into(),
            room: None,
            from: "bob".into(),
        };
        assert_eq!(
            search.page_url(Some(before)),
            format!("/search?q=%C3%A9&from=bob&before={before}")
        );
    }
}
