//! Links never take over the window. The window shows the app and nothing else: it refuses to
//! navigate to any other address and refuses every new window (`window.open`, `target=_blank`).
//! A link a person clicks in a reply or a model card reaches `open_link` instead (see the UI's
//! `externalLinks`), which hands http and https addresses, and nothing else, to their browser through
//! the opener plugin's Rust side. The window itself holds no opener permission (capabilities/), so a
//! page cannot ask the opener for a file or a program.

use std::io::Write;

use tauri::webview::NewWindowResponse;
use tauri::{Url, WebviewWindowBuilder};
use types::{ErrorCode, HearthError};

/// Test hook: when set, `open_in_browser` appends each address to this file instead of starting a
/// browser, so the end-to-end tests can see what a click handed over. Not for anything else.
pub const TEST_OPENER_LOG_ENV: &str = "HEARTH_TEST_OPENER_LOG";

/// The label of the one window, as `tauri.conf.json` and the capabilities name it.
const MAIN_WINDOW: &str = "main";

/// The app's own addresses: the bundled UI (`tauri://localhost`; WebView2 serves it as
/// `http(s)://tauri.localhost`) and, in a dev build, Vite's dev server.
#[derive(Debug, Clone)]
pub struct AppOrigin {
    dev_url: Option<Url>,
    webview2: bool,
}

impl AppOrigin {
    /// The origin of this build: the dev server counts only when the UI is not embedded.
    pub fn of(config: &tauri::Config) -> Self {
        Self { dev_url: if tauri::is_dev() { config.build.dev_url.clone() } else { None }, webview2: cfg!(windows) }
    }

    /// Whether the window may show `url`. Origins are compared whole (scheme, host, port), never as
    /// text prefixes: `tauri://localhost.evil.example` is somewhere else.
    pub fn allows(&self, url: &Url) -> bool {
        let bundled = match url.scheme() {
            "tauri" => url.host_str() == Some("localhost") && url.port().is_none(),
            // Only where WebView2 serves the app there: elsewhere `tauri.localhost` may resolve to
            // a real server on this machine.
            "http" | "https" => self.webview2 && url.host_str() == Some("tauri.localhost") && url.port().is_none(),
            _ => false,
        };
        bundled
            || self.dev_url.as_ref().is_some_and(|dev| {
                url.scheme() == dev.scheme()
                    && url.host_str() == dev.host_str()
                    && url.port_or_known_default() == dev.port_or_known_default()
            })
    }
}

/// A link address that may go to the browser: http or https, with a host, and without a user name or
/// password (`https://your-bank.example@evil.example/` reads as one site and opens another).
pub fn external_link(raw: &str) -> Result<Url, HearthError> {
    let refuse = || {
        HearthError::new(ErrorCode::InvalidInput, "Hearth opens only web links (http and https) in your browser.")
            .with_details(raw.to_string())
    };
    let url = Url::parse(raw.trim()).map_err(|_| refuse())?;
    let web = matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty());
    if !web || !url.username().is_empty() || url.password().is_some() {
        return Err(refuse());
    }
    Ok(url)
}

/// Hand `url` to the person's browser (or, under the test hook, to the hook's file).
pub fn open_in_browser(url: &Url) -> Result<(), HearthError> {
    if let Some(log) = std::env::var_os(TEST_OPENER_LOG_ENV) {
        return std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| writeln!(f, "{url}"))
            .map_err(|e| HearthError::new(ErrorCode::Internal, "The link could not be recorded.").with_details(e.to_string()));
    }
    tauri_plugin_opener::open_url(url.as_str(), None::<&str>)
        .map_err(|e| HearthError::new(ErrorCode::Internal, "Your browser could not be opened.").with_details(e.to_string()))
}

/// Build the main window from `tauri.conf.json` (where its `create` is false, so that it is built
/// here) with its two guards: navigation stays on the app, and no new window is ever opened.
pub fn build_main_window(app: &tauri::App) -> tauri::Result<()> {
    let config = app.config().app.windows.iter().find(|w| w.label == MAIN_WINDOW).ok_or(tauri::Error::WindowNotFound)?.clone();
    let origin = AppOrigin::of(app.config());
    WebviewWindowBuilder::from_config(app.handle(), &config)?
        .on_navigation(move |url| {
            let allowed = origin.allows(url);
            if !allowed {
                tracing::warn!(target: "hearth::links", %url, "the window refused to leave the app");
            }
            allowed
        })
        .on_new_window(|url, _features| {
            tracing::warn!(target: "hearth::links", %url, "the window refused to open a new window");
            NewWindowResponse::Deny
        })
        .build()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const BUNDLED: AppOrigin = AppOrigin { dev_url: None, webview2: false };

    #[test]
    fn the_window_stays_on_the_bundled_app() {
        assert!(BUNDLED.allows(&url("tauri://localhost")));
        assert!(BUNDLED.allows(&url("tauri://localhost/index.html?x=1#chat")));
        for away in [
            "https://example.com/",
            "http://127.0.0.1:8080/",
            "tauri://localhost.evil.example/",
            "tauri://localhost:8080/",
            "http://tauri.localhost/",
            "file:///etc/passwd",
            "data:text/html,<h1>hi</h1>",
            "javascript:alert(1)",
            "about:blank",
        ] {
            assert!(!BUNDLED.allows(&url(away)), "{away} must be refused");
        }
    }

    #[test]
    fn webview2_serves_the_app_from_tauri_localhost() {
        let windows = AppOrigin { dev_url: None, webview2: true };
        assert!(windows.allows(&url("http://tauri.localhost/")));
        assert!(windows.allows(&url("https://tauri.localhost/index.html")));
        assert!(!windows.allows(&url("http://tauri.localhost:8080/")));
        assert!(!windows.allows(&url("http://tauri.localhost.evil.example/")));
    }

    #[test]
    fn a_dev_build_also_allows_the_dev_server_origin_only() {
        let dev = AppOrigin { dev_url: Some(url("http://localhost:5173")), webview2: false };
        assert!(dev.allows(&url("http://localhost:5173/src/main.ts")));
        assert!(!dev.allows(&url("http://localhost:5174/")));
        assert!(!dev.allows(&url("https://localhost:5173/")));
        assert!(!dev.allows(&url("http://localhost.evil.example:5173/")));
    }

    #[test]
    fn only_web_links_go_to_the_browser() {
        assert_eq!(external_link("https://huggingface.co/HuggingFaceTB").unwrap().as_str(), "https://huggingface.co/HuggingFaceTB");
        assert_eq!(external_link(" HTTP://Example.COM/a b").unwrap().as_str(), "http://example.com/a%20b");
        for refused in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,hi",
            "mailto:a@example.com",
            "tauri://localhost/",
            "smb://server/share",
            "https://your-bank.example@evil.example/",
            "https://user:pw@example.com/",
            "https://",
            "not a url",
            "",
        ] {
            let e = external_link(refused).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{refused}");
        }
    }

    /// The window has no opener permission of its own: everything it opens goes through
    /// `open_link`'s check. Granting one (say `opener:default`) would let a page open more.
    #[test]
    fn the_window_holds_no_opener_permission() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            for p in json["permissions"].as_array().unwrap() {
                let id = p.as_str().or_else(|| p["identifier"].as_str()).unwrap_or_default();
                assert!(!id.starts_with("opener:"), "capability grants {id}");
            }
        }
    }
}
