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
docs/testing.md has the scores and the surviving mutants judged equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / ".mutate"
PACKAGE = "meshwork"
# What the tests need from the checkout besides the package (mutmut copies them into mutants/).
LINKED = ("tests", "domains", "dbt_project", "workspace.yaml")
# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code); None: not run yet.
KILLED = {1, 3, 24, -24, 36, 152, 255, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def module_path(module: str) -> str:
    """`ports/publish.py`, `meshwork.ports.publish` or `platform/meshwork/ports/publish.py` -> `ports/publish.py`."""
    text = module.strip().removeprefix("platform/").removeprefix("src/")
    if not text.endswith(".py"):
        text = text.replace(".", "/") + ".py"
    text = text.removeprefix(f"{PACKAGE}/")
    if not (REPO / "platform" / PACKAGE / text).is_file():
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
    links = {"src": REPO / "platform", **{name: REPO / name for name in LINKED}}
    for name, target in links.items():
        link = root / name
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(target, root))
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
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
    other: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        """The killed share of the mutants that ran; one that no test reaches counts as surviving."""
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
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants of each module")
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 when a module scores less (%%)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args(argv)

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
            if mutmut(root, "run", "--max-children", str(args.max_children)) != 0:
                print(f"mutate: mutmut failed on {dotted(module)} (see above)", file=sys.stderr)
                return 2

    scores = [score(module) for module in modules]
    if args.json:
        print(json.dumps([{**asdict(s), "score": s.score} for s in scores], indent=2))
    else:
        print(f"{'module':34} {'mutants':>7} {'killed':>6} {'survived':>8} {'no test':>7} {'other':>5} {'score':>6}")
        for s in scores:
            shown = "-" if s.score is None else f"{s.score}%"
            print(f"{s.module:34} {s.total:7} {s.killed:6} {s.survived:8} {s.no_tests:7} {s.other:5} {shown:>6}")
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
