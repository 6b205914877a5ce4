// The needle harness against a remote engine (`needlework needle --engine URL`): the same
// haystacks, question and answer prefix as in process, sized with the server's tokenizer, sent
// as chat messages the server renders through its own template, with the server's /metrics KV
// figures recorded per trial. KV modes and perplexity belong to the server and are not run here.
#pragma once

#include "app/needle_runner.h"

#include <atomic>
#include <functional>

namespace nw::app {

class RemoteEngine;

// NeedleRunner::run() for a config whose `engine` is set: one "mode", remote (remote:MODE when
// the server's /metrics names its KV mode). Throws nw::Error when the longest haystack with its
// question cannot fit the server's context, or results.json holds another model's run.
NeedleRunOutcome runRemoteNeedle(const NeedleConfig &config, const FillerText &filler, const RemoteEngine &engine,
    const std::atomic<bool> &cancel, const std::function<void(const NeedleProgress &)> &progress,
    const std::function<void(const NeedleResults &)> &saved);

} // namespace nw::app
