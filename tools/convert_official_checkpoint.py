#!/usr/bin/env python3
"""convert_official_checkpoint.py: an official TinyRecursiveModels checkpoint -> safetensors for trm.

The official pretrain.py saves `torch.save(model.state_dict(), "<checkpoint_path>/step_N")`: a pickled
state_dict whose keys carry the `_orig_mod.model.` prefix of torch.compile and the loss-head wrapper
(reference/trm-algorithm.md section 4). With ema=True those are the EMA weights. This script writes
every tensor unchanged (names, shapes; float32 stays F32, the bf16 H_init/L_init stay BF16) into a
safetensors file, which `trm eval --checkpoint OUT.safetensors` and `trm solve` load as is: trm strips the
prefix, checks every name and shape, and infers the architecture from the shapes (H_cycles, L_cycles
and halt_max_steps are not shapes: pass e.g. `--set L_cycles=4` for the Maze/ARC recipes).

Needs only torch (no safetensors package). Usage:
    python3 tools/convert_official_checkpoint.py checkpoints/Sudoku-extreme-1k-aug-1000-ACT-torch/RUN/step_65100 trm-sudoku-mlp.safetensors
Options: --strip-prefix writes keys without `_orig_mod.model.` (trm accepts both).
"""
import argparse
import json
import os
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def load_state_dict(path):
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:   # torch without weights_only
        sd = torch.load(path, map_location="cpu")
    except Exception as e:   # noqa: BLE001 - older pickles with non-tensor objects
        print(f"note: weights_only load failed ({e}); loading the full pickle (only do this for files you trust)", file=sys.stderr)
        sd = torch.load(path, map_location="cpu")
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]
    if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
        sys.exit(f"{path}: expected a state_dict (name -> tensor), got {type(sd).__name__}")
    return sd


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in DTYPES:
            sys.exit(f"tensor '{name}': unsupported dtype {t.dtype}")
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)   # atomic: no half-written file on a crash


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="official checkpoint file (torch.save of the model state_dict)")
    ap.add_argument("out", help="safetensors file to write")
    ap.add_argument("--strip-prefix", action="store_true", help="drop the _orig_mod. / model. prefixes from the keys")
    a = ap.parse_args()
    sd = load_state_dict(a.checkpoint)
    out = {}
    for k, v in sd.items():
        key = k
        if a.strip_prefix:
            key = key[len("_orig_mod."):] if key.startswith("_orig_mod.") else key
            key = key[len("model."):] if key.startswith("model.") else key
        out[key] = v
    write_safetensors(a.out, out, {"format": "pt", "source": os.path.basename(a.checkpoint)})
    n = sum(v.numel() for v in sd.values())
    print(f"wrote {len(out)} tensors ({n:,} values) to {a.out}")


if __name__ == "__main__":
    main()
