//! The room list's forms: "Join or create a room" (any room by name), and, signed in, "New
//! private room" and "New message" (a direct room, see [`super::direct`]). Each opens its room
//! and closes the drawer: a joined one once its name is valid, a new one once the server made
//! it; otherwise it says under the form why not.
//!
//! They are static HTML, as the search box is, for the first-load budget: the room list has one
//! submit listener ([`on_room_form`]), and a form's first submission loads
//! [`submit_room_form`], which does the rest. Without JavaScript "New private room" and "New
//! message" post to their server functions, which open the room they made; a refusal comes back
//! in the address, and the server writes it under its form. (Joining needs JavaScript.)

use leptos::{
    prelude::*,
    server::ServerActionError,
    server_fn::{error::ServerFnUrlError, ServerFn},
    task::spawn_local,
};
use leptos_router::hooks::use_navigate;
use wasm_bindgen::{JsCast, JsValue};

use super::{explain, js};
use crate::{
    api::{create_private_room, direct_room, CreatePrivateRoom, DirectRoom},
    error::ChatError,
    model::{RoomName, DIRECT_ROOM_MAX_OTHERS},
};

/// The attribute that names a room list form's kind (`join`, `private`, `direct`).
const KIND: &str = "data-room-form";

const CREATE_ROOM_PATH: &str = <CreatePrivateRoom as ServerFn>::PATH;
const DIRECT_ROOM_PATH: &str = <DirectRoom as ServerFn>::PATH;

/// "Join or create a room".
pub fn join_room_form() -> impl IntoView {
    let html = form_html(
        "join",
        "",
        "<label for=\"join-room\">Join or create a room</label>\
         <div class=\"join-row\"><input id=\"join-room\" type=\"text\" placeholder=\"room-name\" \
         autocomplete=\"off\"><button type=\"submit\">Join</button></div>",
        None,
    );
    view! { <div inner_html=html></div> }
}

/// "New private room" (signed in).
pub fn new_private_room_form() -> impl IntoView {
    let html = form_html(
        "private",
        CREATE_ROOM_PATH,
        "<label for=\"new-private-room\">New private room</label>\
         <div class=\"join-row\"><input id=\"new-private-room\" type=\"text\" name=\"name\" \
         required placeholder=\"room-name\" autocomplete=\"off\"><button type=\"submit\">Create\
         </button></div>",
        refusal(CREATE_ROOM_PATH),
    );
    view! { <div inner_html=html></div> }
}

/// "New message": a `<details>` around the form that starts (or opens) the direct room of the
/// people typed (signed in). Without JavaScript it takes one name (`with[0]`).
pub fn new_direct_form() -> impl IntoView {
    let form = form_html(
        "direct",
        DIRECT_ROOM_PATH,
        "<label for=\"direct-with\">New message to</label>\
         <div class=\"join-row\"><input id=\"direct-with\" type=\"text\" name=\"with[0]\" required \
         placeholder=\"names, up to 8\" autocomplete=\"off\" autocapitalize=\"none\" \
         spellcheck=\"false\"><button type=\"submit\">Start</button></div>",
        refusal(DIRECT_ROOM_PATH),
    );
    let html = format!(
        "<details class=\"new-direct\"><summary aria-label=\"New message\" title=\"New message\">\
         <span aria-hidden=\"true\">+</span></summary>{form}</details>"
    );
    view! { <div inner_html=html></div> }
}

/// A room list form as HTML: its kind, where it posts without JavaScript (none: nowhere), its
/// fields, and the refusal to show under it. Only `refusal` comes from outside: it is escaped.
fn form_html(kind: &str, action: &str, fields: &str, refusal: Option<String>) -> String {
    let post = match action {
        "" => String::new(),
        action => format!(" method=\"post\" action=\"{action}\""),
    };
    let problem = match refusal {
        Some(refusal) => format!(
            "<p class=\"field-error\" role=\"alert\">{}</p>",
            escape(&refusal)
        ),
        None => "<p class=\"field-error\" role=\"alert\" hidden></p>".to_owned(),
    };
    format!("<form class=\"join\" {KIND}=\"{kind}\"{post}>{fields}{problem}</form>")
}

