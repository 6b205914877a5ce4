"""What the end to end tests of `needlework serve` and of remote engines share (serve.py, ask_remote.py,
needle_remote.py): the failure they report, running the executable, `needlework serve` on a free port,
summing a Prometheus metric, and a stand-in server on Python's http.server. CTest runs each script by its
path, so this module is found beside it (sys.path[0] is the script's folder)."""

import http.client
import json
import signal
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CTX = 1024  # the context `needlework serve` gets (per slot)


class Failed(Exception):
    pass


# What a test's main() turns into "FAILED: ..." and exit status 1.
FAILURES = (Failed, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, KeyError, ValueError)


def check(condition, what):
    if not condition:
        raise Failed(what)


def run(exe, *args, env=None, expect=0):
    """`needlework ARGS`, which must exit with `expect`."""
    out = subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)
    check(out.returncode == expect,
          f"needlework {' '.join(args)}: exit {out.returncode}, wanted {expect}: {out.stderr.strip()[-800:]}")
    return out


def metric(text, name):
    """The sum of a Prometheus text-format metric over its labels, None when absent."""
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


class Server:
    """`needlework serve` on a free port of 127.0.0.1; the first line of its output says which. `key`, when
    set, goes with every request. Its log goes to a temporary file, not a pipe: a pipe nobody reads would stall
    the server once its log filled the pipe's buffer."""

    def __init__(self, exe, model, *extra):
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [exe, "serve", "--model", model, "--port", "0", "--ctx", str(CTX), "--threads", "1", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.banner = self.proc.stdout.readline()
        if "http://127.0.0.1:" not in self.banner:
            self.proc.kill()
            self.proc.wait()
            raise Failed(f"serve did not start: {self.banner!r} {self.log_tail()!r}")
        self.port = int(self.banner.split("http://127.0.0.1:")[1].split("/")[0])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.key = None

    def log_tail(self):
        """The end of the server's log."""
        self.log.seek(0)
        return self.log.read()[-2000:]

    def request(self, method, path, body=None, raw=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"}
        if self.key:
            h["Authorization"] = "Bearer " + self.key
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        return resp.status, payload

    def json(self, method, path, body=None, **kw):
        status, payload = self.request(method, path, body, **kw)
        return status, json.loads(payload) if payload else None

    def metrics(self):
        """/metrics as text."""
        status, payload = self.request("GET", "/metrics")
        check(status == 200, "/metrics status")
        return payload.decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failed("serve did not stop on SIGTERM")
        if rc != 0:
            raise Failed(f"serve exited {rc} after SIGTERM: {self.log_tail()!r}")


class FakeHandler(BaseHTTPRequestHandler):
    """The quiet request handler of a stand-in server, with a one-call answer."""

    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeServer:
    """A stand-in for another OpenAI-compatible server: `handler` (a FakeHandler) on a free port of
    127.0.0.1, served from a thread."""

    def __init__(self, handler):
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.http.shutdown()
