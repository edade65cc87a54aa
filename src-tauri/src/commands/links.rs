//! Links from the window: a link a person clicked in a reply or a model card, opened in their browser.
//! The checks (web addresses only) and the test hook live in `crate::links`.

use types::HearthError;

/// Open `url` in the person's browser. Only http and https addresses are opened.
#[tauri::command]
#[specta::specta]
pub fn open_link(url: String) -> Result<(), HearthError> {
    crate::links::open_in_browser(&crate::links::external_link(&url)?)
}
