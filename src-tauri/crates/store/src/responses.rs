//! The local API's stored responses (OpenAI's Responses API with `store: true`): what a later
//! request's `previous_response_id` continues from, kept across restarts, and `GET`/`DELETE
//! /v1/responses/{id}`. The server owns their shape; this keeps JSON text it gives.

use rusqlite::{params, OptionalExtension};

use crate::{now, Result, Store};

/// How long a stored response is kept, as OpenAI keeps them: older ones are removed when another is
/// stored.
pub const RESPONSE_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub id: String,
    pub model: String,
    /// A JSON array: the input items the response answered, earlier turns included.
    pub history: String,
    /// A JSON object: the response as it was sent.
    pub response: String,
}

impl Store {
    /// Stores a response (replacing one of the same id), and forgets those past `RESPONSE_DAYS`.
    pub fn save_response(&self, r: &StoredResponse) -> Result<()> {
        let conn = self.conn()?;
        let now = now();
        conn.execute(
            "INSERT OR REPLACE INTO api_responses (id, model, history, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![r.id, r.model, r.history, r.response, now],
        )?;
        conn.execute("DELETE FROM api_responses WHERE created_at < ?1", [now - RESPONSE_DAYS * 86_400])?;
        Ok(())
    }

    pub fn response(&self, id: &str) -> Result<Option<StoredResponse>> {
        Ok(self
            .conn()?
            .query_row("SELECT id, model, history, response FROM api_responses WHERE id = ?1", [id], |r| {
                Ok(StoredResponse { id: r.get(0)?, model: r.get(1)?, history: r.get(2)?, response: r.get(3)? })
            })
            .optional()?)
    }

    /// Removes a stored response; whether there was one.
    pub fn delete_response(&self, id: &str) -> Result<bool> {
        Ok(self.conn()?.execute("DELETE FROM api_responses WHERE id = ?1", [id])? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_kept_read_and_deleted_and_old_ones_expire() {
        let s = Store::in_memory().unwrap();
        let r = StoredResponse { id: "resp_1".into(), model: "m".into(), history: "[]".into(), response: "{}".into() };
        s.save_response(&r).unwrap();
        assert_eq!(s.response("resp_1").unwrap(), Some(r.clone()));
        assert_eq!(s.response("resp_2").unwrap(), None);
        // One stored 31 days ago goes when the next one is stored.
        s.conn().unwrap().execute("UPDATE api_responses SET created_at = created_at - 31 * 86400", []).unwrap();
        s.save_response(&StoredResponse { id: "resp_2".into(), ..r.clone() }).unwrap();
        assert_eq!(s.response("resp_1").unwrap(), None);
        assert!(s.delete_response("resp_2").unwrap());
        assert!(!s.delete_response("resp_2").unwrap());
    }
}
