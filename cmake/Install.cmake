# Installs the libraries as a relocatable CMake package (find_package(tlsreactor)) and a
# pkg-config file, all in COMPONENT dev (the libtlsreactor-dev package, cmake/Package.cmake).
# Apps install themselves, in COMPONENT runtime; this file only knows about libraries.
include(CMakePackageConfigHelpers)

set(TLSREACTOR_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tlsreactor)

# Headers keep their layer folder (consumers write <reactor/Loop.hpp>) under include/tlsreactor.
function(tlsreactor_install_headers layer)
  foreach(h IN LISTS ARGN)
    get_filename_component(d ${h} DIRECTORY)
    install(FILES ${PROJECT_SOURCE_DIR}/${layer}/${h}
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tlsreactor/${layer}/${d} COMPONENT dev)
  endforeach()
endfunction()

# Dependencies first: the .pc Libs line is emitted in reverse for static link order.
set(_tlsreactor_libs tlsreactor_reactor)
set(_tlsreactor_pc_requires libuv)
# detail/HandleOwner.hpp, detail/AcceptGate.hpp, detail/IntrusiveList.hpp and TimerWheel.hpp
# (IdleWatch's base) are reached from the public headers, so they ship with them.
tlsreactor_install_headers(reactor ${TLSREACTOR_REACTOR_PUBLIC_HEADERS} detail/HandleOwner.hpp
  detail/AcceptGate.hpp detail/IntrusiveList.hpp TimerWheel.hpp)

# The tls libraries join the package with their public headers (TLSREACTOR_TLS_PUBLIC_HEADERS,
# relative to tls/, listed in tls/CMakeLists.txt the way reactor/ lists its own).
foreach(_tlsreactor_lib tlsreactor_tls_engine tlsreactor_tls)
  if(TARGET ${_tlsreactor_lib})
    list(APPEND _tlsreactor_libs ${_tlsreactor_lib})
  endif()
endforeach()
if(TARGET tlsreactor_tls_engine OR TARGET tlsreactor_tls)
  list(APPEND _tlsreactor_pc_requires openssl)
  if(NOT TLSREACTOR_TLS_PUBLIC_HEADERS)
    message(WARNING "tls targets exist but TLSREACTOR_TLS_PUBLIC_HEADERS is empty: "
                    "the installed package would ship no tls headers")
  endif()
  tlsreactor_install_headers(tls ${TLSREACTOR_TLS_PUBLIC_HEADERS})
endif()

# tlsreactor_warnings is linked only through $<BUILD_INTERFACE:...>, so the export set does
# not need it; PkgConfig::LIBUV, Threads and OpenSSL are found again by the package config.
install(TARGETS ${_tlsreactor_libs}
        EXPORT tlsreactorTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev)
install(EXPORT tlsreactorTargets
        NAMESPACE tlsreactor::
        DESTINATION ${TLSREACTOR_INSTALL_CMAKEDIR}
        COMPONENT dev)

set(TLSREACTOR_PACKAGE_NEEDS_OPENSSL OFF)
if(openssl IN_LIST _tlsreactor_pc_requires)
  set(TLSREACTOR_PACKAGE_NEEDS_OPENSSL ON)
endif()
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/tlsreactorConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tlsreactorConfig.cmake
  INSTALL_DESTINATION ${TLSREACTOR_INSTALL_CMAKEDIR})
# 0.x: a minor bump may break the API, so only the same minor version is compatible.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/tlsreactorConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tlsreactorConfig.cmake
              ${PROJECT_BINARY_DIR}/tlsreactorConfigVersion.cmake
        DESTINATION ${TLSREACTOR_INSTALL_CMAKEDIR} COMPONENT dev)

# The .pc finds its prefix through ${pcfiledir}, so `cmake --install --prefix X` works for
# any X, not only the CMAKE_INSTALL_PREFIX known at configure time.
file(RELATIVE_PATH TLSREACTOR_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" TLSREACTOR_PC_TO_PREFIX "${TLSREACTOR_PC_TO_PREFIX}")
foreach(_tlsreactor_v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_tlsreactor_v}}")
    set(TLSREACTOR_PC_${_tlsreactor_v} "${CMAKE_INSTALL_${_tlsreactor_v}}")
  else()
    set(TLSREACTOR_PC_${_tlsreactor_v} "\${prefix}/${CMAKE_INSTALL_${_tlsreactor_v}}")
  endif()
endforeach()
set(TLSREACTOR_PC_LIBS "")
foreach(_tlsreactor_lib IN LISTS _tlsreactor_libs)
  get_target_property(_tlsreactor_name ${_tlsreactor_lib} OUTPUT_NAME)
  if(NOT _tlsreactor_name)
    set(_tlsreactor_name ${_tlsreactor_lib})
  endif()
  string(PREPEND TLSREACTOR_PC_LIBS "-l${_tlsreactor_name} ")
endforeach()
list(JOIN _tlsreactor_pc_requires ", " TLSREACTOR_PC_REQUIRES_PRIVATE)
configure_file(${CMAKE_CURRENT_LIST_DIR}/tlsreactor.pc.in
               ${PROJECT_BINARY_DIR}/tlsreactor.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tlsreactor.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

if(TLSREACTOR_BUILD_TESTS)
  # Installs into a scratch prefix and builds tests/consumer against it. The consumer gets
  # this build's compiler and flags through CXX/CXXFLAGS/LDFLAGS (CMake's own first-configure
  # convention), so sanitizer builds link against the sanitized static library.
  add_test(NAME install.consumer
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/consumer/run.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(install.consumer PROPERTIES
    TIMEOUT 300
    LABELS install
    ENVIRONMENT "CXX=${CMAKE_CXX_COMPILER};CXXFLAGS=${CMAKE_CXX_FLAGS};LDFLAGS=${CMAKE_EXE_LINKER_FLAGS};CMAKE_GENERATOR=${CMAKE_GENERATOR}")
endif()
