#!/usr/bin/env python3
"""End to end test of remote engines: `needlework ask --engine http://127.0.0.1:PORT/v1` against our own
`needlework serve` with the recall model gives the same answer, sources and citations as the in-process
engine with the same model and context (greedy), in retrieve and whole mode; the report says the prompt
was fitted with the server's tokenizer and context and carries the server's KV figures from /metrics
(equal to what the server's /metrics says); a refused connection, an unknown model, a missing or wrong
API key and in-process-only options give one-line errors and exit status 1; the key is read from
--api-key-file or $NEEDLEWORK_API_KEY; --ctx below the server's context is kept, above it is cut to it.
Then stand-ins for vLLM and llama-server (Python's http.server, shaped as their docs describe) check what
our own model cannot show: an answer that cites [1] and quotes its source gets the citation and the
supported quote; without /tokenize the prompt is fitted by estimate and the report says so; llama-server's
text /tokenize and /props context are used; vLLM's and llama-server's /metrics reach the report; a 400
error object is one line.

    ask_remote.py NEEDLEWORK [--model M.gguf]

Exit 0 when every check held, 1 with the failed check.
"""

import argparse
import json
import os
import socket
import sys
import tempfile
import time

import nw_cli_test
from nw_cli_test import CTX, FAILURES, FakeHandler, Server, check, metric, run

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUESTION = "What is the pass key for ORCHID?"
FILLER = "The committee met on a grey morning. Nobody objected to the budget. "


def library(exe, work):
    """Three short documents, one with the needle; ingested into a fresh library."""
    docs = os.path.join(work, "docs")
    os.makedirs(docs)
    texts = {
        "minutes.txt": FILLER + "The pass key for ORCHID is 48213. " + FILLER,
        "garden.txt": "The pass key for TULIP is 90551. " + FILLER,
        "notes.txt": FILLER,
    }
    for name, text in texts.items():
        with open(os.path.join(docs, name), "w") as f:
            f.write(text)
    db = os.path.join(work, "library.db")
    run(exe, "ingest", docs, "--db", db)
    return db


def comparable(report):
    """What must agree between engines: the answer, what went into the prompt, what it cites."""
    model = report.get("model", {})
    return {
        "answer": report["answer"],
        "citations": report["citations"],
        "quotes": report["quotes"],
        "passages": report["passages"],
        "sources": model.get("sources"),
        "sources_dropped": model.get("sources_dropped"),
        "best_source_cut": model.get("best_source_cut"),
        "context_tokens": model.get("context_tokens"),
        "prompt_tokens": model.get("prompt_tokens"),
        "generated_tokens": model.get("generated_tokens"),
    }


def test_same_answer(exe, model, db, server, mode):
    common = [QUESTION, "--db", db, "--mode", mode, "--max-tokens", "24", "--json"]
    local = json.loads(run(exe, "ask", *common, "--model", model, "--ctx", str(CTX)).stdout)
    remote = json.loads(run(exe, "ask", *common, "--engine", server.url).stdout)
    check(not local["extractive"] and not remote["extractive"], f"{mode}: both answers generated")
    check(local["answer"].strip() != "", f"{mode}: the in-process answer is not empty")
    a, b = comparable(local), comparable(remote)
    for key in a:
        check(a[key] == b[key], f"{mode}: {key} differs between engines:\n  in-process {a[key]!r}\n  remote     {b[key]!r}")
    engine = remote.get("engine")
    check(engine is not None and engine["url"] == server.url, f"{mode}: the report names the engine: {engine!r}")
    check(engine["context_source"] == "server" and engine["context_tokens"] == CTX,
          f"{mode}: the context comes from the server's model list: {engine!r}")
    check(engine["token_count"] == "server-template", f"{mode}: counted with the server's tokenizer: {engine!r}")
    check(local["model"]["token_count"] == "tokenizer", "in process: counted with the model's tokenizer")
    kv = remote.get("remote_kv")
    check(kv is not None and kv["server"] == "needlework", f"{mode}: the server's KV figures follow: {kv!r}")
    text = server.metrics()
    check(kv["kv_bytes_used"] == metric(text, "needlework_kv_cache_used_bytes") and kv["kv_bytes_used"] > 0,
          f"{mode}: KV bytes used as /metrics says: {kv['kv_bytes_used']} vs {metric(text, 'needlework_kv_cache_used_bytes')}")
    check(kv["tokens_cached"] == metric(text, "needlework_kv_cache_tokens"), f"{mode}: tokens cached as /metrics says")
    check(remote["model"]["kv_bytes_used"] == kv["kv_bytes_used"], f"{mode}: the meter's bytes are the server's")
    print(f"ask_remote.py: {mode}: same answer {local['answer']!r}, {len(local['citations'])} citations, "
          f"{local['model']['sources']} sources, {local['model']['prompt_tokens']} prompt tokens")


