"""What ``grade-class`` writes about the class as a whole, beside
``grades.csv`` and the feedback files:

* ``mistakes.csv``: one row per check a student failed: who, which
  question, which check, the points it carries and the mistake it names;
* ``summary.html``: for each question, how its points are spread (a plot)
  and its mistakes ranked by how many students made each, with who made
  them; then how the totals are spread;
* ``answers/<question>.html``: every student's answer to one question
  graded by hand, one after another, the question and its points on top,
  Markdown and LaTeX rendered on this machine (MathML, which browsers draw
  themselves: the page fetches nothing), in a shuffled order; with
  ``hide_ids`` each answer carries a code instead of the student's id
  (``anonymous.csv`` keeps the codes, and manual.csv may use them).

Everything a student wrote is escaped; each page forbids scripts and every
fetch (Content-Security-Policy), so an answer cannot run code in the
browser of the teaching assistant who reads it.
"""
import csv
import html
import io
import json
import random
import re
import secrets
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict
from pathlib import Path

import questions
from reference import MISTAKES
from student_ids import readable

# ---------------------------------------------------------------------------
# The mistake a failed check names
# ---------------------------------------------------------------------------

#: Failures no known mistake explains, told by the grader's own words in a
#: hidden check's message (never by the student's): (words, the mistake).
UNNAMED = [
    ("it is all zeros", "all zeros: the quantity is not computed"),
    ("it is a multiple of the right one",
     "a multiple of the right one: a factor that does not belong"),
    ("got shape", "the wrong shape"),
    ("got NaN or inf", "NaN or inf"),
    ("got dtype", "the wrong dtype"),
    ("is not trained on the digits",
     "not trained on the digits: parts not written, or too far from right"),
    ("trained by your own code", "trained by the student's own code: "
                                 "below the pass mark"),
]
NOT_WRITTEN = "not written yet"


def mistake_of(result):
    """The mistake a CheckResult names, in words (None if it passed): the
    known mistakes' words; else, for a hidden check, what kind of failure
    its message tells; else what its status says."""
    if result.passed:
        return None
    if result.mistakes:
        return "; ".join(MISTAKES[name].words for name in result.mistakes
                         if name in MISTAKES)
    if result.missing or result.status == "not implemented yet":
        return NOT_WRITTEN
    if result.status == "timed out":
        return "too slow: the check timed out"
    if result.status == "not run":
        return f"not run: {result.message or 'no mlp.py was graded'}"
    if not result.check.public:
        if result.status == "error":
            raised = re.match(r"raised (\w+)", result.message)
            return (f"raised {raised.group(1)}" if raised
                    else "the check process failed")
        for words, mistake in UNNAMED:
            if words in result.message:
                return mistake
    if result.check.public:
        return (f"the public check {result.check.name}: {result.status} "
                f"(the hidden checks' mistakes tell why)")
    return ("an exception was raised" if result.status == "error"
            else "wrong, and no known mistake explains it")


def mistake_rows(reports):
    """[(student, question, check, points, mistake)]: one per failed check,
    in the order of the students and of the checks; a submission that was
    not graded (no mlp.py) is one row, without question or check."""
    rows = []
    for report in reports:
        if not report.graded:
            rows.append((readable(report.student), "", "", report.total()[1],
                         not_graded(report)))
            continue
        rows += [(readable(report.student), result.question,
                  result.check.name, result.check.points, mistake_of(result))
                 for result in report.results if not result.passed]
    return rows


def not_graded(report):
    """Why a submission was not graded, in the grader's words."""
    return "not graded: " + (report.notes[-1] if report.notes
                             else "no mlp.py")


def write_mistakes(path, reports):
    from grading import _csv_cell
    with open(path, "w", newline="", encoding="utf-8",
              errors="backslashreplace") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "question", "check", "points",
                         "mistake"])
        for student, question, check, points, mistake in mistake_rows(
                reports):
            writer.writerow([_csv_cell(student), question, check, points,
                             mistake])


