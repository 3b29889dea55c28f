"""Dependency audit: pip-audit over the project's installed environment, read strictly.

pip-audit exits 0 when it could check nothing at all (every package "could not be audited",
as when its vulnerability feed is unreachable), which would let a run look audited when it was
not. This wrapper reads pip-audit's JSON report and says which of three things happened:

- known vulnerabilities in installed packages: listed, exit 1;
- nothing could be audited (the feed is unreachable): "NOT AUDITED" with pip-audit's reason,
  exit 0 so that a closed network does not stop the test run, or exit 2 with
  VIGIL_AUDIT_REQUIRED=1 (for a release pipeline that must have an audit);
- audited: how many packages, with any that could not be checked named; exit 0.

The feed is PyPI's by default; VIGIL_AUDIT_OSV_URL points pip-audit at an OSV API instead
(an internal mirror on a closed network, e.g. https://osv.example.internal/v1/query).

    python scripts/dependency_audit.py            # the test command runs this
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXIT_CLEAN, EXIT_VULNERABLE, EXIT_NOT_AUDITED = 0, 1, 2


def verdict(report: Mapping[str, Any], *, required: bool) -> tuple[int, list[str]]:
    """The exit code and the lines to print for a pip-audit JSON report."""
    dependencies = list(report.get("dependencies") or [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    editable = [d for d in skipped if "editable" in str(d["skip_reason"])]
    unchecked = [d for d in skipped if d not in editable]
    audited = [d for d in dependencies if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    if vulnerable:
        lines = [f"VULNERABLE: {len(vulnerable)} of {len(audited)} audited packages"]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
                lines.append(f"  {dep['name']} {dep.get('version', '?')}: {vuln['id']} ({fixes})")
        return EXIT_VULNERABLE, lines
    if not audited:
        reason = unchecked[0]["skip_reason"] if unchecked else "no packages reported"
        lines = [
            f"NOT AUDITED: none of {len(unchecked)} packages could be checked; the "
            f"vulnerability feed is unreachable from here (first reason: {reason})"
        ]
        return (EXIT_NOT_AUDITED if required else EXIT_CLEAN), lines
    lines = [f"audited {len(audited)} packages: no known vulnerabilities"]
    if unchecked:
        names = ", ".join(sorted(d["name"] for d in unchecked))
        lines.append(f"  could not be checked ({len(unchecked)}): {names}")
    return EXIT_CLEAN, lines


def run_pip_audit(osv_url: str = "") -> dict[str, Any]:
    """pip-audit's JSON report of this interpreter's environment (editable installs skipped)."""
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--format", "json", "--skip-editable", "--progress-spinner", "off"]
    if osv_url:
        command += ["--vulnerability-service", "osv", "--osv-url", osv_url]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        # pip-audit stopped before reporting (e.g. it could not reach its feed at all).
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"dependencies": [{"name": "(all)", "skip_reason": f"pip-audit: {detail}"}]}
    return report


def main() -> int:
    required = os.environ.get("VIGIL_AUDIT_REQUIRED", "") == "1"
    code, lines = verdict(
        run_pip_audit(os.environ.get("VIGIL_AUDIT_OSV_URL", "")), required=required
    )
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
