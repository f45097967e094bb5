# One place for the warning policy: every target of ours links tlsreactor_warnings.
add_library(tlsreactor_warnings INTERFACE)
target_compile_options(tlsreactor_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${TLSREACTOR_WERROR}>:-Werror>)
