#!/usr/bin/env python3
"""b1_isa.py: the static analysis of bench/b1_lab.cu's one-row 4-bit kernel (gemv_b1), no GPU needed.

  python3 bench/b1_isa.py counts [u4|u4z|nvfp4] [ptx|sass]   # instructions a 32-value row slot
  python3 bench/b1_isa.py regs LOG [u4|u4z|nvfp4]             # registers and spills of b1_lab's kernels
  python3 bench/b1_isa.py nvrtc [u4|u4z|nvfp4]                # the same kernels through libnvrtc

counts: writes a small .cu with the 8B's gate/up (K 4096, N 28672, SwiGLU, norm prologue, K split 1)
and down (K 14336, N 4096, residual, K split 2) as gemv_b1 emits them (2 rows a unit), every loop over
the groups unrolled (the static count is the executed count but for the 1/rms loop, whose body counts
once), compiles it (nvcc -ptx, or -cubin and cuobjdump -sass where the toolkit has cuobjdump), and
prints each kernel's instructions by class divided by the 32-value row slots a lane multiplies (2 x
the row's slots a lane): the fixed cost (reductions, epilogue) is spread over them.
Launch bounds as the emitter's: 128 threads, no least blocks an SM (MB 0).
PTX classes: weight loads (ld.global.nc.L1::no_allocate), x loads (plain ld.global: written under
PDL), nw loads (ld.global.nc .f32), scale loads (other ld.global.nc), lop3/prmt/shifts, f16x2
arithmetic, cvt.f32.f16, f32 fma/mul/add, and all instructions but mov (register moves, the f16
halves' unpacking: free or folded in SASS). SASS: LDG...NA, LDG
without CONSTANT, ..., HADD2.F32 for the conversions.
regs: LOG is `nvcc ... -Xptxas -v` output of bench/b1_lab.cu; prints registers and spill bytes of each
k_b1 instance of the format for the two matrices.
nvrtc: the counts' kernels as the emitter builds its kernels, through libnvrtc (CUDA's lib64 beside
nvcc, or LIBNVRTC) with codegen/nvrtc.c's options (-arch=sm_90a -std=c++17 -default-device -Xptxas -v)
and `__launch_bounds__(128)`: registers and spills.
gemv_b1's R, XF and ROLL options (gemv_b1x), which this script also counted, lost on an H100 and were
deleted (bench/NOTES.md "b1x"; the code last lived at e55cc8c)."""
import os, re, shutil, subprocess, sys, tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NVCC = os.environ.get("NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
WK = {"u4": 4, "u4z": 5, "nvfp4": 6}
MATS = [("gate/up", 4096, 28672, 1, 2, 1), ("down", 14336, 4096, 0, 1, 2)]

HEAD = """#include "codegen/cuda_gemv_b1.cuh"
#include "bench/bench_weights.h"
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int G, int MB>
__global__ void __launch_bounds__(128, MB) k_b1(const void *w, const float *x, float *y, const float *nw,
                                                const float *res, WQ wq)
{
    gemv_b1<KF(WK), K, N, NORM, EPI, KS, U, 0, 1, 1, 2, 1, 1, FMT_F16, G>(w, x, nullptr, y, nw, 1e-5f, res, RopeOut{}, wq);
}
"""


def kernels(fmt):
    wk, g = WK[fmt], 16 if fmt == "nvfp4" else 128
    out = []
    for (m, K, N, norm, epi, ks) in MATS:
        out.append((m, "gemv_b1 ks%d" % ks, 2, ks, K,
                    "template __global__ void k_b1<%d, %d, %d, %d, %d, %d, 1, %d, 0>(const void *, const float *, float *, "
                    "const float *, const float *, WQ);" % (wk, K, N, norm, epi, ks, g)))
    return out


def ptx_funcs(text):
    funcs, cur = {}, None
    for l in text.splitlines():
        m = re.match(r"\.visible \.entry (\S+)\(", l)
        if m:
            cur = m.group(1)
            funcs[cur] = []
            continue
        if cur is None:
            continue
        if l.startswith("}"):
            cur = None
            continue
        s = l.split("//")[0]
        for st in s.replace("{", ";").replace("}", ";").split(";"):  # inline asm: several statements a line
            st = st.strip()
            m = re.match(r"(@%?!?\w+\s+)?([a-z][\w.:]*)", st)
            if not m or st.endswith(":") or st.startswith(".") or m.group(2) in ("ret",):
                continue
            funcs[cur].append(m.group(2))
    return funcs


def ptx_class(op):
    if op.startswith("ld.global"):
        if "no_allocate" in op:
            return "ld w"
        if ".nc" in op:
            return "ld nw" if op.endswith(".f32") else "ld scale"
        return "ld x"
    if op.startswith(("lop3", "prmt", "shl", "shr", "and.", "or.")):
        return "lop3/prmt/shift"
    if op.startswith(("fma.rn.f16x2", "sub.rn.f16x2", "mul.rn.f16x2", "add.rn.f16x2")):
        return "f16x2"
    if op.startswith("cvt.f32.f16"):
        return "cvt"
    if op.startswith("fma.rn.f32"):
        return "ffma"
    if op.startswith("mul") and op.endswith(".f32"):
        return "fmul"
    if op.startswith("add") and op.endswith(".f32"):
        return "fadd"
    if op.startswith(("mov", "cvta")):
        return "mov"
    return None


def sass_funcs(text):
    funcs, cur = {}, None
    for l in text.splitlines():
        m = re.match(r"\s+Function : (\S+)", l)
        if m:
            cur = m.group(1)
            funcs[cur] = []
            continue
        m = re.match(r"\s+/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", l)
        if m and cur:
            funcs[cur].append(m.group(1))
    return funcs


def sass_class(op):
    b = op.split(".")[0]
    if b == "LDG":
        return "ld w" if ".NA" in op else ("ld nw" if ".CONSTANT" in op and ".128" in op else
                                          "ld scale" if ".CONSTANT" in op else "ld x")
    if b in ("LOP3", "PRMT", "SHF", "SHL", "SHR"):
        return "lop3/prmt/shift"
    if op.startswith("HADD2.F32") or b == "F2F":
        return "cvt"
    if b in ("HFMA2", "HADD2", "HMUL2"):
        return "f16x2"
    return {"FFMA": "ffma", "FMUL": "fmul", "FADD": "fadd"}.get(b)


def counts(fmt, isa):
    ks_ = kernels(fmt)
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "isa.cu")
        open(src, "w").write(HEAD + "\n".join(k[-1] for k in ks_) + "\n")
        out = os.path.join(t, "isa.out")
        flags = [NVCC, "-O2", "-std=c++17", "-arch=sm_90a", "-I", ROOT + "/ir", "-I", ROOT]
        if isa == "ptx":
            subprocess.run(flags + ["-ptx", "-o", out, src], check=True)
            funcs, cls = ptx_funcs(open(out).read()), ptx_class
        else:
            subprocess.run(flags + ["-cubin", "-o", out, src], check=True)
            cuobjdump = shutil.which("cuobjdump") or os.path.join(os.path.dirname(NVCC), "cuobjdump")
            dump = subprocess.run([cuobjdump, "-sass", out], check=True,
                                  capture_output=True, text=True).stdout
            funcs, cls = sass_funcs(dump), sass_class
    cols = ["ld w", "ld x", "ld nw", "ld scale", "lop3/prmt/shift", "f16x2", "cvt", "ffma", "fmul", "fadd", "all"]
    print("%s, %s instructions a 32-value row slot (a lane's static count / (2 x its slots a row)):" % (fmt, isa.upper()))
    print("| matrix | kernel | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 2))
    names = list(funcs)
    for (m, kern, r, ks, K, inst) in ks_:
        # the instance's mangled name: match by its template arguments in order
        args = re.findall(r"<([^>]*)>", inst)[0].replace(" ", "").split(",")
        want = "_Z4k_b1I" + "".join("Li%sE" % a for a in args)
        fn = [n for n in names if n.startswith(want)]
        if not fn:
            print("| %s | %s | (not found) |" % (m, kern))
            continue
        c = Counter()
        for op in funcs[fn[0]]:
            k = cls(op)
            if k:
                c[k] += 1
            c["all"] += k != "mov"
        slots = r * -(-(K // ks // 32) // 32)
        print("| %s | %s | %s |" % (m, kern, " | ".join("%.1f" % (c[x] / slots) for x in cols)))


def nvrtc(fmt):
    import ctypes
    path = os.environ.get("LIBNVRTC") or os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(NVCC))),
                                                     "lib64", "libnvrtc.so")
    lib = ctypes.CDLL(path)
    wk, g = WK[fmt], 16 if fmt == "nvfp4" else 128
    kf = {4: "FMT_U4", 5: "FMT_U4 | WITH_ZERO", 6: "FMT_NVFP4"}[wk]
    src, names = '#include "cuda_gemv_b1.cuh"\n', {}
    for (m, K, N, norm, epi, ks) in MATS:
        nm = "k%d" % len(names)
        names[nm] = (m, "gemv_b1 ks%d" % ks)
        src += ('extern "C" __global__ void __launch_bounds__(128) %s(const void *w, const float *x, float *y, '
                'const float *nw, const float *res, WQ wq)\n{\n    gemv_b1<%s, %d, %d, %d, %d, %d, 1, 0, 1, 1, 2, 1, 1, '
                'FMT_F16, %d>(w, x, nullptr, y, nw, 1e-5f, res, RopeOut{}, wq);\n}\n' % (nm, kf, K, N, norm, epi, ks, g))
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"b1.cu", 0, None, None) == 0
    inc = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(NVCC))), "include")
    opts = ["-arch=sm_90a", "-std=c++17", "-default-device", "-Xptxas", "-v", "-I" + ROOT + "/codegen",
            "-I" + ROOT + "/ir", "-I" + inc]
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts]))
    n = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
    buf = ctypes.create_string_buffer(n.value)
    lib.nvrtcGetProgramLog(prog, buf)
    log = buf.value.decode()
    if rc:
        sys.exit(log[-3000:])
    print("%s through NVRTC (sm_90a, __launch_bounds__(128)):" % fmt)
    print("| matrix | kernel | registers | spill bytes |")
    print("|---|---|---|---|")
    cur, spill, rows = None, 0, []
    for l in log.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", l)
        if m:
            cur = m.group(1)
        m = re.search(r"(\d+) bytes spill stores", l)
        if m:
            spill = int(m.group(1))
        m = re.search(r"Used (\d+) registers", l)
        if m and cur in names:
            rows.append("| %s | %s | %s | %d |" % (names[cur] + (m.group(1), spill)))
    print("\n".join(sorted(rows)))


