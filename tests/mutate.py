"""`make mutate`: mutation testing (mutmut) of the modules behind the README's guarantees.

mutmut 3 names each mutant after its file's path, stripping only a leading ``src.``, and the trampoline
it puts in every function compares that name with the function's ``__module__``; the package lives in
``platform/meshwork``, so mutmut cannot run at the checkout's root. For each module this script lays out
a staging folder, ``.mutate/<module>/``, whose ``src`` links to ``platform`` (and ``tests``, ``domains``,
``dbt_project`` to theirs), with the checkout's pyproject.toml naming that module and its test pool
(``[tool.meshwork.mutate]``) in ``[tool.mutmut]``, and runs ``mutmut run`` there. mutmut copies the
folder into its ``mutants/``, runs the pool once to learn which tests call which function, then runs for
each mutant only those tests. Results stay in ``.mutate/`` between runs: a later run re-tests only
the functions that changed (``--fresh`` starts over).

Modules run one after the other in the configured order, so a run cut short has covered the first.
Exit 0 when every module reached --fail-under, 1 when one did not, 2 when mutmut itself failed.

``--deliberate`` instead puts each bug of :data:`BUGS` (the ones issue 19 found surviving) into a copy
of the package, runs its tests against that copy (``PYTHONPATH``), and says which test caught it; exit
1 when one survives. docs/testing.md has the scores, the surviving mutants judged equivalent, and the
deliberate bugs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / ".mutate"
# Where the package, tests and project files come from: the checkout as it is, or (--rev) an export of
# one commit, for a tree that others are editing while a run goes on.
SOURCE = REPO
PACKAGE = "meshwork"
# What the tests need from the checkout besides the package (mutmut copies them into mutants/).
LINKED = ("tests", "domains", "dbt_project", "workspace.yaml")
# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code); None: not run yet.
KILLED = {1, 3, 37}
# A timeout counts as killed (a mutant that makes a loop endless is caught: the suite would hang), but it
# is shown apart: a test can also hang for reasons of its own (a query on DuckDB's default connection in a
# forked process waits forever), so a module with timeouts deserves a re-run of them by name.
TIMEOUT = {24, -24, 36, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


@dataclass(frozen=True)
class Bug:
    name: str
    module: str  # under platform/meshwork
    edits: tuple[tuple[str, str], ...]  # (text found exactly once, its replacement)
    tests: tuple[str, ...]


_UNIT_STORE = ("tests/unit/storage", "tests/unit/ports", "--ignore=tests/unit/storage/test_dbt_parse_staleness.py")
BUGS = (
    Bug(
        "latest written in place (no temporary file, no rename)",
        "storage/local_store.py",
        (
            (
                'tmp = target.parent / f"{TMP_PREFIX}{target.name}-{uuid.uuid4().hex}"\n'
                '        tmp.write_text(text, encoding="utf-8")\n'
                "        _fsync(tmp)\n"
                "        os.replace(tmp, target)\n",
                'target.write_text(text, encoding="utf-8")\n',
            ),
        ),
        _UNIT_STORE,
    ),
    Bug(
        "latest names a snapshot before it is renamed into place",
        "storage/snapshots.py",
        (
            (
                "        store.commit(tmp, version, snapshot_id)\n",
                "        (commit_latest or point_latest)(version, snapshot_id)\n"
                "        store.commit(tmp, version, snapshot_id)\n",
            ),
            ("    (commit_latest or point_latest)(version, snapshot_id)\n    apply_retention", "    apply_retention"),
        ),
        _UNIT_STORE,
    ),
    Bug(
        "uniqueness counts NULL keys as duplicates",
        "quality/validator.py",
        (("WHERE {not_null} GROUP BY ALL", "GROUP BY ALL"),),
        ("tests/unit/quality",),
    ),
    Bug(
        "duplicateValues compiles to no check",
        "model/rules.py",
        (('    if metric == "duplicateValues":\n', '    if metric == "duplicateValues":\n        return None\n'),),
        ("tests/unit/quality", "tests/unit/model"),
    ),
    Bug(
        "exclusiveMinimum treated as inclusive",
        "quality/validator.py",
        (('below = "<=" if p["min_exclusive"] else "<"', 'below = "<"'),),
        ("tests/unit/quality",),
    ),
    Bug(
        "the read-time grant check ignores today's date",
        "model/mesh.py",
        (("today = max(self.today, date.today())", "today = self.today"),),
        ("tests/unit/governance", "tests/unit/storage/test_ports.py", "tests/unit/ports"),
    ),
    Bug(
        "masking with an unkeyed sha256",
        "ports/masking.py",
        (("sha256('{key[:32]}' || CAST({c} AS VARCHAR))", "sha256(CAST({c} AS VARCHAR))"),),
        ("tests/unit/ports",),
    ),
    Bug(
        "masking with a constant key",
        "ports/masking.py",
        (("sha256('{key[:32]}' ||", "sha256('" + "0" * 32 + "' ||"),),
        ("tests/unit/ports",),
    ),
    Bug(
        "HAVING n > 1 becomes n > 2 in the uniqueness rule",
        "quality/validator.py",
        (("HAVING n > 1", "HAVING n > 2"),),
        ("tests/unit/quality",),
    ),
)


def run_with_bug(bug: Bug | None, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    """pytest over ``tests`` with the package imported from a copy that has ``bug`` in it (None: clean)."""
    with tempfile.TemporaryDirectory(prefix="meshwork-bug-") as tmp:
        copy = Path(tmp) / PACKAGE
        shutil.copytree(SOURCE / "platform" / PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        if bug is not None:
            path = copy / bug.module
            text = path.read_text(encoding="utf-8")
            for old, new in bug.edits:
                if text.count(old) != 1:
                    raise SystemExit(
                        f"mutate: {bug.module} changed; cannot apply {bug.name!r} ({old!r} not found once)"
                    )
                text = text.replace(old, new)
            path.write_text(text, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests]
        return subprocess.run(command, cwd=SOURCE, env=env, capture_output=True, text=True)


def deliberate(as_json: bool) -> int:
    """Each bug of BUGS in turn: caught (and by which test) or survived."""
    results = []
    for tests in dict.fromkeys(bug.tests for bug in BUGS):
        clean = run_with_bug(None, tests)
        if clean.returncode != 0:
            print(clean.stdout[-3000:], file=sys.stderr)
            raise SystemExit(f"mutate: the tests fail without any bug: {' '.join(tests)}")
    for bug in BUGS:
        run = run_with_bug(bug, bug.tests)
        failed = [line.split(" ")[1] for line in run.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
        results.append({"bug": bug.name, "caught": run.returncode != 0, "by": failed[:1], "tests": list(bug.tests)})
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(f"{'caught  ' if r['caught'] else 'SURVIVED'} {r['bug']}" + (f": {r['by'][0]}" if r["by"] else ""))
    return 0 if all(r["caught"] for r in results) else 1


def export(rev: str, modules: list[str] | None) -> Path:
    """The files of commit ``rev`` that a run needs, in a folder of its own per set of modules (replacing
    an earlier export of the same set): runs of other modules started at the same time keep theirs."""
    key = "+".join(sorted(m.replace("/", ".").removesuffix(".py") for m in modules)) if modules else "all"
    target = STAGE / f"rev-{key}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    names = ["platform", "pyproject.toml", *LINKED]
    archive = subprocess.run(["git", "archive", rev, *names], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def pyproject() -> dict:
    return tomllib.loads((SOURCE / "pyproject.toml").read_text(encoding="utf-8"))


def module_path(module: str) -> str:
    """`ports/publish.py`, `meshwork.ports.publish` or `platform/meshwork/ports/publish.py` -> `ports/publish.py`."""
    text = module.strip().removeprefix("platform/").removeprefix("src/")
    if not text.endswith(".py"):
        text = text.replace(".", "/") + ".py"
    text = text.removeprefix(f"{PACKAGE}/")
    if not (SOURCE / "platform" / PACKAGE / text).is_file():
        raise SystemExit(f"mutate: no module {module!r} under platform/{PACKAGE}/")
    return text


def dotted(module: str) -> str:
    """ports/publish.py -> meshwork.ports.publish (the prefix of its mutants' names)."""
    return f"{PACKAGE}." + module.removesuffix(".py").replace("/", ".")


def folder(module: str) -> Path:
    return STAGE / dotted(module)


def stage(module: str, tests: list[str]) -> Path:
    """Lay out .mutate/<module>/: links to the checkout, and a pyproject.toml naming the module and its tests."""
    root = folder(module)
    root.mkdir(parents=True, exist_ok=True)
    links = {"src": SOURCE / "platform", **{name: SOURCE / name for name in LINKED}}
    for name, target in links.items():
        link = root / name
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(target, root))
    text = (SOURCE / "pyproject.toml").read_text(encoding="utf-8")
    head, marker, rest = text.partition("\n[tool.mutmut]\n")
    if not marker:
        raise SystemExit("mutate: pyproject.toml has no [tool.mutmut] table")
    # The table ends at the next table header; it is written again, last, with this module's keys.
    lines = rest.splitlines(keepends=True)
    after = next((i for i, line in enumerate(lines) if line.startswith("[")), len(lines))
    settings = {
        **pyproject()["tool"]["mutmut"],
        "only_mutate": [f"src/{PACKAGE}/{module}"],
        "pytest_add_cli_args_test_selection": tests,
    }
    # JSON's strings, numbers, booleans and arrays of them are valid TOML.
    table = "[tool.mutmut]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    staged = head + "\n" + "".join(lines[after:]) + "\n" + table
    path = root / "pyproject.toml"
    if not path.exists() or path.read_text(encoding="utf-8") != staged:
        path.write_text(staged, encoding="utf-8")
    # mutmut copies tests/ over mutants/tests without removing what the checkout removed, and the
    # package's data files only once: drop both so that each run sees the checkout as it is.
    mutants = root / "mutants"
    shutil.rmtree(mutants / "tests", ignore_errors=True)
    if (mutants / "src").is_dir():
        for data in (mutants / "src").rglob("*"):
            if data.is_file() and data.suffix not in {".py", ".meta", ".spans"}:
                data.unlink()
    return root


