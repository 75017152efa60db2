"""`polaris bench parse`: type accuracy per class, confusion matrix, subject exact-match, latency.

Default files: the dev split `../shared/data/bench/instructions-dev.jsonl` (type labels; "remove"
means 5) and the labelled paraphrase sets in `tests/core/data/` (type and subject labels), parsed with
the head trained WITHOUT the dev split (`type_head_no_dev.json`), so the dev figure is held out.
With `--cv` (default when no --file is given) it also prints the held-out figure: the whole parser's
cross-validation on the project's instruction set, 5 folds each holding out whole templates with their
near-twins (type head and span tagger both retrained per fold), type accuracy beside subject exact-match for
the rules alone, the tagger alone and the shipped combination. Every file the rules were developed against is
marked TUNED ON.
Latency is split by path: rules alone (a certain rule decided, the rules' subject exact) and rules + one
encoder pass (type head and/or span tagger).
Prints figures; it is never a timed test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("POLARIS_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_FILES = (
    SHARED_DATA / "bench" / "instructions-dev.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_paraphrases.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_paraphrases_other_source.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_conversational_tuned.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_blind_s12.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_blind_s13.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_blind_s14.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_blind_s15.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_blind_s16.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_blind_s17.jsonl",
    ROOT / "tests" / "core" / "data" / "parse_blind_s18.jsonl",
)
# Why a file's figure is not a held-out estimate: the rules (or the head) were developed against it.
TUNED_ON = {
    "instructions-dev.jsonl": "the rules were developed against it (test_parse_rules.py holds them to >= .97 on it)",
    "parse_paraphrases.jsonl": "the rules were tuned on it",
    "parse_paraphrases_other_source.jsonl": "the rules were tuned on it",
    "parse_conversational_tuned.jsonl": "offline.py and compose.py were tuned on it",
    "parse_blind_s12.jsonl": "written blind in session 12; its misses then named the owner / place / participle "
                             "classes the next round fixed",
    "parse_blind_s13.jsonl": "written in session 13 and scored once held out (type 0.965, subject 0.895); its misses "
                             "then named the classes session 14 fixed (relative clauses, participles and places "
                             "after nouns, \"take X's place\", parts given a new look)",
    "parse_blind_s14.jsonl": "written blind in session 14 and scored once held out (type 0.940, subject 0.927); its "
                             "misses then named the classes the sixth round fixed (conversational frames, a reference "
                             "image named in words, outcome-phrased additions), and that round saw its totals",
    "parse_blind_s15.jsonl": "written blind in session 14 and scored held out (type / subject 0.940 / 0.860 after the "
                             "sixth round); the seventh round (session 16) fixed the classes its misses named and ran "
                             "the parser on its rows",
    "parse_blind_s16.jsonl": "written blind in session 16 by a helper who never saw the parser; scored once before "
                             "(type 0.900 / subject 0.793 on b9b6bfe), then the eighth round was fixed against its misses",
    "parse_blind_s17.jsonl": "written blind in session 16; scored held out three times (type / subject 0.907 / 0.767, "
                             "0.907 / 0.793, 0.913 / 0.820), then the ninth round fixed the classes of its misses",
}
# Sets nobody has tuned on yet, and how they were made. Whoever fixes a miss read from one moves it to TUNED_ON.
HELD_OUT: dict[str, str] = {
    "parse_blind_s18.jsonl": "150 rows written in session 16 by a third helper who never read or ran the parser or saw an "
                             "earlier set, kept from every engineer fixing it; scored before the seventh round, after the "
                             "eighth and after the ninth (type / subject 0.887 / 0.673, 0.940 / 0.773, 0.953 / 0.827); "
                             "nobody has read its misses to fix them",
}
TYPE_NAMES = ("replace", "add", "local", "global", "reference", "remove")


@dataclass
class ParseBenchResult:
    name: str
    rows: int = 0
    correct: int = 0
    confusion: list[list[int]] = field(default_factory=lambda: [[0] * 6 for _ in range(6)])  # [true][predicted]
    subject_rows: int = 0
    subject_correct: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    rules_only_ms: list[float] = field(default_factory=list)
    head_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)       # process CPU time per instruction (all threads)
    batch_ms: float | None = None      # per instruction, the whole file through parse_many
    errors: int = 0
    mistakes: list[dict] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.rows if self.rows else 0.0

    @property
    def subject_accuracy(self) -> float | None:
        return self.subject_correct / self.subject_rows if self.subject_rows else None

    def class_accuracy(self) -> dict[int, tuple[int, int]]:
        """true type -> (correct, total)."""
        return {t: (self.confusion[t][t], sum(self.confusion[t])) for t in range(6) if sum(self.confusion[t])}

    def latency(self) -> dict[str, float]:
        if not self.latencies_ms:
            return {}
        ordered = sorted(self.latencies_ms)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        figures = {"median_ms": statistics.median(ordered), "p95_ms": p95, "mean_ms": statistics.fmean(ordered)}
        if self.rules_only_ms:
            figures["rules_only_median_ms"] = statistics.median(self.rules_only_ms)
        if self.head_ms:
            figures["head_median_ms"] = statistics.median(self.head_ms)
        figures["head_share"] = len(self.head_ms) / len(self.latencies_ms)
        if self.batch_ms is not None:
            figures["batch_ms_per_instruction"] = self.batch_ms
        if self.cpu_ms:
            figures["cpu_median_ms"] = statistics.median(self.cpu_ms)
        return figures

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name, "rows": self.rows, "type_accuracy": self.accuracy,
            "per_class": {TYPE_NAMES[t]: {"correct": c, "total": n} for t, (c, n) in self.class_accuracy().items()},
            "confusion": self.confusion, "subject_rows": self.subject_rows,
            "subject_exact_match": self.subject_accuracy, "errors": self.errors, **self.latency(),
        }


def load_rows(path: Path, field_name: str = "instruction", label_field: str = "instruction_type",
              subject_field: str = "subject") -> list[dict]:
    """Rows with a usable instruction and type label (bad lines are skipped and counted in a warning)."""
    from polaris_core.errors import ConfigError, IntentError
    from polaris_core.intent import coerce_instruction_type

    rows: list[dict] = []
    skipped = 0
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read {path} ({exc}); give an existing JSONL file with --file.") from exc
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            label = int(coerce_instruction_type(row[label_field]))
            instruction = row[field_name]
        except (json.JSONDecodeError, KeyError, TypeError, IntentError):
            skipped += 1
            continue
        if not isinstance(instruction, str):
            skipped += 1
            continue
        subject = row.get(subject_field)
        rows.append({"instruction": instruction, "label": label,
                     "subject": subject.strip().lower() if isinstance(subject, str) else None})
    if skipped:
        import logging

        logging.getLogger("polaris").warning("%s: skipped %d unusable lines", path.name, skipped)
    return rows


def run_benchmark(name: str, rows: Iterable[dict], parser: Any, keep_mistakes: int = 0) -> ParseBenchResult:
    """Parse every row, timing each call."""
    from polaris_core.errors import PolarisError

    result = ParseBenchResult(name=name)
    for row in rows:
        started, cpu_started = time.perf_counter(), time.process_time()
        used_head = False
        try:
            intent = parser.parse(row["instruction"])
            predicted, subject = int(intent.instruction_type), intent.subject
            used_head = any(note.startswith(("type head:", "subject read by the span tagger")) for note in intent.notes)
        except PolarisError:
            result.errors += 1
            predicted, subject = -1, None
        elapsed_ms = 1000 * (time.perf_counter() - started)
        result.cpu_ms.append(1000 * (time.process_time() - cpu_started))
        result.latencies_ms.append(elapsed_ms)
        (result.head_ms if used_head else result.rules_only_ms).append(elapsed_ms)
        result.rows += 1
        if predicted >= 0:
            result.confusion[row["label"]][predicted] += 1
        result.correct += int(predicted == row["label"])
        subject_ok = True
        if row.get("subject") is not None:
            result.subject_rows += 1
            subject_ok = subject == row["subject"]
            result.subject_correct += int(subject_ok)
        if (predicted != row["label"] or not subject_ok) and len(result.mistakes) < keep_mistakes:
            result.mistakes.append({"instruction": row["instruction"], "label": row["label"], "predicted": predicted,
                                    "subject": row.get("subject"), "predicted_subject": subject})
    return result


def format_result(result: ParseBenchResult) -> str:
    why, how = TUNED_ON.get(result.name), HELD_OUT.get(result.name)
    lines = [f"== {result.name}: {result.rows} instructions" + (f" (TUNED ON: {why})" if why else "")
             + (f" (HELD OUT: {how})" if how else "")]
    lines.append(f"type accuracy      {result.accuracy:.4f}  ({result.correct}/{result.rows})"
                 + (f", {result.errors} errors" if result.errors else ""))
    for t, (c, n) in result.class_accuracy().items():
        lines.append(f"  {t} {TYPE_NAMES[t]:<10} {c / n:.4f}  ({c}/{n})")
    if result.subject_accuracy is not None:
        lines.append(f"subject exact-match {result.subject_accuracy:.4f}  ({result.subject_correct}/{result.subject_rows})")
    latency = result.latency()
    if latency:
        lines.append(f"latency            median {latency['median_ms']:.3f} ms, p95 {latency['p95_ms']:.3f} ms, "
                     f"mean {latency['mean_ms']:.3f} ms")
        if "rules_only_median_ms" in latency:
            lines.append(f"  rules alone decided {1 - latency['head_share']:.1%}: median "
                         f"{latency['rules_only_median_ms']:.3f} ms")
        if "head_median_ms" in latency:
            lines.append(f"  rules + encoder pass {latency['head_share']:.1%}: median {latency['head_median_ms']:.3f} ms")
        if "cpu_median_ms" in latency:
            lines.append(f"  CPU time (all threads) median {latency['cpu_median_ms']:.3f} ms: wall time on a busy "
                         "machine waits for a core")
        if "batch_ms_per_instruction" in latency:
            lines.append(f"  batch (parse_many, encoder batches) {latency['batch_ms_per_instruction']:.3f} ms per "
                         "instruction")
    lines.append("per-type recall    " + ", ".join(f"{TYPE_NAMES[t]} {c / n:.3f}" for t, (c, n) in
                                               result.class_accuracy().items()))
    lines.append("confusion (rows: true type, columns: predicted)")
    lines.append("      " + " ".join(f"{t:>5}" for t in range(6)))
    for t in range(6):
        if sum(result.confusion[t]):
            lines.append(f"  {t}   " + " ".join(f"{v:>5}" for v in result.confusion[t]))
    for mistake in result.mistakes:
        lines.append(f"  miss: {mistake}")
    return "\n".join(lines)


def register(bench_subparsers) -> None:
    from polaris_core.cli.parse import add_backend_arguments

    parser = bench_subparsers.add_parser("parse", help="instruction parser: accuracy, confusion, subject match, latency")
    parser.add_argument("--file", action="append", metavar="FILE.jsonl",
                        help="labelled JSONL (repeatable; default: the dev split and the paraphrase sets)")
    parser.add_argument("--field", default="instruction", help="instruction field (default: instruction)")
    parser.add_argument("--label-field", default="instruction_type", help="type label field")
    parser.add_argument("--subject-field", default="subject", help="subject label field, where present")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows of each file")
    parser.add_argument("--repeat", type=int, default=1, help="parse each file N times (steadier latency)")
    parser.add_argument("--show-mistakes", type=int, default=0, metavar="N", help="print up to N misparsed rows")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--head", choices=("no-dev", "shipped", "none"), default="no-dev",
                        help="rules backend: the type head to use (default no-dev: never trained on the dev split; "
                             "shipped: the parser's own, trained with it; none: rules alone)")
    parser.add_argument("--tagger", choices=("shipped", "none"), default="shipped",
                        help="rules backend: the span tagger for the subject (default shipped; none: the rules' subject)")
    parser.add_argument("--cv", dest="cv", action="store_true", default=None,
                        help="also cross-validate the head on the project set (default when no --file is given)")
    parser.add_argument("--no-cv", dest="cv", action="store_false", help="skip the cross-validation")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for the encoder (default: torch's)")
    add_backend_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from polaris_core.cli.parse import backend_options
    from polaris_core.errors import ConfigError
    from polaris_core.parse import get_parser

    files = [Path(f) for f in args.file] if args.file else [f for f in DEFAULT_FILES if f.is_file()]
    if not files:
        raise ConfigError("No benchmark file found; give one with --file FILE.jsonl.")
    options = backend_options(args)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    if args.backend == "rules":
        from polaris_core.parse.head import HEAD_FILE, HEAD_FILE_NO_DEV

        options = {"head": args.head != "none",
                   "head_path": HEAD_FILE_NO_DEV if args.head == "no-dev" else HEAD_FILE,
                   "tagger": args.tagger != "none"}
        if not args.json:
            import torch

            print(f"rules backend, type head: {args.head}, span tagger: {args.tagger if args.head != 'none' else 'none'}; "
                  f"torch threads {torch.get_num_threads()}")
    parser = get_parser(args.backend, **options)
    parser.parse("warm up the parser")  # first call loads models and word lists
    parser.parse("banish the lamp")     # and the encoder, when a head is used
    results = []
    for path in files:
        rows = load_rows(path, args.field, args.label_field, args.subject_field)
        if args.limit > 0:
            rows = rows[: args.limit]
        result = run_benchmark(path.name, rows * max(1, args.repeat), parser, keep_mistakes=args.show_mistakes)
        if hasattr(parser, "parse_many") and rows:
            started = time.perf_counter()
            parser.parse_many([r["instruction"] for r in rows])
            result.batch_ms = 1000 * (time.perf_counter() - started) / len(rows)
        results.append(result)
        if not args.json:
            print(format_result(result))
    figures: dict[str, Any] = {"files": [r.to_dict() for r in results]}
    if (args.cv if args.cv is not None else not args.file) and args.backend == "rules":
        figures["cross_validation"] = cross_validation_figures(print_lines=not args.json)
    if args.json:
        print(json.dumps(figures if "cross_validation" in figures else figures["files"], indent=2))
    return 0


def cross_validation_figures(print_lines: bool = True) -> list[dict[str, Any]]:
    """The whole parser's type accuracy and subject exact-match on the project set, 5 folds, each holding out whole
    templates with their near-twins (the held-out estimate: no phrasing and no de-framed text in two folds).
    The type head and the span tagger are retrained in every fold; the subject is scored three ways: the rules
    alone, the tagger alone, and combined as the parser ships it."""
    from polaris_core.errors import ConfigError
    from polaris_core.parse.head_training import template_groups
    from polaris_core.parse.span_tagger import load_tagger
    from polaris_core.parse.span_training import new_object_match, parser_cross_validation, prompt_match

    cv, rows, _, _, _, _ = parser_cross_validation()
    groups = template_groups([r["template"] for r in rows], [r["instruction"] for r in rows])
    try:
        tagger = load_tagger()
        shipped = f"combined {tagger.min_confidence:.1f}" + (" checked" if tagger.span_checks else "")
        shipped_new = "new object: rules" if tagger.new_object_confidence is None else \
            f"new object {tagger.new_object_confidence:.2f}"
    except ConfigError:  # without a shipped tagger the table still shows the other readers
        shipped = shipped_new = None
    subject_rows = np.array([i for i, r in enumerate(rows) if r["subject"] not in ("image", "background")])
    readers = {"rules only": cv.subjects, "tagger": cv.variant_subjects.get("tagger", [])}
    readers.update({name: subjects for name, subjects in cv.variant_subjects.items() if name.startswith("combined")})
    new_em, new_rows = new_object_match(cv)
    figures = {"grouped_by": "template + near-twins", "rows": len(rows), "groups": len(set(groups)),
               "templates": len({r["template"] for r in rows}), "accuracy": cv.accuracy,
               "subject_exact_match": {name: cv.exact_match(s) for name, s in readers.items() if s},
               "subject_exact_match_named_objects": {name: cv.exact_match(s, subject_rows)
                                                     for name, s in readers.items() if s},
               "shipped_policy": shipped, "new_object_exact_match_tagger": new_em,
               "new_object_rows": new_rows,
               "replacement_prompt_exact_match": {name: em for name, (em, _) in prompt_match(cv).items()},
               "shipped_new_object_policy": shipped_new,
               "recall": {TYPE_NAMES[t]: r for t, r in cv.recall().items()},
               "confusion": cv.confusion(), "fast_path_share": float(cv.fast_path.mean())}
    if print_lines:
        print(f"== HELD OUT: cross-validation on the project set ({figures['rows']} instructions, 5 folds; each "
              f"holds out whole templates with their near-twins: {figures['templates']} templates in "
              f"{figures['groups']} groups; type head and span tagger retrained per fold)")
        print(f"type accuracy      {cv.accuracy:.4f}  (rules alone decided the type on {figures['fast_path_share']:.1%};"
              " the same for every subject reader)")
        print(f"subject exact-match (all rows | rows naming an object, {len(subject_rows)}):")
        for name, value in figures["subject_exact_match"].items():
            mark = ""
            if name == shipped:
                mark = "  <- shipped (this policy was chosen on this CV)"
            print(f"  {name:<23} {value:.4f} | {figures['subject_exact_match_named_objects'][name]:.4f}{mark}")
        print(f"new object of a replacement, tagger exact-match {new_em:.4f} ({new_rows} rows)")
        print("replacement prompt = labelled new object (rules' new object, or the tagger's where it disagrees "
              "and is at least this sure):")
        for name, value in figures["replacement_prompt_exact_match"].items():
            mark = "  <- shipped (chosen on this CV)" if name == shipped_new else ""
            print(f"  {name:<23} {value:.4f}{mark}")
        print("per-type recall    " + ", ".join(f"{k} {v:.3f}" for k, v in figures["recall"].items()))
        print("confusion (rows: true type, columns: predicted)")
        print("      " + " ".join(f"{t:>5}" for t in range(6)))
        for t, row in enumerate(figures["confusion"]):
            print(f"  {t}   " + " ".join(f"{v:>5}" for v in row))
    return [figures]
