#!/usr/bin/env python3
"""Load test of `./model --serve` on loopback (driven by bench/serve_load.sh).

    serve_load.py EXE PORT SERVER_PID [--clients N] [--requests M] [--time S] [--seed K] [--ids]
                  [--max-tokens T] [--reference cli|server] [--differ-ok] [--no-memory-check]

N client threads send M streaming /v1/completions requests in all (bounded by S seconds: no new
request starts after that), with mixed prompt and output lengths, greedy and seeded sampling;
one in ten reads a few events and hangs up. Reported: requests/s, generated tokens/s, time to
first token and time per output token percentiles (from the client's clock), errors, the
server's memory (VmRSS) over the run, and the client's own CPU time (a client near one core
bounds what it can measure). Every completed answer is compared with the same request run
alone (greedy, or sampled with the same seed): by default what EXE prints for it
(--reference cli); with --reference server, the answer the server gives it when it is the only
request in flight (each distinct request sent once, one at a time, before the load), of which
the first two are also checked against EXE's own output; that saves starting EXE twice a
request, which for a GPU build means loading its weights each time. --differ-ok reports answers
that differ instead of failing on them: on a GPU a step of 9-64 rows runs its matmuls on tensor
cores (gemm_q), which round otherwise than the kernels of 1-8 rows (docs/cuda.md), so a greedy
answer batched with others can leave its single run where two logits are within rounding. --ids sends
prompts as token ids (a model without a tokenizer). Exit status 1 when a request is lost or
malformed, an answer differs (without --differ-ok), a KV block stays in use, or the memory grows.
"""
import argparse
import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("exe")
ap.add_argument("port", type=int)
ap.add_argument("pid", type=int)
ap.add_argument("--clients", type=int, default=64)
ap.add_argument("--requests", type=int, default=500)
ap.add_argument("--time", type=float, default=300)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--ids", action="store_true")
ap.add_argument("--max-tokens", type=int, default=200)
ap.add_argument("--no-memory-check", action="store_true", help="a sanitized server (its RSS grows by design)")
ap.add_argument("--reference", choices=("cli", "server"), default="cli")
ap.add_argument("--differ-ok", action="store_true", help="report answers that differ from their single run, "
                "do not fail on them (GPU builds)")
args = ap.parse_args()

WORDS = ("once upon a time there was a little girl named Lily she loved to play outside in the park "
         "one day saw big red ball and her friend Ben went home happy cat dog sun tree").split()


