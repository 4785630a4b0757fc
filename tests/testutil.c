/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char shared_buf[8][4096];
static int shared_next;

const char *tu_shared(const char *rel)
{
    char *b = shared_buf[shared_next++ % 8];
    snprintf(b, 4096, "%s/models/%s", LLMC_SHARED_DIR, rel);
    struct stat st;
    return stat(b, &st) == 0 ? b : NULL;
}

int tu_need_shared(const char *rel)
{
    if (tu_shared(rel))
        return 0;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        ck_abort_msg("%s/models/%s is missing: CI always has ../shared", LLMC_SHARED_DIR, rel);
    fprintf(stderr, "skipping: %s/models/%s not found (../shared beside the checkout)\n",
            LLMC_SHARED_DIR, rel);
    return 1;
}

static char tmp_root[512];

static void tu_cleanup(void)
{
    if (tmp_root[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp_root);
    }
}

const char *tu_tmpdir(void)
{
    static char dirs[16][600];
    static int n;
    if (!tmp_root[0]) {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/llmc-test-XXXXXX");
        if (!mkdtemp(tmp_root))
            ck_abort_msg("mkdtemp failed");
        atexit(tu_cleanup);
    }
    char *d = dirs[n % 16];
    snprintf(d, 600, "%s/%d", tmp_root, n++);
    mkdir(d, 0755);
    return d;
}

int tu_run(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    char tmp[4096];
    while ((r = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (n + r + 1 > cap) {
            while (n + r + 1 > cap)
                cap *= 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + n, tmp, r);
        n += r;
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *tu_llmc(void) { return LLMC_BINARY_DIR "/llmc"; }

static int run_suite(Suite *s, enum fork_status fork)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, fork);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

int tu_main(Suite *s) { return run_suite(s, CK_FORK_GETENV); }

int tu_main_nofork(Suite *s) { return run_suite(s, CK_NOFORK); }

uint64_t tu_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t tu_step_hash(uint64_t h, int32_t tok, int32_t pos)
{
    return tu_mix64(h ^ ((uint64_t)(uint32_t)tok * 0x9e3779b97f4a7c15ULL + (uint64_t)pos));
}