/// Why the server refused the form posting to `path` without JavaScript (the address carries
/// it back).
pub fn refusal(path: &str) -> Option<String> {
    let error = use_context::<ServerActionError>().filter(|error| error.path() == path)?;
    Some(explain(&ServerFnUrlError::<ChatError>::decode_err(
        error.err(),
    )))
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The room list's submit listener: a room list form's submission (see [`KIND`]) loads
/// [`submit_room_form`]; other forms (the search box, the account's) are left alone.
pub fn on_room_form(drawer_open: RwSignal<bool>) -> impl Fn(leptos::ev::SubmitEvent) + 'static {
    let owner = Owner::current();
    move |event| {
        let form = (event.target())
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .filter(|form| form.has_attribute(KIND));
        if let (Some(form), Some(owner)) = (form, owner.clone()) {
            event.prevent_default();
            spawn_local(submit_room_form(form, owner, drawer_open));
        }
    }
}

/// Opens the room `form` names (joined, made, or a direct room's), closing the form and the
/// drawer; or says under the form why not. Its code loads with the first submission.
#[lazy]
async fn submit_room_form(form: web_sys::Element, owner: Owner, drawer_open: RwSignal<bool>) {
    let field = |selector: &str| form.query_selector(selector).ok().flatten();
    let (Some(input), Some(problem), Some(button)) =
        (field("input"), field(".field-error"), field("button"))
    else {
        return;
    };
    let typed = js::text(&input, "value").unwrap_or_default();
    let typed = typed.trim();
    js::set(&button, "disabled", &JsValue::TRUE);
    let opened = match form.get_attribute(KIND).as_deref() {
        Some("join") => RoomName::parse(typed)
            .map(String::from)
            .map_err(|invalid| invalid.to_string()),
        Some("private") => (create_private_room(typed.to_owned()).await)
            .map(|room| room.name)
            .map_err(|refused| explain(&refused)),
        _ => match split_names(typed) {
            with if with.len() > DIRECT_ROOM_MAX_OTHERS => {
                Err(format!("At most {DIRECT_ROOM_MAX_OTHERS} people"))
            }
            with => (direct_room(with).await)
                .map(|room| room.name)
                .map_err(|refused| explain(&refused)),
        },
    };
    js::set(&button, "disabled", &JsValue::FALSE);
    js::set(
        &problem,
        "textContent",
        &opened.clone().err().unwrap_or_default().into(),
    );
    let _ = match &opened {
        Err(_) => {
            let _ = input.set_attribute("aria-invalid", "true");
            problem.remove_attribute("hidden")
        }
        Ok(_) => {
            let _ = input.remove_attribute("aria-invalid");
            problem.set_attribute("hidden", "")
        }
    };
    if let Ok(room) = opened {
        js::set(&input, "value", &"".into());
        if let Ok(details) = js::call(&form, "closest", &[&"details".into()]) {
            js::set(&details, "open", &JsValue::FALSE);
        }
        drawer_open.try_set(false);
        owner.with(|| use_navigate()(&format!("/room/{room}"), Default::default()));
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

    #[test]
    fn names_are_split_at_commas_and_spaces() {
        assert_eq!(split_names(" bob, @cy  dee,,"), ["bob", "cy", "dee"]);
        assert!(split_names(" , ").is_empty());
    }

    #[test]
    fn a_refusal_is_written_as_text() {
        let html = form_html(
            "private",
            CREATE_ROOM_PATH,
            "",
            Some("<b>\"no\" & no</b>".into()),
        );
        assert!(
            html.contains(">&lt;b&gt;&quot;no&quot; &amp; no&lt;/b&gt;</p>"),
            "{html}"
        );
        assert!(html.contains("action=\"/sfn/create-room\""), "{html}");
        let html = form_html("join", "", "", None);
        assert!(
            !html.contains("action") && html.contains("hidden></p>"),
            "{html}"
        );
    }
}
