#!/usr/bin/env python3
"""End-to-end checks of `./model --serve` on loopback, with Python's http.client and raw sockets.

Usage: serve_check.py EXE TMPDIR CHAT_EXE [LLAMA3_EXE]   (run by tests/e2e_serve.sh)
EXE: a cpu build of stories260K (no chat template); CHAT_EXE: a tiny model with a byte-level
tokenizer.json and a chat template; LLAMA3_EXE: a small Llama-3-shaped model (vocabulary 128256,
GQA, llama3 RoPE scaling, three end ids) with the Llama 3 tokenizer and chat template, asked with
curl.

What it checks: the OpenAI wire format (the shapes the OpenAI clients read: choices, text / delta,
finish_reason, usage, SSE `data:` events ending with `data: [DONE]`, stream_options.include_usage);
that every greedy answer, streamed or not, many at once, is byte for byte what the executable
prints for the same prompt alone (and sampled ones with the same seed); stop strings; errors as
OpenAI error objects with the right status (bad JSON, wrong types, bad UTF-8, long prompts,
unknown routes, methods, huge and chunked bodies, missing API key, and a few seconds of random
damage from serve_fuzz.py); slow and vanishing clients
(a client that hangs up cancels its sequence and frees its KV blocks); 429 with Retry-After when
the queue is full; a clean exit on SIGTERM.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

EXE, TMP, CHAT_EXE = sys.argv[1], sys.argv[2], sys.argv[3]
LLAMA3_EXE = sys.argv[4] if len(sys.argv) > 4 else None
KEY = "sk-test-0123456789"
FAILS = []
PASSES = 0


def check(cond, what, detail=""):
    global PASSES
    if cond:
        PASSES += 1
        print("ok: " + what)
    else:
        FAILS.append(what)
        print("FAIL: " + what + (": " + str(detail)[:600] if detail != "" else ""))
    return cond


class Server:
    count = 0
    started = []                # every process: those still running when this script ends are killed

    def __init__(self, *args, exe=None):
        Server.count += 1
        self.log_path = os.path.join(TMP, "server%d.log" % Server.count)
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen([exe or EXE, "--serve", "--port", "0", *args], stdout=subprocess.DEVNULL,
                                  stderr=self.log)
        Server.started.append(self.p)
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline and self.port is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(self.log_path).read())
            if m:
                self.port = int(m.group(1))
            elif self.p.poll() is not None:
                break
            else:
                time.sleep(0.02)
        if self.port is None:
            raise SystemExit("FAIL: the server did not start: " + open(self.log_path).read())
        self.early = []         # what /health said before 200 (while the model loads: 503 "loading")
        while time.time() < deadline:
            try:
                st, _, data = self.request("GET", "/health")
                if st == 200:
                    return
                self.early.append((st, data))
            except OSError as e:
                self.early.append(("error", str(e)))
            time.sleep(0.02)
        raise SystemExit("FAIL: /health never answered 200")

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, key=KEY, conn=None):
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c = conn or self.conn()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if not conn:
            c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def post(self, body, path="/v1/completions", **kw):
        return self.request("POST", path, body, **kw)

    def metrics(self):
        st, _, data = self.request("GET", "/metrics", key=None)
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "hung"
        self.log.close()
        return rc


def stream(srv, body, path="/v1/completions"):
    """POSTs with stream: true; returns (status, content type, events (parsed JSON or '[DONE]'), raw)."""
    c = srv.conn()
    c.request("POST", path, body=json.dumps(body), headers={"Authorization": "Bearer " + KEY})
    r = c.getresponse()
    raw = r.read().decode("utf-8")
    c.close()
    events, ok = parse_sse(raw)
    return r.status, r.getheader("Content-Type"), events, ok


def parse_sse(raw):
    """Server-sent events, strictly: every event one `data: ` line and a blank line. (events, ok)."""
    events = []
    ok = raw.endswith("\n\n")
    for block in raw.split("\n\n")[:-1]:
        if not block.startswith("data: ") or "\n" in block:
            ok = False
            events.append(("bad", block))
            continue
        payload = block[6:]
        try:
            events.append(payload if payload == "[DONE]" else json.loads(payload))
        except ValueError:
            ok = False
            events.append(("bad", block))
    return events, ok


def curl(srv, path, body=None, stream=False):
    """curl's answer: (HTTP status, content type, body text)."""
    args = ["curl", "-sS", "--max-time", "60", "-o", "-", "-w", "\n%{http_code} %{content_type}"]
    if stream:
        args.append("-N")
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = subprocess.run(args + ["http://127.0.0.1:%d%s" % (srv.port, path)], capture_output=True,
                         check=True).stdout.decode("utf-8")
    text, _, tail = out.rpartition("\n")
    code, _, ctype = tail.partition(" ")
    return int(code), ctype, text


