# The man pages: tlsreactor-proxy(8), tlsreactor-hello(1), tlsreactor-echo(1) and
# tlsreactor.toml(5). Each is its prose (docs/man/NAME.in) with the option list the built
# binary prints with --help (docs/man/generate.py), regenerated whenever a binary is relinked,
# so a page cannot list an option the program does not have, or miss one it has. Built by the
# default build (`man` target), installed to share/man/manN with the programs.
find_package(Python3 COMPONENTS Interpreter REQUIRED)
set(TLSREACTOR_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(_tlsreactor_man_gen ${PROJECT_SOURCE_DIR}/docs/man/generate.py)
set(_tlsreactor_man_pages)

function(tlsreactor_man_page kind page section)
  set(source ${PROJECT_SOURCE_DIR}/docs/man/${page}.${section}.in)
  set(out ${TLSREACTOR_MAN_DIR}/${page}.${section})
  set(binaries)
  foreach(app IN LISTS ARGN)
    list(APPEND binaries $<TARGET_FILE:${app}>)
  endforeach()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TLSREACTOR_MAN_DIR}
    # Under a sanitizer preset a leak report at exit is the test suite's business, not the
    # build's: the build only needs --help's text.
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
            ${Python3_EXECUTABLE} ${_tlsreactor_man_gen} ${kind} ${source} ${out}
            ${PROJECT_VERSION} ${binaries}
    DEPENDS ${source} ${_tlsreactor_man_gen} ${ARGN}
    COMMENT "Man page ${page}(${section})"
    VERBATIM)
  # Installed compressed, as Debian policy wants (man reads either); -n keeps the file
  # reproducible (no name or time stamp inside). The test reads the uncompressed one.
  add_custom_command(
    OUTPUT ${out}.gz
    COMMAND gzip -9 -n -f -k ${out}
    DEPENDS ${out}
    VERBATIM)
  install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT runtime)
  set(_tlsreactor_man_pages ${_tlsreactor_man_pages} ${out} ${out}.gz PARENT_SCOPE)
endfunction()

tlsreactor_man_page(app tlsreactor-proxy 8 tlsreactor-proxy)
tlsreactor_man_page(app tlsreactor-hello 1 tlsreactor-hello)
tlsreactor_man_page(app tlsreactor-echo 1 tlsreactor-echo)
tlsreactor_man_page(toml tlsreactor.toml 5 tlsreactor-proxy tlsreactor-hello tlsreactor-echo)
add_custom_target(man ALL DEPENDS ${_tlsreactor_man_pages})

if(TLSREACTOR_BUILD_TESTS)
  # Each page's options against its binary's --help, both ways, read from the page as groff
  # renders it (and groff must render it without a warning).
  add_test(NAME docs.man_pages
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/docs/man_pages.py
                   ${TLSREACTOR_MAN_DIR} $<TARGET_FILE:tlsreactor-proxy>
                   $<TARGET_FILE:tlsreactor-hello> $<TARGET_FILE:tlsreactor-echo>)
  set_tests_properties(docs.man_pages PROPERTIES TIMEOUT 60)
endif()