def mutmut(root: Path, *args: str) -> int:
    return subprocess.run([str(Path(sys.executable).parent / "mutmut"), *args], cwd=root).returncode


@dataclass
class Score:
    module: str
    total: int = 0
    killed: int = 0
    survived: int = 0
    no_tests: int = 0
    not_run: int = 0
    timeouts: int = 0
    other: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        """The killed share of the mutants that ran (timeouts included); one that no test reaches counts as
        surviving."""
        ran = self.total - self.not_run
        return round(100 * self.killed / ran, 1) if ran else None


def score(module: str) -> Score:
    result = Score(dotted(module))
    meta = folder(module) / "mutants" / "src" / PACKAGE / (module + ".meta")
    if not meta.is_file():
        return result
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    for name, code in sorted(codes.items()):
        result.total += 1
        if code is None or code in SKIPPED:
            result.not_run += 1
        elif code in KILLED:
            result.killed += 1
        elif code in TIMEOUT:
            result.killed += 1
            result.timeouts += 1
        elif code in SURVIVED:
            result.survived += 1
            result.survivors.append(name)
        elif code in NO_TESTS:
            result.no_tests += 1
            result.survivors.append(f"{name} (no test calls it)")
        else:  # suspicious, segfault: neither a clean kill nor a clean survival
            result.other += 1
            result.survivors.append(f"{name} (exit {code})")
    return result


