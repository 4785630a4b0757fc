/* tool.c — runs a program of the toolchain (the host C compiler, clang for AMD code objects)
 * directly: fork/exec, no shell, its output appended to a log, TMPDIR pointing into the build
 * directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen.h"

extern char **environ;

int llmc_run_tool(char *const argv[], const char *log, const char *dir)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env), *tmpdir = malloc(strlen(dir) + 8);
    if (!env || !tmpdir) {
        free(env);
        free(tmpdir);
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "TMPDIR=", 7) != 0)
            env[m++] = environ[i];
    strcpy(tmpdir, "TMPDIR=");
    strcat(tmpdir, dir);
    env[m++] = tmpdir;
    env[m] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        free(env);
        free(tmpdir);
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        environ = env; /* a pointer: nothing but async-signal-safe calls after fork */
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(env);
    free(tmpdir);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

