// Where tests find data: the source tree, the build tree, and ../shared/conformance (external
// reference files that users' checkouts do not have; tests skip with a message without it).
#pragma once

#include <filesystem>
#include <optional>

namespace nw::test {

std::filesystem::path sourceDir();  // from NW_SOURCE_DIR, set by CTest
std::filesystem::path binaryDir();  // from NW_BINARY_DIR
// ../shared/conformance next to the source tree (or $NW_CONFORMANCE_DIR), if present.
std::optional<std::filesystem::path> conformanceDir();
// A fresh, empty directory under the build tree for one test to write in.
std::filesystem::path scratchDir(const std::string &name);

} // namespace nw::test
