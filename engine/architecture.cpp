// The registry's table: one line per architecture file in engine/models/.
#include "engine/architecture.h"

#include "common/error.h"
#include "engine/models/models.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace nw {

const std::vector<const Architecture *> &architectures()
{
    static const std::vector<const Architecture *> table = {
        &kLlamaArchitecture,
        &kDeepseek2Architecture,
        &kQwen2Architecture,
        &kQwen3Architecture,
        &kQwen3MoeArchitecture,
        &kPhi3Architecture,
        &kGemma3Architecture,
        &kGptOssArchitecture,
        &kDeepseek32Architecture,
        &kQwen35Architecture,
        &kQwen35MoeArchitecture,
        &kGemma4Architecture,
        &kDeepseek4Architecture,
    };
    return table;
}

const Architecture *findArchitecture(std::string_view name)
{
    for (const Architecture *a : architectures())
        if (a->name == name)
            return a;
    return nullptr;
}

std::string architectureList()
{
    std::vector<std::string_view> names;
    for (const Architecture *a : architectures())
        names.push_back(a->name);
    return fmt::format("{}", fmt::join(names, ", "));
}

const Architecture &requireArchitecture(std::string_view what, std::string_view name)
{
    if (const Architecture *a = findArchitecture(name))
        return *a;
    fail("{}: architecture '{}' is not supported (supported: {})", what, name, architectureList());
}

} // namespace nw
