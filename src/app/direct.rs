//! Direct messages: the room list's section of the person's direct rooms, each named by its
//! people (never by the room's name, which is a hash), and "New message", which opens the
//! direct room of the people typed (made if need be).
//!
//! "New message" is one of the room list's forms ([`super::room_forms`]): up to
//! [`crate::model::DIRECT_ROOM_MAX_OTHERS`] names separated by commas or spaces (one without
//! JavaScript).

use leptos::prelude::*;

use super::{
    changes::author_key, room_forms::new_direct_form, session::Session, sidebar::RoomList,
};
use crate::{
    error::ChatError,
    model::{is_direct_room, RoomInfo, RoomList as Rooms},
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

/// The person's direct rooms (call it for a signed-in page) under their heading, with "New
/// message" ([`new_direct_form`]).
///
/// A plain function, not a component: one erased view less in the first load.
pub fn direct_messages(
    listed: Resource<Result<Rooms, ChatError>>,
    current_room: Memo<String>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <div class="section-head">
            <h2>"Direct messages"</h2>
            {new_direct_form()}
        </div>
        <RoomList listed current_room room_open=Signal::stored(false) drawer_open direct=true/>
    }
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
}
