/* onnxc train: Keras fit() from the command line (onnxc_trainer_fit). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data_args.h"
#include "plot.h"
#include "progress.h"

static const char help[] =
    "usage: onnxc train MODEL -o OUT.onnx (--data DIR | --x X.npy --y Y.npy) [options]\n"
    "\n"
    "Train MODEL (.onnx, .h5 or .keras) and save the trained model to OUT.onnx.\n"
    "Progress is shown Keras-style, one bar per epoch.\n"
    "\n"
    "data:\n"
    "  --data DIR               idx folder (train-images-idx3-ubyte[.gz], ...); when it\n"
    "                           also holds t10k-* files they are the validation set,\n"
    "                           evaluated after every epoch (unless --validation-split)\n"
    "  --x X.npy --y Y.npy      samples [n, ...] and labels [n] or targets [n, k]\n"
    "training:\n"
    "  --epochs N               total epochs (default 1; a resumed run continues to N)\n"
    "  --batch-size N           samples per step (default 32)\n"
    "  --optimizer NAME         sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad\n"
    "                           (default adam, with Keras's hyper-parameters)\n"
    "  --lr F                   learning rate (default: the optimizer's)\n"
    "  --loss NAME              sparse_categorical_crossentropy (default),\n"
    "                           categorical_crossentropy, binary_crossentropy, mse\n"
    "  --from-logits            the model outputs logits (a final linear layer), as\n"
    "                           Keras's from_logits=True\n"
    "  --validation-split F     hold out the last fraction F of the training data,\n"
    "                           0 <= F < 1 (0: no validation at all)\n"
    "control:\n"
    "  --seed N                 shuffling and dropout seed (default 1)\n"
    "  --no-shuffle             keep the data order\n"
    "  --threads N              kernel threads (default: all); results do not change\n"
    "output:\n"
    "  -o, --output FILE        trained model (required), written atomically\n"
    "  --log FILE.jsonl         one JSON object per epoch (appended to with --resume)\n"
    "  --checkpoint FILE        save model and optimizer state after every epoch\n"
    "  --resume FILE            continue from a checkpoint of this MODEL\n"
    "  --plot FILE              after training, draw loss and accuracy per epoch,\n"
    "                           train against validation (.svg, or .png with\n"
    "                           gnuplot); with --log, from the whole log, so a\n"
    "                           resumed run shows the earlier epochs too\n";

enum {
    OPT_EPOCHS = 0x100, OPT_BATCH, OPT_OPTIMIZER, OPT_LR, OPT_LOSS, OPT_SPLIT, OPT_SEED,
    OPT_NO_SHUFFLE, OPT_THREADS, OPT_LOG, OPT_CHECKPOINT, OPT_RESUME, OPT_FROM_LOGITS, OPT_PLOT
};

typedef struct train_args {
    const char *model_path, *out_path;
    cli_data_args data;
    long epochs, batch_size, threads;
    const char *optimizer, *loss;  /* names as given, or NULL for the defaults */
    double lr;                     /* <= 0: the optimizer's default */
    double split;                  /* < 0: not given */
    bool seed_given;
    uint64_t seed;
    bool no_shuffle, from_logits;
    const char *log_path, *checkpoint_path, *resume_path;
    const char *plot_path;         /* --plot, or NULL */
} train_args;

/* A finite decimal number in [min, max) (max exclusive when open_max). */
static bool parse_double(const char *s, double min, double max, bool open_max, double *out)
{
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max || (open_max && v == max)) return false;
    *out = v;
    return true;
}

static bool parse_seed(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = (uint64_t)v;
    return true;
}

/* Each option given at most once: a repeated one is more likely a typo than
 * an intended override. Returns 0 or the exit code. */
