#!/usr/bin/env python3
"""End to end test of `needlework needle --engine URL`: against our own `needlework serve` with the recall
model, the remote run gives the same trials as the in-process `needle --kv full` with the same model,
lengths, depths and seed — the same haystacks (key, value, depth reached), the same prompt token count (so
the server rendered the same template over the same text, the answer prefix continued rather than put in a
new turn), the same answer and recall per cell — and records the server's /metrics KV figures per trial,
equal to what /metrics says after the run. --kv with --engine is refused with a reason. Then stand-ins
(Python's http.server): a vLLM-shaped one whose /tokenize takes {"prompt"} and counts whitespace-separated
words: every haystack it receives is exactly the asked length by its own count, and the request continues
an assistant message (continue_final_message, add_generation_prompt false, temperature 0, 16 tokens); one
without /tokenize: the output and results.json say the lengths are estimated.

    needle_remote.py NEEDLEWORK [--model M.gguf]

Exit 0 when every check held, 1 with the failed check.
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time

import nw_cli_test
from nw_cli_test import CTX, FAILURES, FakeHandler, Server, check, metric, run

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CELLS = ["--lengths", "512", "--depths", "0,50,100", "--trials", "1", "--seed", "7"]


def trials_by_cell(path):
    with open(path) as f:
        results = json.load(f)
    return results, {(t["length"], t["depth"], t["variant"], t["trial"]): t for t in results["trials"]}


def test_same_recall(exe, model, server, work):
    local_dir, remote_dir = os.path.join(work, "local"), os.path.join(work, "remote")
    run(exe, "needle", "--model", model, "--kv", "full", "--no-ppl", "--out", local_dir, *CELLS)
    out = run(exe, "needle", "--engine", server.url, "--out", remote_dir, *CELLS)
    check("no perplexity" in out.stderr, f"the remote run says it measures no perplexity: {out.stderr!r}")
    after = server.metrics()
    local, a = trials_by_cell(os.path.join(local_dir, "results.json"))
    remote, b = trials_by_cell(os.path.join(remote_dir, "results.json"))
    check(len(a) == 3 and sorted(a) == sorted(b), f"the same cells: {sorted(a)} / {sorted(b)}")
    for cell in sorted(a):
        x, y = a[cell], b[cell]
        for key in ("key", "value", "question", "expected", "actual_depth", "prompt_tokens", "answer", "exact",
                    "lenient"):
            check(x[key] == y[key], f"cell {cell}: {key} differs: in process {x[key]!r}, remote {y[key]!r}")
        check(x["prompt_tokens"] > 512, f"cell {cell}: the prompt holds the haystack: {x['prompt_tokens']}")
        check(y["mode"] == "remote:full", f"cell {cell}: the mode names the server's KV mode: {y['mode']!r}")
        kv = y.get("remote_kv")
        check(kv is not None and kv["server"] == "needlework" and kv["kv_mode"] == "full",
              f"cell {cell}: the server's KV figures are recorded: {kv!r}")
        check("remote_kv" not in x, f"cell {cell}: no remote figures in process")
    engine = remote.get("engine")
    check(engine and engine["url"] == server.url and engine["haystack_token_count"] == "server"
          and engine["prompt_token_count"] == "server-template" and engine["context_tokens"] == CTX,
          f"results.json names the engine and says lengths were counted by the server: {engine!r}")
    check("engine" not in local, "no engine in an in-process results.json")
    # The last trial's figures are what /metrics says once the run is over (one slot, idle).
    last = b[max(b)]["remote_kv"]
    check(last["kv_bytes_used"] == metric(after, "needlework_kv_cache_used_bytes")
          and last["tokens_cached"] == metric(after, "needlework_kv_cache_tokens"),
          f"remote_kv equals the server's /metrics: {last!r}")
    exact = sum(t["exact"] for t in a.values())
    print(f"needle_remote.py: 3 cells equal in process and remote ({exact}/3 exact, prompt tokens "
          f"{[a[c]['prompt_tokens'] for c in sorted(a)]})")

    # Resuming with the same --out runs nothing; an in-process results.json is not mixed with a remote run.
    again = json.loads(run(exe, "needle", "--engine", server.url, "--out", remote_dir, "--json", *CELLS).stdout)
    check(again["trials_run"] == 0 and again["trials_skipped"] == 3, f"resumed: {again!r}")
    out = run(exe, "needle", "--engine", server.url, "--out", local_dir, *CELLS, expect=1)
    check("in process" in out.stderr, f"an in-process results.json is refused: {out.stderr!r}")


def test_refusals(exe, server, work):
    out = run(exe, "needle", "--engine", server.url, "--kv", "full", *CELLS, expect=2)
    check("--kv does not apply with --engine" in out.stderr and "/metrics" in out.stderr,
          f"--kv refused with a reason: {out.stderr!r}")
    out = run(exe, "needle", "--engine", server.url, "--threads", "2", *CELLS, expect=2)
    check("--threads" in out.stderr, f"--threads refused: {out.stderr!r}")
    out = run(exe, "needle", "--api-key-file", os.path.join(work, "nokey"), *CELLS, expect=2)
    check("--engine" in out.stderr, f"--api-key-file without --engine: {out.stderr!r}")
    out = run(exe, "needle", "--engine", server.url, "--lengths", "4096", "--depths", "50",
              "--out", os.path.join(work, "long"), expect=1)
    check("1024" in out.stderr and "shorter --lengths" in out.stderr,
          f"a haystack over the server's context is refused before any trial: {out.stderr!r}")


class FakeServer(nw_cli_test.FakeServer):
    """kind "vllm": /tokenize takes {"prompt"} (as vLLM) and counts whitespace-separated words, refusing
    {"content"}; kind "none": no /tokenize. Both answer a needle question with the value its haystack
    gives for the key the assistant message names, streamed as server-sent events."""

    def __init__(self, kind):
        self.requests = []
        self.haystack_words = []
        fake = self

        class Handler(FakeHandler):
            def do_GET(self):
                if self.path == "/v1/models":
                    return self.send(200, json.dumps({"object": "list", "data": [
                        {"id": "fake/model", "object": "model", "max_model_len": 4096}]}))
                self.send(404, json.dumps({"detail": "Not Found"}))

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize" and kind == "vllm":
                    if "prompt" in body:
                        return self.send(200, json.dumps({"tokens": list(range(len(body["prompt"].split())))}))
                    if "messages" in body:
                        text = " ".join(m["content"] for m in body["messages"])
                        return self.send(200, json.dumps({"tokens": list(range(len(text.split()) + 4))}))
                    return self.send(400, json.dumps({"object": "error", "message": "prompt is required"}))
                if self.path != "/v1/chat/completions":
                    return self.send(404, json.dumps({"detail": "Not Found"}))
                fake.requests.append(body)
                user = body["messages"][0]["content"]
                haystack = user.rsplit("\n", 1)[0]
                fake.haystack_words.append(len(haystack.split()))
                prefix = body["messages"][-1]["content"]
                key = prefix.split("The pass key for ", 1)[-1].rsplit(" is", 1)[0]
                found = re.search(r"The pass key for " + re.escape(key) + r" is (\d+)\.", haystack)
                answer = " " + (found.group(1) if found else "0") + "."
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                head = {"id": "c1", "object": "chat.completion.chunk", "model": body["model"]}
                events = [dict(head, choices=[{"index": 0, "delta": {"content": answer[:3]}}]),
                          dict(head, choices=[{"index": 0, "delta": {"content": answer[3:]}}]),
                          dict(head, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]),
                          dict(head, choices=[], usage={"prompt_tokens": 600, "completion_tokens": 3})]
                stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self.wfile.write(stream.encode())

        super().__init__(Handler)


def test_vllm_shape(exe, work):
    fake = FakeServer("vllm")
    try:
        out_dir = os.path.join(work, "vllm")
        out = run(exe, "needle", "--engine", fake.url, "--out", out_dir, "--lengths", "300,700", "--depths",
                  "0,50,100", "--seed", "3")
        check("estimate" not in out.stderr, f"counted by the server, no estimate note: {out.stderr!r}")
        check(sorted(fake.haystack_words) == [300] * 3 + [700] * 3,
              f"each haystack is exactly the asked length by the server's count: {fake.haystack_words}")
        for body in fake.requests:
            messages = body["messages"]
            check(len(messages) == 2 and messages[0]["role"] == "user" and messages[1]["role"] == "assistant"
                  and messages[1]["content"].startswith("The pass key for "), f"the answer prefix: {messages!r}")
            check(body.get("continue_final_message") is True and body.get("add_generation_prompt") is False
                  and body["temperature"] == 0 and body["max_tokens"] == 16, f"the request: {body!r}")
        results, cells = trials_by_cell(os.path.join(out_dir, "results.json"))
        check(all(t["exact"] for t in cells.values()) and len(cells) == 6, "every answer is read and scored")
        check(all(t["mode"] == "remote" and "remote_kv" not in t and t["prompt_tokens"] == 600
                  for t in cells.values()), "no /metrics: mode 'remote', no figures; usage from the stream")
        check(results["engine"]["haystack_token_count"] == "server", f"{results['engine']!r}")
    finally:
        fake.stop()
    print("needle_remote.py: a vLLM-shaped server: exact haystack lengths by its /tokenize, the prefix continued")


def test_estimate(exe, work):
    fake = FakeServer("none")
    try:
        out_dir = os.path.join(work, "none")
        out = run(exe, "needle", "--engine", fake.url, "--out", out_dir, "--lengths", "300", "--depths", "50",
                  "--no-ppl", "--json")
        summary = json.loads(out.stdout)
        check(any("estimates (characters / 4)" in n for n in summary["notes"]),
              f"the output says the lengths are estimated: {summary['notes']!r}")
        with open(os.path.join(out_dir, "results.json")) as f:
            engine = json.load(f)["engine"]
        check(engine["haystack_token_count"] == "estimate" and engine["prompt_token_count"] == "estimate",
              f"results.json says so: {engine!r}")
    finally:
        fake.stop()
    print("needle_remote.py: without /tokenize the lengths are estimated and said to be")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("needlework")
    parser.add_argument("--model", default=os.path.join(SOURCE, "tests", "data", "recall-model.gguf"))
    args = parser.parse_args()
    start = time.time()
    try:
        with tempfile.TemporaryDirectory() as work:
            server = Server(args.needlework, args.model)
            try:
                test_same_recall(args.needlework, args.model, server, work)
                test_refusals(args.needlework, server, work)
            finally:
                server.stop()
            test_vllm_shape(args.needlework, work)
            test_estimate(args.needlework, work)
    except FAILURES as e:
        print(f"needle_remote.py: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"needle_remote.py: all checks passed in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
