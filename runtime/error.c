#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
    [ONNXC_OK] = "ok",
    [ONNXC_ERR_ARGUMENT] = "invalid argument",
    [ONNXC_ERR_IO] = "i/o error",
    [ONNXC_ERR_PARSE] = "parse error",
    [ONNXC_ERR_MODEL] = "invalid model",
    [ONNXC_ERR_UNSUPPORTED] = "unsupported",
    [ONNXC_ERR_LIMIT] = "limit exceeded",
    [ONNXC_ERR_SHAPE] = "shape or type mismatch",
    [ONNXC_ERR_RUNTIME] = "runtime error",
    [ONNXC_ERR_NOMEM] = "out of memory",
    [ONNXC_ERR_NUMERIC] = "numeric error",
};

const char *onnxc_status_name(onnxc_status status)
{
    if ((unsigned)status < sizeof status_names / sizeof status_names[0] && status_names[status])
        return status_names[status];
    return "unknown status";
}

void oc_error_clear(onnxc_error *err)
{
    if (!err) return;
    err->status = ONNXC_OK;
    err->message[0] = '\0';
}

onnxc_status oc_fail(onnxc_error *err, onnxc_status status, const char *fmt, ...)
{
    if (!err) return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->status = status;
    return status;
}

onnxc_status oc_append(onnxc_error *err, onnxc_status status, const char *fmt, ...)
{
    if (!err) return status;
    if (err->status == ONNXC_OK) {
        err->message[0] = '\0';
        err->status = status;
    }
    size_t used = strlen(err->message);
    if (used > 0 && used + 1 < sizeof err->message) {
        err->message[used++] = '\n';
        err->message[used] = '\0';
    }
    if (used + 1 < sizeof err->message) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message + used, sizeof err->message - used, fmt, ap);
        va_end(ap);
    }
    return err->status;
}

void oc_prefix(onnxc_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->message];
    memcpy(old, err->message, sizeof old);
    /* Prefix every line so each stays self-contained on stderr. */
    size_t out = 0;
    const char *line = old;
    while (*line && out + 1 < sizeof err->message) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int n = snprintf(err->message + out, sizeof err->message - out, "%s%s: %.*s",
                         out ? "\n" : "", prefix, (int)len, line);
        if (n < 0) break;
        out += (size_t)n;
        if (out >= sizeof err->message) { out = sizeof err->message - 1; break; }
        if (!nl) break;
        line = nl + 1;
    }
    err->message[out] = '\0';
}