static int parse_args(int argc, char **argv, train_args *a)
{
    static const struct option opts[] = {
        CLI_DATA_OPTIONS,
        {"output", required_argument, 0, 'o'},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"batch-size", required_argument, 0, OPT_BATCH},
        {"optimizer", required_argument, 0, OPT_OPTIMIZER},
        {"lr", required_argument, 0, OPT_LR},
        {"loss", required_argument, 0, OPT_LOSS},
        {"validation-split", required_argument, 0, OPT_SPLIT},
        {"seed", required_argument, 0, OPT_SEED},
        {"no-shuffle", no_argument, 0, OPT_NO_SHUFFLE},
        {"from-logits", no_argument, 0, OPT_FROM_LOGITS},
        {"threads", required_argument, 0, OPT_THREADS},
        {"log", required_argument, 0, OPT_LOG},
        {"checkpoint", required_argument, 0, OPT_CHECKPOINT},
        {"resume", required_argument, 0, OPT_RESUME},
        {"plot", required_argument, 0, OPT_PLOT},
        {0, 0, 0, 0},
    };
    *a = (train_args){.epochs = 1, .batch_size = 32, .lr = -1.0, .split = -1.0, .seed = 1};
    optind = 1;
    opterr = 0;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_DATA: case CLI_OPT_X: case CLI_OPT_Y:
            if ((rc = cli_data_option("train", c, optarg, &a->data))) return rc;
            break;
        case 'o':
            if (a->out_path) return cli_usage_error("train", "-o is given twice");
            a->out_path = optarg;
            break;
        case OPT_EPOCHS:
            if (!cli_parse_int(optarg, 1, 1000000, &a->epochs))
                return cli_usage_error("train", "--epochs expects an integer 1..1000000, got '%s'", optarg);
            break;
        case OPT_BATCH:
            if (!cli_parse_int(optarg, 1, 1 << 24, &a->batch_size))
                return cli_usage_error("train", "--batch-size expects an integer 1..16777216, got '%s'", optarg);
            break;
        case OPT_OPTIMIZER: a->optimizer = optarg; break;
        case OPT_LOSS: a->loss = optarg; break;
        case OPT_LR:
            if (!parse_double(optarg, 0.0, 1e6, false, &a->lr) || a->lr <= 0.0)
                return cli_usage_error("train", "--lr expects a number > 0, got '%s'", optarg);
            break;
        case OPT_SPLIT:
            if (!parse_double(optarg, 0.0, 1.0, true, &a->split))
                return cli_usage_error("train", "--validation-split expects a number 0 <= F < 1, got '%s'", optarg);
            break;
        case OPT_SEED:
            if (!parse_seed(optarg, &a->seed))
                return cli_usage_error("train", "--seed expects an integer 0..2^64-1, got '%s'", optarg);
            a->seed_given = true;
            break;
        case OPT_NO_SHUFFLE: a->no_shuffle = true; break;
        case OPT_FROM_LOGITS: a->from_logits = true; break;
        case OPT_THREADS:
            if (!cli_parse_int(optarg, 1, 4096, &a->threads))
                return cli_usage_error("train", "--threads expects an integer 1..4096, got '%s'", optarg);
            break;
        case OPT_LOG: a->log_path = optarg; break;
        case OPT_CHECKPOINT: a->checkpoint_path = optarg; break;
        case OPT_RESUME: a->resume_path = optarg; break;
        case OPT_PLOT: a->plot_path = optarg; break;
        case ':': return cli_usage_error("train", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("train", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc) return cli_usage_error("train", "expected a MODEL argument");
    if (optind != argc - 1) return cli_usage_error("train", "expected one MODEL, got '%s' as well", argv[optind + 1]);
    a->model_path = argv[optind];
    if (!a->out_path || !*a->out_path) return cli_usage_error("train", "missing -o OUT.onnx");
    return cli_data_validate("train", &a->data);
}

/* Optimizer and loss names are checked by the library, which lists the
 * valid ones in its message; reported as one usage line. */
