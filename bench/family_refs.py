#!/usr/bin/env python3
"""family_refs.py — references for the model families from an independent implementation (Hugging
Face transformers), for tests/e2e_families.sh.

    python3 bench/family_refs.py tests/data/families/configs tests/data/families

For each tiny config NAME.json of the first directory: the model built by transformers from it
(float32, eager attention), its every parameter drawn from a fixed-seed generator (scales that keep
the activations of order 1, so that greedy choices are not near-ties), saved with save_pretrained
(safetensors) into OUT/NAME/, and OUT/NAME/ref.json with the float32 forward of a fixed 24-id prompt:
the prompt's ids, the top-10 logits at its last position, and the 16 greedy ids that follow (one
token a step through the KV cache, as generation runs; no end-of-sequence stop). The checkpoints are
small (tens of KB to a few hundred); commit OUT/NAME/{config.json,model.safetensors,ref.json}.

Needs torch and transformers (the lent GPU machine has them: Python 3.12, torch 2.11, transformers
5.17); runs on the CPU, in seconds.
"""
import json
import math
import os
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

PROMPT_LEN, GREEDY, TOP = 24, 16, 10


def prompt_ids(vocab):
    """24 ids spread over the vocabulary, clear of the special ids 0..2."""
    return [(7 * i * i + 13 * i + 5) % (vocab - 3) + 3 for i in range(PROMPT_LEN)]


def randomize(model, seed):
    """Every parameter from one generator, in name order: norms near their neutral value (Gemma's
    1 + w near 1), routers spread so that experts are not near-ties, matrices ~ 1/sqrt(fan-in)."""
    g = torch.Generator().manual_seed(seed)
    gemma = "gemma" in model.config.model_type
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        shape = tuple(p.shape)
        if "norm" in name:
            base = 0.0 if gemma else 1.0
            v = base + 0.1 * torch.randn(shape, generator=g)
        elif name.endswith(".bias"):
            v = 0.1 * torch.randn(shape, generator=g)
        elif "embed_tokens" in name:
            v = torch.randn(shape, generator=g) * (0.125 if gemma else 1.0)
        elif name.endswith("mlp.gate.weight") or "block_sparse_moe.gate" in name:
            v = torch.randn(shape, generator=g) * (2.0 / math.sqrt(shape[-1]))
        else:
            v = torch.randn(shape, generator=g) / math.sqrt(shape[-1])
        with torch.no_grad():
            p.copy_(v.to(p.dtype))


@torch.no_grad()
def reference(model, ids):
    out = model(input_ids=torch.tensor([ids]), use_cache=True)
    logits = out.logits[0, -1].float()
    top = torch.topk(logits, TOP)
    tops = [[int(i), float(v)] for v, i in zip(top.values, top.indices)]
    past, greedy = out.past_key_values, []
    for _ in range(GREEDY):
        nxt = int(torch.argmax(logits))
        greedy.append(nxt)
        out = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[0, -1].float()
    return tops, greedy


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: family_refs.py CONFIG_DIR OUT_DIR")
    cdir, odir = sys.argv[1], sys.argv[2]
    torch.set_grad_enabled(False)
    names = sorted(f[:-5] for f in os.listdir(cdir) if f.endswith(".json"))
    for k, name in enumerate(names):
        with open(os.path.join(cdir, name + ".json")) as f:
            cfg = json.load(f)
        cfg.pop("torch_dtype", None)
        model_type = cfg.pop("model_type")
        config = AutoConfig.for_model(model_type, **cfg)
        config._attn_implementation = "eager"
        torch.manual_seed(1000 + k)
        model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32, attn_implementation="eager")
        model.eval()
        randomize(model, 1000 + k)
        out = os.path.join(odir, name)
        os.makedirs(out, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        ids = prompt_ids(config.vocab_size)
        tops, greedy = reference(model, ids)
        ref = {
            "family": name,
            "architecture": type(model).__name__,
            "prompt_ids": ids,
            "greedy_ids": greedy,
            "prompt_last_logits_top10": tops,
            "reference": "HF transformers %s %s, float32, eager attention, torch %s"
            % (transformers.__version__, type(model).__name__, torch.__version__),
        }
        with open(os.path.join(out, "ref.json"), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
        print("%s: %s, greedy %s" % (name, type(model).__name__, greedy))


if __name__ == "__main__":
    main()
