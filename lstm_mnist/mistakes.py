"""What a learner likely meant: a mistake in config.py, an edition file or a --key=value,
described once, as one line naming where it is and the likely fix.

settings.py reads a file into values and, at the first mistake, a Mistake; `explain` turns it
into the line the scripts print.
"""
import ast
import dataclasses
import difflib
import re

from lstm_mnist.published import PUBLISHED, kind_of

STRAIGHTEN = str.maketrans("\u201c\u201d\u2018\u2019", "\"\"''")   # quotes from a web page


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A line of a file of constants that can't be used. kind: syntax, statement, unknown,
    repeated, missing, not_plain, tuple, float_for_int, wrong_type."""
    kind: str
    where: str            # "config.py line 7", or the file's name for a missing constant
    key: str | None = None
    text: str = ""        # the value as written (syntax: the whole line)
    value: object = None  # the value Python read (tuple, wrong type), or the syntax error's text
    first_line: int = 0   # repeated: where the key was set first


def explain(m):
    """The one line that describes Mistake `m` and its likely fix."""
    key, text = m.key, m.text
    if m.kind == "syntax":
        return f"{m.where}: syntax error ({m.value}); {syntax_fix(text)}"
    if m.kind == "statement":
        return f"{m.where}: only constants belong here, one per line as name = value; got {text!r}"
    if m.kind == "unknown":
        close = difflib.get_close_matches(key, PUBLISHED, n=1, cutoff=0.75)
        return (f"{m.where}: unknown constant {key}"
                + (f" (did you mean {close[0]}?)" if close else "")
                + f"; known: {', '.join(PUBLISHED)}")
    if m.kind == "repeated":
        return (f"{m.where}: {key} is set again (first on line {m.first_line}); keep one of the "
                "two lines")
    if m.kind == "missing":
        return (f"{m.where} has no {key}: add the line {key} = {PUBLISHED[key]!r} (its published "
                "value) back")
    where = f"{m.where}: {key} = {text}"
    if m.kind == "not_plain":
        return f"{where} is not a plain value; {bare_word_fix(key, text)}"
    if m.kind == "tuple":
        meant, why = number_meant(text, kind_of(key))   # 0,5 or 10,000; else a stray comma
        if meant:
            return f"{where} is a tuple, {m.value!r} ({why}); write {key} = {meant}"
        single = len(m.value) == 1 and fits(key, m.value[0])      # 400, -> 400
        return (f"{where} is a tuple, {m.value!r} (a stray comma?); write one value: "
                f"{key} = {m.value[0]!r}" if single else
                f"{where} is a tuple, {m.value!r} (a stray comma?); write one value: "
                f"{example(key)}")
    if m.kind == "float_for_int":
        return f"{where} is a float where an integer belongs; write {key} = {int(m.value)}"
    kind = kind_of(key)
    what = {bool: "True or False", float: "a number", str: "a string in quotes",
            int: "an integer" + (" or None" if PUBLISHED[key] is None else "")}[kind]
    got = _a(m.value)
    meant = value_meant(key, m.value)
    if meant is None:
        return f"{where} is {got}, not {what}; e.g. {example(key)}"
    one = "write one value: " if isinstance(m.value, (list, set, dict)) else "write "
    return f"{where} is {got}, not {what}; {one}{key} = {meant!r}"


def _a(value):
    """A value's kind, as a learner would say it: a list, a string, an integer ..."""
    return {list: "a list", dict: "a dict", set: "a set", str: "a string", float: "a float",
            int: "an integer", bool: "a bool", bytes: "bytes", complex: "a complex number",
            type(None): "None"}.get(type(value), type(value).__name__)


def value_meant(key, value):
    """The learner's own value in the type `key` takes, where it converts plainly: "0.01" ->
    0.01, [0.001, 0.01] -> 0.001, 0 -> False; else None."""
    kind = kind_of(key)
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    if fits(key, value):
        return float(value) if kind is float else value
    if kind is bool and value in (0, 1) and not isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and kind in (int, float):
        try:
            number = float(value)
        except ValueError:
            return None
        if kind is int:
            return int(number) if number.is_integer() else None
        return number
    return None


def fits(key, value):
    """Whether `value` has the type of `key`'s published value (an int may stand for a float;
    seed may be None)."""
    kind = kind_of(key)
    if value is None:
        return PUBLISHED[key] is None
    if isinstance(value, bool):   # an int too, to isinstance
        return kind is bool
    return isinstance(value, kind) or kind is float and isinstance(value, int)


def example(key):
    """`key = its published value`: how a line of it looks."""
    published = PUBLISHED[key]
    return f"{key} = {published!r}" if published is not None else f"{key} = 7 (or None)"


def bare_word_fix(key, text):
    """The fix for a value that is a bare word or an expression: quotes, a capital, or a plain
    value."""
    if re.fullmatch(r"[A-Za-z_]\w*", text):
        if text.lower() in ("true", "false", "none"):
            return f"Python writes it with a capital: {key} = {text.capitalize()}"
        if kind_of(key) is str:
            return f"a string needs quotes: {key} = {text!r}"
    return f"write a number, a quoted string, True, False or None, e.g. {example(key)}"


def syntax_fix(line):
    """The likely fix for a line of config.py that Python can't parse."""
    key = re.match(r"\s*(\w+)\s*=", line)
    key = key.group(1) if key else None
    code = line.split("#")[0].strip()   # without its comment
    if code.translate(STRAIGHTEN) != code:
        return f"curly quotes; write straight ones: {code.translate(STRAIGHTEN)}"
    if key in PUBLISHED and "," in code:                       # 0,001: leading zeros
        meant, why = number_meant(code.partition("=")[2], kind_of(key))
        if meant:
            return f"{why} write {key} = {meant}"
    if line[:1].isspace() and key:
        return f"start the line at its first column: {code}"
    if key and (word := stray_word(code)):
        value, stray = word
        return f"a stray word {stray!r} after the value? write {key} = {value}"
    for quote in "\"'":
        if key and code.count(quote) % 2:
            return f"a quote is missing? write {code}{quote}"
    return ("each line is name = value, e.g. "
            + (example(key) if key in PUBLISHED else "learning_rate = 0.001"))


def stray_word(code):
    """(the value, the word after it) of `name = value word`, or None."""
    m = re.fullmatch(r"\w+\s*=\s*(.+?)\s+([A-Za-z_]\w*)", code)
    if not m:
        return None
    try:
        ast.literal_eval(m[1])
    except (ValueError, SyntaxError):
        return None
    return m[1], m[2]


def number_meant(text, kind):
    """The number that a value Python reads as something else likely meant, and why: 0,5 -> 0.5
    (a decimal comma), 10,000 -> 10000 (a thousands separator), 1e3 -> 1000 where an integer
    belongs; (None, None) if none."""
    text = text.replace(" ", "")
    if kind is float and re.fullmatch(r"\d+,\d+", text):
        return text.replace(",", "."), "a decimal comma?"
    if kind is int and re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        return text.replace(",", ""), "a thousands separator?"
    try:
        value = float(text)
    except ValueError:
        return None, None
    if kind is int and value.is_integer():
        return str(int(value)), "a float where an integer belongs"
    return None, None


def unknown_key(key):
    """The one line for a --key the command line does not know."""
    options = [f"--{k}" for k in PUBLISHED]
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown config key {key}{hint}; known keys: {', '.join(PUBLISHED)}"