static int trainer_options(const train_args *a, onnxc_trainer_options *o)
{
    onnxc_error err;
    onnxc_trainer_options_default(o);
    if (a->optimizer && onnxc_optimizer_from_name(a->optimizer, &o->optimizer, &err) != ONNXC_OK)
        return cli_usage_error("train", "%s", err.message);
    if (a->loss && onnxc_loss_from_name(a->loss, &o->loss, &err) != ONNXC_OK)
        return cli_usage_error("train", "%s", err.message);
    if (a->lr > 0) o->optimizer.learning_rate = a->lr;
    o->threads = (int)a->threads;
    o->from_logits = a->from_logits;
    if (a->seed_given) o->seed = a->seed;
    return EXIT_OK;
}

/* JSON has no NaN or Infinity: write null for them. */
static void json_number(FILE *f, const char *key, double v)
{
    if (isfinite(v)) fprintf(f, ",\"%s\":%.17g", key, v);
    else fprintf(f, ",\"%s\":null", key);
}

typedef struct train_ui {
    cli_progress bar;
    FILE *log;                /* --log, or NULL */
    const char *log_path;
    int log_errno;            /* nonzero once writing the log failed */
    cli_history history;      /* this run's epochs, for --plot */
    bool history_nomem;
} train_ui;

static int on_progress(void *user, int epoch, int epochs, size_t step, size_t steps, double loss,
                       double accuracy, const onnxc_epoch_log *log)
{
    train_ui *ui = user;
    cli_progress_update(&ui->bar, epoch, epochs, step, steps, loss, accuracy, log);
    if (log) {
        cli_epoch_point p = {log->epoch, log->loss, log->accuracy, NAN, NAN};
        if (log->has_validation) {
            p.val_loss = log->val_loss;
            p.val_accuracy = log->val_accuracy;
        }
        if (!cli_history_add(&ui->history, &p)) ui->history_nomem = true;
    }
    if (!log || !ui->log) return 0;
    FILE *f = ui->log;
    fprintf(f, "{\"epoch\":%d", log->epoch);
    json_number(f, "loss", log->loss);
    json_number(f, "accuracy", log->accuracy);
    if (log->has_validation) {
        json_number(f, "val_loss", log->val_loss);
        json_number(f, "val_accuracy", log->val_accuracy);
    }
    json_number(f, "seconds", log->seconds);
    json_number(f, "samples_per_second", log->samples_per_second);
    fputs("}\n", f);
    /* Flushed per epoch so that a killed run keeps every finished line. */
    if (fflush(f) != 0 || ferror(f)) {
        ui->log_errno = errno ? errno : EIO;
        return 1;
    }
    return 0;
}

/* --plot: from the log when there is one (it holds the epochs before a
 * --resume as well; every line was flushed), else from this run's epochs. */
static int draw_plot(const train_args *a, const train_ui *ui)
{
    const char *slash = strrchr(a->out_path, '/');
    const char *title = slash ? slash + 1 : a->out_path;
    int rc;
    if (a->log_path) {
        cli_history h = {0};
        rc = cli_history_read(a->log_path, &h);
        if (!rc) rc = cli_plot_write(&h, a->plot_path, title);
        cli_history_free(&h);
    } else if (ui->history_nomem) {
        fprintf(stderr, "onnxc: error: %s: out of memory keeping the epochs to plot\n", a->plot_path);
        rc = EXIT_BAD_INPUT;
    } else {
        rc = cli_plot_write(&ui->history, a->plot_path, title);
    }
    if (!rc) printf("Plotted %s\n", a->plot_path);
    return rc;
}

/* Train and validation sets: with --data DIR the train split, plus the t10k
 * split as validation when present and no --validation-split was given. */
static int load_data(const train_args *a, onnxc_dataset **train, onnxc_dataset **val)
{
    *val = NULL;
    int rc = cli_data_load(&a->data, "train", train);
    if (rc) return rc;
    if (a->data.dir && a->split < 0 && cli_data_has_split(a->data.dir, "t10k")) {
        rc = cli_data_load(&a->data, "t10k", val);
        if (rc) {
            onnxc_dataset_free(*train);
            *train = NULL;
        }
    }
    return rc;
}

