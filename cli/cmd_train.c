/* onnxc train: Keras fit() from the command line (onnxc_trainer_fit). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data_args.h"
#include "mpi_dist.h"
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
    "  --keep-denormals         IEEE arithmetic with subnormal floats kept (default:\n"
    "                           flushed to zero, as TensorFlow trains; faster)\n"
    "  --validation-split F     hold out the last fraction F of the training data,\n"
    "                           0 <= F < 1 (0: no validation at all)\n"
    "control:\n"
    "  --seed N                 shuffling and dropout seed (default 1)\n"
    "  --no-shuffle             keep the data order\n"
    "  --threads N              kernel threads (default: all; with --distributed, the\n"
    "                           cores shared among the ranks on each machine);\n"
    "                           results do not change\n"
    "  --distributed            data-parallel training, one process per rank, under\n"
    "                           mpirun (needs onnxc built with -DONNXC_MPI=ON): each\n"
    "                           global batch of --batch-size rows is split over the\n"
    "                           ranks and the gradients are averaged by allreduce;\n"
    "                           same weights as one process up to float rounding.\n"
    "                           Only rank 0 prints and writes the log, checkpoint,\n"
    "                           plot and model; every rank reads the data and\n"
    "                           --resume file (see docs/distributed.md)\n"
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
    OPT_NO_SHUFFLE, OPT_THREADS, OPT_LOG, OPT_CHECKPOINT, OPT_RESUME, OPT_FROM_LOGITS, OPT_PLOT,
    OPT_DISTRIBUTED, OPT_KEEP_DENORMALS
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
    bool no_shuffle, from_logits, keep_denormals;
    const char *log_path, *checkpoint_path, *resume_path;
    const char *plot_path;         /* --plot, or NULL */
    bool distributed;              /* --distributed */
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
        {"keep-denormals", no_argument, 0, OPT_KEEP_DENORMALS},
        {"threads", required_argument, 0, OPT_THREADS},
        {"log", required_argument, 0, OPT_LOG},
        {"checkpoint", required_argument, 0, OPT_CHECKPOINT},
        {"resume", required_argument, 0, OPT_RESUME},
        {"plot", required_argument, 0, OPT_PLOT},
        {"distributed", no_argument, 0, OPT_DISTRIBUTED},
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
        case OPT_KEEP_DENORMALS: a->keep_denormals = true; break;
        case OPT_THREADS:
            if (!cli_parse_int(optarg, 1, 4096, &a->threads))
                return cli_usage_error("train", "--threads expects an integer 1..4096, got '%s'", optarg);
            break;
        case OPT_LOG: a->log_path = optarg; break;
        case OPT_CHECKPOINT: a->checkpoint_path = optarg; break;
        case OPT_RESUME: a->resume_path = optarg; break;
        case OPT_PLOT: a->plot_path = optarg; break;
        case OPT_DISTRIBUTED: a->distributed = true; break;
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
    o->keep_denormals = a->keep_denormals;
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
    json_number(f, "data_seconds", log->data_seconds);
    fprintf(f, ",\"one_thread_steps\":%zu", log->one_thread_steps);
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

/* Fill err like the library does; returns st. */
__attribute__((format(printf, 3, 4)))
static onnxc_status fail(onnxc_error *err, onnxc_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->status = st;
    return st;
}

/* One split of the data. A file that cannot be read is bad input (exit 2),
 * even when the library files it as an argument problem. */
static onnxc_status load_split(const cli_data_args *d, const char *split, onnxc_dataset **out, onnxc_error *err)
{
    onnxc_status st = d->dir ? onnxc_dataset_load_idx(d->dir, split, out, err)
                             : onnxc_dataset_load_npy(d->x_path, d->y_path, out, err);
    if (st == ONNXC_OK) return st;
    *out = NULL;
    if (st == ONNXC_ERR_ARGUMENT) err->status = st = ONNXC_ERR_IO;
    return st;
}

