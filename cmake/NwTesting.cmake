# Test helpers: one executable per tests/<area>/tst_<unit>.cpp, registered with CTest.
# Qt-free areas (common, kernels, engine) use doctest so they build on GPU servers without Qt;
# the others use Qt Test.

# nw_add_doctest(FILE LIBS...) — a doctest suite; tests/support/doctest_main.cpp provides main().
function(nw_add_doctest file)
  get_filename_component(name "${file}" NAME_WE)
  get_filename_component(area "${file}" DIRECTORY)
  get_filename_component(area "${area}" NAME)
  set(target "${area}_${name}")
  add_executable(${target} "${file}")
  target_link_libraries(${target} PRIVATE nw_test_doctest_main ${ARGN} nw::warnings)
  add_test(NAME "${area}/${name}" COMMAND ${target})
  set_tests_properties("${area}/${name}" PROPERTIES
    ENVIRONMENT "NW_SOURCE_DIR=${PROJECT_SOURCE_DIR};NW_BINARY_DIR=${PROJECT_BINARY_DIR}"
    LABELS "${area}")
endfunction()

# nw_add_qtest(FILE LIBS...) — a Qt Test suite (one QObject class, QTEST_*_MAIN).
function(nw_add_qtest file)
  get_filename_component(name "${file}" NAME_WE)
  get_filename_component(area "${file}" DIRECTORY)
  get_filename_component(area "${area}" NAME)
  set(target "${area}_${name}")
  add_executable(${target} "${file}")
  set_target_properties(${target} PROPERTIES AUTOMOC ON)
  target_link_libraries(${target} PRIVATE Qt6::Test ${ARGN} nw::warnings)
  add_test(NAME "${area}/${name}" COMMAND ${target})
  set_tests_properties("${area}/${name}" PROPERTIES
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;NW_SOURCE_DIR=${PROJECT_SOURCE_DIR};NW_BINARY_DIR=${PROJECT_BINARY_DIR}"
    LABELS "${area}")
endfunction()
