"""Student ids, which are the names of the class's folders, shown safely.

Linux allows any bytes but ``/`` and NUL in a folder's name; Python gives
the bytes that are not UTF-8 as lone surrogates (U+DC80 to U+DCFF). So an
id can hold bytes that are not text, control characters (a newline, ESC),
or be as long as a file name may be. ``readable`` shows an id on one
printable line (for grades.csv and progress), and ``feedback_file_name``
gives each id a file name that is safe and its own.
"""
import hashlib

#: The longest name, in UTF-8 bytes, that is kept as it is; with ".txt" it
#: makes 100 bytes.
MAX_KEPT_BYTES = 96
#: The longest prefix, in bytes, before the hash of a name that was changed.
MAX_PREFIX_BYTES = 60


def _escape(char):
    if "\udc80" <= char <= "\udcff":            # a byte that is not UTF-8
        return f"\\x{ord(char) - 0xdc00:02x}"
    return char.encode("unicode_escape").decode("ascii")   # \n, \x1b, \u2028


def readable(name):
    """The id as one printable line: each byte that is not UTF-8 becomes
    ``\\xNN`` and each character that is not printable (a control or format
    character, a line or paragraph separator, a space other than " ") its
    Python escape (``\\t``, ``\\n``, ``\\x1b``, ``\\u202e``); everything else
    stays, backslashes included. Deterministic, but two ids may look alike
    (``caf\\xe9`` could be typed), so ``feedback_file_name`` is what tells
    them apart."""
    return "".join(c if c.isprintable() else _escape(c) for c in name)


def _kept(char):
    return char.isalnum() or char in "_-.@+ "


def feedback_file_name(name):
    """A safe file name for the id's feedback, ending in ".txt" and unique
    to the id. An id of letters, digits and ``_ - . @ +`` or spaces (not
    first, nor ``.`` or a space last) of at most 96 bytes stays as it is
    (``s001`` gives ``s001.txt``). Any other id gives its kept characters
    (the others become ``_``), cut to 60 bytes, then ``~`` and 16 hex digits
    of the SHA-256 of the id: printable, without ``/``, never starting with
    ``.`` or ``-``, at most 81 bytes. Ids kept as they are hold no ``~``, so
    they never meet a changed one."""
    cleaned = "".join(c if _kept(c) else "_" for c in name)
    cleaned = cleaned.lstrip(".-+@ ").rstrip(". ")
    if cleaned == name and 0 < len(name.encode()) <= MAX_KEPT_BYTES:
        return name + ".txt"
    prefix = cleaned.encode()[:MAX_PREFIX_BYTES].decode("utf-8", "ignore")
    # surrogatepass: one sequence of bytes for every str, never an error
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass"))
    return f"{prefix.rstrip('. ') or '_'}~{digest.hexdigest()[:16]}.txt"
