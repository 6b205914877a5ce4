// How the answering model is loaded: the settings every front end gives (the CLI's --model, --kv,
// --ctx, --device, --threads; the window's pickers), the one policy that fills in what they leave
// out, and the device and memory figures the front ends show. The window sees the engine and the
// kernels only through this header (it re-exports their plain value types).
#pragma once

#include "engine/memory_stats.h"
#include "kernels/backend.h"

#include <QString>
#include <QStringList>

#include <cstdint>

namespace nw::app {

using DeviceChoice = nw::DeviceChoice; // auto | cpu | cuda
using MemoryStats = nw::MemoryStats;   // a consistent snapshot of the KV cache and weights
using LayerKvBytes = nw::LayerKvBytes;

QString deviceName(DeviceChoice choice); // "auto", "cpu", "cuda", as --device spells them
// Throws nw::Error naming the three choices.
DeviceChoice parseDevice(const QString &name);
QStringList deviceNames(); // in the order a picker offers them: auto, cpu, cuda

// The first GPU this process can use, or why there is none (for the KV meter and `doctor`).
struct DeviceStatus {
    bool gpu = false;             // a usable CUDA device is present
    QString name;                 // "NVIDIA H100 80GB HBM3"; empty without a GPU
    std::uint64_t freeBytes = 0;  // device memory at probe time
    std::uint64_t totalBytes = 0;
    QString status;               // the whole probe result: "1 device", "no CUDA device: ...", ...
};
DeviceStatus deviceStatus(); // probes once; any thread

// The context a model trained on `trainContext` tokens (0: unknown) gets when `requested` are
// asked for. Asked for (> 0): exactly that. Otherwise room for the work (`needed` tokens, 0 when
// unknown) or kDefaultContextTokens, whichever is more, cut to what the model was trained on but
// never under kMinimumContextTokens: a prompt with retrieved passages needs that much, and a
// 128-token context holds none (the model then runs past its training length).
constexpr std::int64_t kDefaultContextTokens = 4096; // without reserving more KV memory than a desktop can spare
constexpr std::int64_t kMinimumContextTokens = 1024;
std::int64_t contextTokensFor(std::int64_t requested, std::int64_t trainContext, std::int64_t needed = 0);

// The answer's length at most when `requested` tokens are asked for (0: the default) in a context
// of `contextTokens`: kDefaultAnswerTokens, but never more than a quarter of the context, so a
// small context keeps three quarters for the question and the passages.
constexpr int kDefaultAnswerTokens = 512;
int answerTokensFor(int requested, std::int64_t contextTokens);

// A KV mode as the engine spells it ("latent:16+q8" for " latent:16 + q8 "); throws nw::Error
// when it does not parse.
QString canonicalKvMode(const QString &mode);

// What a front end asks for; the workbench loads it with the next question (or when told to).
struct ModelSettings {
    QString path;                              // GGUF file; "" : no model, extractive answers
    QString kvMode;                            // "" : the model's own default mode
    std::int64_t contextTokens = 0;            // 0 : contextTokensFor(0, the model's training context)
    DeviceChoice device = DeviceChoice::Auto;  // as --device; Auto falls back to the CPU
    int threads = 0;                           // CPU threads; 0: all cores

    bool operator==(const ModelSettings &) const = default;
};

} // namespace nw::app
