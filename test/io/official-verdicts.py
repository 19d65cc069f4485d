"""Verdicts of the official safetensors reader (huggingface/safetensors, its Rust core through the
Python package) on every file in a folder: one line per file, "<name> ok" or "<name> err <reason>".
Used by test/io/fuzz.test.ts when the package is importable; qkv never needs it."""
import os
import sys

from safetensors._safetensors_rust import SafetensorError, deserialize

folder = sys.argv[1]
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name), "rb") as f:
        data = f.read()
    try:
        deserialize(data)
        print(name, "ok")
    except SafetensorError as e:
        print(name, "err", str(e).replace("\n", " ")[:200])
