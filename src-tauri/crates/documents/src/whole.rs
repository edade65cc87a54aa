//! Whether documents go into a conversation whole: when the conversation's other tokens, every
//! document's tokens (counted with the model's own tokenizer) and room for the reply fit in the
//! context. Never cut: a document that does not fit is not sent in part, and the person is told.
//! `hearth run --attach` applies it; the server puts documents in whole and leaves the refusal to the
//! engine (a prompt longer than the context is its 400); Chat has no documents yet.

use crate::Document;

/// Tokens a chat template adds around a message (role markers, separators): the most any
/// template Hearth has seen adds, so that a prompt judged to fit does fit.
pub const TEMPLATE_TOKENS: u32 = 32;
/// Room left for the reply when the request names no limit: a long answer, or a quarter of a
/// small context.
pub const DEFAULT_REPLY_TOKENS: u32 = 1024;

/// The room for a reply: what the request asks for, else [`DEFAULT_REPLY_TOKENS`] up to a
/// quarter of the context.
pub fn reply_room(context: u32, max_tokens: Option<u32>) -> u32 {
    max_tokens.unwrap_or_else(|| DEFAULT_REPLY_TOKENS.min(context / 4))
}

/// What the rule said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whole {
    /// Everything fits: `needed` tokens of the `context`.
    Fits { needed: u64, context: u32 },
    /// It does not: `needed` tokens, more than the `context`.
    TooLong { needed: u64, context: u32 },
}

/// `conversation`: the tokens of everything else in the prompt (system prompt, earlier turns, the
/// question); `documents`: each document's tokens as [`render`] writes it.
pub fn whole(context: u32, conversation: u32, documents: &[u32], reply: u32) -> Whole {
    let needed =
        u64::from(conversation) + u64::from(TEMPLATE_TOKENS) + u64::from(reply) + documents.iter().map(|&d| u64::from(d)).sum::<u64>();
    if needed <= u64::from(context) {
        Whole::Fits { needed, context }
    } else {
        Whole::TooLong { needed, context }
    }
}

/// The smallest context, in steps of 1,024 tokens, that holds `needed` tokens.
pub fn context_for(needed: u64) -> u64 {
    needed.div_ceil(1024) * 1024
}

/// A document as the model reads it in a message: its name, then its text, a PDF's pages marked
/// so that the model can say where something is.
pub fn render(document: &Document) -> String {
    let mut out = format!("<document name=\"{}\">\n", document.name.replace('"', "'"));
    if document.pages.is_empty() {
        out.push_str(&document.text);
    } else {
        for (i, page) in document.pages.iter().enumerate() {
            if i > 0 {
                out.push_str("\n\n");
            }
            out.push_str(&format!("[page {}]\n", page.number));
            out.push_str(&document.text[page.start..page.end]);
        }
    }
    // Pages the reader could not read are said, to the model and so to whoever reads the prompt.
    for (number, why) in &document.unread_pages {
        out.push_str(&format!("\n[page {number} could not be read: {why}]"));
    }
    out.push_str("\n</document>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_is_exact() {
        // 100 of conversation + 32 of template + 500 of reply + 1416 of document = 2048.
        assert_eq!(whole(2048, 100, &[1416], 500), Whole::Fits { needed: 2048, context: 2048 });
        assert_eq!(whole(2048, 100, &[1417], 500), Whole::TooLong { needed: 2049, context: 2048 });
        assert_eq!(whole(2048, 100, &[700, 716], 500), Whole::Fits { needed: 2048, context: 2048 }, "documents add up");
        assert!(matches!(whole(u32::MAX, u32::MAX, &[u32::MAX], 1), Whole::TooLong { .. }), "no overflow makes it fit");
    }

    #[test]
    fn the_reply_gets_what_is_asked_or_a_quarter_of_a_small_context() {
        assert_eq!(reply_room(2048, None), 512);
        assert_eq!(reply_room(32768, None), 1024);
        assert_eq!(reply_room(2048, Some(100)), 100);
        assert_eq!(context_for(20_001), 20_480);
        assert_eq!(context_for(2048), 2048);
    }

    #[test]
    fn a_pdf_is_rendered_with_its_pages_marked() {
        let doc = Document {
            name: "a \"b\".pdf".into(),
            kind: crate::DocumentKind::Pdf,
            text: "one\n\ntwo".into(),
            pages: vec![crate::Page { number: 1, start: 0, end: 3 }, crate::Page { number: 2, start: 5, end: 8 }],
            unread_pages: vec![],
        };
        assert_eq!(render(&doc), "<document name=\"a 'b'.pdf\">\n[page 1]\none\n\n[page 2]\ntwo\n</document>");
    }
}
