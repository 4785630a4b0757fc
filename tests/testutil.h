/* testutil.h — helpers shared by the Check suites: locating ../shared, temporary directories,
 * running llmc and the compiled executables. */
#ifndef LLMC_TESTUTIL_H
#define LLMC_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* A passing check records nothing. Check's ck_assert_msg, which every ck_assert* expands to, calls
 * _mark_point on each pass: a write(2) of its location to the runner's file, 2.7 million of them in
 * test_quant's element loops (seconds of system time a run, more under ASan: bench/NOTES.md, "CI
 * time, fifth pass"). A failure reports as before (file, line, expression, message); what goes is
 * the "last passed point" Check names when a test dies by a signal or a timeout, which is then the
 * test's start (ASan and UBSan print a crash's stack in the sanitized build). */
#undef ck_assert_msg
#define ck_assert_msg(expr, ...) \
    ((expr) ? (void)0 : _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed", ##__VA_ARGS__))

/* Path to a file under ../shared/models, or NULL when ../shared is missing. */
const char *tu_shared(const char *rel);
/* Call at the start of a test that needs ../shared: fails under CI=true, returns 1 (skip) elsewhere. */
int tu_need_shared(const char *rel);
/* A fresh temporary directory (removed by tu_cleanup at exit). */
const char *tu_tmpdir(void);
/* Runs a shell command; returns its exit status (-1 when it could not run). Output captured into
 * *out (malloc'd, may be NULL) when out != NULL. */
int tu_run(const char *cmd, char **out);
/* Path to the llmc binary under test. */
const char *tu_llmc(void);
/* The fake models of test_runtime and test_gpu_runtime: a 64-bit mix (splitmix64's finalizer) and
 * the running hash of a sequence's tokens that their logits are derived from. */
uint64_t tu_mix64(uint64_t z);
uint64_t tu_step_hash(uint64_t h, int32_t tok, int32_t pos);
/* Runs a Check suite with CK_NORMAL output; returns the process exit code. */
int tu_main(Suite *s);
/* tu_main with every test in this process, one after another (Check's CK_NOFORK): for a suite whose
 * tests share what they have done (test_cuda's kernels compiled). A failed check still ends only its
 * test; a crash ends the suite; tcase timeouts do not apply (ctest's TIMEOUT does). */
int tu_main_nofork(Suite *s);

#endif
