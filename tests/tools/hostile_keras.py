"""Hostile Keras files for make_hostile.py: legacy .h5 models whose
model_config is a Lambda (Python code), not UTF-8, nested 100,000 deep or
malformed; whose structure has soft-link cycles, external links, external
or virtual storage, a filter plugin, a 2^40-element dataspace or weights of
the wrong type; and Keras 3 .keras zips with the same configs, unsafe entry
names, a config bomb and the hostile weight files inside.

HDF5 is edited with tests/tools/make_hostile_h5.c (libhdf5), compiled here
with the system compiler and pkg-config, since python has no HDF5 writer in
this environment. Everything else is plain python (json, zipfile).
"""
import io
import json
import os
import shutil
import subprocess
import tempfile
import warnings
import zipfile

H5_SRC = "keras-2.4.0_dig94_keras_mnist.h5"
K3_H5_SRC = "keras-3.3.3_4bumuhammad_mnist_model.h5"
KERAS_SRC = "keras-3.6.0_Carvas91_mnist_model.keras"
KERNEL = "/model_weights/dense_2/dense_2/kernel:0"
LAYER = "/model_weights/dense_2"


def build_tool(here):
    """Compiles make_hostile_h5.c; returns (path, temp folder to remove)."""
    tmp = tempfile.mkdtemp(prefix="onnxc-h5tool-")
    exe = os.path.join(tmp, "make_hostile_h5")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "hdf5-serial"], capture_output=True, text=True)
    if flags.returncode != 0:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "hdf5"], capture_output=True, text=True,
                               check=True)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O1", "-o", exe, os.path.join(here, "make_hostile_h5.c")] + flags.stdout.split(),
                   check=True)
    return exe, tmp