/* Train and validation sets: with --data DIR the train split, plus the t10k
 * split as validation when present and no --validation-split was given. */
static onnxc_status load_data(const train_args *a, onnxc_dataset **train, onnxc_dataset **val, onnxc_error *err)
{
    *val = NULL;
    onnxc_status st = load_split(&a->data, "train", train, err);
    if (st == ONNXC_OK && a->data.dir && a->split < 0 && cli_data_has_split(a->data.dir, "t10k")) {
        st = load_split(&a->data, "t10k", val, err);
        if (st != ONNXC_OK) {
            onnxc_dataset_free(*train);
            *train = NULL;
        }
    }
    return st;
}

/* What a run holds; `lead` is the process that prints and writes (the only
 * one, or rank 0 of a distributed run). */
typedef struct train_run {
    const train_args *a;
    bool lead;
    cli_mpi mpi;                 /* --distributed */
    onnxc_model *m;
    onnxc_dataset *train, *val;
    train_ui ui;
} train_run;

/* Agree on a failure with the other ranks (no-op on one process). Returns
 * the exit code: 0, or after the lead printed the failure (unless
 * `printed`: whoever failed has printed it already). */
static int settle(train_run *r, onnxc_status st, onnxc_error *err, bool printed)
{
    if (r->a->distributed) {
        onnxc_status agreed = cli_mpi_agree(&r->mpi, st, err);
        if (agreed != st) printed = false; /* another rank's failure: the lead reports it */
        st = agreed;
    }
    if (st == ONNXC_OK) return EXIT_OK;
    if (printed || !r->lead) return st == ONNXC_ERR_ARGUMENT ? EXIT_USAGE : EXIT_BAD_INPUT;
    return cli_report(err);
}

static int fit_and_save(train_run *r, const onnxc_trainer_options *to)
{
    const train_args *a = r->a;
    train_ui *ui = &r->ui;
    onnxc_error err;
    onnxc_trainer *t = NULL;
    onnxc_status st = onnxc_trainer_create(r->m, to, &t, &err);
    if (st == ONNXC_OK && a->distributed) st = onnxc_trainer_set_distributed(t, &r->mpi.dist, &err);
    int rc = settle(r, st, &err, false);
    if (rc) {
        onnxc_trainer_free(t);
        return rc;
    }

    size_t n = onnxc_dataset_size(r->train);
    /* The split as onnxc_trainer_fit takes it: the last floor(n * F) samples. */
    size_t n_split = a->split > 0 ? (size_t)floor((double)n * a->split) : 0;
    if (r->lead) {
        if (r->val) printf("Train on %zu samples, validate on %zu samples\n", n, onnxc_dataset_size(r->val));
        else if (n_split) printf("Train on %zu samples, validate on %zu samples\n", n - n_split, n_split);
        else printf("Train on %zu samples\n", n);
        if (a->distributed)
            printf("Distributed over %d ranks (%d on this machine), up to %ld rows each per batch of %ld\n",
                   r->mpi.size, r->mpi.local_size, (a->batch_size + r->mpi.size - 1) / r->mpi.size, a->batch_size);
        fflush(stdout);
    }

    onnxc_fit_options fo = {
        .epochs = (int)a->epochs,
        .batch_size = (int)a->batch_size,
        .validation_split = a->split > 0 ? a->split : 0.0,
        .validation = r->val,
        .no_shuffle = a->no_shuffle,
        .checkpoint_path = a->checkpoint_path,
        .resume_path = a->resume_path,
        .progress = r->lead ? on_progress : NULL,
        .progress_user = ui,
    };
    if (r->lead) cli_progress_init(&ui->bar, stdout, isatty(STDOUT_FILENO));
    st = onnxc_trainer_fit(t, r->train, &fo, NULL, 0, &err);
    if (r->lead) cli_progress_finish(&ui->bar);
    if (ui->log_errno) {
        /* The log stopped training (on the lead; the others were told). */
        fprintf(stderr, "onnxc: error: %s: cannot write the log: %s\n", ui->log_path, strerror(ui->log_errno));
        rc = EXIT_BAD_INPUT;
    } else if (st != ONNXC_OK) {
        /* fit has agreed on the failure already: the lead reports it. */
        rc = r->lead ? cli_report(&err) : st == ONNXC_ERR_ARGUMENT ? EXIT_USAGE : EXIT_BAD_INPUT;
    } else {
        if (r->lead) st = onnxc_model_save(r->m, a->out_path, NULL, &err);
        rc = settle(r, st, &err, false);
        if (!rc && r->lead) {
            printf("Saved %s\n", a->out_path);
            if (a->plot_path) rc = draw_plot(a, ui);
        }
    }
    onnxc_trainer_free(t);
    return rc;
}

