/* paths.c — file tests and the path forms a model.json uses, shared by the importers and the
 * dispatcher.
 *
 * A model.json refers to files relative to its own directory, base_dir. fe_rel_path computes that
 * form with realpath so `llmc import ../ckpt -o out/model.json` works from any working directory;
 * files with nothing but "/" in common with base_dir keep an absolute path.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_internal.h"

int fe_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int fe_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

char *fe_base_name(const char *path, int strip_ext)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    size_t e = n;
    if (strip_ext) {
        for (size_t i = n; i > b + 1; i--)
            if (path[i - 1] == '.') {
                e = i - 1;
                break;
            }
    }
    char *r = malloc(e - b + 1);
    if (r) {
        memcpy(r, path + b, e - b);
        r[e - b] = 0;
    }
    return r;
}

/* An absolute form of path: realpath when it resolves, else joined onto the working directory. */
static char *abs_path(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    if (path[0] == '/')
        return llmc_strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return llmc_strdup(path);
    return llmc_path_join(cwd, path);
}

/* realpath of a directory that may not exist yet (`-o out/model.json` before out/ is made): the
 * nearest existing ancestor resolved, the rest appended. */
static char *real_dir(const char *dir)
{
    char *cur = llmc_strdup(dir), *tail = llmc_strdup("");
    char *r = NULL;
    while (cur && tail) {
        r = realpath(cur, NULL);
        if (r || strcmp(cur, ".") == 0 || strcmp(cur, "/") == 0)
            break;
        char *last = fe_base_name(cur, 0), *up = llmc_path_dir(cur);
        size_t n = (last ? strlen(last) : 0) + strlen(tail) + 2;
        char *nt = last ? malloc(n) : NULL;
        if (nt)
            snprintf(nt, n, "%s%s%s", last, tail[0] ? "/" : "", tail);
        free(last);
        free(tail);
        free(cur);
        tail = nt;
        cur = up;
    }
    char *out = NULL;
    if (r && tail)
        out = tail[0] ? llmc_path_join(r, tail) : llmc_strdup(r);
    free(r);
    free(cur);
    free(tail);
    return out;
}

char *fe_rel_path(const char *file, const char *base_dir)
{
    char *f = abs_path(file);
    char *b = real_dir(base_dir && base_dir[0] ? base_dir : ".");
    if (!f || !b) {
        free(b);
        return f;
    }
    /* Length of the common directory prefix (whole components). */
    size_t common = 0;
    for (size_t i = 1;; i++) {
        int fend = f[i] == 0 || f[i] == '/', bend = b[i] == 0 || b[i] == '/';
        if (fend && bend) {
            common = i;
            if (!f[i] || !b[i])
                break;
            continue;
        }
        if (f[i] != b[i] || !f[i] || !b[i])
            break;
    }
    /* b == "/" shares only the root with everything. */
    if (common <= 1 || strcmp(b, "/") == 0) {
        free(b);
        return f;
    }
    int ups = 0;
    for (const char *p = b + common; *p; p++)
        if (*p == '/')
            ups++;
    const char *rest = f + common;
    while (*rest == '/')
        rest++;
    size_t n = (size_t)ups * 3 + strlen(rest) + 2;
    char *r = malloc(n);
    if (r) {
        r[0] = 0;
        for (int i = 0; i < ups; i++)
            strcat(r, "../");
        strcat(r, rest);
        size_t len = strlen(r);
        if (len == 0)
            strcpy(r, ".");
        else if (r[len - 1] == '/')
            r[len - 1] = 0;
    }
    free(b);
    free(f);
    return r;
}
