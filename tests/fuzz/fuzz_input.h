// Helpers shared by the fuzz entry points above the GGUF reader: a reader that turns the fuzzer's
// bytes into choices (zeros once they run out, so every input is a complete script), and where
// the seed files are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace nw::fuzz {

class InputReader {
public:
    InputReader(const std::uint8_t *data, std::size_t size)
        : m_data(data)
        , m_size(size)
    {
    }

    bool empty() const { return m_at >= m_size; }
    std::uint8_t u8() { return m_at < m_size ? m_data[m_at++] : 0; }
    std::uint16_t u16() { return std::uint16_t(u8() | u8() << 8); }
    std::uint32_t u32() { return std::uint32_t(u16()) | std::uint32_t(u16()) << 16; }
    std::uint64_t u64() { return std::uint64_t(u32()) | std::uint64_t(u32()) << 32; }
    // The bytes not read yet.
    std::string rest()
    {
        std::string s(reinterpret_cast<const char *>(m_data + m_at), m_size - m_at);
        m_at = m_size;
        return s;
    }

private:
    const std::uint8_t *m_data;
    std::size_t m_size;
    std::size_t m_at = 0;
};

// A failure the sanitizers would not see (a broken invariant): print and abort, so both
// libFuzzer and the bounded driver save the input.
[[noreturn]] inline void die(const std::string &what)
{
    std::fprintf(stderr, "%s\n", what.c_str());
    std::abort();
}

// The source tree (the build sets NW_FUZZ_SOURCE_DIR; $NW_SOURCE_DIR overrides it).
inline std::filesystem::path sourceDir()
{
    if (const char *dir = std::getenv("NW_SOURCE_DIR"); dir && *dir)
        return dir;
    return NW_FUZZ_SOURCE_DIR;
}

inline std::vector<std::byte> readFile(const std::filesystem::path &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        die("fuzz: cannot read seed file " + path.string());
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    for (std::size_t i = 0; i < chars.size(); ++i)
        bytes[i] = std::byte(chars[i]);
    return bytes;
}

} // namespace nw::fuzz
