/*
 * proto/onnx.proto against the ONNX schema compiled into the python onnx
 * package (an outside reference): tests/tools/check_schema.py compares every
 * message, field (name, number, label, type, oneof, packing) and enum value,
 * nested ones included. Ours may be newer (IR 10), never different.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef ONNXC_TEST_PYTHON
#define ONNXC_TEST_PYTHON "/usr/bin/python3"
#endif

#define CHECKER ONNXC_SOURCE_DIR "/tests/tools/check_schema.py"
#define PROTO ONNXC_SOURCE_DIR "/proto/onnx.proto"

Test(schema, matches_python_onnx, .timeout = 120)
{
    const char *argv[] = {ONNXC_TEST_PYTHON, CHECKER, PROTO, NULL};
    tu_proc p;
    tu_run(argv, 120, &p);
    cr_expect_eq(p.status, 0, "check_schema.py exited %d (1: mismatches, 2: parse error)\n%s%s",
                 p.status, p.out, p.err);
    tu_proc_free(&p);
}

/* The checker must notice a wrong number, type and a missing field; a checker
 * that passes everything would make the test above worthless. */
Test(schema, checker_catches_mismatches, .timeout = 120)
{
    void *text = NULL;
    size_t size = 0;
    cr_assert(tu_read_file(PROTO, &text, &size), "cannot read %s", PROTO);
    static const char *const edits[][2] = {
        {"optional int64 ir_version = 1;", "optional int64 ir_version = 99;"},
        {"optional int64 i = 3;", "optional int32 i = 3;"},
        {"optional string producer_version = 3;", ""},
    };
    char *dir = tu_tmpdir("schema");
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        char *hit = strstr((char *)text, edits[k][0]);
        cr_assert_not_null(hit, "proto/onnx.proto no longer contains '%s'; update this test",
                           edits[k][0]);
        size_t pre = (size_t)(hit - (char *)text), old_len = strlen(edits[k][0]),
               new_len = strlen(edits[k][1]);
        char *bad = malloc(size - old_len + new_len + 1);
        cr_assert_not_null(bad);
        memcpy(bad, text, pre);
        memcpy(bad + pre, edits[k][1], new_len);
        memcpy(bad + pre + new_len, hit + old_len, size - pre - old_len + 1);
        char *path = tu_path("%s/bad%zu.proto", dir, k);
        cr_assert(tu_write_file(path, bad, strlen(bad)));
        const char *argv[] = {ONNXC_TEST_PYTHON, CHECKER, path, NULL};
        tu_proc p;
        tu_run(argv, 120, &p);
        cr_expect_eq(p.status, 1, "check_schema.py on a proto with '%s' -> '%s' exited %d, "
                                  "expected 1\n%s%s",
                     edits[k][0], edits[k][1], p.status, p.out, p.err);
        tu_proc_free(&p);
        free(path);
        free(bad);
    }
    tu_rmtree(dir);
    free(dir);
    free(text);
}