def rss_kb():
    try:
        for line in open("/proc/%d/status" % args.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return -1
    return -1


def make_pool(rng):
    """Distinct requests: prompts of 1 to 60 words (or ids), outputs of 1 to max_tokens tokens."""
    pool = []
    for i in range(48):
        n_words = rng.choice([1, 2, 4, 8, 16, 30, 60])
        if args.ids:
            prompt = [rng.randrange(3, 500) for _ in range(n_words)]
        else:
            prompt = " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize()
        max_tokens = rng.choice([1, 4, 16, 32, 64, 128, args.max_tokens])
        sampled = i % 4 == 3
        pool.append({"prompt": prompt, "max_tokens": max_tokens,
                     "temperature": 0.8 if sampled else 0, "top_p": 0.95 if sampled else 1,
                     "seed": 1000 + i})
    return pool


def alone(req):
    """What the executable prints for this request alone: the completion's text (bytes)."""
    if isinstance(req["prompt"], list):
        base = [args.exe, "--ids", " ".join(map(str, req["prompt"]))]
    else:
        base = [args.exe, req["prompt"]]
    opts = ["--temp", str(req["temperature"]), "--top-p", str(req["top_p"]), "--seed", str(req["seed"])]
    full = subprocess.run(base + ["-n", str(req["max_tokens"])] + opts, capture_output=True, check=True).stdout
    head = subprocess.run(base + ["-n", "0"], capture_output=True, check=True).stdout
    assert full.endswith(b"\n") and head.endswith(b"\n") and full.startswith(head[:-1])
    # the server sends what is not UTF-8 as U+FFFD, one per maximal subpart, as Python decodes
    return full[len(head) - 1:-1].decode("utf-8", "replace").encode()


def fits(req):
    """Whether the server takes the request (its prompt and max_tokens within the context)."""
    c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=600)
    try:
        c.request("POST", "/v1/completions", body=json.dumps(dict(req, max_tokens=0)),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    if r.status == 400 and b"context_length_exceeded" in data:
        return False
    if r.status != 200:
        raise SystemExit("FAIL: the request %r got %d: %s" % (req, r.status, data[:300]))
    return True


def alone_server(req):
    """The server's answer to this request when nothing else is in flight: its text (bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=600)
    try:
        c.request("POST", "/v1/completions", body=json.dumps(req), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    if r.status != 200:
        raise SystemExit("FAIL: the reference request %r got %d: %s" % (req, r.status, data[:300]))
    return json.loads(data)["choices"][0]["text"].encode()


class Result:
    def __init__(self):
        self.lock = threading.Lock()
        self.done = []          # (pool index, text bytes, ttft, tpot or None, completion tokens)
        self.hung_up = 0
        self.errors = []


def one_request(port, req, hang_up, res):
    t0 = time.perf_counter()
    body = dict(req, stream=True, stream_options={"include_usage": True})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        c.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            return "status %d: %s" % (r.status, r.read()[:200])
        text, t_first, t_last, usage, events, finish = [], None, None, None, 0, None
        while True:
            line = r.readline()
            if not line:
                return "the stream ended without data: [DONE]"
            if line == b"\n":
                continue
            if not line.startswith(b"data: ") or not line.endswith(b"\n"):
                return "malformed SSE line %r" % line[:100]
            payload = line[6:-1]
            if payload == b"[DONE]":
                break
            ev = json.loads(payload)
            events += 1
            if ev.get("choices"):
                ch = ev["choices"][0]
                if ch["text"]:
                    now = time.perf_counter()
                    t_first = t_first or now
                    t_last = now
                    text.append(ch["text"])
                finish = ch["finish_reason"] or finish
            if ev.get("usage"):
                usage = ev["usage"]
            if hang_up and events >= 2:
                c.sock.shutdown(socket.SHUT_RDWR)
                with res.lock:
                    res.hung_up += 1
                return None
        if usage is None or finish not in ("stop", "length"):
            return "no usage chunk or finish_reason (%r, %r)" % (usage, finish)
        n = usage["completion_tokens"]
        ttft = (t_first or time.perf_counter()) - t0
        tpot = (t_last - t_first) / (n - 1) if t_first and n > 1 else None
        return ("".join(text).encode(), ttft, tpot, n)
    except (OSError, ValueError, http.client.HTTPException) as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        c.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    out = {}
    for line in c.getresponse().read().decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    c.close()
    return out


def main():
    rng = random.Random(args.seed)
    pool = make_pool(rng)
    t = time.perf_counter()
    want = []
    checked_cli = 0
    for r in pool:                  # a prompt beyond a small model's context is cut down
        while not fits(r):
            if len(r["prompt"]) <= 1 or (isinstance(r["prompt"], str) and " " not in r["prompt"]):
                raise SystemExit("FAIL: a one-word prompt does not fit the model: %r" % r)
            if isinstance(r["prompt"], list):
                r["prompt"] = r["prompt"][:len(r["prompt"]) // 2]
            else:
                words = r["prompt"].split()
                r["prompt"] = " ".join(words[:len(words) // 2])
    for r in (pool if args.reference == "cli" else pool[:2]):
        want.append(alone(r))
    if args.reference == "server":
        checked_cli = len(want)
        cli = want
        want = [alone_server(r) for r in pool]
        bad = [(k, want[k][:80], cli[k][:80]) for k in range(checked_cli) if want[k] != cli[k]]
        if bad:
            print("FAIL: the server's answer to a request alone differs from the executable's: %s" % bad)
            return 1
        print("reference: %d distinct requests sent alone to the server in %.1f s (the first %d equal to "
              "the executable's own)" % (len(pool), time.perf_counter() - t, checked_cli))
    else:
        print("reference: %d distinct requests run alone through the executable in %.1f s" %
              (len(pool), time.perf_counter() - t))
    order = [(rng.randrange(len(pool)), rng.random() < 0.1) for _ in range(args.requests)]
    res = Result()
    next_i = [0]
    lock = threading.Lock()
    rss = []
    stop_sampling = threading.Event()

    def sampler():
        while not stop_sampling.is_set():
            rss.append((time.perf_counter(), next_i[0], rss_kb()))
            stop_sampling.wait(0.25)

    t_start = time.perf_counter()
    cpu_start = time.process_time()
    deadline = t_start + args.time

    def client():
        while True:
            with lock:
                i = next_i[0]
                if i >= len(order) or time.perf_counter() > deadline:
                    return
                next_i[0] += 1
            k, hang_up = order[i]
            out = one_request(args.port, pool[k], hang_up, res)
            with res.lock:
                if isinstance(out, str):
                    res.errors.append((i, k, out))
                elif out is not None:
                    res.done.append((k,) + out)

    st = threading.Thread(target=sampler)
    st.start()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t_start
    client_cpu = time.process_time() - cpu_start
    stop_sampling.set()
    st.join()
    time.sleep(0.3)
    m = metrics(args.port)
    rss_end = rss_kb()

    started = next_i[0]
    mism = [(k, text[:80], want[k][:80]) for k, text, *_ in res.done if text != want[k]]
    # where they part: bytes in common from the start
    parted = sorted(next((i for i, (a, b) in enumerate(zip(text, want[k])) if a != b), min(len(text), len(want[k])))
                    for k, text, *_ in res.done if text != want[k])
    ttft = [d[2] for d in res.done]
    tpot = [d[3] for d in res.done if d[3] is not None]
    toks = sum(d[4] for d in res.done)
    print("clients %d, requests started %d of %d (time bound %.0f s), completed %d, hung up on purpose %d, "
          "errors %d" % (args.clients, started, args.requests, args.time, len(res.done), res.hung_up,
                         len(res.errors)))
    print("wall %.2f s: %.1f requests/s, %.0f generated tokens/s" % (wall, len(res.done) / wall, toks / wall))
    print("time to first token: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms" %
          tuple(1e3 * pct(ttft, p) for p in (50, 90, 99)))
    print("time per output token: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms" %
          tuple(1e3 * pct(tpot, p) for p in (50, 90, 99)))
    print("client CPU: %.1f s over %.1f s of wall time%s" %
          (client_cpu, wall, " (near one core: the client may bound these figures)" if client_cpu > 0.7 * wall
                             else ""))
    # memory: flat means the second half of the run adds nothing (the first warms up the allocator's
    # per-thread arenas and the thread stacks cache)
    def rss_at(frac):
        seen = [kb for _, n, kb in rss if n >= int(len(order) * frac)]
        return seen[0] if seen else rss_end
    rss_warm = rss_at(0.5)
    rss_max = max([kb for _, _, kb in rss] + [rss_end])
    print("server memory (VmRSS): %.1f MB after a tenth of the requests, %.1f MB after half, %.1f MB at the "
          "end, %.1f MB at most" % (rss_at(0.1) / 1024, rss_warm / 1024, rss_end / 1024, rss_max / 1024))
    print("server after the run: %d running, %d waiting, %d KV blocks in use, %d requests cancelled, "
          "%d preemptions" % (m["llmc_requests_running"], m["llmc_requests_waiting"], m["llmc_kv_blocks_used"],
                              m["llmc_requests_cancelled_total"], m.get("llmc_preemptions_total", 0)))
    bad = []
    if res.errors:
        bad.append("%d requests lost or malformed, e.g. %s" % (len(res.errors), res.errors[:3]))
    if mism and args.differ_ok:
        print("note: %d of %d completed answers differ from their single run (--differ-ok); they part after "
              "a median of %d bytes (of %d distinct requests, %d differ at least once)" %
              (len(mism), len(res.done), parted[len(parted) // 2], len(pool), len(set(k for k, *_ in mism))))
    elif mism:
        bad.append("%d answers differ from the same request alone, e.g. %s" % (len(mism), mism[:2]))
    if len(res.done) + res.hung_up + len(res.errors) != started:
        bad.append("requests unaccounted for")
    if m["llmc_kv_blocks_used"] or m["llmc_requests_running"] or m["llmc_requests_waiting"]:
        bad.append("the server still holds sequences or KV blocks")
    memory = "memory flat"
    if args.no_memory_check:
        print("memory not checked: a sanitized server keeps freed memory in quarantine")
        memory = "memory not checked"
    elif rss_end - rss_warm > max(4 * 1024, rss_warm // 20):
        bad.append("the server's memory grew by %.1f MB in the second half of the run" %
                   ((rss_end - rss_warm) / 1024))
    for b in bad:
        print("FAIL: " + b)
    if not bad:
        print("ok: %s; nothing lost or malformed; %s; every KV block free" %
              ("every completed answer equals its request run alone" if not mism else "answers compared (above)",
               memory))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
