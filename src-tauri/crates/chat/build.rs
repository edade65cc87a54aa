use testkit::Resource;

fn main() {
    // Tests that need what the repository does not hold are reported as ignored without it,
    // outside CI; under CI they run and fail (tests/testkit).
    testkit::build::emit(&[Resource::TestModel, Resource::McpServers]);
}
