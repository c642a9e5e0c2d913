"""One submission's grading as the results file of a grading platform.

``gradescope(report)`` is the dictionary Gradescope's autograder writes to
``/autograder/results/results.json``; ``prairielearn(report)`` the one
PrairieLearn's external grader writes to ``/grade/results/results.json``.
Both hold one test per automatically graded question (its points, and the
feedback of its checks as the student's report shows it with ``-v``) and a
short summary naming the questions graded by hand, which each platform
grades apart: on Gradescope as questions of their own, on PrairieLearn as
manually graded points. Nothing here runs student code: a Report (see
grading.py) holds only what the trusted side decided and wrote.
"""
import questions

#: What a student's feedback on Gradescope shows, and when: the tests and
#: the summary at once; the grader's own output (stdout) never.
GRADESCOPE_VISIBILITY, GRADESCOPE_STDOUT = "visible", "hidden"


def _check_lines(results):
    """The feedback of one question's checks, one line each."""
    return [f"{'public' if r.check.public else 'hidden'} {r.check.name}: "
            f"{r.status}" + (f": {r.message}" if r.message else "")
            for r in results]


def summary(report):
    """A few lines: the notes, the automatic total, the questions graded by
    hand and what the notebook holds for them."""
    earned, possible = report.total()
    manual = dict(report.manual)
    hand = ", ".join(question for question, _, _, _ in questions.MANUAL)
    lines = [f"note: {note}" for note in report.notes]
    lines.append(f"Graded automatically: {earned} / {possible} points.")
    lines.append(f"Graded by hand, apart from this total: {hand} "
                 f"({sum(p for _, _, p, _ in questions.MANUAL)} points).")
    lines += [f"{question}: {manual[question]}"
              for question, _, _, _ in questions.MANUAL if manual.get(question)]
    return lines


def gradescope(report):
    """Gradescope's results.json for one submission, as a dictionary."""
    tests = []
    for question, what, earned, possible, results in report.questions():
        tests.append({
            "name": f"{question} {what}",
            "number": question[1:],
            "score": float(earned),
            "max_score": float(possible),
            "status": "passed" if earned == possible else "failed",
            "output": "\n".join(_check_lines(results)),
            "visibility": GRADESCOPE_VISIBILITY,
            "tags": [question],
        })
    earned, _ = report.total()
    return {
        "score": float(earned),
        "execution_time": max(0, round(report.seconds)),
        "output": "\n".join(summary(report)),
        "output_format": "text",
        "visibility": GRADESCOPE_VISIBILITY,
        "stdout_visibility": GRADESCOPE_STDOUT,
        "tests": tests,
    }


def prairielearn(report):
    """PrairieLearn's results.json for one submission, as a dictionary.
    A submission without an mlp.py to grade is not gradable: PrairieLearn
    then shows the message and does not count the attempt."""
    earned, possible = report.total()
    tests = [{
        "name": f"{question} {what}",
        "description": f"{what} ({points} points)",
        "points": float(got),
        "max_points": float(points),
        "message": "\n".join(_check_lines(results)),
        "output": "",
    } for question, what, got, points, results in report.questions()]
    lines = summary(report)
    return {
        "gradable": report.graded,
        "score": earned / possible,
        "message": " ".join(lines[:len(report.notes) + 1]),
        "output": "\n".join(lines),
        "tests": tests,
    }
