# End-to-end suites against outside references. Included at the end of
# tests/CMakeLists.txt; including it is all that is needed.
#
# 1. test_conformance: generated here from shared/conformance/tier1.tsv, one
#    Criterion test per CONFORMANCE_CHUNK cases (one case alone:
#    `ONNXC_CONFORMANCE_CASE=test_relu test_conformance`).
#    Source template: tests/test_conformance.c.in.
# 2. The other end-to-end tests (test_real_models, test_roundtrip, test_schema,
#    test_interop_ort) are plain tests/test_*.c files built by the glob in
#    tests/CMakeLists.txt; here they only get the paths of the outside tools
#    they call (python with the onnx package, node).

if(NOT DEFINED ONNXC_SHARED_DIR)
  get_filename_component(ONNXC_SHARED_DIR ${CMAKE_SOURCE_DIR}/../shared ABSOLUTE)
endif()
if(NOT DEFINED TEST_SUPPORT)
  file(GLOB TEST_SUPPORT CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/support/*.c)
endif()
if(NOT CRITERION_LIB)
  find_library(CRITERION_LIB criterion REQUIRED)
endif()

# Debian's python3 carries the onnx package the round-trip and schema tools need.
set(ONNXC_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH
    "Python with the onnx package, used by round-trip and schema tests")
set(ONNXC_TEST_NODE node CACHE STRING "node executable for the ONNX Runtime interop test")

# --- Conformance source: the tier1.tsv cases, CONFORMANCE_CHUNK per Test() ---
# Criterion runs every Test() in a freshly executed process (~0.08 s each, ~0.15
# s under ASan, 47 shared libraries with libhdf5); one per case made the 348
# cases cost more in process start-up than in running them.
set(CONFORMANCE_CHUNK 12)
set(ONNXC_CONFORMANCE_TSV ${ONNXC_SHARED_DIR}/conformance/tier1.tsv)
set(CONFORMANCE_CASES "")
set(CONFORMANCE_TESTS "")
if(EXISTS ${ONNXC_CONFORMANCE_TSV})
  # Re-run configure when the case list changes.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ONNXC_CONFORMANCE_TSV})
  file(STRINGS ${ONNXC_CONFORMANCE_TSV} _conf_lines)
  set(_conf_count 0)
  foreach(_line IN LISTS _conf_lines)
    string(STRIP "${_line}" _line)
    if(_line STREQUAL "" OR _line MATCHES "^#")
      continue()
    endif()
    # Column 1 is the case folder; columns are tab separated.
    string(REGEX REPLACE "\t.*$" "" _case "${_line}")
    string(APPEND CONFORMANCE_CASES "    \"${_case}\",\n")
    math(EXPR _conf_count "${_conf_count} + 1")
  endforeach()
  math(EXPR _conf_parts "(${_conf_count} + ${CONFORMANCE_CHUNK} - 1) / ${CONFORMANCE_CHUNK} - 1")
  foreach(_part RANGE 0 ${_conf_parts})
    string(APPEND CONFORMANCE_TESTS
      "Test(conformance, part_${_part}, .timeout = 600) { run_part(${_part}); }\n")
  endforeach()
  message(STATUS "onnxc conformance: ${_conf_count} cases from ${ONNXC_CONFORMANCE_TSV}")
else()
  message(WARNING "onnxc conformance: ${ONNXC_CONFORMANCE_TSV} not found; "
                  "test_conformance will fail until it exists")
  set(CONFORMANCE_TESTS
    "Test(conformance, case_list_missing) { cr_assert_fail(\"case list ${ONNXC_CONFORMANCE_TSV} not found\"); }\n")
endif()

configure_file(${CMAKE_CURRENT_LIST_DIR}/test_conformance.c.in
               ${CMAKE_CURRENT_BINARY_DIR}/test_conformance.c @ONLY)

add_executable(test_conformance ${CMAKE_CURRENT_BINARY_DIR}/test_conformance.c ${TEST_SUPPORT})
target_link_libraries(test_conformance PRIVATE onnxc_core onnxc_proto ${CRITERION_LIB})
target_include_directories(test_conformance PRIVATE ${CMAKE_CURRENT_LIST_DIR}/support)
target_compile_definitions(test_conformance PRIVATE
  ONNXC_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  ONNXC_BINARY_DIR="${CMAKE_BINARY_DIR}"
  ONNXC_SHARED_DIR="${ONNXC_SHARED_DIR}"
  ONNXC_CLI="$<TARGET_FILE:onnxc_cli>"
  ONNX_TESTDATA_DIR="/usr/share/libonnx-testdata/data")
add_test(NAME test_conformance COMMAND test_conformance --jobs 1)
set_tests_properties(test_conformance PROPERTIES TIMEOUT 1800 LABELS "conformance;e2e")

# --- Tool paths for the other end-to-end tests ------------------------------
foreach(_t test_roundtrip test_schema test_real_models test_interop_ort)
  if(TARGET ${_t})
    target_compile_definitions(${_t} PRIVATE
      ONNXC_TEST_PYTHON="${ONNXC_TEST_PYTHON}"
      ONNXC_TEST_NODE="${ONNXC_TEST_NODE}")
    set_tests_properties(${_t} PROPERTIES LABELS "e2e")
  endif()
endforeach()
