"""TreeReranker: score many candidates in one tree pass of a causal LM, prune, look closer, repeat."""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from polaris_core.candidates import SLOTS, Candidate, Candidates
from polaris_core.devices import load_for_work
from polaris_core.errors import RerankError
from polaris_core.intent import Intent
from polaris_core.progress import CheckCancel, OnStep, resolve
from polaris_core.rerank.engine import (
    DEFAULT_PACKS_PER_FORWARD,
    KERNEL_PACK_TOKENS,
    MASK_PACK_TOKENS,
    PassStats,
    PrefixState,
    batched_logits,
    encode_prefix,
    logits_to_scores,
    sequence_logits,
    sliding_window,
    tree_logits,
)
from polaris_core.rerank.judge import SKIP_BELOW, JudgeRecord, find_weight, model_fingerprint, ranking_keys, \
    retrieval_places
from polaris_core.rerank.kernel import supports_kernel
from polaris_core.rerank.prompt import DEFAULT_RUBRIC, PromptBuilder

log = logging.getLogger("polaris")

MODES = ("auto", "tree", "per_candidate")
ATTENTION_PATHS = ("auto", "kernel", "mask")
PROBE_TOLERANCE = {torch.float32: 1e-3, torch.float64: 1e-6}


UNMEASURED_JUDGE_WEIGHT = 0.5  # a model nobody measured gets half the window, and the node says so


@dataclass
class RerankStats:
    """What the last `score` / `rerank` call did (for logs, the CLI and the benchmark)."""

    mode: str = ""                  # "tree", "per_candidate" or "plain" (own pass per candidate, no shared cache)
    attention: str = ""             # tree attention: "kernel" or "mask"
    rounds: int = 0
    scored: list[int] = dataclasses.field(default_factory=list)       # candidates scored per round
    description_tokens: list[int] = dataclasses.field(default_factory=list)
    prefix_tokens: int = 0
    prefix_reused: bool = False
    passes: PassStats = dataclasses.field(default_factory=PassStats)
    seconds: float = 0.0
    skipped: bool = False           # the judge's measured weight is about zero: no forward pass ran


