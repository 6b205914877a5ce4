#!/usr/bin/env python3
"""End to end test of `needlework serve` with a small model, over real HTTP from the standard
library: /health, /v1/models, tokenize and detokenize, text and chat completions whole and streamed
(greedy, equal to `needlework generate`'s text for the same prompt, with the usage counts), the 4xx
answers with their OpenAI error objects, four concurrent clients on two slots (each answer equal to
its own sequential one), a client killed with SIGKILL mid-stream (the server stays healthy and
counts the request cancelled), a completion beyond --max-queue refused with 429, the API key, the
refusal of a non-loopback host without one, and /metrics read with Prometheus's own text-format
parser (Debian's python3-prometheus-client), whose KV bytes must equal what `needlework generate
--json` reports from the engine for the same tokens.

    serve.py NEEDLEWORK [--model M.gguf]

Without --model: stories260K from ../shared/conformance (or $NW_CONFORMANCE_DIR), else
tests/data/recall-model.gguf. Exit 0 when every check held, 1 with the failed check.
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import nw_cli_test
from nw_cli_test import CTX, FAILURES, Failed, check

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # A pyenv or virtualenv interpreter may lack Debian's package: the system's python3 has it.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("serve.py: needs prometheus_client (Debian: python3-prometheus-client; scripts/setup-deps.sh)")

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPTS = ["Once upon a time", "The little dog", "Lily wanted to", "One day, a bird"]


def default_model():
    conformance = os.environ.get("NW_CONFORMANCE_DIR") or os.path.join(SOURCE, "..", "shared", "conformance")
    stories = os.path.join(conformance, "models", "stories260K.gguf")
    return stories if os.path.exists(stories) else os.path.join(SOURCE, "tests", "data", "recall-model.gguf")


class Server(nw_cli_test.Server):
    """`needlework serve` with streamed completions and /metrics parsed by Prometheus's own parser."""

    def stream(self, path, body):
        """The events of a streamed completion, up to [DONE]."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", path, body=json.dumps(dict(body, stream=True)), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        check(resp.status == 200, f"stream status {resp.status}")
        check(resp.getheader("Content-Type", "").startswith("text/event-stream"), "stream content type")
        events, done = [], False
        for line in resp.read().decode().split("\n"):
            if not line:
                continue
            check(line.startswith("data: "), f"not an SSE data line: {line!r}")
            check(not done, "data after [DONE]")
            if line == "data: [DONE]":
                done = True
            else:
                events.append(json.loads(line[6:]))
        conn.close()
        check(done, "the stream did not end with data: [DONE]")
        return events

    def metrics(self):
        samples = {}
        for family in text_string_to_metric_families(super().metrics()):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples


def generate(exe, model, prompt, n):
    out = subprocess.run([exe, "generate", "--model", model, "--prompt", prompt, "-n", str(n), "--greedy",
                          "--ctx", str(CTX), "--threads", "1", "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def text_of(events, chat):
    if chat:
        return "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    return "".join(e["choices"][0]["text"] for e in events if e["choices"])


def finish_of(events):
    finishes = [e["choices"][0]["finish_reason"] for e in events if e["choices"] and e["choices"][0]["finish_reason"]]
    check(len(finishes) == 1, f"one finish_reason per stream, got {finishes}")
    return finishes[0]


def expect_error(server, path, status, code, body=None, raw=None, param=None):
    got, payload = server.request("POST", path, body=body, raw=raw)
    check(got == status, f"{path} {raw[:40] if raw else body}: status {got}, wanted {status}: {payload[:200]!r}")
    error = json.loads(payload)["error"]
    check(set(error) == {"message", "type", "param", "code"} and error["message"], f"error object {error}")
    check(error["code"] == code, f"error code {error['code']}, wanted {code}")
    if param:
        check(error["param"] == param, f"error param {error['param']}, wanted {param}")


def test_basics(server, exe, model):
    check(server.json("GET", "/health") == (200, {"status": "ok"}), "/health")
    status, models = server.json("GET", "/v1/models")
    stem = os.path.splitext(os.path.basename(model))[0]
    check(status == 200 and [m["id"] for m in models["data"]] == [stem], f"/v1/models {models}")

    reference = generate(exe, model, PROMPTS[0], 24)
    status, tokens = server.json("POST", "/tokenize", {"content": PROMPTS[0], "add_special": True})
    check(status == 200 and tokens["tokens"] == reference["prompt_ids"], f"/tokenize {tokens} vs {reference['prompt_ids']}")
    status, content = server.json("POST", "/detokenize", {"tokens": reference["generated_ids"]})
    check(status == 200 and content["content"].strip() == reference["text"].strip(), f"/detokenize {content}")

    # /v1/completions is `generate` over HTTP: the same greedy text, token for token.
    body = {"model": stem, "prompt": PROMPTS[0], "max_tokens": 24, "temperature": 0}
    status, whole = server.json("POST", "/v1/completions", body)
    check(status == 200, f"completion status {status}")
    check(whole["object"] == "text_completion", "completion object")
    check(whole["choices"][0]["text"] == reference["text"], f"completion {whole['choices'][0]['text']!r} vs generate {reference['text']!r}")
    usage = whole["usage"]
    check(usage == {"prompt_tokens": len(reference["prompt_ids"]), "completion_tokens": len(reference["generated_ids"]),
                    "total_tokens": len(reference["prompt_ids"]) + len(reference["generated_ids"])}, f"usage {usage}")
    wanted_finish = "length" if reference["stop"] == "length" else "stop"
    check(whole["choices"][0]["finish_reason"] == wanted_finish, f"finish {whole['choices'][0]['finish_reason']}")

    events = server.stream("/v1/completions", dict(body, stream_options={"include_usage": True}))
    check(text_of(events, False) == reference["text"], "streamed completion text")
    check(finish_of(events) == wanted_finish, "streamed finish")
    check(events[-1]["choices"] == [] and events[-1]["usage"] == usage, f"usage chunk {events[-1]}")

    # Chat: the template's prompt (Plain for a model without one: "User: ...\n\nAssistant:"), cut at its stop.
    chat = {"messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 32, "temperature": 0}
    status, reply = server.json("POST", "/v1/chat/completions", chat)
    check(status == 200 and reply["object"] == "chat.completion", f"chat {status}")
    message = reply["choices"][0]["message"]
    check(message["role"] == "assistant", "chat role")
    events = server.stream("/v1/chat/completions", chat)
    check(events[0]["choices"][0]["delta"].get("role") == "assistant", "first chunk carries the role")
    check(text_of(events, True) == message["content"], f"streamed chat {text_of(events, True)!r} vs {message['content']!r}")
    check(finish_of(events) == reply["choices"][0]["finish_reason"], "streamed chat finish")
    if "(plain chat template" in server.banner:
        plain = generate(exe, model, "User: Tell me a story.\n\nAssistant:", 32)
        check(message["content"] == plain["text"].split("\n\nUser:")[0],
              f"chat {message['content']!r} vs generate on the template's prompt {plain['text']!r}")
    return usage


def test_errors(server):
    expect_error(server, "/v1/chat/completions", 400, "invalid_json", raw=b"{\"messages\": [")
    expect_error(server, "/v1/chat/completions", 400, "invalid_type", body={"messages": "hi"}, param="messages")
    expect_error(server, "/v1/completions", 400, "invalid_value", body={"prompt": "a", "max_tokens": -1}, param="max_tokens")
    expect_error(server, "/v1/completions", 400, "invalid_value", body={"prompt": "a", "temperature": 3}, param="temperature")
    expect_error(server, "/v1/completions", 400, "context_length_exceeded", body={"prompt": "Once upon a time " * 400})
    expect_error(server, "/v1/completions", 400, "context_length_exceeded",
                 body={"prompt": "Once", "max_tokens": CTX}, param="max_tokens")
    expect_error(server, "/v1/completions", 413, "request_too_large", raw=b"{\"prompt\":\"" + b"a" * (9 << 20) + b"\"}")
    expect_error(server, "/v1/nothing", 404, "not_found", body={})
    expect_error(server, "/detokenize", 400, "invalid_value", body={"tokens": [10 ** 6]}, param="tokens[0]")


def test_concurrency(server):
    """Four clients at once on two slots: each answer equals the same request made alone."""
    bodies = [{"prompt": p, "max_tokens": 40, "temperature": 0} for p in PROMPTS]
    alone = [server.json("POST", "/v1/completions", b)[1]["choices"][0]["text"] for b in bodies]
    results = [None] * len(bodies)

    def client(i):
        if i % 2:
            results[i] = text_of(server.stream("/v1/completions", bodies[i]), False)
        else:
            results[i] = server.json("POST", "/v1/completions", bodies[i])[1]["choices"][0]["text"]

    for _ in range(2):
        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(len(bodies)):
            check(results[i] == alone[i], f"client {i} got {results[i]!r}, alone {alone[i]!r}")


def test_killed_client(server):
    """SIGKILL of a streaming client: its generation is cancelled, the server goes on."""
    before = server.metrics()
    cancelled = ("needlework_requests_total", (("outcome", "cancelled"),))
    # Both slots busy with long requests (greedy stories260K runs to max_tokens), so the victim
    # waits in the queue (its headers unsent: a slot is taken first), and is killed there.
    blockers = [threading.Thread(target=server.json, args=("POST", "/v1/completions",
                                                           {"prompt": p, "max_tokens": 900, "temperature": 0}))
                for p in PROMPTS[:2]]
    for t in blockers:
        t.start()
    script = ("import http.client,json,sys\n"
              f"c=http.client.HTTPConnection('127.0.0.1',{server.port})\n"
              f"c.request('POST','/v1/completions',json.dumps({{'prompt':{PROMPTS[0]!r},'max_tokens':900,'stream':True,"
              "'temperature':0}),{'Content-Type':'application/json'})\n"
              "r=c.getresponse();r.read()\n")
    victim = subprocess.Popen([sys.executable, "-c", script])
    # Killed while it waits for a slot, its generation must be cancelled at its first write. A model
    # that ends its replies early frees the slots before that: then only the server's health counts.
    deadline = time.time() + 10
    queued = False
    while not queued and time.time() < deadline and any(t.is_alive() for t in blockers):
        queued = server.metrics()[("needlework_requests_queued", ())] == 1
        time.sleep(0.01)
    victim.kill()
    victim.wait()
    for t in blockers:
        t.join()
    deadline = time.time() + 20
    while True:
        after = server.metrics()
        if after[("needlework_requests_running", ())] == 0 and after[("needlework_requests_queued", ())] == 0:
            break
        check(time.time() < deadline, "requests still running 20 s after the kill")
        time.sleep(0.1)
    if queued:
        check(after.get(cancelled, 0) == before.get(cancelled, 0) + 1,
              f"cancelled {before.get(cancelled)} -> {after.get(cancelled)}: "
              f"{ {k: v for k, v in after.items() if 'requests' in k[0] or 'generation_tokens' in k[0]} }")
    else:
        print("serve.py: the slots were free before the kill (the model's replies are short): cancel not checked")
    check(server.json("GET", "/health")[0] == 200, "/health after the kill")
    status, whole = server.json("POST", "/v1/completions", {"prompt": PROMPTS[0], "max_tokens": 4, "temperature": 0})
    check(status == 200 and whole["usage"]["completion_tokens"] >= 1, "a completion after the kill")


def test_queue_full(exe, model):
    """--max-queue 0 on one slot: a completion that would wait is refused at once with 429."""
    server = Server(exe, model, "--parallel", "1", "--max-queue", "0", "--ctx", "4096")
    try:
        long_request = {"prompt": PROMPTS[2], "max_tokens": 4000, "temperature": 0}
        # The refusal needs the slot busy when the second request arrives; a blocker that ends
        # before that (a fast model, a slow poll) makes the try void, not the check.
        for attempt in range(5):
            blocker = threading.Thread(target=server.json, args=("POST", "/v1/completions", long_request),
                                       kwargs={"timeout": 300})
            blocker.start()
            while blocker.is_alive() and server.metrics()[("needlework_requests_running", ())] != 1:
                time.sleep(0.005)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.request("POST", "/v1/completions", body=json.dumps({"prompt": PROMPTS[3], "max_tokens": 4}),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            retry_after = resp.getheader("Retry-After")
            conn.close()
            blocker.join()
            if resp.status == 200:
                continue
            check(resp.status == 429, f"a completion beyond the queue: status {resp.status}, wanted 429")
            error = json.loads(payload)["error"]
            check(error["code"] == "queue_full" and "busy" in error["message"], f"429 error object {error}")
            check(retry_after == "1", f"Retry-After {retry_after!r}")
            m = server.metrics()
            check(m[("needlework_requests_total", (("outcome", "rejected"),))] == 1, "the 429 counted as rejected")
            check(m[("needlework_requests_queued", ())] == 0 and m[("needlework_requests_running", ())] == 0,
                  "nothing left waiting or running")
            status, whole = server.json("POST", "/v1/completions", {"prompt": PROMPTS[3], "max_tokens": 4})
            check(status == 200, "a completion once the slot is free")
            return
        raise Failed("the one slot was never busy when the second request arrived (5 tries)")
    finally:
        server.stop()


def test_metrics_match_engine(exe, model):
    """One slot, one request: /metrics' KV bytes are the engine's MemoryStats for those tokens."""
    server = Server(exe, model, "--parallel", "1")
    try:
        status, whole = server.json("POST", "/v1/completions", {"prompt": PROMPTS[1], "max_tokens": 30, "temperature": 0})
        check(status == 200, "completion for the metrics check")
        reference = generate(exe, model, PROMPTS[1], 30)
        check(whole["choices"][0]["text"] == reference["text"], "same text as generate")
        m = server.metrics()
        kv = reference["kv"]
        mode = kv["mode"]
        used = sum(v for (name, labels), v in m.items() if name == "needlework_kv_cache_used_bytes"
                   and dict(labels)["slot"] == "0" and dict(labels)["mode"] == mode)
        reserved = sum(v for (name, labels), v in m.items() if name == "needlework_kv_cache_reserved_bytes"
                       and dict(labels)["slot"] == "0")
        check(used == kv["kv_bytes_used"], f"KV used {used} on /metrics, {kv['kv_bytes_used']} from the engine")
        check(reserved == kv["kv_bytes_reserved"], f"KV reserved {reserved}, engine {kv['kv_bytes_reserved']}")
        check(m[("needlework_kv_cache_tokens", (("slot", "0"),))] == kv["tokens"], "tokens cached")
        check(m[("needlework_kv_cache_mha_f16_baseline_bytes", (("slot", "0"),))] == kv["mha_f16_bytes"], "MHA baseline")
        check(abs(m[("needlework_kv_cache_saving_ratio", (("slot", "0"),))] - kv["saving_vs_mha_f16"]) < 1e-9, "saving")
        check(m[("needlework_generation_tokens_total", ())] == len(reference["generated_ids"]), "generated tokens")
        check(m[("needlework_prompt_tokens_total", ())] == len(reference["prompt_ids"]), "prompt tokens")
        # The same prompt again: its prefix comes from the slot's cache.
        server.json("POST", "/v1/completions", {"prompt": PROMPTS[1], "max_tokens": 30, "temperature": 0})
        m = server.metrics()
        check(m[("needlework_prefix_cache_hits_total", ())] == 1, "one prefix-cache hit")
        check(m[("needlework_prefix_cache_reused_tokens_total", ())] == len(reference["prompt_ids"]) - 1,
              "every prompt position but the last reused")
        for family in ("needlework_weights_bytes", "needlework_slots", "needlework_requests_queued"):
            check((family, ()) in m, f"{family} missing")
    finally:
        server.stop()


def test_access(exe, model):
    with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
        f.write("s3cret\n")
        f.flush()
        server = Server(exe, model, "--api-key-file", f.name)
        try:
            check(server.json("GET", "/health")[0] == 200, "/health needs no key")
            status, body = server.json("GET", "/v1/models")
            check(status == 401 and body["error"]["code"] == "invalid_api_key", f"no key: {status} {body}")
            check(server.json("GET", "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401, "wrong key")
            server.key = "s3cret"
            check(server.json("GET", "/v1/models")[0] == 200, "the key opens /v1/models")
        finally:
            server.stop()
    refused = subprocess.run([exe, "serve", "--model", model, "--host", "0.0.0.0", "--port", "0"],
                             capture_output=True, text=True, timeout=30)
    check(refused.returncode == 2 and "--api-key-file" in refused.stderr and len(refused.stderr.strip().split("\n")) == 1,
          f"non-loopback host without a key: {refused.returncode} {refused.stderr!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("needlework")
    parser.add_argument("--model", default=default_model())
    args = parser.parse_args()
    start = time.time()
    try:
        server = Server(args.needlework, args.model, "--parallel", "2")
        try:
            test_basics(server, args.needlework, args.model)
            test_errors(server)
            test_concurrency(server)
            test_killed_client(server)
            check(server.metrics()[("needlework_requests_total", (("outcome", "rejected"),))] == 6, "the six refused completions counted")
        finally:
            server.stop()
        test_queue_full(args.needlework, args.model)
        test_metrics_match_engine(args.needlework, args.model)
        test_access(args.needlework, args.model)
    except FAILURES as e:
        print(f"serve.py: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"serve.py: all checks passed with {os.path.basename(args.model)} in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
