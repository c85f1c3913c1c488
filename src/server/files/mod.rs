//! Files and pictures sent with messages: kept in a local directory or S3-compatible storage
//! (through `object_store`), each beside what it is (a small JSON), under its room, so a room
//! that goes takes its files with it.
//!
//! - this module: the [`Files`] service: keeping an upload, serving a file (ranges), deleting
//!   a message's or a room's files, and the sweep;
//! - `content`: what an upload is, from its bytes: an image decoded and thumbnailed, or not;
//! - `location`: where files live (`--files`).
//!
//! Layout: `rooms/ROOM/ID/file`, `rooms/ROOM/ID/thumbnail` (images), `rooms/ROOM/ID/meta.json`
//! (`FileMeta`), ID being the file's UUIDv7.
//!
//! Invariants:
//! - who may fetch a file is checked by the caller (`server::chat`) on every request: who may
//!   read its room now;
//! - a file is kept whole before its message is sent, and deleted if the send fails; deleting
//!   a message deletes its file, deleting a room its files;
//! - the sweep deletes every file older than [`SWEEP_GRACE`] that no kept message carries (its
//!   message fell out of retention, or the server stopped between keeping it and sending, or
//!   between deleting a message and its file), as the search index says, which every store
//!   keeps in step with its log.

mod content;
pub mod location;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::{path::Path, GetOptions, GetRange, ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::search::SearchIndex;
use crate::{
    error::ChatError,
    model::{file_name, file_url, thumbnail_url, Attachment},
};
pub use location::FilesLocation;

/// A file younger than this is never swept: its message may still be on its way.
pub const SWEEP_GRACE: Duration = Duration::from_secs(15 * 60);

/// How files are kept and taken.
#[derive(Clone)]
pub struct FilesConfig {
    pub location: FilesLocation,
    /// `--max-upload-bytes`: the largest file taken (413 past it, before anything is kept).
    pub max_upload_bytes: u64,
    /// `--guest-uploads`: whether guests may upload.
    pub guest_uploads: bool,
    /// Bytes of uploads held in memory at once, all uploads together (503 past it).
    pub upload_memory: u64,
    /// How often the sweep looks for files no message carries.
    pub sweep_every: Duration,
}

/// 25 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            location: FilesLocation::Memory,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            guest_uploads: true,
            upload_memory: 8 * DEFAULT_MAX_UPLOAD_BYTES,
            sweep_every: Duration::from_secs(3600),
        }
    }
}

/// What a file is, kept beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileMeta {
    name: String,
    content_type: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thumbnail_type: Option<String>,
}

/// Which of a file's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    File,
    Thumbnail,
}

/// A file as served: its bytes as they come from storage, and what the answer says of them.
pub struct Served {
    pub content_type: String,
    pub name: String,
    /// The file's whole size, and the part of it in `body` (a range request's, or all).
    pub size: u64,
    pub range: std::ops::Range<u64>,
    /// Decoded by the server (an image or its thumbnail): shown inline; anything else only
    /// ever downloads.
    pub inline: bool,
    pub body: futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// A cheap, cloneable handle to the files.
#[derive(Clone)]
pub struct Files {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn ObjectStore>,
    config: FilesConfig,
    /// KiB of uploads held in memory.
    upload_memory: Semaphore,
}

impl Files {
    pub fn open(config: FilesConfig) -> Result<Self, String> {
        let store = config.location.open()?;
        let kib = usize::try_from(config.upload_memory / 1024).unwrap_or(usize::MAX);
        Ok(Self {
            shared: Arc::new(Shared {
                store,
                upload_memory: Semaphore::new(kib.min(Semaphore::MAX_PERMITS)),
                config,
            }),
        })
    }

    pub fn config(&self) -> &FilesConfig {
        &self.shared.config
    }

    /// Room in memory for an upload of up to `bytes` (its request's length), or 503: uploads
    /// are held whole until kept, so together they are bounded.
    pub fn reserve(&self, bytes: u64) -> Result<tokio::sync::SemaphorePermit<'_>, ChatError> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        self.shared
            .upload_memory
            .try_acquire_many(kib)
            .map_err(|_| ChatError::busy("too many uploads at once, retry in a moment", 2))
    }