class TreeReranker:
    """Rerank candidates with a causal LM, every candidate a branch of one tree over a shared prefix.

    - `rubric`: system instructions (the candidate text never reaches this part).
    - `score_mode`: "yes_no" (P(Yes) normalised over Yes/No) or "likert5" (expected value over 1..5, in [0, 1]).
    - `description_tokens`: description budget per pruning round; later rounds look closer. `score()` uses the last.
    - `max_branch_tokens`: hard cap on one branch (fields + description + delimiters).
    - `keep_fraction`: share of candidates kept after each round (never fewer than `keep`).
    - `pack_tokens` / `packs_per_forward`: branch tokens per pack (default: by attention path), packs per
      forward. Packs that run out of memory are split and retried.
    - `attention`: how branches are kept apart in a pack. "kernel": the tree attention kernel (exact
      prefix + own-branch attention, no dense mask; models dispatching through transformers'
      AttentionInterface); "mask": a custom 4D additive mask (any eager/SDPA model); "auto": kernel if
      the model supports it, else mask.
    - `judge_weight`: the LLM's say in the ranking key (`judge.ranking_keys`: it can lift a candidate at
      most two places past retrieval's order). None: the weight measured for this model on dev
      (`polaris bench rerank --quality --save`, looked up in `weights_paths`, then the shipped file);
      an unmeasured model gets UNMEASURED_JUDGE_WEIGHT. A weight below SKIP_BELOW skips the forward pass
      (retrieval's order, `last_stats.skipped`). The LLM score is kept as `rerank_score`, the key as
      `final_score`.
    - `mode`: "auto" (tree, after a one-off probe that the chosen attention path reproduces plain passes;
      if it does not, batched per-candidate scoring on the shared prefix cache, logged), "tree"
      (no probe), "per_candidate".
    """

    def __init__(self, llm: Any, *, rubric: str = DEFAULT_RUBRIC, score_mode: str = "yes_no",
                 description_tokens: Sequence[int] = (48, 128), max_branch_tokens: int = 256,
                 keep_fraction: float = 1 / 3, pack_tokens: Optional[int] = None,
                 packs_per_forward: int = DEFAULT_PACKS_PER_FORWARD, fallback_batch_size: int = 8,
                 attention: str = "auto", mode: str = "auto", prefix_cache_entries: int = 4,
                 judge_weight: Optional[float] = None, weights_paths: Sequence[str] = ()) -> None:
        model = getattr(llm, "model", None)
        tokenizer = getattr(llm, "tokenizer", None)
        if model is None or tokenizer is None:
            raise RerankError("TreeReranker needs a loaded LLM with .model and .tokenizer (see polaris_core.llm.load_llm).")
        if mode not in MODES:
            raise RerankError(f"Unknown rerank mode {mode!r}; use one of {MODES}.")
        if attention not in ATTENTION_PATHS:
            raise RerankError(f"Unknown tree attention {attention!r}; use one of {ATTENTION_PATHS}.")
        budgets = tuple(int(b) for b in description_tokens)
        if not budgets or min(budgets) < 1:
            raise RerankError("description_tokens must be one or more positive token budgets, e.g. (48, 128).")
        if judge_weight is not None and not (isinstance(judge_weight, (int, float)) and not isinstance(judge_weight, bool)
                                             and math.isfinite(judge_weight)
                                             and 0.0 <= judge_weight <= 1.0):
            raise RerankError(f"judge_weight must be a number between 0 and 1, or None for the measured weight "
                              f"(got {judge_weight}).")
        if not 0 < keep_fraction < 1:
            raise RerankError(f"keep_fraction must be between 0 and 1 (got {keep_fraction}); 1/3 is a good start.")
        self.llm = llm  # kept for its device manager: a host may move the model between calls
        self.model = model
        self.tokenizer = tokenizer
        self.prompt = PromptBuilder(tokenizer, rubric=rubric, score_mode=score_mode)
        self.description_tokens = budgets
        self.max_branch_tokens = int(max_branch_tokens)
        self.keep_fraction = float(keep_fraction)
        self.judge_record: Optional[JudgeRecord] = None
        if judge_weight is None:
            path = getattr(llm, "path", "")
            try:
                self.judge_record = find_weight(model_fingerprint(path), weights_paths) if path else None
            except OSError as exc:  # an LLM whose files cannot be read back is treated as unmeasured
                log.warning("reranker: cannot fingerprint the LLM at %s (%s); its judge weight is unmeasured",
                            path, exc)
            judge_weight = self.judge_record.judge_weight if self.judge_record else UNMEASURED_JUDGE_WEIGHT
            self.judge_source = "measured" if self.judge_record else "unmeasured"
        else:
            self.judge_source = "set"
        self.judge_weight = float(judge_weight)
        self._pack_tokens = int(pack_tokens) if pack_tokens else None
        self.packs_per_forward = int(packs_per_forward)
        self.fallback_batch_size = int(fallback_batch_size)
        self.requested_mode = mode
        self.requested_attention = attention
        self._path: Optional[str] = None  # "kernel", "mask", "per_candidate" or "plain", settled on first use
        self._verified_tokens = 0  # longest prompt (prefix + branch) the path was checked against plain passes on
        if mode == "per_candidate":
            self._path = "per_candidate"
        elif mode == "tree":
            self._path = "kernel" if attention == "kernel" or (attention == "auto" and supports_kernel(model)) \
                else "mask"
        self._prefix_cache: OrderedDict[tuple[int, ...], PrefixState] = OrderedDict()
        self._prefix_cache_entries = max(1, int(prefix_cache_entries))
        pad = getattr(tokenizer, "pad_token_id", None)
        pad = getattr(tokenizer, "eos_token_id", None) if pad is None else pad
        self.pad_id = int(pad) if isinstance(pad, int) else 0
        self.last_stats = RerankStats()

    # ---- public API -------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """"tree", "per_candidate" or "plain": what scoring uses (probing the model on first call);
        "skipped" when the judge's weight is about zero (no probe, no pass)."""
        if self.skips_judge:
            return "skipped"
        path = self._scoring_path()
        return path if path in ("per_candidate", "plain") else "tree"

    @property
    def attention(self) -> str:
        """"kernel" or "mask" for the tree, "" for per-candidate scoring."""
        path = self._scoring_path()
        return "" if path in ("per_candidate", "plain") else path

    @property
    def pack_tokens(self) -> int:
        if self._pack_tokens:
            return self._pack_tokens
        return KERNEL_PACK_TOKENS if self._scoring_path() == "kernel" else MASK_PACK_TOKENS

    @pack_tokens.setter
    def pack_tokens(self, value: Optional[int]) -> None:
        self._pack_tokens = int(value) if value else None

    def score(self, intent_or_text: Intent | str, candidates: Sequence[Candidate], *,
              description_tokens: Optional[int] = None, on_step: Optional[OnStep] = None,
              check_cancel: Optional[CheckCancel] = None) -> list[float]:
        """One scoring pass: a calibrated score in [0, 1] per candidate, in input order.

        Zero candidates give an empty list. The prefix (rubric + request) is encoded once and cached.
        """
        on_step, check_cancel = resolve(on_step, check_cancel)
        started = time.perf_counter()
        if candidates:
            load_for_work(self.llm)
        self.last_stats = RerankStats(mode=self.mode, attention=self.attention) if candidates else RerankStats()
        if not candidates:
            return []
        budget = int(description_tokens or self.description_tokens[-1])
        prefix, self.last_stats.prefix_reused = self._prefix(intent_or_text)
        self.last_stats.prefix_tokens = prefix.length
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            on_step(done[0], len(candidates))

        scores, self.last_stats.passes = self._score_round(prefix, candidates, budget, check_cancel, step)
        self.last_stats.rounds, self.last_stats.scored = 1, [len(candidates)]
        self.last_stats.description_tokens = [budget]
        self.last_stats.seconds = time.perf_counter() - started
        return scores

    def rerank(self, intent: Intent | str, candidates: Sequence[Candidate], keep: int = 3, *,
               on_step: Optional[OnStep] = None, check_cancel: Optional[CheckCancel] = None) -> list[Candidate]:
        """All candidates, best first, as copies with `rerank_score` set; the first `keep` are the finalists.

        Round r scores the survivors with `description_tokens[r]` description tokens, then keeps the top
        `keep_fraction` (never fewer than `keep`). When only `keep` survive, the next round jumps to the
        closest look. Survivors rank by their last-round key (`judge.ranking_keys` of the LLM score and retrieval
        scores), then pruned candidates by the round they reached and their key; ties break on the
        retrieval score. Zero candidates give an empty list.
        """
        on_step, check_cancel = resolve(on_step, check_cancel)
        started = time.perf_counter()
        if self.skips_judge:
            return self._retrieval_order(candidates, on_step)
        if candidates:
            load_for_work(self.llm)
        stats = RerankStats(mode=self.mode, attention=self.attention) if candidates else RerankStats()
        if not candidates:
            self.last_stats = stats
            return []
        keep = max(1, int(keep))
        places = retrieval_places([float(c.score) for c in candidates])  # over the whole pool, fixed for all rounds
        prefix, stats.prefix_reused = self._prefix(intent)
        stats.prefix_tokens = prefix.length
        n = len(candidates)
        last_score = [0.0] * n
        ranking_key = [0.0] * n
        reached = [0] * n
        alive = list(range(n))
        budgets = list(self.description_tokens)
        total_work = self._planned_work(n, keep)
        done = [0]

        def step(count: int) -> None:
            done[0] += count
            on_step(min(done[0], total_work), total_work)

        r = 0
        while True:
            final = r >= len(budgets) - 1 or len(alive) <= keep
            budget = budgets[-1] if final else budgets[r]
            scores, passes = self._score_round(prefix, [candidates[i] for i in alive], budget, check_cancel, step)
            keys = ranking_keys(scores, [places[i] for i in alive], self.judge_weight)
            for i, s, key in zip(alive, scores, keys):
                last_score[i], ranking_key[i], reached[i] = s, key, r + 1
            stats.scored.append(len(alive))
            stats.description_tokens.append(budget)
            stats.passes.add(passes)
            r += 1
            alive.sort(key=lambda i: (-ranking_key[i], -candidates[i].score, i))
            if final:
                break
            alive = alive[: max(keep, math.ceil(len(alive) * self.keep_fraction))]
        order = sorted(range(n), key=lambda i: (-reached[i], -ranking_key[i], -candidates[i].score, i))
        stats.rounds = r
        stats.seconds = time.perf_counter() - started
        self.last_stats = stats
        on_step(total_work, total_work)
        return [dataclasses.replace(candidates[i], rerank_score=last_score[i], final_score=ranking_key[i],
                                    rerank_round=reached[i]) for i in order]

    @property
    def skips_judge(self) -> bool:
        """True when the judge's weight is about zero: its forward pass could not change the order."""
        return self.judge_weight < SKIP_BELOW

    def judge_summary(self) -> str:
        """What the node and the sidebar say about the judge: which model, what was measured, what it did."""
        name = Path(str(getattr(self.llm, "path", "") or "the LLM")).name
        if self.judge_source == "measured" and self.judge_record is not None:
            text = f"judge {name}: {self.judge_record.describe()}"
        elif self.judge_source == "set":
            text = f"judge {name}: weight {self.judge_weight:.2f}, set by hand"
        else:
            text = (f"judge {name}: not measured; weight {self.judge_weight:.2f} assumed. Measure it with "
                    f"`polaris bench rerank --quality --save --model <path>`")
        if self.skips_judge:
            text += ("; about zero, so the LLM's forward pass was skipped and retrieval's order kept. Connect a "
                     "bigger LLM (Load LLM) and measure it with `polaris bench rerank --quality --save --model "
                     "<path>` to give the judge a say")
        return text

    def _retrieval_order(self, candidates: Sequence[Candidate], on_step: OnStep) -> list[Candidate]:
        """The skip path: retrieval's order, no forward pass, no LLM score."""
        stats = RerankStats(mode="skipped", skipped=True)
        places = retrieval_places([float(c.score) for c in candidates])
        order = sorted(range(len(candidates)), key=lambda i: places[i])
        self.last_stats = stats
        on_step(1, 1)
        return [dataclasses.replace(candidates[i], rerank_score=None, final_score=-float(places[i]), rerank_round=0)
                for i in order]

    def rerank_all(self, candidates: Candidates, keep: int = 3, *, on_step: Optional[OnStep] = None,
                   check_cancel: Optional[CheckCancel] = None) -> Candidates:
        """Rerank every slot of a retrieval result against its intent (one cached prefix for all slots).

        `on_step(done, total)` counts candidate scorings over all slots and rounds, reported as each
        forward pass (a group of packs) finishes.
        """
        if candidates.intent is None:
            raise RerankError("These candidates carry no intent; parse the instruction first.")
        on_step, check_cancel = resolve(on_step, check_cancel)
        keep = max(1, int(keep))
        work = {slot: self._planned_work(len(candidates.slot(slot)), keep) for slot in SLOTS}
        total, offset = max(1, sum(work.values())), 0
        on_step(0, total)
        ranked = {}
        for slot in SLOTS:
            def slot_step(done: int, _n: int, base: int = offset) -> None:
                on_step(base + done, total)

            ranked[slot] = self.rerank(candidates.intent, candidates.slot(slot), keep, on_step=slot_step,
                                       check_cancel=check_cancel)
            offset += work[slot]
        on_step(total, total)
        return Candidates(intent=candidates.intent, checkpoints=ranked["checkpoint"],
                          style_loras=ranked["style_lora"], object_loras=ranked["object_lora"],
                          notes=list(candidates.notes))

    def reference_scores(self, intent_or_text: Intent | str, candidates: Sequence[Candidate],
                         description_tokens: Optional[int] = None) -> list[float]:
        """Each candidate scored by its own plain forward pass of prefix + branch (no cache, no mask)."""
        budget = int(description_tokens or self.description_tokens[-1])
        prefix_ids = self.prompt.prefix_ids(intent_or_text)
        rows = [sequence_logits(self.model, prefix_ids + b, self.prompt.score_tokens.token_ids)
                for b in self.branches(candidates, budget)]
        return logits_to_scores(torch.stack(rows), self.prompt.score_tokens.values) if rows else []

    def branches(self, candidates: Sequence[Candidate], description_tokens: int) -> list[list[int]]:
        return [self.prompt.branch_ids(c, description_tokens, self.max_branch_tokens) for c in candidates]

    # ---- internals --------------------------------------------------------------------------------------
    def _planned_work(self, n: int, keep: int) -> int:
        total, alive = 0, n
        for r in range(len(self.description_tokens)):
            total += alive
            if alive <= keep or r == len(self.description_tokens) - 1:
                break
            alive = max(keep, math.ceil(alive * self.keep_fraction))
        return total

    def _prefix(self, intent_or_text: Intent | str) -> tuple[PrefixState, bool]:
        """The encoded prefix for this request, and whether it came from the cache."""
        ids = tuple(self.prompt.prefix_ids(intent_or_text))
        cached = self._prefix_cache.get(ids)
        if cached is not None:
            self._prefix_cache.move_to_end(ids)
            return cached, True
        state = encode_prefix(self.model, ids)
        self._prefix_cache[ids] = state
        while len(self._prefix_cache) > self._prefix_cache_entries:
            self._prefix_cache.popitem(last=False)
        return state, False

    def _score_round(self, prefix: PrefixState, candidates: Sequence[Candidate], budget: int,
                     check_cancel: CheckCancel, step: Any) -> tuple[list[float], PassStats]:
        branches = self.branches(candidates, budget)
        logits, passes = self._path_logits(self._long_prompt_path(prefix, branches), prefix, branches,
                                           check_cancel, step)
        return logits_to_scores(logits, self.prompt.score_tokens.values), passes

    def _long_prompt_path(self, prefix: PrefixState, branches: list[list[int]]) -> str:
        """The scoring path for prompts this long. Past a sliding window only plain passes are exact; in
        "auto" mode a prompt longer than any checked so far is first checked against plain passes on its
        longest branches (a short probe cannot notice a window or a length limit)."""
        path = self._scoring_path()
        longest = prefix.length + max((len(b) for b in branches), default=0)
        window = sliding_window(self.model)
        if path != "plain" and window is not None and longest > window:
            log.warning("reranker: prompts of %d tokens exceed %s's %d-token sliding window; scoring each candidate "
                        "with its own plain pass", longest, type(self.model).__name__, window)
            self._path = path = "plain"
        if path == "plain" or self.requested_mode != "auto" or longest <= self._verified_tokens:
            return path
        longest_first = sorted(range(len(branches)), key=lambda i: -len(branches[i]))[:2]
        sample = [branches[i] for i in longest_first]
        score_ids = self.prompt.score_tokens.token_ids
        plain = torch.stack([sequence_logits(self.model, list(prefix.ids) + b, score_ids) for b in sample])
        order = ["kernel", "mask", "per_candidate"]
        for candidate in order[order.index(path):]:
            if candidate == "mask" and self.requested_attention == "kernel":
                continue
            try:
                logits, _ = self._path_logits(candidate, prefix, sample, lambda: None, lambda n: None)
            except Exception as exc:  # any failure means this path cannot score prompts this long
                log.warning("reranker: %s scoring failed on a %d-token prompt: %s", candidate, longest, exc)
                continue
            if _close(logits, plain, self.model):
                self._path, self._verified_tokens = candidate, longest
                return candidate
            log.warning("reranker: %s scoring differs from plain passes on a %d-token prompt", candidate, longest)
        log.warning("reranker: scoring each candidate with its own plain pass (%d-token prompts)", longest)
        self._path = "plain"
        return "plain"

    def _path_logits(self, path: str, prefix: PrefixState, branches: list[list[int]], check_cancel: CheckCancel,
                     step: Any) -> tuple[torch.Tensor, PassStats]:
        score_ids = self.prompt.score_tokens.token_ids
        if path == "plain":  # no shared cache: each row is prefix + branch under the model's own attention
            return batched_logits(self.model, branches, score_ids, prefix_ids=prefix.ids,
                                  batch_size=self.fallback_batch_size, pad_id=self.pad_id,
                                  check_cancel=check_cancel, on_forward=step)
        if path != "per_candidate":
            logits, passes = tree_logits(self.model, prefix, branches, score_ids, pack_tokens=self.pack_tokens,
                                         packs_per_forward=self.packs_per_forward, pad_id=self.pad_id,
                                         kernel=path == "kernel", check_cancel=check_cancel, on_forward=step)
        else:
            logits, passes = batched_logits(self.model, branches, score_ids, prefix=prefix,
                                            batch_size=self.fallback_batch_size, pad_id=self.pad_id,
                                            check_cancel=check_cancel, on_forward=step)
        return logits, passes

    def _scoring_path(self) -> str:
        if self._path is None:
            self._path = self._probe_paths()
        return self._path

    def _probe_paths(self) -> str:
        """The first tree attention path that reproduces plain passes on this model, else per-candidate."""
        candidates = []
        if self.requested_attention in ("auto", "kernel") and supports_kernel(self.model):
            candidates.append("kernel")
        if self.requested_attention in ("auto", "mask"):
            candidates.append("mask")
        for path in candidates:
            if self._probe(kernel=path == "kernel"):
                self._verified_tokens = self._probe_tokens
                return path
        log.warning("reranker: %s cannot run the tree pass (%s); falling back to batched per-candidate scoring "
                    "on the shared prefix cache", type(self.model).__name__,
                    "tried " + " and ".join(candidates) if candidates else "no tree attention path applies")
        return "per_candidate"

    def _probe(self, kernel: bool) -> bool:
        """Does a tiny tree (prefix cache + 3 packed branches) reproduce plain passes on this model?

        Kernels that only do plain causal attention (e.g. flash-attention) either reject a 4D mask or
        ignore it; both show up here.
        """
        path = "tree attention kernel" if kernel else "4D attention mask"
        attn = getattr(getattr(self.model, "config", None), "_attn_implementation", None)
        prefix_ids = self.prompt.prefix_ids("probe: a red cat")[:12]
        branches = [prefix_ids[2:5], prefix_ids[1:8], prefix_ids[3:4]]
        score_ids = self.prompt.score_tokens.token_ids
        try:
            tree, _ = tree_logits(self.model, encode_prefix(self.model, prefix_ids), branches, score_ids,
                                  pack_tokens=10_000, pad_id=self.pad_id, kernel=kernel)
            plain = torch.stack([sequence_logits(self.model, prefix_ids + b, score_ids) for b in branches])
        except Exception as exc:  # any failure means this path is unusable for this model
            log.warning("reranker: the %s failed on %s with %r attention: %s", path, type(self.model).__name__,
                        attn, exc)
            return False
        self._probe_tokens = len(prefix_ids) + max(map(len, branches))
        diff = float((tree - plain).abs().max())
        if not _close(tree, plain, self.model):
            log.warning("reranker: %s with %r attention does not honour the %s (probe diff %.3g)",
                        type(self.model).__name__, attn, path, diff)
            return False
        log.debug("reranker: %s probe passed (max diff %.2g)", path, diff)
        return True


def _close(logits: torch.Tensor, plain: torch.Tensor, model: Any) -> bool:
    """Do these score logits match plain passes within the tolerance of the model's dtype?"""
    tolerance = PROBE_TOLERANCE.get(next(model.parameters()).dtype, 5e-2)
    return float((logits - plain).abs().max()) <= tolerance * max(1.0, float(plain.abs().max()))