#define TRY(expr)                        \
    do {                                 \
        onnxc_status st_ = (expr);       \
        if (st_ != ONNXC_OK) return st_; \
    } while (0)

/* Fail before training, not after it, when an output cannot be written:
 * its folder must exist and be writable (the writes are atomic renames). */
static onnxc_status check_writable(const char *path, const char *what, onnxc_error *err)
{
    if (!path) return ONNXC_OK;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK | X_OK) == 0) return ONNXC_OK;
    return fail(err, ONNXC_ERR_IO, "%s: cannot write the %s into folder '%s': %s", path, what, dir, strerror(errno));
}

/* Outputs writable (the lead's), model and data loaded (every rank's),
 * the log opened (the lead). *printed: the failure is on stderr already. */
static onnxc_status setup(train_run *r, onnxc_error *err, bool *printed)
{
    const train_args *a = r->a;
    *printed = false;
    if (r->lead) {
        TRY(check_writable(a->out_path, "trained model", err));
        TRY(check_writable(a->checkpoint_path, "checkpoint", err));
        if (a->plot_path) {
            int rc = cli_plot_check_target("train", a->plot_path);
            if (rc) {
                *printed = true;
                return fail(err, rc == EXIT_USAGE ? ONNXC_ERR_ARGUMENT : ONNXC_ERR_IO, "%s: cannot plot", a->plot_path);
            }
            TRY(check_writable(a->plot_path, "plot", err));
        }
    }
    TRY(onnxc_model_load(a->model_path, NULL, &r->m, err));
    TRY(load_data(a, &r->train, &r->val, err));
    if (r->lead && a->log_path) {
        r->ui.log = fopen(a->log_path, a->resume_path ? "a" : "w");
        if (!r->ui.log)
            return fail(err, ONNXC_ERR_IO, "%s: cannot open the log: %s", a->log_path, strerror(errno));
    }
    return ONNXC_OK;
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

    train_run r = {.a = &a, .lead = true, .ui = {.log_path = a.log_path}};
    if (a.distributed) {
        if ((rc = cli_mpi_begin(&r.mpi, "train"))) return rc;
        r.lead = r.mpi.rank == 0;
        if (!a.threads) to.threads = cli_mpi_default_threads(&r.mpi);
    }
    onnxc_error err;
    bool printed;
    onnxc_status st = setup(&r, &err, &printed);
    rc = settle(&r, st, &err, printed);
    if (!rc) rc = fit_and_save(&r, &to);
    if (r.ui.log && fclose(r.ui.log) != 0 && !rc) {
        fprintf(stderr, "onnxc: error: %s: cannot write the log: %s\n", a.log_path, strerror(errno));
        rc = EXIT_BAD_INPUT;
    }
    onnxc_dataset_free(r.train);
    onnxc_dataset_free(r.val);
    onnxc_model_free(r.m);
    cli_history_free(&r.ui.history);
    cli_mpi_end(&r.mpi);
    return rc;
}