    fn path(room: &str, id: Uuid, name: &str) -> Path {
        Path::from_iter(["rooms", room, &id.to_string(), name])
    }

    /// Keeps `bytes` uploaded as `name` in `room`: the file, its thumbnail if it is an image,
    /// and what it is. Nothing is left behind if any part fails.
    pub async fn keep(
        &self,
        room: &str,
        name: &str,
        bytes: Bytes,
    ) -> Result<Attachment, ChatError> {
        if bytes.is_empty() {
            return Err(ChatError::invalid("the file is empty"));
        }
        let inspected = {
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || content::inspect(&bytes))
                .await
                .map_err(|_| ChatError::Internal)??
        };
        let id = Uuid::now_v7();
        let size = bytes.len() as u64;
        let name = file_name(name);
        let meta = FileMeta {
            name: name.clone(),
            content_type: inspected.content_type.clone(),
            size,
            thumbnail_type: (inspected.image.as_ref()).map(|picture| picture.thumbnail_type.into()),
        };
        let kept = self.put_all(room, id, bytes, &inspected, &meta).await;
        if let Err(error) = kept {
            self.delete(room, id).await;
            return Err(error);
        }
        let picture = inspected.image.as_ref();
        Ok(Attachment {
            id,
            name,
            content_type: inspected.content_type,
            size,
            url: file_url(room, id),
            width: picture.map(|picture| picture.width),
            height: picture.map(|picture| picture.height),
            thumbnail_url: picture.map(|_| thumbnail_url(room, id)),
        })
    }

    async fn put_all(
        &self,
        room: &str,
        id: Uuid,
        bytes: Bytes,
        inspected: &content::Inspected,
        meta: &FileMeta,
    ) -> Result<(), ChatError> {
        let store = &self.shared.store;
        let failed = |error: object_store::Error| files_failed("keeping a file", error);
        store
            .put(&Self::path(room, id, "file"), PutPayload::from(bytes))
            .await
            .map_err(failed)?;
        if let Some(picture) = &inspected.image {
            let thumbnail = PutPayload::from(picture.thumbnail.clone());
            store
                .put(&Self::path(room, id, "thumbnail"), thumbnail)
                .await
                .map_err(failed)?;
        }
        let meta = serde_json::to_vec(meta).map_err(|_| ChatError::Internal)?;
        // Last: a file is served once what it is is known.
        store
            .put(&Self::path(room, id, "meta.json"), PutPayload::from(meta))
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// The file (or its thumbnail) `id` of `room`, the part `range` asks for (`None`: all);
    /// 404 when there is none. Whether the caller may read the room is the caller's to check.
    pub async fn serve(
        &self,
        room: &str,
        id: Uuid,
        part: Part,
        range: Option<GetRange>,
    ) -> Result<Served, ChatError> {
        let store = &self.shared.store;
        let meta = match store.get(&Self::path(room, id, "meta.json")).await {
            Ok(meta) => meta
                .bytes()
                .await
                .map_err(|e| files_failed("reading a file", e))?,
            Err(object_store::Error::NotFound { .. }) => return Err(ChatError::NoSuchFile),
            Err(error) => return Err(files_failed("reading a file", error)),
        };
        let meta: FileMeta = serde_json::from_slice(&meta).map_err(|_| ChatError::NoSuchFile)?;
        let (object, content_type, inline) = match (part, meta.thumbnail_type) {
            (Part::File, thumbnail) => ("file", meta.content_type, thumbnail.is_some()),
            (Part::Thumbnail, Some(thumbnail)) => ("thumbnail", thumbnail, true),
            (Part::Thumbnail, None) => return Err(ChatError::NoSuchFile),
        };
        let path = Self::path(room, id, object);
        let size = match part {
            Part::File => meta.size,
            Part::Thumbnail => match store.head(&path).await {
                Ok(head) => head.size,
                Err(object_store::Error::NotFound { .. }) => return Err(ChatError::NoSuchFile),
                Err(error) => return Err(files_failed("reading a file", error)),
            },
        };
        let range = range.map(|range| within(range, size)).transpose()?;
        let options = GetOptions {
            range,
            ..GetOptions::default()
        };
        let found = match store.get_opts(&path, options).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Err(ChatError::NoSuchFile),
            Err(error) => return Err(files_failed("reading a file", error)),
        };
        let size = found.meta.size;
        let range = found.range.clone();
        let body = found
            .into_stream()
            .map_err(|error| std::io::Error::other(error.to_string()))
            .boxed();
        Ok(Served {
            content_type,
            name: meta.name,
            size,
            range,
            inline,
            body,
        })
    }

    /// Deletes the file `id` of `room` and what goes with it; what fails is left to the sweep.
    pub async fn delete(&self, room: &str, id: Uuid) {
        for part in ["meta.json", "thumbnail", "file"] {
            match self.shared.store.delete(&Self::path(room, id, part)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot delete a file: the sweep will");
                }
            }
        }
    }

    /// Deletes every file of `room`.
    pub async fn delete_room(&self, room: &str) {
        let prefix = Path::from_iter(["rooms", room]);
        let store = &self.shared.store;
        let listed = store
            .list(Some(&prefix))
            .map_ok(|object| object.location)
            .boxed();
        let deleted: Vec<_> = store.delete_stream(listed).collect().await;
        if deleted.iter().any(|result| {
            result
                .as_ref()
                .is_err_and(|error| !matches!(error, object_store::Error::NotFound { .. }))
        }) {
            tracing::warn!(
                room,
                "cannot delete some files of a deleted room: the sweep will"
            );
        }
    }

    /// Deletes the files older than `grace` that no kept message carries; how many.
    pub async fn sweep(&self, index: &SearchIndex, grace: Duration) -> Result<usize, ChatError> {
        let store = &self.shared.store;
        let mut listed = store.list(Some(&Path::from("rooms")));
        let mut seen = std::collections::BTreeSet::new();
        while let Some(object) = listed.next().await {
            let object = object.map_err(|error| files_failed("listing files", error))?;
            let parts: Vec<_> = object.location.parts().collect();
            let [_, room, id, _] = parts.as_slice() else {
                continue;
            };
            // A room named `.` or `..` is kept as `%2E`, `%2E%2E` (the only names of rooms
            // that a path part changes).
            let room = match room.as_ref() {
                "%2E" => ".".to_owned(),
                "%2E%2E" => "..".to_owned(),
                room => room.to_owned(),
            };
            let Ok(id) = Uuid::parse_str(id.as_ref()) else {
                continue;
            };
            seen.insert((room, id));
        }
        let mut deleted = 0;
        for (room, id) in seen {
            if !old_enough(id, grace) || index.carries_file(id).await? {
                continue;
            }
            self.delete(&room, id).await;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Sweeps every [`FilesConfig::sweep_every`], for as long as the server runs.
    pub fn start_sweeping(&self, index: SearchIndex) {
        let files = self.clone();
        tokio::spawn(async move {
            let every = files.shared.config.sweep_every;
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                match files.sweep(&index, SWEEP_GRACE).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "swept files no message carries"),
                    Err(_) => {}
                }
            }
        });
    }
}

/// `range` of a file of `size` bytes, its end cut to the file's (RFC 9110); 416 when it
/// starts past the end.
fn within(range: GetRange, size: u64) -> Result<GetRange, ChatError> {
    match range {
        GetRange::Bounded(bounds) if bounds.start < size => {
            Ok(GetRange::Bounded(bounds.start..bounds.end.min(size)))
        }
        GetRange::Offset(start) if start < size => Ok(GetRange::Offset(start)),
        GetRange::Suffix(last) if last > 0 && size > 0 => Ok(GetRange::Suffix(last.min(size))),
        _ => Err(ChatError::RangeNotSatisfiable),
    }
}

/// Whether the file `id` (a UUIDv7: it says when it was made) is older than `grace`.
fn old_enough(id: Uuid, grace: Duration) -> bool {
    let Some((seconds, nanos)) = id.get_timestamp().map(|at| at.to_unix()) else {
        return true;
    };
    let made = std::time::UNIX_EPOCH + Duration::new(seconds, nanos);
    made.elapsed().is_ok_and(|age| age >= grace)
}

fn files_failed(what: &str, error: object_store::Error) -> ChatError {
    tracing::error!(%error, "{what} failed");
    super::metrics::count_store_error();
    ChatError::StoreUnavailable
}
