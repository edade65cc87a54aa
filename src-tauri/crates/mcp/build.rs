// Tests that need the reference MCP servers (npm) are marked ignored where they are missing,
// outside CI (testkit).
fn main() {
    testkit::build::emit(&[testkit::Resource::McpServers]);
}