def test_context_option(exe, db, server):
    """--ctx below the server's context is kept (a smaller prompt); above it, the server's wins."""
    for ctx, want, source in ((512, 512, "option"), (4096, CTX, "server")):
        report = json.loads(run(exe, "ask", QUESTION, "--db", db, "--engine", server.url, "--ctx", str(ctx),
                                "--max-tokens", "8", "--json").stdout)
        engine = report["engine"]
        check(engine["context_tokens"] == want and engine["context_source"] == source,
              f"--ctx {ctx} against a {CTX}-token server: {engine!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_errors(exe, model, db, server, work):
    base = [QUESTION, "--db", db, "--max-tokens", "8"]
    out = run(exe, "ask", *base, "--engine", f"http://127.0.0.1:{free_port()}/v1", expect=1)
    check("cannot connect" in out.stderr and len(out.stderr.strip().splitlines()) == 1,
          f"a refused connection is one line: {out.stderr!r}")
    out = run(exe, "ask", *base, "--engine", server.url, "--model", "no-such-model", expect=1)
    check("does not list model 'no-such-model'" in out.stderr, f"an unknown model is named: {out.stderr!r}")
    out = run(exe, "ask", *base, "--engine", server.url, "--kv", "q8", expect=1)
    check("--kv" in out.stderr, f"--kv is refused with --engine: {out.stderr!r}")
    out = run(exe, "ask", *base, "--engine", "ftp://example.org/v1", expect=1)
    check("URL" in out.stderr, f"a URL that is not http(s) is refused: {out.stderr!r}")

    # A server that wants a key: none → 401 in one line; the wrong one → refused; the file or the
    # environment → answered.
    key_file = os.path.join(work, "key")
    with open(key_file, "w") as f:
        f.write("letmein\n")
    keyed = Server(exe, model, "--api-key-file", key_file)
    try:
        env = dict(os.environ)
        env.pop("NEEDLEWORK_API_KEY", None)
        out = run(exe, "ask", *base, "--engine", keyed.url, env=env, expect=1)
        check("HTTP 401" in out.stderr and "NEEDLEWORK_API_KEY" in out.stderr, f"no key: 401 said: {out.stderr!r}")
        out = run(exe, "ask", *base, "--engine", keyed.url, env=dict(env, NEEDLEWORK_API_KEY="wrong"), expect=1)
        check("HTTP 401" in out.stderr, f"a wrong key is refused: {out.stderr!r}")
        report = json.loads(run(exe, "ask", *base, "--json", "--engine", keyed.url, "--api-key-file", key_file,
                                env=env).stdout)
        check(report["remote_kv"]["server"] == "needlework", "with the key file: answered, /metrics read with the key")
        report = json.loads(run(exe, "ask", *base, "--json", "--engine", keyed.url,
                                env=dict(env, NEEDLEWORK_API_KEY="letmein")).stdout)
        check(not report["extractive"], "with the key from the environment: answered")
    finally:
        keyed.stop()


CANNED = 'The pass key is 48213 [1]: "The pass key for ORCHID is 48213."'


class FakeServer(nw_cli_test.FakeServer):
    """A stand-in for another OpenAI-compatible server. "vllm": /v1/models without a context, no
    /tokenize (so the client must estimate), /metrics from the vLLM fixture. "llama": llama-server's
    /tokenize of text (a token per 3 characters here) and /props with its context, /metrics from the
    llama-server fixture. Both stream a canned answer that cites [1] and quotes it, in awkward
    pieces, and answer the model "broken" with a 400 error object."""

    def __init__(self, kind="vllm"):
        fixture = {"vllm": "vllm.prom", "llama": "llama_server.prom"}[kind]
        with open(os.path.join(SOURCE, "tests", "data", "remote_metrics", fixture)) as f:
            metrics = f.read()
        self.requests = []
        fake = self

        class Handler(FakeHandler):
            def do_GET(self):
                if self.path == "/v1/models":
                    self.send(200, json.dumps({"object": "list", "data": [
                        {"id": "fake/model", "object": "model"}, {"id": "broken", "object": "model"}]}))
                elif self.path == "/metrics":
                    self.send(200, metrics, "text/plain; version=0.0.4")
                elif self.path == "/props" and kind == "llama":
                    self.send(200, json.dumps({"default_generation_settings": {"n_ctx": 2048}}))
                else:
                    self.send(404, json.dumps({"detail": "Not Found"}))

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize" and kind == "llama":
                    # llama-server reads "content" and answers an empty list without it.
                    content = body.get("content", "")
                    return self.send(200, json.dumps({"tokens": list(range((len(content) + 2) // 3))}))
                if self.path != "/v1/chat/completions":
                    return self.send(404, json.dumps({"detail": "Not Found"}))
                fake.requests.append(body)
                if body["model"] == "broken":
                    return self.send(400, json.dumps({"object": "error", "message": "bad things happened",
                                                      "type": "BadRequestError", "code": 400}))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                head = {"id": "c1", "object": "chat.completion.chunk", "model": body["model"]}
                events = [dict(head, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
                for i in range(0, len(CANNED), 7):
                    events.append(dict(head, choices=[{"index": 0, "delta": {"content": CANNED[i:i + 7]}}]))
                events.append(dict(head, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
                events.append(dict(head, choices=[], usage={"prompt_tokens": 321, "completion_tokens": 17}))
                stream = ": keep-alive\r\n\r\n" + "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in events)
                stream += "data: [DONE]\r\n\r\n"
                data = stream.encode()
                for i in range(0, len(data), 13):  # bytes arrive cut anywhere
                    self.wfile.write(data[i:i + 13])
                    self.wfile.flush()

        super().__init__(Handler)


def test_llama_server(exe, db):
    """llama-server's text /tokenize and /props context, and its /metrics."""
    fake = FakeServer("llama")
    try:
        report = json.loads(run(exe, "ask", QUESTION, "--db", db, "--engine", fake.url, "--json").stdout)
        engine = report["engine"]
        check(engine["token_count"] == "server" and engine["context_source"] == "server"
              and engine["context_tokens"] == 2048, f"text /tokenize, context from /props: {engine!r}")
        check(report["answer"] == CANNED and len(report["citations"]) == 1, "answered and cited")
        kv = report["remote_kv"]
        check(kv["server"] == "llama-server" and kv["kv_usage"] == 0.125 and kv["requests_waiting"] == 3,
              f"llama-server's /metrics read: {kv!r}")
    finally:
        fake.stop()
    print("ask_remote.py: a llama-server-shaped server: text tokenize, /props context and /metrics as expected")


def test_other_server(exe, db):
    """Citations and quotes of a remote answer, the estimate without /tokenize, vLLM's /metrics."""
    fake = FakeServer("vllm")
    try:
        report = json.loads(run(exe, "ask", QUESTION, "--db", db, "--engine", fake.url, "--json").stdout)
        check(report["answer"] == CANNED, f"the streamed answer is whole: {report['answer']!r}")
        request = fake.requests[-1]
        check(request["model"] == "fake/model" and request["stream"] and request["temperature"] == 0,
              f"greedy streamed request for the first listed model: {request!r}")
        check([m["role"] for m in request["messages"]] == ["system", "user"], "system and user messages")
        check("[1] " in request["messages"][1]["content"] and QUESTION in request["messages"][1]["content"],
              "the user message holds the numbered sources and the question")
        cited = [c["path"] for c in report["citations"]]
        check(len(cited) == 1 and cited[0].endswith("minutes.txt"), f"[1] cites the minutes: {cited!r}")
        check(report["quotes"] == [{"quote": "The pass key for ORCHID is 48213.", "supported": True, "source": 1}],
              f"the quote is found in source 1: {report['quotes']!r}")
        engine = report["engine"]
        check(engine["token_count"] == "estimate" and engine["context_source"] == "default"
              and engine["context_tokens"] == 4096, f"no /tokenize, no context: estimated, 4096 assumed: {engine!r}")
        check(report["model"]["prompt_tokens"] == 321 and report["model"]["generated_tokens"] == 17,
              "token counts from the server's usage")
        kv = report["remote_kv"]
        check(kv["server"] == "vllm" and kv["kv_usage"] == 0.57 and kv["requests_running"] == 5
              and kv["prefix_cache_hit_rate"] == 0.25, f"vLLM's /metrics read: {kv!r}")
        text = run(exe, "ask", QUESTION, "--db", db, "--engine", fake.url).stdout
        check("estimate, characters / 4" in text and "vllm: KV 57% in use" in text,
              f"the text report says the count was estimated and shows the server's KV: {text!r}")
        out = run(exe, "ask", QUESTION, "--db", db, "--engine", fake.url, "--model", "broken", expect=1)
        check("HTTP 400: bad things happened" in out.stderr and len(out.stderr.strip().splitlines()) == 1,
              f"an error object is one line: {out.stderr!r}")
    finally:
        fake.stop()
    print("ask_remote.py: a vLLM-shaped server: citations, quotes, estimate and /metrics as expected")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("needlework")
    parser.add_argument("--model", default=os.path.join(SOURCE, "tests", "data", "recall-model.gguf"))
    args = parser.parse_args()
    start = time.time()
    try:
        with tempfile.TemporaryDirectory() as work:
            db = library(args.needlework, work)
            server = Server(args.needlework, args.model)
            try:
                test_same_answer(args.needlework, args.model, db, server, "retrieve")
                test_same_answer(args.needlework, args.model, db, server, "whole")
                test_context_option(args.needlework, db, server)
                test_errors(args.needlework, args.model, db, server, work)
            finally:
                server.stop()
            test_other_server(args.needlework, db)
            test_llama_server(args.needlework, db)
    except FAILURES as e:
        print(f"ask_remote.py: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"ask_remote.py: all checks passed in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
