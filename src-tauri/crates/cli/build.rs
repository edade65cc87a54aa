use testkit::Resource;

fn main() {
    // Tests that need what the repository does not hold are reported as ignored without it,
    // outside CI; under CI they run and fail (tests/testkit).
    testkit::build::emit(&[Resource::TestModel, Resource::Vulkan, Resource::McpServers]);
    // The engine's llama.cpp libraries (libllama, libggml*, and the backends it loads at run time)
    // sit beside the executable in a build, and in ../lib/hearth from /usr/bin in the .deb.
    #[cfg(target_os = "linux")]
    println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN:$ORIGIN/../lib/hearth");
}
