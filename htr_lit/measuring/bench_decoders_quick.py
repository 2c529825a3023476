"""Quick CPU benchmark of the CTC decoders on synthetic log-probs (1 thread), in ms per word image.

Times are CPU time of this process (best of --repeats), so that other jobs on the machine disturb
them less; on an idle machine they equal wall time.

Synthetic outputs imitate a CTC model: a random word from a 10k-word dictionary is laid out over T
frames as 1-3-frame character spikes separated by blanks. "peaky" frames give the right class a logit
margin of ~14 over Gaussian noise (like a trained model: few other classes above exp(-12)), with a
confusable competitor on 25% of the character frames; "flat" gives a margin of ~10 and noise sd 2, so
that most of the 80 classes survive the -12 pruning threshold at every frame (a worst case).

    .venv/bin/python -m htr_lit.measuring.bench_decoders_quick [--batch 64] [--frames 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable

import torch

from htr_lit.decoding.base import Hypothesis
from htr_lit.decoding.beam import BeamSearchDecoder
from htr_lit.decoding.closest import ClosestWordDecoder
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.decoding.lexicon import WordBeamSearchDecoder
from htr_lit.decoding.lm import CharNgramLM

TOKENS = ["", *string.ascii_lowercase, *string.ascii_uppercase, *string.digits, *"äöüÄÖÜß", *" .,-'!?:;\""]


def make_dictionary(n: int, rng: random.Random) -> list[str]:
    """Pseudo-words with a skewed letter distribution (so that a character LM has something to learn)."""
    letters = string.ascii_lowercase
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(letters))]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choices(letters, weights, k=rng.randint(2, 10))))
    return sorted(words)


def synthetic_log_probs(
    words: list[str], T: int, margin: float, noise: float, confuse: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    g = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    C, B = len(TOKENS), len(words)
    index = {t: i for i, t in enumerate(TOKENS)}
    logits = torch.randn(B, T, C, generator=g) * noise
    for b, w in enumerate(words):
        frames = [0] * T  # blank everywhere, then character spikes
        t = rng.randint(1, 4)
        for ch in w:
            for _ in range(rng.randint(1, 3)):
                if t < T:
                    frames[t] = index[ch]
                    t += 1
            t += rng.randint(1, 3)
        for t, c in enumerate(frames):
            logits[b, t, c] += margin
            if c and rng.random() < confuse:
                logits[b, t, rng.randrange(1, C)] += margin - rng.uniform(0.5, 3.0)
    return logits.log_softmax(-1), torch.full((B,), T), words


def bench(decoder: Callable[[torch.Tensor, torch.Tensor], list[list[Hypothesis]]], lp, lengths, repeats: int):
    decoder(lp[:2], lengths[:2])  # warm-up (caches, lazy init)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        hyps = decoder(lp, lengths)
        best = min(best, time.process_time() - t0)
    return best / lp.shape[0] * 1000, hyps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--dict-size", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--exact-all", action="store_true", help="also score the whole dictionary exactly (slow)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = random.Random(0)
    dictionary = make_dictionary(args.dict_size, rng)
    lm = CharNgramLM(order=4).fit(dictionary, extra_chars=TOKENS[1:])
    truth = rng.sample(dictionary, args.batch)
    decoders: list[tuple[str, Callable]] = [("greedy", GreedyDecoder(TOKENS))]
    for w in (1, 4, 16, 64):
        decoders.append((f"beam {w}", BeamSearchDecoder(TOKENS, beam_width=w)))
        decoders.append(
            (f"beam {w} + char LM", BeamSearchDecoder(TOKENS, beam_width=w, lm=lm, lm_weight=0.5))
        )
    decoders += [
        ("word beam 16, words", WordBeamSearchDecoder(TOKENS, dictionary, beam_width=16)),
        ("word beam 16, ngrams", WordBeamSearchDecoder(TOKENS, dictionary, beam_width=16, mode="ngrams")),
        ("closest word (128 cand.)", ClosestWordDecoder(TOKENS, dictionary, max_candidates=128)),
        ("closest word (256 cand.)", ClosestWordDecoder(TOKENS, dictionary, max_candidates=256)),
    ]
    if args.exact_all:
        decoders.append(
            ("closest word (no cap)", ClosestWordDecoder(TOKENS, dictionary, max_candidates=None))
        )
    profiles = {"peaky": (18.0, 1.5, 0.25), "medium": (14.0, 1.5, 0.25), "flat": (10.0, 2.0, 0.25)}
    print(f"B={args.batch} T={args.frames} C={len(TOKENS)} dict={len(dictionary)} threads=1")
    print(f"{'decoder':28s}" + "".join(f"{p + ' ms/img':>16s}{'acc':>6s}" for p in profiles))
    data = {p: synthetic_log_probs(truth, args.frames, *v, seed=1) for p, v in profiles.items()}
    for name, dec in decoders:
        row = f"{name:28s}"
        for lp, lengths, words in data.values():
            ms, hyps = bench(dec, lp, lengths, args.repeats)
            acc = sum(h[0].text == w for h, w in zip(hyps, words)) / len(words)
            row += f"{ms:16.2f}{acc:6.2f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
