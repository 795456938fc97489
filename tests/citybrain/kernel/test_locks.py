"""citybrain.kernel.locks: every advisory lock key distinct, and every lock call takes its key there.

The scan reads the Python, SQL and YAML of the product folders. In Python, each
``pg_*advisory*lock(`` inside a string is traced to the statement that runs it
(``conn.execute(sql, params)``, the SQL inline, through an f-string, or in a variable
assigned a string): its first argument must be a ``%s`` / ``%(name)s`` placeholder bound to
a name from citybrain.kernel.locks, or an f-string field that is one. Anything else fails: an
integer literal, a key from elsewhere, or a statement the scan cannot trace. Each key is
taken in one module only (the alerter's leader lock and the facts refresher once shared
one). SQL and YAML files take no advisory lock at all (they cannot name a key from
citybrain.kernel.locks), and no file but citybrain/kernel/locks.py spells a key's value.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import psycopg
import pytest

from citybrain.kernel import locks

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ("citybrain", "streams", "alerts", "schemas", "dashboards", "bench")
HOME = "citybrain/kernel/locks.py"
LOCK_CALL = re.compile(r"\bpg_\w*advisory\w*\s*\(", re.IGNORECASE)
PLACEHOLDER = re.compile(r"%(?:\(([^)]*)\))?s")
FIELD = "\x00"  # stands for an f-string field in a statement's text
# What each name of citybrain.kernel.locks stands for: a key, or a helper's key.
KEY_OF = {**{name: name for name in locks.KEYS}, "liveness_deriver": "LIVENESS_DERIVER"}


# -- the keys -------------------------------------------------------------------------------

def test_every_key_is_listed_once_and_distinct() -> None:
    constants = {name: value for name, value in vars(locks).items()
                 if name.isupper() and isinstance(value, int)}
    assert constants == locks.KEYS  # no key outside the list
    assert len(set(locks.KEYS.values())) == len(locks.KEYS)
    assert all(0 < key < 2**31 for key in locks.KEYS.values())  # fits the two-int form
    helpers = {name for name, value in vars(locks).items()
               if callable(value) and getattr(value, "__module__", None) == locks.__name__}
    assert helpers == KEY_OF.keys() - locks.KEYS.keys()  # the scan knows each helper's key


def test_the_liveness_deriver_is_one_per_schema_and_feed(database_url: str) -> None:
    sql = "SELECT pg_try_advisory_lock(%s, hashtext(%s))"
    with psycopg.connect(database_url, autocommit=True) as one, \
            psycopg.connect(database_url, autocommit=True) as two:
        assert one.execute(sql, locks.liveness_deriver("s1", "iot")).fetchone() == (True,)
        assert two.execute(sql, locks.liveness_deriver("s1", "iot")).fetchone() == (False,)
        assert two.execute(sql, locks.liveness_deriver("s1", "video")).fetchone() == (True,)
        assert two.execute(sql, locks.liveness_deriver("s2", "iot")).fetchone() == (True,)
        # The pair is the documented one: (LIVENESS_DERIVER, hashtext(schema || ':' || feed)).
        held = one.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s || ':' || %s))",
                           (locks.LIVENESS_DERIVER, "s2", "iot")).fetchone()
        assert held == (False,)


# -- the scan -------------------------------------------------------------------------------

Part = str | ast.expr  # a statement's text, or an f-string field


class Scan:
    """The lock calls of one Python module and where their keys come from."""

    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.tree = ast.parse(source)
        self.found: list[str] = []
        self.traced: set[int] = set()  # the string nodes that belong to a traced statement
        self.modules: set[str] = {"citybrain.kernel.locks"}  # names that stand for citybrain.kernel.locks
        self.names: dict[str, str] = {}  # name here → name in citybrain.kernel.locks
        self.keys: set[str] = set()  # the keys this module's lock calls take
        self.strings: dict[str, list[ast.expr]] = {}  # variable → the strings assigned to it
        self.assigned: dict[str, list[ast.expr]] = {}  # variable → everything assigned to it
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module == "citybrain.kernel":
                self.modules |= {a.asname or a.name for a in node.names if a.name == "locks"}
            elif isinstance(node, ast.ImportFrom) and node.module == "citybrain.kernel.locks":
                self.names |= {a.asname or a.name: a.name for a in node.names}
            elif isinstance(node, ast.Import):
                self.modules |= {
                    a.asname for a in node.names if a.name == "citybrain.kernel.locks" and a.asname
                }
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, []).append(node.value)
                        if self.parts(node.value) is not None:
                            self.strings.setdefault(target.id, []).append(node.value)

    def fail(self, node: ast.AST, why: str) -> None:
        self.found.append(f"{self.path}:{getattr(node, 'lineno', '?')}: {why}")

    def parts(self, node: ast.expr) -> list[Part] | None:
        """A string expression as text and f-string fields; None if it is not one."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.JoinedStr):
            return [v.value if isinstance(v, ast.FormattedValue) else str(getattr(v, "value", ""))
                    for v in node.values]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.parts(node.left), self.parts(node.right)
            if left is not None and right is not None:
                return left + right
        return None

    def from_locks(self, node: ast.expr, depth: int = 0) -> str | None:
        """The key that ``locks.NAME``, ``locks.helper(...)``, a name imported from
        citybrain.kernel.locks, or a variable only ever assigned one of those (``key =
        locks.NAME``) stands for; None for anything else."""
        if isinstance(node, ast.Call):
            node = node.func
        dotted: list[str] = []
        while isinstance(node, ast.Attribute):
            dotted.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        if not dotted:
            if node.id in self.names:
                return KEY_OF.get(self.names[node.id])
            values = self.assigned.get(node.id, [])
            keys = {self.from_locks(v, depth + 1) for v in values} if depth < 3 else set()
            return keys.pop() if len(keys) == 1 and None not in keys else None
        module, name = ".".join([node.id, *dotted[:-1]]), dotted[-1]
        return KEY_OF.get(name) if module in self.modules else None

    def run(self) -> list[str]:
        docstrings = {id(n.body[0].value) for n in ast.walk(self.tree)
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and node.args:
                statements = ([node.args[0]] if self.parts(node.args[0]) is not None
                              else self.strings.get(node.args[0].id, [])
                              if isinstance(node.args[0], ast.Name) else [])
                params = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "params"), None)
                for statement in statements:
                    self.check(node, statement, params)
        inner = {id(v) for n in ast.walk(self.tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        skipped = self.traced | docstrings | inner
        for node in ast.walk(self.tree):
            if (isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in skipped
                    and LOCK_CALL.search(self.text(self.parts(node) or [])[0])):
                self.fail(node, "an advisory lock call whose key cannot be traced: run the SQL as "
                                "conn.execute(sql, (locks.NAME, ...)) with the key from "
                                "citybrain.kernel.locks")
            if (isinstance(node, ast.Constant) and type(node.value) is int
                    and node.value in locks.KEYS.values()):
                self.fail(node, f"the value of a citybrain.kernel.locks key ({node.value:#x}) spelled out")
        return self.found

    @staticmethod
    def text(parts: list[Part]) -> tuple[str, list[ast.expr]]:
        fields = [p for p in parts if not isinstance(p, str)]
        return "".join(p if isinstance(p, str) else FIELD for p in parts), fields

    def check(self, call: ast.Call, statement: ast.expr, params: ast.expr | None) -> None:
        self.traced.add(id(statement))
        text, fields = self.text(self.parts(statement) or [])
        for match in LOCK_CALL.finditer(text):
            rest = text[match.end():]
            arg = re.match(r"\s*(%\([^)]*\)s|[^,()]*)", rest)
            key = arg.group(1).strip() if arg else ""
            if not key and rest.lstrip().startswith(")"):
                continue  # pg_advisory_unlock_all(): no key
            if key == FIELD:
                found = self.from_locks(fields[text[:match.end()].count(FIELD)])
                if found is None:
                    self.fail(
                        call, "an advisory lock key in an f-string that is not from citybrain.kernel.locks"
                    )
                else:
                    self.keys.add(found)
                continue
            placeholder = PLACEHOLDER.fullmatch(key)
            if placeholder is None:
                self.fail(call, f"advisory lock key {key!r} is not from citybrain.kernel.locks")
                continue
            before = text[:match.end()].replace("%%", "")
            bound = self.bound(params, placeholder.group(1), len(PLACEHOLDER.findall(before)))
            if bound is None:
                self.fail(
                    call, f"the advisory lock key {key} is not bound to a name from citybrain.kernel.locks"
                )
            else:
                self.keys.add(bound)

    def bound(self, params: ast.expr | None, name: str | None, index: int) -> str | None:
        """The key bound to placeholder ``name`` (or the ``index``th %s) in ``params``."""
        if params is None:
            return None
        if name is not None:
            if isinstance(params, ast.Dict):
                return next((self.from_locks(v) for k, v in zip(params.keys, params.values, strict=True)
                             if isinstance(k, ast.Constant) and k.value == name), None)
            if isinstance(params, ast.Call) and isinstance(params.func, ast.Name) \
                    and params.func.id == "dict":
                return next((self.from_locks(k.value) for k in params.keywords if k.arg == name), None)
            return None
        if index == 0 and self.from_locks(params):
            return self.from_locks(params)  # a helper's parameters, the key first
        if not isinstance(params, ast.Tuple | ast.List):
            return None
        for position, element in enumerate(params.elts):
            if isinstance(element, ast.Starred):  # the key first in a helper's parameters
                return self.from_locks(element.value) if position == index else None
            if position == index:
                return self.from_locks(element)
        return None


def scan_text(path: str, text: str) -> list[str]:
    """SQL and YAML: no advisory lock call (other than unlock-all), no key's value."""
    found = []
    for match in LOCK_CALL.finditer(text):
        if not text[match.end():].lstrip().startswith(")"):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path}:{line}: an advisory lock taken in SQL outside Python: take it from "
                         "Python with a key from citybrain.kernel.locks")
    for value in locks.KEYS.values():
        for match in re.finditer(rf"\b(?:{value}|0x0*{value:x})\b", text, re.IGNORECASE):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path}:{line}: the value of a citybrain.kernel.locks key ({value:#x}) spelled out")
    return found


def scan(path: str, text: str) -> list[str]:
    return scan_with_keys(path, text)[0]


def scan_with_keys(path: str, text: str) -> tuple[list[str], set[str]]:
    """The problems of one file, and the keys its lock calls take."""
    if path == HOME:
        return [], set()
    if not path.endswith(".py"):
        return scan_text(path, text), set()
    module = Scan(path, text)
    return module.run(), module.keys


def scan_tree(files: dict[str, str]) -> tuple[list[str], dict[str, set[str]]]:
    """The problems of the files (path → text), and the files taking each key. A key is
    taken in one module: two components sharing a key exclude each other."""
    found: list[str] = []
    takers: dict[str, set[str]] = {}
    for path, text in files.items():
        problems, keys = scan_with_keys(path, text)
        found += problems
        for key in keys:
            takers.setdefault(key, set()).add(path)
    found += [f"{key} is taken in {len(paths)} modules: {sorted(paths)}; give each its own key in "
              "citybrain/kernel/locks.py" for key, paths in sorted(takers.items()) if len(paths) > 1]
    return found, takers


def product_files() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for folder in SCANNED for p in sorted((ROOT / folder).rglob("*"))
            if p.suffix in {".py", ".sql", ".yaml", ".yml"} and "__pycache__" not in p.parts}


def test_every_advisory_lock_takes_its_own_key_from_citybrain_locks() -> None:
    found, takers = scan_tree(product_files())
    assert found == []
    # The scan sees the known call sites (and so sees a new one).
    deriver = takers.pop("LIVENESS_DERIVER", set())
    assert len(deriver) <= 1 and all(p.startswith("streams/") for p in deriver)
    assert takers == {"MIGRATION": {"citybrain/kernel/store.py"}, "ALERTER": {"alerts/alerter.py"},
                      "AVAILABILITY_REFRESH": {"citybrain/availability.py"}}


def test_the_scan_fails_on_two_modules_sharing_a_key() -> None:
    take = IMPORT + 'conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", ({}, schema))'
    alone, takers = scan_tree({"a.py": take.format("locks.ALERTER"),
                               "b.py": take.format("locks.AVAILABILITY_REFRESH")})
    assert alone == [] and takers == {"ALERTER": {"a.py"}, "AVAILABILITY_REFRESH": {"b.py"}}
    shared, _ = scan_tree({"a.py": take.format("locks.ALERTER"), "b.py": take.format("locks.ALERTER")})
    assert shared == ["ALERTER is taken in 2 modules: ['a.py', 'b.py']; give each its own key in "
                      "citybrain/kernel/locks.py"]


IMPORT = "from citybrain.kernel import locks\n"
GOOD = [
    IMPORT + 'conn.execute("SELECT pg_advisory_xact_lock(%s)", (locks.MIGRATION,))',
    "from citybrain.kernel.locks import ALERTER\n"
    'conn.execute("SELECT 1, pg_try_advisory_lock(%s, hashtext(%s))", (ALERTER, schema))',
    "import citybrain.kernel.locks as L\n"
    'c.execute("SELECT %s, pg_advisory_lock(%s, hashtext(%s))", params=(1, L.ALERTER, s))',
    IMPORT + 'conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", locks.liveness_deriver(s, f))',
    IMPORT + 'conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AND %s",'
             " (*locks.liveness_deriver(s, f), True))",
    IMPORT + 'conn.execute(f"SELECT pg_advisory_lock({locks.ALERTER}, hashtext(%s))", (s,))',
    IMPORT + 'conn.execute("SELECT pg_advisory_lock(%(k)s, hashtext(%(s)s))", {"k": locks.ALERTER, "s": s})',
    IMPORT + 'Q = ("SELECT pg_advisory_unlock(%s,"\n     " hashtext(%s))")\ndef f(c):\n'
             "    c.execute(Q, (locks.ALERTER, s))",
    IMPORT + 'key = locks.ALERTER\nconn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (key, s))',
    'conn.execute("SELECT pg_advisory_unlock_all()")',
    '"""Takes pg_advisory_lock(key) — a docstring, not a call."""',
]
BAD = [
    'conn.execute("SELECT pg_advisory_lock(42)")',
    'conn.execute("SELECT pg_try_advisory_xact_lock(7, hashtext(current_schema()))")',
    "KEY = 7\n" + 'conn.execute("SELECT pg_advisory_xact_lock(%s)", (KEY,))',
    IMPORT + 'conn.execute("SELECT pg_advisory_lock(%s, %s)", (1, locks.ALERTER))',
    IMPORT + "KEY = 7\n" + 'conn.execute(f"SELECT pg_advisory_lock({KEY})")',
    IMPORT + 'conn.execute("SELECT pg_advisory_lock(%(key)s)", {"key": 5})',
    IMPORT + 'key = locks.ALERTER\nif x:\n    key = 5\nconn.execute("SELECT pg_advisory_lock(%s)", (key,))',
    IMPORT + 'conn.execute("SELECT pg_advisory_lock(%s)", [n for n in (locks.ALERTER,)])',
    'conn.execute("SELECT pg_advisory_lock(%s)", (other.ALERTER,))',
    'LOCK = "SELECT pg_advisory_lock(%s)"\nrun(build(LOCK))',
    'STATEMENTS = ["SELECT pg_advisory_lock(%s)"]',
    f"ALERTER_LOCK = {locks.ALERTER:#x}",
    f"conn.execute('SELECT pg_try_advisory_lock(%s, hashtext(%s))', ({locks.ALERTER}, schema))",
]


@pytest.mark.parametrize("source", GOOD)
def test_the_scan_accepts_keys_from_citybrain_locks(source: str) -> None:
    assert scan("x.py", source) == []


@pytest.mark.parametrize("source", BAD)
def test_the_scan_fails_on_a_key_from_anywhere_else(source: str) -> None:
    assert scan("x.py", source) != []


@pytest.mark.parametrize("text", ["SELECT pg_advisory_xact_lock(1234);",
                                  "sql: SELECT pg_try_advisory_lock(%(k)s, hashtext('x'))",
                                  f"-- {locks.LIVENESS_DERIVER}", f"key: {locks.MIGRATION:#X}"])
def test_the_scan_fails_on_a_lock_in_sql(text: str) -> None:
    assert scan("x.sql", text) != []
    assert scan("x.sql", "SELECT pg_advisory_unlock_all();") == []
