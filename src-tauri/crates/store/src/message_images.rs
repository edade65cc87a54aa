//! The pictures of Chat's messages: which picture (by the hash its file is kept under), where in
//! the message's text, its size. Deleted with their message.

use rusqlite::params;

use crate::{Result, Store};

/// A picture of a message, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The sha256 of the picture's bytes, in hex: its file's name.
    pub hash: String,
    /// Where it sits in its message's text (bytes).
    pub at: u32,
    pub media_type: String,
    pub width: u32,
    pub height: u32,
}

impl Store {
    /// Records `images` as the pictures of message `message_id`, in order.
    pub fn add_message_images(&self, message_id: i64, images: &[StoredImage]) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for i in images {
            tx.execute(
                "INSERT INTO message_images (message_id, at, hash, media_type, width, height) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![message_id, i.at, i.hash, i.media_type, i.width, i.height],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every picture of a conversation's messages, by message, in order.
    pub fn message_images(&self, conversation_id: i64) -> Result<std::collections::HashMap<i64, Vec<StoredImage>>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT i.message_id, i.at, i.hash, i.media_type, i.width, i.height FROM message_images i
             JOIN messages m ON m.id = i.message_id WHERE m.conversation_id = ?1 ORDER BY i.id",
        )?;
        let mut by_message: std::collections::HashMap<i64, Vec<StoredImage>> = std::collections::HashMap::new();
        let rows = stmt.query_map([conversation_id], |r| {
            Ok((r.get::<_, i64>(0)?, StoredImage { at: r.get(1)?, hash: r.get(2)?, media_type: r.get(3)?, width: r.get(4)?, height: r.get(5)? }))
        })?;
        for r in rows {
            let (message, image) = r?;
            by_message.entry(message).or_default().push(image);
        }
        Ok(by_message)
    }

    /// Whether any message still shows the picture `hash` (a file no message shows can go).
    pub fn image_in_use(&self, hash: &str) -> Result<bool> {
        let conn = self.conn()?;
        Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM message_images WHERE hash = ?1)", [hash], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::MessageState;

    #[test]
    fn a_messages_pictures_are_kept_in_order_and_go_with_it() {
        let s = Store::in_memory().unwrap();
        let c = s.create_conversation("t", None, "{}").unwrap();
        let m = s.add_message(c.id, "user", "Look", MessageState::Done).unwrap();
        let image = |hash: &str, at| StoredImage { hash: hash.into(), at, media_type: "image/png".into(), width: 3, height: 2 };
        s.add_message_images(m, &[image("bb", 4), image("aa", 0)]).unwrap();
        assert_eq!(s.message_images(c.id).unwrap()[&m], vec![image("bb", 4), image("aa", 0)]);
        assert!(s.image_in_use("aa").unwrap());
        s.truncate_from(c.id, m).unwrap();
        assert!(s.message_images(c.id).unwrap().is_empty());
        assert!(!s.image_in_use("aa").unwrap());
    }
}
