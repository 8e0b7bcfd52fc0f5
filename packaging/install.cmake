# SPDX-License-Identifier: MIT
# What `cmake --install` puts where, and the Debian package CPack makes of it (scripts/package).
# The man pages and shell completions are generated at build time by the galley just built
# (`galley --man-dir`, `galley --completion`), from its command table, so they cannot drift
# from the binary they are installed beside. An installed galley finds its runtimes at
# <prefix>/share/galley/runtimes, relative to its own executable (src/serve.c).
include(GNUInstallDirs)

set(GALLEY_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions"
  CACHE STRING "where the zsh completion (_galley) is installed, relative to the prefix")
set(gen ${CMAKE_BINARY_DIR}/generated)
add_custom_command(OUTPUT ${gen}/man/galley.1 ${gen}/galley.bash ${gen}/_galley
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${gen}/man
  COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}/man
  COMMAND galley --man-dir ${gen}/man
  COMMAND galley --completion bash > ${gen}/galley.bash
  COMMAND galley --completion zsh > ${gen}/_galley
  DEPENDS galley
  COMMENT "Generating galley's man pages and shell completions from its command table"
  VERBATIM)
add_custom_target(galley_docs ALL DEPENDS ${gen}/man/galley.1 ${gen}/galley.bash ${gen}/_galley)

install(TARGETS galley RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/runtimes/python ${CMAKE_SOURCE_DIR}/runtimes/nodejs
  DESTINATION ${CMAKE_INSTALL_DATADIR}/galley/runtimes USE_SOURCE_PERMISSIONS)
install(DIRECTORY ${gen}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1")
install(FILES ${gen}/galley.bash RENAME galley
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${gen}/_galley DESTINATION ${GALLEY_ZSH_COMPLETION_DIR})

if(TARGET galley_runtime)
  install(TARGETS galley_runtime ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${CMAKE_SOURCE_DIR}/include/galley/runtime.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/galley)
  file(RELATIVE_PATH pc_to_prefix /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
  # A sanitizer build's library calls the sanitizers' runtimes: its users link them too.
  set(pc_sanitize_libs "")
  if(GALLEY_SANITIZE)
    set(pc_sanitize_libs " -fsanitize=address,undefined")
  endif()
  configure_file(${CMAKE_CURRENT_LIST_DIR}/galley-runtime.pc.in ${gen}/galley-runtime.pc @ONLY)
  install(FILES ${gen}/galley-runtime.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()

# The Debian package: `scripts/package`, or `cmake --build build --target package`.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME galley)
set(CPACK_PACKAGE_VENDOR galley)
set(CPACK_PACKAGE_CONTACT "galley maintainers <galley@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Lambda-compatible local execution daemon")
set(CPACK_PACKAGE_DESCRIPTION "galley runs AWS Lambda functions locally without Docker, \
answering the Lambda API so the AWS CLI and SDKs work against it unchanged.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# Ubuntu 24.04 renamed some of these for the 64-bit time_t transition: either name will do.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, libuv1 | libuv1t64, libjansson4, libseccomp2, \
libarchive13 | libarchive13t64, libyaml-0-2, libssl3 | libssl3t64")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, nodejs")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "awscli, python3-boto3")
set(CPACK_STRIP_FILES ON)
include(CPack)
