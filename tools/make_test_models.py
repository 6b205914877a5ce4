#!/usr/bin/env python3
"""Random-weight GGUF models, one per architecture, for the fidelity tests against llama.cpp.

Each model is small (3 layers, width 128, 4 query heads sharing 2 KV heads of 32 dims, a
512-token vocabulary) but has everything its family's graph does: Qwen2's QKV biases, Qwen3's
per-head Q/K norms, Qwen3-MoE's 8 experts choosing 2, Phi-3's fused QKV and gate/up tensors,
partial rotary and LongRoPE factor tables, Gemma 3's pre/post norms, GeGLU and interleaved
sliding-window layers with their own RoPE base, gpt-oss's sinks, biases, YaRN and clamped-SwiGLU
experts. The tokenizer is the 512-token SentencePiece vocabulary
of llama2.c's stories260K (its tokenizer.ggml.* keys are copied), so llama.cpp and the engine
tokenize the prompts the same way whatever the architecture. Weights come from a fixed seed; each
model is written in F32 and with its matrices in Q8_0 (norms, biases, factor tables and MoE routers
stay F32, as llama-quantize leaves them); gpt-oss also as it is shipped, its experts in MXFP4.
With --llama-bin, qwen3 at width 256 also goes through llama.cpp's llama-quantize into the K-quant
and IQ mixes people download (tools/README.md).

    PYTHONPATH=/work/peer/llama.cpp/gguf-py python3 tools/make_test_models.py \\
        --vocab-from ../shared/conformance/models/stories260K.gguf --out tests/data/models \\
        --llama-bin /work/peer/llama.cpp/build/bin

The reference numbers (tests/data/models/*.json) come from llama.cpp on these files:
tools/llamacpp_reference.cpp says how.
"""

import argparse
import math
import pathlib
import subprocess
import tempfile

import numpy as np
import gguf

N_EMBD = 128
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = 32
N_FF = 192
N_LAYER = 3
N_CTX_TRAIN = 256
RMS_EPS = 1e-6
ROPE_BASE = 10000.0


class Model:
    """Tensors of one model in GGUF order (shape[0] is the row length), and its metadata."""

    def __init__(self, arch: str, seed: int, n_embd: int = N_EMBD, n_ff: int = N_FF):
        self.arch = arch
        self.n_embd = n_embd  # the shared blocks below read the widths from here
        self.n_ff = n_ff
        self.rng = np.random.default_rng(seed)
        self.tensors: list[tuple[str, np.ndarray, bool]] = []  # (name, data [rows, cols], is a matrix)
        self.keys: list[tuple[str, object]] = []

    def matrix(self, name: str, cols: int, rows: int, gain: float = 1.0, quantize: bool = True) -> None:
        # std gain / sqrt(fan-in): activations keep their scale through the layers.
        data = self.rng.normal(0.0, gain / math.sqrt(cols), size=(rows, cols)).astype(np.float32)
        self.tensors.append((name, data, quantize))

    def experts(self, name: str, cols: int, rows: int, n: int, gain: float = 1.0) -> None:
        data = self.rng.normal(0.0, gain / math.sqrt(cols), size=(n, rows, cols)).astype(np.float32)
        self.tensors.append((name, data, True))

    def vector(self, name: str, n: int, mean: float = 0.0, std: float = 0.1) -> None:
        self.tensors.append((name, (mean + self.rng.normal(0.0, std, size=n)).astype(np.float32), False))

    def key(self, suffix: str, value: object) -> None:
        self.keys.append((f"{self.arch}.{suffix}", value))


def common(m: Model, tied: bool) -> None:
    m.key("context_length", N_CTX_TRAIN)
    m.key("embedding_length", m.n_embd)
    m.key("feed_forward_length", m.n_ff)
    m.key("block_count", N_LAYER)
    m.key("attention.head_count", N_HEAD)
    m.key("attention.head_count_kv", N_HEAD_KV)
    m.key("attention.layer_norm_rms_epsilon", RMS_EPS)
    m.key("rope.freq_base", ROPE_BASE)
    m.matrix("token_embd.weight", m.n_embd, 512, gain=math.sqrt(m.n_embd))  # rows of unit scale
    m.vector("output_norm.weight", m.n_embd, mean=1.0)
    if not tied:
        m.matrix("output.weight", m.n_embd, 512, gain=4.0)  # logits spread out: few near-ties


def attention(m: Model, il: int, fused: bool = False, biases: bool = False, qk_norm: bool = False) -> None:
    head_dim = m.n_embd // N_HEAD
    q, kv = N_HEAD * head_dim, N_HEAD_KV * head_dim
    m.vector(f"blk.{il}.attn_norm.weight", m.n_embd, mean=1.0)
    if fused:
        m.matrix(f"blk.{il}.attn_qkv.weight", m.n_embd, q + 2 * kv, gain=2.0)
    else:
        m.matrix(f"blk.{il}.attn_q.weight", m.n_embd, q, gain=2.0)
        m.matrix(f"blk.{il}.attn_k.weight", m.n_embd, kv, gain=2.0)
        m.matrix(f"blk.{il}.attn_v.weight", m.n_embd, kv)
    if biases:
        m.vector(f"blk.{il}.attn_q.bias", q, std=0.5)
        m.vector(f"blk.{il}.attn_k.bias", kv, std=0.5)
        m.vector(f"blk.{il}.attn_v.bias", kv, std=0.5)
    if qk_norm:
        m.vector(f"blk.{il}.attn_q_norm.weight", head_dim, mean=1.0, std=0.2)
        m.vector(f"blk.{il}.attn_k_norm.weight", head_dim, mean=1.0, std=0.2)
    m.matrix(f"blk.{il}.attn_output.weight", q, m.n_embd)
    m.vector(f"blk.{il}.ffn_norm.weight", m.n_embd, mean=1.0)