def single(prompt, n, *extra, exe=None):
    """What the executable prints for one prompt alone: (prompt text, completion)."""
    exe = exe or EXE
    args = ["--ids", prompt] if isinstance(prompt, str) and prompt.startswith("ids:") else [prompt]
    if args[0] == "--ids":
        args[1] = prompt[4:]
    full = subprocess.run([exe, *args, "-n", str(n), *extra], capture_output=True, check=True).stdout
    head = subprocess.run([exe, *args, "-n", "0"], capture_output=True, check=True).stdout
    assert full.endswith(b"\n") and head.endswith(b"\n")
    head = head[:-1]
    assert full.startswith(head)
    # the server sends what is not UTF-8 as U+FFFD, one per maximal subpart, as Python decodes
    return head.decode("utf-8", "replace"), full[len(head):-1].decode("utf-8", "replace")


def single_once(exe, prompt, n):
    """single() in one run of the executable: the prompt's own echo is known without a run (a text
    prompt is printed as given: decode(encode(s)) == s; token ids as --detokenize prints them)."""
    if prompt.startswith("ids:"):
        args = ["--ids", prompt[4:]]
        head = subprocess.run([exe, "--detokenize", prompt[4:]], capture_output=True, check=True).stdout
    else:
        args = [prompt]
        head = prompt.encode() + b"\n"
    full = subprocess.run([exe, *args, "-n", str(n)], capture_output=True, check=True).stdout
    assert full.endswith(b"\n") and full.startswith(head[:-1]), (full[:200], head[:200])
    return full[len(head) - 1:-1].decode("utf-8", "replace")


def n_prompt_tokens(prompt):
    out = subprocess.run([EXE, prompt, "-n", "0", "--output-ids"], capture_output=True, check=True).stdout
    return len(out.split())


def is_error(status, data, want_status, want_param=None, want_code=None):
    try:
        e = json.loads(data)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (status == want_status and isinstance(e.get("message"), str) and e["message"] and
            isinstance(e.get("type"), str) and "param" in e and "code" in e and
            (want_param is None or e["param"] == want_param) and (want_code is None or e["code"] == want_code))


