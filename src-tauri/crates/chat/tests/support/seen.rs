//! What the chat tests share: a greedy conversation, and a sink that collects what a reply streamed.

use std::sync::{Arc, Mutex};

use types::{ChatEvent, ConversationSettings, SamplingParams};

/// Greedy decoding (the same reply every time), at most `max` tokens.
pub fn greedy(max: u32) -> ConversationSettings {
    ConversationSettings {
        sampling: SamplingParams { temperature: 0.0, max_tokens: Some(max), ..Default::default() },
        ..Default::default()
    }
}

/// Collects what a reply streamed.
#[derive(Default, Clone)]
pub struct Seen(pub Arc<Mutex<Vec<ChatEvent>>>);

impl Seen {
    pub fn sink(&self) -> impl Fn(ChatEvent) {
        let me = self.0.clone();
        move |e| me.lock().unwrap().push(e)
    }

    pub fn text(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| if let ChatEvent::Text { text, .. } = e { Some(text.as_str()) } else { None })
            .collect()
    }

    pub fn done(&self) -> Option<types::GenerationStats> {
        self.0.lock().unwrap().iter().find_map(|e| if let ChatEvent::Done { stats, .. } = e { Some(stats.clone()) } else { None })
    }
}