def main(argv: list[str] | None = None) -> int:
    pools: dict[str, list[str]] = pyproject()["tool"]["meshwork"]["mutate"]
    parser = argparse.ArgumentParser(prog="python -m tests.mutate", description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="module to mutate, in order (repeatable; default: all)")
    parser.add_argument("--tests", action="append", help="pytest argument replacing the pool (repeatable)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--report", action="store_true", help="only report the results of earlier runs")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results of these modules")
    parser.add_argument("--retest", action="store_true", help="run only the earlier survivors again (new tests)")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants of each module")
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 when a module scores less (%%)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--deliberate", action="store_true", help="check the suite against the known bugs instead")
    parser.add_argument("--rev", help="use this commit's files instead of the checkout's (e.g. HEAD)")
    args = parser.parse_args(argv)
    if args.rev:
        global SOURCE
        SOURCE = export(args.rev, args.module)
    if args.deliberate:
        return deliberate(args.json)

    modules = [module_path(m) for m in args.module] if args.module else list(pools)
    for module in modules:
        if not args.tests and module not in pools:
            raise SystemExit(f"mutate: {module} has no test pool in [tool.meshwork.mutate]; pass --tests")
    if not args.report:
        for module in modules:
            if args.fresh:
                shutil.rmtree(folder(module) / "mutants", ignore_errors=True)
            root = stage(module, args.tests or pools[module])
            print(f"== mutate {dotted(module)} ({root.relative_to(REPO)})", flush=True)
            names = [n.split(" ")[0] for n in score(module).survivors] if args.retest else []
            if args.retest and not names:
                continue
            # Named mutants run again whatever their stored result; unnamed ones keep it.
            if mutmut(root, "run", "--max-children", str(args.max_children), *names) != 0:
                print(f"mutate: mutmut failed on {dotted(module)} (see above)", file=sys.stderr)
                return 2

    scores = [score(module) for module in modules]
    if args.json:
        print(json.dumps([{**asdict(s), "score": s.score} for s in scores], indent=2))
    else:
        print(
            f"{'module':34} {'mutants':>7} {'killed':>6} {'survived':>8} {'no test':>7} {'of which timeout':>16} "
            f"{'other':>5} {'score':>6}"
        )
        for s in scores:
            shown = "-" if s.score is None else f"{s.score}%"
            print(
                f"{s.module:34} {s.total:7} {s.killed:6} {s.survived:8} {s.no_tests:7} {s.timeouts:16} "
                f"{s.other:5} {shown:>6}"
            )
            if args.survivors:
                for name in s.survivors:
                    print(f"    {name}")
        print("a mutant's diff: cd .mutate/<module> && ../../.venv/bin/mutmut show <name>")
    below = [s.module for s in scores if s.score is not None and s.score < args.fail_under]
    if below:
        print(f"mutate: below {args.fail_under}%: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
