# Every cargo build in this repository (make run, make test, `cargo build -p …`) builds llama.cpp's CPU
# backend ONCE, for the instruction sets of the machine that builds it: .cargo/config.toml points
# CMAKE_PROJECT_INCLUDE here.
#
# Why: llama-cpp-sys-2's `dynamic-backends` feature forces GGML_CPU_ALL_VARIANTS, fourteen builds of
# the CPU backend (x64, sse42 … zen4, sapphirerapids) so that one package runs at full speed on any
# x86 CPU. A package needs them; the machine that builds and tests loads exactly one, and the other
# thirteen cost about 17 of CI's 57 cold minutes on 2 cores. `make package` and `make check-package`
# (which tests ggml's choice among them) point CMAKE_PROJECT_INCLUDE at all-cpu-backends.cmake
# instead, which keeps all fourteen.
#
# How: CMake includes this file after every project() call, before ggml reads its options.
# llama-cpp-sys-2 passes -DGGML_CPU_ALL_VARIANTS=ON as a cache entry; a normal variable of the same
# name shadows it, and ggml's option() keeps it (policy CMP0077). GGML_NATIVE cannot stand in
# (ggml refuses it with GGML_BACKEND_DL: its loader checks a backend's instruction sets against the
# CPU, and needs them named), so the instruction sets are read from /proc/cpuinfo and named one by
# one. Only Linux on x86-64 is handled; elsewhere llama-cpp-sys-2's own settings stand.
if(CMAKE_HOST_SYSTEM_NAME STREQUAL "Linux" AND CMAKE_HOST_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)$" AND EXISTS "/proc/cpuinfo")
    file(STRINGS "/proc/cpuinfo" _hearth_cpu_flags REGEX "^flags" LIMIT_COUNT 1)
    string(REGEX REPLACE "^flags[ \t]*:[ \t]*" "" _hearth_cpu_flags "${_hearth_cpu_flags}")
    string(REPLACE " " ";" _hearth_cpu_flags "${_hearth_cpu_flags}")
    set(GGML_CPU_ALL_VARIANTS OFF)
    set(GGML_NATIVE OFF)
    # /proc/cpuinfo's name, then ggml's option: the instruction sets ggml's x86 variants are made of.
    foreach(_hearth_pair sse4_2:SSE42 avx:AVX f16c:F16C fma:FMA avx2:AVX2 bmi2:BMI2 avx_vnni:AVX_VNNI
                         avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16)
        string(REPLACE ":" ";" _hearth_pair "${_hearth_pair}")
        list(GET _hearth_pair 0 _hearth_flag)
        list(GET _hearth_pair 1 _hearth_option)
        if("${_hearth_flag}" IN_LIST _hearth_cpu_flags)
            set(GGML_${_hearth_option} ON)
        else()
            set(GGML_${_hearth_option} OFF)
        endif()
    endforeach()
    # ggml's AVX512 means all of F, CD, VL, DQ and BW.
    set(GGML_AVX512 ON)
    foreach(_hearth_flag avx512f avx512cd avx512vl avx512dq avx512bw)
        if(NOT "${_hearth_flag}" IN_LIST _hearth_cpu_flags)
            set(GGML_AVX512 OFF)
        endif()
    endforeach()
    if(NOT GGML_AVX512)
        set(GGML_AVX512_VBMI OFF)
        set(GGML_AVX512_VNNI OFF)
        set(GGML_AVX512_BF16 OFF)
    endif()
endif()
