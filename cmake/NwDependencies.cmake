# System dependencies, all from Debian packages (scripts/setup-deps.sh installs them).
# Engine-only builds (GPU servers) may take spdlog/fmt/doctest/Eigen as headers from NW_HEADERS_DIR.
find_package(Threads REQUIRED)

find_package(spdlog CONFIG QUIET)
if(NOT spdlog_FOUND)
  if(EXISTS "${NW_HEADERS_DIR}/spdlog/spdlog.h")
    add_library(spdlog_header_only INTERFACE)
    target_include_directories(spdlog_header_only SYSTEM INTERFACE "${NW_HEADERS_DIR}")
    target_compile_definitions(spdlog_header_only INTERFACE SPDLOG_HEADER_ONLY FMT_HEADER_ONLY)
    add_library(spdlog::spdlog ALIAS spdlog_header_only)
    message(STATUS "spdlog: header-only copy in ${NW_HEADERS_DIR}")
  else()
    message(FATAL_ERROR "spdlog not found: install libspdlog-dev (scripts/setup-deps.sh) "
                        "or put its headers in ${NW_HEADERS_DIR}")
  endif()
endif()

find_package(Eigen3 3.3 CONFIG QUIET NO_MODULE)
if(NOT Eigen3_FOUND)
  if(EXISTS "${NW_HEADERS_DIR}/Eigen/Dense")
    add_library(eigen_header_only INTERFACE)
    target_include_directories(eigen_header_only SYSTEM INTERFACE "${NW_HEADERS_DIR}")
    add_library(Eigen3::Eigen ALIAS eigen_header_only)
  else()
    message(FATAL_ERROR "Eigen 3 not found: install libeigen3-dev (scripts/setup-deps.sh)")
  endif()
endif()

if(NW_BUILD_TESTS)
  find_path(NW_DOCTEST_INCLUDE doctest/doctest.h HINTS "${NW_HEADERS_DIR}")
  if(NOT NW_DOCTEST_INCLUDE)
    message(FATAL_ERROR "doctest not found: install doctest-dev (scripts/setup-deps.sh)")
  endif()
  add_library(nw_doctest INTERFACE)
  target_include_directories(nw_doctest SYSTEM INTERFACE "${NW_DOCTEST_INCLUDE}")
endif()

if(NOT NW_ENGINE_ONLY)
  find_package(Qt6 6.4 REQUIRED COMPONENTS Core Gui Widgets Charts Concurrent Test)
  find_package(nlohmann_json 3.10 REQUIRED)
  find_package(SQLite3 REQUIRED)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(POPPLER_QT6 REQUIRED IMPORTED_TARGET poppler-qt6)
  # Page text, labels and sizes at ingest: Poppler's core with its TextOutputDev (what pdftotext
  # runs), kept for all pages of a document; its headers come with Debian's libpoppler-private-dev.
  # nw_ingest only.
  pkg_check_modules(POPPLER_CORE REQUIRED IMPORTED_TARGET poppler)
  include(CheckIncludeFileCXX)
  set(CMAKE_REQUIRED_INCLUDES ${POPPLER_CORE_INCLUDE_DIRS})
  check_include_file_cxx(TextOutputDev.h NW_HAVE_POPPLER_TEXT_OUTPUT_DEV)
  unset(CMAKE_REQUIRED_INCLUDES)
  if(NOT NW_HAVE_POPPLER_TEXT_OUTPUT_DEV)
    message(FATAL_ERROR "Poppler's TextOutputDev.h is missing: install the Debian package libpoppler-private-dev "
                        "(scripts/setup-deps.sh installs everything the build needs)")
  endif()
  # The other formats' readers, nw_ingest only, each behind one file of ingest/: OCR of scanned
  # pages (Tesseract with Leptonica, and OpenMP, whose one call keeps Tesseract's own threads off
  # the cores the ingest fills with pages), email (GMime), the zip of .docx/.odt (libzip), HTML (Gumbo).
  set(nw_format_packages "libtesseract-dev libleptonica-dev libgmime-3.0-dev libzip-dev libgumbo-dev")
  foreach(module TESSERACT:tesseract LEPTONICA:lept GMIME:gmime-3.0 LIBZIP:libzip GUMBO:gumbo)
    string(REPLACE ":" ";" pair "${module}")
    list(GET pair 0 prefix)
    list(GET pair 1 name)
    pkg_check_modules(${prefix} IMPORTED_TARGET ${name})
    if(NOT ${prefix}_FOUND)
      message(FATAL_ERROR "${name} not found: install the Debian packages ${nw_format_packages} "
                          "(scripts/setup-deps.sh installs everything the build needs)")
    endif()
  endforeach()
  # `needlework serve` (nw_server only): cpp-httplib, Debian's build of it (a header and a library).
  pkg_check_modules(HTTPLIB IMPORTED_TARGET cpp-httplib)
  if(NOT HTTPLIB_FOUND)
    message(FATAL_ERROR "cpp-httplib not found: install the Debian package libcpp-httplib-dev "
                        "(scripts/setup-deps.sh installs everything the build needs)")
  endif()
  find_package(OpenMP COMPONENTS CXX)
  if(NOT OpenMP_CXX_FOUND)
    message(FATAL_ERROR "OpenMP for ${CMAKE_CXX_COMPILER_ID} not found: with clang install the Debian package "
                        "libomp-dev (GCC's libgomp comes with g++; scripts/setup-deps.sh installs everything the build needs)")
  endif()
endif()
