# Warnings as a usage requirement: every project target links nw_warnings privately.
add_library(nw_warnings INTERFACE)
add_library(nw::warnings ALIAS nw_warnings)
target_compile_options(nw_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
                            -Wcast-align -Wimplicit-fallthrough -Wno-missing-field-initializers>)
