# What a package of Hearth ships: every CPU backend variant llama-cpp-sys-2 builds (see
# one-cpu-backend.cmake, which development and test builds use instead). Intentionally empty: this
# file only takes one-cpu-backend.cmake's place, so llama-cpp-sys-2's own settings stand.