class Keras:
    def __init__(self, c, real_dir, tool):
        self.c = c
        self.real = real_dir
        self.tool = tool
        self.dir = os.path.join(c.out, "keras")
        os.makedirs(self.dir, exist_ok=True)
        self.config = json.loads(self.h5("get-attr", os.path.join(real_dir, H5_SRC), "/", "model_config"))

    def h5(self, *args):
        r = subprocess.run([self.tool] + list(args), capture_output=True, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError("make_hostile_h5 %s: %s" % (" ".join(args), r.stderr.decode()))
        return r.stdout

    def h5_case(self, name, edits, expect, desc, src=H5_SRC):
        """Copy of a real .h5 with make_hostile_h5 edits [(cmd, args...)]."""
        path = os.path.join(self.dir, name)
        shutil.copyfile(os.path.join(self.real, src), path)
        for cmd, *args in edits:
            self.h5(cmd, path, *args)
        self.c.add("keras/" + name, None, expect, desc)

    def config_case(self, name, text, expect, desc, vlen=False, src=H5_SRC):
        value = os.path.join(self.dir, name + ".config")
        with open(value, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        edit = ("set-attr", "/", "model_config", value) + (("vlen",) if vlen else ())
        self.h5_case(name, [edit], expect, desc, src)
        os.unlink(value)


def lambda_config(cfg, nested=False):
    """The 2.4 model with its Dropout layer replaced by a Lambda that holds
    marshalled Python bytecode (as Keras writes it), optionally inside a
    nested Sequential."""
    cfg = json.loads(json.dumps(cfg))
    layers = cfg["config"]["layers"]
    lam = {"class_name": "Lambda", "config": {
        "name": "evil", "trainable": True, "dtype": "float32",
        "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTACkBTqkAKQHaAXhyAQAAAHIBAAAA", None, None],
        "function_type": "lambda", "module": "__main__", "output_shape": None, "arguments": {}}}
    for i, l in enumerate(layers):
        if l["class_name"] == "Dropout":
            layers[i] = lam if not nested else {"class_name": "Sequential", "config": {
                "name": "inner", "layers": [lam]}}
    return json.dumps(cfg)


def deep_json(depth, obj=False):
    if obj:
        return '{"a": ' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


def h5_configs(k):
    cfg = json.dumps(k.config)
    k.config_case("lambda.h5", lambda_config(k.config), "refused", "a Lambda layer (Python code) in model_config")
    k.config_case("lambda_nested.h5", lambda_config(k.config, nested=True), "refused",
                  "a Lambda inside a nested Sequential")
    k.config_case("lambda_vlen.h5", lambda_config(k.config), "refused",
                  "a Lambda in a variable-length model_config", vlen=True)
    bad = cfg.replace('"dense_2"', '"dense_\xff2"', 1).encode("latin-1")
    k.config_case("json_latin1.h5", bad, "refused", "model_config with a 0xff byte (not UTF-8)")
    k.config_case("json_overlong_utf8.h5", cfg.encode().replace(b'"dense_3"', b'"dense_\xc0\xaf3"', 1), "refused",
                  "model_config with an overlong UTF-8 sequence")
    k.config_case("json_surrogate.h5", cfg.encode().replace(b'"dense_3"', b'"dense_\xed\xa0\x80"', 1), "refused",
                  "model_config with a UTF-8-encoded surrogate")
    k.config_case("json_deep_arrays_100k.h5", deep_json(100000), "refused", "model_config: arrays 100,000 deep",
                  vlen=True)
    k.config_case("json_deep_objects_100k.h5", deep_json(100000, obj=True), "refused",
                  "model_config: objects 100,000 deep", vlen=True)
    k.config_case("json_deep_in_layer.h5", cfg.replace('"rate": 0.2', '"rate": ' + deep_json(5000), 1), "refused",
                  "a layer attribute nested 5,000 deep inside a valid config")
    k.config_case("json_truncated.h5", cfg[: len(cfg) // 2], "refused", "model_config cut in half")
    k.config_case("json_trailing.h5", cfg + " {}", "refused", "model_config with trailing text")
    k.config_case("json_list.h5", "[1, 2, 3]", "refused", "model_config that is a list")
    k.config_case("json_empty.h5", "", "refused", "an empty model_config")
    k.config_case("json_nul.h5", cfg.replace('"Sequential"', '"Seq\x00uential"', 1), "refused",
                  "model_config with a NUL byte")
    k.config_case("units_2pow32_plus1.h5", cfg.replace('"units": 128', '"units": 4294967297', 1), "refused",
                  "Dense units 2^32+1 (a 32-bit read sees 1)")
    k.config_case("units_negative.h5", cfg.replace('"units": 128', '"units": -128', 1), "refused",
                  "Dense units -128")
    k.config_case("units_huge_float.h5", cfg.replace('"units": 128', '"units": 1e308', 1), "refused",
                  "Dense units 1e308")
    k.config_case("conv2d.h5", cfg.replace('"Dense"', '"Conv2D"', 1), "refused", "an unsupported layer (Conv2D)")
    k.config_case("vlen_config_ok.h5", cfg, "loads", "the real config as a variable-length string (valid)",
                  vlen=True)


def h5_structure(k):
    mw = "/model_weights"
    k.h5_case("softlink_cycle.h5", [("soft", LAYER, mw + "/loop"), ("soft", mw + "/loop", LAYER)], "refused",
              "the weights group replaced by two soft links pointing at each other")
    k.h5_case("softlink_self.h5", [("soft", LAYER, LAYER)], "refused", "a soft link to itself")
    chain = [("hard", mw + "/real", LAYER), ("soft", LAYER, mw + "/s1")]
    chain += [("soft", mw + "/s%d" % i, mw + "/s%d" % (i + 1)) for i in range(1, 20)]
    chain += [("soft", mw + "/s20", mw + "/real")]
    k.h5_case("softlink_chain_21.h5", chain, "refused", "21 soft links in a row (past the hop limit)")
    short = [("hard", mw + "/real", LAYER), ("soft", LAYER, mw + "/s1"), ("soft", mw + "/s1", mw + "/real")]
    k.h5_case("softlink_chain_2_ok.h5", short, "loads", "2 soft links in a row to the real group (valid)")
    k.h5_case("softlink_dangling.h5", [("soft", LAYER, "/nowhere/at/all")], "refused", "a dangling soft link")
    k.h5_case("extlink_passwd.h5", [("external", LAYER, "/etc/passwd", "/x")], "refused",
              "the weights group as an external link to /etc/passwd")
    shutil.copyfile(os.path.join(k.real, H5_SRC), os.path.join(k.dir, "neighbour.h5"))
    k.h5_case("extlink_neighbour.h5", [("external", LAYER, "neighbour.h5", LAYER)], "refused",
              "an external link into a valid file beside it")
    k.h5_case("extlink_kernel.h5", [("external", KERNEL, "neighbour.h5", KERNEL)], "refused",
              "the kernel dataset as an external link")
    k.h5_case("ext_storage_local.h5", [("ext-storage", KERNEL, "kernel_ext.bin")], "refused",
              "the kernel stored in an external raw file beside it")
    outside = os.path.join(k.c.out, "outside.bin")
    k.h5_case("ext_storage_outside.h5", [("ext-storage", KERNEL, "../outside.bin", "nowrite")], "refused",
              "the kernel stored in '../outside.bin' (outside the model's folder)")
    k.h5_case("ext_storage_absolute.h5", [("ext-storage", KERNEL, outside, "nowrite")], "refused",
              "the kernel stored in an absolute path outside the folder")
    k.h5_case("dataspace_2pow40.h5", [("huge", KERNEL, "1048576", "1048576")], "refused",
              "the kernel declared [2^20, 2^20] = 2^40 floats, chunked, nothing stored")
    k.h5_case("dataspace_2pow62.h5", [("huge", KERNEL, str(1 << 31), str(1 << 31))], "refused",
              "the kernel declared [2^31, 2^31] floats (2^64 bytes)")
    k.h5_case("filter_plugin.h5", [("filter", KERNEL)], "refused", "the kernel compressed with filter plugin 32000")
    k.h5_case("virtual_dataset.h5", [("vds", KERNEL, "neighbour.h5", KERNEL)], "refused",
              "the kernel as a virtual dataset mapping another file")
    k.h5_case("kernel_int32.h5", [("dtype", KERNEL, "int32")], "refused", "the kernel stored as int32")
    k.h5_case("kernel_string.h5", [("dtype", KERNEL, "string")], "refused", "the kernel stored as strings")
    k.h5_case("hardlink_cycle.h5", [("hard", LAYER + "/dense_2/loop", mw)], "loads",
              "a hard link from inside a layer group back to model_weights (a legal cycle, not followed)")
    k.h5_case("k3_softlink_cycle.h5", [("soft", "/model_weights/dense", "/model_weights/dense_1_loop"),
                                       ("soft", "/model_weights/dense_1_loop", "/model_weights/dense")],
              "refused", "soft-link cycle in a Keras 3 legacy .h5", src=K3_H5_SRC)


def keras_zips(k):
    """Keras 3 .keras archives built from the real one."""
    with zipfile.ZipFile(os.path.join(k.real, KERAS_SRC)) as z:
        meta, cfg, weights = z.read("metadata.json"), z.read("config.json"), z.read("model.weights.h5")
    config = json.loads(cfg)

    def write(name, entries, expect, desc, compression=zipfile.ZIP_STORED):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression) as z:
            for ename, data in entries:
                z.writestr(zipfile.ZipInfo(ename, (2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
        with open(os.path.join(k.dir, name), "wb") as f:
            f.write(buf.getvalue())
        k.c.add("keras/" + name, None, expect, desc)

    def with_config(name, text, expect, desc):
        write(name, [("metadata.json", meta), ("config.json", text), ("model.weights.h5", weights)], expect, desc)

    def with_weights(name, edits, expect, desc):
        path = os.path.join(k.dir, name + ".weights.h5")
        with open(path, "wb") as f:
            f.write(weights)
        for cmd, *args in edits:
            k.h5(cmd, path, *args)
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        write(name, [("metadata.json", meta), ("config.json", cfg), ("model.weights.h5", data)], expect, desc)

    layers = config["config"]["layers"]
    lam = json.loads(json.dumps(config))
    lam["config"]["layers"].insert(2, {"module": "keras.layers", "class_name": "Lambda", "config": {
        "name": "evil", "trainable": True, "dtype": "float32", "function": {
            "class_name": "__lambda__", "config": {
                "code": "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTACkBTqkAKQHaAXhyAQAAAHIBAAAA",
                "defaults": None, "closure": None}}, "arguments": {}}, "registered_name": None})
    assert layers
    with_config("lambda.keras", json.dumps(lam), "refused", "a Lambda layer in config.json")
    with_config("latin1.keras", cfg.replace(b'"dense_1"', b'"dense_\xe91"', 1), "refused",
                "config.json with a latin-1 byte")
    with_config("deep_arrays_100k.keras", deep_json(100000), "refused", "config.json: arrays 100,000 deep")
    with_config("deep_objects_100k.keras", deep_json(100000, obj=True), "refused",
                "config.json: objects 100,000 deep")
    with_config("units_2pow32_plus1.keras", cfg.replace(b'"units": 300', b'"units": 4294967297', 1), "refused",
                "Dense units 2^32+1")
    with_config("config_empty.keras", b"", "refused", "an empty config.json")
    entries = [("metadata.json", meta), ("config.json", cfg), ("model.weights.h5", weights)]
    write("ok_deflated.keras", entries, "loads", "the real archive, deflated (valid)", zipfile.ZIP_DEFLATED)
    write("zip_slip.keras", entries + [("../../evil.txt", b"pwned")], "refused", "an entry named ../../evil.txt")
    write("zip_absolute.keras", entries + [("/etc/cron.d/evil", b"pwned")], "refused", "an entry named /etc/...")
    write("zip_backslash.keras", entries + [("..\\evil.txt", b"pwned")], "refused", "an entry named ..\\evil.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name: the point of the case
        write("zip_dup_config.keras", entries + [("config.json", b"{}")], "refused", "config.json twice")
    write("zip_no_weights.keras", entries[:2], "refused", "no model.weights.h5")
    write("zip_no_config.keras", [entries[0], entries[2]], "refused", "no config.json")
    write("zip_config_bomb.keras", [entries[0], ("config.json", b" " * (200 << 20)), entries[2]], "refused",
          "config.json of 200 MB of spaces (deflated to ~200 kB)", zipfile.ZIP_DEFLATED)
    # A flipped byte inside the stored config.json: only the CRC tells.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for ename, data in entries:
            z.writestr(ename, data)
    raw = bytearray(buf.getvalue())
    at = raw.find(b'"units": 300')
    raw[at + 9] = ord("4")
    with open(os.path.join(k.dir, "zip_bad_crc.keras"), "wb") as f:
        f.write(bytes(raw))
    k.c.add("keras/zip_bad_crc.keras", None, "refused", "config.json altered after its CRC was computed")
    with_weights("w_dataspace_2pow40.keras", [("huge", "/layers/dense/vars/0", "1048576", "1048576")], "refused",
                 "model.weights.h5 with a 2^40-element kernel")
    with_weights("w_extlink.keras", [("external", "/layers/dense", "/etc/passwd", "/x")], "refused",
                 "model.weights.h5 with an external link")
    with_weights("w_softlink_cycle.keras", [("soft", "/layers/dense", "/layers/loop"),
                                            ("soft", "/layers/loop", "/layers/dense")],
                 "refused", "model.weights.h5 with a soft-link cycle")
    outside = os.path.join(k.c.out, "outside.bin")
    with_weights("w_ext_storage.keras", [("ext-storage", "/layers/dense/vars/0", outside, "nowrite")],
                 "refused", "model.weights.h5 whose kernel lives in a file outside the folder")


def keras_hostile(c, real_dir):
    here = os.path.dirname(os.path.abspath(__file__))
    tool, tmp = build_tool(here)
    try:
        k = Keras(c, real_dir, tool)
        h5_configs(k)
        h5_structure(k)
        keras_zips(k)
    finally:
        shutil.rmtree(tmp)
