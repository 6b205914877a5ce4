#!/usr/bin/env python3
"""Reference numbers from llama.cpp for the engine's fidelity tests (tests/engine/tst_fidelity.cpp).

For every model in tests/data/models it runs, on an existing llama.cpp build:
  - tools/llamacpp_reference.cpp (compiled against that build, see its header): the prompt's
    token ids, the top-16 logits at every prompt position, a 24-token greedy continuation and
    the top-16 logits of each of its steps, with a context of 128 tokens (phi3: 256 and 512, so
    that both of its LongRoPE tables are used);
  - llama-perplexity on tests/data/models/perplexity.txt with a context of 64 (one sequence per
    batch: -b 64), two threads; for quantized models with both of its attention paths.
F32 models run with llama.cpp's plain attention over an f32 cache (-fa off, f32 K/V): attention
in f32 on both sides, so the graph is checked to float rounding. Quantized models run with
llama.cpp's defaults (flash attention auto, f16 cache), as users run them; their "spread" is how
far llama.cpp's own two attention paths (flash and plain, both over f16) are from each other on
the same file, the scale of the float-order noise that Q8_0 activations amplify. DeepSeek V3.2's
quantized file runs over an f32 cache instead: its lightning indexer's top-k choice near a tie
follows every rounding, and over f16 llama.cpp's two paths pick different tokens.

Writes tests/data/models/<model>[-ctxN].llamacpp.txt, a line format the test reads without a
JSON library ("key values..."; "#" lines say where the numbers come from).

    python3 tools/llamacpp_fidelity_refs.py --llama /work/peer/llama.cpp --dump /tmp/llamacpp_reference
"""

import argparse
import json
import pathlib
import re
import subprocess

N_PREDICT = 24
TOP_K = 16


def dump(args, model: pathlib.Path, prompt: str, n_ctx: int, kv: str, flash: str) -> dict:
    run = subprocess.run([args.dump, str(model), str(pathlib.Path(args.models) / prompt), str(N_PREDICT),
                          str(TOP_K), str(n_ctx), kv, flash], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def spread(a: dict, b: dict) -> float:
    """Largest |logit difference| between two runs over the entries both list, while their greedy
    continuations agree."""
    agree = 0
    while agree < len(a["greedy"]) and a["greedy"][agree] == b["greedy"][agree]:
        agree += 1
    worst = 0.0
    for ta, tb in list(zip(a["prompt_top"], b["prompt_top"])) + list(zip(a["greedy_top"], b["greedy_top"]))[:agree]:
        other = dict(tb)
        worst = max([worst] + [abs(v - other[i]) for i, v in ta if i in other])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llama", required=True, help="llama.cpp checkout with a build in build/bin")
    parser.add_argument("--dump", required=True, help="the compiled tools/llamacpp_reference.cpp")
    parser.add_argument("--models", default="tests/data/models")
    parser.add_argument("--only", nargs="*", help="model file stems to do (default: all)")
    args = parser.parse_args()
    llama = pathlib.Path(args.llama)
    models = pathlib.Path(args.models)
    commit = subprocess.run(["git", "-C", str(llama), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    for model in sorted(models.glob("*.gguf")):
        if args.only and model.stem not in args.only:
            continue
        exact = model.stem.endswith("-f32")
        kv, flash = ("f32", "off") if exact else ("f16", "auto")
        # A top-k choice (DeepSeek V3.2 / V4's lightning indexer) near a tie follows every rounding:
        # over an f16 cache llama.cpp's own two attention paths pick different tokens now and then
        # and disagree by whole logits. Their quantized files are compared over an f32 cache, where
        # the rounding left is that of the quantized weights.
        if not exact and model.stem.startswith(("deepseek32", "deepseek4")):
            kv = "f32"
        ppl_flags = ["-ctk", kv, "-ctv", kv, "-fa", flash]
        # DeepSeek V4 pools 128 tokens into one HCA entry: its prompt (about 180 tokens with the
        # greedy steps) and perplexity chunks (256) are long enough for that to act.
        long = model.stem.startswith("deepseek4")
        prompt, text, ppl_ctx = ("prompt-long.txt", "perplexity-long.txt", 256) if long else ("prompt.txt",
                                                                                            "perplexity.txt", 64)

        def perplexity(flags: list[str]) -> float:
            # llama-perplexity's logger runs on its own thread and now and then loses its last
            # lines at exit (the final estimate with them): run it again until they are there.
            for _ in range(20):
                ppl_run = subprocess.run(
                    [str(llama / "build/bin/llama-perplexity"), "-m", str(model), "-f", str(models / text),
                     "-c", str(ppl_ctx), "-b", str(ppl_ctx), "-ub", str(ppl_ctx), "-t", "2"] + flags,
                    capture_output=True, text=True, check=True)
                found = re.search(r"Final estimate: PPL = ([0-9.]+)", ppl_run.stdout + ppl_run.stderr)
                if found:
                    return float(found.group(1))
            raise RuntimeError(f"llama-perplexity printed no estimate for {model.name}")

        ppl = perplexity(ppl_flags)
        # Quantized files: llama.cpp's plain attention path too, whose perplexity can lie apart
        # from the flash path's (by 6 % on deepseek32-q8_0, where near-tied top-k choices differ).
        ppl_plain = None if exact else perplexity(["-ctk", kv, "-ctv", kv, "-fa", "off"])
        # phi3: 256 keeps LongRoPE's short factors, 512 takes the long ones (its original context
        # is 256, and llama.cpp rounds contexts up to multiples of 256).
        contexts = [256, 512] if model.name.startswith("phi3") else [256] if long else [128]
        for n_ctx in contexts:
            ref = dump(args, model, prompt, n_ctx, kv, flash)
            noise = 0.0 if exact else spread(ref, dump(args, model, prompt, n_ctx, kv, "off"))
            pairs = lambda top: " ".join(f"{i}:{v!r}" for i, v in top)
            lines = [
                f"# llama.cpp {commit} on {model.name}, produced by tools/llamacpp_fidelity_refs.py:",
                f"#   llamacpp_reference {model.name} {prompt} {N_PREDICT} {TOP_K} {n_ctx} {kv} {flash}"
                "   (tools/llamacpp_reference.cpp)",
                f"#   llama-perplexity -m {model.name} -f {text} -c {ppl_ctx} -b {ppl_ctx} -ub {ppl_ctx} -t 2 "
                + " ".join(ppl_flags),
                f"n_ctx {n_ctx}",
                f"kv_type {kv}",
                f"flash_attn {flash}",
                f"spread {noise!r}",
                f"perplexity {ppl_ctx} {ppl!r}",
            ] + ([] if ppl_plain is None else [f"perplexity_plain {ppl_ctx} {ppl_plain!r}"]) + (
                [f"prompt_file {prompt}", f"perplexity_file {text}"] if long else []) + [
                "prompt_tokens " + " ".join(str(t) for t in ref["prompt_tokens"]),
            ]
            lines += [f"prompt_top {i} {pairs(top)}" for i, top in enumerate(ref["prompt_top"])]
            lines.append("greedy " + " ".join(str(t) for t in ref["greedy"]))
            lines += [f"greedy_top {i} {pairs(top)}" for i, top in enumerate(ref["greedy_top"])]
            suffix = "" if n_ctx == contexts[0] else f"-ctx{n_ctx}"
            out = models / f"{model.stem}{suffix}.llamacpp.txt"
            out.write_text("\n".join(lines) + "\n")
            print(f"{out}: ppl {ppl}, spread {noise:.4f}, greedy {ref['greedy'][:8]}...")


if __name__ == "__main__":
    main()
