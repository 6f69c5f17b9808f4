#!/usr/bin/env python3
"""make_npy_fixture.py: the numpy-written fixtures of test/data (run with Debian's /usr/bin/python3 + python3-numpy).

Writes, under test/fixtures/data/:
  npy/*.npy         small arrays saved by numpy.save, which test/data/npy.test.ts reads back and byte-compares
                    with our writer;
  official-mini/    a dataset directory made the way the official HRM/TRM Sudoku builder makes it
                    (datasets.md section 1.2: dtypes, index arrays, dataset.json field order and json.dump
                    formatting), from sudoku-mini.csv with subsample 3 and 2 shuffles per puzzle, seeded.
                    Re-implemented here from that description (no pydantic / Hugging Face needed).

Usage: /usr/bin/python3 tools/make_npy_fixture.py
"""
import csv
import json
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "data")


def save_arrays():
    out = os.path.join(ROOT, "npy")
    os.makedirs(out, exist_ok=True)
    arrays = {
        "u1_3x81": (np.arange(3 * 81) % 11).astype(np.uint8).reshape(3, 81),
        "u1_0x81": np.zeros((0, 81), dtype=np.uint8),
        "i4_5": np.array([0, 1, 2, 3, -7], dtype=np.int32),
        "i4_1001": np.arange(1001, dtype=np.int32) * 1001,
        "i8_4": np.array([0, 1001, 2002, 2 ** 40], dtype=np.int64),
        "f4_2x3": np.array([[0.5, -1.25, 3.0], [1e-3, 2.0, -0.0]], dtype=np.float32),
    }
    for name, arr in arrays.items():
        np.save(os.path.join(out, name + ".npy"), arr)


def shuffle(board, solution, rng):
    """One random validity-preserving transform applied to both grids (official draw order)."""
    digit_map = np.concatenate([[0], rng.permutation(np.arange(1, 10))])
    transpose = rng.rand() < 0.5
    rows = np.concatenate([b * 3 + rng.permutation(3) for b in rng.permutation(3)])
    cols = np.concatenate([s * 3 + rng.permutation(3) for s in rng.permutation(3)])

    def apply(x):
        x = x.T if transpose else x
        return digit_map[x[rows][:, cols]]

    return apply(board), apply(solution)


def build_official(csv_path, out_dir, subsample, num_aug, seed):
    rng = np.random.RandomState(seed)
    for split in ["train", "test"]:
        with open(csv_path, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            rows = [(np.frombuffer(q.replace(".", "0").encode(), dtype=np.uint8).reshape(9, 9) - ord("0"),
                     np.frombuffer(a.encode(), dtype=np.uint8).reshape(9, 9) - ord("0")) for _, q, a, _ in reader]
        if split == "train" and subsample < len(rows):
            rows = [rows[i] for i in rng.choice(len(rows), size=subsample, replace=False)]
        aug = num_aug if split == "train" else 0
        inputs, labels, puzzle_indices, group_indices = [], [], [0], [0]
        for q, a in rows:
            for k in range(1 + aug):
                qq, aa = (q, a) if k == 0 else shuffle(q, a, rng)
                inputs.append(qq.reshape(-1))
                labels.append(aa.reshape(-1))
                puzzle_indices.append(len(inputs))
            group_indices.append(len(puzzle_indices) - 1)
        arrays = {
            "inputs": np.stack(inputs) + 1,
            "labels": np.stack(labels) + 1,
            "group_indices": np.array(group_indices, dtype=np.int32),
            "puzzle_indices": np.array(puzzle_indices, dtype=np.int32),
            "puzzle_identifiers": np.zeros(len(inputs), dtype=np.int32),
        }
        meta = dict(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=11, seq_len=81,
                    num_puzzle_identifiers=1, total_groups=len(group_indices) - 1, mean_puzzle_examples=1.0,
                    total_puzzles=len(group_indices) - 1, sets=["all"])
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
        with open(os.path.join(out_dir, split, "dataset.json"), "w") as f:
            json.dump(meta, f)
        for k, v in arrays.items():
            np.save(os.path.join(out_dir, split, f"all__{k}.npy"), v)
    with open(os.path.join(out_dir, "identifiers.json"), "w") as f:
        json.dump(["<blank>"], f)


if __name__ == "__main__":
    save_arrays()
    build_official(os.path.join(ROOT, "sudoku-mini.csv"), os.path.join(ROOT, "official-mini"), subsample=3, num_aug=2, seed=0)
    print("wrote", ROOT, "(numpy", np.__version__ + ")")
