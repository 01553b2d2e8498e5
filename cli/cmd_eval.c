/* onnxc eval: loss, accuracy and confusion matrix (onnxc_trainer_evaluate). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "data_args.h"

static const char help[] =
    "usage: onnxc eval MODEL (--data DIR | --x X.npy --y Y.npy) [options]\n"
    "\n"
    "Evaluate MODEL (.onnx, .h5 or .keras) on labelled data: print the loss, the\n"
    "accuracy and, for integer labels, the confusion matrix (rows: true class,\n"
    "columns: predicted class). With --data DIR the t10k split is used, or the\n"
    "train split when the folder has no t10k files.\n"
    "\n"
    "options:\n"
    "  --data DIR            idx folder (t10k-images-idx3-ubyte[.gz], ...)\n"
    "  --x X.npy --y Y.npy   samples [n, ...] and labels [n] or targets [n, k]\n"
    "  --loss NAME           sparse_categorical_crossentropy (default),\n"
    "                        categorical_crossentropy, binary_crossentropy, mse\n"
    "  --from-logits         the model outputs logits (Keras from_logits=True)\n"
    "  --batch-size N        samples per forward pass (default 32)\n"
    "  --threads N           kernel threads (default: all); results do not change\n";

enum { OPT_LOSS = 0x100, OPT_BATCH, OPT_THREADS, OPT_FROM_LOGITS };

/* Matrices wider than this are summarized instead of printed. */
#define MAX_PRINTED_CLASSES 100

typedef struct eval_args {
    const char *model_path;
    cli_data_args data;
    const char *loss;
    long batch_size, threads;
    bool from_logits;
} eval_args;

static int parse_args(int argc, char **argv, eval_args *a)
{
    static const struct option opts[] = {
        CLI_DATA_OPTIONS,
        {"loss", required_argument, 0, OPT_LOSS},
        {"batch-size", required_argument, 0, OPT_BATCH},
        {"threads", required_argument, 0, OPT_THREADS},
        {"from-logits", no_argument, 0, OPT_FROM_LOGITS},
        {0, 0, 0, 0},
    };
    *a = (eval_args){.batch_size = 32};
    optind = 1;
    opterr = 0;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_DATA: case CLI_OPT_X: case CLI_OPT_Y:
            if ((rc = cli_data_option("eval", c, optarg, &a->data))) return rc;
            break;
        case OPT_LOSS: a->loss = optarg; break;
        case OPT_FROM_LOGITS: a->from_logits = true; break;
        case OPT_BATCH:
            if (!cli_parse_int(optarg, 1, 1 << 24, &a->batch_size))
                return cli_usage_error("eval", "--batch-size expects an integer 1..16777216, got '%s'", optarg);
            break;
        case OPT_THREADS:
            if (!cli_parse_int(optarg, 1, 4096, &a->threads))
                return cli_usage_error("eval", "--threads expects an integer 1..4096, got '%s'", optarg);
            break;
        case ':': return cli_usage_error("eval", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc) return cli_usage_error("eval", "expected a MODEL argument");
    if (optind != argc - 1) return cli_usage_error("eval", "expected one MODEL, got '%s' as well", argv[optind + 1]);
    a->model_path = argv[optind];
    return cli_data_validate("eval", &a->data);
}

/* Classes of the confusion matrix: the larger of the labels seen and the
 * model's output width, so every prediction has a column. */
static size_t confusion_classes(const onnxc_model *m, const onnxc_dataset *ds)
{
    size_t classes = onnxc_dataset_classes(ds);
    onnxc_value_info vi;
    if (onnxc_model_output_count(m) > 0 && onnxc_model_output(m, 0, &vi) == ONNXC_OK && vi.rank >= 2) {
        int64_t width = 1;
        for (int d = 1; d < vi.rank && width > 0; d++) width = vi.dims[d] > 0 ? width * vi.dims[d] : -1;
        if (width > 0 && (size_t)width > classes) classes = (size_t)width;
    }
    return classes;
}

static int digits(uint64_t v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* One row per true class, one column per predicted class, right-aligned. */
static void print_confusion(const uint64_t *cm, size_t classes)
{
    uint64_t largest = classes ? classes - 1 : 0;
    for (size_t i = 0; i < classes * classes; i++)
        if (cm[i] > largest) largest = cm[i];
    int w = digits(largest) + 1;
    if (w < 4) w = 4;
    printf("Confusion matrix (rows: true class, columns: predicted class):\n");
    printf("%*s", w, "");
    for (size_t j = 0; j < classes; j++) printf(" %*zu", w, j);
    printf("\n");
    for (size_t i = 0; i < classes; i++) {
        printf("%*zu", w, i);
        for (size_t j = 0; j < classes; j++) printf(" %*" PRIu64, w, cm[i * classes + j]);
        printf("\n");
    }
}

static int evaluate(const eval_args *a, onnxc_loss loss_kind, onnxc_model *m, const onnxc_dataset *ds,
                    const char *split)
{
    onnxc_error err;
    onnxc_trainer_options to;
    onnxc_trainer_options_default(&to);
    to.loss = loss_kind;
    to.threads = (int)a->threads;
    to.from_logits = a->from_logits;
    /* The confusion matrix needs one integer label per sample. */
    bool labels = to.loss == ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    size_t classes = labels ? confusion_classes(m, ds) : 0;
    bool printed = classes > 0 && classes <= MAX_PRINTED_CLASSES;
    uint64_t *cm = printed ? calloc(classes * classes, sizeof *cm) : NULL;
    if (printed && !cm) {
        fprintf(stderr, "onnxc: error: out of memory for a %zu x %zu confusion matrix\n", classes, classes);
        return EXIT_BAD_INPUT;
    }
    onnxc_trainer *t = NULL;
    double loss = 0.0, accuracy = 0.0;
    int rc = EXIT_OK;
    if (onnxc_trainer_create(m, &to, &t, &err) != ONNXC_OK ||
        onnxc_trainer_evaluate(t, ds, (int)a->batch_size, &loss, &accuracy, cm, cm ? classes : 0, &err) !=
            ONNXC_OK) {
        rc = cli_report(&err);
    } else {
        char what[4200];
        cli_data_describe(&a->data, split, what, sizeof what);
        printf("Evaluated %s on %s: %zu samples\n", a->model_path, what, onnxc_dataset_size(ds));
        printf("loss: %.4f - accuracy: %.4f\n", loss, accuracy);
        if (printed)
            print_confusion(cm, classes);
        else if (classes)
            printf("Confusion matrix: %zu classes, too many to print (at most %d)\n", classes, MAX_PRINTED_CLASSES);
        else
            printf("Confusion matrix: only for integer labels (loss sparse_categorical_crossentropy)\n");
    }
    onnxc_trainer_free(t);
    free(cm);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    onnxc_loss loss = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    onnxc_error err;
    if (a.loss && onnxc_loss_from_name(a.loss, &loss, &err) != ONNXC_OK)
        return cli_usage_error("eval", "%s", err.message);

    onnxc_model *m = NULL;
    onnxc_dataset *ds = NULL;
    if ((rc = cli_load_model(a.model_path, &m))) return rc;
    const char *split = a.data.dir && !cli_data_has_split(a.data.dir, "t10k") ? "train" : "t10k";
    if ((rc = cli_data_load(&a.data, split, &ds)) == EXIT_OK) rc = evaluate(&a, loss, m, ds, split);
    onnxc_dataset_free(ds);
    onnxc_model_free(m);
    return rc;
}