def raw_exchange(srv, data, wait=5.0, shut=False):
    """Sends raw bytes; returns what comes back until the server closes or `wait` passes."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=wait)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
            if b"\r\n\r\n" in got and not shut:
                head, _, body = got.partition(b"\r\n\r\n")
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                if m and len(body) >= int(m.group(1)):
                    break
    except socket.timeout:
        pass
    s.close()
    return got


def output_ids(exe, *args):
    return subprocess.run([exe, *args, "--output-ids"], capture_output=True, check=True).stdout.decode().split()


def llama3_check(exe):
    """A Llama-3-shaped model with the Llama 3 tokenizer, asked with curl: /health, /v1/models, streamed
    chat and text completions whose SSE is well formed, whose text is the executable's alone and whose
    usage counts the prompt's and the generated tokens."""
    srv = Server("--max-batch", "4", exe=exe)
    check(all(a == (503, b'{"status":"loading"}') for a in srv.early),
          "llama3: /health answers 503 {\"status\":\"loading\"} until the model is ready (%d times here)" %
          len(srv.early), srv.early[:3])
    st, ctype, text = curl(srv, "/health")
    check(st == 200 and json.loads(text) == {"status": "ok"}, "llama3: curl /health: 200 ok", (st, text))
    st, ctype, text = curl(srv, "/v1/models")
    m = json.loads(text) if st == 200 else {}
    check(st == 200 and m["data"][0]["id"] == "l3" and m["data"][0]["max_model_len"] == 2048,
          "llama3: curl /v1/models lists the model and its context", text)

    msgs = [{"role": "system", "content": "You are brief."},
            {"role": "user", "content": "What is the capital of France? 🇫🇷 naïve café"}]
    path = os.path.join(TMP, "l3msgs.json")
    with open(path, "w") as f:
        json.dump(msgs, f)
    ids = output_ids(exe, "--render-chat", path)
    n = 24
    want = single_once(exe, "ids:" + " ".join(ids), n)
    st, ctype, raw = curl(srv, "/v1/chat/completions", {"model": "l3", "messages": msgs, "max_tokens": n,
                                                         "temperature": 0, "stream": True,
                                                         "stream_options": {"include_usage": True}}, stream=True)
    events, ok = parse_sse(raw)
    chunks = [e for e in events if isinstance(e, dict)]
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in chunks if e["choices"])
    fin = [e["choices"][0]["finish_reason"] for e in chunks if e["choices"]]
    u = chunks[-1].get("usage") if chunks else None
    check(st == 200 and ctype == "text/event-stream" and ok and events[-1] == "[DONE]" and
          all(isinstance(e, dict) for e in events[:-1]) and
          chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""} and
          all(e["object"] == "chat.completion.chunk" and e["id"] == chunks[0]["id"] for e in chunks) and
          fin[-1] in ("length", "stop") and all(f is None for f in fin[:-1]) and
          chunks[-1]["choices"] == [] and all(e["usage"] is None for e in chunks[:-1]),
          "llama3: curl stream:true chat: well-formed SSE (role, deltas, finish_reason, usage chunk, [DONE])",
          raw[:300] + " ... " + raw[-400:])
    check(text == want, "llama3: the streamed chat text is the executable's for the template's ids alone",
          (text, want))
    # every token sampled is counted, an end token (which ends the text, unprinted) included
    check(u is not None and u["prompt_tokens"] == len(ids) and u["total_tokens"] == len(ids) + u["completion_tokens"]
          and (u["completion_tokens"] == n if fin[-1] == "length" else 1 <= u["completion_tokens"] <= n),
          "llama3: usage counts the template's %d tokens and the %s generated" % (len(ids), u and u["completion_tokens"]),
          u)

    # a text completion: no BOS (this tokenizer.json's post-processor adds none), the prompt's tokens
    prompt = "Hello, my dog is cute \u2014 123456 \u4f60\u597d"
    pids = subprocess.run([exe, "--tokenize", prompt], capture_output=True, check=True).stdout.split()
    want = single_once(exe, prompt, 16)
    st, ctype, raw = curl(srv, "/v1/completions", {"prompt": prompt, "max_tokens": 16, "temperature": 0,
                                                   "stream": True, "stream_options": {"include_usage": True}},
                          stream=True)
    events, ok = parse_sse(raw)
    chunks = [e for e in events if isinstance(e, dict)]
    text = "".join(e["choices"][0]["text"] for e in chunks if e["choices"])
    u = chunks[-1]["usage"] if chunks else None
    check(st == 200 and ok and events[-1] == "[DONE]" and text == want and u is not None and
          u["prompt_tokens"] == len(pids) and u["total_tokens"] == len(pids) + u["completion_tokens"],
          "llama3: curl stream:true completion: its text, usage (%d prompt tokens)" % len(pids),
          (raw[-400:], want, len(pids)))
    st, ctype, whole = curl(srv, "/v1/completions", {"prompt": prompt, "max_tokens": 16, "temperature": 0})
    a = json.loads(whole) if st == 200 else {}
    check(st == 200 and a["choices"][0]["text"] == want and a["usage"] == u,
          "llama3: the same completion whole: the same text and usage", whole)
    check(srv.stop() == 0, "llama3: the server stops cleanly")


