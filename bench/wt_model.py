#!/usr/bin/env python3
"""wt_model.py -- gemm_wt (codegen/cuda_wgmma_tma.cuh) modelled on the CPU, where no GPU runs it:
1. its ring protocol (mbarrier phases and parity waits, TMA landing later, wgmma groups completing
   later, `wgmma.wait_group 1` before a stage's release) under random interleavings of the producer
   and the two consumer warpgroups: no deadlock, a consumer reads a stage only when it holds the
   (tile, k-tile) it expects, the producer never overwrites a stage a wgmma may still read;
2. its index math (the TMA boxes with zeros out of bounds, each thread's accumulator fragment, the
   epilogue's stores, gemm_reduce after a K split) against a direct matmul on small ragged shapes,
   integer inputs (exact sums), every output written once.
Both are transcriptions of the kernel by hand: change them with it. Run: python3 bench/wt_model.py
(about 10 s). Mutations of the protocol (a stage released before its group completed, the
producer's parity, a consumer's phase) make part 1 fail (checked when it was written)."""
import random


# ---- 1. the ring protocol ----

class Bar:
    """An mbarrier: a phase completes when `count` arrivals came and the expected transaction bytes
    (expect_tx) all landed; try_wait.parity(p) succeeds once the phase of parity p completed (a
    fresh barrier is in phase 0, so waiting on parity 1 returns at once)."""

    def __init__(self, count):
        self.count, self.arrivals, self.tx, self.phase = count, 0, 0, 0

    def arrive(self, tx=0):
        self.arrivals += 1
        self.tx += tx
        self._settle()

    def complete_tx(self, nbytes):
        self.tx -= nbytes
        self._settle()

    def _settle(self):
        if self.arrivals == self.count and self.tx == 0:
            self.phase += 1
            self.arrivals = 0

    def done(self, parity):
        return (self.phase & 1) != parity

def run(ST, KT, tiles, grid, seed):
    """One interleaving of every block's producer thread and two consumer warpgroups (a consumer
    warpgroup's 4 warps arrive on an empty barrier one after the other); TMA boxes (3 a stage, a
    byte each here) land at random later points."""
    rnd=random.Random(seed)
    for blk in range(grid):
        mytiles=list(range(blk, tiles, grid))
        full=[Bar(1) for _ in range(ST)]; empty=[Bar(8) for _ in range(ST)]
        stage_data=[None]*ST     # what the stage holds (tile, kt) once the TMA landed
        readers=[set() for _ in range(ST)]  # consumer groups whose wgmma may still read the stage
        pending_tma=[]           # (stage, item)
        # producer state
        def producer():
            s=0; ph=0
            for t in mytiles:
                for kt in range(KT):
                    while not empty[s].done(ph^1): yield
                    assert not readers[s], "producer overwrote a stage being read"
                    full[s].arrive(tx=3)
                    stage_data[s]=None
                    pending_tma.append((s,(t,kt)))
                    s+=1
                    if s==ST: s=0; ph^=1
                    yield
        def consumer(cw):
            s=0; ph=0
            groups=[]  # stages of in-flight wgmma groups of this warpgroup
            for t in mytiles:
                prev=0
                for kt in range(KT):
                    while not full[s].done(ph): yield
                    assert stage_data[s]==(t,kt), ("consumer %d read %s expecting %s" % (cw, stage_data[s], (t,kt)))
                    readers[s].add(cw); groups.append(s)
                    # wait_group 1: all but the newest group complete (maybe later: yield between)
                    while len(groups)>1:
                        if rnd.random()<0.5: yield
                        g=groups.pop(0); readers[g].discard(cw)
                    if kt>0:
                        for w in range(4): empty[prev].arrive()
                    prev=s
                    s+=1
                    if s==ST: s=0; ph^=1
                    yield
                while groups:
                    if rnd.random()<0.5: yield
                    g=groups.pop(0); readers[g].discard(cw)
                for w in range(4): empty[prev].arrive()
                yield  # epilogue
        agents=[producer(), consumer(0), consumer(1)]
        alive=[True]*3; idle=0
        while any(alive) or pending_tma:
            progressed=False
            if pending_tma and rnd.random()<0.3:
                i=rnd.randrange(len(pending_tma)); s,item=pending_tma.pop(i)
                stage_data[s]=item
                for b in range(3): full[s].complete_tx(1)
                progressed=True
            else:
                live=[i for i in range(3) if alive[i]]
                if live:
                    i=rnd.choice(live)
                    try: next(agents[i])
                    except StopIteration: alive[i]=False
            idle+=1
            if idle>10**6: raise SystemExit("deadlock? ST=%d KT=%d tiles=%d grid=%d" % (ST,KT,tiles,grid))
    return True


