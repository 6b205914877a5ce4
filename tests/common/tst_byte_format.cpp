// The one byte and saving format every front end uses (the figures worked out by hand).
#include "common/byte_format.h"

#include <doctest/doctest.h>

TEST_CASE("bytes: whole bytes below 1 KiB, three significant digits above")
{
    CHECK(nw::formatBytes(0) == "0 B");
    CHECK(nw::formatBytes(1023) == "1023 B");
    CHECK(nw::formatBytes(1024) == "1.00 KiB");
    CHECK(nw::formatBytes(1536) == "1.50 KiB");
    CHECK(nw::formatBytes(460800) == "450.0 KiB");          // 460800 / 1024 = 450
    CHECK(nw::formatBytes(4096000) == "3.91 MiB");          // 4096000 / 1048576 = 3.906
    CHECK(nw::formatBytes(12'897'484) == "12.3 MiB");       // 12.30 MiB
    CHECK(nw::formatBytes(1048575) == "1024.0 KiB");        // just under 1 MiB stays in KiB
    CHECK(nw::formatBytes(3ull << 30) == "3.00 GiB");
    CHECK(nw::formatBytes(5ull << 40) == "5.00 TiB");
    CHECK(nw::formatBytes(~0ull) == "16384.0 PiB");         // 2^64 - 1 bytes, no overflow of the units
}

TEST_CASE("savings: two decimals below 10, one above, a dash when undefined")
{
    CHECK(nw::formatSaving(8.888) == "8.89×");
    CHECK(nw::formatSaving(14.24) == "14.2×");
    CHECK(nw::formatSaving(1.0) == "1.00×");
    CHECK(nw::formatSaving(0.0) == "–");
    CHECK(nw::formatSaving(-2.0) == "–");
}
