//! The pictures of Chat's messages, kept under the home's `images/` folder once each, named by the
//! sha256 of their bytes (the same photo attached twice is one file), with a small JPEG beside
//! each for the message to show. The database says which message shows which (`store`'s
//! `message_images`). A picture is checked when it is attached — decoded as the model will read it
//! — so a damaged file is refused then, not when a model is asked about it; the original bytes are
//! kept, and scaled to what the loaded model's projector reads each time it is sent.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use store::StoredImage;
use types::{ChatImage, HearthError, MessageImage};

use crate::internal;

/// The longer side of a thumbnail, in pixels: twice what a message shows, for sharp screens.
const THUMBNAIL_SIDE: u32 = 320;

pub struct Pictures {
    dir: PathBuf,
}

impl Pictures {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Keeps a picture a person attached (a data URL, as the window reads a file), to sit at byte
    /// `at` of its message: checked, written once under its hash, with its thumbnail.
    pub fn keep(&self, data_url: &str, at: u32) -> Result<StoredImage, HearthError> {
        let bytes = images::from_data_url(data_url)?;
        let picture = images::read(&bytes, images::DEFAULT_SIDE, at)?;
        let media_type = images::media_type(&bytes).unwrap_or("image/png").to_string();
        let hash = format!("{:x}", Sha256::digest(&bytes));
        std::fs::create_dir_all(&self.dir).map_err(internal)?;
        let file = self.dir.join(&hash);
        if !file.is_file() {
            write_once(&file, &bytes)?;
        }
        let thumb = self.thumbnail_path(&hash);
        if !thumb.is_file() {
            let small = images::read(&bytes, THUMBNAIL_SIDE, 0)?;
            write_once(&thumb, &images::jpeg(&small)?)?;
        }
        Ok(StoredImage { hash, at, media_type, width: picture.width, height: picture.height })
    }

    /// The picture as a model reads it: its pixels, its longer side at most `side`.
    pub fn pixels(&self, image: &StoredImage, side: u32) -> Result<ChatImage, HearthError> {
        let bytes = std::fs::read(self.dir.join(&image.hash)).map_err(|e| crate::ChatError::PictureGone { reason: e.to_string() })?;
        Ok(images::read(&bytes, side, image.at)?)
    }

    /// The picture itself, as a data URL (for the window's full view, and exports).
    pub fn data_url(&self, image: &StoredImage) -> Result<String, HearthError> {
        let bytes = std::fs::read(self.dir.join(&image.hash)).map_err(|e| crate::ChatError::PictureGone { reason: e.to_string() })?;
        Ok(images::data_url(&image.media_type, &bytes))
    }

    /// What the window shows in a message: the thumbnail as a data URL (empty when its file is
    /// gone: the message still opens).
    pub fn shown(&self, image: &StoredImage) -> MessageImage {
        let thumbnail = std::fs::read(self.thumbnail_path(&image.hash)).map(|b| images::data_url("image/jpeg", &b)).unwrap_or_default();
        MessageImage { hash: image.hash.clone(), at: image.at, width: image.width, height: image.height, thumbnail }
    }

    fn thumbnail_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.thumb.jpg"))
    }
}

/// Writes a file whole or not at all: to a temporary name, then renamed into place.
fn write_once(path: &Path, bytes: &[u8]) -> Result<(), HearthError> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).map_err(internal)?;
    std::fs::rename(&partial, path).map_err(internal)
}
