# Turns the kernels' assembly for one ISA (INPUT, clang-19 -S output) into
# the C array netc embeds (OUTPUT, array NAME; via embed.cmake):
#   - `.globl` lines are dropped, so every kernel symbol is local to the
#     object file the module becomes: each AOT bundle and each JIT module
#     carries its own kernels and thread pool, and two bundles linked into
#     one program do not clash (the same isolation internal linkage gave);
#   - `.file` and `.ident` lines are dropped: they describe the kernel
#     build, not the network's object file.
# The filtered text is also written to LOCAL for inspection.
file(READ "${INPUT}" text)
string(REGEX REPLACE "\n[ \t]*\\.(globl|file|ident)[ \t][^\n]*" "" text "\n${text}")
string(REGEX REPLACE "^\n" "" text "${text}")
file(WRITE "${LOCAL}" "${text}")
set(INPUT "${LOCAL}")
include(${CMAKE_CURRENT_LIST_DIR}/embed.cmake)