def main():
    if LLAMA3_EXE:
        llama3_check(LLAMA3_EXE)
    srv = Server("--api-key", KEY, "--max-batch", "8", "--timeout", "2")

    # ---- the other endpoints ----
    st, h, data = srv.request("GET", "/health", key=None)
    check(st == 200 and json.loads(data) == {"status": "ok"}, "/health answers 200 once ready (no key needed)")
    st, h, data = srv.request("GET", "/v1/models")
    m = json.loads(data)
    check(st == 200 and m["object"] == "list" and m["data"][0]["id"] == "stories260K" and
          m["data"][0]["object"] == "model", "/v1/models lists the model", data)
    st, h, data = srv.request("GET", "/metrics", key=None)
    check(st == 200 and h["content-type"].startswith("text/plain") and b"# TYPE llmc_kv_blocks_used gauge" in data
          and b"llmc_time_per_output_token_seconds_bucket" in data, "/metrics is Prometheus text", data[:200])

    # ---- greedy answers, many at once, equal the executable alone ----
    cases = [("Once upon a time", 40), ("Lily and Ben", 5), ("The cat sat", 100), ("One day, a little bird", 17),
             ("Tom had a red ball", 64), ("She was happy because", 1), ("The sun was shining and the", 30),
             ("x", 80), ("ids:1 403 407 43", 25), ("Once upon a time", 0)]
    expect = {}
    for prompt, n in cases:
        expect[(prompt, n)] = single(prompt, n)
    results = {}

    def run_case(i, prompt, n, streaming, echo):
        body = {"model": "anything", "prompt": prompt, "max_tokens": n, "temperature": 0, "echo": echo}
        if prompt.startswith("ids:"):
            body["prompt"] = [int(x) for x in prompt[4:].split()]
        if streaming:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
            st, ctype, events, ok = stream(srv, body)
            text = "".join(e["choices"][0]["text"] for e in events if isinstance(e, dict) and e.get("choices"))
            results[i] = (st, ok, ctype, events, text)
        else:
            st, h, data = srv.post(body)
            results[i] = (st, data)

    threads = []
    for rep in range(2):
        for k, (prompt, n) in enumerate(cases):
            i = rep * len(cases) + k
            t = threading.Thread(target=run_case, args=(i, prompt, n, (i % 2) == 1, k == 2))
            threads.append(t)
            t.start()
    for t in threads:
        t.join()
    bad_text, bad_shape = [], []
    for i, r in sorted(results.items()):
        prompt, n = cases[i % len(cases)]
        head, want = expect[(prompt, n)]
        echo = i % len(cases) == 2
        if echo:
            want = head + want
        if len(r) == 2:
            st, data = r
            a = json.loads(data) if st == 200 else {}
            ch = a.get("choices", [{}])[0]
            if st != 200 or ch.get("text") != want:
                bad_text.append((prompt, n, st, ch.get("text"), want))
            if st == 200 and not (a["object"] == "text_completion" and a["id"].startswith("cmpl-") and
                                  ch["finish_reason"] in ("stop", "length") and ch["index"] == 0 and
                                  a["usage"]["total_tokens"] == a["usage"]["prompt_tokens"] + a["usage"]["completion_tokens"]
                                  and (ch["finish_reason"] == "stop" or a["usage"]["completion_tokens"] == n)):
                bad_shape.append(a)
        else:
            st, ok, ctype, events, text = r
            if st != 200 or text != want:
                bad_text.append((prompt, n, st, text, want))
            chunks = [e for e in events if isinstance(e, dict)]
            fin = [e["choices"][0]["finish_reason"] for e in chunks if e["choices"]]
            if not (ok and ctype == "text/event-stream" and events[-1] == "[DONE]" and
                    fin[-1] in ("stop", "length") and all(f is None for f in fin[:-1]) and
                    chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] <= n and
                    all(e["usage"] is None for e in chunks[:-1]) and
                    all(e["object"] == "text_completion" for e in chunks)):
                bad_shape.append(events)
    check(not bad_text, "%d greedy answers at once (half streamed, some echoed, ids prompts) equal the "
          "executable's single runs" % len(results), bad_text[:2])
    check(not bad_shape, "answers and SSE streams have the OpenAI shape (finish_reason, usage, [DONE])",
          bad_shape[:1])

    st, h, data = srv.post({"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0})
    u = json.loads(data)["usage"]
    check(u == {"prompt_tokens": n_prompt_tokens("Once upon a time"), "completion_tokens": 12,
                "total_tokens": n_prompt_tokens("Once upon a time") + 12}, "usage counts the prompt and new tokens", u)

    # sampling: the same seed samples as the command line does
    want = single("Once upon a time", 40, "--temp", "0.9", "--top-p", "0.9", "--seed", "7")[1]
    st, h, data = srv.post({"prompt": "Once upon a time", "max_tokens": 40, "temperature": 0.9, "top_p": 0.9,
                            "seed": 7})
    check(st == 200 and json.loads(data)["choices"][0]["text"] == want,
          "a sampled answer equals the command line with the same seed", data)

    # stop strings, streamed and not
    full = expect[("Once upon a time", 40)][1]
    cut = full[:full.index("Lily")]
    st, h, data = srv.post({"prompt": "Once upon a time", "max_tokens": 40, "temperature": 0,
                            "stop": ["zzz", "Lily"]})
    a = json.loads(data)
    check(a["choices"][0]["text"] == cut and a["choices"][0]["finish_reason"] == "stop",
          "a stop string ends the text before it, finish_reason stop", a)
    st, ctype, events, ok = stream(srv, {"prompt": "Once upon a time", "max_tokens": 40, "temperature": 0,
                                         "stop": "named Lily", "stream": True})
    text = "".join(e["choices"][0]["text"] for e in events if isinstance(e, dict))
    check(ok and text == full[:full.index("named Lily")] and events[-2]["choices"][0]["finish_reason"] == "stop",
          "a streamed stop string never shows its beginning", (text, events[-2:]))

    # ---- the chat endpoint without a chat template ----
    st, h, data = srv.post({"model": "m", "messages": [{"role": "user", "content": "Hi"}]},
                           path="/v1/chat/completions")
    check(is_error(st, data, 501, want_code="chat_template_missing") and b"chat template" in data,
          "/v1/chat/completions answers 501 'this model has no chat template'", (st, data))
    st, h, data = srv.post({"model": "m", "messages": "Hi"}, path="/v1/chat/completions")
    check(is_error(st, data, 400, "messages"), "chat: messages of the wrong type is a 400", (st, data))

    # ---- bad requests: OpenAI error objects, 4xx ----
    bad = [
        (b'{"prompt": "Hi", "max_tokens": 3', 400, None, "truncated JSON"),
        (b'{"prompt": "Hi",}', 400, None, "invalid JSON"),
        (b'', 400, None, "an empty body"),
        (b'[1, 2]', 400, None, "a body that is not an object"),
        (b'{"prompt": "\xff\xfe oops"}', 400, None, "bad UTF-8 in a string"),
        (b'{"prompt": "\\ud800"}', 400, None, "a lone surrogate"),
        (b'{"prompt": 5}', 400, "prompt", "prompt of the wrong type"),
        (b'{"prompt": ["a", "b"]}', 400, "prompt", "two prompts"),
        (b'{"prompt": [1, -4]}', 400, "prompt", "a token id out of range"),
        (b'{"prompt": "Hi", "max_tokens": "3"}', 400, "max_tokens", "max_tokens a string"),
        (b'{"prompt": "Hi", "max_tokens": 2.5}', 400, "max_tokens", "max_tokens not an integer"),
        (b'{"prompt": "Hi", "max_tokens": -1}', 400, "max_tokens", "max_tokens negative"),
        (b'{"prompt": "Hi", "temperature": "hot"}', 400, "temperature", "temperature a string"),
        (b'{"prompt": "Hi", "temperature": 7}', 400, "temperature", "temperature out of range"),
        (b'{"prompt": "Hi", "top_p": 0}', 400, "top_p", "top_p 0"),
        (b'{"prompt": "Hi", "stop": 3}', 400, "stop", "stop a number"),
        (b'{"prompt": "Hi", "stop": [""]}', 400, "stop", "an empty stop string"),
        (b'{"prompt": "Hi", "stream": "yes"}', 400, "stream", "stream a string"),
        (b'{"prompt": "Hi", "stream_options": {"include_usage": true}}', 400, "stream_options",
         "stream_options without stream"),
        (b'{"prompt": "Hi", "n": 2}', 400, "n", "n = 2"),
        (b'{"prompt": "Hi", "logprobs": 3}', 400, "logprobs", "logprobs"),
        (b'{"prompt": "Hi", "seed": "x"}', 400, "seed", "seed a string"),
        (b'[' * 100 + b']' * 100, 400, None, "nesting 100 deep"),
        (json.dumps({"prompt": "Once upon a time " * 200}).encode(), 400, "prompt", "a prompt longer than the context"),
        (json.dumps({"prompt": list(range(1, 600))}).encode(), 400, "prompt", "600 token ids"),
    ]
    wrong = []
    for body, want_st, want_param, what in bad:
        st, h, data = srv.post(body)
        if not is_error(st, data, want_st, want_param):
            wrong.append((what, st, data[:200]))
    check(not wrong, "%d malformed requests get 400 with an OpenAI error naming the field" % len(bad), wrong)
    st, h, data = srv.post(json.dumps({"prompt": "Once upon a time " * 200}).encode())
    check(json.loads(data)["error"]["code"] == "context_length_exceeded", "a long prompt: code context_length_exceeded")
    st, h, data = srv.post({"prompt": "Hi", "max_tokens": 3, "temperature": 0, "foo": {"bar": [1, None]},
                            "user": "u", "presence_penalty": 0, "logprobs": None})
    check(st == 200, "unknown fields are ignored", data)

    st, h, data = srv.request("GET", "/v1/nope")
    check(is_error(st, data, 404), "an unknown route is a 404", (st, data))
    st, h, data = srv.request("GET", "/v1/completions")
    check(is_error(st, data, 405) and h.get("allow") == "POST", "GET on a POST route is a 405 with Allow", (st, h))
    st, h, data = srv.post({"prompt": "Hi"}, key=None)
    check(is_error(st, data, 401, want_code="invalid_api_key"), "no API key: 401", (st, data))
    st, h, data = srv.post({"prompt": "Hi"}, key=KEY + "x")
    check(is_error(st, data, 401), "a wrong API key: 401", (st, data))
    st, h, data = srv.post({"prompt": "Hi"}, key=KEY[:-1])
    check(is_error(st, data, 401), "a prefix of the API key: 401", (st, data))

    # ---- huge, truncated, garbled and slow clients ----
    got = raw_exchange(srv, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                       b"\r\nContent-Length: 100000000\r\n\r\n{\"prompt\":")
    check(got.startswith(b"HTTP/1.1 413"), "a body announced at 100 MB: 413 before it is read", got[:80])
    c = srv.conn()
    c.putrequest("POST", "/v1/completions")
    c.putheader("Authorization", "Bearer " + KEY)
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(20):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        st, data = r.status, r.read()
    except OSError as e:
        st, data = "closed", str(e)
    c.close()
    check(st == 413 and is_error(st, data, 413), "a chunked body of 20 MB: 413", (st, data[:100]))
    got = raw_exchange(srv, b"HELLO\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400") or got == b"", "a garbled request line is refused", got[:80])
    got = raw_exchange(srv, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                       b"\r\nContent-Length: 200\r\n\r\n{\"prompt\": \"Hi\"", shut=True)
    check(b"200 OK" not in got, "a body cut short by the client is not answered as a request", got[:80])

    # a slow client neither stalls the others nor stays forever (--timeout 2)
    slow = socket.create_connection(("127.0.0.1", srv.port))
    slow.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
    slow2 = socket.create_connection(("127.0.0.1", srv.port))
    slow2.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                  b"\r\nContent-Length: 100\r\n\r\n{\"pro")
    t0 = time.time()
    st, h, data = srv.post({"prompt": "Once upon a time", "max_tokens": 20, "temperature": 0})
    check(st == 200 and time.time() - t0 < 2, "slow clients do not stall a request", time.time() - t0)
    slow.settimeout(8)
    slow2.settimeout(8)
    try:
        closed = slow.recv(100) is not None and slow2.recv(100) is not None
    except socket.timeout:
        closed = False
    check(closed and time.time() - t0 < 8, "slow clients are dropped after --timeout", time.time() - t0)
    slow.close()
    slow2.close()

    # ---- clients that vanish cancel their sequences ----
    before = srv.metrics()

    def vanish():
        c = srv.conn()
        c.request("POST", "/v1/completions", body=json.dumps({"prompt": "Once upon a time", "max_tokens": 480,
                                                              "temperature": 0, "stream": True}),
                  headers={"Authorization": "Bearer " + KEY})
        r = c.getresponse()
        r.readline()                    # the first event
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()

    def stay():
        srv.post({"prompt": "The cat sat", "max_tokens": 200, "temperature": 0})

    def at_once():
        # hangs up right after its request: often before the engine has taken it from the inbox
        s = socket.create_connection(("127.0.0.1", srv.port))
        body = json.dumps({"prompt": "Once upon a time", "max_tokens": 50, "temperature": 0}).encode()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                  b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        s.close()

    ts = ([threading.Thread(target=vanish) for _ in range(4)] + [threading.Thread(target=stay) for _ in range(2)] +
          [threading.Thread(target=at_once) for _ in range(24)])
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    deadline = time.time() + 10
    while time.time() < deadline:
        m = srv.metrics()
        if m["llmc_requests_running"] == 0 and m["llmc_kv_blocks_used"] == 0:
            break
        time.sleep(0.05)
    cancelled = m["llmc_requests_cancelled_total"] - before["llmc_requests_cancelled_total"]
    gen = m["llmc_generation_tokens_total"] - before["llmc_generation_tokens_total"]
    check(cancelled >= 3 and gen < 4 * 480, "clients that hang up mid-stream cancel their sequences "
          "(%d of 4 cancelled, %d tokens generated)" % (cancelled, gen), m)
    check(m["llmc_kv_blocks_used"] == 0 and m["llmc_requests_running"] == 0 and m["llmc_requests_waiting"] == 0,
          "every KV block is free again", m)
    # ---- random damage for a few seconds (tests/serve_fuzz.py; longer runs: its --time) ----
    fz = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve_fuzz.py"),
                         str(srv.port), str(srv.p.pid), "--time", "3", "--workers", "4", "--key", KEY],
                        capture_output=True, text=True)
    check(fz.returncode == 0, "3 s of malformed HTTP and JSON (serve_fuzz.py): 2xx/4xx answers, no crash or stall, "
          "every KV block free", fz.stdout[-1500:] + fz.stderr[-1500:])
    print(fz.stdout.strip().splitlines()[0] if fz.stdout.strip() else "")
    st, h, data = srv.post({"prompt": "Lily and Ben", "max_tokens": 5, "temperature": 0})
    check(st == 200 and json.loads(data)["choices"][0]["text"] == expect[("Lily and Ben", 5)][1],
          "the server answers as before afterwards")
    rc = srv.stop()
    log = open(srv.log_path).read()
    check(rc == 0 and "stopping" in log, "SIGTERM stops the server cleanly (exit 0)", (rc, log[-2000:]))

    # ---- chat completions through a chat template ----
    chat = Server("--max-batch", "4", exe=CHAT_EXE)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    path = os.path.join(TMP, "msgs.json")
    with open(path, "w") as f:
        json.dump(msgs, f)
    ids = subprocess.run([CHAT_EXE, "--render-chat", path, "--output-ids"], capture_output=True,
                         check=True).stdout.decode().split()
    want = single("ids:" + " ".join(ids), 24, exe=CHAT_EXE)[1]
    st, h, data = chat.post({"model": "m", "messages": msgs, "max_tokens": 24, "temperature": 0},
                            path="/v1/chat/completions", key=None)
    a = json.loads(data) if st == 200 else {}
    ok = (st == 200 and a["object"] == "chat.completion" and a["id"].startswith("chatcmpl-") and
          a["choices"][0]["message"] == {"role": "assistant", "content": want} and
          a["choices"][0]["finish_reason"] in ("stop", "length") and a["usage"]["prompt_tokens"] == len(ids))
    check(ok, "a chat completion is the template's prompt run as the executable runs it alone", (st, data, want))
    st, ctype, events, ok = stream(chat, {"messages": msgs, "max_tokens": 24, "temperature": 0, "stream": True,
                                          "stream_options": {"include_usage": True}}, path="/v1/chat/completions")
    chunks = [e for e in events if isinstance(e, dict)]
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in chunks if e["choices"])
    check(ok and chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""} and text == want and
          all(e["object"] == "chat.completion.chunk" for e in chunks) and chunks[-1]["choices"] == [] and
          chunks[-1]["usage"]["prompt_tokens"] == len(ids) and chunks[-2]["choices"][0]["delta"] == {} and
          chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length") and events[-1] == "[DONE]",
          "a streamed chat completion: the role first, deltas, finish_reason, usage, [DONE]", events[:2] + events[-3:])
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]}]
    st1, _, d1 = chat.post({"messages": parts, "max_tokens": 8, "temperature": 0}, path="/v1/chat/completions")
    st2, _, d2 = chat.post({"messages": [{"role": "user", "content": "Hello\nthere"}], "max_tokens": 8,
                            "temperature": 0, "chat_template_kwargs": {"enable_thinking": False}},
                           path="/v1/chat/completions")
    check(st1 == 200 and st2 == 200 and json.loads(d1)["choices"] == json.loads(d2)["choices"],
          "text parts are joined with newlines; chat_template_kwargs are accepted", (d1, d2))
    st, _, data = chat.post({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
                            path="/v1/chat/completions")
    check(is_error(st, data, 400, "messages[0]"), "an image part is refused (400)", data)
    st, _, data = chat.post({"messages": msgs, "chat_template_kwargs": [1]}, path="/v1/chat/completions")
    check(is_error(st, data, 400, "chat_template_kwargs"), "chat_template_kwargs of the wrong type: 400", data)
    check(chat.stop() == 0, "the chat server stops cleanly")

    # ---- a full queue: 429 with Retry-After; the others are answered ----
    small = Server("--max-batch", "1", "--max-queue", "1")
    out = []

    def busy():
        out.append(small.post({"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0}, key=None))

    ts = [threading.Thread(target=busy) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    codes = sorted(st for st, h, d in out)
    full = [(st, h, d) for st, h, d in out if st == 429]
    check(codes.count(200) >= 2 and full and all(is_error(st, d, 429) and int(h["retry-after"]) >= 1
                                                   for st, h, d in full) and set(codes) <= {200, 429},
          "beyond --max-queue: 429 with Retry-After, the rest answered", codes)
    check(small.stop() == 0, "the second server stops cleanly")

    # ---- a KV pool too small for the batch: preempted requests answer as if alone ----
    # each fits the 30 blocks (480 positions) alone, no two do at their full length
    long_cases = [("Once upon a time", 400), ("The cat sat", 380), ("ids:1 403 407 43", 350), ("Lily and Ben", 300)]
    for prompt, n in long_cases:
        expect[(prompt, n)] = single(prompt, n)
    tight = Server("--max-batch", "8", "--kv-blocks", "30")
    got = {}

    def tight_case(i, prompt, n):
        body = {"prompt": prompt, "max_tokens": n, "temperature": 0}
        if prompt.startswith("ids:"):
            body["prompt"] = [int(x) for x in prompt[4:].split()]
        if i % 2:
            st, ctype, events, ok = stream(tight, dict(body, stream=True))
            got[i] = (st, "".join(e["choices"][0]["text"] for e in events if isinstance(e, dict)))
        else:
            st, h, data = tight.post(body)
            got[i] = (st, json.loads(data)["choices"][0]["text"] if st == 200 else data)

    ts = [threading.Thread(target=tight_case, args=(i, p, n)) for i, (p, n) in enumerate(long_cases + long_cases)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    deadline = time.time() + 10     # /metrics is as of the engine's last step: it may lag the answers
    m = tight.metrics()
    while m["llmc_kv_blocks_used"] and time.time() < deadline:
        time.sleep(0.05)
        m = tight.metrics()
    wrong = [(i, got[i]) for i, (p, n) in enumerate(long_cases + long_cases) if got[i] != (200, expect[(p, n)][1])]
    check(not wrong and m["llmc_preemptions_total"] > 0 and m["llmc_kv_blocks_used"] == 0,
          "8 long requests over a pool of 30 KV blocks: %d preemptions, every answer as alone, every block free "
          "again" % m["llmc_preemptions_total"], (wrong[:2], m.get("llmc_preemptions_total")))
    check(tight.stop() == 0, "the third server stops cleanly")

    print("%d passed, %d failed" % (PASSES, len(FAILS)))
    return 1 if FAILS else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        # a server that crashed: its log (a sanitizer's report) says why
        for k in range(1, Server.count + 1):
            log = open(os.path.join(TMP, "server%d.log" % k), errors="replace").read()
            if "ERROR" in log or "runtime error" in log:
                print("server%d.log:\n%s" % (k, log[-6000:]))
        raise
    finally:
        for p in Server.started:
            if p.poll() is None:
                p.kill()
