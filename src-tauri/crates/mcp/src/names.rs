//! The names tools go to the model by. Models (and OpenAI's API shape the engine renders tools in)
//! take function names of letters, digits, `_` and `-`, at most 64 long; MCP tool names may hold
//! anything, and two servers may both have a `search`. So each name is made valid, and where two
//! servers' names meet, each is prefixed with its server's.

use serde::Serialize;
use serde_json::{json, Value};

use crate::connection::ToolInfo;

/// The longest function name models are given.
const MAX_NAME: usize = 64;

/// A tool as the model is offered it, and where it goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offered {
    /// What the model calls it.
    pub model_name: String,
    pub server: String,
    pub tool: ToolInfo,
}

impl Offered {
    /// The tool in OpenAI's shape, as the engine renders tools into the prompt.
    pub fn function(&self) -> Value {
        let mut description = self.tool.description.clone();
        if let Some(title) = self.tool.title.as_deref().filter(|t| !description.contains(*t)) {
            description = if description.is_empty() { title.to_string() } else { format!("{title}: {description}") };
        }
        json!({ "type": "function", "function": { "name": self.model_name, "description": description, "parameters": self.tool.input_schema } })
    }
}

/// `name` with what a function name may not hold replaced by `_`, cut to `max` characters.
fn valid(name: &str, max: usize) -> String {
    let cleaned: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).take(max).collect();
    if cleaned.is_empty() {
        "tool".into()
    } else {
        cleaned
    }
}

/// The model's names for these tools (server, tool), in their order: valid, and prefixed with the
/// server's name (`files__search`) where the plain names of two servers' tools meet; a name still
/// taken gets a number.
pub fn offer(tools: Vec<(String, ToolInfo)>) -> Vec<Offered> {
    let plain: Vec<String> = tools.iter().map(|(_, t)| valid(&t.name, MAX_NAME)).collect();
    let mut taken = std::collections::HashSet::new();
    tools
        .into_iter()
        .zip(&plain)
        .map(|((server, tool), name)| {
            let shared = plain.iter().filter(|p| *p == name).count() > 1;
            let mut model_name = if shared { valid(&format!("{}__{}", valid(&server, 24), name), MAX_NAME) } else { name.clone() };
            let mut n = 2;
            while !taken.insert(model_name.clone()) {
                let suffix = format!("_{n}");
                model_name = format!("{}{suffix}", valid(&model_name, MAX_NAME - suffix.len()));
                n += 1;
            }
            Offered { model_name, server, tool }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str) -> ToolInfo {
        ToolInfo { name: name.into(), title: None, description: "d".into(), input_schema: json!({"type": "object"}), read_only: true, destructive: false }
    }

    #[test]
    fn names_are_made_valid_and_prefixed_only_where_two_servers_meet() {
        let offered = offer(vec![
            ("files".into(), tool("read_file")),
            ("files".into(), tool("search")),
            ("web search".into(), tool("search")),
            ("everything".into(), tool("get.sum with spaces")),
            ("everything".into(), tool(&"x".repeat(100))),
        ]);
        let names: Vec<&str> = offered.iter().map(|o| o.model_name.as_str()).collect();
        assert_eq!(names[..4], ["read_file", "files__search", "web_search__search", "get_sum_with_spaces"]);
        assert_eq!(names[4].len(), 64);
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')));
        assert_eq!(offered[2].server, "web search");
        assert_eq!(offered[2].tool.name, "search", "the server is called by the tool's own name");
        assert_eq!(offered[0].function()["function"]["name"], "read_file");
        // The same name twice on one server (a broken list) still gives two names.
        let twice = offer(vec![("a".into(), tool("t")), ("a".into(), tool("t"))]);
        assert_ne!(twice[0].model_name, twice[1].model_name);
    }
}
