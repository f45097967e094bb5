# Debian packages with `cpack -G DEB` (run from the build directory):
#   tlsreactor         COMPONENT runtime: the three programs, their man pages, the systemd
#                      units and /etc/tlsreactor/proxy.toml (a conffile);
#   libtlsreactor-dev  COMPONENT dev: headers, static libraries, the CMake package and the
#                      pkg-config file.
# The runtime package's shared-library dependencies come from dpkg-shlibdeps (libuv1, libssl3,
# libnghttp2-14, ... as the binaries really link); the dev package names the -dev packages its
# CMake config and .pc file look for.

# The example configuration, as the package's conffile. An absolute destination, so it is part
# of the runtime component only when asked for by name (cpack does; a plain `cmake --install
# --prefix DIR` never writes to /etc): EXCLUDE_FROM_ALL. The same file is installed with the
# documentation for everyone else.
if(TLSREACTOR_BUILD_APPS)
  install(FILES ${PROJECT_SOURCE_DIR}/apps/proxy/proxy.toml
          DESTINATION /etc/tlsreactor COMPONENT runtime EXCLUDE_FROM_ALL)
  install(FILES ${PROJECT_SOURCE_DIR}/apps/proxy/proxy.toml
          DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT runtime)
  file(WRITE ${PROJECT_BINARY_DIR}/package/conffiles "/etc/tlsreactor/proxy.toml\n")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tlsreactor)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
# Whoever builds packages for others sets a real address (lintian refuses a bogus mail host).
set(TLSREACTOR_PACKAGE_MAINTAINER "tlsreactor maintainers <maintainers@users.noreply.github.com>"
    CACHE STRING "The Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${TLSREACTOR_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://localhost/tlsreactor")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
# /etc needs the staging directory as DESTDIR, not as a prefix.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)

# Programs ship without their debugging symbols whatever the build type.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME tlsreactor)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/package/conffiles)
# The first line is the package's summary, the rest its description (lines under 80 columns).
string(CONCAT CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "TLS reverse proxy and demonstration servers on the tlsreactor framework\n"
  "tlsreactor-proxy terminates TLS 1.2 and 1.3 and forwards HTTP/1.1 and\n"
  "HTTP/2 to upstream servers: routes, WebSocket and CONNECT tunnels, an\n"
  "access log, metrics. tlsreactor-hello and tlsreactor-echo are the\n"
  "framework's demonstration servers. With man pages, a systemd unit and\n"
  "an example /etc/tlsreactor/proxy.toml.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtlsreactor-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# tlsreactorConfig.cmake finds libuv through pkg-config and OpenSSL 3 through CMake's module;
# the .pc file requires libuv and openssl. The libraries are static: nothing at run time.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libuv1-dev (>= 1.44), libssl-dev (>= 3.0), pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "cmake (>= 3.25)")
string(CONCAT CPACK_COMPONENT_DEV_DESCRIPTION
  "event-loop reactor framework for TLS servers and clients (development)\n"
  "C++20 headers, static libraries, the CMake package (find_package) and\n"
  "the pkg-config file of tlsreactor, a libuv + OpenSSL 3 reactor framework\n"
  "for TLS servers and clients.")

include(CPack)

if(TLSREACTOR_BUILD_TESTS AND TLSREACTOR_BUILD_APPS)
  # cpack, then dpkg -c / dpkg -x of both packages and tests/consumer built against them.
  # Packs the current build (the man pages and programs must be built: the default target).
  add_test(NAME install.deb_package
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/package/run.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(install.deb_package PROPERTIES
    TIMEOUT 600
    LABELS "install;package"
    RUN_SERIAL TRUE
    ENVIRONMENT "CXX=${CMAKE_CXX_COMPILER};CXXFLAGS=${CMAKE_CXX_FLAGS};LDFLAGS=${CMAKE_EXE_LINKER_FLAGS};CMAKE_GENERATOR=${CMAKE_GENERATOR}")
endif()
