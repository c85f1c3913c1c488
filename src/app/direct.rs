//! Direct messages: the room list's section of the person's direct rooms, each named by its
//! people (never by the room's name, which is a hash), and "New message", which opens the
//! direct room of the people typed (made if need be).
//!
//! "New message" is a `<details>` around a plain form posting to the `direct_room` server
//! function, so it works without JavaScript (one name, `with[0]`; the server function then
//! opens the room). It is static HTML, as the search box is, for the first-load budget; its
//! submission, once the page is hydrated, loads [`start_direct`], which takes up to
//! [`DIRECT_ROOM_MAX_OTHERS`] names separated by commas or spaces and opens the room in place.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::hooks::use_navigate;
use wasm_bindgen::{JsCast, JsValue};

use super::{changes::author_key, explain, js, session::Session, sidebar::RoomList};
use crate::{
    api::direct_room,
    error::ChatError,
    model::{is_direct_room, RoomInfo, RoomList as Rooms, DIRECT_ROOM_MAX_OTHERS},
};

/// How the page names `room`: `#name`, or for a direct room its people but `me` (an account
/// key), as the room list has them (without the list, "Direct message").
pub fn room_label(room: &str, rooms: Option<&[RoomInfo]>, me: Option<&str>) -> String {
    if !is_direct_room(room) {
        return format!("#{room}");
    }
    (rooms.into_iter().flatten())
        .find(|info| info.name == room)
        .map(|info| people_label(&info.people, me))
        .unwrap_or_else(|| "Direct message".to_owned())
}

/// A direct room's people but `me`, in order (only `me`: a room with oneself).
pub fn people_label(people: &[String], me: Option<&str>) -> String {
    let mut label = String::new();
    // A loop, not `join`: smaller in the first load.
    for person in people.iter().filter(|person| Some(person.as_str()) != me) {
        if !label.is_empty() {
            label.push_str(", ");
        }
        label.push_str(person);
    }
    match label.is_empty() {
        true => me.unwrap_or_default().to_owned(),
        false => label,
    }
}

/// The room the page shows, named as the page names it ([`room_label`]): read where it is
/// shown, under a `Transition` (which waits for the room list on the server).
#[derive(Clone, Copy)]
pub struct ShownRoom {
    pub room: Memo<String>,
    pub listed: Resource<Result<Rooms, ChatError>>,
    pub session: Session,
}

impl ShownRoom {
    pub fn label(&self) -> String {
        let me = self.session.user().map(|me| author_key(&me));
        let listed = self.listed.get().and_then(Result::ok);
        let rooms = listed.as_ref().map(|list| &list.rooms[..]);
        self.room
            .with(|room| room_label(room, rooms, me.as_deref()))
    }
}

/// "New message": the `<details>` and its form, as HTML (nothing in it comes from outside).
const NEW_DIRECT_HTML: &str = "<details class=\"new-direct\">\
    <summary aria-label=\"New message\" title=\"New message\"><span aria-hidden=\"true\">+</span></summary>\
    <form class=\"join\" method=\"post\" action=\"/sfn/direct-room\">\
    <label for=\"direct-with\">New message to</label>\
    <div class=\"join-row\">\
    <input id=\"direct-with\" type=\"text\" name=\"with[0]\" required placeholder=\"names, up to 8\" \
    autocomplete=\"off\" autocapitalize=\"none\" spellcheck=\"false\">\
    <button type=\"submit\">Start</button>\
    </div>\
    <p class=\"field-error\" role=\"alert\" hidden></p>\
    </form>\
    </details>";

/// The person's direct rooms (call it for a signed-in page) under their heading, with "New
/// message".
///
/// A plain function, not a component: one erased view less in the first load.
pub fn direct_messages(
    listed: Resource<Result<Rooms, ChatError>>,
    current_room: Memo<String>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let owner = Owner::current();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        let form = (event.target()).and_then(|target| target.dyn_into::<web_sys::Element>().ok());
        if let (Some(form), Some(owner)) = (form, owner.clone()) {
            event.prevent_default();
            spawn_local(start_direct(form, owner, drawer_open));
        }
    };
    view! {
        <div class="section-head" on:submit=on_submit>
            <h2>"Direct messages"</h2>
            <div inner_html=NEW_DIRECT_HTML.to_owned()></div>
        </div>
        <RoomList listed current_room room_open=Signal::stored(false) drawer_open direct=true/>
    }
}

/// Opens the direct room of the people the form names, made if need be, and closes the form;
/// or says under it why not. Its code loads with the first submission.
#[lazy]
async fn start_direct(form: web_sys::Element, owner: Owner, drawer_open: RwSignal<bool>) {
    let field = |selector: &str| form.query_selector(selector).ok().flatten();
    let (Some(input), Some(problem), Some(button)) =
        (field("input"), field(".field-error"), field("button"))
    else {
        return;
    };
    let say = |why: Option<String>| {
        js::set(
            &problem,
            "textContent",
            &why.clone().unwrap_or_default().into(),
        );
        let _ = match why {
            Some(_) => {
                let _ = input.set_attribute("aria-invalid", "true");
                problem.remove_attribute("hidden")
            }
            None => {
                let _ = input.remove_attribute("aria-invalid");
                problem.set_attribute("hidden", "")
            }
        };
    };
    let with = split_names(&js::text(&input, "value").unwrap_or_default());
    if with.len() > DIRECT_ROOM_MAX_OTHERS {
        say(Some(format!("At most {DIRECT_ROOM_MAX_OTHERS} people")));
        return;
    }
    js::set(&button, "disabled", &JsValue::TRUE);
    let answer = direct_room(with).await;
    js::set(&button, "disabled", &JsValue::FALSE);
    match answer {
        Ok(room) => {
            say(None);
            js::set(&input, "value", &"".into());
            if let Ok(details) = js::call(&form, "closest", &[&"details".into()]) {
                js::set(&details, "open", &JsValue::FALSE);
            }
            drawer_open.try_set(false);
            owner.with(|| use_navigate()(&format!("/room/{}", room.name), Default::default()));
        }
        Err(error) => say(Some(explain(&error))),
    }
}

/// The account names typed, separated by commas or spaces (an `@` before one is allowed).
fn split_names(typed: &str) -> Vec<String> {
    (typed.split(|c: char| c == ',' || c.is_whitespace()))
        .map(|name| name.trim_start_matches('@'))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(name: &str, people: &[&str]) -> RoomInfo {
        RoomInfo {
            direct: true,
            private: true,
            people: people.iter().map(|person| person.to_string()).collect(),
            ..RoomInfo::public(name.into())
        }
    }

    #[test]
    fn a_direct_room_is_named_by_its_people_but_me() {
        let rooms = [
            RoomInfo::public("general".into()),
            direct("dm--1", &["ann", "bob", "cy"]),
        ];
        assert_eq!(room_label("general", Some(&rooms), Some("ann")), "#general");
        assert_eq!(room_label("dm--1", Some(&rooms), Some("ann")), "bob, cy");
        assert_eq!(room_label("dm--1", Some(&rooms), Some("bob")), "ann, cy");
        assert_eq!(
            room_label("dm--2", Some(&rooms), Some("ann")),
            "Direct message"
        );
        assert_eq!(room_label("dm--1", None, Some("ann")), "Direct message");
    }

    #[test]
    fn names_are_split_at_commas_and_spaces() {
        assert_eq!(split_names(" bob, @cy  dee,,"), ["bob", "cy", "dee"]);
        assert!(split_names(" , ").is_empty());
    }
}