def dense_ffn(m: Model, il: int, fused: bool = False, n_ff: int | None = None) -> None:
    n_ff = n_ff or m.n_ff
    if fused:
        m.matrix(f"blk.{il}.ffn_up.weight", m.n_embd, 2 * n_ff)  # gate rows first, then up
    else:
        m.matrix(f"blk.{il}.ffn_gate.weight", m.n_embd, n_ff)
        m.matrix(f"blk.{il}.ffn_up.weight", m.n_embd, n_ff)
    m.matrix(f"blk.{il}.ffn_down.weight", n_ff, m.n_embd)


def qwen2() -> Model:
    m = Model("qwen2", 2)
    common(m, tied=False)
    for il in range(N_LAYER):
        attention(m, il, biases=True)
        dense_ffn(m, il)
    return m


def qwen3(n_embd: int = N_EMBD, n_ff: int = N_FF) -> Model:
    m = Model("qwen3", 3, n_embd, n_ff)
    m.key("attention.key_length", n_embd // N_HEAD)
    m.key("attention.value_length", n_embd // N_HEAD)
    common(m, tied=False)
    for il in range(N_LAYER):
        attention(m, il, qk_norm=True)
        dense_ffn(m, il)
    return m


def qwen3moe() -> Model:
    n_expert, n_used, n_ff_exp = 8, 2, 32
    m = Model("qwen3moe", 4)
    m.key("attention.key_length", HEAD_DIM)
    m.key("attention.value_length", HEAD_DIM)
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_feed_forward_length", n_ff_exp)
    common(m, tied=False)
    for il in range(N_LAYER):
        attention(m, il, qk_norm=True)
        m.matrix(f"blk.{il}.ffn_gate_inp.weight", N_EMBD, n_expert, gain=8.0, quantize=False)  # F32, as llama-quantize leaves routers
        m.experts(f"blk.{il}.ffn_gate_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_up_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_down_exps.weight", n_ff_exp, N_EMBD, n_expert)
    return m


def phi3() -> Model:
    # Phi-3.5-style LongRoPE: partial rotary (16 of 32 dims), original context 256 of 1024 (llama.cpp
    # rounds a context up to a multiple of 256, so 256 is the smallest that keeps the short factors),
    # the attention factor as the converter computes it (conversion/phi.py, 'longrope').
    n_rot, orig_ctx, n_ctx_train = 16, 256, 1024
    m = Model("phi3", 5)
    m.key("rope.dimension_count", n_rot)
    m.key("rope.scaling.original_context_length", orig_ctx)
    scale = n_ctx_train / orig_ctx
    m.key("rope.scaling.attn_factor", math.sqrt(1 + math.log(scale) / math.log(orig_ctx)))
    m.key("attention.sliding_window", 2047)  # as Phi-3-mini files say; llama.cpp ignores it
    common(m, tied=False)
    m.keys = [(k, n_ctx_train if k.endswith(".context_length") else v) for k, v in m.keys]
    m.tensors.append(("rope_factors_long.weight",
                      (1.0 + m.rng.uniform(0.0, 8.0, size=n_rot // 2)).astype(np.float32), False))
    m.tensors.append(("rope_factors_short.weight",
                      (1.0 + m.rng.uniform(0.0, 0.5, size=n_rot // 2)).astype(np.float32), False))
    for il in range(N_LAYER):
        attention(m, il, fused=True)
        dense_ffn(m, il, fused=True)
    return m


def gemma3() -> Model:
    # Gemma-3-style interleave scaled down: a window of 16 tokens on two of every three layers,
    # global layers on RoPE base 1e6 with linear scaling 8 (as Gemma 3 4B+), window layers on
    # base 10000 unscaled; norm weights near 1 (the converter stores Gemma's 1 + w).
    m = Model("gemma3", 6)
    m.key("attention.key_length", HEAD_DIM)
    m.key("attention.value_length", HEAD_DIM)
    m.key("attention.sliding_window", 16)
    m.key("attention.sliding_window_pattern", 3)
    common(m, tied=False)
    m.keys = [(k, 1000000.0 if k.endswith("rope.freq_base") else v) for k, v in m.keys]
    m.key("rope.scaling.type", "linear")
    m.key("rope.scaling.factor", 8.0)
    for il in range(N_LAYER):
        attention(m, il, qk_norm=True)
        m.vector(f"blk.{il}.post_attention_norm.weight", N_EMBD, mean=1.0)
        dense_ffn(m, il)
        m.vector(f"blk.{il}.post_ffw_norm.weight", N_EMBD, mean=1.0)
    return m


def gpt_oss() -> Model:
    # gpt-oss scaled down: biases on QKV and output, attention sinks, a 16-token window on the
    # even layers, YaRN (factor 4 over an original context of 64), 8 experts choosing 2 with a
    # router bias, expert biases and the clamped SwiGLU.
    n_expert, n_used, n_ff_exp = 8, 2, 32
    m = Model("gpt-oss", 7)
    m.key("attention.key_length", HEAD_DIM)
    m.key("attention.value_length", HEAD_DIM)
    m.key("attention.sliding_window", 16)
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_feed_forward_length", n_ff_exp)
    m.key("rope.scaling.type", "yarn")
    m.key("rope.scaling.factor", 4.0)
    m.key("rope.scaling.original_context_length", 64)
    common(m, tied=False)
    for il in range(N_LAYER):
        attention(m, il, biases=True)
        # attention() named the FFN's pre-norm ffn_norm; gpt-oss calls it post_attention_norm
        name, data, is_matrix = m.tensors.pop()
        m.tensors.append((f"blk.{il}.post_attention_norm.weight", data, is_matrix))
        m.vector(f"blk.{il}.attn_output.bias", N_EMBD, std=0.1)
        m.vector(f"blk.{il}.attn_sinks.weight", N_HEAD, std=1.0)
        m.matrix(f"blk.{il}.ffn_gate_inp.weight", N_EMBD, n_expert, gain=8.0, quantize=False)
        m.vector(f"blk.{il}.ffn_gate_inp.bias", n_expert, std=0.5)
        m.experts(f"blk.{il}.ffn_gate_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_up_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_down_exps.weight", n_ff_exp, N_EMBD, n_expert)
        for what, rows in (("gate", n_ff_exp), ("up", n_ff_exp), ("down", N_EMBD)):
            bias = m.rng.normal(0.0, 0.3, size=(n_expert, rows)).astype(np.float32)
            m.tensors.append((f"blk.{il}.ffn_{what}_exps.bias", bias, False))
    return m


def deepseek32() -> Model:
    # DeepSeek V3.2 scaled down: MLA with a low-rank query (q_lora 32, kv_lora 64, 2 heads of
    # 32 + 32 rope dims, values of 32), the lightning indexer (8 heads of 64 dims choosing the top
    # 32 tokens: the choice acts from the 33rd token of the 42-token prompt on, and in the second
    # half of every 64-token perplexity chunk), one dense layer then DeepSeekMoE with sigmoid
    # routing over 4 experts, selection bias and a shared expert, YaRN as V3. Narrower than the
    # other test models so that the file stays under 2 MB.
    # The indexer's rope dims are half its key (as V3.2's 64 of 128): llama.cpp's graph takes the
    # key's non-rope view at an offset of the non-rope width, which is right only then; and its
    # Hadamard rotation works on runs of 64, so the key is at least 64 wide. Eight indexer heads:
    # with four, a key's score (a sum of ReLUs) is exactly 0 for one key in sixteen, ties at the
    # top-k cut are common, and which of them is kept follows each side's sort order.
    # The q8_0 file quantizes the FFN and expert matrices only. Q8_0 activations round every
    # product, and a top-k choice near a tie follows each rounding: with the attention and indexer
    # projections quantized too, llama.cpp's own flash and plain attention paths pick different
    # tokens and disagree by whole logits (spread 1.8 over an f32 cache, 4.7 over f16), which
    # would test noise rather than the graph.
    q_lora, kv_lora, nope, rope, v_dim, n_head, n_ff = 32, 64, 32, 32, 32, 2, 64
    idx_heads, idx_dim, top_k = 8, 64, 32
    n_expert, n_used, n_ff_exp = 4, 2, 32
    m = Model("deepseek32", 8)
    m.key("attention.q_lora_rank", q_lora)
    m.key("attention.kv_lora_rank", kv_lora)
    m.key("attention.key_length", kv_lora + rope)  # the MQA view of the latent, as current conversions write
    m.key("attention.value_length", kv_lora)
    m.key("attention.key_length_mla", nope + rope)
    m.key("attention.value_length_mla", v_dim)
    m.key("rope.dimension_count", rope)
    m.key("rope.scaling.type", "yarn")
    m.key("rope.scaling.factor", 4.0)
    m.key("rope.scaling.original_context_length", 64)
    m.key("rope.scaling.yarn_log_multiplier", 0.1)
    m.key("leading_dense_block_count", 1)
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_shared_count", 1)
    m.key("expert_feed_forward_length", n_ff_exp)
    m.key("expert_weights_scale", 2.5)
    m.key("expert_weights_norm", True)
    m.key("expert_gating_func", 2)
    m.key("attention.indexer.head_count", idx_heads)
    m.key("attention.indexer.key_length", idx_dim)
    m.key("attention.indexer.top_k", top_k)
    common(m, tied=False)
    narrower = {"attention.head_count": n_head, "attention.head_count_kv": 1, "feed_forward_length": n_ff}
    m.keys = [(k, v) for k, v in m.keys if k.removeprefix("deepseek32.") not in narrower]
    for suffix, value in narrower.items():
        m.key(suffix, value)
    for il in range(N_LAYER):
        m.vector(f"blk.{il}.attn_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.attn_q_a.weight", N_EMBD, q_lora, quantize=False)
        m.vector(f"blk.{il}.attn_q_a_norm.weight", q_lora, mean=1.0)
        m.matrix(f"blk.{il}.attn_q_b.weight", q_lora, n_head * (nope + rope), gain=2.0, quantize=False)
        m.matrix(f"blk.{il}.attn_kv_a_mqa.weight", N_EMBD, kv_lora + rope, gain=2.0, quantize=False)
        m.vector(f"blk.{il}.attn_kv_a_norm.weight", kv_lora, mean=1.0)
        k_b = m.rng.normal(0.0, 1.0 / math.sqrt(kv_lora), size=(n_head, kv_lora, nope)).astype(np.float32)
        v_b = m.rng.normal(0.0, 1.0 / math.sqrt(kv_lora), size=(n_head, v_dim, kv_lora)).astype(np.float32)
        m.tensors.append((f"blk.{il}.attn_k_b.weight", k_b, False))
        m.tensors.append((f"blk.{il}.attn_v_b.weight", v_b, False))
        m.matrix(f"blk.{il}.attn_output.weight", n_head * v_dim, N_EMBD, quantize=False)
        m.vector(f"blk.{il}.indexer.k_norm.weight", idx_dim, mean=1.0)
        m.vector(f"blk.{il}.indexer.k_norm.bias", idx_dim, std=0.1)
        m.matrix(f"blk.{il}.indexer.proj.weight", N_EMBD, idx_heads, gain=2.0, quantize=False)
        m.matrix(f"blk.{il}.indexer.attn_k.weight", N_EMBD, idx_dim, gain=2.0, quantize=False)
        m.matrix(f"blk.{il}.indexer.attn_q_b.weight", q_lora, idx_heads * idx_dim, gain=2.0, quantize=False)
        m.vector(f"blk.{il}.ffn_norm.weight", N_EMBD, mean=1.0)
        if il == 0:
            dense_ffn(m, il, n_ff=n_ff)
            continue
        m.matrix(f"blk.{il}.ffn_gate_inp.weight", N_EMBD, n_expert, quantize=False)  # sigmoid affinities: unsaturated
        m.vector(f"blk.{il}.exp_probs_b.bias", n_expert, std=0.05)
        m.experts(f"blk.{il}.ffn_gate_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_up_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_down_exps.weight", n_ff_exp, N_EMBD, n_expert)
        m.matrix(f"blk.{il}.ffn_gate_shexp.weight", N_EMBD, n_ff_exp)
        m.matrix(f"blk.{il}.ffn_up_shexp.weight", N_EMBD, n_ff_exp)
        m.matrix(f"blk.{il}.ffn_down_shexp.weight", n_ff_exp, N_EMBD)
    return m


def deepseek4() -> Model:
    # DeepSeek V4 scaled down, one layer of each attention kind: layer 0 the sliding window only
    # (32 tokens), layer 1 CSA (ratio 4: overlapped gated pooling, the lightning indexer keeping
    # the top 8 of its entries: from the 36th token on), layer 2 HCA (ratio 128: the first entry at
    # the 128th token, so the 256-token perplexity chunks use two). One latent row per token of 128
    # dims (16 rotated) is K and V for 4 heads with per-head sinks; the grouped low-rank output
    # projection (2 groups of 2 heads, rank 16 each); hyper-connections with V4's 4 streams and 20
    # Sinkhorn iterations; sqrt-softplus MoE over 4 experts choosing 2 with a shared expert, the
    # first layer routed by the token-id table (V4-Flash hashes its first 3), the others by score
    # and selection bias; SwiGLU clamped at 1.5 so that the clamp acts; YaRN on the compressed
    # layers only, as V4 (factor 4 over an original context of 64, compressed RoPE base 160000).
    # The indexer's keys are 64 wide (its Hadamard rotation works on runs of 64), with the same 16
    # rotated dims; narrower than the latent, as in V4 (512 and 128): llama.cpp rotates the
    # attention's rows too when the two widths are equal. The q8_0 file quantizes the FFN and expert matrices only (see deepseek32: a
    # top-k choice near a tie follows every rounding of Q8_0 activations).
    ratios = [0, 4, 128]
    q_lora, d, rope, n_head, o_groups, o_rank = 32, 128, 16, 4, 2, 16
    idx_heads, idx_dim, top_k = 8, 64, 8
    n_expert, n_used, n_ff_exp, n_hash, hc = 4, 2, 32, 1, 4
    m = Model("deepseek4", 11)
    m.key("context_length", 1024)
    m.key("embedding_length", N_EMBD)
    m.key("embedding_length_out", hc * N_EMBD)
    m.key("feed_forward_length", n_ff_exp)
    m.key("block_count", len(ratios))
    m.key("attention.head_count", n_head)
    m.key("attention.head_count_kv", 1)
    m.key("attention.key_length", d)
    m.key("attention.value_length", d)
    m.key("attention.layer_norm_rms_epsilon", RMS_EPS)
    m.key("attention.q_lora_rank", q_lora)
    m.key("attention.sliding_window", 32)
    m.key("attention.output_group_count", o_groups)
    m.key("attention.output_lora_rank", o_rank)
    m.key("attention.compress_ratios", ratios)
    m.key("attention.compress_rope_freq_base", 160000.0)
    m.key("attention.indexer.head_count", idx_heads)
    m.key("attention.indexer.key_length", idx_dim)
    m.key("attention.indexer.top_k", top_k)
    m.key("rope.dimension_count", rope)
    m.key("rope.freq_base", ROPE_BASE)
    m.key("rope.scaling.type", "yarn")
    m.key("rope.scaling.factor", 4.0)
    m.key("rope.scaling.original_context_length", 64)
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_shared_count", 1)
    m.key("expert_feed_forward_length", n_ff_exp)
    m.key("expert_weights_scale", 1.5)
    m.key("expert_weights_norm", True)
    m.key("expert_gating_func", 4)  # sqrt(softplus(logit))
    m.key("swiglu_clamp_exp", [1.5] * len(ratios))
    m.key("swiglu_clamp_shexp", [1.5] * len(ratios))
    m.key("hyper_connection.count", hc)
    m.key("hyper_connection.sinkhorn_iterations", 20)
    m.key("hyper_connection.epsilon", 1e-6)
    m.key("hash_layer_count", n_hash)
    m.matrix("token_embd.weight", N_EMBD, 512, gain=math.sqrt(N_EMBD))
    m.vector("output_norm.weight", N_EMBD, mean=1.0)
    m.matrix("output.weight", N_EMBD, 512, gain=4.0)
    m.matrix("output_hc_fn.weight", hc * N_EMBD, hc, quantize=False)
    m.vector("output_hc_base.weight", hc, std=0.5)
    m.vector("output_hc_scale.weight", 1, mean=0.5, std=0.1)
    mix = (2 + hc) * hc  # pre weights, post weights, the hc × hc combination
    for il, ratio in enumerate(ratios):
        m.vector(f"blk.{il}.attn_norm.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.attn_sinks.weight", n_head, std=1.0)
        m.matrix(f"blk.{il}.attn_q_a.weight", N_EMBD, q_lora, quantize=False)
        m.vector(f"blk.{il}.attn_q_a_norm.weight", q_lora, mean=1.0)
        m.matrix(f"blk.{il}.attn_q_b.weight", q_lora, n_head * d, gain=2.0, quantize=False)
        m.matrix(f"blk.{il}.attn_kv.weight", N_EMBD, d, gain=2.0, quantize=False)
        m.vector(f"blk.{il}.attn_kv_a_norm.weight", d, mean=1.0)
        m.matrix(f"blk.{il}.attn_output_a.weight", n_head * d // o_groups, o_rank * o_groups, quantize=False)
        m.matrix(f"blk.{il}.attn_output_b.weight", o_groups * o_rank, N_EMBD, quantize=False)
        for where in ("attn", "ffn"):
            m.matrix(f"blk.{il}.hc_{where}_fn.weight", hc * N_EMBD, mix, quantize=False)
            m.vector(f"blk.{il}.hc_{where}_base.weight", mix, std=0.5)
            m.vector(f"blk.{il}.hc_{where}_scale.weight", 3, mean=0.5, std=0.1)
        if ratio:
            coff = 2 if ratio == 4 else 1  # CSA pools overlapping blocks: two rows per token
            m.matrix(f"blk.{il}.attn_compressor_kv.weight", N_EMBD, coff * d, gain=2.0, quantize=False)
            m.matrix(f"blk.{il}.attn_compressor_gate.weight", N_EMBD, coff * d, gain=2.0, quantize=False)
            m.tensors.append((f"blk.{il}.attn_compressor_ape.weight",
                              m.rng.normal(0.0, 0.5, size=(ratio, coff * d)).astype(np.float32), False))
            m.vector(f"blk.{il}.attn_compressor_norm.weight", d, mean=1.0)
        if ratio == 4:
            m.matrix(f"blk.{il}.indexer.proj.weight", N_EMBD, idx_heads, gain=2.0, quantize=False)
            m.matrix(f"blk.{il}.indexer.attn_q_b.weight", q_lora, idx_heads * idx_dim, gain=2.0, quantize=False)
            m.matrix(f"blk.{il}.indexer_compressor_kv.weight", N_EMBD, 2 * idx_dim, gain=2.0, quantize=False)
            m.matrix(f"blk.{il}.indexer_compressor_gate.weight", N_EMBD, 2 * idx_dim, gain=2.0, quantize=False)
            m.tensors.append((f"blk.{il}.indexer_compressor_ape.weight",
                              m.rng.normal(0.0, 0.5, size=(ratio, 2 * idx_dim)).astype(np.float32), False))
            m.vector(f"blk.{il}.indexer_compressor_norm.weight", idx_dim, mean=1.0)
        m.matrix(f"blk.{il}.ffn_gate_inp.weight", N_EMBD, n_expert, gain=2.0, quantize=False)
        if il < n_hash:  # token id -> its n_used experts, distinct
            table = np.stack([m.rng.permutation(n_expert)[:n_used] for _ in range(512)]).astype(np.int32)
            m.tensors.append((f"blk.{il}.ffn_gate_tid2eid.weight", table, False))
        else:
            m.vector(f"blk.{il}.exp_probs_b.bias", n_expert, std=0.05)
        m.vector(f"blk.{il}.ffn_norm.weight", N_EMBD, mean=1.0)
        m.experts(f"blk.{il}.ffn_gate_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_up_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_down_exps.weight", n_ff_exp, N_EMBD, n_expert)
        m.matrix(f"blk.{il}.ffn_gate_shexp.weight", N_EMBD, n_ff_exp)
        m.matrix(f"blk.{il}.ffn_up_shexp.weight", N_EMBD, n_ff_exp)
        m.matrix(f"blk.{il}.ffn_down_shexp.weight", n_ff_exp, N_EMBD)
    return m


def qwen35_common(m: Model, n_layer: int) -> None:
    # Qwen3.5 scaled down: Gated DeltaNet layers (4 value heads over 2 key heads of 32 dims, a
    # 4-tap convolution) with a gated attention layer every second layer (Qwen3.5 has one every
    # fourth), QK-norm, a sigmoid output gate per head in attn_q, partial rotary (16 of 32 dims)
    # over IMRoPE sections [3, 3, 2, 0] (Qwen3.5's [11, 11, 10, 0] for 64 rotated dims).
    n_k, n_v, d, conv = 2, 4, HEAD_DIM, 4
    m.key("attention.key_length", HEAD_DIM)
    m.key("attention.value_length", HEAD_DIM)
    m.key("rope.dimension_count", 16)
    m.key("rope.dimension_sections", [3, 3, 2, 0])
    m.key("full_attention_interval", 2)
    m.key("ssm.conv_kernel", conv)
    m.key("ssm.state_size", d)
    m.key("ssm.group_count", n_k)
    m.key("ssm.time_step_rank", n_v)
    m.key("ssm.inner_size", n_v * d)
    common(m, tied=False)
    m.keys = [(k, n_layer if k.endswith(".block_count") else v) for k, v in m.keys]
    q = N_HEAD * HEAD_DIM
    channels = 2 * n_k * d + n_v * d
    for il in range(n_layer):
        m.vector(f"blk.{il}.attn_norm.weight", N_EMBD, mean=1.0)
        if (il + 1) % 2 != 0:  # recurrent
            m.matrix(f"blk.{il}.attn_qkv.weight", N_EMBD, channels, gain=2.0)
            m.matrix(f"blk.{il}.attn_gate.weight", N_EMBD, n_v * d)
            m.matrix(f"blk.{il}.ssm_conv1d.weight", conv, channels, gain=1.0, quantize=False)  # F32 in every file
            m.vector(f"blk.{il}.ssm_dt.bias", n_v, std=0.5)
            # -exp(A_log), A_log ~ N(0, 0.5): per-token decays from mild to strong
            m.tensors.append((f"blk.{il}.ssm_a", (-np.exp(m.rng.normal(0.0, 0.5, size=n_v))).astype(np.float32), False))
            m.matrix(f"blk.{il}.ssm_beta.weight", N_EMBD, n_v, gain=2.0)
            m.matrix(f"blk.{il}.ssm_alpha.weight", N_EMBD, n_v, gain=2.0)
            m.vector(f"blk.{il}.ssm_norm.weight", d, mean=1.0)
            m.matrix(f"blk.{il}.ssm_out.weight", n_v * d, N_EMBD)
        else:
            m.matrix(f"blk.{il}.attn_q.weight", N_EMBD, 2 * q, gain=2.0)  # each head's query, then its gate
            m.matrix(f"blk.{il}.attn_k.weight", N_EMBD, N_HEAD_KV * HEAD_DIM, gain=2.0)
            m.matrix(f"blk.{il}.attn_v.weight", N_EMBD, N_HEAD_KV * HEAD_DIM)
            m.vector(f"blk.{il}.attn_q_norm.weight", HEAD_DIM, mean=1.0, std=0.2)
            m.vector(f"blk.{il}.attn_k_norm.weight", HEAD_DIM, mean=1.0, std=0.2)
            m.matrix(f"blk.{il}.attn_output.weight", q, N_EMBD)
        m.vector(f"blk.{il}.post_attention_norm.weight", N_EMBD, mean=1.0)


def qwen35() -> Model:
    n_ff = 128  # keeps the F32 file under 2 MB
    m = Model("qwen35", 8)
    qwen35_common(m, N_LAYER)
    m.keys = [(k, n_ff if k.endswith(".feed_forward_length") else v) for k, v in m.keys]
    for il in range(N_LAYER):
        m.matrix(f"blk.{il}.ffn_gate.weight", N_EMBD, n_ff)
        m.matrix(f"blk.{il}.ffn_up.weight", N_EMBD, n_ff)
        m.matrix(f"blk.{il}.ffn_down.weight", n_ff, N_EMBD)
    return m


def qwen35moe() -> Model:
    # As qwen35, with 4 experts choosing 2 and a shared expert scaled by sigmoid(w · x).
    n_expert, n_used, n_ff_exp, n_ff_shexp = 4, 2, 32, 32
    m = Model("qwen35moe", 9)
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_feed_forward_length", n_ff_exp)
    m.key("expert_shared_feed_forward_length", n_ff_shexp)
    qwen35_common(m, N_LAYER)
    for il in range(N_LAYER):
        m.matrix(f"blk.{il}.ffn_gate_inp.weight", N_EMBD, n_expert, gain=8.0, quantize=False)
        m.experts(f"blk.{il}.ffn_gate_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_up_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_down_exps.weight", n_ff_exp, N_EMBD, n_expert)
        m.vector(f"blk.{il}.ffn_gate_inp_shexp.weight", N_EMBD, std=2.0 / math.sqrt(N_EMBD))
        m.matrix(f"blk.{il}.ffn_gate_shexp.weight", N_EMBD, n_ff_shexp)
        m.matrix(f"blk.{il}.ffn_up_shexp.weight", N_EMBD, n_ff_shexp)
        m.matrix(f"blk.{il}.ffn_down_shexp.weight", n_ff_shexp, N_EMBD)
    return m


def gemma4() -> Model:
    # Gemma 4 31B's shape scaled down: two window layers (16 tokens, 2 KV heads of 32 dims, 32
    # rotated, base 10000) and a global one (1 KV head of 64 dims, base 1e6, proportional RoPE:
    # 8 of its 32 pairs rotate, rope_freqs 1e30 for the rest) whose keys double as values (no
    # attn_v); FFN widths per layer, a per-layer output scale, final logit softcapping.
    pattern = [True, True, False]
    kv_heads = [2, 2, 1]
    n_ff = [96, 128, 160]
    d_swa, d_full = 32, 64
    m = Model("gemma4", 10)
    m.key("attention.key_length", d_full)
    m.key("attention.value_length", d_full)
    m.key("attention.key_length_swa", d_swa)
    m.key("attention.value_length_swa", d_swa)
    m.key("rope.dimension_count", d_full)
    m.key("rope.dimension_count_swa", d_swa)
    m.key("attention.sliding_window", 16)
    m.key("attention.sliding_window_pattern", pattern)
    m.key("rope.freq_base_swa", 10000.0)
    m.key("embedding_length_per_layer_input", 0)
    m.key("final_logit_softcapping", 30.0)
    common(m, tied=False)
    m.keys = [(k, 1000000.0 if k.endswith("rope.freq_base") else v) for k, v in m.keys]
    m.keys = [(k, n_ff if k.endswith(".feed_forward_length") else v) for k, v in m.keys]
    m.keys = [(k, kv_heads if k.endswith(".attention.head_count_kv") else v) for k, v in m.keys]
    m.tensors.append(("rope_freqs.weight", np.array([1.0] * 8 + [1e30] * 24, dtype=np.float32), False))
    for il in range(N_LAYER):
        d = d_swa if pattern[il] else d_full
        m.vector(f"blk.{il}.attn_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.attn_q.weight", N_EMBD, N_HEAD * d, gain=2.0)
        m.matrix(f"blk.{il}.attn_k.weight", N_EMBD, kv_heads[il] * d, gain=2.0)
        if pattern[il]:
            m.matrix(f"blk.{il}.attn_v.weight", N_EMBD, kv_heads[il] * d)
        m.vector(f"blk.{il}.attn_q_norm.weight", d, mean=1.0, std=0.2)
        m.vector(f"blk.{il}.attn_k_norm.weight", d, mean=1.0, std=0.2)
        m.matrix(f"blk.{il}.attn_output.weight", N_HEAD * d, N_EMBD)
        m.vector(f"blk.{il}.post_attention_norm.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.ffn_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.ffn_gate.weight", N_EMBD, n_ff[il])
        m.matrix(f"blk.{il}.ffn_up.weight", N_EMBD, n_ff[il])
        m.matrix(f"blk.{il}.ffn_down.weight", n_ff[il], N_EMBD)
        m.vector(f"blk.{il}.post_ffw_norm.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.layer_output_scale.weight", 1, mean=1.0, std=0.3)
    return m


def gemma4_e2b() -> Model:
    # Gemma 4 E2B's extras: per-layer embeddings (32 per layer and token) and two shared-KV layers
    # at the end (a window layer reading layer 0's rows, a global one reading layer 1's), with
    # double-wide FFNs as E2B's shared layers have; heads of 32 dims throughout (the 31B-shaped
    # model checks the differing ones), so the F32 file stays under 2 MB.
    pattern = [True, False, True, False]
    kv_heads = [2, 1, 2, 1]
    n_ff = [32, 32, 64, 64]
    d_swa, d_full, n_pl, n_layer, n_shared = 32, 32, 32, 4, 2
    m = Model("gemma4", 11)
    m.stem = "gemma4-e2b"
    m.key("attention.key_length", d_full)
    m.key("attention.value_length", d_full)
    m.key("attention.key_length_swa", d_swa)
    m.key("attention.value_length_swa", d_swa)
    m.key("rope.dimension_count", d_full)
    m.key("rope.dimension_count_swa", d_swa)
    m.key("attention.sliding_window", 16)
    m.key("attention.sliding_window_pattern", pattern)
    m.key("attention.shared_kv_layers", n_shared)
    m.key("rope.freq_base_swa", 10000.0)
    m.key("embedding_length_per_layer_input", n_pl)
    m.key("final_logit_softcapping", 30.0)
    common(m, tied=False)
    m.keys = [(k, 1000000.0 if k.endswith("rope.freq_base") else v) for k, v in m.keys]
    m.keys = [(k, n_layer if k.endswith(".block_count") else v) for k, v in m.keys]
    m.keys = [(k, n_ff if k.endswith(".feed_forward_length") else v) for k, v in m.keys]
    m.keys = [(k, kv_heads if k.endswith(".attention.head_count_kv") else v) for k, v in m.keys]
    m.tensors.append(("rope_freqs.weight", np.array([1.0] * 4 + [1e30] * 12, dtype=np.float32), False))
    m.matrix("per_layer_token_embd.weight", n_layer * n_pl, 512, gain=math.sqrt(n_layer * n_pl))
    m.matrix("per_layer_model_proj.weight", N_EMBD, n_layer * n_pl)
    m.vector("per_layer_proj_norm.weight", n_pl, mean=1.0)
    for il in range(n_layer):
        d = d_swa if pattern[il] else d_full
        shared = il >= n_layer - n_shared
        m.vector(f"blk.{il}.attn_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.attn_q.weight", N_EMBD, N_HEAD * d, gain=2.0)
        if not shared:
            m.matrix(f"blk.{il}.attn_k.weight", N_EMBD, kv_heads[il] * d, gain=2.0)
            if pattern[il]:
                m.matrix(f"blk.{il}.attn_v.weight", N_EMBD, kv_heads[il] * d)
            m.vector(f"blk.{il}.attn_k_norm.weight", d, mean=1.0, std=0.2)
        m.vector(f"blk.{il}.attn_q_norm.weight", d, mean=1.0, std=0.2)
        m.matrix(f"blk.{il}.attn_output.weight", N_HEAD * d, N_EMBD)
        m.vector(f"blk.{il}.post_attention_norm.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.ffn_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.ffn_gate.weight", N_EMBD, n_ff[il])
        m.matrix(f"blk.{il}.ffn_up.weight", N_EMBD, n_ff[il])
        m.matrix(f"blk.{il}.ffn_down.weight", n_ff[il], N_EMBD)
        m.vector(f"blk.{il}.post_ffw_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.inp_gate.weight", N_EMBD, n_pl, gain=2.0)
        m.matrix(f"blk.{il}.proj.weight", n_pl, N_EMBD)
        m.vector(f"blk.{il}.post_norm.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.layer_output_scale.weight", 1, mean=1.0, std=0.3)
    return m


def gemma4_moe() -> Model:
    # Gemma 4 26B-A4B's layers: beside each dense GeGLU FFN, 4 GELU experts choosing 2 with their
    # own pre/post norms, a router over RMSNorm(x) scaled by ffn_gate_inp.scale, a per-expert
    # output scale; layer 0's gate and up experts fused (ffn_gate_up_exps), the others separate.
    pattern = [True, True, False]
    kv_heads = [2, 2, 1]
    n_expert, n_used, n_ff_exp, n_ff = 4, 2, 32, 64
    d = 32
    m = Model("gemma4", 12)
    m.stem = "gemma4-moe"
    m.key("attention.key_length", d)
    m.key("attention.value_length", d)
    m.key("attention.key_length_swa", d)
    m.key("attention.value_length_swa", d)
    m.key("rope.dimension_count", d)
    m.key("rope.dimension_count_swa", d)
    m.key("attention.sliding_window", 16)
    m.key("attention.sliding_window_pattern", pattern)
    m.key("rope.freq_base_swa", 10000.0)
    m.key("embedding_length_per_layer_input", 0)
    m.key("final_logit_softcapping", 30.0)
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_feed_forward_length", n_ff_exp)
    common(m, tied=False)
    m.keys = [(k, 1000000.0 if k.endswith("rope.freq_base") else v) for k, v in m.keys]
    m.keys = [(k, n_ff if k.endswith(".feed_forward_length") else v) for k, v in m.keys]
    m.keys = [(k, kv_heads if k.endswith(".attention.head_count_kv") else v) for k, v in m.keys]
    m.tensors.append(("rope_freqs.weight", np.array([1.0] * 4 + [1e30] * 12, dtype=np.float32), False))
    for il in range(N_LAYER):
        m.vector(f"blk.{il}.attn_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.attn_q.weight", N_EMBD, N_HEAD * d, gain=2.0)
        m.matrix(f"blk.{il}.attn_k.weight", N_EMBD, kv_heads[il] * d, gain=2.0)
        if pattern[il]:
            m.matrix(f"blk.{il}.attn_v.weight", N_EMBD, kv_heads[il] * d)
        m.vector(f"blk.{il}.attn_q_norm.weight", d, mean=1.0, std=0.2)
        m.vector(f"blk.{il}.attn_k_norm.weight", d, mean=1.0, std=0.2)
        m.matrix(f"blk.{il}.attn_output.weight", N_HEAD * d, N_EMBD)
        m.vector(f"blk.{il}.post_attention_norm.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.ffn_norm.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.ffn_gate.weight", N_EMBD, n_ff)
        m.matrix(f"blk.{il}.ffn_up.weight", N_EMBD, n_ff)
        m.matrix(f"blk.{il}.ffn_down.weight", n_ff, N_EMBD)
        m.vector(f"blk.{il}.post_ffw_norm_1.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.pre_ffw_norm_2.weight", N_EMBD, mean=1.0)
        m.matrix(f"blk.{il}.ffn_gate_inp.weight", N_EMBD, n_expert, gain=8.0, quantize=False)
        m.vector(f"blk.{il}.ffn_gate_inp.scale", N_EMBD, mean=1.0, std=0.3)
        if il == 0:
            m.experts(f"blk.{il}.ffn_gate_up_exps.weight", N_EMBD, 2 * n_ff_exp, n_expert)
        else:
            m.experts(f"blk.{il}.ffn_gate_exps.weight", N_EMBD, n_ff_exp, n_expert)
            m.experts(f"blk.{il}.ffn_up_exps.weight", N_EMBD, n_ff_exp, n_expert)
        m.experts(f"blk.{il}.ffn_down_exps.weight", n_ff_exp, N_EMBD, n_expert)
        m.vector(f"blk.{il}.ffn_down_exps.scale", n_expert, mean=1.0, std=0.3)
        m.vector(f"blk.{il}.post_ffw_norm_2.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.post_ffw_norm.weight", N_EMBD, mean=1.0)
        m.vector(f"blk.{il}.layer_output_scale.weight", 1, mean=1.0, std=0.3)
    return m


def write(m: Model, vocab: gguf.GGUFReader, path: pathlib.Path, qtype: gguf.GGMLQuantizationType,
          experts_qtype: gguf.GGMLQuantizationType | None = None) -> None:
    """Writes m with its matrices in qtype, and its MoE expert matrices in experts_qtype if given."""
    w = gguf.GGUFWriter(str(path), m.arch)
    # general.name must not say "phi3": llama.cpp then sets attributes on Phi-3 vocabulary tokens
    # (llama-vocab.cpp) that the stories260K vocabulary does not have.
    w.add_name("random-weight test model")
    for field in vocab.fields.values():
        if not field.name.startswith("tokenizer.ggml."):
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == gguf.GGUFValueType.STRING:
                values = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                values = [field.parts[i][0].item() for i in field.data]
            w.add_key_value(field.name, values, kind, sub)
        elif kind == gguf.GGUFValueType.STRING:
            w.add_key_value(field.name, bytes(field.parts[field.data[0]]).decode("utf-8"), kind)
        else:
            w.add_key_value(field.name, field.parts[field.data[0]][0].item(), kind)
    for key, value in m.keys:
        if isinstance(value, str):
            w.add_string(key, value)
        elif isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, list):
            w.add_array(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        elif isinstance(value, list):
            w.add_array(key, value)
        else:
            w.add_uint32(key, value)
    for name, data, is_matrix in m.tensors:
        tensor_qtype = experts_qtype if experts_qtype is not None and name.endswith("_exps.weight") else qtype
        if data.dtype == np.int32:  # tables (V4's hash routing) stay I32
            w.add_tensor(name, data)
        elif is_matrix and tensor_qtype != gguf.GGMLQuantizationType.F32:
            q = gguf.quants.quantize(data, tensor_qtype)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=tensor_qtype)
        else:
            w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab-from", required=True, help="a GGUF whose tokenizer.ggml.* keys to copy")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--only", nargs="*", help="architectures to write (default: all)")
    parser.add_argument("--llama-bin", help="a llama.cpp build's bin directory (llama-quantize, llama-imatrix): "
                        "also write the K-quant and IQ models")
    args = parser.parse_args()
    vocab = gguf.GGUFReader(args.vocab_from)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for make in (qwen2, qwen3, qwen3moe, phi3, gemma3, gpt_oss, deepseek32, deepseek4, qwen35, qwen35moe, gemma4,
                 gemma4_e2b, gemma4_moe):
        if args.only and make.__name__.replace("_", "-") not in args.only and make.__name__ not in args.only:
            continue
        m = make()
        for qtype, tag in ((gguf.GGMLQuantizationType.F32, "f32"), (gguf.GGMLQuantizationType.Q8_0, "q8_0")):
            path = out / f"{getattr(m, 'stem', m.arch)}-{tag}.gguf"
            write(m, vocab, path, qtype)
            print(f"{path}: {path.stat().st_size} bytes")
        if m.arch == "gpt-oss":
            # As gpt-oss is shipped: MXFP4 experts, the other matrices in Q8_0.
            path = out / f"{m.arch}-mxfp4.gguf"
            write(m, vocab, path, gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.MXFP4)
            print(f"{path}: {path.stat().st_size} bytes")
    if args.llama_bin:
        # K-quant and IQ rows are multiples of 256 (llama-quantize gives narrower tensors a fallback
        # type): qwen3 at width 256, quantized by llama.cpp into the mixes people download. The
        # IQ2/IQ3_XXS mixes need an importance matrix (llama-imatrix's, over perplexity.txt); the
        # others are written without one, as llama-quantize allows.
        # Between them the mixes hold Q2_K..Q6_K, IQ4_XS, IQ4_NL, IQ3_XXS, IQ3_S, IQ2_S, IQ2_XS and IQ2_XXS.
        bin_dir = pathlib.Path(args.llama_bin)
        text = pathlib.Path(__file__).resolve().parent.parent / "tests/data/models/perplexity.txt"
        with tempfile.TemporaryDirectory() as tmp:
            f32 = pathlib.Path(tmp) / "qwen3-w256-f32.gguf"
            imatrix = out / "qwen3-w256.imatrix.gguf"  # its path goes into the files' metadata: not a temp name
            write(qwen3(n_embd=256, n_ff=256), vocab, f32, gguf.GGMLQuantizationType.F32)
            subprocess.run([str(bin_dir / "llama-imatrix"), "-m", str(f32), "-f", str(text), "-c", "64", "-b", "64",
                            "-t", "2", "-o", str(imatrix)], check=True, capture_output=True)
            for mix, needs_imatrix in (("Q2_K", False), ("Q3_K_M", False), ("IQ4_XS", False), ("IQ4_NL", False),
                                       ("IQ3_XXS", True), ("IQ2_XS", True), ("IQ2_XXS", True)):
                path = out / f"qwen3-w256-{mix.lower()}.gguf"
                weighting = ["--imatrix", str(imatrix)] if needs_imatrix else []
                subprocess.run([str(bin_dir / "llama-quantize")] + weighting + [str(f32), str(path), mix, "2"],
                               check=True, capture_output=True)
                print(f"{path}: {path.stat().st_size} bytes")
            imatrix.unlink()


if __name__ == "__main__":
    main()
