"""Products are data: the list of products, their aliases and finding-code prefixes come from the knowledge
files, so a sixth product is one YAML file in the knowledge directory (UPGRADECTL_KNOWLEDGE_DIR)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from upgradectl.agents.request import RequestError, known_tools, parse_request, resolve_tool_name
from upgradectl.tools.knowledge.loader import KNOWLEDGE_DIR_ENV, available_tools, load_tool, products

ROOT = Path(__file__).resolve().parents[2]
CERT_MANAGER = ROOT / "tests" / "data" / "products" / "cert-manager" / "knowledge" / "cert-manager.yaml"
BUNDLED = ("argocd", "cilium", "flux", "karpenter", "victoriametrics")


@pytest.fixture
def six_products(tmp_path, monkeypatch) -> Path:
    """The bundled knowledge directory plus cert-manager.yaml, as UPGRADECTL_KNOWLEDGE_DIR."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "tools" / "knowledge" / "data", knowledge)
    shutil.copy(CERT_MANAGER, knowledge)
    monkeypatch.setenv(KNOWLEDGE_DIR_ENV, str(knowledge))
    return knowledge


def test_the_bundled_knowledge_base_has_the_five_products():
    assert tuple(available_tools()) == BUNDLED
    assert [k.finding_prefix for k in products()] == ["ARGO", "CIL", "FLUX", "KARP", "VM"]


def test_what_differs_per_product_is_a_knowledge_field():
    """Flux labels its controllers with the Flux version while their images carry their own; VictoriaMetrics
    stores metrics, so its upgrades also check lost history; the others read versions from image tags."""
    assert {k.tool for k in products() if k.version_from == "label"} == {"flux"}
    assert {k.tool for k in products() if k.stores_metrics} == {"victoriametrics"}
    assert {k.tool for k in products() if k.cycles_nodes} == {"karpenter"}


def test_a_sixth_product_is_one_knowledge_file(six_products):
    assert available_tools() == ["argocd", "cert-manager", *BUNDLED[1:]]
    assert "cert-manager" in known_tools()
    assert resolve_tool_name("cert manager") == "cert-manager"  # an alias from its file
    assert load_tool("cert-manager").prefix == "CM"
    request = parse_request("Upgrade certmanager on pki-dev", known_clusters=["pki-dev"])
    assert request.tool == "cert-manager" and request.clusters == ["pki-dev"]


def test_without_its_file_the_product_is_unknown(tmp_path, monkeypatch):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "tools" / "knowledge" / "data", knowledge)
    monkeypatch.setenv(KNOWLEDGE_DIR_ENV, str(knowledge))
    with pytest.raises(RequestError, match="unknown tool 'cert-manager'"):
        resolve_tool_name("cert-manager")


def test_an_alias_can_exclude_the_words_that_name_another_product():
    """Argo CD's file says 'argo' is not Argo CD when 'workflows' follows (Argo Workflows is another product)."""
    assert parse_request("Argo upgrade for the security patches").tool == "argocd"
    with pytest.raises(RequestError, match="unknown tool 'argo'"):  # not silently planned as Argo CD
        parse_request("Argo Workflows upgrade for the security patches")