def regs(log, fmt):
    wk = str(WK[fmt])
    cur, res = None, []
    for l in open(log):
        m = re.search(r"Compiling entry function '(\S+)'", l)
        if m:
            cur = m.group(1)
            continue
        m = re.search(r"(\d+) bytes spill stores", l)
        if m:
            spill = int(m.group(1))
        m = re.search(r"Used (\d+) registers", l)
        if not (m and cur):
            continue
        a = re.match(r"_Z4k_b1I((?:Li\d+E){9})", cur)
        if not a:
            continue
        v = re.findall(r"Li(\d+)E", a.group(1))
        if v[0] != wk or (v[1], v[2]) not in (("4096", "28672"), ("14336", "4096")):
            continue
        mat = "gate/up" if v[1] == "4096" else "down"
        name = "gemv_b1 ks%s u%s mb%s%s" % (v[5], v[6], v[8], " nonorm" if mat == "gate/up" and v[3] == "0" else "")
        res.append((mat, name, int(m.group(1)), spill))
    print("| matrix | kernel | registers | spill bytes |")
    print("|---|---|---|---|")
    for r in sorted(res):
        print("| %s | %s | %d | %d |" % r)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "counts":
        counts(sys.argv[2] if len(sys.argv) > 2 else "u4", sys.argv[3] if len(sys.argv) > 3 else "ptx")
    elif len(sys.argv) > 1 and sys.argv[1] == "nvrtc":
        nvrtc(sys.argv[2] if len(sys.argv) > 2 else "u4")
    elif len(sys.argv) > 2 and sys.argv[1] == "regs":
        regs(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "u4")
    else:
        sys.exit(__doc__)
