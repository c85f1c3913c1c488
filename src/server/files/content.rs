//! What an upload is, from its bytes alone (never its name or the uploader's word): an image
//! the server decodes (PNG, JPEG, GIF, WebP; its size and a thumbnail of at most
//! [`THUMBNAIL_MAX_SIDE`] pixels on its longest side, re-encoded, so nothing of the upload but
//! its pixels reaches a page inline), or anything else, typed by its magic numbers and only
//! ever served as a download.

use std::io::Cursor;

use image::{
    codecs::jpeg::JpegEncoder, DynamicImage, ImageFormat, ImageReader, Limits as ImageLimits,
};

use crate::error::ChatError;

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 1_200;
/// The largest picture decoded, per side: past it, a decompression bomb is refused early.
const MAX_SIDE: u32 = 16_384;
/// The most memory one decoding may take.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// What the bytes are.
#[derive(Debug)]
pub struct Inspected {
    pub content_type: String,
    pub image: Option<Picture>,
}

/// An image the server decoded.
#[derive(Debug)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
    pub thumbnail_type: &'static str,
}

/// Inspects `bytes` (CPU work: run it on a blocking thread). An upload that says it is one of
/// the images decoded here but does not decode is refused (400), so a truncated picture is
/// never kept.
pub fn inspect(bytes: &[u8]) -> Result<Inspected, ChatError> {
    let decoded = match image::guess_format(bytes) {
        Ok(
            format @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP),
        ) => format,
        _ => {
            let content_type =
                infer::get(bytes).map_or("application/octet-stream", |kind| kind.mime_type());
            return Ok(Inspected {
                content_type: content_type.to_owned(),
                image: None,
            });
        }
    };
    let undecodable = |why: &dyn std::fmt::Display| {
        ChatError::invalid(format!("the image cannot be decoded: {why}"))
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), decoded);
    let mut limits = ImageLimits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let picture = reader.decode().map_err(|error| undecodable(&error))?;
    let (width, height) = (picture.width(), picture.height());
    let (thumbnail, thumbnail_type) = thumbnail(&picture).map_err(|error| undecodable(&error))?;
    Ok(Inspected {
        content_type: decoded.to_mime_type().to_owned(),
        image: Some(Picture {
            width,
            height,
            thumbnail,
            thumbnail_type,
        }),
    })
}

/// The picture at most [`THUMBNAIL_MAX_SIDE`] on its longest side: a JPEG, or a PNG when it
/// has transparency (a GIF's first frame).
fn thumbnail(picture: &DynamicImage) -> image::ImageResult<(Vec<u8>, &'static str)> {
    let small = if picture.width().max(picture.height()) > THUMBNAIL_MAX_SIDE {
        picture.thumbnail(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE)
    } else {
        picture.clone()
    };
    let mut out = Vec::new();
    if small.color().has_alpha() {
        small.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)?;
        Ok((out, "image/png"))
    } else {
        let rgb = DynamicImage::ImageRgb8(small.to_rgb8());
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 82))?;
        Ok((out, "image/jpeg"))
    }
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let picture = RgbImage::from_pixel(width, height, Rgb([200, 30, 30]));
        let mut out = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn an_image_is_decoded_and_thumbnailed_to_its_longest_side() {
        let inspected = inspect(&png(2_400, 600)).unwrap();
        assert_eq!(inspected.content_type, "image/png");
        let picture = inspected.image.unwrap();
        assert_eq!((picture.width, picture.height), (2_400, 600));
        assert_eq!(picture.thumbnail_type, "image/jpeg");
        let thumbnail = image::load_from_memory(&picture.thumbnail).unwrap();
        assert_eq!((thumbnail.width(), thumbnail.height()), (1_200, 300));
    }

    #[test]
    fn transparency_keeps_a_png_thumbnail() {
        let picture = RgbaImage::from_pixel(10, 10, Rgba([0, 0, 0, 0]));
        let mut bytes = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        assert_eq!(
            inspect(&bytes).unwrap().image.unwrap().thumbnail_type,
            "image/png"
        );
    }

    #[test]
    fn the_type_comes_from_the_content() {
        let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
        let inspected = inspect(html).unwrap();
        assert!(inspected.image.is_none());
        assert_ne!(inspected.content_type, "image/png");
        assert_eq!(
            inspect(b"%PDF-1.7\n...").unwrap().content_type,
            "application/pdf"
        );
        assert_eq!(
            inspect(b"just some text").unwrap().content_type,
            "application/octet-stream"
        );
    }

    #[test]
    fn a_truncated_image_is_refused() {
        let whole = png(64, 64);
        let refused = inspect(&whole[..whole.len() / 2]).unwrap_err();
        assert_eq!(refused.status_code(), 400);
    }
}
