"""Are the grader's secret problems fair? Grade the same class under many
secrets and see whether any grade moves.

The hidden problems (sizes, parameters, data, the digits' split and
permutations) are drawn from the built grader's secret and the submitted
``mlp.py``, so each secret is another set of problems. This script builds
the handout once, makes a class of the solution, the right solutions
written differently (``tests/mutants.py``'s VARIANTS) and the one-mistake
mutants (its MUTANTS), then, ``--secrets`` times, writes a new random secret
into the grader folder and grades the class with ``grade-class``, sandbox
included. It prints, per submission, how many secrets gave which points
per question: the solution and the variants must get 45 / 45 under every
secret, and each mutant the same points under every secret, lost in its own
question only.

Usage, from any directory (about 30 s per secret with 2 jobs)::

    python benchmarks/secret_fairness.py [--secrets 200] [--jobs 2] [--out results.json]
"""
import argparse
import collections
import csv
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "instructor")]

from mutants import MUTANTS, VARIANTS, Mutant, apply  # noqa: E402

import grading  # noqa: E402
import questions  # noqa: E402

POINTS = {q: points for q, (_, points) in questions.QUESTIONS.items()}


def make_class(folder):
    """folder/built (the handout and grader) and folder/class/<name>."""
    subprocess.run([sys.executable, str(ROOT / "instructor" / "handout.py"),
                    "build", str(folder / "built")], check=True,
                   capture_output=True)
    solution = (ROOT / "mlp.py").read_text()
    sources = {"solution": solution}
    sources.update({f"variant_{name}": apply(solution, Mutant("", changes,
                                                              ""))
                    for name, changes in VARIANTS.items()})
    sources.update({name: apply(solution, mutant)
                    for name, mutant in MUTANTS.items()})
    for name, source in sources.items():
        (folder / "class" / name).mkdir(parents=True)
        (folder / "class" / name / "mlp.py").write_text(source)
    return folder / "built" / "grader", folder / "class"


def grade(grader, class_dir, results, jobs):
    """{student: (points of each question, in QUESTIONS' order)}."""
    shutil.rmtree(results, ignore_errors=True)
    subprocess.run([sys.executable, str(grader / "handout.py"), "grade-class",
                    str(class_dir), "--out", str(results), "--jobs",
                    str(jobs)], check=True, capture_output=True)
    with open(results / "grades.csv", newline="") as f:
        return {row["student"]: tuple(int(row[f"{q} [{p}]"])
                                      for q, p in POINTS.items())
                for row in csv.DictReader(f)}


def fair(name, outcomes):
    """Whether a submission's grades under every secret are what they must
    be (see the module docstring), and why not."""
    full = tuple(POINTS.values())
    if name == "solution" or name.startswith("variant_"):
        return set(outcomes) == {full}, "45 / 45 under every secret"
    own = list(POINTS).index(MUTANTS[name].question)
    if len(set(outcomes)) != 1:
        return False, "its grade changes with the secret"
    points = outcomes[0]
    others = all(p == full[i] for i, p in enumerate(points) if i != own)
    return (others and points[own] < full[own],
            f"loses {full[own] - points[own]} in {MUTANTS[name].question} "
            f"only, under every secret")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secrets", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None,
                        help="also write every grade, per secret, as JSON "
                             "(after each secret)")
    parser.add_argument("--summarize", type=Path, default=None,
                        metavar="JSON", help="grade nothing: summarize the "
                        "grades an earlier run wrote with --out")
    args = parser.parse_args()
    if args.summarize:
        seen = {name: [tuple(p) for p in grades] for name, grades in
                json.loads(args.summarize.read_text()).items()
                if name != "secrets"}
        return summarize(seen, len(next(iter(seen.values()))), args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        grader, class_dir = make_class(Path(tmp))
        seen = collections.defaultdict(list)
        for run in range(args.secrets):
            grading.write_secret(grader / grading.SECRET_NAME)
            seen["secrets"].append(
                (grader / grading.SECRET_NAME).read_text().strip())
            for name, points in grade(grader, class_dir, Path(tmp) / "out",
                                      args.jobs).items():
                seen[name].append(points)
            print(f"secret {run + 1}/{args.secrets} graded", file=sys.stderr,
                  flush=True)
            if args.out:            # after every secret: a run cut short
                args.out.write_text(json.dumps(seen, indent=1))
    return summarize(seen, args.secrets, args.jobs)


def summarize(seen, secrets, jobs):
    """Print the table of grades seen; 1 if a submission was unfair.
    (``seen["secrets"]`` lists the secrets, in order, to grade again.)"""
    seen = {name: grades for name, grades in seen.items()
            if name != "secrets"}
    print(f"{len(seen)} submissions graded under {secrets} secrets; "
          f"{datetime.date.today()}, {jobs} jobs, sandbox included.\n")
    print("| submission | fair | grades seen (points of Q2.1 .. Q2.6: "
          "secrets) | what it must be |")
    print("|---|---|---|---|")
    unfair = 0
    for name in sorted(seen, key=lambda n: (n != "solution",
                                            not n.startswith("variant_"), n)):
        ok, must = fair(name, seen[name])
        unfair += not ok
        counts = collections.Counter(seen[name])
        shown = "; ".join(f"{'/'.join(map(str, p))}: {c}"
                          for p, c in counts.most_common())
        print(f"| {name} | {'yes' if ok else 'NO'} | {shown} | {must} |")
    print(f"\n{len(seen) - unfair} of {len(seen)} submissions graded fairly "
          f"under every secret.")
    return 1 if unfair else 0


if __name__ == "__main__":
    sys.exit(main())
