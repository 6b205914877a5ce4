// nw::fail formatting and log level names.
#include "common/error.h"
#include "common/log.h"

#include <doctest/doctest.h>

TEST_CASE("fail() throws nw::Error with the formatted message")
{
    try {
        nw::fail("{}: tensor '{}' not found", "model.gguf", "blk.0.attn_q.weight");
        FAIL("fail() returned");
    } catch (const nw::Error &e) {
        CHECK(std::string(e.what()) == "model.gguf: tensor 'blk.0.attn_q.weight' not found");
    }
}

TEST_CASE("log level names parse; unknown ones are refused")
{
    spdlog::level::level_enum level = spdlog::level::info;
    CHECK(nw::log::parseLevel("debug", level));
    CHECK(level == spdlog::level::debug);
    CHECK(nw::log::parseLevel("error", level));
    CHECK(level == spdlog::level::err);
    CHECK_FALSE(nw::log::parseLevel("verbose", level));
    CHECK(level == spdlog::level::err);
}

TEST_CASE("one logger per module, shared on repeated lookups")
{
    auto engine = nw::log::get("engine");
    CHECK(engine == nw::log::get("engine"));
    CHECK(engine != nw::log::get("store"));
    CHECK(engine->name() == "engine");
}

TEST_CASE("an error carries the remedy a front end words in its own terms")
{
    try {
        nw::fail(nw::Remedy::LargerContext, "the prompt has {} tokens but the context holds {}", 300, 128);
        FAIL("fail() returned");
    } catch (const nw::Error &e) {
        CHECK(std::string(e.what()) == "the prompt has 300 tokens but the context holds 128");
        CHECK(e.remedy() == nw::Remedy::LargerContext);
    }
    CHECK(nw::Error("plain").remedy() == nw::Remedy::None);
}
