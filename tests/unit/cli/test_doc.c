/* SPDX-License-Identifier: MIT */
/*
 * test_doc.c: src/cli/doc.c on a made-up command table: a command's --help captured from its
 * stdout, its man page in roff (synopsis, items, continuation lines, escapes), the galley(1)
 * index, every page written by gl_cli_man_dir, and the bash and zsh completions' option lists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "galley/cli.h"

static int run_frob(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("usage: galley frob NAME [--fast] [--level N | --off]\n"
          "  frob a function; the daemon's --other-flag is not ours\n"
          "  NAME          the function\n"
          "  --fast        go fast, with a long description that\n"
          "                continues on a second line\n"
          "  -q, --quiet   say less\n"
          ".dot \\back\n",
          stdout);
    return 0;
}

static int run_plain(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("usage: galley plain\n", stdout);
    return 0;
}

static const gl_cli_command_t table[] = {
    {"frob", run_frob, "frob a function's thing"},
    {"plain", run_plain, "do nothing"},
};

/* What gl_cli_man (shell NULL: name is the page) or gl_cli_completion (name NULL) wrote,
 * malloc'd; *rc is its return. */
static char *capture(const char *name, const char *shell, int *rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *rc = shell ? gl_cli_completion(f, table, 2, shell) : gl_cli_man(f, table, 2, name, "9.9");
    fclose(f);
    return text;
}

#define capture_man(name, rc) capture((name), NULL, (rc))
#define capture_completion(shell, rc) capture(NULL, (shell), (rc))

static void test_help_text_is_captured_and_stdout_restored(void **state)
{
    (void)state;
    struct stat before, after;
    assert_int_equal(fstat(STDOUT_FILENO, &before), 0);
    char *help = gl_cli_help_text(&table[1]);
    assert_string_equal(help, "usage: galley plain\n");
    free(help);
    /* stdout is the same file afterwards (the redirection was undone). */
    assert_int_equal(fstat(STDOUT_FILENO, &after), 0);
    assert_true(before.st_dev == after.st_dev && before.st_ino == after.st_ino);
}

static void test_man_page_of_a_command(void **state)
{
    (void)state;
    int rc;
    char *man = capture_man("frob", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(man, ".TH GALLEY-FROB 1 \"\" \"galley 9.9\""));
    assert_non_null(strstr(man, ".SH NAME\ngalley\\-frob \\- frob a function's thing\n"));
    assert_non_null(strstr(man, ".SH SYNOPSIS\ngalley frob NAME [\\-\\-fast]"));
    /* Text before the first item describes; items become tagged paragraphs. */
    assert_non_null(strstr(man, ".PP\nfrob a function; the daemon's \\-\\-other\\-flag"));
    assert_non_null(strstr(man, ".SH OPTIONS\n.TP\n.B NAME\nthe function\n"));
    assert_non_null(strstr(man, ".TP\n.B \\-\\-fast\ngo fast, with a long description that\n"
                                "continues on a second line\n"));
    assert_non_null(strstr(man, ".TP\n.B \\-q, \\-\\-quiet\nsay less\n"));
    /* A leading dot is made literal, a backslash escaped. */
    assert_non_null(strstr(man, "\\&.dot \\eback\n"));
    assert_non_null(strstr(man, ".SH SEE ALSO\n.BR galley (1)\n"));
    free(man);
    man = capture_man("nope", &rc);
    assert_int_equal(rc, -ENOENT);
    free(man);
}

static void test_man_index_lists_every_command(void **state)
{
    (void)state;
    int rc;
    char *man = capture_man(NULL, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(man, ".TH GALLEY 1"));
    assert_non_null(strstr(man, ".TP\n.B frob\nfrob a function's thing\n"));
    assert_non_null(strstr(man, ".TP\n.B plain\ndo nothing\n"));
    assert_non_null(strstr(man, ".BR galley\\-frob (1),\n.BR galley\\-plain (1)\n"));
    free(man);
}

static void test_man_dir_writes_every_page(void **state)
{
    (void)state;
    char dir[] = "/tmp/galley-test-doc-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(gl_cli_man_dir(dir, table, 2, "9.9"), 0);
    const char *pages[] = {"galley.1", "galley-frob.1", "galley-plain.1"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, pages[i]);
        assert_int_equal(access(path, R_OK), 0);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(gl_cli_man_dir("/nonexistent/dir", table, 2, "9.9"), -ENOENT);
}

static void test_completions_list_commands_and_their_options(void **state)
{
    (void)state;
    int rc;
    char *bash = capture_completion("bash", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(bash, "compgen -W \"frob plain --help --version\""));
    /* Options in brackets, alternatives, items and after a short form; not in a sentence. */
    assert_non_null(strstr(bash, "    frob) opts=\"--fast --level --off --quiet\" ;;\n"));
    assert_non_null(strstr(bash, "    plain) opts=\"\" ;;\n"));
    assert_non_null(strstr(bash, "complete -o default -F _galley galley\n"));
    free(bash);
    char *zsh = capture_completion("zsh", &rc);
    assert_int_equal(rc, 0);
    assert_true(!strncmp(zsh, "#compdef galley\n", 16));
    assert_non_null(strstr(zsh, "'frob:frob a function'\\''s thing'"));
    assert_non_null(strstr(zsh, "    frob) opts=(--fast --level --off --quiet) ;;\n"));
    free(zsh);
    free(capture_completion("fish", &rc));
    assert_int_equal(rc, -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_text_is_captured_and_stdout_restored),
        cmocka_unit_test(test_man_page_of_a_command),
        cmocka_unit_test(test_man_index_lists_every_command),
        cmocka_unit_test(test_man_dir_writes_every_page),
        cmocka_unit_test(test_completions_list_commands_and_their_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
