# The API reference (`docs` target, Doxygen): the public headers of reactor/ and tls/, the
# same lists cmake/Install.cmake installs, so what a library user can include is what is
# documented. WARN_AS_ERROR makes an undocumented public declaration fail the target.
find_program(TLSREACTOR_DOXYGEN doxygen)
if(NOT TLSREACTOR_DOXYGEN)
  message(STATUS "doxygen not found: no `docs` target (scripts/bootstrap.sh installs it)")
  return()
endif()

set(TLSREACTOR_API_OUT ${PROJECT_BINARY_DIR}/api)
set(_tlsreactor_api_headers)
foreach(h IN LISTS TLSREACTOR_REACTOR_PUBLIC_HEADERS)
  list(APPEND _tlsreactor_api_headers ${PROJECT_SOURCE_DIR}/reactor/${h})
endforeach()
# IdleWatch's base is reached from a public header and installed with it.
list(APPEND _tlsreactor_api_headers ${PROJECT_SOURCE_DIR}/reactor/TimerWheel.hpp)
foreach(h IN LISTS TLSREACTOR_TLS_PUBLIC_HEADERS)
  list(APPEND _tlsreactor_api_headers ${PROJECT_SOURCE_DIR}/tls/${h})
endforeach()
list(JOIN _tlsreactor_api_headers " " TLSREACTOR_API_INPUT)
string(APPEND TLSREACTOR_API_INPUT " ${PROJECT_SOURCE_DIR}/docs/api/mainpage.md")
configure_file(${PROJECT_SOURCE_DIR}/docs/api/Doxyfile.in ${TLSREACTOR_API_OUT}/Doxyfile @ONLY)

add_custom_command(
  OUTPUT ${TLSREACTOR_API_OUT}/html/index.html
  COMMAND ${TLSREACTOR_DOXYGEN} ${TLSREACTOR_API_OUT}/Doxyfile
  DEPENDS ${_tlsreactor_api_headers} ${PROJECT_SOURCE_DIR}/docs/api/Doxyfile.in
          ${PROJECT_SOURCE_DIR}/docs/api/mainpage.md
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "API reference (Doxygen) -> ${TLSREACTOR_API_OUT}/html/index.html"
  VERBATIM)
add_custom_target(docs DEPENDS ${TLSREACTOR_API_OUT}/html/index.html)

if(TLSREACTOR_BUILD_TESTS)
  # Runs Doxygen itself rather than the target, so the test sees the headers as they are now
  # and not a stamp from an earlier build.
  add_test(NAME docs.api COMMAND ${TLSREACTOR_DOXYGEN} ${TLSREACTOR_API_OUT}/Doxyfile
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(docs.api PROPERTIES TIMEOUT 120)
endif()
