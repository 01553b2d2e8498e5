# Documentation: the onnxc(1) man page, installed with the program, and a
# `docs` target that builds the C API reference with Doxygen from
# include/onnxc.h (when Doxygen is installed; Debian package doxygen).
# Included from the top-level CMakeLists.txt:
#
#     include(cmake/Docs.cmake)

get_filename_component(ONNXC_DOCS_SOURCE ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

install(FILES ${ONNXC_DOCS_SOURCE}/docs/onnxc.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  # The Doxyfile reads its output folder and version from the environment,
  # so it holds no build paths; Doxygen runs from the source root, where its
  # relative INPUT and INPUT_FILTER paths point.
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/docs
    COMMAND ${CMAKE_COMMAND} -E env ONNXC_DOCS_DIR=${CMAKE_BINARY_DIR}/docs ONNXC_VERSION=${PROJECT_VERSION}
            ${DOXYGEN_EXECUTABLE} ${ONNXC_DOCS_SOURCE}/docs/Doxyfile
    WORKING_DIRECTORY ${ONNXC_DOCS_SOURCE}
    COMMENT "Doxygen: C API reference in ${CMAKE_BINARY_DIR}/docs/html/index.html"
    VERBATIM)
else()
  message(STATUS "Doxygen not found: no `docs` target (apt-get install doxygen)")
endif()
