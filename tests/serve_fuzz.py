#!/usr/bin/env python3
"""Malformed HTTP and JSON against `./model --serve` on loopback, for a bounded time.

    tests/serve_fuzz.py PORT SERVER_PID [--time S] [--seed K] [--key KEY] [--workers N]

Requests made from valid ones by random damage: JSON fields given values of other types (strings,
numbers out of range, nested lists, deep nesting, null), bad UTF-8 and escapes in strings, bytes
flipped, inserted, deleted or cut anywhere in the request (request line and headers included),
Content-Length that lies or is not a number, broken chunked bodies, long URLs and headers, unknown
routes and methods, pipelined requests, clients that stop half way, and slow clients that send a
byte at a time. Every answer must be a well-formed HTTP response with a 2xx, 4xx or 503 status
(or 501 for chat with a model without a chat template; a 4xx body from the server's own routes an OpenAI error object), or the connection closed by the
server; no answer within --stall seconds while the server holds the connection is a stall. After
the run the server must be alive, answer /health and a request, and hold no sequence or KV block.
Exit status 1 on any failure (the first few are printed with the request that caused them).
"""
import argparse
import json
import os
import random
import re
import socket
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("pid", type=int)
ap.add_argument("--time", type=float, default=20)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--key", default=None)
ap.add_argument("--workers", type=int, default=8)
ap.add_argument("--stall", type=float, default=30)
args = ap.parse_args()

BASE = [
    {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0},
    {"prompt": "Lily", "max_tokens": 4, "temperature": 0.8, "top_p": 0.9, "top_k": 40, "seed": 3,
     "stop": ["\n", "The"], "stream": True, "stream_options": {"include_usage": True}, "echo": True},
    {"prompt": [1, 403, 407], "max_tokens": 3, "n": 1, "logprobs": None, "user": "u"},
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
     "max_completion_tokens": 4, "stream": True},
]
PATHS = ["/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics", "/", "/v1",
         "/v1/completions/", "/v1/completions?x=1", "/%00", "/v1/../metrics", "/" + "a" * 5000, "*"]
METHODS = ["POST", "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "BREW", "", "P\x00ST"]
ODD_VALUES = [None, True, False, 0, -1, 1, 2 ** 31, 2 ** 63, -2 ** 63, 10 ** 400, 1e308, -1e308, 0.5, -0.0, 1e-320,
              "", "x", "\u0000", "\ud83d\ude00", "A" * 10000, [], [1], [[1]], ["a", "b"], {}, {"a": 1},
              [None] * 50, list(range(3000))]


def rand_value(rng, depth=0):
    r = rng.random()
    if r < 0.5 or depth > 3:
        return rng.choice(ODD_VALUES)
    if r < 0.75:
        return [rand_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["prompt", "max_tokens", "x", "stop", "role", "content"]): rand_value(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def damaged_json(rng):
    b = json.loads(json.dumps(rng.choice(BASE)))
    for _ in range(rng.randrange(0, 3)):
        k = rng.choice(list(b.keys()) + ["max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream",
                                          "stream_options", "messages", "prompt", "n", "logprobs", "echo"])
        b[k] = rand_value(rng)
    text = json.dumps(b, allow_nan=True).encode()
    r = rng.random()
    if r < 0.15:
        text = text[:rng.randrange(len(text) + 1)]                         # truncated
    elif r < 0.3:
        i = rng.randrange(len(text) + 1)                                   # bad UTF-8 / escapes
        text = text[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800", b"\\u12", b"\\x41",
                                      b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00"]) + text[i:]
    elif r < 0.4:
        d = rng.randrange(1, 200)
        text = b"[" * d + text + b"]" * rng.randrange(d + 1)               # deep nesting
    elif r < 0.42:
        text = b'{"prompt": "' + b"a" * rng.randrange(1, 1 << 20) + b'"}'   # big but under the limit
    return text


def make_request(rng):
    """Raw bytes of one request (maybe several pipelined), and a short name for reports."""
    path = "/v1/completions" if rng.random() < 0.6 else rng.choice(PATHS)
    method = "POST" if rng.random() < 0.7 else rng.choice(METHODS)
    body = damaged_json(rng) if rng.random() < 0.9 else os.urandom(rng.randrange(200))
    headers = [("Host", "x"), ("Content-Type", "application/json")]
    if args.key:
        headers.append(("Authorization", "Bearer " + args.key if rng.random() < 0.95 else rng.choice(
            ["Bearer", "Bearer " + args.key[:-1], "Basic " + args.key, "bearer " + args.key, ""])))
    chunked = rng.random() < 0.15
    r = rng.random()
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
        parts, i = [], 0
        while i < len(body):
            n = rng.randrange(1, 64)
            size = b"%x" % len(body[i:i + n])
            if rng.random() < 0.05:
                size = rng.choice([b"zz", b"-1", b"ffffffffffffffffff", b"", b"1;ext=1"])
            parts.append(size + b"\r\n" + body[i:i + n] + b"\r\n")
            i += n
        body = b"".join(parts) + (b"0\r\n\r\n" if rng.random() < 0.9 else b"")
    elif r < 0.7:
        headers.append(("Content-Length", str(len(body))))
    elif r < 0.8:
        headers.append(("Content-Length", str(len(body) + rng.choice([-5, -1, 1, 100]))))
    elif r < 0.9:
        headers.append(("Content-Length", rng.choice(["-1", "abc", "1e3", "99999999999999999999999", " 5",
                                                      "0x10", "", "5, 5"])))
    if rng.random() < 0.05:
        headers += [("X-Pad-%d" % i, "v" * rng.randrange(100)) for i in range(rng.randrange(200))]
    if rng.random() < 0.03:
        headers.append(("X-Long", "v" * rng.randrange(10000, 200000)))
    head = ("%s %s HTTP/1.1\r\n" % (method, path)).encode("latin-1", "replace")
    head += b"".join(("%s: %s\r\n" % h).encode("latin-1", "replace") for h in headers) + b"\r\n"
    raw = head + body
    r = rng.random()
    if r < 0.1:                                                        # bytes damaged anywhere
        raw = bytearray(raw)
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(raw))
            op = rng.randrange(3)
            if op == 0:
                raw[i] = rng.randrange(256)
            elif op == 1:
                del raw[i]
            else:
                raw[i:i] = bytes([rng.randrange(256)])
        raw = bytes(raw)
    elif r < 0.15:
        raw = raw[:rng.randrange(len(raw))]                            # the client stops half way
    elif r < 0.2:
        raw = raw + raw                                                # pipelined
    return raw, "%s %s (%d bytes)" % (method, path[:40], len(raw))


STATUS = re.compile(rb"HTTP/1\.[01] (\d\d\d) ")


def exchange(raw, slow, rng):
    """Sends raw, reads until the server closes or a response is whole. Returns (error or None, head)."""
    s = socket.create_connection(("127.0.0.1", args.port), timeout=args.stall)
    got = b""
    try:
        if slow:
            for i in range(0, len(raw), 7):
                s.sendall(raw[i:i + 7])
                time.sleep(0.02)
        else:
            s.sendall(raw)
        if rng.random() < 0.3:
            s.shutdown(socket.SHUT_WR)
        t0 = time.time()
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            got += b
            if time.time() - t0 > args.stall:
                return "no end within %.0f s" % args.stall, got[:200]
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep and raw.startswith(b"HEAD "):
                break
            if sep and b"content-length:" in head.lower() and not STATUS.match(head + b" ").group(1) == b"100":
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                if len(body) >= int(m.group(1)):
                    break
            if sep and body.endswith(b"data: [DONE]\n\n") or (sep and body.endswith(b"0\r\n\r\n")):
                break
    except socket.timeout:
        return "stalled: nothing for %.0f s" % args.stall, got[:200]
    except OSError:
        pass                # the server closed on a request it refused: fine
    finally:
        s.close()
    if not got:
        return None, b""
    m = STATUS.match(got)
    if not m:
        return "not an HTTP response", got[:200]
    code = int(m.group(1))
    if not (200 <= code < 300 or 400 <= code < 500 or code == 503 or
            (code == 501 and b"chat_template_missing" in got)):
        return "status %d" % code, got[:300]
    head, _, body = got.partition(b"\r\n\r\n")
    if 400 <= code < 500 and not raw.startswith(b"HEAD ") and b"application/json" in head.lower() and b"content-length" in head.lower():
        try:
            e = json.loads(body[:int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))])["error"]
            assert isinstance(e["message"], str) and "type" in e
        except (ValueError, KeyError, TypeError, AssertionError, AttributeError):
            return "a %d without an OpenAI error object" % code, got[:300]
    return None, got[:40]


