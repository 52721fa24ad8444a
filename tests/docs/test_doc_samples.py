"""Every fenced sample of README.md and docs/*.md, checked as its kind says (the convention: samples.py, checks.py).

Samples of a page run in page order in one temporary project made for that
page, so a file a sample saves is there for the samples after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .checks import ROOT, Project, check_sample
from .samples import Sample, page_samples

DOCS = Path(os.environ.get("DOCS_SAMPLES_ROOT", ROOT))  # another copy of the pages: tests of this harness
PAGES = [DOCS / "README.md", *sorted((DOCS / "docs").glob("*.md"))]
SAMPLES = [sample for page in PAGES for sample in page_samples(page)]
_projects: dict[Path, Project] = {}


@pytest.fixture(scope="module", autouse=True)
def _remove_plugin_images() -> Iterator[None]:
    yield
    for project in _projects.values():
        project.remove_plugin_images()


@pytest.fixture
def page_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    page = request.node.callspec.params["sample"].page
    if page not in _projects:
        root = tmp_path_factory.mktemp(f"docs-{page.stem}") / "project"
        _projects[page] = Project.create(root, [sample for sample in SAMPLES if sample.page == page])
    return _projects[page]


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.test_id for sample in SAMPLES])
def test_doc_sample(sample: Sample, page_project: Project) -> None:
    check_sample(sample, page_project)
