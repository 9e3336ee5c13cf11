locals {
  account_id  = data.aws_caller_identity.current.account_id
  oidc_issuer = replace(data.aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")

  oidc_provider_arn = "arn:aws:iam::${local.account_id}:oidc-provider/${local.oidc_issuer}"

  karpenter_namespace       = "karpenter"
  karpenter_service_account = "karpenter"

  tags = merge(
    {
      "managed-by"  = "terraform"
      "repository"  = "livspace-demo/infra-terraform"
      "cluster"     = var.cluster_name
      "environment" = var.environment
    },
    var.tags,
  )
}
