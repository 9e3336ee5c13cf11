"""The seed's tasks, stage by stage, each owned by one specialist and done by its playbook.

The order of stages and which agents run side by side follow the seed workflow
(seed/000_6e1ae24e703a5502.txt): Stage 1 assessment (flux-navigator + monitoring-analyst, and incident-responder
reading each cluster's health before anything is decided), Stage 2 infrastructure compatibility
(terraform-auditor + flux-navigator) beside application impact (argo-troubleshooter), Stage 3 strategy
(incident-responder + argo-troubleshooter), Stage 4 preparation, Stage 5 staged execution (dev, staging,
production), Stage 6 validation and cost.
"""

from __future__ import annotations

from collections import Counter

from upgradectl.agents import argo_troubleshooter as argo
from upgradectl.agents import flux_navigator as flux
from upgradectl.agents import incident_responder as incident
from upgradectl.agents import monitoring_analyst as monitoring
from upgradectl.agents import terraform_auditor as terraform
from upgradectl.agents.base import TaskInput, TaskResult, TaskSpec
from upgradectl.agents.pins import gitops_pins

STAGE_NAMES = {
    1: "Upgrade assessment and planning",
    2: "Risk analysis and compatibility check",
    3: "Upgrade strategy and sequencing",
    4: "Pre-upgrade preparation",
    5: "Staged upgrade execution",
    6: "Post-upgrade validation and optimization",
}


def _infrastructure_preparation(task: TaskInput) -> TaskResult:
    """Stage 4: the Terraform and GitOps places each cluster's version is pinned, to edit per hop."""
    pins = [*terraform.terraform_pins(task), *gitops_pins(task.view, task.knowledge, task.scope_names)]
    checked = [f"{p.cluster}: version pinned at {p.file}:{p.line} ({p.kind})" for p in pins]
    missing = sorted(task.scope_names - {p.cluster for p in pins})
    checked.extend(f"{c}: no version pin in Terraform or GitOps (release upgraded directly)" for c in missing)
    return TaskResult([], checked)


TASKS: list[TaskSpec] = [
    TaskSpec(
        "fleet-health",
        1,
        "incident-responder",
        "Fleet health before the upgrade",
        ("Monitor system health throughout upgrade process", "Design monitoring and alerting during upgrade process"),
        incident.fleet_health,
    ),
    TaskSpec(
        "breaking-changes",
        1,
        "flux-navigator",
        "Tool upgrade assessment: breaking changes",
        ("Analyze breaking changes and compatibility requirements", "Map dependencies on other tools"),
        flux.breaking_changes,
    ),
    TaskSpec(
        "cost-opportunities",
        1,
        "monitoring-analyst",
        "Tool upgrade assessment: cost opportunities",
        ("Assess cost optimization opportunities (especially for Karpenter)",),
        monitoring.cost_opportunities,
    ),
    TaskSpec(
        "validation-criteria",
        1,
        "monitoring-analyst",
        "Tool upgrade assessment: validation criteria",
        ("Plan testing requirements and validation criteria",),
        monitoring.validation_criteria,
    ),
    TaskSpec(
        "kubernetes-compatibility",
        2,
        "flux-navigator",
        "Infrastructure compatibility: Kubernetes",
        ("Validate Kubernetes version compatibility",),
        flux.compatibility,
    ),
    TaskSpec(
        "helm-and-crds",
        2,
        "flux-navigator",
        "Infrastructure compatibility: Helm chart and CRDs",
        ("Analyze Helm chart version dependencies", "Analyze custom resource definitions (CRDs) changes"),
        flux.helm_and_crds,
    ),
    TaskSpec(
        "terraform-compatibility",
        2,
        "terraform-auditor",
        "Infrastructure compatibility: Terraform",
        (
            "Check Terraform provider compatibility with new tool versions",
            "Check cloud provider integration compatibility (AWS/GCP)",
        ),
        terraform.terraform_compatibility,
    ),
    TaskSpec(
        "application-impact",
        2,
        "argo-troubleshooter",
        "Application impact analysis",
        (
            "Analyze impact on running applications and deployments",
            "Analyze spot instance optimization impacts (Karpenter focus)",
        ),
        argo.application_impact,
    ),
    TaskSpec(
        "monitoring-integration",
        2,
        "monitoring-analyst",
        "Application impact: monitoring integration",
        ("Check monitoring and logging integration impacts",),
        monitoring.monitoring_integration,
    ),
    TaskSpec(
        "rollback-design",
        3,
        "incident-responder",
        "Upgrade strategy: rollback procedures",
        ("Design rollback procedures and emergency stops",),
        incident.rollback_design,
    ),
    TaskSpec(
        "zero-downtime",
        3,
        "argo-troubleshooter",
        "Upgrade strategy: zero-downtime feasibility",
        ("Design zero-downtime upgrade procedures where possible",),
        argo.zero_downtime,
    ),
    TaskSpec(
        "infrastructure-preparation",
        4,
        "terraform-auditor",
        "Infrastructure upgrade preparation",
        ("Update Terraform modules and Flux configurations", "Prepare new Helm chart values"),
        _infrastructure_preparation,
    ),
    TaskSpec(
        "monitoring-preparation",
        4,
        "monitoring-analyst",
        "Set up monitoring for the upgrade",
        ("Set up additional monitoring for upgrade process",),
        monitoring.monitoring_preparation,
    ),
    TaskSpec(
        "rollout-dev",
        5,
        "incident-responder",
        "Development environment upgrade",
        ("Upgrade tool in development cluster first",),
        incident.rollout_for("dev"),
    ),
    TaskSpec(
        "rollout-staging",
        5,
        "incident-responder",
        "Staging environment upgrade",
        ("Upgrade staging cluster with production-like workloads",),
        incident.rollout_for("staging"),
    ),
    TaskSpec(
        "rollout-prod",
        5,
        "incident-responder",
        "Production environment upgrade",
        ("Execute production upgrade with maximum safety",),
        incident.rollout_for("prod"),
    ),
    TaskSpec(
        "post-upgrade-validation",
        6,
        "monitoring-analyst",
        "Post-upgrade functionality validation",
        ("Validate all tool functionality is working correctly", "Measure cost optimization improvements"),
        monitoring.post_upgrade_validation,
    ),
]

INVENTORY_TASK = ("inventory", 1, "flux-navigator", "Identify current tool versions across all clusters")


def tasks_for_stage(stage: int) -> list[TaskSpec]:
    return [t for t in TASKS if t.stage == stage]


def widest_stage() -> int:
    """How many tasks the busiest stage fans out side by side (the default number of model requests in flight)."""
    return max(Counter(t.stage for t in TASKS).values())


def task(task_id: str) -> TaskSpec:
    return next(t for t in TASKS if t.id == task_id)
