# One place for the warning policy: every target of ours links tlsreactor_warnings.
add_library(tlsreactor_warnings INTERFACE)
target_compile_options(tlsreactor_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${TLSREACTOR_WERROR}>:-Werror>)
# GCC 12 at -O2/-O3 reports impossible memcpy overlaps inside std::string concatenation
# (GCC bug 105651, fixed in GCC 13); Debian 12 ships GCC 12.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(tlsreactor_warnings INTERFACE -Wno-restrict)
endif()
