//! Tools in a conversation (MCP): what the model is offered, what the person has allowed for good,
//! and a reply's calls turned back into the turns a model reads (its text up to each call, the
//! call, the answer).
//!
//! A call runs without asking only when the person said "Always allow" for that tool of that
//! server, or when the tool is marked read-only and the person let read-only tools run without
//! asking (Settings). Destructive tools always ask unless allowed by name.

use std::collections::BTreeSet;

use serde_json::Value;
use store::Store;
use types::{ChatMessage, ChatRole, ChatToolCall, ToolCall, ToolCallState, ToolImage};

/// Tool rounds in one reply: after this many, the model answers without tools (the loop case: a
/// model that calls the same tool forever).
pub const MAX_TOOL_ROUNDS: usize = 8;

/// Settings keys of the person's standing answers.
const ALWAYS_KEY: &str = "mcp.always_allowed";
const READ_ONLY_KEY: &str = "mcp.read_only_without_asking";

/// Said where tools are on offer to a model whose chat template takes none.
pub const NO_TOOLS_IN_TEMPLATE: &str = "This model's chat template has no place for tools: Hearth describes them in its system message, which a model not trained for tools may well ignore.";

/// What the model reads for a call the person denied.
pub const DENIED: &str = "The person denied this call; it was not run.";

/// What the model reads for a call stopped before it ended.
pub const STOPPED: &str = "The call was stopped before it ended.";

/// The person's standing answers: tools allowed for good, and whether read-only tools run
/// without asking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub always: BTreeSet<(String, String)>,
    pub read_only_without_asking: bool,
}

