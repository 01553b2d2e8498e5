/*
 * The epochs to plot (see plot.h): kept sorted by epoch, read from the
 * JSON-lines log of `onnxc train --log`. The log is flat (one object of
 * numbers per line), so a small reader that understands exactly JSON's
 * grammar for values, and skips what it does not use, is enough; it names
 * the line and what it expected on any deviation.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"

void cli_history_free(cli_history *h)
{
    free(h->points);
    *h = (cli_history){0};
}

bool cli_history_add(cli_history *h, const cli_epoch_point *p)
{
    /* Logs arrive in epoch order, so the place is almost always the end. */
    size_t at = h->count;
    while (at > 0 && h->points[at - 1].epoch > p->epoch) at--;
    if (at > 0 && h->points[at - 1].epoch == p->epoch) {
        h->points[at - 1] = *p;
        return true;
    }
    if (h->count == h->capacity) {
        size_t cap = h->capacity ? 2 * h->capacity : 64;
        cli_epoch_point *grown = realloc(h->points, cap * sizeof *grown);
        if (!grown) return false;
        h->points = grown;
        h->capacity = cap;
    }
    memmove(h->points + at + 1, h->points + at, (h->count - at) * sizeof *h->points);
    h->points[at] = *p;
    h->count++;
    return true;
}

/* A cursor over one line, with the first problem found. */
typedef struct json_cursor {
    const char *s;
    const char *error;           /* static text, or NULL */
    char got[24];                /* what stood where the error was found */
} json_cursor;

static void skip_ws(json_cursor *c)
{
    while (*c->s == ' ' || *c->s == '\t' || *c->s == '\r' || *c->s == '\n') c->s++;
}

static bool fail(json_cursor *c, const char *expected)
{
    if (!c->error) {
        c->error = expected;
        if (!*c->s) snprintf(c->got, sizeof c->got, "end of line");
        else snprintf(c->got, sizeof c->got, "'%.12s'", c->s);
    }
    return false;
}

/* A string; its contents (escapes left as written) go to buf when given. */
static bool parse_string(json_cursor *c, char *buf, size_t size)
{
    if (*c->s != '"') return fail(c, "a string");
    c->s++;
    size_t n = 0;
    while (*c->s != '"') {
        if (!*c->s || (unsigned char)*c->s < 0x20) return fail(c, "a closing '\"'");
        if (*c->s == '\\') {
            if (buf && n + 1 < size) buf[n++] = *c->s;
            c->s++;
            if (!*c->s) return fail(c, "an escaped character");
        }
        if (buf && n + 1 < size) buf[n++] = *c->s;
        c->s++;
    }
    c->s++;
    if (buf) buf[n] = '\0';
    return true;
}

/* A JSON number (strtod alone would also take "inf", hex and "1."). */
static bool parse_number(json_cursor *c, double *out)
{
    const char *p = c->s;
    if (*p != '-' && !isdigit((unsigned char)*p)) return fail(c, "a JSON value");
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return fail(c, "a number");
    if (*p == '0') p++;
    else while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return fail(c, "digits after '.'");
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return fail(c, "an exponent");
        while (isdigit((unsigned char)*p)) p++;
    }
    *out = strtod(c->s, NULL);   /* overflow gives +-HUGE_VAL: not finite, as null */
    c->s = p;
    return true;
}

static bool parse_literal(json_cursor *c, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(c->s, word, n) != 0) return fail(c, "a JSON value");
    c->s += n;
    return true;
}

/* Any value; numbers land in *num (NaN for null and everything else). */
static bool parse_value(json_cursor *c, double *num, int depth)
{
    *num = NAN;
    skip_ws(c);
    if (depth > 32) return fail(c, "at most 32 levels of nesting");
    switch (*c->s) {
    case '"': return parse_string(c, NULL, 0);
    case 'n': return parse_literal(c, "null");
    case 't': return parse_literal(c, "true");
    case 'f': return parse_literal(c, "false");
    case '{': case '[': {
        char close = *c->s == '{' ? '}' : ']';
        c->s++;
        skip_ws(c);
        if (*c->s == close) {
            c->s++;
            return true;
        }
        for (;;) {
            double ignored;
            if (close == '}') {
                skip_ws(c);
                if (!parse_string(c, NULL, 0)) return false;
                skip_ws(c);
                if (*c->s != ':') return fail(c, "':'");
                c->s++;
            }
            if (!parse_value(c, &ignored, depth + 1)) return false;
            skip_ws(c);
            if (*c->s == close) {
                c->s++;
                return true;
            }
            if (*c->s != ',') return fail(c, close == '}' ? "',' or '}'" : "',' or ']'");
            c->s++;
        }
    }
    default: return parse_number(c, num);
    }
}