# ---- 2. the index math ----
def emulate(T, N, K, EPI, SPLIT, BN, grid, bias):
    """gemm_wt's outputs for T x K activations and N x K weights (random small integers), epilogue
    EPI (0 plain, 1 residual, 2/4 gated), K split SPLIT, tiles 128 x BN, `grid` blocks."""
    GLU = EPI in (2, 4); KT = K // 64 // SPLIT; NO = N // 2 if GLU else N
    NB = (N // 2 + BN // 2 - 1) // (BN // 2) if GLU else (N + BN - 1) // BN
    tm = (T + 127) // 128; tiles = tm * NB * SPLIT
    rnd = random.Random(T * 7 + N)
    x = [[rnd.randint(-3, 3) or 1 for _ in range(K)] for _ in range(T)]
    w = [[rnd.randint(-3, 3) or 1 for _ in range(K)] for _ in range(N)]
    b = [rnd.randint(-5, 5) for _ in range(N)] if bias else None
    res = [[rnd.randint(-5, 5) for _ in range(N)] for _ in range(T)]
    act = lambda g: g * 2 + 1  # a stand-in for glu_act (any function: the pairing is what is checked)
    SY = NO
    y = {}; part = {}
    for blk in range(grid):
        for tile in range(blk, tiles, grid):
            mb = tile % tm; r = tile // tm; nb = r % NB; z = r // NB
            w0 = nb * (BN // 2) if GLU else nb * BN
            w1 = N // 2 + nb * (BN // 2) if GLU else nb * BN + BN // 2
            D = [[0] * BN for _ in range(128)]
            for kt in range(KT):
                k = (z * KT + kt) * 64
                A = [[x[mb * 128 + i][k + c] if mb * 128 + i < T else 0 for c in range(64)] for i in range(128)]
                B = []
                for j in range(BN):
                    row = w0 + j if j < BN // 2 else w1 + j - BN // 2
                    B.append([w[row][k + c] if row < N else 0 for c in range(64)])
                for i in range(128):
                    for j in range(BN):
                        D[i][j] += sum(A[i][c] * B[j][c] for c in range(64))
            for cw in range(2):
                for wq in range(4):
                    for lane in range(32):
                        g = lane >> 2; c2 = (lane & 3) * 2
                        acc = [0] * (BN // 2)
                        for j in range(BN // 8):
                            for q in range(4):
                                acc[4 * j + q] = D[cw * 64 + wq * 16 + g + (8 if q >= 2 else 0)][8 * j + c2 + (q & 1)]
                        m0 = mb * 128 + cw * 64 + wq * 16 + g
                        for jj in range(BN // 16 if GLU else BN // 8):
                            for hh in range(2):
                                m = m0 + hh * 8
                                if m >= T: continue
                                if GLU:
                                    o = nb * (BN // 2) + jj * 8 + c2
                                    v = (acc[4 * jj + 2 * hh], acc[4 * jj + 2 * hh + 1])
                                    u = (acc[4 * (jj + BN // 16) + 2 * hh], acc[4 * (jj + BN // 16) + 2 * hh + 1])
                                    for e in range(2):
                                        if o + e < N // 2:
                                            if SPLIT > 1:
                                                for key, val in (((z, m, o + e), v[e]), ((z, m, N // 2 + o + e), u[e])):
                                                    assert key not in part; part[key] = val
                                            else:
                                                key = (m, o + e); assert key not in y
                                                y[key] = act(v[e] + (b[o + e] if b else 0)) * (u[e] + (b[o + e + N // 2] if b else 0))
                                else:
                                    n = nb * BN + jj * 8 + c2
                                    for e in range(2):
                                        if n + e < N:
                                            val = acc[4 * jj + 2 * hh + e]
                                            if SPLIT > 1:
                                                key = (z, m, n + e); assert key not in part; part[key] = val
                                            else:
                                                key = (m, n + e); assert key not in y
                                                y[key] = val + (b[n + e] if b else 0) + (res[m][n + e] if EPI == 1 else 0)
    if SPLIT > 1:  # gemm_reduce
        for m in range(T):
            for o in range(NO):
                v0 = sum(part[(z, m, o)] for z in range(SPLIT)) + (b[o] if b else 0)
                if GLU:
                    v1 = sum(part[(z, m, o + N // 2)] for z in range(SPLIT)) + (b[o + N // 2] if b else 0)
                    y[(m, o)] = act(v0) * v1
                else:
                    y[(m, o)] = v0 + (res[m][o] if EPI == 1 else 0)
    s = lambda m, n: sum(x[m][c] * w[n][c] for c in range(K)) + (b[n] if b else 0)
    for m in range(T):
        for o in range(NO):
            ref = act(s(m, o)) * s(m, o + N // 2) if GLU else s(m, o) + (res[m][o] if EPI == 1 else 0)
            assert y.get((m, o)) == ref, (T, N, K, EPI, SPLIT, BN, m, o, y.get((m, o)), ref)
    assert len(y) == T * NO

def main():
    n = 0
    for ST in (2, 3, 4, 7):
        for KT in (1, 2, 3, 5, 8):
            for tiles, grid in ((1, 1), (3, 1), (7, 3), (10, 4)):
                for seed in range(20):
                    run(ST, KT, tiles, grid, seed)
                    n += 1
    print("ring: ok,", n, "interleavings")
    cases = [(130, 200, 128, 2, 1, 256, 2, 1), (130, 200, 128, 2, 2, 128, 1, 0), (17, 384, 128, 0, 1, 256, 3, 1),
             (129, 264, 128, 1, 2, 256, 2, 1), (5, 384, 64, 4, 1, 128, 1, 1), (140, 136, 128, 1, 1, 128, 2, 0)]
    for c in cases:
        emulate(*c)
        print("index math: ok", c)


if __name__ == "__main__":
    main()