def alive():
    try:
        os.kill(args.pid, 0)
        return True
    except OSError:
        return False


def get(path):
    s = socket.create_connection(("127.0.0.1", args.port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got


def main():
    failures, counts = [], {}
    lock = threading.Lock()
    deadline = time.time() + args.time
    n_sent = [0]

    def worker(w):
        rng = random.Random(args.seed * 1000 + w)
        while time.time() < deadline and alive():
            raw, name = make_request(rng)
            slow = rng.random() < 0.02 and len(raw) < 4000
            err, head = exchange(raw, slow, rng)
            m = STATUS.match(head)
            with lock:
                n_sent[0] += 1
                key = m.group(1).decode() if m else "closed"
                counts[key] = counts.get(key, 0) + 1
                if err:
                    failures.append((err, name, raw[:300], head))

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(args.workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("requests %d in %.0f s; answers by status: %s" % (n_sent[0], args.time,
          ", ".join("%s: %d" % kv for kv in sorted(counts.items()))))
    ok = True
    if not alive():
        print("FAIL: the server died")
        return 1
    for err, name, raw, head in failures[:5]:
        print("FAIL: %s after %s: %r -> %r" % (err, name, raw[:200], head[:200]))
        ok = False
    h = get("/health")
    if b" 200 " not in h.split(b"\r\n")[0]:
        print("FAIL: /health after the run: %r" % h[:200])
        ok = False
    deadline = time.time() + 10    # the last cancellations reach the engine between its steps
    while True:
        m = get("/metrics").decode("utf-8", "replace")
        vals = dict(re.findall(r"^(llmc_(?:requests_running|requests_waiting|kv_blocks_used)) (\S+)$", m, re.M))
        if (all(float(v) == 0 for v in vals.values()) and len(vals) == 3) or time.time() > deadline:
            break
        time.sleep(0.05)
    if any(float(v) != 0 for v in vals.values()) or len(vals) != 3:
        print("FAIL: the server still holds sequences or KV blocks: %s" % vals)
        ok = False
    if ok:
        print("ok: every answer a 2xx, 4xx or 503 (errors as OpenAI objects), no stall, the server alive, "
              "every KV block free")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
