// The architecture registry: every `general.architecture` the engine runs, with what it takes to
// run it — its own hyperparameter keys, its graph (engine/models/<arch>.cpp), the KV modes that
// apply, and whether its graph runs on a device backend. loadModel and HParams::fromGguf
// dispatch through it; nothing else looks at architecture names.
#pragma once

#include "engine/kv_cache.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

class ArchKeys;
class Backend;
class GgufFile;
class Model;
struct HParams;

struct Architecture {
    std::string_view name; // general.architecture
    // Reads and checks the `<arch>.*` keys beyond the shared ones (HParams::fromGguf reads those
    // first); throws nw::Error naming the file and the key.
    void (*readHParams)(const ArchKeys &keys, HParams &hp) = nullptr;
    // The graph over the file's tensors; throws nw::Error for a missing or misshapen tensor.
    std::unique_ptr<Model> (*makeModel)(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                        std::shared_ptr<Backend> backend) = nullptr;
    // The KV modes it can run, its default first (each also with +q8 / +q4 where the head dims
    // allow: KvLayout::forModel decides).
    std::vector<KvMode> kvModes;
    // Whether every op its graph uses has a kernel on the CUDA backend (tested there); other
    // graphs run on the CPU, and --device cuda is refused for them with one line.
    bool runsOnDevice = false;
};

// In registry order (llama first).
const std::vector<const Architecture *> &architectures();
const Architecture *findArchitecture(std::string_view name);
// Throws nw::Error "WHAT: architecture 'NAME' is not supported (supported: llama, deepseek2, ...)".
const Architecture &requireArchitecture(std::string_view what, std::string_view name);
// "llama, deepseek2, qwen2, ..." for messages.
std::string architectureList();

} // namespace nw
