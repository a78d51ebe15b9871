"""The GitHub workflows pass actionlint and zizmor, pin every action, and deploy the stacks in order."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.graph import ROOT, STACKS

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = ROOT / ".local" / "bin" / "actionlint"  # make tools: built from its Go module
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    return document


@pytest.mark.built
def test_actionlint_finds_nothing() -> None:
    if not ACTIONLINT.exists():
        pytest.fail("actionlint is missing: run `make tools`")
    result = subprocess.run([str(ACTIONLINT), *map(str, WORKFLOWS)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing() -> None:
    zizmor = Path(sys.executable).parent / "zizmor"
    # --offline: the audits that need GitHub's API cannot run here; the rest all do.
    result = subprocess.run([str(zizmor), "--offline", "--no-progress", str(ROOT / ".github" / "workflows")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def uses(document: Any) -> list[str]:
    if isinstance(document, dict):
        found = [document["uses"]] if isinstance(document.get("uses"), str) else []
        return found + [u for value in document.values() for u in uses(value)]
    if isinstance(document, list):
        return [u for value in document for u in uses(value)]
    return []


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_every_action_is_pinned_by_commit_and_permissions_start_empty(workflow: str) -> None:
    document = load(workflow)
    for used in uses(document):
        assert used.startswith("./") or PINNED.match(used), f"{workflow}: {used} is not pinned to a commit SHA"
    assert document["permissions"] == {}, "each job asks for what it needs"


def test_every_pull_request_previews_every_stack_with_the_guardrails() -> None:
    document = load("preview.yml")
    (job,) = document["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == list(STACKS)
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    steps = job["steps"]
    assert any(step.get("run") == "make test" for step in steps)
    (java,) = [step for step in steps if step.get("uses", "").startswith("actions/setup-java@")]
    assert java["with"]["java-version"] == "17"
    (pulumi,) = [step for step in steps if step.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"


def test_stacks_deploy_in_order_one_at_a_time_each_in_its_environment() -> None:
    jobs = load("deploy.yml")["jobs"]
    assert set(jobs) == {"image", *STACKS}
    assert jobs["dev"]["needs"] == "image" and jobs["datamart"]["needs"] == "dev"
    assert jobs["slowprod"]["needs"] == "datamart" and jobs["loadtest"]["needs"] == "datamart"
    assert {name: job["with"]["stack"] for name, job in jobs.items() if name != "image"} == {s: s for s in STACKS}
    (deploy,) = load("deploy-stack.yml")["jobs"].values()
    assert deploy["environment"] == "${{ inputs.stack }}"
    assert deploy["concurrency"] == {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False}
    commands = "\n".join(step.get("run", "") for step in deploy["steps"])
    assert "--policy-pack policy" in commands


def test_the_image_is_built_once_per_commit_and_each_stack_gets_its_bytes() -> None:
    """No stack's deploy builds: it copies the image job's archive, digests kept, under the program's tag."""
    build = load("deploy.yml")["jobs"]["image"]["steps"]
    (built,) = [step for step in build if step.get("uses", "").startswith("docker/build-push-action@")]
    assert built["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert built["with"]["outputs"].startswith("type=oci,dest=")
    assert "push" not in built["with"]
    (upload,) = [step for step in build if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "ingest-image"
    (deploy,) = load("deploy-stack.yml")["jobs"].values()
    steps = deploy["steps"]
    assert not any(step.get("uses", "").startswith("docker/") for step in steps), "a stack's deploy never builds"
    (download,) = [step for step in steps if step.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"]["name"] == "ingest-image"
    commands = "\n".join(step.get("run", "") for step in steps)
    assert "skopeo copy --all --preserve-digests" in commands
    assert 'tag="$(jq -r .tag "$RUNNER_TEMP/image.json")"' in commands, "the tag is the program's"
    assert "imageTag" not in commands.replace('imageTag="$tag"', ""), "no stack file or config sets a tag"
    assert "GITHUB_SHA" not in commands.replace('--message "deploy $GITHUB_SHA"', "")
