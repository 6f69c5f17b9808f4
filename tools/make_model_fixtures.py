#!/usr/bin/env python3
"""Make the PyTorch parity fixtures for test/model/parity.test.ts (tiny configs, fp32).

Uses trm_ref.py (the project's independent PyTorch reference of one TRM supervision step, checked
against the official code). For each variant it writes test/fixtures/model/<name>.safetensors with:
  inner.*                weights (official names), random non-trivial init (q_head, puzzle embedding)
  in.inputs/labels/puzzle_ids   I32 batch; sample 0's labels are set to the model's own predictions
                         (so seq_is_correct = 1 is exercised), sample 1 has no valid label
  step1.*                step 1 from the initial carry (H_init/L_init): y, z, loss
  out.*                  step 2 from step 1's carry: logits, q_halt, q_continue, y, z, x, loss, lm_loss,
                         q_halt_loss, seq_is_correct (U8), preds (I32)
  grad.*                 gradient of step 2's loss (batch SUM) for every parameter and the puzzle rows
and the config as JSON in the metadata. Run with Debian's python3 (python3-torch):
  /usr/bin/python3 tools/make_model_fixtures.py [--out test/fixtures/model]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trm_ref  # noqa: E402

VARIANTS = {
    "tiny-mlp": dict(hidden_size=32, expansion=4, L_layers=2, H_cycles=2, L_cycles=2, mlp_t=True, pos_encodings="none",
                     num_heads=2, vocab_size=6, seq_len=9, puzzle_emb_len=2, puzzle_emb_ndim=40, num_puzzle_identifiers=3),
    "tiny-att": dict(hidden_size=32, expansion=4, L_layers=2, H_cycles=2, L_cycles=2, mlp_t=False, pos_encodings="rope",
                     num_heads=2, vocab_size=6, seq_len=9, puzzle_emb_len=2, puzzle_emb_ndim=40, num_puzzle_identifiers=3),
}
B = 4


def make(name: str, cfg_dict: dict, out_dir: str, seed: int) -> None:
    cfg = trm_ref.TRMConfig.from_dict(cfg_dict)
    params = trm_ref.init_params(cfg, seed)
    g = torch.Generator().manual_seed(seed + 100)
    inputs = torch.randint(0, cfg.vocab_size, (B, cfg.seq_len), generator=g)
    labels = torch.randint(1, cfg.vocab_size, (B, cfg.seq_len), generator=g)
    labels[2, :3] = trm_ref.IGNORE_LABEL
    labels[1, :] = trm_ref.IGNORE_LABEL
    pids = torch.tensor([0, 2, 1, 2][:B])
    s1 = trm_ref.run_step(cfg, params, inputs, labels, pids, want_grads=False)
    # step 2 from step 1's carry; sample 0's labels are the model's own predictions there
    probe = trm_ref.run_step(cfg, params, inputs, labels, pids, s1["y"], s1["z"], want_grads=False)
    labels[0] = probe["preds"][0].long()
    labels[0, 4] = trm_ref.IGNORE_LABEL
    s1 = trm_ref.run_step(cfg, params, inputs, labels, pids, want_grads=False)
    s2 = trm_ref.run_step(cfg, params, inputs, labels, pids, s1["y"], s1["z"], want_grads=True)
    assert int(s2["seq_is_correct"][0]) == 1 and int(s2["seq_is_correct"][1]) == 1
    t = {k: v.numpy() for k, v in params.items()}
    t["in.inputs"] = inputs.numpy().astype(np.int32)
    t["in.labels"] = labels.numpy().astype(np.int32)
    t["in.puzzle_ids"] = pids.numpy().astype(np.int32)
    for k in ("y", "z", "loss"):
        t["step1." + k] = s1[k].numpy()
    for k, v in s2.items():
        t[k if k.startswith("grad.") else "out." + k] = v.numpy()
    path = os.path.join(out_dir, name + ".safetensors")
    trm_ref.save_safetensors(path, t, {"config": json.dumps(cfg_dict), "producer": "tools/make_model_fixtures.py",
                                       "torch": torch.__version__, "seed": str(seed), "grad_of": "loss (batch sum)"})
    print(f"{path}: {os.path.getsize(path)} bytes, step2 loss {float(s2['loss']):.6f}, "
          f"seq_is_correct {s2['seq_is_correct'].tolist()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "model"))
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name, cfg in VARIANTS.items():
        make(name, cfg, args.out, args.seed)


if __name__ == "__main__":
    main()
