"""The architecture's import rules hold, and the check would see them broken.

The contracts are import-linter's, in `[tool.importlinter]` of pyproject.toml:
no service imports another service or the gateway, the kernel and the gateway
import no service, each service's `domain/` imports no web framework, database
or HTTP client, and the areas of a service (and the files of an area) depend
one way. `lint-imports` runs them; these tests run it too, so CI fails on a
violation, and prove on a copy of the tree that a violation is reported.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "app.py").exists())


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The tree under `root` is the one analysed: it comes first on the path.
    # Wide enough that no reported import chain is wrapped.
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "400"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_every_service_and_every_area_is_under_contract():
    assert sorted(CONTRACTS["services-independent"]["modules"]) == sorted(f"services.{s}" for s in SERVICES)
    assert sorted(CONTRACTS["domain-pure"]["source_modules"]) == sorted(f"services.{s}.domain" for s in SERVICES)
    areas = sorted(
        f"services.{s}.{p.name}"
        for s in SERVICES
        for p in (ROOT / "services" / s).iterdir()
        if (p / "__init__.py").exists() and p.name != "domain"
    )
    assert sorted(CONTRACTS["area-files"]["containers"]) == areas
    for s in SERVICES:
        layered = {
            part.strip()
            for layer in CONTRACTS[f"{s.replace('_', '-')}-areas"]["layers"]
            for part in layer.replace(":", "|").split("|")
        }
        modules = {
            p.stem
            for p in (ROOT / "services" / s).iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
        }
        assert modules == layered, f"services.{s}: modules without a layer or layers without a module"


# One violation per kind of contract, each in a module of its own.
VIOLATIONS = {
    "services/opportunity/domain/_violation.py": "import sqlalchemy\n",
    "services/resource_share/domain/_violation.py": "from fastapi import APIRouter\n",
    "services/key_account/accounts/_violation.py": "from services.opportunity.domain import stages\n",
    "services/employee_lifecycle/_violation.py": "import gateway\n",
    "sanlun/kernel/_violation.py": "from services.key_account import db\n",
    "gateway/_violation.py": "from services.resource_share import db\n",
    # a lower area reaching up to a higher one
    "services/key_account/segmentation/_violation.py": "from services.key_account.accounts import service\n",
}
BROKEN = {
    "services-independent",
    "services-not-gateway",
    "kernel-no-processes",
    "gateway-no-services",
    "domain-pure",
    "key-account-areas",
    "area-files",
}


def test_a_violation_of_each_contract_is_reported(tmp_path: Path):
    for package in ("services", "gateway", "sanlun"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, source in VIOLATIONS.items():
        (tmp_path / path).write_text(source)
    # signals' repository importing signals' service: the area's files upside down
    repository = tmp_path / "services/employee_lifecycle/signals/repository.py"
    upside_down = "\nfrom services.employee_lifecycle.signals import service  # noqa\n"
    repository.write_text(repository.read_text() + upside_down)

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    verdicts = {
        contract_id: f"{contract['name']} BROKEN" in result.stdout for contract_id, contract in CONTRACTS.items()
    }
    assert {c for c, broken in verdicts.items() if broken} == BROKEN, result.stdout
    for expected in (
        "services.opportunity.domain._violation -> sqlalchemy",
        "services.resource_share.domain._violation -> fastapi",
        "services.key_account.accounts._violation -> services.opportunity.domain.stages",
        "services.employee_lifecycle._violation -> gateway",
        "sanlun.kernel._violation -> services.key_account.db",
        "gateway._violation -> services.resource_share.db",
        "services.key_account.segmentation._violation -> services.key_account.accounts.service",
        "services.employee_lifecycle.signals.repository -> services.employee_lifecycle.signals.service",
    ):
        assert expected in result.stdout, f"{expected!r} not reported:\n{result.stdout}"
