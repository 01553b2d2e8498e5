/* Internal error reporting: fill an onnxc_error and return its status. */
#ifndef OC_ERROR_H
#define OC_ERROR_H

#include "onnxc.h"

#if defined(__GNUC__)
#define OC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OC_PRINTF(a, b)
#endif

/* Replace err's message with the formatted text; returns `status`. err may be NULL. */
onnxc_status oc_fail(onnxc_error *err, onnxc_status status, const char *fmt, ...) OC_PRINTF(3, 4);

/* Append one more line to err's message (used to report every problem at
 * once); keeps the first failing status. Returns `status`. */
onnxc_status oc_append(onnxc_error *err, onnxc_status status, const char *fmt, ...) OC_PRINTF(3, 4);

/* Prefix err's message with "<prefix>: " (adds context such as a file name). */
void oc_prefix(onnxc_error *err, const char *fmt, ...) OC_PRINTF(2, 3);

void oc_error_clear(onnxc_error *err);

#define OC_TRY(expr)                                                       \
    do {                                                                   \
        onnxc_status oc_try_status_ = (expr);                              \
        if (oc_try_status_ != ONNXC_OK) return oc_try_status_;            \
    } while (0)

#endif
