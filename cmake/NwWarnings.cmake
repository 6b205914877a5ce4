# Warnings as a usage requirement: every project target links nw_warnings privately.
add_library(nw_warnings INTERFACE)
add_library(nw::warnings ALIAS nw_warnings)
target_compile_options(nw_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wnon-virtual-dtor
                            -Wcast-align -Wimplicit-fallthrough -Wno-missing-field-initializers>
  # GCC's spelling; clang's nearest is -Wshadow-uncaptured-local.
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wshadow=local>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:Clang>>:-Wshadow-uncaptured-local>)