def ranked_mistakes(reports):
    """{question: [(mistake, sorted students)]}, most common first: the
    hidden checks' mistakes (a student counts once per mistake, however
    many checks name it)."""
    who = defaultdict(set)
    for report in reports:
        if not report.graded:       # one line of the summary, not a mistake
            continue
        for result in report.results:
            if not result.passed and not result.check.public:
                who[result.question, mistake_of(result)].add(
                    readable(report.student))
    ranked = defaultdict(list)
    for (question, mistake), students in who.items():
        ranked[question].append((mistake, sorted(students)))
    for rows in ranked.values():
        rows.sort(key=lambda row: (-len(row[1]), row[0]))
    return dict(ranked)


# ---------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------

#: Nothing runs and nothing is fetched: no script, no network, no frame.
HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto;
       padding: 0 1em; line-height: 1.45; }}
.answer {{ margin-top: 2em; }}
.who {{ font-weight: bold; color: #fff; background: #2b4a6f; margin: 0;
        padding: .3em .6em; }}
.text {{ border: 1px solid #2b4a6f; border-top: none; padding: 0 1em;
         overflow: hidden; }}
.text hr {{ border: none; border-top: 1px dotted #bbb; }}
.question {{ background: #f3f3f3; padding: .5em 1em; }}
td, th {{ padding: .2em .6em; text-align: left; vertical-align: top; }}
details {{ color: #444; }}
pre {{ background: #f7f7f7; padding: .5em; overflow-x: auto; }}
</style></head><body>
"""
TAIL = "</body></html>\n"


def points_plot(values, maximum, title):
    """An SVG bar chart of how many students earned each number of points,
    made with matplotlib's Figure (no pyplot, no window)."""
    from matplotlib.figure import Figure
    counts = Counter(values)
    figure = Figure(figsize=(5, 1.8))
    axes = figure.add_subplot()
    xs = sorted(counts)
    width = max(maximum, 1) / 40
    axes.bar(xs, [counts[x] for x in xs], width=width, color="#4c72b0")
    axes.set_xlim(-maximum / 20 - width, maximum * 1.05 + width)
    axes.set_xlabel("points")
    axes.set_ylabel("students")
    axes.set_title(title, fontsize=10)
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def write_summary(path, reports):
    """summary.html: per question its points (plot) and ranked mistakes,
    then the totals."""
    ranked = ranked_mistakes(reports)
    parts = [HEAD.format(title="Problem set 3: the class at a glance"),
             f"<h1>Problem set 3: the class at a glance</h1>\n"
             f"<p>{len(reports)} submissions. A mistake is counted once per "
             f"student, however many checks name it; the hidden checks' "
             f"mistakes only (the public ones repeat them).</p>\n"]
    ungraded = [r for r in reports if not r.graded]
    if ungraded:
        parts.append(f"<p>Not graded ({len(ungraded)}, no points): "
                     + "; ".join(html.escape(f"{readable(r.student)}: "
                                             f"{not_graded(r)}")
                                 for r in ungraded) + "</p>\n")
    for question, what, _, possible, _ in (reports[0].questions()
                                           if reports else ()):
        earned = [dict((row[0], row[2]) for row in r.questions())[question]
                  for r in reports]
        parts.append(f"<h2>{question} {html.escape(what)} "
                     f"[{possible} points]</h2>\n")
        parts.append(points_plot(earned, possible, f"{question}: points"))
        full = sum(e == possible for e in earned)
        parts.append(f"<p>full points: {full} of {len(reports)}</p>\n")
        parts.append(mistakes_table(ranked.get(question, [])))
    hand = [(q, what, points) for q, what, points, _ in questions.MANUAL]
    for question, what, points in hand:
        graded = [r.hand[question][0] for r in reports if question in r.hand]
        parts.append(f"<h2>{question} {html.escape(what)} [{points} points, "
                     f"graded by hand]</h2>\n<p>graded so far: {len(graded)} "
                     f"of {len(reports)}</p>\n")
        if graded:
            parts.append(points_plot(graded, points, f"{question}: points"))
    totals = [r.grand_total() for r in reports]
    done = [earned for earned, _, waiting in totals if not waiting]
    automatic = [r.total()[0] for r in reports]
    parts.append("<h2>Totals</h2>\n")
    if done:
        from grading import TOTAL_POINTS
        parts.append(f"<p>{len(done)} of {len(reports)} students are graded "
                     f"in full (out of {TOTAL_POINTS}).</p>\n")
        parts.append(points_plot(done, TOTAL_POINTS,
                                 f"total, out of {TOTAL_POINTS}"))
    possible = reports[0].total()[1] if reports else 0
    parts.append(points_plot(automatic, possible,
                             f"automatic points, out of {possible}"))
    parts.append(TAIL)
    Path(path).write_text("".join(parts), encoding="utf-8",
                          errors="backslashreplace")


def mistakes_table(rows):
    if not rows:
        return "<p>no mistakes</p>\n"
    lines = ["<table><tr><th>students</th><th>mistake</th></tr>\n"]
    for mistake, students in rows:
        names = ", ".join(html.escape(s) for s in students)
        lines.append(f"<tr><td>{len(students)}</td><td>"
                     f"{html.escape(mistake)}<details><summary>who"
                     f"</summary>{names}</details></td></tr>\n")
    lines.append("</table>\n")
    return "".join(lines)


# ---------------------------------------------------------------------------
# Answers graded by hand, one page per question
# ---------------------------------------------------------------------------

SOLUTION = re.compile(r"<!--\s*BEGIN SOLUTION\s*-->.*?<!--\s*END SOLUTION"
                      r"\s*-->", re.S)


def question_texts(notebook_path):
    """{question: its statement} for the questions graded by hand, from the
    solved notebook with its solutions cut out: from the question's heading
    to the next heading (the answer cells hold the statements of Q1.1 to
    Q1.6 and Q3.1 to Q3.2; Q2.7's is in a cell of its own)."""
    notebook = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    text = "\n\n".join("".join(cell["source"]) if isinstance(
        cell["source"], list) else cell["source"]
        for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    text = SOLUTION.sub("", text)
    texts = {}
    for question, _, _, _ in questions.MANUAL:
        start = re.search(rf"^#+[ \t]*{re.escape(question)}(?![\d.]).*$",
                          text, re.M)
        if start:
            end = re.compile(r"^#+ ", re.M).search(text, start.end())
            texts[question] = text[start.start():end.start() if end
                                   else len(text)].strip()
    return texts


def _words(text):
    return " ".join(text.split())


def own_part(answer, statement):
    """The student's answer without the question's heading and statement,
    when it starts with them (as it does in the handout's cell)."""
    if statement and _words(answer).startswith(_words(statement)):
        kept = _words(statement)
        # drop as many characters of the answer as the statement's words
        # cover, counting only non-space characters
        need, cut = len(kept.replace(" ", "")), 0
        while need and cut < len(answer):
            need -= not answer[cut].isspace()
            cut += 1
        return answer[cut:].strip()
    return answer.strip()


#: The codes that stand for the students on the answers pages (--hide-ids).
CODES_CSV = "anonymous.csv"
HERE = Path(__file__).resolve().parent
#: The statements of the questions graded by hand, in a built grader
#: folder (written by the build from the solved notebook).
STATEMENTS_JSON = "statements.json"


def statements():
    """question_texts() of the solved notebook: the built grader's copy,
    else the repository's notebook."""
    built = HERE / STATEMENTS_JSON
    if built.is_file():
        return json.loads(built.read_text(encoding="utf-8"))
    return question_texts(HERE.parent / "pset3.ipynb")


def by_student(hand, codes, path):
    """read_manual's {student or code: {question: (points, comment)}} keyed
    by student: a code of ``codes`` stands for its student."""
    student_of = {code: student for student, code in codes.items()}
    merged = {}
    for key, graded in hand.items():
        student = student_of.get(key, key)
        for question, value in graded.items():
            if question in merged.setdefault(student, {}):
                from grading import GraderError
                raise GraderError(
                    f"{path}: {question} of {student!r} is graded twice (by "
                    f"the student's id and by the code {codes[student]}); "
                    f"keep one row")
            merged[student][question] = value
    return merged


def anonymous_codes(path, students):
    """{student: code}: the codes of ``anonymous.csv``, made for the
    students that have none yet (random, kept from run to run)."""
    codes = {}
    if Path(path).exists():
        with open(path, newline="", encoding="utf-8") as f:
            codes = {row["student"]: row["code"] for row in csv.DictReader(f)}
    new = [s for s in students if s not in codes]
    if new:
        taken = set(codes.values())
        for student in new:
            code = "a" + secrets.token_hex(3)
            while code in taken:
                code = "a" + secrets.token_hex(3)
            taken.add(code)
            codes[student] = code
        from grading import _csv_cell
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student", "code"])
            for student, code in sorted(codes.items()):
                writer.writerow([_csv_cell(student), code])
    return codes


def write_answers(folder, answers, texts, codes=None):
    """answers/<question>.html for each question graded by hand.
    ``answers``: {student: ({question: answer}, why the notebook could not
    be read or None)}; ``texts``: question_texts(); ``codes``: {student:
    code} to show instead of the ids, or None."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for question, what, points, _ in questions.MANUAL:
        # with codes, an order that the ids cannot tell: by the random codes
        order = sorted(answers, key=lambda s: codes[s] if codes else s)
        random.Random(question).shuffle(order)
        statement = texts.get(question, "")
        parts = [HEAD.format(title=f"{question}: every answer"),
                 f"<h1>{question} {html.escape(what)} [{points} points]</h1>"
                 f"\n<div class=\"question\">{render(statement)}</div>\n"
                 f"<p>{len(order)} answers, in a shuffled order. Write the "
                 f"points and a comment in manual.csv, on the row of the "
                 f"{'code' if codes else 'student'} and {question}.</p>\n"]
        for number, student in enumerate(order, 1):
            got, problem = answers[student]
            answer = got.get(question)
            shown = (f"<p><em>{html.escape(problem)}</em></p>" if problem
                     else "<p><em>no answer cell for this question</em></p>"
                     if answer is None else render(own_part(answer,
                                                            statement)))
            who = codes[student] if codes else student
            parts.append(f"<div class=\"answer\"><p class=\"who\">{number}. "
                         f"{html.escape(who)}</p>\n<div class=\"text\">"
                         f"{shown}</div></div>\n")
        parts.append(TAIL)
        (folder / f"{question}.html").write_text(
            "".join(parts), encoding="utf-8", errors="backslashreplace")


# ---------------------------------------------------------------------------
# Markdown and LaTeX, rendered here
# ---------------------------------------------------------------------------

#: A formula's delimiters: (opener, closer, shown as a block).
DELIMITERS = (("$$", "$$", True), ("\\[", "\\]", True),
              ("\\(", "\\)", False), ("$", "$", False))
#: The most of one answer rendered, and of its formulas.
MAX_ANSWER_CHARS, MAX_FORMULAS = 100_000, 2_000


def math_spans(text):
    """[(start, end, latex, display)] of the formulas in text, left to
    right, in one pass: an opener whose closer never comes is text, and
    once a closer is known to be absent it is not looked for again (so a
    run of openers costs linear time). An inline $...$ stays on one line
    and does not start with a space."""
    spans, position, absent = [], 0, set()
    openers = re.compile(r"\$\$|\\\[|\\\(|\$")
    while len(spans) < MAX_FORMULAS:
        match = openers.search(text, position)
        if not match:
            break
        opener = match.group()
        _, closer, display = next(d for d in DELIMITERS if d[0] == opener)
        begin = match.end()
        found = -1 if closer in absent and opener != "$" else \
            text.find(closer, begin + (opener == "$"))
        if found < 0:
            absent.add(closer)
        elif opener == "$" and (text[begin:begin + 1].isspace()
                                or "\n" in text[begin:found]):
            found = -1
        if found < 0:
            position = match.end()
            continue
        spans.append((match.start(), found + len(closer),
                      text[begin:found], display))
        position = found + len(closer)
    return spans


#: The MathML a formula may become; anything else is dropped.
MATHML = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace",
          "msub", "msup", "msubsup", "mfrac", "msqrt", "mroot", "munder",
          "mover", "munderover", "mtable", "mtr", "mtd", "mstyle",
          "mpadded", "mphantom", "menclose", "semantics", "annotation",
          "mmultiscripts", "mprescripts", "none"}
MATHML_ATTRIBUTES = {"display", "mathvariant", "stretchy", "fence",
                     "separator", "lspace", "rspace", "width", "height",
                     "depth", "linethickness", "columnalign", "rowalign",
                     "columnspacing", "rowspacing", "displaystyle",
                     "scriptlevel", "accent", "accentunder", "movablelimits",
                     "notation", "encoding", "minsize", "maxsize", "symmetric",
                     "largeop", "form", "xmlns"}


#: The attributes that are lengths: kept only when small (a formula cannot
#: push the other answers off the page).
LENGTHS = {"lspace", "rspace", "width", "height", "depth", "linethickness",
           "columnspacing", "rowspacing", "minsize", "maxsize"}
SMALL_LENGTH = re.compile(r"-?(?:[0-2]?\.\d+|[0-3])(?:em|ex|mu)?|"
                          r"-?\d{1,2}(?:\.\d+)?(?:pt|px)?|[a-z]+")


def _clean_mathml(element):
    """Keep MathML's own elements and attributes only, and small lengths."""
    for child in list(element):
        tag = child.tag.rsplit("}", 1)[-1]
        if tag not in MATHML:
            element.remove(child)
            continue
        for name in list(child.attrib):
            local = name.rsplit("}", 1)[-1]
            if local not in MATHML_ATTRIBUTES or (
                    local in LENGTHS and not all(
                        SMALL_LENGTH.fullmatch(part)
                        for part in child.attrib[name].split())):
                del child.attrib[name]
        _clean_mathml(child)


def formula(latex, display):
    """A LaTeX formula as MathML (only MathML's own elements kept), or the
    LaTeX itself as code if it cannot be converted here."""
    try:
        from latex2mathml.converter import convert
        root = ElementTree.fromstring(convert(
            latex, display="block" if display else "inline"))
        _clean_mathml(root)
        root.attrib = {k: v for k, v in root.attrib.items()
                       if k in ("display",)}
        ElementTree.register_namespace("", "http://www.w3.org/1998/Math/"
                                           "MathML")
        return ElementTree.tostring(root, encoding="unicode")
    except Exception:       # noqa: BLE001: any formula it cannot convert
        return f"<code>{html.escape(latex)}</code>"


def _renderer():
    """mistune's HTML renderer, but links and images shown as text (the page
    links to nothing and loads nothing) and code blocks without a class."""
    import mistune

    class Renderer(mistune.HTMLRenderer):
        def link(self, text, url, title=None):
            return f"{text} <code>&lt;{html.escape(url)}&gt;</code>"

        def image(self, text, url, title=None):
            return (f"<code>[image {html.escape(text)}: "
                    f"{html.escape(url)}]</code>")

        def block_code(self, code, info=None):
            return f"<pre><code>{html.escape(code)}</code></pre>\n"

    return Renderer(escape=True)


def render(text):
    """Markdown with $...$, $$...$$, \\(...\\) and \\[...\\] formulas as
    HTML: every HTML tag the text holds is shown, not obeyed, links and
    images show as text. An answer is rendered up to MAX_ANSWER_CHARS."""
    try:
        import mistune
    except ImportError:     # requirements-instructor.txt has it
        return f"<pre>{html.escape(text)}</pre>"
    cut = ""
    if len(text) > MAX_ANSWER_CHARS:
        cut = (f"<p><em>(the answer is {len(text):,} characters long: the "
               f"first {MAX_ANSWER_CHARS:,} are shown)</em></p>")
        text = text[:MAX_ANSWER_CHARS]
    # (the two characters that mark a formula's place are the page's own)
    text = text.replace("\ue000", "").replace("\ue001", "")
    formulas, pieces, position = [], [], 0
    for start, end, latex, display in math_spans(text):
        pieces += [text[position:start], f"\ue000{len(formulas)}\ue001"]
        formulas.append(formula(latex.strip(), display))
        position = end
    pieces.append(text[position:])
    markdown = mistune.create_markdown(renderer=_renderer())
    rendered = markdown("".join(pieces))
    return re.sub("\ue000(\\d+)\ue001",
                  lambda m: formulas[int(m.group(1))], rendered) + cut