impl Permissions {
    pub fn read(store: &Store) -> Self {
        let always = store
            .setting(ALWAYS_KEY)
            .ok()
            .flatten()
            .and_then(|s| serde_json::from_str::<Vec<(String, String)>>(&s).ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        let read_only_without_asking = store.setting(READ_ONLY_KEY).ok().flatten().as_deref() == Some("true");
        Self { always, read_only_without_asking }
    }

    pub fn write(&self, store: &Store) -> Result<(), store::StoreError> {
        let always: Vec<&(String, String)> = self.always.iter().collect();
        store.set_setting(ALWAYS_KEY, &serde_json::to_string(&always).unwrap_or_else(|_| "[]".into()))?;
        store.set_setting(READ_ONLY_KEY, if self.read_only_without_asking { "true" } else { "false" })
    }

    /// Whether a call to this tool runs without asking.
    pub fn runs_unasked(&self, server: &str, tool: &mcp::ToolInfo) -> bool {
        self.always.contains(&(server.to_string(), tool.name.clone())) || (tool.read_only && self.read_only_without_asking)
    }
}

/// The tools a conversation offers: its servers' tools, named for the model, in OpenAI's shape
/// (what the engine renders), or `None` when there are none.
pub fn functions(offered: &[mcp::Offered]) -> Option<Value> {
    (!offered.is_empty()).then(|| Value::Array(offered.iter().map(mcp::Offered::function).collect()))
}

/// Runs a call the person allowed (or that runs unasked) on its server: how it ended, what the
/// model reads back, and the images it returned. Arguments that are not JSON, a missing server
/// and the server's own errors are results the model reads, not failures of the reply.
pub async fn run(servers: &mcp::Servers, offered: &mcp::Offered, arguments: &str) -> (ToolCallState, String, Vec<ToolImage>) {
    let text = if arguments.trim().is_empty() { "{}" } else { arguments };
    let Ok(parsed) = serde_json::from_str::<Value>(text) else {
        return (ToolCallState::Failed, format!("The arguments for `{}` are not JSON: {arguments}", offered.model_name), Vec::new());
    };
    match servers.call(&offered.server, &offered.tool.name, parsed).await {
        Ok(outcome) => {
            let state = if outcome.is_error { ToolCallState::Failed } else { ToolCallState::Done };
            let images = outcome.images.into_iter().map(|i| ToolImage { mime_type: i.mime_type, data: i.data }).collect();
            (state, outcome.text, images)
        }
        Err(e) => (ToolCallState::Failed, e.to_string(), Vec::new()),
    }
}

/// The grammar that holds an answer to a call, when the person asked for one first: `"required"`
/// for a call to any tool, else a tool by the name the model is offered it by or by its own name
/// on its server (which differs when two servers' names met); `None` when it is not offered.
pub fn forced(offered: &[mcp::Offered], force: Option<&str>) -> Option<engine::Constraint> {
    let forced = match force? {
        "required" => engine::tools::Forced::Any { parallel: false },
        name => {
            let tool = offered.iter().find(|o| o.model_name == name).or_else(|| offered.iter().find(|o| o.tool.name == name))?;
            engine::tools::Forced::Named(tool.model_name.clone())
        }
    };
    engine::tools::forced_schema(&functions(offered)?, &forced).map(|schema| engine::Constraint::JsonSchema { schema })
}

/// The id a call goes to the model with.
pub fn call_id(call: &ChatToolCall) -> String {
    format!("call_{}", call.id)
}

/// What the model read back from a call.
pub fn answer(call: &ChatToolCall) -> String {
    match call.state {
        ToolCallState::Denied => DENIED.into(),
        ToolCallState::Stopped | ToolCallState::Waiting | ToolCallState::Running => STOPPED.into(),
        ToolCallState::Done | ToolCallState::Failed => call.result.clone().unwrap_or_default(),
    }
}

/// A saved reply with calls, as the turns the model wrote and read: its text up to each call (with
/// the calls made there), the calls' answers, and the text after the last. `name` gives the name a
/// call's tool is offered by now (its own name when no longer offered).
pub fn turns(content: &str, calls: &[ChatToolCall], name: impl Fn(&ChatToolCall) -> String) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut i = 0;
    while i < calls.len() {
        let offset = (calls[i].offset as usize).clamp(at, content.len());
        let offset = (offset..=content.len()).find(|o| content.is_char_boundary(*o)).unwrap_or(content.len());
        let mut turn = ChatMessage::new(ChatRole::Assistant, &content[at..offset]);
        let group: Vec<&ChatToolCall> = calls[i..].iter().take_while(|c| c.offset == calls[i].offset).collect();
        for c in &group {
            turn.tool_calls.push(ToolCall { id: call_id(c), name: name(c), arguments: c.arguments.clone() });
        }
        out.push(turn);
        for c in &group {
            let mut reply = ChatMessage::new(ChatRole::Tool, answer(c));
            reply.tool_call_id = Some(call_id(c));
            out.push(reply);
        }
        i += group.len();
        at = offset;
    }
    if at < content.len() || out.is_empty() {
        out.push(ChatMessage::new(ChatRole::Assistant, &content[at..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: i64, offset: u32, state: ToolCallState, result: &str) -> ChatToolCall {
        ChatToolCall {
            id,
            offset,
            server: "files".into(),
            tool: "read_text_file".into(),
            arguments: r#"{"path":"a"}"#.into(),
            state,
            result: Some(result.into()),
            images: Vec::new(),
            is_error: false,
            read_only: true,
            destructive: false,
        }
    }

    #[test]
    fn a_reply_with_calls_is_the_turns_the_model_wrote_and_read() {
        let content = "Let me look. It says hi.";
        let calls = [call(1, 13, ToolCallState::Done, "hi"), call(2, 13, ToolCallState::Denied, "")];
        let turns = turns(content, &calls, |c| c.tool.clone());
        let roles: Vec<ChatRole> = turns.iter().map(|m| m.role).collect();
        assert_eq!(roles, [ChatRole::Assistant, ChatRole::Tool, ChatRole::Tool, ChatRole::Assistant]);
        assert_eq!(turns[0].content, "Let me look. ");
        assert_eq!(turns[0].tool_calls.len(), 2);
        assert_eq!((turns[1].content.as_str(), turns[1].tool_call_id.as_deref()), ("hi", Some("call_1")));
        assert_eq!(turns[2].content, DENIED);
        assert_eq!(turns[3].content, "It says hi.");
        // A reply without calls is itself.
        assert_eq!(super::turns("Hello.", &[], |c| c.tool.clone()), vec![ChatMessage::new(ChatRole::Assistant, "Hello.")]);
    }

    /// "First answer" names a tool by its own name (what Settings lists); where two servers' names
    /// met the model is offered it prefixed, and the grammar must hold the model to that name.
    #[test]
    fn a_forced_tool_is_found_by_its_offered_name_or_its_own() {
        let tool = |name: &str| mcp::ToolInfo {
            name: name.into(),
            title: None,
            description: String::new(),
            input_schema: serde_json::json!({"type": "object"}),
            read_only: true,
            destructive: false,
        };
        let offered = mcp::offer(vec![("files".into(), tool("search")), ("web".into(), tool("search")), ("web".into(), tool("fetch"))]);
        let schema = |force: &str| match forced(&offered, Some(force)) {
            Some(engine::Constraint::JsonSchema { schema }) => schema,
            other => panic!("{force}: {other:?}"),
        };
        assert!(schema("search").contains("files__search"), "its own name, the first server's");
        assert!(schema("web__search").contains("web__search"));
        assert!(schema("fetch").contains("fetch"));
        assert!(schema("required").contains("web__search") && schema("required").contains("files__search"));
        assert!(forced(&offered, Some("nothing")).is_none());
        assert!(forced(&offered, None).is_none());
    }

    #[test]
    fn only_allowed_tools_and_read_only_ones_when_the_person_says_run_unasked() {
        let tool = |read_only: bool| mcp::ToolInfo {
            name: "t".into(),
            title: None,
            description: String::new(),
            input_schema: serde_json::json!({}),
            read_only,
            destructive: !read_only,
        };
        let mut p = Permissions::default();
        assert!(!p.runs_unasked("s", &tool(true)));
        p.read_only_without_asking = true;
        assert!(p.runs_unasked("s", &tool(true)));
        assert!(!p.runs_unasked("s", &tool(false)), "a destructive tool asks unless allowed by name");
        p.always.insert(("s".into(), "t".into()));
        assert!(p.runs_unasked("s", &tool(false)));
        let store = Store::in_memory().unwrap();
        p.write(&store).unwrap();
        assert_eq!(Permissions::read(&store), p);
    }
}
