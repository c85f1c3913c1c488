//! The domain's data, shared by the server and the browser: messages, the API's request and
//! response shapes, and validated newtypes ("parse, don't validate").
//!
//! Every rule about what a valid room name, sender, text or client id looks like lives here, so
//! the REST handlers, the server functions and the UI all apply the same ones.
//!
//! One file per concept: [`names`] (validated newtypes and their limits), [`message`] (a
//! message and its changes), [`delivery`] (poll, send, history), [`stream`], [`presence`],
//! [`accounts`], [`rooms`] (rooms, members, reads), [`search`], [`push`], [`files`]. Everything is re-exported here, so
//! `crate::model::X` names any of it.

pub mod accounts;
pub mod delivery;
pub mod files;
pub mod message;
pub mod names;
pub mod presence;
pub mod push;
pub mod rooms;
pub mod search;
pub mod stream;

pub use accounts::*;
pub use delivery::*;
pub use files::*;
pub use message::*;
pub use names::*;
pub use presence::*;
pub use push::*;
pub use rooms::*;
pub use search::*;
pub use stream::*;
