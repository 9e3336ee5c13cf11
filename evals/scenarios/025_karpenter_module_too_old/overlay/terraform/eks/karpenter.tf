# Karpenter: node IAM role + instance profile and the spot interruption queue come from the
# community module; the controller's IRSA role and policy are ours (iam.tf) so the permission set
# is reviewed per Karpenter release.
module "karpenter" {
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "19.21.0"

  cluster_name = var.cluster_name

  # Controller IRSA role and policy from the module too (create_irsa defaults to true in 19.x).
  irsa_oidc_provider_arn = local.oidc_provider_arn

  # Node role and the instance profile named in settings.aws.defaultInstanceProfile.
  iam_role_name            = "karpenter-node-${var.cluster_name}"
  iam_role_use_name_prefix = false
  iam_role_additional_policies = {
    AmazonSSMManagedInstanceCore = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }
  create_instance_profile = true

  # SQS queue "Karpenter-<cluster>" plus EventBridge rules for spot interruption,
  # rebalance recommendation, scheduled change and instance state change.
  enable_spot_termination = var.enable_interruption_handling
  queue_name              = "Karpenter-${var.cluster_name}"

  tags = local.tags
}

resource "helm_release" "karpenter" {
  namespace        = "karpenter"
  create_namespace = true

  name                = "karpenter"
  repository          = "oci://public.ecr.aws/karpenter"
  repository_username = data.aws_ecrpublic_authorization_token.token.user_name
  repository_password = data.aws_ecrpublic_authorization_token.token.password
  chart               = "karpenter"
  version             = var.karpenter_version

  # Keep the last two revisions so `helm rollback` has one step to go back to.
  max_history = 2
  wait        = true
  timeout     = 600

  values = [file("${path.module}/values/karpenter-${var.cluster_name}.yaml")]

  depends_on = [
    module.karpenter,
    aws_iam_role_policy.karpenter_controller,
  ]
}
