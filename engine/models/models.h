// The architectures of engine/models/, one file each; the registry (engine/architecture.cpp)
// lists them.
#pragma once

namespace nw {

struct Architecture;

extern const Architecture kLlamaArchitecture; // models/llama.cpp
extern const Architecture kDeepseek2Architecture; // models/deepseek2.cpp
extern const Architecture kQwen2Architecture; // models/qwen2.cpp
extern const Architecture kQwen3Architecture; // models/qwen3.cpp
extern const Architecture kQwen3MoeArchitecture; // models/qwen3moe.cpp
extern const Architecture kPhi3Architecture; // models/phi3.cpp
extern const Architecture kGemma3Architecture; // models/gemma3.cpp
extern const Architecture kGptOssArchitecture; // models/gpt_oss.cpp
extern const Architecture kDeepseek32Architecture; // models/deepseek32.cpp
extern const Architecture kQwen35Architecture; // models/qwen35.cpp
extern const Architecture kQwen35MoeArchitecture; // models/qwen35moe.cpp
extern const Architecture kGemma4Architecture; // models/gemma4.cpp
extern const Architecture kDeepseek4Architecture; // models/deepseek4.cpp

} // namespace nw
