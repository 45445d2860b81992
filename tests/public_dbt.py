"""Public dbt projects, read at test time from the fetched mirror and never committed.

The onboarding tests take real, well-known dbt projects as a new user would. Their files (SQL, seeds,
YAML) are public but not ours to commit, so each test extracts its project from the local mirror of
the repository (a bare git directory, pinned to one commit) into the test's own tmp_path.

Without the mirror a test is skipped with a reason naming the path it looked for; under CI (CI=true,
as .ci/run sets) it fails instead, so a CI run never passes by skipping them.

Two limits of the mirror, said where they matter: files of 4 MiB and more are not kept in it. For
dbt-labs/jaffle-shop that is ``seeds/jaffle-data/raw_orders.csv`` and ``raw_items.csv``; the helper
writes small files of its own with the same columns (made up here, deterministic) in their place.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MIRROR = Path("/work/.mirror")


@dataclass(frozen=True)
class Public:
    repo: str  # owner/name on GitHub
    commit: str
    license: str

    @property
    def git_dir(self) -> Path:
        return MIRROR / self.repo.replace("/", "+") / "repo"


JAFFLE_SHOP_DUCKDB = Public("dbt-labs/jaffle_shop_duckdb", "9b13827913b230a045b0a71736a00e2053fbcb16", "Apache-2.0")
JAFFLE_SHOP = Public("dbt-labs/jaffle-shop", "7be2c5838dbdeca8e915d4e46db70e910753d7f6", "no license file")
DBT_UTILS = Public("dbt-labs/dbt-utils", "700764ce230b2fb775b5338b6bc77a72233ea34c", "Apache-2.0")
DBT_DATE = Public("godatadriven/dbt-date", "e706de9630b228aae58a2bb0e99f34b19abb4688", "Apache-2.0")
AUDIT_HELPER = Public("dbt-labs/dbt-audit-helper", "3bd0ca4e9d79b7d740ad7e77384b3d03a16cf242", "Apache-2.0")
PACKAGES_OF_JAFFLE_SHOP = {"dbt_utils": DBT_UTILS, "dbt_date": DBT_DATE, "audit_helper": AUDIT_HELPER}


def _git(public: Public, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "--git-dir", str(public.git_dir), *args], capture_output=True, check=False, timeout=120
    )


def require(public: Public) -> None:
    """Skip (fail under CI=true) when the mirror of ``public`` at its pinned commit is not here."""
    if not public.git_dir.is_dir() or _git(public, "cat-file", "-e", f"{public.commit}^{{commit}}").returncode:
        reason = (
            f"the mirror of {public.repo} at {public.commit[:12]} is not at {public.git_dir} "
            "(fetch the repository to run the onboarding tests on it)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def extract(public: Public, dest: Path) -> Path:
    """The files of ``public`` at its pinned commit, under ``dest`` (blobs absent from the mirror skipped)."""
    require(public)
    listing = _git(public, "ls-tree", "-r", "-z", public.commit).stdout.decode()
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind != "blob" or mode == "120000":
            continue
        blob = _git(public, "cat-file", "blob", sha)
        if blob.returncode:
            continue  # a file of 4 MiB or more: the mirror does not keep it
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
    return dest


def jaffle_shop(dest: Path) -> Path:
    """dbt-labs/jaffle-shop, with small orders and items seeds of our own where the mirror has none."""
    root = extract(JAFFLE_SHOP, dest)
    data = root / "seeds/jaffle-data"
    customers = [r["id"] for r in csv.DictReader((data / "raw_customers.csv").open())]
    stores = [r["id"] for r in csv.DictReader((data / "raw_stores.csv").open())]
    prices = {r["sku"]: int(r["price"]) for r in csv.DictReader((data / "raw_products.csv").open())}
    rng = random.Random(17)
    orders, items = [], []
    for i in range(1, 301):
        skus = [rng.choice(sorted(prices)) for _ in range(rng.randrange(1, 4))]
        items += [[f"item-{len(items) + n:05d}", f"order-{i:04d}", sku] for n, sku in enumerate(skus, 1)]
        subtotal = sum(prices[sku] for sku in skus)  # the project's tests check that the items add up
        tax = subtotal * 6 // 100
        stamp = f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}T{rng.randrange(7, 20):02d}:15:00"
        orders.append(
            [f"order-{i:04d}", rng.choice(customers), stamp, rng.choice(stores), subtotal, tax, subtotal + tax]
        )
    for name, header, rows in (
        ("raw_orders", ["id", "customer", "ordered_at", "store_id", "subtotal", "tax_paid", "order_total"], orders),
        ("raw_items", ["id", "order_id", "sku"], items),
    ):
        if not (data / f"{name}.csv").exists():
            with (data / f"{name}.csv").open("w", newline="") as f:
                csv.writer(f).writerows([header, *rows])
    return root


def vendor(public: Public, dest: Path) -> Path:
    """A dbt package's own files (dbt_project.yml and macros), as a user would vendor it under ``dest``."""
    require(public)
    tmp = dest.with_name(dest.name + ".full")
    extract(public, tmp)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dbt_project.yml", "LICENSE"):
        if (tmp / name).exists():
            (tmp / name).rename(dest / name)
    (tmp / "macros").rename(dest / "macros")
    shutil.rmtree(tmp)
    return dest