/* One log line into *p. Returns false with c->error set. */
static bool parse_line(json_cursor *c, cli_epoch_point *p)
{
    *p = (cli_epoch_point){.epoch = -1, .loss = NAN, .accuracy = NAN, .val_loss = NAN, .val_accuracy = NAN};
    skip_ws(c);
    if (*c->s != '{') return fail(c, "a JSON object '{'");
    c->s++;
    skip_ws(c);
    bool first = true;
    while (*c->s != '}') {
        if (!first) {
            if (*c->s != ',') return fail(c, "',' or '}'");
            c->s++;
            skip_ws(c);
        }
        first = false;
        char key[64];
        if (!parse_string(c, key, sizeof key)) return false;
        skip_ws(c);
        if (*c->s != ':') return fail(c, "':'");
        c->s++;
        double v;
        const char *value_at = c->s;
        if (!parse_value(c, &v, 1)) return false;
        if (!strcmp(key, "epoch")) {
            if (!(v >= 1 && v <= INT_MAX && v == floor(v))) {
                c->s = value_at;
                skip_ws(c);
                return fail(c, "\"epoch\" to be an integer >= 1");
            }
            p->epoch = (int)v;
        } else if (!strcmp(key, "loss")) p->loss = v;
        else if (!strcmp(key, "accuracy")) p->accuracy = v;
        else if (!strcmp(key, "val_loss")) p->val_loss = v;
        else if (!strcmp(key, "val_accuracy")) p->val_accuracy = v;
        skip_ws(c);
    }
    c->s++;
    skip_ws(c);
    if (*c->s) return fail(c, "the end of the line after '}'");
    if (p->epoch < 0) return fail(c, "an \"epoch\" key in the object");
    return true;
}

/* Next line into a growing buffer; false at end of file. *complete says
 * whether it ended with '\n' (a killed run can leave half a line). */
static bool read_line(FILE *f, char **buf, size_t *cap, bool *complete)
{
    if (!*buf) {
        if (!(*buf = malloc(256))) return false;
        *cap = 256;
    }
    size_t n = 0;
    int ch;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n + 1 >= *cap) {
            size_t grown_cap = 2 * *cap;
            char *grown = realloc(*buf, grown_cap);
            if (!grown) return false;
            *buf = grown;
            *cap = grown_cap;
        }
        (*buf)[n++] = (char)ch;
    }
    if (ch == EOF && n == 0) return false;
    (*buf)[n] = '\0';
    *complete = ch == '\n';
    return true;
}

int cli_history_read(const char *path, cli_history *h)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "onnxc: error: %s: cannot open the log: %s\n", path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    char *line = NULL;
    size_t cap = 0, line_no = 0;
    bool complete = true;
    int rc = EXIT_OK;
    while (rc == EXIT_OK && read_line(f, &line, &cap, &complete)) {
        line_no++;
        json_cursor c = {.s = line};
        skip_ws(&c);
        if (!*c.s) continue;
        cli_epoch_point p;
        if (!parse_line(&c, &p)) {
            if (!complete) {
                /* Only the last line can lack its '\n': a run killed while
                 * writing it. The finished epochs before it still count. */
                fprintf(stderr, "onnxc: warning: %s:%zu: ignoring an unfinished last line\n", path, line_no);
                break;
            }
            fprintf(stderr, "onnxc: error: %s:%zu: expected %s, got %s\n", path, line_no, c.error, c.got);
            rc = EXIT_BAD_INPUT;
        } else if (!cli_history_add(h, &p)) {
            fprintf(stderr, "onnxc: error: %s: out of memory\n", path);
            rc = EXIT_BAD_INPUT;
        }
    }
    if (rc == EXIT_OK && ferror(f)) {
        fprintf(stderr, "onnxc: error: %s: cannot read the log: %s\n", path, strerror(errno));
        rc = EXIT_BAD_INPUT;
    }
    if (rc == EXIT_OK && h->count == 0) {
        fprintf(stderr, "onnxc: error: %s: expected one JSON object per epoch, got no epochs\n", path);
        rc = EXIT_BAD_INPUT;
    }
    free(line);
    fclose(f);
    return rc;
}
