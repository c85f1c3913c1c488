//! Files and pictures: what a message carries of the file sent with it, and the rules of a
//! file's name.
//!
//! Where files live, what their type is and who may fetch them is the server's
//! (`server::files`); here is the shape every message shows, shared with the page.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest file name kept, in characters; a longer one is cut (its extension kept).
pub const FILE_NAME_MAX_CHARS: usize = 200;

/// The file a message carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// The file's own id (a UUIDv7): its URLs name it.
    pub id: Uuid,
    /// The name it was uploaded with, without any directory, at most 200 characters.
    pub name: String,
    /// The type the server found in its content (never the uploader's word for it).
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Where its bytes are: `/api/rooms/ROOM/files/ID`.
    pub url: String,
    /// An image the server decoded: its size in pixels, and a thumbnail at most 1,200 pixels
    /// on its longest side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

impl Attachment {
    /// Whether the server decoded it as an image (shown inline; anything else downloads).
    pub fn is_image(&self) -> bool {
        self.thumbnail_url.is_some()
    }
}

/// Where a room's file is served.
pub fn file_url(room: &str, id: Uuid) -> String {
    format!("/api/rooms/{room}/files/{id}")
}

/// Where an image's thumbnail is served.
pub fn thumbnail_url(room: &str, id: Uuid) -> String {
    format!("/api/rooms/{room}/files/{id}/thumbnail")
}

/// The name a file is kept under: its last path part (browsers send `C:\dir\a.png` at times),
/// without control characters or quotes, at most [`FILE_NAME_MAX_CHARS`] (the extension kept);
/// `file` when nothing is left.
pub fn file_name(uploaded: &str) -> String {
    let base = uploaded.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\u{202e}' | '\u{200f}'))
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if clean.is_empty() {
        return "file".into();
    }
    if clean.chars().count() <= FILE_NAME_MAX_CHARS {
        return clean;
    }
    let extension: String = match clean.rsplit_once('.') {
        Some((_, extension)) if extension.chars().count() <= 16 => format!(".{extension}"),
        _ => String::new(),
    };
    let keep = FILE_NAME_MAX_CHARS - extension.chars().count();
    clean.chars().take(keep).chain(extension.chars()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_its_last_part_cleaned_and_bounded() {
        assert_eq!(file_name("C:\\Users\\ann\\shot.png"), "shot.png");
        assert_eq!(file_name("../../etc/passwd"), "passwd");
        assert_eq!(file_name("a\u{0}b\"c\u{202e}gnp.exe"), "abcgnp.exe");
        assert_eq!(file_name(".hidden"), "hidden");
        assert_eq!(file_name("  "), "file");
        assert_eq!(file_name("dir/"), "file");
        let long = format!("{}.jpeg", "x".repeat(500));
        let kept = file_name(&long);
        assert_eq!(kept.chars().count(), FILE_NAME_MAX_CHARS);
        assert!(kept.ends_with("x.jpeg"));
    }
}