static int fit_and_save(const train_args *a, const onnxc_trainer_options *to, onnxc_model *m,
                        const onnxc_dataset *train, const onnxc_dataset *val, train_ui *ui)
{
    onnxc_error err;
    onnxc_trainer *t = NULL;
    if (onnxc_trainer_create(m, to, &t, &err) != ONNXC_OK) return cli_report(&err);
    int rc = EXIT_OK;

    size_t n = onnxc_dataset_size(train);
    /* The split as onnxc_trainer_fit takes it: the last floor(n * F) samples. */
    size_t n_split = a->split > 0 ? (size_t)floor((double)n * a->split) : 0;
    if (val) printf("Train on %zu samples, validate on %zu samples\n", n, onnxc_dataset_size(val));
    else if (n_split) printf("Train on %zu samples, validate on %zu samples\n", n - n_split, n_split);
    else printf("Train on %zu samples\n", n);
    fflush(stdout);

    onnxc_fit_options fo = {
        .epochs = (int)a->epochs,
        .batch_size = (int)a->batch_size,
        .validation_split = a->split > 0 ? a->split : 0.0,
        .validation = val,
        .no_shuffle = a->no_shuffle,
        .checkpoint_path = a->checkpoint_path,
        .resume_path = a->resume_path,
        .progress = on_progress,
        .progress_user = ui,
    };
    cli_progress_init(&ui->bar, stdout, isatty(STDOUT_FILENO));
    onnxc_status st = onnxc_trainer_fit(t, train, &fo, NULL, 0, &err);
    cli_progress_finish(&ui->bar);
    if (ui->log_errno) {
        fprintf(stderr, "onnxc: error: %s: cannot write the log: %s\n", ui->log_path, strerror(ui->log_errno));
        rc = EXIT_BAD_INPUT;
    } else if (st != ONNXC_OK) {
        rc = cli_report(&err);
    } else if (onnxc_model_save(m, a->out_path, NULL, &err) != ONNXC_OK) {
        rc = cli_report(&err);
    } else {
        printf("Saved %s\n", a->out_path);
        if (a->plot_path) rc = draw_plot(a, ui);
    }
    onnxc_trainer_free(t);
    return rc;
}

/* Fail before training, not after it, when an output cannot be written:
 * its folder must exist and be writable (the writes are atomic renames). */
static int check_writable(const char *path, const char *what)
{
    if (!path) return EXIT_OK;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK | X_OK) == 0) return EXIT_OK;
    fprintf(stderr, "onnxc: error: %s: cannot write the %s into folder '%s': %s\n", path, what, dir, strerror(errno));
    return EXIT_BAD_INPUT;
}

int cmd_train(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    /* Names first: a typo should not wait for the data to load. */
    onnxc_trainer_options to;
    if ((rc = trainer_options(&a, &to))) return rc;

    onnxc_model *m = NULL;
    onnxc_dataset *train = NULL, *val = NULL;
    train_ui ui = {.log_path = a.log_path};
    if ((rc = check_writable(a.out_path, "trained model")) || (rc = check_writable(a.checkpoint_path, "checkpoint")))
        return rc;
    if (a.plot_path && ((rc = cli_plot_check_target("train", a.plot_path)) || (rc = check_writable(a.plot_path, "plot"))))
        return rc;
    if ((rc = cli_load_model(a.model_path, &m))) return rc;
    if ((rc = load_data(&a, &train, &val))) goto done;
    if (a.log_path) {
        ui.log = fopen(a.log_path, a.resume_path ? "a" : "w");
        if (!ui.log) {
            fprintf(stderr, "onnxc: error: %s: cannot open the log: %s\n", a.log_path, strerror(errno));
            rc = EXIT_BAD_INPUT;
            goto done;
        }
    }
    rc = fit_and_save(&a, &to, m, train, val, &ui);
done:
    if (ui.log && fclose(ui.log) != 0 && !rc) {
        fprintf(stderr, "onnxc: error: %s: cannot write the log: %s\n", a.log_path, strerror(errno));
        rc = EXIT_BAD_INPUT;
    }
    onnxc_dataset_free(train);
    onnxc_dataset_free(val);
    onnxc_model_free(m);
    cli_history_free(&ui.history);
    return rc;
}
